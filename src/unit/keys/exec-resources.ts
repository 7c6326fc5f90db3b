// Keys of systemd.exec(5) about a process's resources and scheduling: every Limit*=, Nice=,
// OOMScoreAdjust=, CPUAffinity=, NUMAPolicy=/NUMAMask=, CPUScheduling*=, IOScheduling*=,
// TimerSlackNSec=, CoredumpFilter=, IgnoreSIGPIPE=, Personality=. Values are read as systemd's
// load-fragment.c reads them; manager/exec/ applies them.

import {
  type CpuSchedulingPolicy,
  type ExecContext,
  type ExecScheduling,
  type IoSchedulingClass,
  type NumaPolicy,
  RLIMIT_NAMES,
  type RlimitName,
} from '../exec-context.js';
import { formatResourceLimit, parseResourceLimit, rlimitValueHint } from '../rlimits.js';
import { parseInteger, parseTimespan, ValueError } from '../values.js';
import { bool, type KeyDef, oneOf, type SectionName, scalarRow, type ValueType } from './define.js';

type WithExec = { exec: ExecContext };
const scheduling = (c: WithExec): ExecScheduling => c.exec.scheduling;

function limitRow(section: SectionName, name: RlimitName): KeyDef<WithExec> {
  return {
    section,
    name: `Limit${name}`,
    doc: `RLIMIT_${name} of the processes (SOFT:HARD or one value for both)`,
    type: rlimitValueHint(name),
    default: "the manager's",
    repetition: 'scalar',
    specifiers: 'none',
    enforcement: { enforced: true },
    apply: (c, value) => {
      c.exec.limits[name] = parseResourceLimit(name, value);
    },
    show: (c) => {
      const limit = c.exec.limits[name];
      return limit === undefined ? '' : formatResourceLimit(limit);
    },
  };
}

const int = (min: number, max: number, what: string): ValueType<number> => ({
  name: `integer ${min}..${max}`,
  parse: (s) => {
    try {
      return parseInteger(s, { min, max });
    } catch {
      throw new ValueError(`'${s}' is not ${what}; expected an integer from ${min} to ${max}`);
    }
  },
  format: String,
});

/** `0-3 5,7`: CPU or NUMA node numbers and ranges, separated by blanks or commas. */
export function parseNumberSet(text: string, what: string): number[] {
  const out = new Set<number>();
  for (const item of text.split(/[\s,]+/).filter((w) => w !== '')) {
    const m = /^([0-9]+)(?:-([0-9]+))?$/.exec(item);
    const from = Number(m?.[1]);
    const to = m?.[2] === undefined ? from : Number(m[2]);
    if (!m || to < from || to > 8191)
      throw new ValueError(`'${item}' is not a ${what} number or range; expected e.g. 0-3 5,7`);
    for (let n = from; n <= to; n++) out.add(n);
  }
  return [...out].sort((a, b) => a - b);
}

/** `0-3,5` back from a sorted list. */
export function formatNumberSet(numbers: readonly number[]): string {
  const parts: string[] = [];
  for (let i = 0; i < numbers.length; ) {
    let j = i;
    while (j + 1 < numbers.length && numbers[j + 1] === (numbers[j] as number) + 1) j++;
    parts.push(i === j ? String(numbers[i]) : `${numbers[i]}-${numbers[j]}`);
    i = j + 1;
  }
  return parts.join(' ');
}

/** CPUAffinity=: assignments add up, an empty one resets, `numa` takes the CPUs of NUMAMask=. */
function cpuAffinityRow(section: SectionName): KeyDef<WithExec> {
  return {
    section,
    name: 'CPUAffinity',
    doc: 'CPUs the processes may run on (numa: those of NUMAMask=)',
    type: 'CPU numbers and ranges, or numa',
    default: "the manager's",
    repetition: 'list',
    specifiers: 'all',
    enforcement: { enforced: true },
    apply: (c, value) => {
      const s = c.exec.scheduling;
      if (value === '') delete s.cpuAffinity;
      else if (value === 'numa') s.cpuAffinity = 'numa';
      else {
        const add = parseNumberSet(value, 'CPU');
        const had = Array.isArray(s.cpuAffinity) ? s.cpuAffinity : [];
        s.cpuAffinity = [...new Set([...had, ...add])].sort((a, b) => a - b);
      }
    },
    show: (c) => {
      const a = c.exec.scheduling.cpuAffinity;
      return a === undefined ? '' : a === 'numa' ? 'numa' : formatNumberSet(a);
    },
  };
}

const numaMask: ValueType<number[] | 'all'> = {
  name: 'NUMA node numbers and ranges, or all',
  parse: (s) => (s === 'all' ? 'all' : parseNumberSet(s, 'NUMA node')),
  format: (v) => (v === 'all' ? 'all' : formatNumberSet(v)),
};

/** The names of coredump_filter's bits (core(5)), as CoredumpFilter= takes them. */
const COREDUMP_BITS = [
  'private-anonymous',
  'shared-anonymous',
  'private-file-backed',
  'shared-file-backed',
  'elf-headers',
  'private-huge',
  'shared-huge',
  'private-dax',
  'shared-dax',
] as const;
/** The kernel's default: anonymous memory, ELF headers and private huge pages (0x33). */
const COREDUMP_DEFAULT = 0x33;

const coredumpFilter: ValueType<number> = {
  name: 'coredump_filter bit names, default, all or a hex mask',
  parse: (s) => {
    let mask = 0;
    for (const word of s.split(/\s+/).filter((w) => w !== '')) {
      const bit = (COREDUMP_BITS as readonly string[]).indexOf(word);
      if (bit >= 0) mask |= 1 << bit;
      else if (word === 'default') mask |= COREDUMP_DEFAULT;
      else if (word === 'all') mask |= (1 << COREDUMP_BITS.length) - 1;
      else if (/^(0x)?[0-9a-fA-F]{1,8}$/.test(word)) mask |= Number.parseInt(word.replace(/^0x/, ''), 16);
      else
        throw new ValueError(
          `'${word}' is not a coredump filter bit; expected ${COREDUMP_BITS.join(', ')}, default, all or a hex mask`,
        );
    }
    return mask >>> 0;
  },
  format: (v) => `0x${v.toString(16)}`,
};

/** TimerSlackNSec=: a bare number is nanoseconds; other spans as usual. */
const nanoseconds: ValueType<number> = {
  name: 'time span (bare number: ns)',
  parse: (s) => {
    const ns = /^\s*([0-9]+)\s*(ns|nsec)?\s*$/.exec(s);
    if (ns) return Number(ns[1]);
    const usec = parseTimespan(s);
    if (!Number.isFinite(usec)) throw new ValueError(`'${s}' is not a finite time span; expected e.g. 50us`);
    return usec * 1000;
  },
  format: (v) => `${v}ns`,
};

const IO_CLASSES: Record<string, IoSchedulingClass> = {
  '0': 'none',
  '1': 'realtime',
  '2': 'best-effort',
  '3': 'idle',
};

/** Architecture names systemd takes for Personality=; only this machine's own and its 32-bit
 * one can be applied (manager/exec/ says so for the others, as systemd ignores them). */
const PERSONALITIES = [
  'x86',
  'x86-64',
  'ppc',
  'ppc-le',
  'ppc64',
  'ppc64-le',
  'ia64',
  'parisc',
  'parisc64',
  's390',
  's390x',
  'sparc',
  'sparc64',
  'mips',
  'mips-le',
  'mips64',
  'mips64-le',
  'alpha',
  'arm',
  'arm-be',
  'arm64',
  'arm64-be',
  'sh',
  'sh64',
  'm68k',
  'tilegx',
  'cris',
  'nios2',
  'riscv32',
  'riscv64',
  'arc',
  'arc-be',
  'loongarch64',
] as const;

export function execResourceKeys(section: SectionName): KeyDef<WithExec>[] {
  return [
    ...RLIMIT_NAMES.map((n) => limitRow(section, n)),
    scalarRow(
      section,
      'Nice',
      scheduling,
      'nice',
      int(-20, 19, 'a nice level'),
      'nice level of the processes',
      {
        default: "the manager's",
      },
    ),
    scalarRow(
      section,
      'OOMScoreAdjust',
      scheduling,
      'oomScoreAdjust',
      int(-1000, 1000, 'an OOM score adjustment'),
      'oom_score_adj of the processes',
      { default: "the manager's" },
    ),
    cpuAffinityRow(section),
    scalarRow(
      section,
      'NUMAPolicy',
      scheduling,
      'numaPolicy',
      oneOf<NumaPolicy>(['default', 'preferred', 'bind', 'interleave', 'local']),
      'NUMA memory policy (set_mempolicy)',
      { default: "the manager's" },
    ),
    scalarRow(section, 'NUMAMask', scheduling, 'numaMask', numaMask, 'NUMA nodes of NUMAPolicy=', {
      specifiers: 'all',
    }),
    scalarRow(
      section,
      'CPUSchedulingPolicy',
      scheduling,
      'cpuSchedulingPolicy',
      oneOf<CpuSchedulingPolicy>(['other', 'batch', 'idle', 'fifo', 'rr']),
      'CPU scheduling policy',
      { default: "the manager's" },
    ),
    scalarRow(
      section,
      'CPUSchedulingPriority',
      scheduling,
      'cpuSchedulingPriority',
      int(0, 99, 'a CPU scheduling priority'),
      'static priority (1-99 for fifo and rr, 0 otherwise)',
      { default: '0' },
    ),
    scalarRow(
      section,
      'CPUSchedulingResetOnFork',
      scheduling,
      'cpuSchedulingResetOnFork',
      bool,
      'children fall back to the default policy (SCHED_RESET_ON_FORK)',
      { default: 'no' },
    ),
    scalarRow(
      section,
      'IOSchedulingClass',
      scheduling,
      'ioSchedulingClass',
      oneOf<IoSchedulingClass>(['none', 'realtime', 'best-effort', 'idle'], IO_CLASSES),
      'I/O scheduling class (ioprio_set)',
      { default: "the manager's" },
    ),
    scalarRow(
      section,
      'IOSchedulingPriority',
      scheduling,
      'ioSchedulingPriority',
      int(0, 7, 'an I/O priority'),
      'I/O priority within the class (0 highest)',
      { default: '4' },
    ),
    scalarRow(
      section,
      'TimerSlackNSec',
      scheduling,
      'timerSlackNSec',
      nanoseconds,
      'timer slack (PR_SET_TIMERSLACK)',
      {
        default: "the manager's",
      },
    ),
    scalarRow(
      section,
      'CoredumpFilter',
      scheduling,
      'coredumpFilter',
      coredumpFilter,
      'what a core dump contains (/proc/PID/coredump_filter)',
      { default: "the manager's" },
    ),
    scalarRow(section, 'IgnoreSIGPIPE', scheduling, 'ignoreSigpipe', bool, 'start with SIGPIPE ignored', {
      default: 'yes',
    }),
    scalarRow(
      section,
      'Personality',
      scheduling,
      'personality',
      oneOf(PERSONALITIES),
      'execution domain (personality(2)): the native or the 32-bit one',
      { default: "the manager's" },
    ),
  ];
}
