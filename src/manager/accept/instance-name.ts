// Accept=yes instance names, as systemd 258 builds them (socket-units.md §4.3):
// `foo@N-COOKIE-LOCAL-REMOTE.service`, N counting accepted connections from 0, COOKIE the
// connection's SO_COOKIE in decimal. Users' tooling greps these names, so the format is kept exact.

import type { SockAddr } from '../../sys/sockaddr.js';

/** IPv4-mapped IPv6 addresses are shown as IPv4, as systemd does. */
function plainIp(address: string): string {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  return mapped ? mapped[1]! : address;
}

function endpoint(addr: SockAddr): string | undefined {
  switch (addr.family) {
    case 'inet':
    case 'inet6':
      return `${plainIp(addr.address)}:${addr.port}`;
    case 'vsock':
      return `${addr.cid}:${addr.port}`;
    default:
      return undefined;
  }
}

export interface UnixPeer {
  pid: number;
  uid: number;
  /** Inode number of the peer's pidfd, when the kernel gives one. */
  pidfdInode?: number;
}

export interface ConnectionFacts {
  counter: number;
  cookie?: bigint | number;
  local: SockAddr;
  remote: SockAddr;
  /** For unix sockets: the peer's credentials (SO_PEERCRED); undefined in a foreign namespace. */
  unixPeer?: UnixPeer;
}

/** The instance part (between `@` and `.service`). */
export function connectionInstance(facts: ConnectionFacts): string {
  const head = facts.cookie !== undefined ? `${facts.counter}-${facts.cookie}` : `${facts.counter}`;
  if (facts.local.family === 'unix') {
    const peer = facts.unixPeer;
    if (!peer) return `${head}-unknown`;
    return peer.pidfdInode !== undefined
      ? `${head}-${peer.pid}_${peer.pidfdInode}-${peer.uid}`
      : `${head}-${peer.pid}-${peer.uid}`;
  }
  const local = endpoint(facts.local);
  const remote = endpoint(facts.remote);
  if (local === undefined || remote === undefined) return `${head}-unknown`;
  return `${head}-${local}-${remote}`;
}

/** `REMOTE_ADDR`/`REMOTE_PORT` for an Accept=yes service (systemd.socket(5)). */
export function remoteEnvironment(remote: SockAddr): Record<string, string> {
  switch (remote.family) {
    case 'inet':
    case 'inet6':
      return { REMOTE_ADDR: plainIp(remote.address), REMOTE_PORT: String(remote.port) };
    case 'vsock':
      return { REMOTE_ADDR: `vsock:${remote.cid}`, REMOTE_PORT: String(remote.port) };
    case 'unix':
      return remote.path === '' ? {} : { REMOTE_ADDR: remote.path };
    default:
      return {};
  }
}

/** What MaxConnectionsPerSource= counts per: the peer's IP address (IPv4-mapped shown as IPv4),
 * the vsock CID, or every unix peer together. */
export function sourceKey(remote: SockAddr): string {
  switch (remote.family) {
    case 'inet':
    case 'inet6':
      return remote.address.replace(/^::ffff:/i, '');
    case 'vsock':
      return `vsock:${remote.cid}`;
    default:
      return 'unix';
  }
}

/** The variables an Accept=yes instance gets for its connection: REMOTE_ADDR/REMOTE_PORT, and
 * SO_COOKIE where the kernel gave one. */
export function connectionEnvironment(remote: SockAddr, cookie: bigint | undefined): Record<string, string> {
  const env = remoteEnvironment(remote);
  if (cookie !== undefined) env.SO_COOKIE = String(cookie);
  return env;
}
