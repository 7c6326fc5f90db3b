// Every net.Server of the process listens with MPTCP, without a change to the program
// (`node --import sockunit/mptcp/register app.js`). The hook sits where Node creates a listening
// handle for an IP port, not in listen()'s argument forms: `Server.prototype._listen2`, which Node
// keeps under that name so that code wrapping it keeps working, and `net._createServerHandle`,
// which a cluster primary calls for SCHED_NONE workers. So http, https, http2, tls, frameworks
// built on them, and cluster workers (whose primary listens for them) all pass through it, while
// `listen({fd})`, `listen({handle})` and unix paths go to Node untouched. An MPTCP listener serves
// plain TCP clients with plain TCP sockets, so nothing changes for clients that do not ask.

import net from 'node:net';
import { closeQuietly } from '../sys/socket.js';
import { bindMptcp } from './bind.js';
import { netError } from './errors.js';
import { markFallback } from './fallback.js';
import { fixAcceptedReceiveBuffers } from './receive-buffer.js';

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

/** What libuv's flags ask of the socket. */
function flagOptions(flags: number | undefined): { ipv6Only: boolean; reusePort: boolean } {
  return {
    ipv6Only: ((flags ?? 0) & UV_TCP_IPV6ONLY) !== 0,
    reusePort: ((flags ?? 0) & UV_TCP_REUSEPORT) !== 0,
  };
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
    const bound = bindMptcp(address, port, flagOptions(flags));
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
    const bound = bindMptcp(address, port, flagOptions(flags));
    if ('fallback' in bound) return nodeCreateServerHandle(address, port, addressType, fd, flags);
    if ('error' in bound) return (bound.error as { errno?: number }).errno ?? -22;
    const handle = nodeCreateServerHandle(null, 0, 4, bound.fd, flags);
    if (typeof handle === 'number') closeQuietly(bound.fd);
    return handle;
  };
}
