// The accept thread of accept/thread.ts. It waits on the listeners of Accept=yes units whose
// instances all start the same way, and per connection does only what the instance's process
// needs before it can run: accept, the connection's socket options, the per-connection
// variables, posix_spawn. It then watches the instance until it ends (its pidfd, and its log pipe
// when output goes to the log), so nothing of the instance's I/O touches the main thread, which
// keeps names, the service state machine, logs and reaping.
//
// Events go to the main thread in batches, at most one batch per FLUSH_MS: one connection is a
// `spawned` and an `exited` event, and each message wakes the main thread (an eventfd write, two
// epoll_waits and a JS turn there). After a quiet spell the first batch goes at once, so a lone
// connection's report is not delayed; under load each waits at most FLUSH_MS. Events that change
// a unit's state (failures, limits, removals) go at once.
//
// The main thread owns the epoll instance: it adds, disarms and removes listeners with
// epoll_ctl directly (safe while this thread is in epoll_wait) and sends each listener's plan as
// a message before adding it. Tag 0 is the main thread's eventfd: a message is waiting. Instance
// fds carry tags above INSTANCE_TAG, which listener tags never reach.

import { randomUUID } from 'node:crypto';
import { parentPort, receiveMessageOnPort, workerData } from 'node:worker_threads';
import { applyConnectionOptions } from '../../net/options.js';
import type { SocketSpec } from '../../net/spec.js';
import {
  EPOLL_CTL_ADD,
  EPOLL_CTL_MOD,
  EPOLLIN,
  EPOLLONESHOT,
  SO_COOKIE,
  SOL_SOCKET,
} from '../../sys/constants.js';
import { epollBuffer, epollCtl, epollWait, eventFdDrain } from '../../sys/epoll.js';
import { hasCode } from '../../sys/errors.js';
import { socketPair } from '../../sys/msg.js';
import type { SockAddr } from '../../sys/sockaddr.js';
import {
  accept,
  closeQuietly,
  type Fd,
  getsockname,
  getsockopt,
  recvNow,
  setNonBlocking,
} from '../../sys/socket.js';
import { type SpawnedProcess, type SpawnOptions, spawnProcess } from '../../sys/spawn.js';
import { OutputLines } from '../exec/output-lines.js';
import { RateLimit } from '../rate-limit.js';
import { connectionEnvironment, sourceKey } from './instance-name.js';
import { type AcceptPlan, type AcceptThreadEvent, type ToAcceptThread, WATCH_SLOTS } from './protocol.js';

interface Listener {
  tag: number;
  fd: Fd;
  spec: SocketSpec;
  plan: AcceptPlan;
  /** [0] live instances, [1] 1 while armed (the main thread's switch). */
  slots: Int32Array;
  triggerLimit: RateLimit;
  pollLimit: RateLimit;
  /** Live instances per source, for MaxConnectionsPerSource=. */
  perSource: Map<string, number>;
}

/** An instance this thread started and watches until both its process and its log pipe end. */
interface Instance {
  pid: number;
  listener: Listener;
  source: string | undefined;
  /** Open until the process has ended. */
  pidfd: Fd | undefined;
  /** The manager's end of its output pipe, open until end of file. */
  logFd: Fd | undefined;
  lines: OutputLines;
}

const { epfd, wakeFd, pidRing } = workerData as {
  epfd: number;
  wakeFd: number;
  /** Pids spawned here whose owner on the main thread does not know them yet: the PID-1 orphan
   * reaper must leave them alone. */
  pidRing: Int32Array;
};
const WAIT_MS = 1000;
/** The least time between two batches, and so the longest an event waits for the main thread.
 * Measured at one connection at a time (bench/README.md): each wake-up of the main thread cost
 * ~0.3 ms of CPU on the bench VM; at 10 ms they were a fifth of the manager's CPU per connection,
 * at 100 ms the manager's own CPU matched the Node floor's. */
const FLUSH_MS = 100;
/** A batch this long goes at once. */
const FLUSH_EVENTS = 256;
/** Back to Node's event loop (timers, V8's tasks for this isolate) at least this often. */
const TURNS_PER_YIELD = 64;
/** At most this many accepts per listener and wake-up, so one busy listener cannot starve the
 * others (spawn.md trap 1). */
const ACCEPTS_PER_WAKEUP = 8;
/** Tags at and above this are instance fds: pidfd = INSTANCE_TAG + pid, log pipe = LOG_TAG + pid.
 * Listener tags count up from 1 and stay far below. */
const INSTANCE_TAG = 2n ** 40n;
const LOG_TAG = 2n ** 41n;
/** Reads of one log pipe per wake-up when its process has ended (to take what it wrote last). */
const DRAIN_READS = 16;

const listeners = new Map<number, Listener>();
const instances = new Map<number, Instance>();
const events = epollBuffer(64);
const readBuffer = Buffer.allocUnsafe(64 * 1024);
let running = true;
let ringNext = 0;
let batch: AcceptThreadEvent[] = [];
/** When the last batch went (performance.now()). */
let lastSent = Number.NEGATIVE_INFINITY;

function flush(): void {
  if (batch.length === 0) return;
  const out = batch;
  batch = [];
  lastSent = performance.now();
  parentPort?.postMessage(out);
}

/** Queue an event for the main thread; `now` sends the batch at once. */
function post(event: AcceptThreadEvent, now = false): void {
  batch.push(event);
  if (now || batch.length >= FLUSH_EVENTS) flush();
}

/** Milliseconds until the batch may go (0: now). */
function untilFlush(): number {
  return Math.max(0, Math.ceil(FLUSH_MS - (performance.now() - lastSent)));
}

function onMessage(m: ToAcceptThread): void {
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
    // Its instances stay watched: they run on after their listener has gone.
    listeners.delete(m.tag);
    post({ kind: 'removed', tag: m.tag }, true);
  } else if (m.kind === 'stop') {
    running = false;
  }
}

parentPort?.on('message', onMessage);

/** Take the main thread's messages now, without waiting for the event loop. */
function takeMessages(): void {
  if (!parentPort) return;
  for (let m = receiveMessageOnPort(parentPort); m; m = receiveMessageOnPort(parentPort))
    onMessage(m.message as ToAcceptThread);
}

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

/** One instance fewer under MaxConnections= (and under its source's limit). */
function release(l: Listener, source: string | undefined): void {
  Atomics.sub(l.slots, WATCH_SLOTS.live, 1);
  if (source === undefined) return;
  const n = (l.perSource.get(source) ?? 1) - 1;
  if (n <= 0) l.perSource.delete(source);
  else l.perSource.set(source, n);
}

function onReadable(l: Listener): void {
  if (!l.pollLimit.test()) {
    disarm(l);
    post({ kind: 'poll-limit', tag: l.tag, ms: Math.ceil(l.pollLimit.remainingUsec() / 1000) }, true);
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
      post({ kind: 'accept-error', tag: l.tag, message: (err as Error).message }, true);
      return;
    }
    if (!conn) return;
    if (!l.triggerLimit.test()) {
      closeQuietly(conn.fd);
      disarm(l);
      post({ kind: 'trigger-limit', tag: l.tag }, true);
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
  let spawned: (SpawnedProcess & { slot: number }) | undefined;
  try {
    if (plan.nonBlocking) setNonBlocking(fd, true);
    const wantsLog = plan.stdout === 'capture' || plan.stderr === 'capture';
    if (wantsLog) [parentEnd, childEnd] = socketPair('stream');
    const target = (t: AcceptPlan['stdout']): Fd | 'null' =>
      t === 'connection' ? fd : t === 'capture' ? (childEnd as Fd) : 'null';
    spawned = spawnTracked({
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
  } catch (err) {
    release(l, source);
    closeQuietly(parentEnd);
    post(
      {
        kind: 'failed',
        tag: l.tag,
        ...(local ? { local } : {}),
        peer,
        ...(cookie !== undefined ? { cookie } : {}),
        message: (err as Error).message,
        warnings,
      },
      true,
    );
    return;
  } finally {
    closeQuietly(fd);
    closeQuietly(childEnd);
  }
  post({
    kind: 'spawned',
    tag: l.tag,
    pid: spawned.pid,
    ringSlot: spawned.slot,
    ...(local ? { local } : {}),
    peer,
    ...(cookie !== undefined ? { cookie } : {}),
    invocationId,
    warnings,
  });
  watchInstance({
    pid: spawned.pid,
    listener: l,
    source,
    pidfd: spawned.pidfd,
    logFd: parentEnd,
    lines: new OutputLines(),
  });
}

function watchInstance(inst: Instance): void {
  instances.set(inst.pid, inst);
  try {
    // One-shot: an ended process stays readable until reaped, which the main thread does.
    epollCtl(epfd, EPOLL_CTL_ADD, inst.pidfd as Fd, EPOLLIN | EPOLLONESHOT, INSTANCE_TAG + BigInt(inst.pid));
    if (inst.logFd !== undefined)
      epollCtl(epfd, EPOLL_CTL_ADD, inst.logFd, EPOLLIN, LOG_TAG + BigInt(inst.pid));
  } catch (err) {
    post({ kind: 'thread-error', message: `cannot watch pid ${inst.pid}: ${(err as Error).message}` }, true);
  }
}

function emitOutput(inst: Instance, lines: string[]): void {
  if (lines.length > 0) post({ kind: 'output', pid: inst.pid, lines });
}

/** Read what its log pipe holds: once (level-triggered: more wakes us again), or until empty
 * when the process has ended. Closes the pipe at end of file. */
function readLog(inst: Instance, drain: boolean): void {
  const fd = inst.logFd;
  if (fd === undefined) return;
  for (let i = 0; i < (drain ? DRAIN_READS : 1); i++) {
    let n: number | undefined;
    try {
      // Never a blocking read: the fd is blocking (shared with the instance and what it leaves
      // behind), and a readiness seen in this batch may already have been drained by the pidfd's
      // event before it — a read() then waits for the next byte of a process that outlived the
      // instance, and the whole thread with it (no exit, no accept) until that process ends.
      n = recvNow(fd, readBuffer);
    } catch {
      n = 0; // ECONNRESET and the like: the writer is gone
    }
    if (n === undefined) return;
    if (n === 0) {
      closeQuietly(fd); // leaves the epoll set with it
      inst.logFd = undefined;
      emitOutput(inst, inst.lines.end());
      post({ kind: 'log-closed', pid: inst.pid });
      if (inst.pidfd === undefined) instances.delete(inst.pid);
      return;
    }
    emitOutput(inst, inst.lines.push(readBuffer.subarray(0, n)));
  }
}

function onInstanceEnded(inst: Instance): void {
  if (inst.pidfd === undefined) return;
  readLog(inst, true);
  closeQuietly(inst.pidfd);
  inst.pidfd = undefined;
  release(inst.listener, inst.source);
  post({ kind: 'exited', pid: inst.pid, logOpen: inst.logFd !== undefined });
  if (inst.logFd === undefined) instances.delete(inst.pid);
}

function onReady(tag: bigint): void {
  if (tag === 0n) {
    eventFdDrain(wakeFd);
    takeMessages();
    return;
  }
  if (tag >= LOG_TAG) {
    const inst = instances.get(Number(tag - LOG_TAG));
    if (inst) readLog(inst, false);
    return;
  }
  if (tag >= INSTANCE_TAG) {
    const inst = instances.get(Number(tag - INSTANCE_TAG));
    if (inst) onInstanceEnded(inst);
    return;
  }
  let l = listeners.get(Number(tag));
  if (!l) {
    // Added on the main thread, its plan still in the message queue: take it now.
    takeMessages();
    l = listeners.get(Number(tag));
  }
  if (l) onReadable(l);
}

/** Waits and handles events without returning to Node's event loop (each return costs an
 * extra epoll_wait there), except every TURNS_PER_YIELD rounds or when idle. */
function turn(): void {
  for (let round = 0; running && round < TURNS_PER_YIELD; round++) {
    const waitMs = batch.length > 0 ? untilFlush() : WAIT_MS;
    let ready: ReturnType<typeof epollWait>;
    try {
      ready = epollWait(epfd, events, waitMs);
    } catch (err) {
      post({ kind: 'thread-error', message: (err as Error).message }, true);
      return;
    }
    // Connections first: a client waits on each, while an ended instance's clean-up can wait.
    for (const { tag } of ready) if (tag < INSTANCE_TAG) onReady(tag);
    for (const { tag } of ready) if (tag >= INSTANCE_TAG) onReady(tag);
    // The events of one wake-up go together (a connection's `spawned`, an exit and its log's end).
    if (batch.length > 0 && untilFlush() === 0) flush();
    if (ready.length === 0 && batch.length === 0) break; // idle: let the event loop run
  }
  if (!running) {
    flush();
    return;
  }
  setImmediate(turn);
}

turn();
