// Every net.Server of the process listens with MPTCP, without a change to the program
// (`node --import sockunit/mptcp/register app.js`). The hook sits where Node creates a listening
// handle for an IP port, not in listen()'s argument forms: `Server.prototype._listen2`, which Node
// keeps under that name so that code wrapping it keeps working, and `net._createServerHandle`,
// which a cluster primary calls for SCHED_NONE workers. So http, https, http2, tls, frameworks
// built on them, and cluster workers (whose primary listens for them) all pass through it, while
// `listen({fd})`, `listen({handle})` and unix paths go to Node untouched. An MPTCP listener serves
// plain TCP clients with plain TCP sockets, so nothing changes for clients that do not ask.

import net from 'node:net';
import { AF_INET, AF_INET6 } from '../sys/constants.js';
import { closeQuietly, type Fd } from '../sys/socket.js';
import { netError } from './errors.js';
import { markFallback } from './fallback.js';
import { type Availability, openMptcpSocket } from './probe.js';
import { fixAcceptedReceiveBuffers } from './receive-buffer.js';
import { bindListener } from './server.js';

/** Node's setupListenHandle, as `Server.prototype._listen2`. */
type Listen2 = (
  this: net.Server,
  address: string | null | undefined,
  port: number,
  addressType: number,
  backlog: number,
  fd?: number,
  flags?: number,
) => void;

/** Node's createServerHandle: a handle, or a negative errno. */
type CreateServerHandle = (
  address: string | null | undefined,
  port: number,
  addressType: number,
  fd?: number,
  flags?: number,
) => object | number;

interface NetInternals {
  _createServerHandle: CreateServerHandle;
}

interface ServerInternals {
  _handle: object | null;
  _listen2: Listen2;
}

// libuv's uv_tcp_flags, as Node passes them down: UV_TCP_IPV6ONLY, UV_TCP_REUSEPORT (Node 22+).
const UV_TCP_IPV6ONLY = 1;
const UV_TCP_REUSEPORT = 2;

/** A bound (not yet listening) MPTCP socket, the error the bind gave, or why to use plain TCP. */
type BindResult =
  | { fd: Fd; address: string }
  | { error: Error; address: string }
  | { fallback: Availability };

/** Open and bind an MPTCP socket where Node would bind its TCP handle: `address`, or Node's
 * default of `::` and then `0.0.0.0` when none is given. */
function bindMptcp(address: string | null | undefined, port: number, flags: number): BindResult {
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
      bindListener(opened.fd, family, candidate, port, {
        ipv6Only: (flags & UV_TCP_IPV6ONLY) !== 0,
        reusePort: (flags & UV_TCP_REUSEPORT) !== 0,
      });
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

/** Whether Node is about to create a TCP listening handle of its own for these arguments. */
function wantsTcpHandle(port: number, addressType: number, fd: number | undefined): boolean {
  return !(typeof fd === 'number' && fd >= 0) && port >= 0 && addressType !== -1;
}

let installed = false;

/** Make every IP listener of this process MPTCP. Idempotent. A server that had to listen with
 * plain TCP (a family without MPTCP) emits 'fallback', as mptcp.createServer's do. */
export function installListenHook(): void {
  if (installed) return;
  installed = true;
  const netInternals = net as unknown as NetInternals;
  const proto = net.Server.prototype as unknown as ServerInternals;
  const nodeCreateServerHandle = netInternals._createServerHandle;
  const nodeListen2 = proto._listen2;

  proto._listen2 = function mptcpListen2(this: net.Server, address, port, addressType, backlog, fd, flags) {
    const self = this as unknown as ServerInternals;
    if (self._handle || !wantsTcpHandle(port, addressType, fd))
      return nodeListen2.call(this, address, port, addressType, backlog, fd, flags);
    const bound = bindMptcp(address, port, flags ?? 0);
    if ('fallback' in bound) {
      markFallback(this, bound.fallback);
      return nodeListen2.call(this, address, port, addressType, backlog, fd, flags);
    }
    if ('error' in bound) {
      process.nextTick(() => this.emit('error', bound.error));
      return;
    }
    const handle = nodeCreateServerHandle(null, 0, 4, bound.fd, flags);
    if (typeof handle === 'number') {
      closeQuietly(bound.fd);
      process.nextTick(() => this.emit('error', netError('listen', handle, bound.address, port)));
      return;
    }
    self._handle = handle;
    // Node's own set-up of the handle it now finds: listen(backlog), 'connection', 'listening'.
    nodeListen2.call(this, bound.address, port, net.isIP(bound.address), backlog, fd, flags);
    fixAcceptedReceiveBuffers(this);
  };

  // A cluster primary under SCHED_NONE creates the handle its workers listen on.
  netInternals._createServerHandle = function mptcpCreateServerHandle(address, port, addressType, fd, flags) {
    if (!wantsTcpHandle(port, addressType, fd))
      return nodeCreateServerHandle(address, port, addressType, fd, flags);
    const bound = bindMptcp(address, port, flags ?? 0);
    if ('fallback' in bound) return nodeCreateServerHandle(address, port, addressType, fd, flags);
    if ('error' in bound) return (bound.error as { errno?: number }).errno ?? -22;
    const handle = nodeCreateServerHandle(null, 0, 4, bound.fd, flags);
    if (typeof handle === 'number') closeQuietly(bound.fd);
    return handle;
  };
}
