// What a passed fd really is, asked of the kernel. The order of fds from several socket units is
// not guaranteed (go-systemd #251), so a service must never assume "fd 3 is the TCP listener":
// it probes, like python-systemd's is_socket_*().

import { netlinkFamilies } from '../net/spec.js';
import {
  AF_INET,
  AF_INET6,
  IPPROTO_MPTCP,
  IPPROTO_SCTP,
  IPPROTO_TCP,
  IPPROTO_UDP,
  IPPROTO_UDPLITE,
  SOCK_DGRAM,
  SOCK_RAW,
  SOCK_SEQPACKET,
  SOCK_STREAM,
} from '../sys/constants.js';
import { fstat, isMessageQueue } from '../sys/fs.js';
import { type AddressFamily, familyName, type SockAddr } from '../sys/sockaddr.js';
import { type Fd, getpeername, getsockname, socketKind } from '../sys/socket.js';

export type SocketTypeName = 'stream' | 'datagram' | 'seqpacket' | 'raw';

/** A passed socket. `protocol` is a name for the protocols systemd can open (`tcp`, `mptcp`,
 * `udp`, `udplite`, `sctp`; a netlink family name such as `route`), else the kernel's number. */
export interface SocketDescription {
  kind: 'socket';
  family: AddressFamily | number;
  type: SocketTypeName | number;
  protocol: string | number;
  /** SO_ACCEPTCONN: a listener (`Accept=no` stream sockets), as opposed to a connection. */
  listening: boolean;
  /** undefined when the kernel reports an address family sockaddr.ts cannot decode. */
  localAddress: SockAddr | undefined;
  /** The peer of a connected socket (the `Accept=yes` connection); absent otherwise. */
  peerAddress?: SockAddr;
}

/** A passed fd that is not a socket: `ListenFIFO=`, `ListenSpecial=`, `ListenMessageQueue=`, or
 * whatever the fd store holds (`unknown` covers anon inodes such as eventfd or timerfd). */
export interface FileDescription {
  kind: 'fifo' | 'message-queue' | 'file' | 'char' | 'block' | 'directory' | 'unknown';
}

export type FdDescription = SocketDescription | FileDescription;

const typeNames: Record<number, SocketTypeName> = {
  [SOCK_STREAM]: 'stream',
  [SOCK_DGRAM]: 'datagram',
  [SOCK_SEQPACKET]: 'seqpacket',
  [SOCK_RAW]: 'raw',
};

const ipProtocolNames: Record<number, string> = {
  [IPPROTO_TCP]: 'tcp',
  [IPPROTO_MPTCP]: 'mptcp',
  [IPPROTO_UDP]: 'udp',
  [IPPROTO_UDPLITE]: 'udplite',
  [IPPROTO_SCTP]: 'sctp',
};

const netlinkNames: Record<number, string> = Object.fromEntries(
  Object.entries(netlinkFamilies).map(([name, number]) => [number, name]),
);

function protocolName(domain: number, protocol: number): string | number {
  if (domain === AF_INET || domain === AF_INET6) return ipProtocolNames[protocol] ?? protocol;
  if (familyName(domain) === 'netlink') return netlinkNames[protocol] ?? protocol;
  return protocol;
}

function addressOrUndefined(read: () => SockAddr): SockAddr | undefined {
  try {
    return read();
  } catch {
    // ENOTCONN for an unconnected socket, ERR_INVALID_ADDRESS for a family we cannot decode.
    return undefined;
  }
}

function describeSocket(fd: Fd): SocketDescription {
  const kind = socketKind(fd);
  const description: SocketDescription = {
    kind: 'socket',
    family: familyName(kind.domain) ?? kind.domain,
    type: typeNames[kind.type] ?? kind.type,
    protocol: protocolName(kind.domain, kind.protocol),
    listening: kind.listening,
    localAddress: addressOrUndefined(() => getsockname(fd)),
  };
  if (!kind.listening) {
    const peer = addressOrUndefined(() => getpeername(fd));
    if (peer) description.peerAddress = peer;
  }
  return description;
}

/** Probe `fd`: SO_DOMAIN/SO_TYPE/SO_PROTOCOL/SO_ACCEPTCONN and the addresses for a socket,
 * fstat (and mq_getattr) for anything else. Throws EBADF when `fd` is not open. */
export function describeFd(fd: Fd): FdDescription {
  const status = fstat(fd);
  if (status.type === 'socket') return describeSocket(fd);
  // A message queue fd looks like a regular file on the mqueue filesystem.
  if (status.type === 'file' && isMessageQueue(fd)) return { kind: 'message-queue' };
  if (status.type === 'symlink') return { kind: 'unknown' };
  return { kind: status.type };
}

/** True for an IP stream listener, the kind of fd `net.Server` can adopt. */
export function isStreamListener(d: FdDescription): d is SocketDescription {
  return d.kind === 'socket' && d.type === 'stream' && d.listening;
}
