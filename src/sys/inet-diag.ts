// Every TCP or MPTCP socket of a family, read from the kernel's socket diagnostics
// (NETLINK_SOCK_DIAG, inet_diag), as `ss -ti` / `ss -M` read them. This is how connections that
// a service accepted itself (Accept=no) become visible to the manager: nothing else lists them.
// Raw bytes and attributes only; mptcp/ and manager/ decode what they carry.

import { AF_INET, AF_INET6, IPPROTO_MPTCP, IPPROTO_TCP } from './constants.js';
import {
  attributes,
  NLM_F_DUMP,
  NLMSG_HEADER,
  sockDiagExchange,
  sockDiagRequest,
  TCP_LISTEN,
} from './netlink.js';
import { formatIp, type Inet6Addr, type InetAddr } from './sockaddr.js';

const REQ_V2_SIZE = 56;
const INET_DIAG_MSG_SIZE = 72;
const INET_DIAG_INFO = 2;
const INET_DIAG_ULP_INFO = 19;
const INET_DIAG_REQ_BYTECODE = 1;
const INET_DIAG_REQ_PROTOCOL = 3;
const INET_DIAG_BC_JMP = 1;
const INET_DIAG_BC_S_EQ = 11;
/** Past this many ports the filter is left out (a jump offset is a u8 in the bytecode). */
const MAX_FILTER_PORTS = 20;
const INET_ULP_INFO_NAME = 1;
const INET_ULP_INFO_MPTCP = 3;
const MPTCP_SUBFLOW_ATTR_TOKEN_REM = 1;
const MPTCP_SUBFLOW_ATTR_TOKEN_LOC = 2;
const MPTCP_SUBFLOW_ATTR_FLAGS = 8;
const MPTCP_SUBFLOW_ATTR_ID_REM = 9;
const MPTCP_SUBFLOW_ATTR_ID_LOC = 10;
/** Every TCP state but LISTEN (1..11 without 10): the connections of a listener. */
export const CONNECTION_STATES = 0xfff & ~(1 << TCP_LISTEN) & ~1;
// Bounds for one dump: a busy host has thousands of sockets, a few dozen per datagram.
const MAX_DATAGRAMS = 10_000;

/** The MPTCP side of a TCP subflow (the `mptcp` ULP's diag attributes). */
export interface SubflowDiag {
  /** Equals the MPTCP socket's token (mptcp_info.mptcpi_token) it belongs to. */
  tokenLocal: number;
  tokenRemote: number;
  flags: number;
  idLocal: number;
  idRemote: number;
}

export interface InetDiagSocket {
  family: 'inet' | 'inet6';
  /** The kernel TCP state number (1 ESTABLISHED … 10 LISTEN). */
  state: number;
  local: InetAddr | Inet6Addr;
  remote: InetAddr | Inet6Addr;
  inode: number;
  uid: number;
  /** INET_DIAG_INFO: `struct tcp_info` for TCP, `struct mptcp_info` for MPTCP sockets. */
  info?: Buffer;
  /** INET_DIAG_ULP_INFO name, e.g. `mptcp` for an MPTCP subflow. */
  ulp?: string;
  subflow?: SubflowDiag;
}

export interface InetDiagQuery {
  family: 'inet' | 'inet6';
  protocol: 'tcp' | 'mptcp';
  /** Bit mask of TCP states (1 << state). */
  states: number;
  /** Only sockets whose local port is one of these (filtered in the kernel, as `ss sport = :P`
   * does): a dump of a busy host's every socket costs milliseconds of the caller's event loop. */
  localPorts?: readonly number[];
}

/**
 * inet_diag bytecode for `sport == p1 || sport == p2 ...`, laid out as ss compiles an OR: each
 * test jumps to the next on failure; a match reaches a JMP whose `no` lands exactly on the end
 * (accept). The last test's failure jumps 4 bytes past the end (reject).
 */
export function localPortFilter(ports: readonly number[]): Buffer {
  const n = ports.length;
  const buf = Buffer.alloc(12 * n - 4);
  ports.forEach((port, i) => {
    const at = 12 * i;
    const last = i === n - 1;
    buf.writeUInt8(INET_DIAG_BC_S_EQ, at);
    buf.writeUInt8(8, at + 1);
    buf.writeUInt16LE(12, at + 2);
    buf.writeUInt16LE(port, at + 6); // the port sits in the second op's `no`, host order
    if (!last) {
      buf.writeUInt8(INET_DIAG_BC_JMP, at + 8);
      buf.writeUInt8(4, at + 9);
      buf.writeUInt16LE(buf.length - (at + 8), at + 10);
    }
  });
  return buf;
}

function request(q: InetDiagQuery): Buffer {
  const withProtocolAttr = q.protocol === 'mptcp';
  const ports = q.localPorts ?? [];
  const filter = ports.length > 0 && ports.length <= MAX_FILTER_PORTS ? localPortFilter(ports) : undefined;
  const buf = sockDiagRequest(
    REQ_V2_SIZE + (withProtocolAttr ? 8 : 0) + (filter ? 4 + filter.length : 0),
    NLM_F_DUMP,
  );
  buf.writeUInt8(q.family === 'inet' ? AF_INET : AF_INET6, 16);
  // IPPROTO_MPTCP (262) does not fit sdiag_protocol's u8: the kernel takes it from the
  // INET_DIAG_REQ_PROTOCOL attribute instead, as ss does.
  buf.writeUInt8(IPPROTO_TCP, 17);
  buf.writeUInt8(1 << (INET_DIAG_INFO - 1), 18);
  buf.writeUInt32LE(q.states >>> 0, 20);
  if (withProtocolAttr) {
    const at = NLMSG_HEADER + REQ_V2_SIZE;
    buf.writeUInt16LE(8, at);
    buf.writeUInt16LE(INET_DIAG_REQ_PROTOCOL, at + 2);
    buf.writeUInt32LE(IPPROTO_MPTCP, at + 4);
  }
  if (filter) {
    const at = buf.length - 4 - filter.length;
    buf.writeUInt16LE(4 + filter.length, at);
    buf.writeUInt16LE(INET_DIAG_REQ_BYTECODE, at + 2);
    filter.copy(buf, at + 4);
  }
  return buf;
}

function address(family: 'inet' | 'inet6', msg: Buffer, portAt: number, ipAt: number): InetAddr | Inet6Addr {
  const port = msg.readUInt16BE(portAt);
  if (family === 'inet') return { family, address: formatIp(msg.subarray(ipAt, ipAt + 4), 'inet'), port };
  return { family, address: formatIp(msg.subarray(ipAt, ipAt + 16), 'inet6'), port };
}

function decodeSubflow(buf: Buffer): SubflowDiag {
  const sf: SubflowDiag = { tokenLocal: 0, tokenRemote: 0, flags: 0, idLocal: 0, idRemote: 0 };
  for (const [type, v] of attributes(buf)) {
    if (type === MPTCP_SUBFLOW_ATTR_TOKEN_LOC && v.length >= 4) sf.tokenLocal = v.readUInt32LE(0);
    else if (type === MPTCP_SUBFLOW_ATTR_TOKEN_REM && v.length >= 4) sf.tokenRemote = v.readUInt32LE(0);
    else if (type === MPTCP_SUBFLOW_ATTR_FLAGS && v.length >= 4) sf.flags = v.readUInt32LE(0);
    else if (type === MPTCP_SUBFLOW_ATTR_ID_LOC && v.length >= 1) sf.idLocal = v.readUInt8(0);
    else if (type === MPTCP_SUBFLOW_ATTR_ID_REM && v.length >= 1) sf.idRemote = v.readUInt8(0);
  }
  return sf;
}

function decodeMessage(msg: Buffer): InetDiagSocket | undefined {
  if (msg.length < INET_DIAG_MSG_SIZE) return undefined;
  const af = msg.readUInt8(0);
  if (af !== AF_INET && af !== AF_INET6) return undefined;
  const family = af === AF_INET ? 'inet' : 'inet6';
  const s: InetDiagSocket = {
    family,
    state: msg.readUInt8(1),
    local: address(family, msg, 4, 8),
    remote: address(family, msg, 6, 24),
    uid: msg.readUInt32LE(64),
    inode: msg.readUInt32LE(68),
  };
  for (const [type, v] of attributes(msg.subarray(INET_DIAG_MSG_SIZE))) {
    if (type === INET_DIAG_INFO) s.info = Buffer.from(v);
    else if (type === INET_DIAG_ULP_INFO) {
      for (const [t, u] of attributes(v)) {
        if (t === INET_ULP_INFO_NAME) s.ulp = u.toString('latin1').replace(/\0.*$/s, '');
        else if (t === INET_ULP_INFO_MPTCP) s.subflow = decodeSubflow(u);
      }
    }
  }
  return s;
}

/**
 * Dump the sockets matching `q`. Throws a SystemError: from socket() when the kernel has no
 * NETLINK_SOCK_DIAG, or (syscall `sock_diag`) the kernel's netlink error, e.g. ENOENT when the
 * mptcp_diag / tcp_diag module is missing.
 */
export function inetDiagDump(q: InetDiagQuery): InetDiagSocket[] {
  const out: InetDiagSocket[] = [];
  sockDiagExchange(
    request(q),
    (payload) => {
      const s = decodeMessage(payload);
      if (s) out.push(s);
      return false;
    },
    {
      timeoutHint: `no reply to a ${q.protocol} dump`,
      errorHint: `dumping ${q.protocol} sockets of ${q.family}; ENOENT means the kernel has no ${q.protocol === 'mptcp' ? 'mptcp_diag' : 'tcp_diag'} module (modprobe it)`,
      maxDatagrams: MAX_DATAGRAMS,
    },
  );
  return out;
}
