// MPTCP clients that are real net.Sockets, returned synchronously like `net.connect` returns them.
//
// Node cannot create an IPPROTO_MPTCP socket, and every way of letting Node connect by itself
// loses MPTCP silently (node-and-ecosystem.md §0.3): an unconnected `net.Socket({fd})` that sees
// the loop turn reads, gets ENOTCONN, is destroyed, and a later connect() builds a plain TCP
// handle; happy-eyeballs replaces the handle with plain TCP ones. So:
//
// 1. The fd is made by sys/ and wrapped at once in `new net.Socket({fd, manualStart: true})`:
//    manualStart keeps Node from reading before it is connected.
// 2. For a host name the socket is marked `connecting` while we resolve it ourselves (all
//    addresses, in the resolver's order): writes are queued and reads wait for 'connect', exactly
//    as during net.connect's own lookup.
// 3. Each address is tried with Node's own `socket.connect(port, ipLiteral)` with
//    autoSelectFamily off, so Node's connect machinery (errors, 'connect', timeouts, bind of
//    localAddress) runs unchanged on our handle. Before an attempt the socket under the handle's fd
//    number is replaced (dup3) by a fresh MPTCP socket when the family changes or a previous attempt
//    failed; libuv keeps no state about the socket itself between attempts.
// 4. A failed attempt reaches us through `destroy(err)` (the only way Node reports it): while
//    attempts remain it is swallowed and the next address is tried; the last error is Node's.
// Nothing ever retries as plain TCP: fallback happens only when socket() says MPTCP is absent.
//
// Differences from net.connect, by design: addresses are tried one after another (no racing, no
// per-attempt timer: an unreachable first address waits for the kernel's SYN timeout); when all
// fail, the error is the last attempt's (Node's happy-eyeballs gives an AggregateError); and a
// socket must not be reused with `socket.connect()` after it closed, because Node would then
// build a plain TCP handle for it — call mptcp.connect() again instead.

import dns from 'node:dns';
import net from 'node:net';
import { AF_INET, AF_INET6 } from '../sys/constants.js';
import { replaceFd } from '../sys/dup.js';
import { closeQuietly } from '../sys/socket.js';
import { mptcpUnavailableError } from './errors.js';
import { markFallback } from './fallback.js';
import { handleFd } from './multipath.js';
import { type Availability, available, openMptcpSocket } from './probe.js';
import { fixReceiveBufferOnBulk } from './receive-buffer.js';

/** `net.connect` options plus what to do without MPTCP. */
export type MptcpConnectOptions = net.TcpNetConnectOpts & {
  /** `true` (default): without MPTCP, connect with plain TCP and emit 'fallback'. `false`: throw
   * an `ERR_MPTCP_UNAVAILABLE` error instead. */
  fallback?: boolean;
};

/** Node's own net.connect, taken before anything (sockunit/mptcp/register) points net.connect
 * here: unix paths and plain-TCP fall-backs must not come back to this module. */
const nodeConnect = net.connect;

type ConnectListener = () => void;
interface ResolvedAddress {
  address: string;
  family: number;
}
type LookupFunction = NonNullable<net.TcpSocketConnectOpts['lookup']>;

/** Node's net.connect argument forms: (options[, cb]), (port[, host][, cb]), (path[, cb]). */
function normalizeArgs(
  args: unknown[],
): [MptcpConnectOptions & net.IpcNetConnectOpts, ConnectListener | undefined] {
  const last = args[args.length - 1];
  const cb = typeof last === 'function' ? (last as ConnectListener) : undefined;
  const arg0 = args[0];
  if (typeof arg0 === 'object' && arg0 !== null)
    return [arg0 as MptcpConnectOptions & net.IpcNetConnectOpts, cb];
  if (typeof arg0 === 'string' && !(Number(arg0) >= 0)) return [{ path: arg0 } as never, cb];
  const options = { port: arg0 } as MptcpConnectOptions;
  if (typeof args[1] === 'string') options.host = args[1];
  return [options as never, cb];
}

function badPort(port: unknown): RangeError {
  const err = new RangeError(
    `Port should be >= 0 and < 65536. Received ${typeof port === 'string' ? `type string ('${port}')` : String(port)}.`,
  ) as RangeError & { code: string };
  err.code = 'ERR_SOCKET_BAD_PORT';
  return err;
}

function validPort(port: unknown): number {
  if (
    (typeof port !== 'number' && typeof port !== 'string') ||
    (typeof port === 'string' && port.trim() === '')
  )
    throw badPort(port);
  const n = Number(port);
  if (!Number.isInteger(n) || n < 0 || n > 0xffff) throw badPort(port);
  return n;
}

function familyOf(address: string): number {
  return net.isIP(address) === 6 ? AF_INET6 : AF_INET;
}

/** Like `net.connect()`, over MPTCP. Same arguments, same events, returns at once. A unix path
 * goes to Node unchanged (MPTCP is IP-only). */
export function connect(options: MptcpConnectOptions, connectListener?: ConnectListener): net.Socket;
export function connect(port: number, host?: string, connectListener?: ConnectListener): net.Socket;
export function connect(path: string, connectListener?: ConnectListener): net.Socket;
export function connect(...args: unknown[]): net.Socket {
  const [options, cb] = normalizeArgs(args);
  if (options.path) return nodeConnect(...(args as Parameters<typeof net.connect>));
  const allowFallback = options.fallback !== false;
  const availability = available();
  if (!availability.available) return connectPlain(options, cb, availability, allowFallback);

  if (options.port === undefined) {
    const err = new TypeError('The "options" or "port" or "path" argument must be specified') as TypeError & {
      code: string;
    };
    err.code = 'ERR_MISSING_ARGS';
    throw err;
  }
  const port = validPort(options.port);
  const host = options.host || 'localhost';
  const literal = net.isIP(host) !== 0;
  const family = literal ? familyOf(host) : options.family === 6 ? AF_INET6 : AF_INET;
  const opened = openMptcpSocket(family);
  if ('fallback' in opened) return connectPlain(options, cb, opened.fallback, allowFallback);

  let socket: net.Socket;
  try {
    const { fallback: _f, lookup: _l, host: _h, port: _p, timeout: _t, ...socketOptions } = options;
    socket = new net.Socket({
      ...socketOptions,
      fd: opened.fd,
      manualStart: true,
    } as net.SocketConstructorOpts);
  } catch (err) {
    closeQuietly(opened.fd);
    throw err;
  }
  fixReceiveBufferOnBulk(
    (socket as unknown as { _handle?: Parameters<typeof fixReceiveBufferOnBulk>[0] })._handle,
  );
  if (options.timeout) socket.setTimeout(options.timeout);
  if (cb) socket.once('connect', cb);
  const attempts = new ConnectAttempts(socket, port, family, options);
  if (literal) attempts.start([{ address: host, family: net.isIP(host) }]);
  else attempts.resolveAndStart(host);
  return socket;
}

/** `createConnection` is `connect`, as in Node. */
export const createConnection = connect;

function connectPlain(
  options: MptcpConnectOptions,
  cb: ConnectListener | undefined,
  why: Availability,
  allowFallback: boolean,
): net.Socket {
  if (!allowFallback) throw mptcpUnavailableError(why.reason ?? 'unknown', why.errno, 'connect()');
  const { fallback: _f, ...nodeOptions } = options;
  const socket = cb ? nodeConnect(nodeOptions, cb) : nodeConnect(nodeOptions);
  markFallback(socket, why);
  return socket;
}

/** Tries a socket's resolved addresses one after another on its own handle. */
class ConnectAttempts {
  private readonly socket: net.Socket;
  private readonly port: number;
  private readonly options: MptcpConnectOptions;
  private family: number;
  private addresses: ResolvedAddress[] = [];
  private next = 0;
  private readonly nodeDestroy: net.Socket['destroy'];

  constructor(socket: net.Socket, port: number, family: number, options: MptcpConnectOptions) {
    this.socket = socket;
    this.port = port;
    this.family = family;
    this.options = options;
    this.nodeDestroy = socket.destroy;
  }

  /** Resolve `host` (all addresses, resolver order) behind the already returned socket. */
  resolveAndStart(host: string): void {
    const { socket, options } = this;
    // As during net.connect's own lookup: queue writes, make reads wait for 'connect'.
    setConnecting(socket, true);
    (socket as unknown as { _host: string })._host = host;
    const lookup: LookupFunction = options.lookup ?? (dns.lookup as unknown as LookupFunction);
    const family = options.family === 4 || options.family === 6 ? options.family : 0;
    const hints = options.hints || (family === 0 ? dns.ADDRCONFIG : 0);
    lookup(host, { all: true, family, hints }, (err, result, resultFamily) => {
      const addresses = toAddresses(result, resultFamily);
      const first = addresses[0];
      socket.emit('lookup', err, first?.address, first?.family, host);
      if (socket.destroyed) return;
      if (err || !first) {
        setConnecting(socket, false);
        const error =
          err ??
          Object.assign(new Error(`getaddrinfo ENOTFOUND ${host}`), { code: 'ENOTFOUND', hostname: host });
        process.nextTick(() => socket.destroy(error));
        return;
      }
      // Node's own connect() is about to set it again; it only checks `destroyed`.
      setConnecting(socket, false);
      this.start(addresses);
    });
  }

  start(addresses: ResolvedAddress[]): void {
    // A local address can only be bound on a socket of its own family: skip the other family's
    // addresses (Node's net.connect also stops racing families when localAddress is given).
    const localFamily = this.options.localAddress ? net.isIP(this.options.localAddress) : 0;
    const usable = localFamily ? addresses.filter((a) => a.family === localFamily) : addresses;
    this.addresses = usable.length > 0 ? usable : addresses;
    if (addresses.length > 1) this.interceptFailures();
    this.attempt();
  }

  private interceptFailures(): void {
    const attempts = this;
    const { socket } = this;
    socket.destroy = function destroyDuringAttempts(this: net.Socket, error?: Error) {
      // Only Node's own connect failures move on to the next address (Node already emitted
      // 'connectionAttemptFailed' for them); anything else, e.g. a user's destroy(err), is final.
      const syscall = (error as { syscall?: string } | undefined)?.syscall;
      if (syscall === 'connect' && !socket.destroyed && attempts.next < attempts.addresses.length) {
        attempts.attempt();
        return socket;
      }
      attempts.restoreDestroy();
      return attempts.nodeDestroy.call(socket, error);
    };
    socket.once('connect', () => this.restoreDestroy());
    socket.once('close', () => this.restoreDestroy());
  }

  private restoreDestroy(): void {
    if (Object.hasOwn(this.socket, 'destroy')) delete (this.socket as { destroy?: unknown }).destroy;
  }

  private attempt(): void {
    const { socket, options, port } = this;
    const target = this.addresses[this.next];
    if (!target) return;
    const isRetry = this.next > 0;
    this.next++;
    const family = familyOf(target.address);
    if (family !== this.family || isRetry) {
      const fd = handleFd(socket);
      try {
        const opened = openMptcpSocket(family);
        if ('fallback' in opened) {
          // e.g. a kernel with MPTCP for IPv4 only: say so rather than quietly using TCP.
          throw mptcpUnavailableError(
            opened.fallback.reason ?? 'unknown',
            opened.fallback.errno,
            `connect() to ${target.address}`,
          );
        }
        try {
          if (fd === undefined) throw new Error('the socket has no handle any more');
          replaceFd(fd, opened.fd);
        } finally {
          closeQuietly(opened.fd);
        }
        this.family = family;
      } catch (err) {
        socket.destroy(err as Error);
        return;
      }
    }
    const connectOptions: net.TcpSocketConnectOpts = { port, host: target.address, autoSelectFamily: false };
    if (options.localAddress !== undefined) connectOptions.localAddress = options.localAddress;
    if (options.localPort !== undefined) connectOptions.localPort = options.localPort;
    socket.connect(connectOptions);
  }
}

/** `connecting` is read-only in Node's types but a plain field at runtime: it is how net.connect
 * itself holds writes and reads back while it resolves a name. */
function setConnecting(socket: net.Socket, value: boolean): void {
  (socket as { connecting: boolean }).connecting = value;
}

function toAddresses(result: unknown, family: unknown): ResolvedAddress[] {
  if (Array.isArray(result))
    return result
      .filter((r): r is ResolvedAddress => typeof r?.address === 'string')
      .map((r) => ({ address: r.address, family: net.isIP(r.address) }));
  if (typeof result === 'string' && net.isIP(result))
    return [{ address: result, family: family === 6 || family === 'IPv6' ? 6 : net.isIP(result) }];
  return [];
}
