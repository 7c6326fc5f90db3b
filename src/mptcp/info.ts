// What the kernel says about an MPTCP connection: `struct mptcp_info` and the subflow list
// (mptcp.md §3). Every field is read only when the kernel's returned length covers it: the struct
// grew in 5.12, 6.5, 6.8 and 6.10, and older kernels return fewer bytes.

import type net from 'node:net';
import { fullInfoBytes, mptcpInfoBytes, subflowAddrsBytes, subflowTcpInfoBytes } from '../sys/mptcp-info.js';
import { decodeSockAddr, type SockAddr } from '../sys/sockaddr.js';
import { type Fd, getpeername, getsockname } from '../sys/socket.js';
import { handleFd, isOpNotSupp, runsMptcp } from './multipath.js';

/** `struct mptcp_info`, typed. Optional fields are absent when the kernel is too old to have
 * them (the kernel version that added each is in mptcp.md §3.1). Byte counters are numbers
 * (exact below 2^53 bytes); sequence numbers are bigints. */
export interface MptcpInfo {
  /** How many bytes of the struct the kernel returned (96 on 6.10+). */
  length: number;
  /** Additional subflows: the initial one is not counted (two paths read 1). */
  subflows: number;
  addAddrSignal: number;
  addAddrAccepted: number;
  subflowsMax: number;
  addAddrSignalMax: number;
  addAddrAcceptedMax: number;
  flags: number;
  /** MPTCP_INFO_FLAG_FALLBACK: the connection fell back to plain TCP. */
  fallback: boolean;
  /** MPTCP_INFO_FLAG_REMOTE_KEY_RECEIVED: the MPTCP handshake completed. */
  remoteKeyReceived: boolean;
  token: number;
  writeSeq: bigint;
  sndUna: bigint;
  rcvNxt: bigint;
  localAddrUsed?: number;
  localAddrMax?: number;
  csumEnabled?: boolean;
  retransmits?: number;
  bytesRetrans?: number;
  bytesSent?: number;
  bytesReceived?: number;
  bytesAcked?: number;
  /** All subflows, the initial one included (6.8+); prefer it over `subflows`. */
  subflowsTotal?: number;
  /** Milliseconds since data was last sent / received / acked (6.10+). */
  lastDataSent?: number;
  lastDataRecv?: number;
  lastAckRecv?: number;
}

const MPTCP_INFO_FLAG_FALLBACK = 1;
const MPTCP_INFO_FLAG_REMOTE_KEY_RECEIVED = 2;

function has(buf: Buffer, offset: number, size: number): boolean {
  return offset + size <= buf.length;
}

/** Decode the bytes of a `struct mptcp_info` (as many as the kernel returned). */
export function decodeMptcpInfo(buf: Buffer): MptcpInfo {
  const u8 = (o: number) => (has(buf, o, 1) ? buf.readUInt8(o) : 0);
  const u32 = (o: number) => (has(buf, o, 4) ? buf.readUInt32LE(o) : 0);
  const u64 = (o: number) => (has(buf, o, 8) ? buf.readBigUInt64LE(o) : 0n);
  const flags = u32(8);
  const info: MptcpInfo = {
    length: buf.length,
    subflows: u8(0),
    addAddrSignal: u8(1),
    addAddrAccepted: u8(2),
    subflowsMax: u8(3),
    addAddrSignalMax: u8(4),
    addAddrAcceptedMax: u8(5),
    flags,
    fallback: (flags & MPTCP_INFO_FLAG_FALLBACK) !== 0,
    remoteKeyReceived: (flags & MPTCP_INFO_FLAG_REMOTE_KEY_RECEIVED) !== 0,
    token: u32(12),
    writeSeq: u64(16),
    sndUna: u64(24),
    rcvNxt: u64(32),
  };
  if (has(buf, 41, 1)) {
    info.localAddrUsed = u8(40);
    info.localAddrMax = u8(41);
  }
  if (has(buf, 42, 1)) info.csumEnabled = u8(42) !== 0;
  if (has(buf, 72, 8)) {
    info.retransmits = u32(44);
    info.bytesRetrans = Number(u64(48));
    info.bytesSent = Number(u64(56));
    info.bytesReceived = Number(u64(64));
    info.bytesAcked = Number(u64(72));
  }
  if (has(buf, 80, 1)) info.subflowsTotal = u8(80);
  if (has(buf, 92, 4)) {
    info.lastDataSent = u32(84);
    info.lastDataRecv = u32(88);
    info.lastAckRecv = u32(92);
  }
  return info;
}

function isNotMptcp(err: unknown): boolean {
  const code = (err as { code?: string }).code;
  // A plain TCP or fallen-back socket: EOPNOTSUPP (IPv4) or ENOPROTOOPT (IPv6), mptcp.md §4.
  return isOpNotSupp(err) || code === 'ENOPROTOOPT';
}

/** `MPTCP_INFO` for a connection, or undefined when it does not run MPTCP (plain TCP peer, fell
 * back, or no handle). Other getsockopt errors are thrown. */
export function info(socket: net.Socket | net.Server): MptcpInfo | undefined {
  const fd = handleFd(socket);
  if (fd === undefined) return undefined;
  try {
    return decodeMptcpInfo(mptcpInfoBytes(fd));
  } catch (err) {
    if (isNotMptcp(err)) return undefined;
    throw err;
  }
}

/** An endpoint of a subflow, in the shape `socket.address()` uses. */
export interface SubflowAddress {
  address: string;
  family: 'IPv4' | 'IPv6';
  port: number;
}

/** The TCP figures of one subflow (from the kernel's `struct tcp_info`). */
export interface SubflowTcpInfo {
  /** TCP state name: 'ESTABLISHED', 'SYN_SENT', 'CLOSE_WAIT'… */
  state: string;
  /** Smoothed round-trip time and its variance, microseconds. */
  rttUs: number;
  rttVarUs: number;
  /** Retransmission timeout, microseconds. */
  rtoUs: number;
  /** Congestion window, segments; send MSS, bytes. */
  cwnd: number;
  mss: number;
  /** Retransmissions so far, and how many segments are outstanding unacked. */
  totalRetrans: number;
  unacked: number;
  /** Milliseconds since data was last sent / received, and since the last ACK arrived. */
  lastDataSentMs: number;
  lastDataRecvMs: number;
  lastAckRecvMs: number;
  bytesSent?: number;
  bytesReceived?: number;
  bytesAcked?: number;
  bytesRetrans?: number;
}

/** One subflow of an MPTCP connection. */
export interface Subflow {
  /** Subflow id (1 = the initial subflow); only MPTCP_FULL_INFO reports it. */
  id?: number;
  local?: SubflowAddress;
  remote?: SubflowAddress;
  tcp?: SubflowTcpInfo;
  /** Which getsockopt this came from: FULL_INFO (6.5+, one consistent snapshot),
   * SUBFLOW_ADDRS+TCPINFO (5.16+, two calls) or, on older kernels, only the connection's own
   * addresses for the initial subflow. */
  source: 'MPTCP_FULL_INFO' | 'MPTCP_SUBFLOW_ADDRS' | 'getsockname';
}

const tcpStates = [
  'UNKNOWN',
  'ESTABLISHED',
  'SYN_SENT',
  'SYN_RECV',
  'FIN_WAIT1',
  'FIN_WAIT2',
  'TIME_WAIT',
  'CLOSE',
  'CLOSE_WAIT',
  'LAST_ACK',
  'LISTEN',
  'CLOSING',
  'NEW_SYN_RECV',
];

/** Decode the kernel's `struct tcp_info` (offsets from include/uapi/linux/tcp.h). */
export function decodeTcpInfo(buf: Buffer): SubflowTcpInfo {
  const u32 = (o: number) => (has(buf, o, 4) ? buf.readUInt32LE(o) : 0);
  const u64 = (o: number) => (has(buf, o, 8) ? Number(buf.readBigUInt64LE(o)) : undefined);
  const state = has(buf, 0, 1) ? buf.readUInt8(0) : 0;
  const tcp: SubflowTcpInfo = {
    state: tcpStates[state] ?? `STATE_${state}`,
    rtoUs: u32(8),
    mss: u32(16),
    unacked: u32(24),
    lastDataSentMs: u32(44),
    lastDataRecvMs: u32(52),
    lastAckRecvMs: u32(56),
    rttUs: u32(68),
    rttVarUs: u32(72),
    cwnd: u32(80),
    totalRetrans: u32(100),
  };
  const bytesAcked = u64(120);
  const bytesReceived = u64(128);
  const bytesSent = u64(200);
  const bytesRetrans = u64(208);
  if (bytesAcked !== undefined) tcp.bytesAcked = bytesAcked;
  if (bytesReceived !== undefined) tcp.bytesReceived = bytesReceived;
  if (bytesSent !== undefined) tcp.bytesSent = bytesSent;
  if (bytesRetrans !== undefined) tcp.bytesRetrans = bytesRetrans;
  return tcp;
}

function toSubflowAddress(addr: SockAddr): SubflowAddress | undefined {
  if (addr.family === 'inet') return { address: addr.address, family: 'IPv4', port: addr.port };
  if (addr.family === 'inet6') return { address: addr.address, family: 'IPv6', port: addr.port };
  return undefined;
}

/** Decode one 128-byte `sockaddr_storage`-sized union of `struct mptcp_subflow_addrs`. */
function decodeEndpoint(buf: Buffer): SubflowAddress | undefined {
  if (buf.length < 2 || buf.readUInt16LE(0) === 0) return undefined;
  try {
    return toSubflowAddress(decodeSockAddr(buf));
  } catch {
    return undefined;
  }
}

function decodeAddrs(buf: Buffer, at: number): Pick<Subflow, 'local' | 'remote'> {
  const out: Pick<Subflow, 'local' | 'remote'> = {};
  const local = decodeEndpoint(buf.subarray(at, at + 128));
  const remote = decodeEndpoint(buf.subarray(at + 128, at + 256));
  if (local) out.local = local;
  if (remote) out.remote = remote;
  return out;
}

function fromFullInfo(fd: Fd): Subflow[] {
  const full = fullInfoBytes(fd);
  return full.subflowInfo.map((sf, i) => {
    const subflow: Subflow = { id: sf.readUInt32LE(0), ...decodeAddrs(sf, 8), source: 'MPTCP_FULL_INFO' };
    const tcp = full.tcpInfo[i];
    if (tcp) subflow.tcp = decodeTcpInfo(tcp);
    return subflow;
  });
}

function fromSubflowAddrs(fd: Fd): Subflow[] {
  const addrs = subflowAddrsBytes(fd);
  let tcpInfos: Buffer[] = [];
  try {
    tcpInfos = subflowTcpInfoBytes(fd).elements;
  } catch (err) {
    if (!isUnsupported(err)) throw err;
  }
  return addrs.elements.map((el, i) => {
    const subflow: Subflow = { ...decodeAddrs(el, 0), source: 'MPTCP_SUBFLOW_ADDRS' };
    const tcp = tcpInfos[i];
    if (tcp) subflow.tcp = decodeTcpInfo(tcp);
    return subflow;
  });
}

function fromSockname(fd: Fd): Subflow[] {
  const subflow: Subflow = { source: 'getsockname' };
  const local = toSubflowAddress(getsockname(fd));
  const remote = toSubflowAddress(getpeername(fd));
  if (local) subflow.local = local;
  if (remote) subflow.remote = remote;
  return [subflow];
}

/** The option is unknown to this kernel (too old), as opposed to "this socket is not MPTCP". */
function isUnsupported(err: unknown): boolean {
  const code = (err as { code?: string }).code;
  return isOpNotSupp(err) || code === 'ENOPROTOOPT' || code === 'EINVAL';
}

/** Each subflow of an MPTCP connection with its addresses and TCP figures: MPTCP_FULL_INFO, else
 * MPTCP_SUBFLOW_ADDRS + MPTCP_TCPINFO, else (kernels < 5.16) the connection's own addresses.
 * An empty list when the connection does not run MPTCP. */
export function subflows(socket: net.Socket): Subflow[] {
  const fd = handleFd(socket);
  if (fd === undefined || info(socket) === undefined) return [];
  for (const read of [fromFullInfo, fromSubflowAddrs]) {
    try {
      return read(fd);
    } catch (err) {
      if (!isUnsupported(err)) throw err;
    }
  }
  return fromSockname(fd);
}

/** True when more than one subflow of this MPTCP connection is established right now: it uses
 * several paths now. False for a connection that runs MPTCP on one subflow (`runsMptcp()` is
 * true for it), for plain TCP and for a connection that fell back. A subflow whose link died
 * stays established until TCP gives up on it, so this is "established", not "carrying data". */
export function usesSeveralPaths(socket: net.Socket): boolean {
  if (!runsMptcp(socket)) return false;
  const withState = subflows(socket).filter((s) => s.tcp !== undefined);
  if (withState.length > 0) return withState.filter((s) => s.tcp?.state === 'ESTABLISHED').length > 1;
  // Kernels before 5.16 list no subflow states: mptcpi_subflows counts the extra subflows.
  return (info(socket)?.subflows ?? 0) > 0;
}
