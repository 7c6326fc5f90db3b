// poll(2), blocking: for short waits where nothing else may run meanwhile (a netlink reply,
// sys/netlink.ts); on the main thread it stops the event loop for up to `timeoutMs`. The
// manager's readiness watching goes through watch.ts.

import { POLLERR, POLLHUP, POLLIN, POLLNVAL, POLLOUT, POLLPRI } from './constants.js';
import { systemError } from './errors.js';
import { libcCalls as c, errno } from './ffi.js';
import type { Fd } from './socket.js';

export { POLLERR, POLLHUP, POLLIN, POLLNVAL, POLLOUT, POLLPRI };

export interface PollRequest {
  fd: Fd;
  /** POLLIN | POLLOUT | POLLPRI. POLLERR, POLLHUP and POLLNVAL are always reported. */
  events: number;
}

// struct pollfd { int fd; short events; short revents; }
const POLLFD_SIZE = 8;
const EINTR = 4;

/** poll(2): waits until one of `fds` is ready or `timeoutMs` passes (-1: no limit). Returns the
 * revents of each request, in order; all zero on timeout. Retries after EINTR with the time left. */
export function poll(fds: readonly PollRequest[], timeoutMs: number): number[] {
  const table = Buffer.alloc(POLLFD_SIZE * fds.length);
  fds.forEach(({ fd, events }, i) => {
    table.writeInt32LE(fd, i * POLLFD_SIZE);
    table.writeInt16LE(events, i * POLLFD_SIZE + 4);
  });
  const deadline = timeoutMs < 0 ? Number.POSITIVE_INFINITY : Date.now() + timeoutMs;
  for (;;) {
    const left = timeoutMs < 0 ? -1 : Math.max(0, deadline - Date.now());
    const ret = c.poll(table, fds.length, left);
    if (ret !== -1) break;
    const e = errno();
    if (e !== EINTR) throw systemError('poll', e, { hint: `fds ${fds.map((f) => f.fd).join(',')}` });
  }
  return fds.map((_, i) => table.readUInt16LE(i * POLLFD_SIZE + 6));
}

/** True when `fd` becomes readable (or hung up / in error, which a read would report) within
 * `timeoutMs`. */
export function waitReadable(fd: Fd, timeoutMs: number): boolean {
  const [revents = 0] = poll([{ fd, events: POLLIN }], timeoutMs);
  if (revents & POLLNVAL) throw systemError('poll', 9, { hint: `fd ${fd} is not open` });
  return revents !== 0;
}
