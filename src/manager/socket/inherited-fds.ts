// Listening fds sockunit itself was started with (LISTEN_FDS, from systemd, systemd-socket-activate
// or podman's socket activation of a container): each goes to the port of a socket unit that
// names the same socket — family, type and address, as systemd matches the fds it gets back
// across a re-exec — instead of that port binding again. An fd no port claims is closed.

import { fstatSync, statSync } from 'node:fs';
import type { ListenFd } from '../../activation/listen-fds.js';
import type { SocketDescription } from '../../net/describe.js';
import type { SocketSpec } from '../../net/spec.js';
import { formatSockAddr } from '../../sys/sockaddr.js';
import type { Fd } from '../../sys/socket.js';

/** An inherited fd a port took, and whether its protocol differs from the one asked for. */
export interface InheritedPort {
  passed: ListenFd;
  /** The unit asks for MPTCP and the fd is TCP (or the reverse): what the fd is wins. */
  protocolDiffers: boolean;
}

export class InheritedFds {
  private readonly free: ListenFd[];
  /** fds ports hold now: a port that closes gives its fd back instead of closing it, since the
   * outer manager may hold the same socket, so binding the address again would fail. */
  private readonly held = new Map<Fd, ListenFd>();

  constructor(fds: readonly ListenFd[]) {
    this.free = [...fds];
  }

  get size(): number {
    return this.free.length + this.held.size;
  }

  /** The passed fd that is the socket `spec` names, taken out of the pool. */
  take(spec: SocketSpec): InheritedPort | undefined {
    const i = this.free.findIndex((f) => matches(f, spec));
    if (i < 0) return undefined;
    const [passed] = this.free.splice(i, 1) as [ListenFd];
    this.held.set(passed.fd, passed);
    const d = passed.description;
    const protocolDiffers =
      spec.kind === 'socket' &&
      d.kind === 'socket' &&
      (spec.protocol === 'mptcp') !== (d.protocol === 'mptcp');
    return { passed, protocolDiffers };
  }

  /** A port closes: true when its fd was inherited and is kept for the next start. */
  giveBack(fd: Fd): boolean {
    const passed = this.held.get(fd);
    if (!passed) return false;
    this.held.delete(fd);
    this.free.push(passed);
    return true;
  }

  /** The fds no port has claimed (after every socket unit started), out of the pool. */
  takeUnclaimed(): ListenFd[] {
    return this.free.splice(0);
  }
}

function matches(passed: ListenFd, spec: SocketSpec): boolean {
  const d = passed.description;
  switch (spec.kind) {
    case 'socket':
      return d.kind === 'socket' && sameSocket(d, spec.family, spec.type, formatSockAddr(spec.address));
    case 'netlink':
      return d.kind === 'socket' && d.family === 'netlink' && d.protocol === String(spec.family);
    case 'fifo':
    case 'special':
      return d.kind === spec.kind && sameFile(passed.fd, spec.path);
    case 'mqueue':
      // A message queue's fd does not say its name: it is opened again, as before.
      return false;
  }
}

function sameSocket(d: SocketDescription, family: string, type: string, address: string): boolean {
  if (d.family !== family || d.type !== type || d.local === undefined) return false;
  // A stream or seqpacket socket must already listen: a connected one is no listener.
  if (type !== 'datagram' && !d.listening) return false;
  return formatSockAddr(d.local) === address;
}

function sameFile(fd: Fd, path: string): boolean {
  try {
    const a = fstatSync(fd);
    const b = statSync(path);
    return a.dev === b.dev && a.ino === b.ino;
  } catch {
    return false;
  }
}
