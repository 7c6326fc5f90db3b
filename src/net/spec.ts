// What to open: one typed value per port a systemd [Socket] section can list (socket-units.md
// §3.1), with the options systemd applies to it (§3.4). unit/ builds these from unit files;
// net/open.ts turns them into file descriptors.

import { NETLINK_FAMILIES } from '../sys/constants.js';
import { formatSockAddr, type SockAddr } from '../sys/sockaddr.js';

export type SocketFamily = 'inet' | 'inet6' | 'unix' | 'vsock';
export type SocketType = 'stream' | 'datagram' | 'seqpacket';
/** `tcp`/`udp` name the IP defaults explicitly; `udplite`, `sctp`, `mptcp` are what
 * `SocketProtocol=` can select. Left out: the kernel's default for the family and type. */
export type SocketProtocol = 'tcp' | 'udp' | 'udplite' | 'sctp' | 'mptcp';
export type Timestamping = 'off' | 'us' | 'ns';
/** `BindIPv6Only=`: `default` leaves IPV6_V6ONLY to the `net.ipv6.bindv6only` sysctl. */
export type BindIPv6Only = 'default' | 'both' | 'ipv6-only';

/** Every option systemd applies to a port. Unset means "not touched": the kernel's default. */
export interface SocketOptions {
  /** SO_REUSEADDR. systemd sets it on every socket it creates and has no key to turn it off;
   * default true. */
  reuseAddr?: boolean;
  /** `ReusePort=` -> SO_REUSEPORT (IP, before bind). */
  reusePort?: boolean;
  /** `FreeBind=` -> IP_FREEBIND / IPV6_FREEBIND (IP, before bind). */
  freeBind?: boolean;
  /** `Transparent=` -> IP_TRANSPARENT / IPV6_TRANSPARENT (IP, before bind). */
  transparent?: boolean;
  /** `BindIPv6Only=` -> IPV6_V6ONLY (AF_INET6, before bind). */
  bindIPv6Only?: BindIPv6Only;
  /** `BindToDevice=` -> SO_BINDTODEVICE (IP, before bind; failure is fatal, as in systemd). */
  bindToDevice?: string;
  /** `Backlog=` for listen(). Default: INT_MAX, which the kernel caps at net.core.somaxconn. */
  backlog?: number;
  /** `KeepAlive=` -> SO_KEEPALIVE. */
  keepAlive?: boolean;
  /** `KeepAliveTimeSec=` -> TCP_KEEPIDLE (whole seconds). */
  keepAliveTimeSec?: number;
  /** `KeepAliveIntervalSec=` -> TCP_KEEPINTVL. */
  keepAliveIntervalSec?: number;
  /** `KeepAliveProbes=` -> TCP_KEEPCNT. */
  keepAliveProbes?: number;
  /** `NoDelay=` -> TCP_NODELAY (SCTP_NODELAY on SCTP). */
  noDelay?: boolean;
  /** `DeferAcceptSec=` -> TCP_DEFER_ACCEPT (whole seconds). */
  deferAcceptSec?: number;
  /** `Priority=` -> SO_PRIORITY. */
  priority?: number;
  /** `Mark=` -> SO_MARK. */
  mark?: number;
  /** `IPTOS=` (the numeric value) -> IP_TOS. */
  ipTOS?: number;
  /** `IPTTL=` -> IP_TTL / IPV6_UNICAST_HOPS. */
  ipTTL?: number;
  /** `ReceiveBuffer=` bytes -> SO_RCVBUF, then SO_RCVBUFFORCE when the kernel capped it. */
  receiveBuffer?: number;
  /** `SendBuffer=` bytes -> SO_SNDBUF, then SO_SNDBUFFORCE when the kernel capped it. */
  sendBuffer?: number;
  /** `Broadcast=` -> SO_BROADCAST. */
  broadcast?: boolean;
  /** `PassCredentials=` -> SO_PASSCRED. */
  passCredentials?: boolean;
  /** `PassSecurity=` -> SO_PASSSEC. */
  passSecurity?: boolean;
  /** `PassPacketInfo=` -> IP_PKTINFO / IPV6_RECVPKTINFO / NETLINK_PKTINFO. */
  passPacketInfo?: boolean;
  /** `PassPIDFD=` -> SO_PASSPIDFD. */
  passPIDFD?: boolean;
  /** `AcceptFileDescriptors=` (default true); false sets SO_PASSRIGHTS=0. */
  acceptFileDescriptors?: boolean;
  /** `Timestamping=` -> SO_TIMESTAMP (`us`) / SO_TIMESTAMPNS (`ns`). */
  timestamping?: Timestamping;
  /** `TCPCongestion=` -> TCP_CONGESTION. */
  tcpCongestion?: string;
  /** `SocketMode=` for unix socket nodes, FIFOs and message queues; default 0o666. */
  socketMode?: number;
  /** `SocketUser=` as a uid; unset leaves the owner alone. */
  socketUser?: number;
  /** `SocketGroup=` as a gid; unset leaves the group alone. */
  socketGroup?: number;
  /** `DirectoryMode=` for parent directories created on the way; default 0o755. */
  directoryMode?: number;
  /** `PipeSize=` bytes -> F_SETPIPE_SZ (FIFOs). */
  pipeSize?: number;
}

/** `ListenStream=`, `ListenDatagram=`, `ListenSequentialPacket=`. */
export interface NetworkSocketSpec {
  kind: 'socket';
  family: SocketFamily;
  type: SocketType;
  protocol?: SocketProtocol;
  address: SockAddr;
  options?: SocketOptions;
}

/** Netlink family names `ListenNetlink=` accepts (systemd's table), with their numbers. */
export const netlinkFamilies = NETLINK_FAMILIES;
export type NetlinkFamilyName = keyof typeof netlinkFamilies;

/** `ListenNetlink=FAMILY GROUP`. */
export interface NetlinkSpec {
  kind: 'netlink';
  family: NetlinkFamilyName | number;
  /** Multicast group mask to join; 0 for none. */
  group: number;
  options?: SocketOptions;
}

/** `ListenFIFO=`: created with `socketMode` (parents `directoryMode`), opened read-write. */
export interface FifoSpec {
  kind: 'fifo';
  path: string;
  options?: SocketOptions;
}

/** `ListenSpecial=`: an existing regular file or character device. */
export interface SpecialSpec {
  kind: 'special';
  path: string;
  /** `Writable=`: open read-write instead of read-only. */
  writable: boolean;
  options?: SocketOptions;
}

/** `ListenMessageQueue=`. The limits apply only when both are given and positive. */
export interface MessageQueueSpec {
  kind: 'mqueue';
  /** Queue name, starting with `/`. */
  name: string;
  maxMessages?: number;
  messageSize?: number;
  options?: SocketOptions;
}

export type SocketSpec = NetworkSocketSpec | NetlinkSpec | FifoSpec | SpecialSpec | MessageQueueSpec;

/** The netlink protocol number of a family name or number. */
export function netlinkFamilyNumber(family: NetlinkFamilyName | number): number {
  return typeof family === 'number' ? family : netlinkFamilies[family];
}

/** The spec written the way a unit file would name it, for messages. */
export function describeSpec(spec: SocketSpec): string {
  switch (spec.kind) {
    case 'socket': {
      const proto = spec.protocol ? `${spec.protocol} ` : '';
      return `${proto}${spec.type} socket on ${formatSockAddr(spec.address)}`;
    }
    case 'netlink':
      return `netlink ${spec.family} group ${spec.group}`;
    case 'fifo':
      return `FIFO ${spec.path}`;
    case 'special':
      return `special file ${spec.path}`;
    case 'mqueue':
      return `message queue ${spec.name}`;
  }
}
