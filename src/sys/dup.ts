// dup/dup3 wrappers. Replacing the socket under an fd number lets a Node handle that was opened on
// that number (but has not started any I/O yet) carry a different socket: mptcp/connect.ts uses it
// to switch address family, or take a fresh socket, between connection attempts.

import { O_CLOEXEC } from './constants.js';
import { libcCalls as c } from './ffi.js';
import { check, type Fd } from './socket.js';

/** Make `target` refer to the same open file as `source` (dup3 with O_CLOEXEC), closing what
 * `target` referred to before. `source` stays open; the caller closes it. */
export function replaceFd(target: Fd, source: Fd): void {
  if (target === source) return;
  check(c.dup3(source, target, O_CLOEXEC), 'dup3');
}
