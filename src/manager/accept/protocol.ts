// What the main thread and the accept thread (accept/worker.ts) tell each other. Plain data only:
// every message crosses threads by structured clone.

import type { SocketSpec } from '../../net/spec.js';
import type { SockAddr } from '../../sys/sockaddr.js';
import type { InstanceCgroupPlan } from '../cgroup/tree.js';

/** Where an instance's stdin/stdout/stderr go: the connection, the manager's log, /dev/null. */
export type PlanStdio = 'connection' | 'capture' | 'null';

/** How every instance of one Accept=yes unit starts, computed once on the main thread: the
 * program (already wrapped by the LISTEN_PID helper, and by the exec-context helper when the
 * unit asks for limits, scheduling, a user or capabilities), and the environment
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
  /** IgnoreSIGPIPE=: instances start with SIGPIPE ignored (spawn.ts keeps Node's SIG_IGN). */
  ignoreSigpipe: boolean;
  maxConnections: number;
  /** 0: no per-source limit. */
  maxConnectionsPerSource: number;
  triggerLimit: { intervalUsec: number; burst: number };
  pollLimit: { intervalUsec: number; burst: number };
  /** With services in cgroups: where and how each instance's cgroup is made. */
  cgroup?: InstanceCgroupPlan;
}

/** Indexes into a listener's shared Int32Array. */
export const WATCH_SLOTS = {
  /** Instances alive, counted by the thread (one more per spawn, one less when it sees the
   * process end). MaxConnections= is checked against it before a spawn. */
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
}

/** Events about one listener (`tag`), in the order they happened. */
export type ListenerEvent =
  /** An instance runs. The thread keeps watching it (its pidfd, and its log pipe when output
   * goes to the log): its output comes as `output` events and its end as `exited`; the main
   * thread reaps it (waitid) then. */
  | (ConnectionFacts & {
      kind: 'spawned';
      pid: number;
      /** Slot of the shared pid ring to clear once the pid is registered (-1: none). */
      ringSlot: number;
      invocationId: string;
      warnings: string[];
      /** The instance's cgroup directory, when it runs in one. */
      cgroup?: string;
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
  | { kind: 'removed'; tag: number };

/** Events about one spawned instance, by pid (after its `spawned`). */
export type InstanceEvent =
  /** Whole lines it wrote to its log pipe (the last, unterminated, one at end of file). */
  | { kind: 'output'; pid: number; lines: string[] }
  /** It has ended and waits to be reaped. Output it wrote before is in earlier events; with
   * `logOpen` something it left behind still holds its log pipe (`log-closed` follows). */
  | { kind: 'exited'; pid: number; logOpen: boolean }
  /** Its log pipe reached end of file and is closed (before or after its end). */
  | { kind: 'log-closed'; pid: number };

export type AcceptThreadEvent = ListenerEvent | InstanceEvent | { kind: 'thread-error'; message: string };
