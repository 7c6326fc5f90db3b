// What the tests read back about an fd to check what the code under test set on it: the
// close-on-exec and non-blocking flags, a socket's pending error, writability. Only tests ask
// these questions, so they live here, built on the same libc calls sys/ makes.

import { F_GETFD, F_GETFL, FD_CLOEXEC, O_NONBLOCK, SO_ERROR, SOL_SOCKET } from '../../src/sys/constants.js';
import { errno, libcCalls } from '../../src/sys/ffi.js';
import { POLLNVAL, POLLOUT, poll } from '../../src/sys/poll.js';
import { type Fd, getsockoptInt } from '../../src/sys/socket.js';

function fcntlGet(fd: Fd, command: number): number {
  const flags = libcCalls.fcntl(fd, command) as number;
  if (flags === -1) throw new Error(`fcntl(${fd}, ${command}) failed: errno ${errno()}`);
  return flags;
}

export function isCloseOnExec(fd: Fd): boolean {
  return (fcntlGet(fd, F_GETFD) & FD_CLOEXEC) !== 0;
}

export function isNonBlocking(fd: Fd): boolean {
  return (fcntlGet(fd, F_GETFL) & O_NONBLOCK) !== 0;
}

/** SO_ERROR, the socket's pending error (0 when none); reading it clears it. */
export function socketError(fd: Fd): number {
  return getsockoptInt(fd, SOL_SOCKET, SO_ERROR, 'SO_ERROR');
}

/** True when `fd` becomes writable (or in error) within `timeoutMs`. */
export function waitWritable(fd: Fd, timeoutMs: number): boolean {
  const [revents = 0] = poll([{ fd, events: POLLOUT }], timeoutMs);
  if (revents & POLLNVAL) throw new Error(`fd ${fd} is not open`);
  return revents !== 0;
}
