// What of a unit's execution environment this manager can apply, decided once from what it may
// do itself (manager-powers.ts), with systemd's rules where systemd has them:
// - a Limit*= above the manager's hard limit, without CAP_SYS_RESOURCE, is clamped to it
//   (setrlimit_closest()); so is Nice= below what RLIMIT_NICE allows (setpriority_closest());
// - an OOMScoreAdjust= the kernel refuses without privileges is left out (systemd ignores EPERM);
// - a Personality= that is not this machine's own or its 32-bit one is ignored, as systemd does;
// - what needs privileges this manager lacks — another user, capability sets, securebits, a
//   realtime CPU or I/O class, DynamicUser= — is left out, so that a manager running as an
//   unprivileged user runs what it can.
// Each such decision is a note; the manager logs them when it loads the unit and `verify`
// prints them, at the line of the key, with what to change.

import { capabilityName } from '../../unit/capabilities.js';
import type { Diagnostic } from '../../unit/diagnostic.js';
import {
  type ExecContext,
  type ResourceLimit,
  RLIMIT_NAMES,
  type RlimitName,
} from '../../unit/exec-context.js';
import { formatLimitValue } from '../../unit/rlimits.js';
import type { KeyOrigins } from '../../unit/socket-config.js';
import { hasCapability, type ManagerPowers, managerPowers } from './manager-powers.js';

/** Capability numbers the decisions below ask for (linux/capability.h). */
export const CAP = {
  SETGID: 6,
  SETUID: 7,
  SETPCAP: 8,
  SYS_ADMIN: 21,
  SYS_NICE: 23,
  SYS_RESOURCE: 24,
} as const;

export interface FeasibilityNote {
  key: string;
  severity: 'warning' | 'notice';
  message: string;
}

/** A unit's settings as they will be applied, and the notes on what differs from the file. */
export interface Feasible {
  limits: Partial<Record<RlimitName, ResourceLimit>>;
  nice?: number;
  oomScoreAdjust?: number;
  /** The CPU scheduling keys can be applied (sched_setattr). */
  cpuScheduling: boolean;
  /** The I/O scheduling keys can be applied (ioprio_set). */
  ioScheduling: boolean;
  /** personality(2)'s value: PER_LINUX or PER_LINUX32. */
  personality?: number;
  /** The manager can switch to other users and groups (User=, Group=, SupplementaryGroups=). */
  switchUsers: boolean;
  /** The manager can change capability sets and securebits (CapabilityBoundingSet=,
   * AmbientCapabilities=, SecureBits=). */
  capabilities: boolean;
  dynamicUser: boolean;
  notes: FeasibilityNote[];
}

const NOT_ROOT = 'the manager does not run as root';

/** systemd's setrlimit_closest(): what the kernel will give for `want`, or undefined when it
 * will refuse it whatever is asked (then the start fails with 205/LIMITS). */
function closestLimit(name: RlimitName, want: ResourceLimit, p: ManagerPowers): ResourceLimit | undefined {
  const own = p.limits[name];
  const canRaise = hasCapability(p, CAP.SYS_RESOURCE);
  // Above fs.nr_open no RLIMIT_NOFILE is granted, to anyone (EPERM as for a missing capability).
  const ceiling = canRaise ? (name === 'NOFILE' ? p.nrOpen : Number.POSITIVE_INFINITY) : own.hard;
  if (want.hard <= ceiling) return want;
  if (!Number.isFinite(own.hard)) return undefined;
  return { soft: Math.min(want.soft, own.hard), hard: Math.min(want.hard, own.hard) };
}

function personalityValue(name: string): number | undefined {
  const native = process.arch === 'x64' ? 'x86-64' : process.arch === 'arm64' ? 'arm64' : undefined;
  const secondary = process.arch === 'x64' ? 'x86' : process.arch === 'arm64' ? 'arm' : undefined;
  if (name === native) return 0; // PER_LINUX
  if (name === secondary) return 8; // PER_LINUX32
  return undefined;
}

function describeLimit(l: ResourceLimit): string {
  return l.soft === l.hard
    ? formatLimitValue(l.soft)
    : `${formatLimitValue(l.soft)}:${formatLimitValue(l.hard)}`;
}

/** Decides, for `exec` and this manager, what is applied; see the file's comment. */
export function feasible(exec: ExecContext, powers: ManagerPowers = managerPowers()): Feasible {
  const notes: FeasibilityNote[] = [];
  const note = (key: string, message: string, severity: FeasibilityNote['severity'] = 'warning') =>
    notes.push({ key, severity, message });
  const root = powers.euid === 0;
  const out: Feasible = {
    limits: {},
    cpuScheduling: false,
    ioScheduling: false,
    switchUsers: root || (hasCapability(powers, CAP.SETUID) && hasCapability(powers, CAP.SETGID)),
    capabilities: hasCapability(powers, CAP.SETPCAP),
    dynamicUser: false,
    notes,
  };

  for (const name of RLIMIT_NAMES) {
    const want = exec.limits[name];
    if (want === undefined) continue;
    const got = closestLimit(name, want, powers);
    if (got === undefined) {
      out.limits[name] = want; // the kernel will refuse it: 205/LIMITS at start, as under systemd
      continue;
    }
    out.limits[name] = got;
    if (got !== want)
      note(
        `Limit${name}`,
        `above what this manager may grant (its hard limit is ${formatLimitValue(powers.limits[name].hard)}${name === 'NOFILE' ? `, fs.nr_open ${powers.nrOpen}` : ''}; raising it needs CAP_SYS_RESOURCE); the service gets ${describeLimit(got)}, as systemd clamps it — raise the manager's own limit (e.g. prlimit or LimitNOFILE= of the unit that starts sockunit) or lower the value`,
      );
  }

  const s = exec.scheduling;
  if (s.nice !== undefined) {
    out.nice = s.nice;
    if (s.nice < powers.nice && !hasCapability(powers, CAP.SYS_NICE)) {
      const lowest = 20 - Math.min(40, powers.limits.NICE.soft);
      if (s.nice < lowest) {
        out.nice = Math.min(powers.nice, lowest);
        note(
          'Nice',
          `a nice level below the manager's ${powers.nice} needs CAP_SYS_NICE or a RLIMIT_NICE of ${20 - s.nice}; the service runs at ${out.nice}, the closest allowed, as under systemd`,
        );
      }
    }
  }
  if (s.oomScoreAdjust !== undefined) {
    if (s.oomScoreAdjust < powers.oomScoreAdj && !hasCapability(powers, CAP.SYS_RESOURCE))
      note(
        'OOMScoreAdjust',
        `lowering oom_score_adj below the manager's ${powers.oomScoreAdj} needs CAP_SYS_RESOURCE; left at ${powers.oomScoreAdj} (systemd ignores the refusal too) — run the manager as root or use a value of ${powers.oomScoreAdj} or more`,
      );
    else out.oomScoreAdjust = s.oomScoreAdjust;
  }
  if (
    s.cpuSchedulingPolicy !== undefined ||
    s.cpuSchedulingPriority !== undefined ||
    s.cpuSchedulingResetOnFork
  ) {
    const realtime = s.cpuSchedulingPolicy === 'fifo' || s.cpuSchedulingPolicy === 'rr';
    const priority = s.cpuSchedulingPriority ?? 0;
    if (realtime && !hasCapability(powers, CAP.SYS_NICE) && powers.limits.RTPRIO.soft < priority)
      note(
        'CPUSchedulingPolicy',
        `the realtime policy ${s.cpuSchedulingPolicy} with priority ${priority} needs CAP_SYS_NICE or a RLIMIT_RTPRIO of ${priority} (the manager's is ${formatLimitValue(powers.limits.RTPRIO.soft)}); left out — run the manager as root`,
      );
    else out.cpuScheduling = true;
  }
  if (s.ioSchedulingClass !== undefined || s.ioSchedulingPriority !== undefined) {
    if (
      s.ioSchedulingClass === 'realtime' &&
      !hasCapability(powers, CAP.SYS_NICE) &&
      !hasCapability(powers, CAP.SYS_ADMIN)
    )
      note(
        'IOSchedulingClass',
        'the realtime I/O class needs CAP_SYS_NICE; left out — run the manager as root or use best-effort',
      );
    else out.ioScheduling = true;
  }
  if (s.personality !== undefined) {
    const value = personalityValue(s.personality);
    if (value === undefined)
      note(
        'Personality',
        `not an execution domain of this ${process.arch} machine; ignored, as systemd ignores it — expected ${process.arch === 'arm64' ? 'arm64 or arm' : 'x86-64 or x86'}`,
      );
    else out.personality = value;
  }

  const p = exec.privileges;
  if (
    !out.switchUsers &&
    (exec.user !== undefined || exec.group !== undefined || exec.supplementaryGroups.length > 0)
  ) {
    const key = exec.user !== undefined ? 'User' : exec.group !== undefined ? 'Group' : 'SupplementaryGroups';
    note(
      key,
      `${NOT_ROOT} (uid ${powers.euid}) and cannot switch users and groups; the processes run as uid ${powers.euid} — run the manager as root to apply it`,
    );
  }
  if (p.dynamicUser) {
    if (root) out.dynamicUser = true;
    else
      note(
        'DynamicUser',
        `${NOT_ROOT} (uid ${powers.euid}) and cannot allocate users; the processes run as uid ${powers.euid} — run the manager as root to apply it`,
      );
  }
  const wantsCapabilities =
    p.capabilityBoundingSet !== undefined || p.ambientCapabilities.length > 0 || p.secureBits !== 0;
  if (wantsCapabilities && !out.capabilities) {
    const key =
      p.capabilityBoundingSet !== undefined
        ? 'CapabilityBoundingSet'
        : p.ambientCapabilities.length > 0
          ? 'AmbientCapabilities'
          : 'SecureBits';
    note(
      key,
      `changing capability sets and securebits needs CAP_SETPCAP, which the manager (uid ${powers.euid}) lacks; left out — run the manager as root`,
    );
  }
  if (out.capabilities) {
    const unknown = [...(p.capabilityBoundingSet ?? []), ...p.ambientCapabilities].filter(
      (n) => n > powers.lastCap && n <= 40,
    );
    if (unknown.length > 0)
      note(
        p.ambientCapabilities.some((n) => unknown.includes(n))
          ? 'AmbientCapabilities'
          : 'CapabilityBoundingSet',
        `${[...new Set(unknown)].map(capabilityName).join(', ')} unknown to this kernel (its last capability is ${capabilityName(powers.lastCap)}); ignored, as systemd ignores capabilities past cap_last_cap`,
        'notice',
      );
  }
  return out;
}

/** The notes as diagnostics at the lines that set the keys (for the manager's log and verify). */
export function feasibilityDiagnostics(
  unit: string,
  exec: ExecContext,
  origins: KeyOrigins,
  powers: ManagerPowers = managerPowers(),
): Diagnostic[] {
  return feasible(exec, powers).notes.map((n) => {
    const origin = origins[n.key];
    return origin === undefined
      ? { severity: n.severity, file: unit, line: 0, key: n.key, message: n.message }
      : {
          severity: n.severity,
          file: origin.file,
          line: origin.line,
          key: n.key,
          value: origin.value,
          message: n.message,
        };
  });
}
