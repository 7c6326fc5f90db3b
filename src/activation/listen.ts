// Passed fds as ready Node objects: a net.Server (http.Server, Express, Fastify, Koa all sit on
// one) listening on the activated listener, dgram sockets, the Accept=yes connection as a
// net.Socket, and raw fds for what Node cannot adopt.
//
// Each fd is adopted at most once per process: two libuv handles on one fd make epoll fail, so a
// second adopter gets the same object back (dgram, connection) or a clear error (listen).

import dgram from 'node:dgram';
import net from 'node:net';
import type { Fd } from '../sys/socket.js';
import type { SocketDescription } from './describe-fd.js';
import { type ListenFd, listenFds } from './listen-fds.js';

/** Where to listen when the process was not socket-activated (development, tests): a port, a
 * `{port, host}`, or a unix socket path. */
export type ListenFallback = number | { port: number; host?: string } | string;

export interface ListenOptions {
  /** Used only when no matching stream listener was passed. Without it, `listen` rejects. */
  fallback?: ListenFallback;
  /** listen(2) backlog. Node always calls listen() again on an adopted fd, so some number must be
   * given. Default INT_MAX, which the kernel lowers to net.core.somaxconn: the same as systemd's
   * default `Backlog=` (SOMAXCONN) and `systemd-socket-activate`'s. A unit with a smaller
   * `Backlog=` should pass the same number here. */
  backlog?: number;
}

export type ListenResult =
  | { activated: true; listenFd: ListenFd }
  | { activated: false; fallback: ListenFallback };

/** The backlog `listen` asks for when none is given (see ListenOptions.backlog). */
export const DEFAULT_ADOPTED_BACKLOG = 0x7fffffff;

const adopted = new Map<Fd, net.Server | net.Socket | dgram.Socket>();

function describeNames(fds: readonly ListenFd[]): string {
  if (fds.length === 0) return 'no fds were passed';
  return `passed: ${fds.map((f) => `fd ${f.fd} '${f.name}' (${summary(f)})`).join(', ')}`;
}

function summary(f: ListenFd): string {
  const d = f.description;
  if (d.kind !== 'socket') return d.kind;
  return `${d.family} ${d.type} ${d.protocol}${d.listening ? ' listener' : ''}`;
}

function isSocket(f: ListenFd): f is ListenFd & { description: SocketDescription } {
  return f.description.kind === 'socket';
}

/** The passed stream listeners (IP, MPTCP, unix), optionally only those called `name`. */
export function streamListeners(name?: string): ListenFd[] {
  return listenFds().filter(
    (f) =>
      isSocket(f) &&
      f.description.type === 'stream' &&
      f.description.listening &&
      (name === undefined || f.name === name),
  );
}

/**
 * Make `server` listen on the activated stream listener called `name` (or the first stream
 * listener), keeping the socket the manager made: same address, same protocol (MPTCP stays
 * MPTCP), and the backlog given positionally (Node resets `{fd, backlog}` to 511). When no such
 * listener was passed, listens on `options.fallback`, or rejects without one.
 *
 * Closing the server never unlinks a unix socket path: Node unlinks only paths it bound itself.
 */
export async function listen(
  server: net.Server,
  nameOrOptions?: string | ListenOptions,
  maybeOptions: ListenOptions = {},
): Promise<ListenResult> {
  const name = typeof nameOrOptions === 'string' ? nameOrOptions : undefined;
  const options = typeof nameOrOptions === 'object' ? nameOrOptions : maybeOptions;
  const backlog = options.backlog ?? DEFAULT_ADOPTED_BACKLOG;
  const matching = streamListeners(name);
  // Several listeners may share a name (two ListenStream= in one unit): each call takes the next.
  const candidate = matching.find((f) => !adopted.has(f.fd));
  if (!candidate && matching.length > 0)
    throw new Error(
      `listen: every activated stream listener${name === undefined ? '' : ` named '${name}'`} (fds ${matching.map((f) => f.fd).join(', ')}) already backs another net.Server; one fd can back only one`,
    );
  if (!candidate) {
    if (options.fallback === undefined)
      throw new Error(
        `listen: no activated stream listener${name === undefined ? '' : ` named '${name}'`} (${describeNames(listenFds())}) and no fallback; pass { fallback: port } to run without socket activation`,
      );
    const fallback = options.fallback;
    await listening(server, (done) => listenOnFallback(server, fallback, backlog, done));
    return { activated: false, fallback };
  }
  adopted.set(candidate.fd, server);
  try {
    await listening(server, (done) => server.listen({ fd: candidate.fd }, backlog, done));
  } catch (err) {
    adopted.delete(candidate.fd);
    throw err;
  }
  return { activated: true, listenFd: candidate };
}

function listenOnFallback(
  server: net.Server,
  fallback: ListenFallback,
  backlog: number,
  done: () => void,
): void {
  if (typeof fallback === 'number') server.listen(fallback, backlog, done);
  else if (typeof fallback === 'string') server.listen(fallback, backlog, done);
  else if (fallback.host === undefined) server.listen(fallback.port, backlog, done);
  else server.listen(fallback.port, fallback.host, backlog, done);
}

function listening(server: net.Server, start: (done: () => void) => void): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (err: Error) => reject(err);
    server.once('error', onError);
    start(() => {
      server.off('error', onError);
      resolve();
    });
  });
}

/** The passed UDP and UDP-Lite sockets (optionally only those called `name`) as bound
 * dgram.Sockets, udp4 or udp6 by the socket's real family. Asking again returns the same
 * objects. */
export async function datagramSockets(name?: string): Promise<dgram.Socket[]> {
  const fds = listenFds().filter(
    (f) =>
      isSocket(f) &&
      f.description.type === 'datagram' &&
      (f.description.family === 'inet' || f.description.family === 'inet6') &&
      (name === undefined || f.name === name),
  );
  return Promise.all(fds.map(adoptDatagram));
}

async function adoptDatagram(f: ListenFd): Promise<dgram.Socket> {
  const owner = adopted.get(f.fd);
  if (owner instanceof dgram.Socket) return owner;
  if (owner !== undefined) throw new Error(`datagramSockets: fd ${f.fd} '${f.name}' is already adopted`);
  const family = f.description.kind === 'socket' ? f.description.family : undefined;
  // A udp4 wrapper over an AF_INET6 fd fails on send (EINVAL/ENETUNREACH): take the fd's family.
  const socket = dgram.createSocket(family === 'inet6' ? 'udp6' : 'udp4');
  adopted.set(f.fd, socket);
  await new Promise<void>((resolve, reject) => {
    socket.once('error', reject);
    socket.bind({ fd: f.fd }, () => {
      socket.off('error', reject);
      resolve();
    });
  });
  return socket;
}

/** The connected socket of an `Accept=yes` instance (IP or unix stream) as a net.Socket, or
 * undefined when no connection was passed. Asking again returns the same object. */
export function connectionSocket(): net.Socket | undefined {
  const f = listenFds().find(
    (c) => isSocket(c) && c.description.type === 'stream' && !c.description.listening,
  );
  if (!f) return undefined;
  const owner = adopted.get(f.fd);
  if (owner instanceof net.Socket) return owner;
  if (owner !== undefined) throw new Error(`connectionSocket: fd ${f.fd} '${f.name}' is already adopted`);
  const socket = new net.Socket({ fd: f.fd, readable: true, writable: true });
  adopted.set(f.fd, socket);
  return socket;
}

/** Passed fds that Node cannot turn into objects, to use through the fd number: unix datagram
 * and seqpacket sockets, netlink and other non-IP sockets, FIFOs, message queues, special files,
 * and fd-store entries. Optionally only those called `name`. */
export function rawFds(name?: string): ListenFd[] {
  return listenFds().filter((f) => !nodeAdoptable(f) && (name === undefined || f.name === name));
}

function nodeAdoptable(f: ListenFd): boolean {
  const d = f.description;
  if (d.kind !== 'socket') return false;
  if (d.type === 'stream') return d.family === 'inet' || d.family === 'inet6' || d.family === 'unix';
  return d.type === 'datagram' && (d.family === 'inet' || d.family === 'inet6');
}
