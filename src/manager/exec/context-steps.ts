// The exec-context helper's steps for one command (sys/context-helper.ts runs them), in the
// order of systemd's exec_invoke(): oom_score_adj, coredump_filter, CPU scheduling, nice, CPU
// affinity, NUMA policy, I/O priority, timer slack, personality; then, unless the command has
// the `+` prefix, resource limits; the private mount namespace of DynamicUser= directories;
// groups; the capability bounding set and ambient set; the user (keeping capabilities when they
// must survive it); ambient capabilities again; securebits; no_new_privs. Each step fails the
// start with systemd's exit status for it and a message naming the key.
//
// The place where later steps of systemd.exec(5) belong too (seccomp, namespaces of sandboxing):
// before `userSteps` when they need privileges, before `noNewPrivileges` at the end otherwise.

import { readFileSync } from 'node:fs';
import type { ScriptStep } from '../../sys/syscall-script.js';
import { capabilityMask, capabilityName } from '../../unit/capabilities.js';
import type { ExecCommand } from '../../unit/exec-command.js';
import {
  type CpuSchedulingPolicy,
  type ExecContext,
  type IoSchedulingClass,
  type NumaPolicy,
  RLIMIT_NAMES,
} from '../../unit/exec-context.js';
import { formatLimitValue, RLIMIT_NUMBERS } from '../../unit/rlimits.js';
import type { Feasible } from './feasibility.js';
import type { Identity } from './identity.js';
import type { ManagerPowers } from './manager-powers.js';
import { EXIT } from './setup-error.js';

const AT_FDCWD = -100;
const O_WRONLY = 0o1;
const O_CLOEXEC = 0o2000000;
const PR_SET_PDEATHSIG = 1;
const SIGKILL = 9;
const ORPHANED = 127; // as the LISTEN_PID helper exits when its parent is gone
const PR_SET_TIMERSLACK = 29;
const PR_CAPBSET_DROP = 24;
const PR_SET_KEEPCAPS = 8;
const PR_SET_SECUREBITS = 28;
const PR_SET_NO_NEW_PRIVS = 38;
const PR_CAP_AMBIENT = 47;
const PR_CAP_AMBIENT_RAISE = 2;
const LINUX_CAPABILITY_VERSION_3 = 0x20080522;
const IOPRIO_WHO_PROCESS = 1;
const SCHED_FLAG_RESET_ON_FORK = 1;
const CLONE_NEWNS = 0x20000;
const MS_NOSUID = 0x2;
const MS_NODEV = 0x4;
const MS_REMOUNT = 0x20;
const MS_BIND = 0x1000;
const MS_REC = 0x4000;
const MS_SLAVE = 0x80000;
const OPEN_TREE_CLONE = 1;
const AT_RECURSIVE = 0x8000;
const MOVE_MOUNT_F_EMPTY_PATH = 4;
const RLIM_INFINITY = 0xffff_ffff_ffff_ffffn;

const SCHED_POLICIES: Readonly<Record<CpuSchedulingPolicy, number>> = {
  other: 0,
  fifo: 1,
  rr: 2,
  batch: 3,
  idle: 5,
};
const IO_CLASSES: Readonly<Record<IoSchedulingClass, number>> = {
  none: 0,
  realtime: 1,
  'best-effort': 2,
  idle: 3,
};
const MEMPOLICY: Readonly<Record<NumaPolicy, number>> = {
  default: 0,
  preferred: 1,
  bind: 2,
  interleave: 3,
  local: 4,
};

export interface StepInputs {
  exec: ExecContext;
  command: Pick<ExecCommand, 'fullPrivileges' | 'noSetCredentials'>;
  identity: Identity;
  feasible: Feasible;
  powers: ManagerPowers;
  /** Directories of DynamicUser= to make reachable in a private mount namespace (absolute paths
   * of their `private/` parents and the directories below them). */
  privateDirectories?: { root: string; paths: string[] }[];
  /** The manager's pid: after a change of user or group the parent-death signal is armed again
   * and the parent checked against it (see parentDeathSteps). */
  parentPid?: number;
  /** PrivateUsers='s steps (private-users.ts): after the group change, before the user change,
   * where systemd's executor makes the user namespace. */
  userNamespace?: readonly ScriptStep[];
}

function u64(values: readonly (number | bigint)[]): Uint8Array {
  const b = Buffer.alloc(values.length * 8);
  values.forEach((v, i) => {
    b.writeBigUInt64LE(typeof v === 'bigint' ? v : BigInt(v), i * 8);
  });
  return b;
}

function rlimitValue(v: number): bigint {
  return Number.isFinite(v) ? BigInt(v) : RLIM_INFINITY;
}

/** A bit mask of `numbers` as the kernel's unsigned long arrays (cpu_set_t, nodemask). */
function bitmask(numbers: readonly number[]): { bytes: Uint8Array; bits: number } {
  const words = Math.max(1, Math.ceil(((numbers.length ? Math.max(...numbers) : 0) + 1) / 64));
  const b = Buffer.alloc(words * 8);
  for (const n of numbers) {
    const byte = b[n >> 3] as number;
    b[n >> 3] = byte | (1 << (n & 7));
  }
  return { bytes: b, bits: words * 64 };
}

function readList(path: string): number[] {
  let text: string;
  try {
    text = readFileSync(path, 'utf8').trim();
  } catch {
    return [];
  }
  const out: number[] = [];
  for (const part of text.split(',').filter((p) => p !== '')) {
    const [from, to] = part.split('-').map(Number) as [number, number | undefined];
    for (let n = from; n <= (to ?? from); n++) out.push(n);
  }
  return out;
}

function numaNodes(mask: number[] | 'all' | undefined): number[] {
  if (mask === undefined) return [];
  return mask === 'all' ? readList('/sys/devices/system/node/online') : mask;
}

/** CPUAffinity=numa: the CPUs of the NUMA nodes of NUMAMask=. */
function cpusOfNodes(nodes: readonly number[]): number[] {
  return [...new Set(nodes.flatMap((n) => readList(`/sys/devices/system/node/node${n}/cpulist`)))].sort(
    (a, b) => a - b,
  );
}

function writeProcFile(path: string, text: string, status: number, message: string): ScriptStep[] {
  return [
    {
      call: 'openat',
      args: [AT_FDCWD, { data: path }, O_WRONLY | O_CLOEXEC],
      failStatus: status,
      message,
      slot: 1,
    },
    {
      call: 'write',
      args: [{ result: 1 }, { data: Buffer.from(text) }, Buffer.byteLength(text)],
      failStatus: status,
      message,
    },
    { call: 'close', args: [{ result: 1 }] },
  ];
}

/** Nice= through CoredumpFilter=: applied for every command, `+` included, as systemd does. */
function schedulingSteps(exec: ExecContext, f: Feasible): ScriptStep[] {
  const s = exec.scheduling;
  const steps: ScriptStep[] = [];
  if (f.oomScoreAdjust !== undefined)
    steps.push(
      ...writeProcFile(
        '/proc/self/oom_score_adj',
        String(f.oomScoreAdjust),
        EXIT.OOM_ADJUST,
        `OOMScoreAdjust=${f.oomScoreAdjust}: cannot write /proc/self/oom_score_adj`,
      ),
    );
  if (s.coredumpFilter !== undefined)
    steps.push(
      ...writeProcFile(
        '/proc/self/coredump_filter',
        `0x${s.coredumpFilter.toString(16)}`,
        EXIT.LIMITS,
        `CoredumpFilter=0x${s.coredumpFilter.toString(16)}: cannot write /proc/self/coredump_filter`,
      ),
    );
  if (f.cpuScheduling) {
    const policy = s.cpuSchedulingPolicy ?? 'other';
    const priority = s.cpuSchedulingPriority ?? 0;
    // struct sched_attr (VER0, 48 bytes): size, policy, flags, nice, priority, runtime, deadline, period.
    const attr = Buffer.alloc(48);
    attr.writeUInt32LE(48, 0);
    attr.writeUInt32LE(SCHED_POLICIES[policy], 4);
    attr.writeBigUInt64LE(s.cpuSchedulingResetOnFork ? BigInt(SCHED_FLAG_RESET_ON_FORK) : 0n, 8);
    attr.writeUInt32LE(priority, 20);
    steps.push({
      call: 'sched_setattr',
      args: [0, { data: attr }, 0],
      failStatus: EXIT.SETSCHEDULER,
      message: `CPUSchedulingPolicy=${policy} CPUSchedulingPriority=${priority}: sched_setattr refused it (fifo and rr take priorities 1-99, the others 0)`,
    });
  }
  // After sched_setattr, whose attr carries a nice level of its own (systemd's order).
  if (f.nice !== undefined)
    steps.push({
      call: 'setpriority',
      args: [0, 0, f.nice],
      failStatus: EXIT.NICE,
      message: `Nice=${f.nice}: setpriority failed`,
    });
  if (s.cpuAffinity !== undefined) {
    const cpus = s.cpuAffinity === 'numa' ? cpusOfNodes(numaNodes(s.numaMask)) : s.cpuAffinity;
    const { bytes } = bitmask(cpus);
    steps.push({
      call: 'sched_setaffinity',
      args: [0, bytes.length, { data: bytes }],
      failStatus: EXIT.CPUAFFINITY,
      message: `CPUAffinity=${s.cpuAffinity === 'numa' ? 'numa' : cpus.join(' ')}: sched_setaffinity refused it (no such CPU for this process?)`,
    });
  }
  if (s.numaPolicy !== undefined && s.numaPolicy !== 'default') {
    const nodes = numaNodes(s.numaMask);
    const { bytes, bits } = bitmask(nodes);
    const withMask = s.numaPolicy !== 'local';
    steps.push({
      call: 'set_mempolicy',
      args: [MEMPOLICY[s.numaPolicy], withMask ? { data: bytes } : 0, withMask ? bits + 1 : 0],
      failStatus: EXIT.NUMA_POLICY,
      message: `NUMAPolicy=${s.numaPolicy} NUMAMask=${nodes.join(',')}: set_mempolicy refused it`,
    });
  }
  if (f.ioScheduling) {
    const klass = s.ioSchedulingClass ?? 'best-effort';
    const priority = klass === 'none' ? 0 : (s.ioSchedulingPriority ?? 4);
    steps.push({
      call: 'ioprio_set',
      args: [IOPRIO_WHO_PROCESS, 0, (IO_CLASSES[klass] << 13) | priority],
      failStatus: EXIT.IOPRIO,
      message: `IOSchedulingClass=${klass} IOSchedulingPriority=${priority}: ioprio_set refused it`,
    });
  }
  if (s.timerSlackNSec !== undefined)
    steps.push({
      call: 'prctl',
      args: [PR_SET_TIMERSLACK, s.timerSlackNSec],
      failStatus: EXIT.TIMERSLACK,
      message: `TimerSlackNSec=${s.timerSlackNSec}: PR_SET_TIMERSLACK failed`,
    });
  if (f.personality !== undefined)
    steps.push({
      call: 'personality',
      args: [f.personality],
      failStatus: EXIT.PERSONALITY,
      message: `Personality=${s.personality}: personality(2) refused it`,
    });
  return steps;
}

function limitSteps(f: Feasible): ScriptStep[] {
  const steps: ScriptStep[] = [];
  for (const name of RLIMIT_NAMES) {
    const l = f.limits[name];
    if (l === undefined) continue;
    steps.push({
      call: 'prlimit64',
      args: [0, RLIMIT_NUMBERS[name], { data: u64([rlimitValue(l.soft), rlimitValue(l.hard)]) }, 0],
      failStatus: EXIT.LIMITS,
      message: `Limit${name}=${formatLimitValue(l.soft)}:${formatLimitValue(l.hard)}: the kernel refused RLIMIT_${name}; lower it or raise the manager's own hard limit`,
    });
  }
  return steps;
}

/** DynamicUser= directories live under a `private/` directory only root may enter; in the
 * service's own mount namespace a tmpfs covers it, with only the unit's directories inside
 * (systemd's trick), so the dynamic user reaches them and nothing else of other units. */
function privateDirectorySteps(dirs: NonNullable<StepInputs['privateDirectories']>): ScriptStep[] {
  if (dirs.length === 0) return [];
  const fail = (what: string) => ({
    failStatus: EXIT.NAMESPACE,
    message: `DynamicUser=yes: ${what} (the private directories need a mount namespace, and so CAP_SYS_ADMIN)`,
  });
  const steps: ScriptStep[] = [
    { call: 'unshare', args: [CLONE_NEWNS], ...fail('cannot make a mount namespace') },
    {
      call: 'mount',
      args: [0, { data: '/' }, 0, MS_SLAVE | MS_REC, 0],
      ...fail('cannot make / a slave mount'),
    },
  ];
  let slot = 2;
  for (const { root, paths } of dirs) {
    const first = slot;
    for (const p of paths) {
      steps.push({
        call: 'open_tree',
        args: [AT_FDCWD, { data: `${root}/${p}` }, OPEN_TREE_CLONE | O_CLOEXEC | AT_RECURSIVE],
        slot: slot++,
        ...fail(`cannot take ${root}/${p}`),
      });
    }
    steps.push({
      call: 'mount',
      args: [
        { data: 'tmpfs' },
        { data: root },
        { data: 'tmpfs' },
        MS_NOSUID | MS_NODEV,
        { data: 'mode=0755' },
      ],
      ...fail(`cannot cover ${root}`),
    });
    paths.forEach((p, i) => {
      const parts = p.split('/');
      for (let depth = 1; depth <= parts.length; depth++)
        steps.push({
          call: 'mkdirat',
          args: [AT_FDCWD, { data: `${root}/${parts.slice(0, depth).join('/')}` }, 0o755],
        });
      const target = `${root}/${p}`;
      steps.push(
        {
          call: 'move_mount',
          args: [{ result: first + i }, { data: '' }, AT_FDCWD, { data: target }, MOVE_MOUNT_F_EMPTY_PATH],
          ...fail(`cannot mount ${target}`),
        },
        // No set-uid programs in a dynamic user's directories (systemd mounts them nosuid too).
        {
          call: 'mount',
          args: [0, { data: target }, 0, MS_REMOUNT | MS_BIND | MS_NOSUID, 0],
          ...fail(`cannot remount ${target} nosuid`),
        },
        { call: 'close', args: [{ result: first + i }] },
      );
    });
  }
  if (slot > 16) throw new RangeError('DynamicUser=: more than 14 private directories');
  return steps;
}

/** The capability sets the process has at the helper: as root, its exec made the permitted and
 * effective sets the bounding set (plus the inheritable one); inheritable passes unchanged. */
function childCapabilities(p: ManagerPowers): { permitted: bigint; inheritable: bigint } {
  return { permitted: p.bounding | p.inheritable, inheritable: p.inheritable };
}

function capset(effective: bigint, permitted: bigint, inheritable: bigint, message: string): ScriptStep {
  const b = Buffer.alloc(8 + 24);
  b.writeUInt32LE(LINUX_CAPABILITY_VERSION_3, 0); // header: version, pid 0
  const words = [effective, permitted, inheritable];
  // Two struct __user_cap_data_struct: the low 32 capabilities, then the high ones.
  for (let half = 0; half < 2; half++)
    words.forEach((w, i) => {
      b.writeUInt32LE(Number((w >> BigInt(32 * half)) & 0xffff_ffffn), 8 + half * 12 + i * 4);
    });
  return {
    call: 'capset',
    args: [{ data: b.subarray(0, 8) }, { data: b.subarray(8) }],
    failStatus: EXIT.CAPABILITIES,
    message,
  };
}

/** Groups, capabilities, the user, securebits and no_new_privs (systemd's order). */
/** A change of uid or gid clears PR_SET_PDEATHSIG, which the LISTEN_PID helper armed before this
 * helper ran: arm it again, then check the parent, as that helper does — a manager that died in
 * between sent no signal, and its orphan would run untied. */
function parentDeathSteps(parentPid: number): ScriptStep[] {
  return [
    {
      call: 'prctl',
      args: [PR_SET_PDEATHSIG, SIGKILL],
      failStatus: ORPHANED,
      message: 'sockunit-exec: cannot arm the parent-death signal again after the user change',
    },
    {
      call: 'getppid',
      args: [],
      expect: parentPid,
      failStatus: ORPHANED,
      message: `sockunit-exec: the manager that started this process (pid ${parentPid}) is gone`,
    },
  ];
}

function privilegeSteps(inputs: StepInputs): ScriptStep[] {
  const { exec, identity, feasible: f, powers, command } = inputs;
  const sandboxed = !command.fullPrivileges;
  const p = exec.privileges;
  const steps: ScriptStep[] = [];
  const target = identity.switchTo;
  if (target) {
    const gids = Buffer.alloc(target.groups.length * 4);
    target.groups.forEach((g, i) => {
      gids.writeUInt32LE(g, i * 4);
    });
    steps.push({
      call: 'setgroups',
      args: [target.groups.length, target.groups.length > 0 ? { data: gids } : 0],
      failStatus: EXIT.GROUP,
      message: `SupplementaryGroups=: setgroups(${target.groups.join(',') || 'none'}) failed`,
    });
    if (target.gid !== undefined)
      steps.push({
        call: 'setresgid',
        args: [target.gid, target.gid, target.gid],
        failStatus: EXIT.GROUP,
        message: `Group=: cannot switch to gid ${target.gid}`,
      });
  }
  if (sandboxed && inputs.userNamespace) steps.push(...inputs.userNamespace);
  const caps = sandboxed && f.capabilities;
  const last = Math.min(powers.lastCap, 62);
  const ambient = caps ? p.ambientCapabilities.filter((n) => n <= last) : [];
  const child = childCapabilities(powers);
  if (caps && p.capabilityBoundingSet !== undefined) {
    const keep = new Set(p.capabilityBoundingSet);
    for (let n = 0; n <= last; n++)
      if (!keep.has(n) && (powers.bounding & (1n << BigInt(n))) !== 0n)
        steps.push({
          call: 'prctl',
          args: [PR_CAPBSET_DROP, n],
          failStatus: EXIT.CAPABILITIES,
          message: `CapabilityBoundingSet=: cannot drop ${capabilityName(n)}`,
        });
  }
  const raise = (when: string): ScriptStep[] =>
    ambient.map((n) => ({
      call: 'prctl',
      args: [PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, n, 0, 0],
      failStatus: EXIT.CAPABILITIES,
      message: `AmbientCapabilities=${capabilityName(n)}: cannot raise it ${when} (is it in the manager's bounding set?)`,
    }));
  const inheritable = child.inheritable | capabilityMask(ambient);
  if (ambient.length > 0) {
    steps.push(
      capset(
        child.permitted,
        child.permitted,
        inheritable,
        'AmbientCapabilities=: cannot add them to the inheritable set',
      ),
      ...raise('before the user change'),
    );
  }
  const toUid = target?.uid;
  const leavesRoot = toUid !== undefined && toUid !== 0;
  if (toUid !== undefined) {
    if (leavesRoot && (ambient.length > 0 || (caps && p.secureBits !== 0)))
      steps.push({
        call: 'prctl',
        args: [PR_SET_KEEPCAPS, 1],
        failStatus: EXIT.USER,
        message: 'User=: cannot keep the capabilities across the user change',
      });
    steps.push({
      call: 'setresuid',
      args: [toUid, toUid, toUid],
      failStatus: EXIT.USER,
      message: `User=${identity.user?.name ?? toUid}: cannot switch to uid ${toUid}`,
    });
    // setresuid() clears the ambient set, even with keep-caps: raise them again.
    if (leavesRoot) steps.push(...raise('after the user change'));
  }
  if (target && inputs.parentPid !== undefined) steps.push(...parentDeathSteps(inputs.parentPid));
  if (caps && p.secureBits !== 0) {
    // PR_SET_SECUREBITS needs CAP_SETPCAP in the effective set, which a user change cleared.
    if (leavesRoot)
      steps.push(
        capset(
          child.permitted,
          child.permitted,
          inheritable,
          'SecureBits=: cannot regain CAP_SETPCAP to set them',
        ),
      );
    steps.push({
      call: 'prctl',
      args: [PR_SET_SECUREBITS, p.secureBits],
      failStatus: EXIT.SECUREBITS,
      message: `SecureBits=: PR_SET_SECUREBITS(0x${p.secureBits.toString(16)}) failed`,
    });
  }
  if (sandboxed && (p.noNewPrivileges || f.dynamicUser))
    steps.push({
      call: 'prctl',
      args: [PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0],
      failStatus: EXIT.NO_NEW_PRIVILEGES,
      message: 'NoNewPrivileges=yes: PR_SET_NO_NEW_PRIVS failed',
    });
  return steps;
}

/** Every step for one command; empty when the unit asks for nothing the helper does. */
export function contextSteps(inputs: StepInputs): ScriptStep[] {
  const sandboxed = !inputs.command.fullPrivileges;
  return [
    ...schedulingSteps(inputs.exec, inputs.feasible),
    ...(sandboxed ? limitSteps(inputs.feasible) : []),
    ...privateDirectorySteps(inputs.privateDirectories ?? []),
    ...privilegeSteps(inputs),
  ];
}
