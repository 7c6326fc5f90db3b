// Room manager/accept/: Accept=yes on a thread of its own — which units it may serve
// (plan.ts), the thread's side (worker.ts), what the two threads tell each other (protocol.ts),
// and the instance names both sides give (instance-name.ts). This file is the main thread's end.
//
// Accept=yes on a thread of its own. With one process per connection, everything the main
// thread does between a connection's arrival and the posix_spawn of its instance is latency the
// client waits through, and the main thread also has the previous instances' exits, logs and
// state changes to handle. For units whose instances all start the same way (accept/plan.ts
// says which), a worker thread waits on the listener, accepts, spawns, and watches the instance
// (its end, its output); the main thread adopts the running process (name, ServiceUnit, logs,
// reaping) from the thread's reports, which come in batches (accept/worker.ts says why).
// Measured in bench/accept.ts: the README and bench/README.md have the figures.
//
// The listener stays the SocketUnit's: this file only replaces its readiness watch, with the
// same stop/rearm/release/close contract as sys/watch.ts.

import type { Worker } from 'node:worker_threads';
import type { SocketSpec } from '../../net/spec.js';
import { EPOLL_CTL_ADD, EPOLL_CTL_DEL, EPOLL_CTL_MOD, EPOLLIN, SHUT_RDWR } from '../../sys/constants.js';
import { epollCreate, epollCtl, eventFd, eventFdSignal } from '../../sys/epoll.js';
import { workerThreads } from '../../sys/lazy-builtins.js';
import { onExit, waitPid } from '../../sys/process.js';
import { closeQuietly, type Fd, shutdown } from '../../sys/socket.js';
import type { Watch } from '../../sys/watch.js';
import type { WatchedElsewhere } from '../exec/process.js';
import {
  type AcceptPlan,
  type AcceptThreadEvent,
  type InstanceEvent,
  type ListenerEvent,
  type ToAcceptThread,
  WATCH_SLOT_COUNT,
  WATCH_SLOTS,
} from './protocol.js';

type Handler = (event: ListenerEvent) => void;

/** An instance the thread watches, as the main thread knows it. */
interface Tracked {
  reports: WatchedElsewhere | undefined;
  exited: boolean;
  logClosed: boolean;
}

const PID_RING_SLOTS = 1024;

class AcceptThread {
  private worker: Worker | undefined;
  private epfd: Fd | undefined;
  private wakeFd: Fd | undefined;
  private nextTag = 1;
  /** Handlers stay until the thread confirms a removal: events already on their way still land. */
  private readonly handlers = new Map<number, Handler>();
  private readonly afterRemoval = new Map<number, () => void>();
  private active = 0;
  /** Spawned instances until their end (and their log pipe's) has been reported. */
  private readonly instances = new Map<number, Tracked>();
  readonly pidRing = new Int32Array(new SharedArrayBuffer(4 * PID_RING_SLOTS));

  private start(): { worker: Worker; epfd: Fd } {
    if (this.worker && this.epfd !== undefined) return { worker: this.worker, epfd: this.epfd };
    const epfd = epollCreate();
    let wakeFd: Fd;
    try {
      wakeFd = eventFd();
      epollCtl(epfd, EPOLL_CTL_ADD, wakeFd, EPOLLIN, 0);
    } catch (err) {
      closeQuietly(epfd);
      throw err;
    }
    const worker = new (workerThreads().Worker)(new URL('./worker.js', import.meta.url), {
      workerData: { epfd, wakeFd, pidRing: this.pidRing },
      stdout: false,
      stderr: false,
    });
    worker.on('message', (batch: AcceptThreadEvent[]) => {
      for (const event of batch) this.dispatch(event);
    });
    worker.on('error', (err) => this.failAll(err));
    worker.on('exit', () => {
      if (this.worker !== worker) return;
      this.reset();
      this.takeOverAll();
    });
    worker.unref();
    // A worker inside a native call cannot be terminated: at exit Node would wait for its
    // epoll_wait to time out. Wake it so it leaves at once.
    process.once('exit', () => this.shutdown());
    this.worker = worker;
    this.epfd = epfd;
    this.wakeFd = wakeFd;
    return { worker, epfd };
  }

  private reset(): void {
    if (this.epfd !== undefined) closeQuietly(this.epfd);
    if (this.wakeFd !== undefined) closeQuietly(this.wakeFd);
    this.worker = undefined;
    this.epfd = undefined;
    this.wakeFd = undefined;
  }

  private dispatch(event: AcceptThreadEvent): void {
    switch (event.kind) {
      case 'thread-error':
        this.failAll(new Error(event.message));
        return;
      case 'removed': {
        this.handlers.delete(event.tag);
        const then = this.afterRemoval.get(event.tag);
        this.afterRemoval.delete(event.tag);
        then?.();
        return;
      }
      case 'output':
      case 'exited':
      case 'log-closed':
        this.onInstanceEvent(event);
        return;
      case 'spawned':
        this.instances.set(event.pid, { reports: undefined, exited: false, logClosed: false });
        this.retain(1);
        this.handlers.get(event.tag)?.(event);
        return;
      default:
        this.handlers.get(event.tag)?.(event);
    }
  }

  private onInstanceEvent(event: InstanceEvent): void {
    const tracked = this.instances.get(event.pid);
    if (!tracked) return;
    if (event.kind === 'output') {
      tracked.reports?.output(event.lines);
      return;
    }
    if (event.kind === 'exited') {
      tracked.exited = true;
      if (!event.logOpen) tracked.logClosed = true; // closed before, or it never had one
      if (tracked.reports) tracked.reports.exited(event.logOpen);
      else reapQuietly(event.pid); // nobody adopted it (its handler failed): reap it all the same
    } else {
      tracked.logClosed = true;
      if (tracked.exited) tracked.reports?.logClosed();
    }
    if (!tracked.exited || !tracked.logClosed) return;
    this.instances.delete(event.pid);
    this.retain(-1);
  }

  /** The main thread supervises `pid` now: the thread's reports about it go to `reports`. */
  adopted(pid: number, reports: WatchedElsewhere): void {
    const tracked = this.instances.get(pid);
    if (tracked) tracked.reports = reports;
  }

  /** The thread is gone, and with it what it had not sent yet: its instances are watched from
   * the main thread by pid from now on, through pidfds of the main thread's own (fd numbers the
   * thread named may have been closed and reused since). Spawns it never reported are still in
   * the pid ring: they are reaped when they end. Their output pipes are left alone. */
  private takeOverAll(): void {
    for (const [pid, tracked] of this.instances) {
      this.instances.delete(pid);
      this.retain(-1);
      if (tracked.exited) continue;
      if (tracked.reports) tracked.reports.takeOver();
      else void onExit(pid).catch(() => {});
    }
    for (let slot = 1; slot < this.pidRing.length; slot++) {
      const pid = Atomics.exchange(this.pidRing, slot, 0);
      if (pid > 0) void onExit(pid).catch(() => {});
    }
  }

  private failAll(err: Error): void {
    for (const [tag, handler] of this.handlers)
      handler({ kind: 'accept-error', tag, message: `accept thread failed: ${err.message}` });
  }

  private send(message: ToAcceptThread): void {
    this.worker?.postMessage(message);
    if (this.wakeFd !== undefined) eventFdSignal(this.wakeFd);
  }

  private retain(delta: number): void {
    this.active += delta;
    if (this.active > 0) this.worker?.ref();
    else this.worker?.unref();
  }

  shutdown(): void {
    if (!this.worker) return;
    this.send({ kind: 'stop' });
  }

  /** See acceptThreadMayOwn. */
  mayOwn(pid: number): boolean {
    // Slot 0 counts spawns under way: their pids are not in the ring yet.
    if (Atomics.load(this.pidRing, 0) > 0) return true;
    for (let i = 1; i < this.pidRing.length; i++) if (Atomics.load(this.pidRing, i) === pid) return true;
    return false;
  }

  /** The main thread knows `pid` now (it is in the starter's live set). */
  registered(pid: number, slot: number): void {
    if (slot >= 0) Atomics.compareExchange(this.pidRing, slot, pid, 0);
  }

  watch(fd: Fd, spec: SocketSpec, plan: AcceptPlan, handler: Handler): Watch {
    const { worker, epfd } = this.start();
    const tag = this.nextTag++;
    const slots = new SharedArrayBuffer(4 * WATCH_SLOT_COUNT);
    const view = new Int32Array(slots);
    Atomics.store(view, WATCH_SLOTS.armed, 1);
    this.handlers.set(tag, handler);
    worker.postMessage({ kind: 'add', tag, fd, spec, plan, slots } satisfies ToAcceptThread);
    // Level-triggered: the thread may see the event before the plan; it looks again after.
    epollCtl(epfd, EPOLL_CTL_ADD, fd, EPOLLIN, tag);
    this.retain(1);
    let open = true;
    let armed = true;
    const setArmed = (on: boolean) => {
      if (armed === on || !open) return;
      armed = on;
      Atomics.store(view, WATCH_SLOTS.armed, on ? 1 : 0);
      if (this.epfd !== undefined) epollCtl(this.epfd, EPOLL_CTL_MOD, fd, on ? EPOLLIN : 0, tag);
      this.retain(on ? 1 : -1);
    };
    const remove = (then?: () => void) => {
      if (!open) return;
      setArmed(false);
      open = false;
      if (this.epfd !== undefined) {
        try {
          epollCtl(this.epfd, EPOLL_CTL_DEL, fd, 0, tag);
        } catch {}
      }
      if (then) this.afterRemoval.set(tag, then);
      this.send({ kind: 'remove', tag });
    };
    return {
      fd,
      stop: () => setArmed(false),
      rearm: () => {
        if (!open) throw new Error(`accept thread: fd ${fd} is no longer watched`);
        setArmed(true);
      },
      release: () => remove(),
      close: () => {
        // Refuse new connections at once; the fd itself is closed when the thread has let go
        // of it, so its number cannot be reused under an accept() in flight.
        try {
          shutdown(fd, SHUT_RDWR);
        } catch {}
        remove(() => closeQuietly(fd));
      },
    };
  }
}

/** Reap an ended process nobody supervises (its status has no one to go to). */
function reapQuietly(pid: number): void {
  try {
    waitPid(pid);
  } catch {} // reaped already
}

let thread: AcceptThread | undefined;

export function acceptThread(): AcceptThread {
  thread ??= new AcceptThread();
  return thread;
}

/** For the PID-1 orphan reaper: true when `pid` may be an accept-thread instance the main thread
 * has not registered yet (in the pid ring, or a spawn is under way and its pid not yet written).
 * Asked per pid at the moment of the decision, never from a list taken earlier. */
export function acceptThreadMayOwn(pid: number): boolean {
  return thread?.mayOwn(pid) ?? false;
}
