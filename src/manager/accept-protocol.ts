// What the main thread and the accept thread (accept-worker.ts) tell each other. Plain data only:
// every message crosses threads by structured clone.

import type { SocketSpec } from '../net/spec.js';
import type { SockAddr } from '../sys/sockaddr.js';

/** Where an instance's stdin/stdout/stderr go: the connection, the manager's log, /dev/null. */
export type PlanStdio = 'connection' | 'capture' | 'null';

/** How every instance of one Accept=yes unit starts, computed once on the main thread: the
 * program (already wrapped by the LISTEN_PID helper where fds are passed), and the environment
 * without the per-connection variables (INVOCATION_ID, REMOTE_ADDR, REMOTE_PORT, SO_COOKIE),
 * which the accept thread appends. */
export interface AcceptPlan {
  file: string;
  argv: string[];
  env: string[];
  /** The connection at fd 3 (LISTEN_FDS=1); false with StandardInput=socket. */
  listenFds: boolean;
  stdin: 'connection' | 'null';
  stdout: PlanStdio;
  stderr: PlanStdio;
  cwd: string;
  nonBlocking: boolean;
  maxConnections: number;
  /** 0: no per-source limit. */
  maxConnectionsPerSource: number;
  triggerLimit: { intervalUsec: number; burst: number };
  pollLimit: { intervalUsec: number; burst: number };
}

/** Indexes into a listener's shared Int32Array. */
export const WATCH_SLOTS = {
  /** Instances alive: the accept thread adds one per spawn, the main thread subtracts one when
   * an instance has ended. MaxConnections= is checked against it before a spawn. */
  live: 0,
  /** 1 while the main thread wants connections accepted: checked before every accept. */
  armed: 1,
} as const;
export const WATCH_SLOT_COUNT = 2;

export type ToAcceptThread =
  | { kind: 'add'; tag: number; fd: number; spec: SocketSpec; plan: AcceptPlan; slots: SharedArrayBuffer }
  | { kind: 'remove'; tag: number }
  | { kind: 'stop' };

interface ConnectionFacts {
  tag: number;
  local?: SockAddr;
  peer: SockAddr;
  cookie?: bigint;
  /** Counted against MaxConnectionsPerSource= under this key until the main thread says the
   * instance ended (`ended` on the sync port). */
  source?: string;
}

/** Sent on the synchronous port, which the thread reads before every accept. */
export interface InstanceEnded {
  kind: 'ended';
  tag: number;
  source: string;
}

export type AcceptThreadEvent =
  /** An instance runs: its pid and pidfd (now the main thread's), its log pipe if any. */
  | (ConnectionFacts & {
      kind: 'spawned';
      pid: number;
      pidfd: number;
      /** Slot of the shared pid ring to clear once the pid is registered (-1: none). */
      ringSlot: number;
      logFd?: number;
      invocationId: string;
      warnings: string[];
    })
  /** posix_spawn failed; the connection is closed. */
  | (ConnectionFacts & { kind: 'failed'; message: string; warnings: string[] })
  /** MaxConnections= reached; the connection is closed. */
  | { kind: 'refused'; tag: number; peer: SockAddr; live: number }
  /** MaxConnectionsPerSource= reached for `source`; the connection is closed. */
  | { kind: 'refused-source'; tag: number; peer: SockAddr; source: string; count: number }
  /** PollLimit*= hit: the listener is disarmed for `ms`. */
  | { kind: 'poll-limit'; tag: number; ms: number }
  /** TriggerLimit*= hit: the listener is disarmed; the unit fails. */
  | { kind: 'trigger-limit'; tag: number }
  | { kind: 'accept-error'; tag: number; message: string }
  /** A `remove` was done: no event for this tag follows. */
  | { kind: 'removed'; tag: number }
  | { kind: 'thread-error'; message: string };
