// What an fd is, as the kernel sees it: for sockets SO_DOMAIN/SO_TYPE/SO_PROTOCOL/SO_ACCEPTCONN
// and the addresses; for other fds, fstat (FIFO, special file) or mq_getattr (message queue).
// SO_PROTOCOL is what makes an MPTCP fd say `mptcp`: nothing else distinguishes it from TCP.

import {
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
import { hasCode } from '../sys/errors.js';
import { type FileType, fstat, getPipeSize, mqGetAttributes } from '../sys/fs.js';
import { type AddressFamily, familyName, type SockAddr } from '../sys/sockaddr.js';
import { type Fd, getpeername, getsockname, socketKind } from '../sys/socket.js';
import { netlinkFamilies, type SocketProtocol, type SocketType } from './spec.js';

export interface SocketDescription {
  kind: 'socket';
  /** Address family; `af-N` for a family sockunit has no codec for. */
  family: AddressFamily | `af-${number}`;
  type: SocketType | 'raw' | `type-${number}`;
  /** `tcp`, `udp`, `udplite`, `sctp`, `mptcp` for IP; the netlink family name for netlink;
   * undefined when the kernel reports 0 (unix) or a number sockunit does not name. */
  protocol: SocketProtocol | string | undefined;
  /** SO_PROTOCOL as the kernel reports it. */
  protocolNumber: number;
  listening: boolean;
  /** getsockname(); undefined for a family sockunit cannot decode. */
  local: SockAddr | undefined;
  /** getpeername() when connected. */
  peer?: SockAddr;
}

/** A port that is not a socket: `ListenFIFO=`, `ListenSpecial=`, `ListenMessageQueue=`. */
export interface FileDescription {
  kind: 'fifo' | 'special' | 'mqueue';
  /** The fstat type (`file` or `char` for special files; `file` for message queues). */
  fileType: FileType;
  permissions: number;
  uid: number;
  gid: number;
  /** A FIFO's buffer size in bytes (F_GETPIPE_SZ): what `PipeSize=` got from the kernel. */
  pipeSize?: number;
  /** A message queue's limits (mq_getattr): what `MessageQueueMaxMessages=` and
   * `MessageQueueMessageSize=` got, or the kernel's defaults. */
  messageQueue?: { maxMessages: number; messageSize: number };
}

export type FdDescription = SocketDescription | FileDescription;

const ipProtocols: Record<number, SocketProtocol> = {
  [IPPROTO_TCP]: 'tcp',
  [IPPROTO_UDP]: 'udp',
  [IPPROTO_UDPLITE]: 'udplite',
  [IPPROTO_SCTP]: 'sctp',
  [IPPROTO_MPTCP]: 'mptcp',
};

const typeNames: Record<number, SocketType | 'raw'> = {
  [SOCK_STREAM]: 'stream',
  [SOCK_DGRAM]: 'datagram',
  [SOCK_SEQPACKET]: 'seqpacket',
  [SOCK_RAW]: 'raw',
};

function protocolName(family: SocketDescription['family'], protocol: number): string | undefined {
  if (family === 'inet' || family === 'inet6') return ipProtocols[protocol];
  if (family === 'netlink')
    return Object.entries(netlinkFamilies).find(([, number]) => number === protocol)?.[0];
  return undefined;
}

function optional<T>(read: () => T): T | undefined {
  try {
    return read();
  } catch (err) {
    // ENOTCONN: not connected; EINVAL or an unknown family: nothing sockunit can decode.
    if (hasCode(err, 'ENOTCONN', 'EINVAL', 'ERR_INVALID_ADDRESS', 'EOPNOTSUPP', 'ENOTSUP')) return undefined;
    throw err;
  }
}

/** mq_getattr's limits, or undefined when `fd` is not a message queue (EBADF from mq_getattr). */
function messageQueueOf(fd: Fd): { maxMessages: number; messageSize: number } | undefined {
  try {
    const { maxMessages, messageSize } = mqGetAttributes(fd);
    return { maxMessages, messageSize };
  } catch (err) {
    if (hasCode(err, 'EBADF')) return undefined;
    throw err;
  }
}

/** Describe an open fd. Throws EBADF (a SystemError) when `fd` is not open. */
/** `a listening inet6 stream tcp socket`, `a fifo`: what an fd is, for messages. */
export function describeFd(d: FdDescription): string {
  if (d.kind !== 'socket') return `a ${d.kind === 'special' ? `${d.fileType} (special file)` : d.kind}`;
  const state = d.listening ? 'listening ' : d.peer ? 'connected ' : '';
  return `a ${state}${d.family} ${d.type}${d.protocol ? ` ${d.protocol}` : ''} socket`;
}

export function describeSocket(fd: Fd): FdDescription {
  const st = fstat(fd);
  if (st.type !== 'socket') {
    const base = { fileType: st.type, permissions: st.permissions, uid: st.uid, gid: st.gid };
    if (st.type === 'fifo') return { kind: 'fifo', ...base, pipeSize: getPipeSize(fd) };
    const queue = messageQueueOf(fd);
    if (queue) return { kind: 'mqueue', ...base, messageQueue: queue };
    return { kind: 'special', ...base };
  }
  const k = socketKind(fd);
  const family = familyName(k.domain) ?? (`af-${k.domain}` as const);
  const description: SocketDescription = {
    kind: 'socket',
    family,
    type: typeNames[k.type] ?? `type-${k.type}`,
    protocol: protocolName(family, k.protocol),
    protocolNumber: k.protocol,
    listening: k.listening,
    local: optional(() => getsockname(fd)),
  };
  if (!k.listening) {
    const peer = optional(() => getpeername(fd));
    if (peer) description.peer = peer;
  }
  return description;
}
