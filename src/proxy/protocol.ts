// What the proxy's two threads tell each other. The relay thread (worker.ts) owns every
// connection; the main thread (proxy.ts) writes the log, resolves host names (Node's resolver
// runs on the main thread's event loop, which the relay thread's epoll loop does not turn for
// each wake-up) and ends the process.

import type { SockAddr } from '../sys/sockaddr.js';

/** Everything the relay thread needs, fixed at start. */
export interface RelaySettings {
  /** Listening stream sockets, in the order they were passed or opened. */
  listeners: number[];
  /** The eventfd the main thread signals after posting a message. */
  wakeFd: number;
  /** Where to connect: a fixed address, or a host the main thread resolves per connection. */
  target: { address: SockAddr } | { host: string; port: number };
  /** As the user wrote it, for log lines. */
  targetText: string;
  /** 0 for TCP (or unix), IPPROTO_MPTCP for MPTCP. */
  upstreamProtocol: number;
  /** At most this many connections at once; further clients wait in the listen backlog. */
  connectionsMax: number;
  /** Exit after this long without a connection; undefined: never. */
  exitIdleMs: number | undefined;
  /** Bytes each direction's pipe holds (F_SETPIPE_SZ). */
  pipeSize: number;
  /** Least time between two log lines of one cause. */
  logIntervalMs: number;
}

export type ToRelayThread =
  | { kind: 'resolved'; id: number; address: SockAddr }
  | { kind: 'unresolved'; id: number; message: string }
  | { kind: 'stop' };

export type FromRelayThread =
  | { kind: 'ready' }
  | { kind: 'log'; message: string }
  | { kind: 'resolve'; id: number }
  /** The thread has stopped and closed its listeners: no connection for the exit idle time, or
   * no listener left (each was shut down under it). */
  | { kind: 'exit'; reason: string }
  /** The thread cannot go on (its epoll instance failed). */
  | { kind: 'fatal'; message: string };
