// Hand an fd opened by sockunit to Node, so Node's own libuv handles do all the I/O at full
// speed (the FFI is for set-up only). Each function checks with the kernel first that the fd is
// the kind of socket Node can take, and refuses clearly otherwise: Node itself would throw an
// opaque ERR_INVALID_FD_TYPE or, worse, silently re-create a plain TCP socket.

import dgram from 'node:dgram';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import type { Fd } from '../sys/socket.js';
import { describeFd, describeSocket, type SocketDescription } from './describe.js';

/** The error for an fd Node cannot adopt; `code` is Node's own `ERR_INVALID_FD_TYPE`. */
export interface AdoptError extends Error {
  code: 'ERR_INVALID_FD_TYPE';
  fd: Fd;
}

function refuse(fd: Fd, what: string, advice: string): AdoptError {
  const err = new Error(`fd ${fd}: ${what}; ${advice}`) as AdoptError;
  err.code = 'ERR_INVALID_FD_TYPE';
  err.fd = fd;
  return err;
}

const RAW_FD_ADVICE =
  'Node has no handle for unix datagram or seqpacket sockets: use the raw fd (sockunit sys/ sendmsg/recvmsg)';

function requireSocket(fd: Fd, expected: string): SocketDescription {
  const d = describeSocket(fd);
  if (d.kind !== 'socket') throw refuse(fd, `is ${describeFd(d)}, not ${expected}`, 'use the raw fd');
  if (d.family === 'unix' && d.type !== 'stream') throw refuse(fd, `is ${describeFd(d)}`, RAW_FD_ADVICE);
  return d;
}

let somaxconnCache: number | undefined;

/** The backlog the kernel gives systemd's default `Backlog=` (INT_MAX capped at somaxconn). */
export function defaultBacklog(): number {
  if (somaxconnCache === undefined) {
    try {
      somaxconnCache = Number.parseInt(readFileSync('/proc/sys/net/core/somaxconn', 'utf8'), 10) || 4096;
    } catch {
      somaxconnCache = 4096; // the kernel's default since 5.4
    }
  }
  return somaxconnCache;
}

export interface AdoptServerOptions {
  /** The listen backlog to keep. Node calls listen() again on an adopted fd, so the backlog
   * must be passed; give the spec's `Backlog=`. Default: systemd's default, which the kernel
   * caps at net.core.somaxconn (never Node's 511). */
  backlog?: number;
  /** The server to listen with (e.g. an `http.Server`); default a new `net.Server`. */
  server?: net.Server;
}

/**
 * Listen on a listening stream fd (TCP, MPTCP, unix stream) with a Node server. The backlog is
 * passed positionally: `listen({fd, backlog})` silently resets it to 511. Resolves once the
 * server is listening; with a callback, also calls it (error first).
 */
export function adoptServer(
  fd: Fd,
  options: AdoptServerOptions = {},
  callback?: (err: Error | null, server?: net.Server) => void,
): Promise<net.Server> {
  const result = new Promise<net.Server>((resolve, reject) => {
    const d = requireSocket(fd, 'a listening stream socket');
    if (d.type !== 'stream' || !d.listening)
      throw refuse(
        fd,
        `is ${describeFd(d)}`,
        'adoptServer takes a listening stream socket (openSocket with type stream)',
      );
    const server = options.server ?? net.createServer();
    const onError = (err: Error): void => reject(err);
    server.once('error', onError);
    server.listen({ fd }, options.backlog ?? defaultBacklog(), () => {
      server.off('error', onError);
      resolve(server);
    });
  });
  if (callback)
    result.then(
      (server) => callback(null, server),
      (err: Error) => callback(err),
    );
  return result;
}

/** Wrap a connected stream fd (TCP, MPTCP, unix stream) in a `net.Socket`. The fd must be
 * connected already: an unconnected fd would be read at once, fail with ENOTCONN, and a later
 * connect() would silently build a new plain-TCP socket. */
export function adoptSocket(fd: Fd, options: { allowHalfOpen?: boolean } = {}): net.Socket {
  const d = requireSocket(fd, 'a connected stream socket');
  if (d.type !== 'stream' || d.listening || !d.peer)
    throw refuse(
      fd,
      `is ${describeFd(d)}`,
      'adoptSocket takes a connected stream socket; connect it first (a listener goes to adoptServer)',
    );
  return new net.Socket({
    fd,
    readable: true,
    writable: true,
    allowHalfOpen: options.allowHalfOpen ?? false,
  });
}

/**
 * Wrap a bound UDP or UDP-Lite fd in a `dgram.Socket` of its family (udp4/udp6 from
 * getsockname: a udp4 wrapper over an AF_INET6 fd fails on send). Side effect: libuv sets
 * SO_REUSEADDR=1 on the fd when it takes it, whatever the spec said.
 */
export function adoptDatagram(fd: Fd): Promise<dgram.Socket> {
  return new Promise<dgram.Socket>((resolve, reject) => {
    const d = requireSocket(fd, 'a bound datagram socket');
    if (d.type !== 'datagram' || (d.family !== 'inet' && d.family !== 'inet6'))
      throw refuse(fd, `is ${describeFd(d)}`, 'adoptDatagram takes a UDP or UDP-Lite socket');
    const socket = dgram.createSocket(d.family === 'inet6' ? 'udp6' : 'udp4');
    const onError = (err: Error): void => reject(err);
    socket.once('error', onError);
    socket.bind({ fd }, () => {
      socket.off('error', onError);
      resolve(socket);
    });
  });
}
