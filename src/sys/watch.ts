// The readiness watcher: "call me when this listening or datagram fd is readable", without
// accepting or reading. The manager arms it on every listener it owns and on each child's pidfd.
//
// Three implementations share one API and one registry of watched fds:
//
// - 'epoll-pool' (the default): an epoll instance the main thread owns (epoll_ctl answers a bad
//   fd with an errno: nothing in this path can abort the process), and one epoll_wait at a time
//   on a thread of libuv's pool, through koffi's asynchronous call. No V8 isolate, no thread of
//   its own; it holds one pool thread while something is armed.
// - 'epoll-worker': the same epoll instance, waited on by a worker thread of its own
//   (watch-worker.ts). Same latency, but a second isolate: ~10 MiB and tens of ms of CPU to
//   start, which made most of `sockunit run`'s start-up cost after Node's own.
// - 'uv-poll': koffi.node.poll, a uv_poll_t on Node's own loop. No thread, slightly lower
//   latency, but libuv ABORTS the process (FATAL ERROR, exit 134: not an exception) on any fd it
//   refuses: closed, not pollable (regular file, /dev/null), already watched by a poll or by a
//   Node handle. The fd is validated first (open, accepted by a probe epoll_ctl, not in the
//   registry, not in another epoll set of this process such as libuv's), but one case cannot be
//   detected: an fd that a Node handle started watching in the current tick (libuv records it
//   before adding it to its epoll set). So an fd owned by a Node handle (net.Server, net.Socket,
//   dgram) must never be passed to either watcher.
//
// Why epoll (bench/watch.ts; figures in bench/README.md "Readiness watcher"; 2 vCPU, Linux 6.18,
// Node 20, 300 rounds, MPTCP listener on loopback, on a busy machine): wake-up latency p50 is the
// same within run-to-run noise for all three (46-119 µs), but arming costs 3-19 ms for uv-poll,
// whose guard against Node-owned fds scans /proc/self/fdinfo of every epoll fd, against 15-60 µs
// for epoll; and only epoll cannot abort the process. The manager is PID 1 of its services: it
// takes epoll, and the pool's waiter rather than a worker's, for the start-up time and memory.
//
// Semantics common to all three: a watch fires its callback once, then stays disarmed until
// `rearm()` (uv_poll and epoll are level-triggered: staying armed would spin while a
// connection waits for the service to accept it). The fd's O_NONBLOCK flag may be set by
// uv-poll (it is shared with children: set the flag a service needs right before spawning).

import { fstatSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import type { Worker } from 'node:worker_threads';
import {
  EPOLL_CTL_ADD,
  EPOLL_CTL_DEL,
  EPOLL_CTL_MOD,
  EPOLLERR,
  EPOLLHUP,
  EPOLLIN,
  EPOLLONESHOT,
} from './constants.js';
import {
  EPOLL_DATA_OFFSET,
  EPOLL_EVENT_SIZE,
  epollCreate,
  epollCtl,
  epollEvent,
  eventFd,
  eventFdDrain,
  eventFdSignal,
} from './epoll.js';
import { errnoName, type SystemError, systemError } from './errors.js';
import { libcCalls as c, errno, uvPoll } from './ffi.js';
import { workerThreads } from './lazy-builtins.js';
import { close as closeFd, closeQuietly, type Fd } from './socket.js';

export interface ReadyEvent {
  fd: Fd;
  /** Data, a connection, or an exit (pidfd) is pending. */
  readable: boolean;
  /** The peer hung up or the fd is in error; a read tells which. */
  hangup: boolean;
  /** The watcher itself failed for this fd (uv-poll status < 0, or the worker died). */
  error?: SystemError | Error;
}

export type ReadyCallback = (event: ReadyEvent) => void;

export interface Watch {
  readonly fd: Fd;
  /** Disarm without forgetting the fd; `rearm()` resumes. */
  stop(): void;
  /** Arm again for one more callback. */
  rearm(): void;
  /** Stop watching and hand the fd back to the caller, open. */
  release(): void;
  /** Stop watching and close the fd: the only safe way to close a watched fd. */
  close(): void;
}

export type WatcherKind = 'epoll-pool' | 'epoll-worker' | 'uv-poll';

export interface Watcher {
  readonly kind: WatcherKind;
  /** Watch `fd` until it is readable; `callback` runs once per arming. Throws (never aborts)
   * when the fd is closed, not pollable, or already watched. */
  watchReadable(fd: Fd, callback: ReadyCallback): Watch;
}

/** Every fd watched by any watcher of this process: one consumer per fd. */
const registry = new Map<Fd, { watcherKind: WatcherKind }>();

function watchError(fd: Fd, code: string, message: string): Error & { code: string; fd: Fd } {
  const err = new Error(`watchReadable: fd ${fd} ${message}`) as Error & { code: string; fd: Fd };
  err.code = code;
  err.fd = fd;
  return err;
}

let probeEpoll: Fd | undefined;
/** epoll instances of our own, skipped when looking for fds that libuv watches. */
const ownEpolls = new Set<Fd>();

/** The same check libuv makes (uv__io_check_fd): an fd epoll accepts is one uv_poll accepts. */
function probePollable(fd: Fd): void {
  if (probeEpoll === undefined) {
    probeEpoll = epollCreate();
    ownEpolls.add(probeEpoll);
  }
  const ev = epollEvent(EPOLLIN, 1n);
  if (c.epoll_ctl(probeEpoll, EPOLL_CTL_ADD, fd, ev) === -1) {
    const e = errno();
    throw watchError(
      fd,
      errnoName(e),
      e === 1
        ? 'cannot be polled (EPERM): pass a socket, FIFO, pidfd or eventfd'
        : `cannot be polled (${errnoName(e)})`,
    );
  }
  c.epoll_ctl(probeEpoll, EPOLL_CTL_DEL, fd, ev);
}

/** Fds in epoll sets of this process other than ours: libuv's loops (Node handles). */
function fdsInForeignEpolls(): Set<Fd> {
  const found = new Set<Fd>();
  for (const name of readdirSync('/proc/self/fd')) {
    const epfd = Number(name);
    if (ownEpolls.has(epfd)) continue;
    let target: string;
    try {
      target = readlinkSync(`/proc/self/fd/${name}`);
    } catch {
      continue; // closed since readdir (including readdir's own fd)
    }
    if (target !== 'anon_inode:[eventpoll]') continue;
    let info: string;
    try {
      info = readFileSync(`/proc/self/fdinfo/${name}`, 'latin1');
    } catch {
      continue;
    }
    for (const m of info.matchAll(/^tfd:\s*(\d+)/gm)) found.add(Number(m[1]));
  }
  return found;
}

export interface ValidateOptions {
  /** Also refuse fds found in another epoll set of this process (libuv's). */
  checkForeignEpolls?: boolean;
}

/** Throws a descriptive Error unless `fd` can be watched safely. Exported for tests and for
 * callers that want to check before committing to a watch. */
export function validateWatchable(fd: Fd, options: ValidateOptions = {}): void {
  if (!Number.isInteger(fd) || fd < 0)
    throw watchError(fd, 'ERR_INVALID_ARG_VALUE', 'is not a descriptor number');
  const owner = registry.get(fd);
  if (owner)
    throw watchError(fd, 'EEXIST', `is already watched (${owner.watcherKind}); stop or release it first`);
  let stat: ReturnType<typeof fstatSync>;
  try {
    stat = fstatSync(fd);
  } catch (err) {
    throw watchError(fd, (err as NodeJS.ErrnoException).code ?? 'EBADF', 'is not open');
  }
  const refuse = () =>
    watchError(
      fd,
      'EPERM',
      `is a ${stat.isFile() ? 'regular file' : stat.isDirectory() ? 'directory' : 'block device'}, which cannot be polled: pass a socket, FIFO, pidfd or eventfd`,
    );
  if (stat.isDirectory() || stat.isBlockDevice()) throw refuse();
  // A POSIX message queue fd fstat()s as a regular file yet is pollable (ListenMessageQueue=):
  // let epoll decide for S_IFREG, and keep the clear message for a real file.
  try {
    probePollable(fd);
  } catch (err) {
    throw stat.isFile() ? refuse() : err;
  }
  if (options.checkForeignEpolls && fdsInForeignEpolls().has(fd))
    throw watchError(
      fd,
      'EBUSY',
      'is watched by Node or another event loop (a net/dgram handle owns it?); sockunit must own the fds it watches',
    );
}

// ---------------------------------------------------------------------------------------------

type UvPollCallback = (
  status: number,
  events: { readable: boolean; writable: boolean; disconnect: boolean },
) => void;
interface UvPollHandle {
  start(opts: { readable?: boolean; disconnect?: boolean }, callback: UvPollCallback): void;
  stop(): void;
  close(): void;
}

/** koffi.node.poll behind the validation above. Handles live in `handles` so garbage
 * collection cannot finalise them and silently end a watch (spawn.md trap 3). */
export function createUvPollWatcher(): Watcher {
  const handles = new Map<Fd, UvPollHandle>();
  const events = { readable: true, disconnect: true };
  return {
    kind: 'uv-poll',
    watchReadable(fd, callback) {
      validateWatchable(fd, { checkForeignEpolls: true });
      let armed = true;
      const onPoll: UvPollCallback = (status, ev) => {
        if (!armed) return;
        armed = false;
        handle?.stop();
        if (status < 0)
          callback({ fd, readable: false, hangup: false, error: systemError('uv_poll', -status) });
        else callback({ fd, readable: ev.readable, hangup: ev.disconnect });
      };
      const handle = (
        uvPoll as unknown as (fd: number, o: object, cb: UvPollCallback) => UvPollHandle | null
      )(fd, events, onPoll);
      if (!handle) throw watchError(fd, 'EINVAL', 'was refused by uv_poll');
      handles.set(fd, handle);
      registry.set(fd, { watcherKind: 'uv-poll' });
      let open = true;
      const forget = (): void => {
        if (!open) return;
        open = false;
        armed = false;
        handle.close();
        handles.delete(fd);
        registry.delete(fd);
      };
      return {
        fd,
        stop() {
          if (!open) return;
          armed = false;
          handle.stop();
        },
        rearm() {
          if (!open) throw watchError(fd, 'ERR_WATCH_CLOSED', 'is no longer watched');
          if (armed) return;
          armed = true;
          handle.start(events, onPoll);
        },
        release: forget,
        close() {
          if (!open) return;
          // uv_poll_stop removes the fd from libuv's epoll set synchronously; only then is it
          // safe to close it (libuv forbids closing a polled fd).
          forget();
          closeFd(fd);
        },
      };
    },
  };
}

// ---------------------------------------------------------------------------------------------

interface WorkerEntry {
  fd: Fd;
  id: number;
  generation: number;
  armed: boolean;
  callback: ReadyCallback;
}

const ID_BITS = 32n;

/** Who sits in epoll_wait for an epoll watcher: it reports ready [tag, events] pairs, keeps the
 * process alive only while `active` (some watch is armed, as an armed uv_poll does), and leaves
 * epoll_wait at once when asked to stop. Tag 0 is the watcher's own eventfd. */
interface EpollWaiter {
  setActive(active: boolean): void;
  /** Leave epoll_wait; `then` runs once nothing waits on the epoll fd any more. */
  stop(then: () => void): void;
}

type WaiterFactory = (
  epfd: Fd,
  wakeFd: Fd,
  onReady: (pairs: bigint[]) => void,
  onError: (err: Error) => void,
) => EpollWaiter;

/** Bounded waits: a thread inside a native call cannot be interrupted, so it looks up now and
 * then even if a wake-up were lost. */
const WAIT_MS = 1000;
const MAX_EVENTS = 64;

/** A worker thread of its own (watch-worker.ts): a second V8 isolate, ~10 MiB and a few tens of
 * ms of CPU to start. */
const workerWaiter: WaiterFactory = (epfd, wakeFd, onReady, onError) => {
  let worker: Worker | undefined = new (workerThreads().Worker)(
    new URL('./watch-worker.js', import.meta.url),
    {
      workerData: { epfd, eventSize: EPOLL_EVENT_SIZE, dataOffset: EPOLL_DATA_OFFSET },
      stdout: false,
      stderr: false,
    },
  );
  worker.on('message', (m: bigint[] | { error: number }) =>
    Array.isArray(m) ? onReady(m) : onError(systemError('epoll_wait', m.error)),
  );
  worker.on('error', onError);
  worker.on('exit', () => {
    worker = undefined;
  });
  return {
    setActive(active) {
      if (active) worker?.ref();
      else worker?.unref();
    },
    stop(then) {
      // The worker leaves on tag 0 (the eventfd); close only after it left epoll_wait, or it
      // would wait on a reused fd number.
      eventFdSignal(wakeFd);
      if (worker) worker.once('exit', then);
      else then();
    },
  };
};

/** One call of epoll_wait at a time on a thread of libuv's pool (koffi's asynchronous call): no
 * isolate, no thread of our own. A pending call keeps the event loop alive, so none is issued
 * while nothing is armed, and the one in flight is woken (the eventfd) when the last watch is
 * disarmed. It holds one pool thread while it waits (UV_THREADPOOL_SIZE, default 4). */
const poolWaiter: WaiterFactory = (epfd, wakeFd, onReady, onError) => {
  const events = Buffer.alloc(EPOLL_EVENT_SIZE * MAX_EVENTS);
  let inFlight = false;
  let active = false;
  let stopped: (() => void) | undefined;
  const wait = (): void => {
    inFlight = true;
    (c.epoll_wait as unknown as AsyncCall).async(epfd, events, MAX_EVENTS, WAIT_MS, (err, n) => {
      inFlight = false;
      if (stopped) return stopped();
      if (err || n === -1) return onError(err ?? new Error('epoll_wait failed in the thread pool'));
      const ready: bigint[] = [];
      for (let i = 0; i < n; i++) {
        const tag = events.readBigUInt64LE(i * EPOLL_EVENT_SIZE + EPOLL_DATA_OFFSET);
        if (tag === 0n) eventFdDrain(wakeFd);
        else ready.push(tag, BigInt(events.readUInt32LE(i * EPOLL_EVENT_SIZE)));
      }
      if (ready.length > 0) onReady(ready);
      if (active && !stopped && !inFlight) wait();
    });
  };
  return {
    setActive(on) {
      active = on;
      if (on && !inFlight && !stopped) wait();
      else if (!on && inFlight) eventFdSignal(wakeFd);
    },
    stop(then) {
      if (!inFlight) return then();
      stopped = then;
      eventFdSignal(wakeFd);
    },
  };
};

/** koffi's asynchronous form of a declared function: runs it on libuv's thread pool. */
interface AsyncCall {
  async(...args: [...unknown[], (err: Error | null, result: number) => void]): void;
}

/** One worker thread in epoll_wait; see the top of this file. */
export function createEpollWorkerWatcher(): Watcher & { shutdown(): void } {
  return createEpollWatcher('epoll-worker', workerWaiter);
}

/** epoll_wait on libuv's thread pool; see the top of this file. */
export function createEpollPoolWatcher(): Watcher & { shutdown(): void } {
  return createEpollWatcher('epoll-pool', poolWaiter);
}

/** An epoll instance the main thread owns and `waiterOf` waits on. The waiter is started on the
 * first watch. */
function createEpollWatcher(
  kind: 'epoll-worker' | 'epoll-pool',
  waiterOf: WaiterFactory,
): Watcher & { shutdown(): void } {
  let epfd: Fd | undefined;
  let wakeFd: Fd | undefined;
  let waiter: EpollWaiter | undefined;
  let nextId = 1;
  let armedCount = 0;
  const entries = new Map<number, WorkerEntry>();

  const setArmed = (entry: WorkerEntry, on: boolean): void => {
    if (entry.armed === on) return;
    entry.armed = on;
    armedCount += on ? 1 : -1;
    if ((on && armedCount === 1) || (!on && armedCount === 0)) waiter?.setActive(armedCount > 0);
  };
  const tagOf = (entry: WorkerEntry): bigint => (BigInt(entry.generation) << ID_BITS) | BigInt(entry.id);

  const onReady = (pairs: bigint[]): void => {
    for (let i = 0; i + 1 < pairs.length; i += 2) {
      const tag = pairs[i] as bigint;
      const entry = entries.get(Number(tag & 0xffffffffn));
      // A stale generation means stop()/rearm() ran after the worker saw the event.
      if (!entry?.armed || Number(tag >> ID_BITS) !== entry.generation) continue;
      setArmed(entry, false);
      const ev = Number(pairs[i + 1]);
      entry.callback({
        fd: entry.fd,
        readable: (ev & EPOLLIN) !== 0,
        hangup: (ev & (EPOLLHUP | EPOLLERR)) !== 0,
      });
    }
  };

  const failAll = (error: Error): void => {
    for (const entry of entries.values()) {
      if (!entry.armed) continue;
      setArmed(entry, false);
      entry.callback({ fd: entry.fd, readable: false, hangup: false, error });
    }
  };

  const start = (): Fd => {
    if (epfd !== undefined) return epfd;
    const ep = epollCreate();
    let wake: Fd;
    try {
      wake = eventFd();
      epollCtl(ep, EPOLL_CTL_ADD, wake, EPOLLIN, 0n);
    } catch (err) {
      closeQuietly(ep);
      throw err;
    }
    epfd = ep;
    wakeFd = wake;
    ownEpolls.add(ep);
    waiter = waiterOf(ep, wake, onReady, failAll);
    waiter.setActive(armedCount > 0);
    // A thread inside a native call cannot be stopped: at exit Node would wait for it to come
    // back from epoll_wait. Wake it so it leaves at once.
    process.once('exit', wakeWaiter);
    return ep;
  };

  const wakeWaiter = (): void => {
    if (wakeFd !== undefined) eventFdSignal(wakeFd);
  };

  const ctl = (op: number, entry: WorkerEntry, events: number): void => {
    if (epfd !== undefined) epollCtl(epfd, op, entry.fd, events, tagOf(entry));
  };

  const shutdown = (): void => {
    if (wakeFd === undefined || epfd === undefined) return;
    process.removeListener('exit', wakeWaiter);
    const ep = epfd;
    const wake = wakeFd;
    epfd = undefined;
    wakeFd = undefined;
    const w = waiter;
    waiter = undefined;
    const close = (): void => {
      ownEpolls.delete(ep);
      closeQuietly(ep);
      closeQuietly(wake);
    };
    if (w) w.stop(close);
    else close();
    for (const entry of entries.values()) registry.delete(entry.fd);
    entries.clear();
    armedCount = 0;
  };

  return {
    kind,
    shutdown,
    watchReadable(fd, callback) {
      // Before the first start() fully: start() opens fds, and a closed fd number passed in
      // would be taken by the new epoll instance and then look open.
      if (epfd === undefined || !Number.isInteger(fd) || fd < 0 || registry.has(fd)) validateWatchable(fd);
      start();
      const entry: WorkerEntry = { fd, id: nextId++, generation: 0, armed: false, callback };
      if (nextId > 0xffffffff) nextId = 1;
      // epoll_ctl is the check here: it refuses what cannot be watched with an errno, never an
      // abort. Validating first (fstat + a probe epoll) cost ~40 us a watch, and the manager
      // watches a pidfd per service start; the descriptive error is built only on failure.
      try {
        ctl(EPOLL_CTL_ADD, entry, EPOLLIN | EPOLLONESHOT);
      } catch (err) {
        validateWatchable(fd);
        throw err;
      }
      entries.set(entry.id, entry);
      registry.set(fd, { watcherKind: kind });
      setArmed(entry, true);
      let open = true;
      const forget = (closing: boolean): void => {
        if (!open) return;
        open = false;
        const wasArmed = entry.armed;
        setArmed(entry, false);
        entries.delete(entry.id);
        registry.delete(fd);
        // About to be closed after its one-shot event fired: the registration is disabled, and
        // closing the fd removes it (one epoll_ctl less per pidfd and output pipe of a service).
        if (closing && !wasArmed) return;
        if (epfd !== undefined) c.epoll_ctl(epfd, EPOLL_CTL_DEL, fd, epollEvent(0, 0n));
      };
      return {
        fd,
        stop() {
          if (!open || !entry.armed) return;
          entry.generation = (entry.generation + 1) & 0xffffffff;
          setArmed(entry, false);
          ctl(EPOLL_CTL_MOD, entry, 0);
        },
        rearm() {
          if (!open) throw watchError(fd, 'ERR_WATCH_CLOSED', 'is no longer watched');
          if (entry.armed) return;
          entry.generation = (entry.generation + 1) & 0xffffffff;
          ctl(EPOLL_CTL_MOD, entry, EPOLLIN | EPOLLONESHOT);
          setArmed(entry, true);
        },
        release: () => forget(false),
        close() {
          if (!open) return;
          forget(true);
          closeFd(fd);
        },
      };
    },
  };
}

// ---------------------------------------------------------------------------------------------

let defaultWatcher: (Watcher & { shutdown?(): void }) | undefined;

/** The process-wide watcher (epoll-pool; see the top of this file for why). */
export function getWatcher(): Watcher {
  defaultWatcher ??= createEpollPoolWatcher();
  return defaultWatcher;
}

/** Watch `fd` with the process-wide watcher: `callback` runs once when it is readable, again
 * after each `rearm()`. The fd must be owned by sockunit, never by a Node handle. */
export function watchReadable(fd: Fd, callback: ReadyCallback): Watch {
  return getWatcher().watchReadable(fd, callback);
}
