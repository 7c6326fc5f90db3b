// The relay thread of `sockunit proxy`: one epoll loop that accepts clients, connects each to
// the target, and moves their bytes with splice(2) (relay.ts). No byte passes through
// JavaScript: per wake-up the loop makes a handful of FFI calls that each move up to a pipe's
// worth of data inside the kernel. It runs on a worker thread so that the main thread's event
// loop (log output, name lookups, signals) never delays a relay, and the relay loop can wait in
// epoll_wait itself instead of taking a turn of libuv's loop per wake-up.
//
// Like the accept thread (manager/accept/worker.ts), it waits and handles events without going
// back to Node's event loop, except every TURNS_PER_YIELD rounds or when idle. Tag 0 is the main
// thread's eventfd: a message waits (receiveMessageOnPort takes it at once).

import { parentPort, receiveMessageOnPort, workerData } from 'node:worker_threads';
import {
  EPOLL_CTL_ADD,
  EPOLL_CTL_DEL,
  EPOLL_CTL_MOD,
  EPOLLERR,
  EPOLLHUP,
  EPOLLIN,
  EPOLLOUT,
} from '../sys/constants.js';
import { epollBuffer, epollCtl, epollWaitCount, eventFdDrain, readyEvents, readyTag } from '../sys/epoll.js';
import { errnoName } from '../sys/errors.js';
import {
  acceptConnection,
  type ConnectAddress,
  connectAddress,
  connectResult,
  connectStream,
  EAGAIN,
  ECONNREFUSED,
  ECONNRESET,
  EINTR,
  EPIPE,
} from '../sys/relay.js';
import type { SockAddr } from '../sys/sockaddr.js';
import { closeQuietly, type Fd } from '../sys/socket.js';
import { LogThrottle } from './log-throttle.js';
import { PipePool } from './pipe-pool.js';
import type { FromRelayThread, RelaySettings, ToRelayThread } from './protocol.js';
import { BACK, FRONT, Relay, type Side } from './relay.js';

const settings = workerData as RelaySettings & { epfd: number };
const { epfd, wakeFd } = settings;

const WAKE_TAG = 0;
/** Listener i has tag LISTENER_TAG + i. */
const LISTENER_TAG = 1;
/** A relay's sockets: RELAY_TAG + 2 * id + side. Ids only grow, so an event queued for a relay
 * that has closed (its fd number maybe reused already) finds no relay and is dropped. */
const RELAY_TAG = 2 ** 20;
/** Longest wait: a thread stuck in a native call cannot be terminated, so it looks up now and
 * then even if a stop request were lost. */
const WAIT_MS = 1000;
const TURNS_PER_YIELD = 64;
/** Accepts per listener and wake-up, so connections already open keep moving under a flood of
 * new ones (spawn.md trap 1). */
const ACCEPTS_PER_WAKEUP = 16;
/** Out of fds or memory, accept() fails while the connection stays queued: a level-triggered
 * listener would wake the loop at once, again and again. Stop accepting this long instead. */
const ACCEPT_PAUSE_MS = 100;
/** Idle pipes kept for new connections (pipe-pool.ts). */
const PIPES_KEPT = 64;

/** Errors that say the peer or the path is gone (systemd's ERRNO_IS_DISCONNECT): an ordinary
 * end of a relay, not worth a log line. Anything else is logged (once an interval). */
const DISCONNECTS = new Set([
  'ECONNABORTED',
  'ECONNREFUSED',
  'ECONNRESET',
  'EHOSTDOWN',
  'EHOSTUNREACH',
  'ENETDOWN',
  'ENETRESET',
  'ENETUNREACH',
  'ENONET',
  'ENOPROTOOPT',
  'ENOTCONN',
  'EPIPE',
  'EPROTO',
  'ESHUTDOWN',
  'ETIMEDOUT',
]);

interface Listener {
  fd: Fd;
  tag: number;
  watched: boolean;
}

const listeners: Listener[] = settings.listeners.map((fd, i) => ({
  fd,
  tag: LISTENER_TAG + i,
  watched: false,
}));
const relays = new Map<number, Relay>();
const pipes = new PipePool(settings.pipeSize, PIPES_KEPT);
const events = epollBuffer(256);
const log = new LogThrottle(settings.logIntervalMs, (message) => post({ kind: 'log', message }));
const fixedTarget: ConnectAddress | undefined =
  'address' in settings.target ? connectAddress(settings.target.address) : undefined;

let running = true;
let nextId = 1;
/** When the last connection ended (performance.now()), for --exit-idle-time. */
let idleSince = performance.now();
/** Accepting stays off until then (ms), after accept() ran out of fds or memory. */
let acceptPausedUntil = 0;

function post(message: FromRelayThread): void {
  parentPort?.postMessage(message);
}

/** Watch `fd` for `events`, given what it is watched for now; 0 takes it out of the epoll set,
 * so that a socket nobody waits on cannot wake the loop with EPOLLHUP or EPOLLERR. */
function watch(fd: Fd, tag: number, now: number, events: number): void {
  if (events === now) return;
  const op = now === 0 ? EPOLL_CTL_ADD : events === 0 ? EPOLL_CTL_DEL : EPOLL_CTL_MOD;
  epollCtl(epfd, op, fd, events, tag);
}

function relayTag(relay: Relay, side: Side): number {
  return RELAY_TAG + 2 * relay.id + side;
}

/** Accept only while under --connections-max and not paused; the rest wait in the backlog. */
function updateListeners(now: number): void {
  const accepting = running && relays.size < settings.connectionsMax && now >= acceptPausedUntil;
  for (const l of listeners) {
    if (l.watched === accepting) continue;
    watch(l.fd, l.tag, l.watched ? EPOLLIN : 0, accepting ? EPOLLIN : 0);
    l.watched = accepting;
  }
}

function onListenerReady(l: Listener, now: number): void {
  for (let i = 0; i < ACCEPTS_PER_WAKEUP && relays.size < settings.connectionsMax; i++) {
    const fd = acceptConnection(l.fd);
    if (fd >= 0) {
      const relay = new Relay(nextId++, fd);
      relays.set(relay.id, relay);
      connect(relay, now);
      continue;
    }
    const code = errnoName(-fd);
    if (-fd === EAGAIN) return;
    // The client gave up while queued, or a signal: the next one may be fine.
    if (code === 'ECONNABORTED' || code === 'EPROTO' || -fd === EINTR) continue;
    if (code === 'EINVAL' || code === 'EBADF') {
      // The listener was shut down under us (its socket unit stopped): it accepts no more.
      log.report(
        `listener-${l.tag}`,
        `Listening socket fd ${l.fd} was shut down; no longer accepting on it.`,
        now,
      );
      if (l.watched) watch(l.fd, l.tag, EPOLLIN, 0);
      listeners.splice(listeners.indexOf(l), 1);
      return;
    }
    log.report(
      `accept-${code}`,
      `Failed to accept a connection: ${code}; pausing accepts for ${ACCEPT_PAUSE_MS}ms (clients wait in the backlog).`,
      now,
    );
    acceptPausedUntil = now + ACCEPT_PAUSE_MS;
    return;
  }
}

/** Connect `relay` to the target: at once for a fixed address, after a name lookup otherwise. */
function connect(relay: Relay, now: number): void {
  if (fixedTarget) {
    connectTo(relay, fixedTarget, now);
    return;
  }
  relay.state = 'resolving';
  post({ kind: 'resolve', id: relay.id });
}

function connectTo(relay: Relay, to: ConnectAddress, now: number): void {
  const r = connectStream(to, settings.upstreamProtocol);
  if (typeof r === 'number') {
    connectFailed(relay, -r, now);
    return;
  }
  relay.back = r.fd;
  if (r.inProgress) {
    relay.state = 'connecting';
    watch(r.fd, relayTag(relay, BACK), 0, EPOLLOUT);
    relay.watched[BACK] = EPOLLOUT;
    return;
  }
  startRelaying(relay, now);
}

/** The back socket's connect() finished: writable alone is success (a failure always raises
 * EPOLLERR), so SO_ERROR is read only then. */
function onConnected(relay: Relay, events: number, now: number): void {
  const error = events & (EPOLLERR | EPOLLHUP) ? connectResult(relay.back) : 0;
  if (error !== 0) connectFailed(relay, error, now);
  else startRelaying(relay, now);
}

/** The target refused (it reset our SYN: the client is reset too) or cannot be reached (the
 * client's connection is closed). One log line per cause and interval. */
function connectFailed(relay: Relay, errno: number, now: number): void {
  const code = errnoName(errno);
  const refused = errno === ECONNREFUSED;
  log.report(
    `connect-${code}`,
    `Failed to connect to ${settings.targetText}: ${code}; ${refused ? 'reset' : 'closed'} the client's connection.`,
    now,
  );
  end(relay, { front: refused });
}

function startRelaying(relay: Relay, now: number): void {
  try {
    relay.startRelaying(pipes);
  } catch (err) {
    log.report('pipe', `Cannot relay a connection: ${(err as Error).message}; closed it.`, now);
    end(relay);
    return;
  }
  // The client may have sent its request already: move it now rather than on the next event.
  pump(relay, now);
}

function pump(relay: Relay, now: number, side?: Side, events?: number): void {
  const result = relay.pump(side, events);
  if (result === 'open') {
    watchSide(relay, FRONT);
    watchSide(relay, BACK);
    return;
  }
  if (result === 'done') {
    end(relay);
    return;
  }
  // One side broke: reset the other, so it learns that the stream did not end cleanly.
  const errno = relay.failedErrno;
  const code = errnoName(errno);
  if (errno !== ECONNRESET && errno !== EPIPE && !DISCONNECTS.has(code))
    log.report(`splice-${code}`, `Failed to relay a connection: splice ${code}; reset it.`, now);
  end(relay, relay.failedSide === FRONT ? { back: true } : { front: true });
}

function watchSide(relay: Relay, side: Side): void {
  const events = relay.interest(side);
  watch(relay.fd(side), relayTag(relay, side), relay.watched[side] as number, events);
  relay.watched[side] = events;
}

function end(relay: Relay, reset?: { front?: boolean; back?: boolean }): void {
  relay.close(pipes, reset);
  relays.delete(relay.id);
  if (relays.size === 0) idleSince = performance.now();
}

function onRelayReady(tag: number, events: number, now: number): void {
  const id = Math.floor((tag - RELAY_TAG) / 2);
  const relay = relays.get(id);
  if (!relay) return; // closed earlier in this batch
  if (relay.state === 'connecting') onConnected(relay, events, now);
  else if (relay.state === 'relaying') pump(relay, now, (tag - RELAY_TAG) % 2 === 0 ? FRONT : BACK, events);
}

function onMessage(m: ToRelayThread, now: number): void {
  if (m.kind === 'stop') {
    running = false;
    return;
  }
  const relay = relays.get(m.id);
  if (relay?.state !== 'resolving') return;
  if (m.kind === 'resolved') {
    connectTo(relay, connectAddress(m.address as SockAddr), now);
    return;
  }
  log.report(
    `resolve-${m.message}`,
    `Failed to resolve ${settings.targetText}: ${m.message}; closed the client's connection.`,
    now,
  );
  end(relay);
}

function takeMessages(now: number): void {
  if (!parentPort) return;
  for (let m = receiveMessageOnPort(parentPort); m; m = receiveMessageOnPort(parentPort))
    onMessage(m.message as ToRelayThread, now);
}

function onReady(tag: number, events: number, now: number): void {
  if (tag >= RELAY_TAG) {
    onRelayReady(tag, events, now);
  } else if (tag === WAKE_TAG) {
    eventFdDrain(wakeFd);
    takeMessages(now);
  } else {
    const l = listeners.find((x) => x.tag === tag);
    if (l) onListenerReady(l, now);
  }
}

/** Milliseconds until the loop must look up by itself: a throttled log line, the end of an
 * accept pause, or the idle exit. */
function nextWait(now: number): number {
  let until = Math.min(now + WAIT_MS, log.flush(now));
  if (acceptPausedUntil > now) until = Math.min(until, acceptPausedUntil);
  if (settings.exitIdleMs !== undefined && relays.size === 0)
    until = Math.min(until, idleSince + settings.exitIdleMs);
  return Math.max(0, Math.ceil(until - now));
}

/** Why the thread should end now, if it should: idle for the exit idle time, or nothing left
 * to serve. */
function exitReason(now: number): string | undefined {
  if (relays.size > 0) return undefined;
  if (listeners.length === 0) return 'every listening socket was shut down';
  if (settings.exitIdleMs !== undefined && now - idleSince >= settings.exitIdleMs)
    return 'no connection for the exit idle time';
  return undefined;
}

function turn(): void {
  try {
    for (let round = 0; running && round < TURNS_PER_YIELD; round++) {
      let now = performance.now();
      updateListeners(now);
      const n = epollWaitCount(epfd, events, nextWait(now));
      now = performance.now();
      for (let i = 0; i < n; i++) {
        const tag = readyTag(events, i);
        try {
          onReady(tag, readyEvents(events, i), now);
        } catch (err) {
          failRelay(tag, err as Error, now);
        }
      }
      const reason = exitReason(now);
      if (reason) {
        running = false;
        post({ kind: 'exit', reason });
      }
      if (n === 0) break; // idle: let Node's event loop have a turn
    }
  } catch (err) {
    post({ kind: 'fatal', message: (err as Error).message });
    running = false;
  }
  if (running) setImmediate(turn);
  else shutDown();
}

/** An unexpected error while handling one relay (EMFILE in a pipe2, say) ends that relay only. */
function failRelay(tag: number, err: Error, now: number): void {
  log.report(`error-${err.message}`, `Closed a connection after an error: ${err.message}`, now);
  if (tag < RELAY_TAG) return;
  const relay = relays.get(Math.floor((tag - RELAY_TAG) / 2));
  if (relay) end(relay, { front: true, back: true });
}

function shutDown(): void {
  log.flush(Number.POSITIVE_INFINITY);
  for (const relay of relays.values()) relay.close(pipes);
  relays.clear();
  pipes.drain();
  for (const l of listeners) closeQuietly(l.fd);
}

post({ kind: 'ready' });
turn();
