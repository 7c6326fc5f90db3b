// The manager's side of sd_notify beyond the socket itself: where the notify socket lives, who
// may talk for a service (NotifyAccess=) without cgroups, and the timers a notifying service
// lives under (a start/stop deadline that EXTEND_TIMEOUT_USEC= can push out, the watchdog).

import { readFileSync } from 'node:fs';
import { hasCode } from '../../sys/errors.js';
import { kill } from '../../sys/process.js';
import type { NotifyAccess } from '../../unit/service-config.js';
import type { ProcessExit, RunningProcess } from '../exec/process.js';

/** One notify socket per manager, in the abstract namespace: nothing to create, to clean up after
 * a crash, or to collide with another manager's (the pid makes it unique on the host), and both
 * libsystemd and our notify() accept `@name`. Senders are told apart by SO_PASSCRED, never by
 * who could reach the address. */
export function defaultNotifySocketAddress(pid = process.pid): string {
  return `@sockunit/notify/${pid}`;
}

/** The session id of `pid` from /proc/PID/stat, or undefined when the process is gone. Every
 * service process is started with setsid(), so its session id is the pid it was started as: this
 * is how "belongs to the service" is decided without cgroups (NotifyAccess=all, MAINPID=). */
export function sessionOf(pid: number): number | undefined {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // comm may contain spaces and parentheses: the fields start after the last ')'.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // state ppid pgrp session
  const session = Number(fields[3]);
  return Number.isInteger(session) && session > 0 ? session : undefined;
}

/** What a service knows about its processes, for routing a message by sender pid. */
export interface NotifyPids {
  access: NotifyAccess;
  mainPid: number | undefined;
  controlPids: ReadonlySet<number>;
  /** Sessions the service's processes run in (the pids they were started as). */
  sessions: ReadonlySet<number>;
  /** The service's cgroup (its path), when it runs in one: every process there is the service's. */
  cgroup?: string | undefined;
}

export type NotifyVerdict = { accepted: true } | { accepted: false; reason: string };

/** Whether `sender` belongs to the service at all: main, control, in the service's cgroup (as
 * systemd decides), or without one in one of their sessions. */
export function belongsTo(
  pids: NotifyPids,
  sender: number,
  senderSession: number | undefined,
  senderCgroup?: string,
): boolean {
  if (sender === pids.mainPid || pids.controlPids.has(sender)) return true;
  if (pids.cgroup !== undefined) return senderCgroup === pids.cgroup;
  return senderSession !== undefined && pids.sessions.has(senderSession);
}

/** NotifyAccess= as systemd enforces it, with its log wording for refusals. */
export function checkNotifyAccess(
  pids: NotifyPids,
  sender: number,
  senderSession: number | undefined,
  senderCgroup?: string,
): NotifyVerdict {
  const main = pids.mainPid;
  const control = [...pids.controlPids];
  switch (pids.access) {
    case 'none':
      return {
        accepted: false,
        reason: `Got notification message from PID ${sender}, but reception is disabled (NotifyAccess=none).`,
      };
    case 'main':
      if (sender === main) return { accepted: true };
      return {
        accepted: false,
        reason:
          main !== undefined
            ? `Got notification message from PID ${sender}, but reception only permitted for main PID ${main}`
            : `Got notification message from PID ${sender}, but reception only permitted for main PID which is currently not known`,
      };
    case 'exec':
      if (sender === main || pids.controlPids.has(sender)) return { accepted: true };
      return {
        accepted: false,
        reason: `Got notification message from PID ${sender}, but reception only permitted for main PID ${main ?? 'which is currently not known'} and control PID ${control.length > 0 ? control.join(', ') : 'which is currently not known'}`,
      };
    case 'all':
      if (belongsTo(pids, sender, senderSession, senderCgroup)) return { accepted: true };
      return {
        accepted: false,
        reason: `Got notification message from PID ${sender}, but reception only permitted for processes of the service (${pids.cgroup !== undefined ? `cgroup ${pids.cgroup}` : `sessions ${[...pids.sessions].join(', ')}`})`,
      };
  }
}

/** A microsecond field (EXTEND_TIMEOUT_USEC=, WATCHDOG_USEC=) as a positive number, else undefined. */
export function parseUsec(value: string | undefined): number | undefined {
  if (value === undefined || !/^[0-9]{1,19}$/.test(value)) return undefined;
  const n = Number(value);
  return Number.isSafeInteger(n) && n > 0 ? n : undefined;
}

/**
 * A timeout that can be pushed out while it runs: TimeoutStartSec=/TimeoutStopSec= with
 * EXTEND_TIMEOUT_USEC=, which moves the end to at least `now + n` (never earlier).
 */
export class Deadline {
  private timer: NodeJS.Timeout | undefined;
  private end: number;
  private fire: (() => void) | undefined;
  readonly expired: Promise<true>;

  /** `ms` undefined: never expires unless extended (an infinite timeout stays infinite). */
  constructor(ms: number | undefined) {
    this.end = ms === undefined ? Number.POSITIVE_INFINITY : Date.now() + ms;
    this.expired = new Promise<true>((resolve) => {
      this.fire = () => resolve(true);
    });
    this.arm();
  }

  private arm(): void {
    clearTimeout(this.timer);
    if (!Number.isFinite(this.end)) return;
    this.timer = setTimeout(() => this.fire?.(), Math.max(0, this.end - Date.now()));
  }

  extend(ms: number): void {
    const wanted = Date.now() + ms;
    if (Number.isFinite(this.end) && wanted <= this.end) return;
    if (!Number.isFinite(this.end)) return;
    this.end = wanted;
    this.arm();
  }

  /** Which came first: `p` or the deadline. */
  async race<T>(p: Promise<T>): Promise<{ value: T } | 'timeout'> {
    const r = await Promise.race([
      p.then((value) => ({ value })),
      this.expired.then(() => 'timeout' as const),
    ]);
    return r;
  }

  cancel(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
  }
}

/** The watchdog of one main process: `ping()` restarts the period, `expire` runs once when a
 * period passes without a ping. */
export class WatchdogTimer {
  private timer: NodeJS.Timeout | undefined;
  private usec: number;
  private readonly expire: () => void;

  constructor(usec: number, expire: () => void) {
    this.usec = usec;
    this.expire = expire;
    this.ping();
  }

  get periodUsec(): number {
    return this.usec;
  }

  ping(): void {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.expire();
    }, this.usec / 1000);
  }

  /** WATCHDOG_USEC= from the service: a new period, counted from now. */
  setPeriod(usec: number): void {
    this.usec = usec;
    this.ping();
  }

  cancel(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
  }
}

const FOLLOW_POLL_MS = 100;

function exists(pid: number): boolean {
  try {
    kill(pid, 0);
    return true;
  } catch (err) {
    return !hasCode(err, 'ESRCH');
  }
}

/** A main pid set by MAINPID= that is not our child: no pidfd wait reaches it, so its end is
 * noticed by polling, and its exit status is unknown (reported as a clean exit, as for a forked
 * daemon). `group` is the service's process group, which a group signal also reaches. */
export function followPid(pid: number, group: number): RunningProcess {
  const exit = new Promise<ProcessExit>((resolve) => {
    const timer = setInterval(() => {
      if (exists(pid)) return;
      clearInterval(timer);
      resolve({ pid, code: 'exited', status: 0 });
    }, FOLLOW_POLL_MS);
  });
  return {
    pid,
    exit,
    signal(signal: number, toGroup = false) {
      for (const target of toGroup ? [-group, pid] : [pid]) {
        try {
          kill(target, signal);
        } catch {}
      }
    },
  };
}
