// What the manager itself may do, read once from /proc: its ids, its capability sets, its
// resource limits, nice level and oom_score_adj. Every process it starts begins with these (the
// helpers in the exec chain change nothing before the exec-context steps), so they decide which
// of a unit's settings can be applied, which are clamped as systemd clamps them, and which an
// unprivileged manager must leave out and say so (feasibility.ts).

import { readFileSync } from 'node:fs';
import { type ResourceLimit, RLIMIT_NAMES, type RlimitName } from '../../unit/exec-context.js';

export interface ManagerPowers {
  euid: number;
  egid: number;
  /** Capability masks of the manager (CapEff, CapPrm, CapInh, CapBnd of /proc/self/status). */
  effective: bigint;
  permitted: bigint;
  inheritable: bigint;
  bounding: bigint;
  /** The highest capability this kernel knows (/proc/sys/kernel/cap_last_cap). */
  lastCap: number;
  limits: Record<RlimitName, ResourceLimit>;
  /** The manager's nice level and oom_score_adj, which its children inherit. */
  nice: number;
  oomScoreAdj: number;
  /** fs.nr_open: no RLIMIT_NOFILE above it, whoever asks. */
  nrOpen: number;
  /** The kernel has NUMA support (a node directory in sysfs). */
  numa: boolean;
}

/** /proc/PID/limits row names (fs/proc/base.c), by systemd's resource names. */
const LIMIT_ROWS: Readonly<Record<RlimitName, string>> = {
  CPU: 'Max cpu time',
  FSIZE: 'Max file size',
  DATA: 'Max data size',
  STACK: 'Max stack size',
  CORE: 'Max core file size',
  RSS: 'Max resident set',
  NPROC: 'Max processes',
  NOFILE: 'Max open files',
  MEMLOCK: 'Max locked memory',
  AS: 'Max address space',
  LOCKS: 'Max file locks',
  SIGPENDING: 'Max pending signals',
  MSGQUEUE: 'Max msgqueue size',
  NICE: 'Max nice priority',
  RTPRIO: 'Max realtime priority',
  RTTIME: 'Max realtime timeout',
};

function limitValue(text: string | undefined): number {
  return text === undefined || text === 'unlimited' ? Number.POSITIVE_INFINITY : Number(text);
}

/** The limits of `/proc/PID/limits` text, by resource (what the tests read too). */
export function parseProcLimits(text: string): Record<RlimitName, ResourceLimit> {
  const out = {} as Record<RlimitName, ResourceLimit>;
  for (const name of RLIMIT_NAMES) {
    const row = text.split('\n').find((l) => l.startsWith(`${LIMIT_ROWS[name]} `));
    const [soft, hard] = (row?.slice(LIMIT_ROWS[name].length).trim().split(/\s+/) ?? []) as string[];
    out[name] = { soft: limitValue(soft), hard: limitValue(hard) };
  }
  return out;
}

function read(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return '';
  }
}

function statusMask(status: string, field: string): bigint {
  const m = new RegExp(`^${field}:\\s*([0-9a-f]+)$`, 'm').exec(status);
  return m ? BigInt(`0x${m[1]}`) : 0n;
}

function readPowers(): ManagerPowers {
  const status = read('/proc/self/status');
  const stat = read('/proc/self/stat');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return {
    euid: process.geteuid?.() ?? 0,
    egid: process.getegid?.() ?? 0,
    effective: statusMask(status, 'CapEff'),
    permitted: statusMask(status, 'CapPrm'),
    inheritable: statusMask(status, 'CapInh'),
    bounding: statusMask(status, 'CapBnd'),
    lastCap: Number(read('/proc/sys/kernel/cap_last_cap').trim() || '40'),
    limits: parseProcLimits(read('/proc/self/limits')),
    // /proc/PID/stat field 19 is the nice level (proc(5)).
    nice: Number(fields[16] ?? 0),
    oomScoreAdj: Number(read('/proc/self/oom_score_adj').trim() || '0'),
    nrOpen: Number(read('/proc/sys/fs/nr_open').trim() || '1048576'),
    numa: read('/sys/devices/system/node/online').trim() !== '',
  };
}

let cached: ManagerPowers | undefined;

/** Read once: the manager never changes its own ids, capabilities or limits while it runs. */
export function managerPowers(): ManagerPowers {
  cached ??= readPowers();
  return cached;
}

/** Capability `n` is in the manager's effective set. */
export function hasCapability(powers: ManagerPowers, n: number): boolean {
  return (powers.effective & (1n << BigInt(n))) !== 0n;
}

let userManager = false;

/** `sockunit run --user`: a user manager even when it runs as root (one manager a process). */
export function useUserManager(): void {
  userManager = true;
}

/** The manager runs as root, or as a user manager does (systemd's --user, or any manager that is
 * not root): specifiers, directories under $XDG_*, no ownership changes. */
export function managerKind(powers: ManagerPowers = managerPowers()): 'system' | 'user' {
  return userManager || powers.euid !== 0 ? 'user' : 'system';
}
