// MPTCP listeners behind Node's own net.Server: sys/ creates, binds and listens on an
// IPPROTO_MPTCP socket, then the server adopts it with `listen({fd}, backlog, cb)`. Everything
// after that (accept, http, tls) is Node's code, unchanged. A listener serves MPTCP and plain TCP
// clients alike: the kernel hands plain clients a plain TCP socket.

import dns from 'node:dns';
import net from 'node:net';
import { closeQuietly, listen as listenFd } from '../sys/socket.js';
import { bindMptcp } from './bind.js';
import { mptcpUnavailableError, netError } from './errors.js';
import { markFallback } from './fallback.js';
import { type Availability, available } from './probe.js';
import { fixAcceptedReceiveBuffers } from './receive-buffer.js';

/** Options of `createServer`: Node's `net.ServerOpts`, plus what to do without MPTCP. */
export interface MptcpServerOptions extends net.ServerOpts {
  /** `true` (default): without MPTCP, listen with plain TCP and emit 'fallback'. `false`: listen
   * throws an `ERR_MPTCP_UNAVAILABLE` error instead. */
  fallback?: boolean;
}

/** Node's listen options plus `fallback` and `reusePort` (SO_REUSEPORT, which Node 20 lacks). */
export interface MptcpListenOptions extends net.ListenOptions {
  fallback?: boolean;
  reusePort?: boolean;
}

/** Node's default listen backlog (libuv's, and what `listen()` without one uses). */
const DEFAULT_BACKLOG = 511;

type NodeListen = (...args: unknown[]) => unknown;
const patched = new WeakMap<net.Server, { fallback: boolean }>();

/** A net.Server that listens with MPTCP: same arguments and events as `net.createServer`.
 * Unix paths, `{fd}` and `{handle}` are passed to Node unchanged (MPTCP is IP-only). Not yet for
 * `cluster` workers: Node sends a worker's `listen({fd})` to the primary, where that fd number
 * means nothing (untested; listen in the primary or use `reusePort: true` per process). */
export function createServer(connectionListener?: (socket: net.Socket) => void): net.Server;
export function createServer(
  options?: MptcpServerOptions,
  connectionListener?: (socket: net.Socket) => void,
): net.Server;
export function createServer(
  a?: MptcpServerOptions | ((socket: net.Socket) => void),
  b?: (socket: net.Socket) => void,
): net.Server {
  const options = typeof a === 'object' && a !== null ? a : {};
  const listener = typeof a === 'function' ? a : b;
  const { fallback, ...nodeOptions } = options;
  return patchServer(net.createServer(nodeOptions, listener), { fallback: fallback !== false });
}

/** Make `server.listen()` listen with MPTCP, for servers made elsewhere (`http.createServer`,
 * `https.createServer`, frameworks). Installs an own `listen` property; idempotent. */
export function patchServer<S extends net.Server>(server: S, options: { fallback?: boolean } = {}): S {
  const existing = patched.get(server);
  if (existing) {
    if (options.fallback !== undefined) existing.fallback = options.fallback;
    return server;
  }
  const state = { fallback: options.fallback !== false };
  patched.set(server, state);
  const nodeListen = server.listen as unknown as NodeListen;
  Object.defineProperty(server, 'listen', {
    configurable: true,
    writable: true,
    value(...args: unknown[]) {
      return listenMptcp(server, nodeListen, state.fallback, args);
    },
  });
  return server;
}

/** `server.listen(...args)` with MPTCP, for any net.Server (e.g. one from `http.createServer`):
 * `mptcp.listen(httpServer, 8080, '::1', cb)`. */
export function listen<S extends net.Server>(server: S, ...args: unknown[]): S {
  patchServer(server);
  (server.listen as unknown as NodeListen)(...args);
  return server;
}

/** What Node's listen() arguments ask for, when they ask for an IP listener. */
interface IpListenRequest {
  port: number;
  host: string | undefined;
  backlog: number;
  ipv6Only: boolean;
  reusePort: boolean;
  fallback: boolean | undefined;
  signal: AbortSignal | undefined;
  callback: (() => void) | undefined;
}

function toNumber(x: unknown): number | false {
  const n = Number(x);
  return n >= 0 ? n : false;
}

function badPort(port: unknown): RangeError {
  const err = new RangeError(
    `options.port should be >= 0 and < 65536. Received ${typeof port === 'string' ? `'${port}'` : String(port)}.`,
  ) as RangeError & { code: string };
  err.code = 'ERR_SOCKET_BAD_PORT';
  return err;
}

function validPort(port: unknown): number {
  if (port === undefined || port === null) return 0;
  if (
    (typeof port !== 'number' && typeof port !== 'string') ||
    (typeof port === 'string' && port.trim() === '')
  )
    throw badPort(port);
  const n = Number(port);
  if (!Number.isInteger(n) || n < 0 || n > 0xffff) throw badPort(port);
  return n;
}

/** Node's listen() argument forms, reduced to an IP request; undefined for the forms MPTCP has
 * nothing to do with (unix path, `{fd}`, `{handle}`, a handle object), which go to Node as given. */
function ipListenRequest(args: unknown[]): IpListenRequest | undefined {
  const last = args[args.length - 1];
  const callback = typeof last === 'function' ? (last as () => void) : undefined;
  const arg0 = args[0];
  // Node's own rule (net.js backlogFromArgs): a number in 2nd or 3rd position is the backlog.
  const backlogFromArgs = toNumber(args.length > 1 && args[1]) || toNumber(args.length > 2 && args[2]);
  if (typeof arg0 === 'object' && arg0 !== null) {
    const o = arg0 as MptcpListenOptions & { _handle?: unknown; handle?: unknown; fd?: unknown };
    if (o._handle !== undefined || o.handle !== undefined || typeof o.fd === 'number') return undefined;
    if (o.path !== undefined || !('port' in o || o.port !== undefined)) return undefined;
    return {
      port: validPort(o.port),
      host: o.host || undefined,
      backlog: o.backlog || backlogFromArgs || DEFAULT_BACKLOG,
      ipv6Only: o.ipv6Only === true,
      reusePort: o.reusePort === true,
      fallback: o.fallback,
      signal: o.signal,
      callback,
    };
  }
  if (typeof arg0 === 'string' && toNumber(arg0) === false) return undefined; // a pipe name
  return {
    port: typeof arg0 === 'function' ? 0 : validPort(arg0),
    host: typeof args[1] === 'string' && args[1] !== '' ? args[1] : undefined,
    backlog: backlogFromArgs || DEFAULT_BACKLOG,
    ipv6Only: false,
    reusePort: false,
    fallback: undefined,
    signal: undefined,
    callback,
  };
}

function alreadyListening(): Error {
  const err = new Error('Listen method has been called more than once without closing.') as Error & {
    code: string;
  };
  err.code = 'ERR_SERVER_ALREADY_LISTEN';
  return err;
}

function listenMptcp(
  server: net.Server,
  nodeListen: NodeListen,
  fallback: boolean,
  args: unknown[],
): net.Server {
  const request = ipListenRequest(args);
  if (!request) return nodeListen.apply(server, args) as net.Server;
  if (server.listening) throw alreadyListening();
  const allowFallback = request.fallback ?? fallback;
  const availability = available();
  if (!availability.available) {
    if (!allowFallback)
      throw mptcpUnavailableError(availability.reason ?? 'unknown', availability.errno, 'listen()');
    return listenPlain(server, nodeListen, args, availability);
  }
  const host = request.host;
  if (host === undefined || net.isIP(host)) {
    listenOnAddress(server, nodeListen, request, host, args, allowFallback);
    return server;
  }
  // A host name: Node listens on the first address dns.lookup gives (net.js lookupAndListen).
  dns.lookup(host, (err, address) => {
    if (err) server.emit('error', err);
    else listenOnAddress(server, nodeListen, request, address, args, allowFallback);
  });
  return server;
}

function listenPlain(
  server: net.Server,
  nodeListen: NodeListen,
  args: unknown[],
  why: Availability,
): net.Server {
  markFallback(server, why);
  const clean = args.map((a) =>
    typeof a === 'object' && a !== null && ('fallback' in a || 'reusePort' in a)
      ? (({ fallback: _f, reusePort: _r, ...rest }) => rest)(a as MptcpListenOptions)
      : a,
  );
  return nodeListen.apply(server, clean) as net.Server;
}

/** Open, configure, bind and listen an MPTCP socket on `host` (undefined: Node's default of `::`
 * dual-stack, or `0.0.0.0` where IPv6 is missing), then hand it to Node. */
function listenOnAddress(
  server: net.Server,
  nodeListen: NodeListen,
  request: IpListenRequest,
  host: string | undefined,
  args: unknown[],
  allowFallback: boolean,
): void {
  const bound = bindMptcp(host, request.port, request);
  if ('fallback' in bound) {
    const why = bound.fallback;
    if (allowFallback) listenPlain(server, nodeListen, args, why);
    else
      process.nextTick(() =>
        server.emit('error', mptcpUnavailableError(why.reason ?? 'unknown', why.errno, 'listen()')),
      );
    return;
  }
  if ('error' in bound) {
    process.nextTick(() => server.emit('error', bound.error));
    return;
  }
  const { fd } = bound;
  try {
    listenFd(fd, request.backlog);
  } catch (err) {
    closeQuietly(fd);
    const e = err as { errno?: number };
    const error =
      typeof e.errno === 'number' ? netError('listen', e.errno, bound.address, request.port) : err;
    process.nextTick(() => server.emit('error', error));
    return;
  }
  const { callback } = request;
  const options = request.signal ? { fd, signal: request.signal } : { fd };
  try {
    // Positional backlog: `{fd, backlog}` would reset the kernel backlog to 511 (pitfall 6).
    if (callback) nodeListen.call(server, options, request.backlog, callback);
    else nodeListen.call(server, options, request.backlog);
  } catch (err) {
    closeQuietly(fd);
    throw err;
  }
  fixAcceptedReceiveBuffers(server);
}
