// Layer proxy/: `sockunit proxy`, a program of its own beside activate/: systemd-socket-proxyd
// (flag for flag), with MPTCP on either side. It accepts clients on listening sockets (passed by
// socket activation, or opened with --listen) and connects each to one target, HOST:PORT or a
// unix socket, moving the bytes with splice(2) on a thread of its own. So a program that speaks
// only TCP gets an MPTCP front door (a socket unit with SocketProtocol=mptcp running the proxy),
// and a TCP client an MPTCP way out (--upstream-protocol=mptcp).
//
// Files: target.ts (the TARGET argument), listeners.ts (where the listening sockets come from),
// worker.ts (the relay thread: accept, connect, splice), relay.ts (one connection),
// pipe-pool.ts, log-throttle.ts, protocol.ts (what the threads tell each other). This file is the
// main thread's end: it starts the thread, writes its log lines, looks host names up, tells the
// service manager READY=1, and ends the process.

import { lookup } from 'node:dns/promises';
import { Worker } from 'node:worker_threads';
import { ready, stopping } from '../activation/notify.js';
import { available } from '../mptcp/probe.js';
import { EPOLL_CTL_ADD, EPOLLIN, IPPROTO_MPTCP } from '../sys/constants.js';
import { epollCreate, epollCtl, eventFd, eventFdSignal } from '../sys/epoll.js';
import { closeQuietly } from '../sys/socket.js';
import { ProxyError, type ProxyListener, prepareListeners } from './listeners.js';
import type { FromRelayThread, RelaySettings, ToRelayThread } from './protocol.js';
import { fixedAddress, formatTarget, type ProxyTarget } from './target.js';

export interface ProxyOptions {
  target: ProxyTarget;
  /** How to connect to the target. MPTCP needs an IP target. */
  upstreamProtocol: 'tcp' | 'mptcp';
  /** At most this many connections at once (systemd-socket-proxyd's default is 256). */
  connectionsMax: number;
  /** Exit after this many microseconds without a connection; Infinity: never. */
  exitIdleUsec: number;
  listeners: readonly ProxyListener[];
  /** One log line, without newline. */
  log(line: string): void;
}

export interface RunningProxy {
  /** Resolves with the exit code: 0 after the idle time or `stop()`, 1 when the relay thread
   * failed. */
  readonly done: Promise<number>;
  /** Stop accepting, close every connection and listener, resolve `done` with 0. */
  stop(): void;
}

/** systemd-socket-proxyd's pipe size (BUFFER_SIZE in socket-proxyd.c): the most bytes one
 * direction of a connection holds in the proxy. */
export const PIPE_SIZE = 256 * 1024;
/** Least time between two log lines of one cause (a refusing target, a full fd table). */
export const LOG_INTERVAL_MS = 10_000;

export { ProxyError };

/** Check what can be checked before any connection arrives. Throws ProxyError. */
export function checkProxyOptions(o: ProxyOptions): void {
  if (o.listeners.length === 0)
    throw new ProxyError(
      "Didn't get any sockets passed in: run sockunit proxy as the service of a socket unit (LISTEN_FDS), or give --listen=[ADDR:]PORT.",
    );
  if (!Number.isInteger(o.connectionsMax) || o.connectionsMax < 1)
    throw new ProxyError('Connection limit is too low: --connections-max must be 1 or more.');
  if (o.upstreamProtocol === 'mptcp') {
    if (o.target.kind === 'unix')
      throw new ProxyError(
        `--upstream-protocol=mptcp needs a HOST:PORT target; ${o.target.path} is a unix socket.`,
      );
    const mptcp = available();
    if (!mptcp.available)
      throw new ProxyError(
        `--upstream-protocol=mptcp: ${mptcp.reason}; enable MPTCP (sysctl -w net.mptcp.enabled=1) or connect with TCP.`,
      );
  }
}

export function startProxy(o: ProxyOptions): RunningProxy {
  checkProxyOptions(o);
  prepareListeners(o.listeners);
  const epfd = epollCreate();
  const wakeFd = eventFd();
  epollCtl(epfd, EPOLL_CTL_ADD, wakeFd, EPOLLIN, 0);
  const address = fixedAddress(o.target);
  const target = o.target;
  const settings: RelaySettings & { epfd: number } = {
    epfd,
    listeners: o.listeners.map((l) => l.fd),
    wakeFd,
    target: address
      ? { address }
      : { host: (target as { host: string }).host, port: (target as { port: number }).port },
    targetText: formatTarget(o.target),
    upstreamProtocol: o.upstreamProtocol === 'mptcp' ? IPPROTO_MPTCP : 0,
    connectionsMax: o.connectionsMax,
    exitIdleMs: Number.isFinite(o.exitIdleUsec) ? o.exitIdleUsec / 1000 : undefined,
    pipeSize: PIPE_SIZE,
    logIntervalMs: LOG_INTERVAL_MS,
  };
  const worker = new Worker(new URL('./worker.js', import.meta.url), { workerData: settings });
  let exited = false;
  const send = (message: ToRelayThread): void => {
    // After the exit the eventfd is closed, and its number may belong to another file by now.
    if (exited) return;
    worker.postMessage(message);
    eventFdSignal(wakeFd);
  };
  let exitCode = 0;
  let settle: (code: number) => void = () => {};
  const done = new Promise<number>((resolve) => {
    settle = resolve;
  });
  worker.on('message', (m: FromRelayThread) => {
    switch (m.kind) {
      case 'ready':
        ready();
        return;
      case 'log':
        o.log(m.message);
        return;
      case 'resolve':
        resolve(target, m.id).then(send);
        return;
      case 'exit':
        o.log(`Exiting: ${m.reason}.`);
        return;
      case 'fatal':
        o.log(`The relay thread failed: ${m.message}`);
        exitCode = 1;
        return;
    }
  });
  worker.on('error', (err) => {
    o.log(`The relay thread failed: ${err.message}`);
    exitCode = 1;
  });
  worker.on('exit', () => {
    exited = true;
    stopping();
    closeQuietly(wakeFd);
    closeQuietly(epfd);
    settle(exitCode);
  });
  return { done, stop: () => send({ kind: 'stop' }) };
}

/** Look the target's host up for one connection (getaddrinfo's first answer, as
 * systemd-socket-proxyd takes it). */
async function resolve(target: ProxyTarget, id: number): Promise<ToRelayThread> {
  if (target.kind !== 'host') return { kind: 'unresolved', id, message: 'not a host name' };
  try {
    const { address, family } = await lookup(target.host);
    return {
      kind: 'resolved',
      id,
      address: { family: family === 6 ? 'inet6' : 'inet', address, port: target.port },
    };
  } catch (err) {
    return { kind: 'unresolved', id, message: (err as { code?: string }).code ?? (err as Error).message };
  }
}
