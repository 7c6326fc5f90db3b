// Seccomp filters compiled by libseccomp (through the FFI) into the classic BPF program the
// kernel takes: the sandbox helper installs it with seccomp(SECCOMP_SET_MODE_FILTER) right
// before the service's exec. libseccomp knows every architecture's system call numbers and the
// multiplexed calls; writing that table and its BPF by hand would be a second libseccomp.

import { closeSync, readSync } from 'node:fs';
import { namespaceCalls as n, seccompCalls } from './ffi.js';

/** What a matching system call gets. */
export type SeccompAction =
  | { kind: 'allow' }
  | { kind: 'kill' }
  | { kind: 'errno'; errno: number }
  | { kind: 'log' };

export interface SeccompCondition {
  /** Argument index, 0-5. */
  arg: number;
  op: 'eq' | 'ne' | 'lt' | 'le' | 'ge' | 'gt' | 'masked-eq';
  value: bigint;
  /** For masked-eq: (argument & mask) == value. */
  mask?: bigint;
}

export interface SeccompRule {
  syscall: string;
  action: SeccompAction;
  /** All must hold (AND). */
  when?: SeccompCondition[];
}

export interface SeccompFilter {
  defaultAction: SeccompAction;
  rules: SeccompRule[];
  /** Only the native ABI: a call through another (i386's int 0x80, x32) kills the process
   * (SystemCallArchitectures=native). Otherwise the filter covers every ABI this kernel runs. */
  nativeOnly?: boolean;
}

const OPS = { ne: 1, lt: 2, le: 3, eq: 4, ge: 5, gt: 6, 'masked-eq': 7 } as const;

function actionValue(a: SeccompAction): number {
  switch (a.kind) {
    case 'allow':
      return 0x7fff0000;
    case 'kill':
      return 0x80000000; // SCMP_ACT_KILL_PROCESS
    case 'log':
      return 0x7ffc0000;
    case 'errno':
      return (0x00050000 | (a.errno & 0xffff)) >>> 0;
  }
}

// Secondary ABIs the kernel also runs for a native process, as systemd's seccomp_local_archs.
const SECONDARY_ARCHS: Record<string, number[]> = {
  x64: [0x40000003 /* x86 */, 0x4000003e /* x32 */],
  arm64: [0x40000028 /* arm */],
};
const SCMP_FLTATR_ACT_BADARCH = 2;
const SCMP_FLTATR_CTL_NNP = 3;
const SCMP_FLTATR_CTL_OPTIMIZE = 8;
const EEXIST = 17;

let available: boolean | undefined;

/** Whether libseccomp can be loaded here. */
export function seccompAvailable(): boolean {
  if (available === undefined) {
    try {
      seccompCalls();
      available = true;
    } catch {
      available = false;
    }
  }
  return available;
}

/** The native system call number of `name`, or undefined where this architecture has none. */
export function resolveSyscall(name: string): number | undefined {
  const nr = seccompCalls().resolveName(name) as number;
  return nr < 0 ? undefined : nr;
}

function conditionArray(when: readonly SeccompCondition[]): Buffer {
  const buf = Buffer.alloc(24 * Math.max(1, when.length));
  when.forEach((c, i) => {
    buf.writeUInt32LE(c.arg, i * 24);
    buf.writeUInt32LE(OPS[c.op], i * 24 + 4);
    if (c.op === 'masked-eq') {
      buf.writeBigUInt64LE(BigInt.asUintN(64, c.mask ?? 0n), i * 24 + 8);
      buf.writeBigUInt64LE(BigInt.asUintN(64, c.value), i * 24 + 16);
    } else {
      buf.writeBigUInt64LE(BigInt.asUintN(64, c.value), i * 24 + 8);
    }
  });
  return buf;
}

const compiled = new Map<string, Buffer>();
const COMPILED_KEPT = 64;

/** The filter as a BPF program (an array of struct sock_filter). Throws naming the rule that
 * libseccomp refused. System calls this architecture does not have are skipped, as systemd does.
 * Compiling an allow-list of ~400 calls takes libseccomp tens of ms, and a unit's filters are the
 * same at every start: the programs are kept, by their rules. */
export function compileFilter(filter: SeccompFilter): Buffer {
  const key = JSON.stringify(filter, (_, v) => (typeof v === 'bigint' ? `${v}n` : v));
  let program = compiled.get(key);
  if (!program) {
    program = compileNow(filter);
    if (compiled.size >= COMPILED_KEPT) compiled.delete(compiled.keys().next().value as string);
    compiled.set(key, program);
  }
  return program;
}

function compileNow(filter: SeccompFilter): Buffer {
  const s = seccompCalls();
  const ctx = s.init(actionValue(filter.defaultAction));
  if (!ctx) throw new Error('seccomp_init failed');
  let fd = -1;
  try {
    check(s.attrSet(ctx, SCMP_FLTATR_CTL_NNP, 0), 'seccomp_attr_set(CTL_NNP)');
    // A binary tree of the calls (libseccomp >= 2.5): an allow-list of ~400 calls is then a few
    // comparisons deep instead of hundreds, for every system call the service makes. Older
    // libseccomp refuses the attribute and keeps the linear list.
    s.attrSet(ctx, SCMP_FLTATR_CTL_OPTIMIZE, 2);
    if (filter.nativeOnly) {
      check(
        s.attrSet(ctx, SCMP_FLTATR_ACT_BADARCH, actionValue({ kind: 'kill' })),
        'seccomp_attr_set(ACT_BADARCH)',
      );
    } else {
      for (const arch of SECONDARY_ARCHS[process.arch] ?? []) {
        const r = s.archAdd(ctx, arch) as number;
        if (r < 0 && -r !== EEXIST) throw new Error(`seccomp_arch_add(0x${arch.toString(16)}) failed: ${-r}`);
      }
    }
    for (const rule of filter.rules) {
      const nr = s.resolveName(rule.syscall) as number;
      if (nr < 0) continue;
      const when = rule.when ?? [];
      const r = s.ruleAddArray(
        ctx,
        actionValue(rule.action),
        nr,
        when.length,
        conditionArray(when),
      ) as number;
      if (r < 0 && -r !== EEXIST)
        throw new Error(`seccomp: the rule for ${rule.syscall} was refused by libseccomp (errno ${-r})`);
    }
    fd = n.memfd_create('sockunit-seccomp', 1 /* MFD_CLOEXEC */) as number;
    if (fd < 0) throw new Error('memfd_create failed');
    check(s.exportBpf(ctx, fd), 'seccomp_export_bpf');
    const size = Number(n.lseek(fd, 0, 1 /* SEEK_CUR */));
    const out = Buffer.alloc(size);
    readSync(fd, out, 0, size, 0);
    return out;
  } finally {
    if (fd >= 0) closeSync(fd);
    s.release(ctx);
  }
}

function check(ret: number, what: string): void {
  if (ret < 0) throw new Error(`${what} failed: errno ${-ret}`);
}
