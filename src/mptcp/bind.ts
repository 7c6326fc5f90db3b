// An MPTCP listening socket opened and bound where Node would bind its TCP handle, set up as libuv
// sets up a TCP listener: for mptcp.createServer (server.ts) and for every server of a process
// under sockunit/mptcp/register (listen-hook.ts). Listening is left to the caller.

import net from 'node:net';
import {
  AF_INET,
  AF_INET6,
  IPPROTO_IPV6,
  IPV6_V6ONLY,
  SO_REUSEADDR,
  SO_REUSEPORT,
  SOL_SOCKET,
} from '../sys/constants.js';
import { bind, closeQuietly, type Fd, setsockoptInt } from '../sys/socket.js';
import { netError } from './errors.js';
import { type Availability, openMptcpSocket } from './probe.js';

/** A bound (not yet listening) MPTCP socket, the error the bind gave, or why to use plain TCP. */
export type BindResult =
  | { fd: Fd; address: string }
  | { error: Error; address: string }
  | { fallback: Availability };

/** Open and bind an MPTCP socket where Node would bind its TCP handle: `address`, or Node's
 * default of `::` and then `0.0.0.0` when none is given. */
export function bindMptcp(
  address: string | null | undefined,
  port: number,
  options: { ipv6Only: boolean; reusePort: boolean },
): BindResult {
  const candidates = address ? [address] : ['::', '0.0.0.0'];
  let last: BindResult | undefined;
  for (const [i, candidate] of candidates.entries()) {
    const family = net.isIP(candidate) === 6 ? AF_INET6 : AF_INET;
    let opened: ReturnType<typeof openMptcpSocket>;
    try {
      opened = openMptcpSocket(family);
    } catch (err) {
      last = { error: err as Error, address: candidate };
      continue; // e.g. EAFNOSUPPORT for AF_INET6 on a host without IPv6: Node tries 0.0.0.0 too
    }
    if ('fallback' in opened) return opened;
    try {
      bindListener(opened.fd, family, candidate, port, options);
      return { fd: opened.fd, address: candidate };
    } catch (err) {
      closeQuietly(opened.fd);
      const e = err as { errno?: number; code?: string };
      // Node reports a listener's bind failure as syscall 'listen' (libuv binds lazily).
      last = {
        error: typeof e.errno === 'number' ? netError('listen', e.errno, candidate, port) : (err as Error),
        address: candidate,
      };
      // A busy or forbidden port is the answer; only a missing IPv6 moves on to 0.0.0.0.
      if (i + 1 < candidates.length && e.code !== 'EADDRINUSE' && e.code !== 'EACCES') continue;
      return last;
    }
  }
  return last ?? { error: new Error('no address to listen on'), address: String(address) };
}

/** Set an MPTCP listener's socket up as libuv sets up a TCP one, and bind it (not listen). */
function bindListener(
  fd: Fd,
  family: number,
  address: string,
  port: number,
  options: { ipv6Only: boolean; reusePort: boolean },
): void {
  // As libuv does for every TCP listener: restart without waiting for TIME_WAIT to drain.
  setsockoptInt(fd, SOL_SOCKET, SO_REUSEADDR, 1, 'SO_REUSEADDR');
  if (options.reusePort) setsockoptInt(fd, SOL_SOCKET, SO_REUSEPORT, 1, 'SO_REUSEPORT');
  // Explicit either way: the system default (net.ipv6.bindv6only) must not decide dual-stack.
  if (family === AF_INET6)
    setsockoptInt(fd, IPPROTO_IPV6, IPV6_V6ONLY, options.ipv6Only ? 1 : 0, 'IPV6_V6ONLY');
  bind(fd, family === AF_INET6 ? { family: 'inet6', address, port } : { family: 'inet', address, port });
}
