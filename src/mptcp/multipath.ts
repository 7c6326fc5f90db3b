// "Does this connection run MPTCP?" — the kernel's point-in-time answer (mptcp.md §4). A green
// connect proves nothing: a client socket keeps SO_PROTOCOL 262 after falling back to TCP.
//
// Two facts, two names, the same in the library, the CLI, the JSON and the metrics:
// - runs MPTCP (`runsMptcp()`, protocol `mptcp`): both ends speak MPTCP on this connection now,
//   whether it has one subflow or several;
// - uses several paths now (`usesSeveralPaths()` in info.ts, `severalPaths` in reports): more
//   than one of its subflows is established right now.

import type net from 'node:net';
import { SOL_TCP, TCP_IS_MPTCP } from '../sys/constants.js';
import { mptcpInfoProbe } from '../sys/mptcp-info.js';
import { type Fd, getsockoptInt } from '../sys/socket.js';

/** The fd under a net.Socket's or net.Server's libuv handle, if it has one. `_handle` is private
 * but stable (and warning-free on net objects); Node offers no public accessor. */
export function handleFd(target: net.Socket | net.Server | null | undefined): Fd | undefined {
  const fd = (target as unknown as { _handle?: { fd?: number } | null } | null | undefined)?._handle?.fd;
  return typeof fd === 'number' && fd >= 0 ? fd : undefined;
}

/** EOPNOTSUPP (95). Node/libuv name it ENOTSUP (the same number on Linux). */
export function isOpNotSupp(err: unknown): boolean {
  const code = (err as { code?: string }).code;
  return code === 'ENOTSUP' || code === 'EOPNOTSUPP';
}

/** True when the kernel says `fd` runs MPTCP right now. */
export function fdRunsMptcp(fd: Fd): boolean {
  try {
    // Linux 6.10+: 1 = MPTCP in use, 0 = plain TCP or fallen back.
    return getsockoptInt(fd, SOL_TCP, TCP_IS_MPTCP, 'TCP_IS_MPTCP') === 1;
  } catch (err) {
    // EOPNOTSUPP: an MPTCP socket on a kernel without TCP_IS_MPTCP; MPTCP_INFO with optlen 0
    // succeeds only while it has not fallen back (5.16+). Any other errno (ENOPROTOOPT on older
    // kernels' plain TCP sockets) means not MPTCP.
    if (!isOpNotSupp(err)) return false;
    try {
      mptcpInfoProbe(fd);
      return true;
    } catch {
      return false;
    }
  }
}

/** True only when this connection (client or server side) runs MPTCP now, with one subflow or
 * several; false for plain TCP peers, connections that fell back, and sockets without a handle
 * (not yet created, or closed — or no socket at all: `res.socket` is null once a keep-alive
 * response has ended). For a net.Server: whether its listening socket is an MPTCP one. Whether
 * the connection uses several paths now is `usesSeveralPaths()`. */
export function runsMptcp(target: net.Socket | net.Server | null | undefined): boolean {
  const fd = handleFd(target);
  return fd === undefined ? false : fdRunsMptcp(fd);
}

/** @deprecated The old name of `runsMptcp()`, kept for existing callers. It never meant "several
 * paths": an MPTCP connection with one subflow is `true` here. */
export const isMultipath = runsMptcp;
