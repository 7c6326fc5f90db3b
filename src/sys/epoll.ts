// Typed epoll(7) and eventfd(2) for the code that waits on a worker thread: the readiness
// watcher (watch.ts) and the accept thread. Each entry carries a 64-bit tag instead of a pointer.

import { EFD_CLOEXEC, EFD_NONBLOCK, EPOLL_CLOEXEC } from './constants.js';
import { systemError } from './errors.js';
import { libcCalls as c, errno } from './ffi.js';
import { check, type Fd } from './socket.js';

// epoll_event is packed on x86_64 only (12 bytes, data at 4); 16 bytes with data at 8 elsewhere.
export const EPOLL_EVENT_SIZE = process.arch === 'x64' ? 12 : 16;
export const EPOLL_DATA_OFFSET = process.arch === 'x64' ? 4 : 8;
const EINTR = 4;

export function epollCreate(): Fd {
  return check(c.epoll_create1(EPOLL_CLOEXEC), 'epoll_create1');
}

/** A struct epoll_event: `events` mask and 64-bit `tag`. */
export function epollEvent(events: number, tag: bigint | number): Buffer {
  const ev = Buffer.alloc(EPOLL_EVENT_SIZE);
  ev.writeUInt32LE(events >>> 0, 0);
  ev.writeBigUInt64LE(BigInt(tag), EPOLL_DATA_OFFSET);
  return ev;
}

/** epoll_ctl(2): `op` is EPOLL_CTL_ADD, _MOD or _DEL; `events` the EPOLL* mask. */
export function epollCtl(epfd: Fd, op: number, fd: Fd, events: number, tag: bigint | number): void {
  ctlScratch.writeUInt32LE(events >>> 0, 0);
  ctlScratch.writeBigUInt64LE(BigInt(tag), EPOLL_DATA_OFFSET);
  check(c.epoll_ctl(epfd, op, fd, ctlScratch), 'epoll_ctl', { hint: `fd ${fd}` });
}

/** epollCtl's event, filled and passed within one call (each thread has its own module copy). */
const ctlScratch = Buffer.alloc(EPOLL_EVENT_SIZE);

export interface EpollReady {
  tag: bigint;
  events: number;
}

/** A reusable epoll_wait buffer for up to `max` events. */
export function epollBuffer(max: number): Buffer {
  return Buffer.alloc(EPOLL_EVENT_SIZE * max);
}

/** epoll_wait(2) into `buffer`; an empty list on timeout or EINTR. */
export function epollWait(epfd: Fd, buffer: Buffer, timeoutMs: number): EpollReady[] {
  const max = Math.floor(buffer.length / EPOLL_EVENT_SIZE);
  const n = c.epoll_wait(epfd, buffer, max, timeoutMs);
  if (n === -1) {
    const e = errno();
    if (e === EINTR) return [];
    throw systemError('epoll_wait', e);
  }
  const ready: EpollReady[] = [];
  for (let i = 0; i < n; i++)
    ready.push({
      tag: buffer.readBigUInt64LE(i * EPOLL_EVENT_SIZE + EPOLL_DATA_OFFSET),
      events: buffer.readUInt32LE(i * EPOLL_EVENT_SIZE),
    });
  return ready;
}

/** epoll_wait(2) into `buffer` without allocating: how many entries are ready (0 on timeout or
 * EINTR), each read with readyTag and readyEvents. For loops that wake many thousands of times a
 * second (the proxy's relay thread), where epollWait's objects and BigInts would add up. */
export function epollWaitCount(epfd: Fd, buffer: Buffer, timeoutMs: number): number {
  const n = c.epoll_wait(epfd, buffer, Math.floor(buffer.length / EPOLL_EVENT_SIZE), timeoutMs);
  if (n !== -1) return n;
  const e = errno();
  if (e === EINTR) return 0;
  throw systemError('epoll_wait', e);
}

/** The tag of ready entry `i`, as a number: tags must stay below 2^53. */
export function readyTag(buffer: Buffer, i: number): number {
  const at = i * EPOLL_EVENT_SIZE + EPOLL_DATA_OFFSET;
  return buffer.readUInt32LE(at + 4) * 0x1_0000_0000 + buffer.readUInt32LE(at);
}

/** The EPOLL* events of ready entry `i`. */
export function readyEvents(buffer: Buffer, i: number): number {
  return buffer.readUInt32LE(i * EPOLL_EVENT_SIZE);
}

/** A non-blocking, close-on-exec eventfd: one thread signals, another's epoll wakes. */
export function eventFd(): Fd {
  return check(c.eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK), 'eventfd');
}

const one = Buffer.alloc(8);
one.writeBigUInt64LE(1n);

export function eventFdSignal(fd: Fd): void {
  c.write(fd, one, 8);
}

/** Reset the counter (a read of a non-blocking eventfd; nothing to read is fine). */
const drainScratch = Buffer.alloc(8);

export function eventFdDrain(fd: Fd): void {
  c.read(fd, drainScratch, 8);
}
