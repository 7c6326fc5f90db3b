// The accept thread of accept-thread.ts. It waits on the listeners of Accept=yes units whose
// instances all start the same way, and per connection does only what the instance's process
// needs before it can run: accept, the connection's socket options, the per-connection
// variables, posix_spawn. Everything else (instance names, the service state machine, logs,
// exits) stays on the main thread and runs while the instance already serves its client.
//
// The main thread owns the epoll instance: it adds, disarms and removes listeners with
// epoll_ctl directly (safe while this thread is in epoll_wait) and sends each listener's plan as
// a message before adding it. Tag 0 is the main thread's eventfd: a message is waiting.

import { randomUUID } from 'node:crypto';
import { type MessagePort, parentPort, receiveMessageOnPort, workerData } from 'node:worker_threads';
import { applyConnectionOptions } from '../net/options.js';
import type { SocketSpec } from '../net/spec.js';
import { EPOLL_CTL_MOD, SO_COOKIE, SOL_SOCKET } from '../sys/constants.js';
import { epollBuffer, epollCtl, epollWait, eventFdDrain } from '../sys/epoll.js';
import { hasCode } from '../sys/errors.js';
import { socketPair } from '../sys/msg.js';
import type { SockAddr } from '../sys/sockaddr.js';
import { accept, closeQuietly, type Fd, getsockname, getsockopt, setNonBlocking } from '../sys/socket.js';
import { type SpawnedProcess, type SpawnOptions, spawnProcess } from '../sys/spawn.js';
import {
  type AcceptPlan,
  type AcceptThreadEvent,
  type InstanceEnded,
  type ToAcceptThread,
  WATCH_SLOTS,
} from './accept-protocol.js';
import { connectionEnvironment, sourceKey } from './instance-name.js';
import { RateLimit } from './rate-limit.js';

interface Listener {
  tag: number;
  fd: Fd;
  spec: SocketSpec;
  plan: AcceptPlan;
  /** [0] live instances (this thread adds, the main thread subtracts), [1] 1 while armed. */
  slots: Int32Array;
  triggerLimit: RateLimit;
  pollLimit: RateLimit;
  /** Live instances per source, for MaxConnectionsPerSource=. */
  perSource: Map<string, number>;
}

const { epfd, wakeFd, pidRing, endedPort } = workerData as {
  epfd: number;
  wakeFd: number;
  /** Instance ends, read synchronously before each accept so a per-source slot freed by the main
   * thread counts at once (nothing listens on it: messages wait until taken). */
  endedPort: MessagePort;
  /** Pids spawned here whose owner on the main thread does not know them yet: the PID-1 orphan
   * reaper must leave them alone. */
  pidRing: Int32Array;
};
const WAIT_MS = 1000;
/** At most this many accepts per listener and wake-up, so one busy listener cannot starve the
 * others (spawn.md trap 1). */
const ACCEPTS_PER_WAKEUP = 8;

const listeners = new Map<number, Listener>();
const events = epollBuffer(64);
let running = true;
let ringNext = 0;

function post(event: AcceptThreadEvent): void {
  parentPort?.postMessage(event);
}

parentPort?.on('message', (m: ToAcceptThread) => {
  if (m.kind === 'add') {
    const slots = new Int32Array(m.slots);
    listeners.set(m.tag, {
      tag: m.tag,
      fd: m.fd,
      spec: m.spec,
      plan: m.plan,
      slots,
      triggerLimit: new RateLimit(m.plan.triggerLimit.intervalUsec, m.plan.triggerLimit.burst),
      pollLimit: new RateLimit(m.plan.pollLimit.intervalUsec, m.plan.pollLimit.burst),
      perSource: new Map(),
    });
  } else if (m.kind === 'remove') {
    listeners.delete(m.tag);
    post({ kind: 'removed', tag: m.tag });
  } else if (m.kind === 'stop') {
    running = false;
  }
});

/** Stop reporting this listener until the main thread re-arms it. */
function disarm(l: Listener): void {
  Atomics.store(l.slots, WATCH_SLOTS.armed, 0);
  try {
    epollCtl(epfd, EPOLL_CTL_MOD, l.fd, 0, l.tag);
  } catch {} // removed meanwhile by the main thread
}

/** A free slot of the pid ring, written before the spawn returns to the main thread's view. */
function remember(pid: number): number {
  for (let i = 0; i < pidRing.length - 1; i++) {
    const slot = 1 + ((ringNext + i) % (pidRing.length - 1));
    if (Atomics.compareExchange(pidRing, slot, 0, pid) === 0) {
      ringNext = slot; // the next search starts after this slot
      return slot;
    }
  }
  return -1; // full: the main thread registers the pid itself a moment later
}

/** spawnProcess, with the pid ring kept right for the orphan reaper: slot 0 counts spawns under
 * way, and the pid is in the ring before that count drops. */
function spawnTracked(options: SpawnOptions): SpawnedProcess & { slot: number } {
  Atomics.add(pidRing, 0, 1);
  try {
    const spawned = spawnProcess(options);
    return { ...spawned, slot: remember(spawned.pid) };
  } finally {
    Atomics.sub(pidRing, 0, 1);
  }
}

/** Take every instance end the main thread has reported so far. */
function takeEnded(): void {
  for (let m = receiveMessageOnPort(endedPort); m; m = receiveMessageOnPort(endedPort)) {
    const ended = m.message as InstanceEnded;
    const l = listeners.get(ended.tag);
    if (!l) continue;
    const n = (l.perSource.get(ended.source) ?? 1) - 1;
    if (n <= 0) l.perSource.delete(ended.source);
    else l.perSource.set(ended.source, n);
  }
}

function onReadable(l: Listener): void {
  if (!l.pollLimit.test()) {
    disarm(l);
    post({ kind: 'poll-limit', tag: l.tag, ms: Math.ceil(l.pollLimit.remainingUsec() / 1000) });
    return;
  }
  for (let i = 0; i < ACCEPTS_PER_WAKEUP; i++) {
    // The main thread may have disarmed it since epoll_wait returned.
    if (Atomics.load(l.slots, WATCH_SLOTS.armed) === 0) return;
    let conn: ReturnType<typeof accept>;
    try {
      conn = accept(l.fd);
    } catch (err) {
      if (hasCode(err, 'ECONNABORTED', 'EINTR', 'EPROTO')) continue;
      // EINVAL: the main thread shut the listener down (the unit failed or stopped).
      if (hasCode(err, 'EINVAL', 'EBADF')) return;
      post({ kind: 'accept-error', tag: l.tag, message: (err as Error).message });
      return;
    }
    if (!conn) return;
    if (!l.triggerLimit.test()) {
      closeQuietly(conn.fd);
      disarm(l);
      post({ kind: 'trigger-limit', tag: l.tag });
      return;
    }
    const live = Atomics.load(l.slots, WATCH_SLOTS.live);
    if (live >= l.plan.maxConnections) {
      closeQuietly(conn.fd);
      post({ kind: 'refused', tag: l.tag, peer: conn.peer, live });
      continue;
    }
    let source: string | undefined;
    if (l.plan.maxConnectionsPerSource > 0) {
      takeEnded();
      source = sourceKey(conn.peer);
      const count = l.perSource.get(source) ?? 0;
      if (count >= l.plan.maxConnectionsPerSource) {
        closeQuietly(conn.fd);
        post({ kind: 'refused-source', tag: l.tag, peer: conn.peer, source, count });
        continue;
      }
      l.perSource.set(source, count + 1);
    }
    startInstance(l, conn.fd, conn.peer, source);
  }
}

function startInstance(l: Listener, fd: Fd, peer: SockAddr, source: string | undefined): void {
  const plan = l.plan;
  const warnings = applyConnectionOptions(fd, l.spec).map((w) => w.message);
  let local: SockAddr | undefined;
  let cookie: bigint | undefined;
  try {
    local = getsockname(fd);
  } catch {}
  try {
    cookie = getsockopt(fd, SOL_SOCKET, SO_COOKIE, 8, 'SO_COOKIE').readBigUInt64LE();
  } catch {}
  const invocationId = randomUUID().replaceAll('-', '');
  const env = [...plan.env, `INVOCATION_ID=${invocationId}`];
  for (const [name, value] of Object.entries(connectionEnvironment(peer, cookie)))
    env.push(`${name}=${value}`);
  let parentEnd: Fd | undefined;
  let childEnd: Fd | undefined;
  Atomics.add(l.slots, WATCH_SLOTS.live, 1);
  try {
    if (plan.nonBlocking) setNonBlocking(fd, true);
    const wantsLog = plan.stdout === 'capture' || plan.stderr === 'capture';
    if (wantsLog) [parentEnd, childEnd] = socketPair('stream');
    const target = (t: AcceptPlan['stdout']): Fd | 'null' =>
      t === 'connection' ? fd : t === 'capture' ? (childEnd as Fd) : 'null';
    const spawned = spawnTracked({
      file: plan.file,
      argv: plan.argv,
      env,
      fds: plan.listenFds ? [fd] : [],
      stdin: plan.stdin === 'connection' ? fd : 'null',
      stdout: target(plan.stdout),
      stderr: target(plan.stderr),
      setsid: true,
      cwd: plan.cwd,
    });
    post({
      kind: 'spawned',
      tag: l.tag,
      pid: spawned.pid,
      pidfd: spawned.pidfd,
      ringSlot: spawned.slot,
      ...(parentEnd !== undefined ? { logFd: parentEnd } : {}),
      ...(local ? { local } : {}),
      peer,
      ...(cookie !== undefined ? { cookie } : {}),
      ...(source !== undefined ? { source } : {}),
      invocationId,
      warnings,
    });
    parentEnd = undefined; // the main thread owns it now
  } catch (err) {
    post({
      kind: 'failed',
      tag: l.tag,
      ...(local ? { local } : {}),
      peer,
      ...(cookie !== undefined ? { cookie } : {}),
      ...(source !== undefined ? { source } : {}),
      message: (err as Error).message,
      warnings,
    });
  } finally {
    closeQuietly(fd);
    closeQuietly(childEnd);
    closeQuietly(parentEnd);
  }
}

function turn(): void {
  if (!running) return;
  let ready: ReturnType<typeof epollWait>;
  try {
    ready = epollWait(epfd, events, WAIT_MS);
  } catch (err) {
    post({ kind: 'thread-error', message: (err as Error).message });
    return;
  }
  for (const { tag } of ready) {
    if (tag === 0n) {
      eventFdDrain(wakeFd);
      continue;
    }
    // Unknown: added on the main thread, its plan still in the message queue. The listener is
    // level-triggered, so it is reported again after the messages below are taken.
    const l = listeners.get(Number(tag));
    if (l) onReadable(l);
  }
  // Back to the event loop for a moment: messages (plans, removals) are taken there.
  setImmediate(turn);
}

turn();
