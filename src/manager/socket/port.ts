// A socket unit's open ports and how they are named to people: the protocol label and address
// that the log, `list-sockets` and `status` show (as systemctl list-sockets does), and the file
// system path a port occupies (what RemoveOnStop= removes).

import type { NodeIdentity } from '../../net/open.js';
import { netlinkFamilies, type SocketSpec } from '../../net/spec.js';
import { formatSockAddr, type SockAddr } from '../../sys/sockaddr.js';
import type { Fd } from '../../sys/socket.js';
import type { Watch } from '../../sys/watch.js';
import type { RateLimit } from '../rate-limit.js';
import type { PortUpgrade } from './mptcp-upgrade.js';

/** One open port of a socket unit. */
export interface Port {
  spec: SocketSpec;
  fd: Fd;
  address: SockAddr | undefined;
  /** MPTCP was asked for, the kernel has none, and the unit allowed falling back to TCP. */
  fellBack: boolean;
  /** Set when `--mptcp-upgrade` covered this TCP port: opened as MPTCP, or kept TCP and why. */
  upgrade?: PortUpgrade;
  watch: Watch | undefined;
  /** Set when the accept thread watches this port (then also `watch`). */
  pollLimit: RateLimit;
  pauseTimer: NodeJS.Timeout | undefined;
  /** The file system node the port occupies, as opened (a unix socket file, FIFO or message
   * queue): RemoveOnStop= removes it only while it is still this node. */
  node: NodeIdentity | undefined;
  /** The Symlinks= links made to this port's file; they go along with the port on a reload. */
  links: MadeLink[];
}

/** A Symlinks= link as this manager made it (socket-files.ts). */
export interface MadeLink extends NodeIdentity {
  path: string;
  target: string;
}

export function fsPath(spec: SocketSpec): string | undefined {
  if (spec.kind === 'socket' && spec.address.family === 'unix' && !spec.address.path.startsWith('@'))
    return spec.address.path;
  if (spec.kind === 'fifo') return spec.path;
  return undefined;
}

export function protocolLabel(spec: SocketSpec): string {
  if (spec.kind !== 'socket')
    return spec.kind === 'mqueue'
      ? 'MessageQueue'
      : spec.kind === 'fifo'
        ? 'FIFO'
        : spec.kind === 'special'
          ? 'Special'
          : 'Netlink';
  if (spec.protocol) return spec.protocol === 'mptcp' ? 'MPTCP' : spec.protocol.toUpperCase();
  if (spec.family === 'unix')
    return spec.type === 'stream' ? 'Stream' : spec.type === 'datagram' ? 'Datagram' : 'SequentialPacket';
  if (spec.family === 'vsock') return 'VSOCK';
  return spec.type === 'stream' ? 'TCP' : spec.type === 'datagram' ? 'UDP' : 'SequentialPacket';
}

export function portAddress(port: Port): string {
  const spec = port.spec;
  // systemctl list-sockets shows a netlink port as `family group`, not the bound nl_pid.
  if (spec.kind === 'netlink') return `${netlinkFamilyName(spec.family)} ${spec.group}`;
  if (port.address) return formatSockAddr(port.address);
  switch (spec.kind) {
    case 'fifo':
    case 'special':
      return spec.path;
    case 'mqueue':
      return spec.name;
    default:
      return formatSockAddr(spec.address);
  }
}

/** `route` for 0: net/ resolves the family to its number when it opens the port. */
function netlinkFamilyName(family: string | number): string {
  if (typeof family === 'string') return family;
  return Object.entries(netlinkFamilies).find(([, n]) => n === family)?.[0] ?? String(family);
}

export function describePort(spec: SocketSpec): string {
  if (spec.kind === 'socket') return `${protocolLabel(spec)} ${formatSockAddr(spec.address)}`;
  return `${protocolLabel(spec)} ${spec.kind === 'mqueue' ? spec.name : spec.kind === 'netlink' ? spec.family : spec.path}`;
}
