// One proxied connection: the client's socket (the front), the target's (the back), and one pipe
// per direction through which splice(2) moves the bytes inside the kernel. The relay thread
// (worker.ts) calls `pump()` whenever either socket is ready, and watches each socket for what
// `interest()` says. How the edges of a stream cross the proxy:
//
// - Backpressure: a direction reads only while its pipe has room. A full pipe leaves the bytes
//   in the sender's socket, whose receive window then closes, so a slow reader slows the writer
//   down instead of filling the proxy's memory: as in systemd-socket-proxyd.
// - Half-close: an end of file from one side is passed on as a FIN (shutdown(SHUT_WR)) once the
//   bytes before it are delivered, and the other direction carries on until it ends too; the
//   relay closes when both have. systemd-socket-proxyd (checked on 252 and in socket-proxyd.c)
//   instead closes the whole connection at the first end of file, so an answer sent after the
//   client's FIN (`printf 'q' | nc -N`, HTTP/1.0 style clients) is lost there. sockunit passes
//   it on, as a TCP connection without a proxy would.
// - Reset: a side that resets or fails (ECONNRESET, ETIMEDOUT, EPIPE when written to) ends the
//   relay, and the other side is reset too (SO_LINGER 0), so it learns that the stream broke
//   rather than seeing a clean end of a truncated one. systemd-socket-proxyd closes the other
//   side with a FIN.

import { EPOLLERR, EPOLLHUP, EPOLLIN, EPOLLOUT, EPOLLRDHUP } from '../sys/constants.js';
import { closeWithReset, EAGAIN, type Pipe, shutdownWrite, spliceSome } from '../sys/relay.js';
import { closeQuietly, type Fd } from '../sys/socket.js';
import type { PipePool } from './pipe-pool.js';

/** The client's side of a relay. */
export const FRONT = 0;
/** The target's side of a relay. */
export const BACK = 1;
export type Side = typeof FRONT | typeof BACK;

/** One direction: bytes from `from` through `pipe` to `to`. */
interface Direction {
  from: Fd;
  to: Fd;
  pipe: Pipe;
  /** Bytes in the pipe. */
  buffered: number;
  /** `from` reached end of file. */
  ended: boolean;
  /** `from`'s peer has sent its FIN (EPOLLRDHUP): what is left to read is the last of it. */
  closing: boolean;
  /** The last read found the pipe full, or nothing to read while the pipe still held bytes: do
   * not watch `from` until the pipe drains. (splice says EAGAIN for both: no room in the pipe,
   * nothing in the socket.) Without this a readable socket in front of a full pipe would wake
   * the thread in a loop. */
  stalled: boolean;
  /** The FIN went out to `to`. */
  finished: boolean;
}

export type PumpResult = 'open' | 'done' | 'failed';

export class Relay {
  readonly id: number;
  readonly front: Fd;
  back: Fd = -1;
  /** 'resolving': waiting for the target's address; 'connecting': connect() under way. */
  state: 'resolving' | 'connecting' | 'relaying' | 'closed' = 'connecting';
  /** The EPOLL* events each side is registered for now (0: not in the epoll set). */
  readonly watched = [0, 0];
  /** After 'failed': which side broke, and its errno. */
  failedSide: Side = FRONT;
  failedErrno = 0;
  private up: Direction | undefined;
  private down: Direction | undefined;

  constructor(id: number, front: Fd) {
    this.id = id;
    this.front = front;
  }

  fd(side: Side): Fd {
    return side === FRONT ? this.front : this.back;
  }

  /** The back is connected: take a pipe for each direction and start relaying. */
  startRelaying(pipes: PipePool): void {
    this.up = newDirection(this.front, this.back, pipes.take());
    this.down = newDirection(this.back, this.front, pipes.take());
    this.state = 'relaying';
  }

  /** Move what can move now. `side` and `events` say what woke us (undefined: look at both
   * directions): readable wakes the direction that reads that side, writable the one that
   * writes it, an error or hang-up both. Skipping the other direction saves the splice calls
   * that would only say EAGAIN (two or three a short connection). 'done' when both directions
   * have ended and been passed on; 'failed' when a side broke (see failedSide, failedErrno). */
  pump(side?: Side, events = EPOLLIN | EPOLLOUT | EPOLLERR): PumpResult {
    const up = this.up as Direction;
    const down = this.down as Direction;
    const both = side === undefined || (events & (EPOLLERR | EPOLLHUP)) !== 0;
    const reads = both || (events & (EPOLLIN | EPOLLRDHUP)) !== 0;
    const writes = both || (events & EPOLLOUT) !== 0;
    if (side !== undefined && events & EPOLLRDHUP) (side === FRONT ? up : down).closing = true;
    if ((side === FRONT && reads) || (side === BACK && writes) || both) {
      const e = shovel(up, down.finished);
      if (e !== 0) return this.fail(e > 0 ? FRONT : BACK, Math.abs(e));
    }
    if ((side === BACK && reads) || (side === FRONT && writes) || both) {
      const e = shovel(down, up.finished);
      if (e !== 0) return this.fail(e > 0 ? BACK : FRONT, Math.abs(e));
    }
    return up.finished && down.finished ? 'done' : 'open';
  }

  private fail(side: Side, errno: number): PumpResult {
    this.failedSide = side;
    this.failedErrno = errno;
    return 'failed';
  }

  /** The EPOLL* events `side` must be watched for now. */
  interest(side: Side): number {
    const reading = side === FRONT ? this.up : this.down;
    const writing = side === FRONT ? this.down : this.up;
    if (!reading || !writing) return 0;
    let events = 0;
    if (!reading.ended && !reading.stalled) events |= EPOLLIN | EPOLLRDHUP;
    if (writing.buffered > 0) events |= EPOLLOUT;
    return events;
  }

  /** End the relay. `reset` resets that side (SO_LINGER 0) instead of closing it with a FIN;
   * pipes go back to the pool when empty. */
  close(pipes: PipePool, reset?: { front?: boolean; back?: boolean }): void {
    if (this.state === 'closed') return;
    this.state = 'closed';
    if (reset?.front) closeWithReset(this.front);
    else closeQuietly(this.front);
    if (this.back >= 0) {
      if (reset?.back) closeWithReset(this.back);
      else closeQuietly(this.back);
    }
    for (const d of [this.up, this.down]) if (d) pipes.give(d.pipe, d.buffered === 0);
    this.up = undefined;
    this.down = undefined;
  }
}

function newDirection(from: Fd, to: Fd, pipe: Pipe): Direction {
  return { from, to, pipe, buffered: 0, ended: false, closing: false, stalled: false, finished: false };
}

/** Move bytes from `d.from` to `d.to` until neither side can take more now; pass an end of file
 * on once the pipe is empty, unless `lastToEnd` (the other direction has ended too, so the relay
 * closes both sockets next, and close() sends that FIN). Returns 0, or the errno of the side that
 * broke: positive for `from`, negative for `to`. */
function shovel(d: Direction, lastToEnd: boolean): number {
  for (;;) {
    let moved = false;
    if (!d.ended) {
      const room = d.pipe.size - d.buffered;
      const n = room > 0 ? spliceSome(d.from, d.pipe.write, room) : -EAGAIN;
      if (n > 0) {
        d.buffered += n;
        moved = true;
      } else if (n === 0) {
        d.ended = true;
      } else if (n === -EAGAIN) {
        if (d.buffered > 0) d.stalled = true;
      } else {
        return -n;
      }
    }
    if (d.buffered > 0) {
      // The peer's FIN is in: the FIN we pass on follows these bytes, so let it ride with them
      // (one segment, one wake-up for the receiver instead of two).
      const n = spliceSome(d.pipe.read, d.to, d.buffered, d.closing);
      if (n > 0) {
        d.buffered -= n;
        d.stalled = false;
        moved = true;
      } else if (n < 0 && n !== -EAGAIN) {
        return n; // already negative: `to` broke
      }
    }
    if (!moved) break;
  }
  if (d.ended && d.buffered === 0 && !d.finished) {
    d.finished = true;
    d.stalled = false;
    // ENOTCONN here means `to` was reset meanwhile: its next event says so.
    if (!lastToEnd) shutdownWrite(d.to);
  }
  return 0;
}
