// Passed fds as ready Node objects: a net.Server (http.Server, Express, Fastify, Koa all sit on
// one) listening on the activated listener, dgram sockets, the Accept=yes connection as a
// net.Socket, and raw fds for what Node cannot adopt. The adoption itself is net/adopt.ts.
//
// Each fd is adopted at most once per process: two libuv handles on one fd make epoll fail, so a
// second caller gets the same object back (dgram, connection) or the next listener (listen).

import type dgram from 'node:dgram';
import type net from 'node:net';
import { adoptDatagram, adoptServer, adoptSocket, defaultBacklog } from '../net/adopt.js';
import type { SocketDescription } from '../net/describe.js';
import { listenBacklog } from '../sys/sock-diag.js';
import type { Fd } from '../sys/socket.js';
import { type ListenFd, listenFds } from './listen-fds.js';

/** Where to listen when the process was not socket-activated (development, tests): a port, a
 * `{port, host}`, or a unix socket path. */
export type ListenFallback = number | { port: number; host?: string } | string;

export interface ListenOptions {
  /** Used only when no stream listener at all was passed (the process was started by hand).
   * Never opened beside a passed stream listener: that would quietly serve plain TCP next to
   * the socket the manager made. Without it, `listen` rejects when nothing was passed. */
  fallback?: ListenFallback;
  /** listen(2) backlog. Node always calls listen() again on an adopted fd, so some number is
   * set. Default: the backlog the manager gave the socket (its `Backlog=`), read back from the
   * kernel (sock_diag); when the kernel cannot tell, systemd's default (net.core.somaxconn).
   * For the fallback: somaxconn. */
  backlog?: number;
}

export type ListenResult =
  | { activated: true; listenFd: ListenFd }
  | { activated: false; fallback: ListenFallback };

const adopted = new Map<Fd, net.Server | net.Socket | Promise<dgram.Socket>>();

type SocketFd = ListenFd & { description: SocketDescription };

function isSocket(f: ListenFd): f is SocketFd {
  return f.description.kind === 'socket';
}

function summary(f: ListenFd): string {
  const d = f.description;
  if (d.kind !== 'socket') return d.kind;
  return `${d.family} ${d.type}${d.protocol ? ` ${d.protocol}` : ''}${d.listening ? ' listener' : ''}`;
}

function describePassed(fds: readonly ListenFd[]): string {
  if (fds.length === 0) return 'no fds were passed';
  return `passed: ${fds.map((f) => `fd ${f.fd} '${f.name}' (${summary(f)})`).join(', ')}`;
}

function named(name: string | undefined): string {
  return name === undefined ? '' : ` named '${name}'`;
}

/** The passed stream listeners (TCP, MPTCP, unix), optionally only those called `name`. */
export function streamListeners(name?: string): SocketFd[] {
  return listenFds().filter(
    (f): f is SocketFd =>
      isSocket(f) &&
      f.description.type === 'stream' &&
      f.description.listening &&
      (name ?? f.name) === f.name,
  );
}

/**
 * Make `server` listen on the activated stream listener called `name` (or the first stream
 * listener not taken yet), keeping the socket the manager made: same address, same protocol
 * (MPTCP stays MPTCP), and its backlog (read back from the kernel and passed positionally:
 * Node resets `{fd, backlog}` to 511).
 * When exactly one stream listener was passed and it has another name — `unknown` from
 * `systemd-socket-activate` or `sockunit activate` without `--fdname`, or a unit name without
 * `FileDescriptorName=` — that one is used: it is this process's listener. Several passed, none
 * named `name`: rejects, naming them. Only when no stream listener was passed at all does it
 * listen on `options.fallback` (or reject without one).
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
  const matching = streamListeners(name);
  // Several listeners may share a name (two ListenStream= in one unit): each call takes the next.
  let candidate = matching.find((f) => !adopted.has(f.fd));
  if (!candidate && matching.length > 0)
    throw new Error(
      `listen: every activated stream listener${named(name)} (fds ${matching.map((f) => f.fd).join(', ')}) already backs another net.Server; one fd can back only one`,
    );
  const passed = streamListeners();
  if (!candidate && passed.length === 1 && !adopted.has((passed[0] as SocketFd).fd)) {
    // The one stream listener the manager passed, under another name (`unknown` when none was
    // given): it is this server's socket, and a fallback port beside it would be plain TCP.
    candidate = passed[0] as SocketFd;
  } else if (!candidate && passed.length > 0) {
    throw new Error(
      `listen: no activated stream listener${named(name)} (${describePassed(listenFds())}); give the socket that name (FileDescriptorName=${name ?? 'NAME'} in the unit, --fdname=${name ?? 'NAME'} for sockunit activate or systemd-socket-activate) or ask for one of the names passed. The fallback is not opened beside passed listeners`,
    );
  }
  if (!candidate) {
    const fallback = options.fallback;
    if (fallback === undefined)
      throw new Error(
        `listen: no activated stream listener${named(name)} (${describePassed(listenFds())}) and no fallback; pass { fallback: port } to run without socket activation`,
      );
    await listenOnFallback(server, fallback, options.backlog ?? defaultBacklog());
    return { activated: false, fallback };
  }
  adopted.set(candidate.fd, server);
  try {
    // Node calls listen() again on the fd: hand it the backlog the manager gave the socket.
    const backlog = options.backlog ?? listenBacklog(candidate.fd);
    await adoptServer(candidate.fd, backlog === undefined ? { server } : { server, backlog });
  } catch (err) {
    adopted.delete(candidate.fd);
    throw err;
  }
  return { activated: true, listenFd: candidate };
}

function listenOnFallback(server: net.Server, fallback: ListenFallback, backlog: number): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    const done = () => {
      server.off('error', reject);
      resolve();
    };
    if (typeof fallback === 'number') server.listen(fallback, backlog, done);
    else if (typeof fallback === 'string') server.listen(fallback, backlog, done);
    else if (fallback.host === undefined) server.listen(fallback.port, backlog, done);
    else server.listen(fallback.port, fallback.host, backlog, done);
  });
}

/** The passed UDP and UDP-Lite sockets (optionally only those called `name`) as bound
 * dgram.Sockets, udp4 or udp6 by the socket's real family. Asking again returns the same
 * objects. */
export function datagramSockets(name?: string): Promise<dgram.Socket[]> {
  const fds = listenFds().filter(
    (f) =>
      isSocket(f) &&
      f.description.type === 'datagram' &&
      (f.description.family === 'inet' || f.description.family === 'inet6') &&
      (name ?? f.name) === f.name,
  );
  return Promise.all(
    fds.map((f) => {
      const owner = adopted.get(f.fd);
      if (owner instanceof Promise) return owner;
      if (owner !== undefined) throw new Error(`datagramSockets: fd ${f.fd} '${f.name}' is already adopted`);
      const socket = adoptDatagram(f.fd);
      adopted.set(f.fd, socket);
      socket.catch(() => adopted.delete(f.fd));
      return socket;
    }),
  );
}

/** The connected socket of an `Accept=yes` instance (TCP, MPTCP or unix stream) as a
 * net.Socket, or undefined when no connection was passed. Asking again returns the same
 * object. */
export function connectionSocket(): net.Socket | undefined {
  const f = listenFds().find(
    (c) => isSocket(c) && c.description.type === 'stream' && !c.description.listening && c.description.peer,
  );
  if (!f) return undefined;
  const owner = adopted.get(f.fd);
  if (owner !== undefined && !(owner instanceof Promise) && !('listen' in owner)) return owner;
  if (owner !== undefined) throw new Error(`connectionSocket: fd ${f.fd} '${f.name}' is already adopted`);
  const socket = adoptSocket(f.fd);
  adopted.set(f.fd, socket);
  return socket;
}

/** Passed fds that Node cannot turn into objects, to use through the fd number: unix datagram
 * and seqpacket sockets, netlink and other non-IP sockets, FIFOs, message queues, special files,
 * and fd-store entries. Optionally only those called `name`. */
export function rawFds(name?: string): ListenFd[] {
  return listenFds().filter((f) => !nodeAdoptable(f) && (name ?? f.name) === f.name);
}

function nodeAdoptable(f: ListenFd): boolean {
  const d = f.description;
  if (d.kind !== 'socket') return false;
  const ip = d.family === 'inet' || d.family === 'inet6';
  if (d.type === 'stream') return ip || d.family === 'unix';
  return d.type === 'datagram' && ip;
}
