// What a connection runs — `mptcp`, `mptcp->tcp` or `tcp` — decided from kernel facts, in one
// place for every report: the library's `protocolOf(socket)`, and `classifySockets()` behind
// `sockunit connections`, `status`, `doctor` and the Prometheus metrics. Each branch names the
// kernel fact it relies on; where the kernel keeps no fact (a server cannot tell a client without
// MPTCP from one whose MPTCP options were removed on the way), the words do not pretend it does.
//
// The words:
// - `mptcp`: the connection runs MPTCP now (one subflow or several);
// - `mptcp->tcp`: fell back — it began MPTCP and lost it later, or a client socket asked for
//   MPTCP and got plain TCP;
// - `tcp`: plain TCP. On a server, a client that did not ask for MPTCP, or whose MP_CAPABLE was
//   removed on the way: the kernel hands both over as the same plain TCP socket.

import type net from 'node:net';
import { IPPROTO_MPTCP, SO_PROTOCOL, SOL_SOCKET } from '../sys/constants.js';
import type { InetDiagSocket } from '../sys/inet-diag.js';
import { type Fd, getsockoptInt } from '../sys/socket.js';
import { decodeMptcpInfo, type MptcpInfo } from './info.js';
import { fdRunsMptcp, handleFd } from './multipath.js';

export type ConnectionProtocol = 'mptcp' | 'mptcp->tcp' | 'tcp';

/** What each word means, as the CLI's help and the README say it. */
export const PROTOCOL_MEANING: Readonly<Record<ConnectionProtocol, string>> = {
  mptcp: 'runs MPTCP now (one subflow or several)',
  'mptcp->tcp': 'fell back: began MPTCP and lost it on the way, or asked for MPTCP and got TCP',
  tcp: 'plain TCP: the client did not ask for MPTCP, or something on the path removed it',
};

/** Kernel TCP state numbers (include/net/tcp_states.h), shared by TCP and MPTCP sockets. */
export const TCP_STATE = {
  ESTABLISHED: 1,
  SYN_SENT: 2,
  SYN_RECV: 3,
  FIN_WAIT1: 4,
  FIN_WAIT2: 5,
  TIME_WAIT: 6,
  CLOSE: 7,
  CLOSE_WAIT: 8,
  LAST_ACK: 9,
  LISTEN: 10,
  CLOSING: 11,
} as const;

/** The states of a connection that is live: set up, and still held by a full socket (data may
 * still move in at least one direction). SYN-RECV is a request sock, not yet a connection;
 * TIME-WAIT a minisock left after the close (it carries no ULP, which made closed MPTCP
 * connections look like plain TCP); CLOSE is gone. None of those is counted. */
const LIVE_STATES: ReadonlySet<number> = new Set([
  TCP_STATE.ESTABLISHED,
  TCP_STATE.FIN_WAIT1,
  TCP_STATE.FIN_WAIT2,
  TCP_STATE.CLOSE_WAIT,
  TCP_STATE.LAST_ACK,
  TCP_STATE.CLOSING,
]);

export function isLiveState(state: number): boolean {
  return LIVE_STATES.has(state);
}

/** The socket's own answer for a connection in this process (client or server side), or
 * undefined without a handle. */
export function protocolOf(
  target: net.Socket | net.Server | null | undefined,
): ConnectionProtocol | undefined {
  const fd = handleFd(target);
  return fd === undefined ? undefined : fdProtocol(fd);
}

export function fdProtocol(fd: Fd): ConnectionProtocol {
  // SO_PROTOCOL is what the socket was created as: 262 for a socket opened with IPPROTO_MPTCP
  // and for a connection an MPTCP listener accepted after an MPTCP handshake; 6 for a plain
  // socket, including what an MPTCP listener hands over for a client without MP_CAPABLE.
  if (getsockoptInt(fd, SOL_SOCKET, SO_PROTOCOL, 'SO_PROTOCOL') !== IPPROTO_MPTCP) return 'tcp';
  // An MPTCP socket that no longer runs MPTCP (TCP_IS_MPTCP 0, or MPTCP_INFO refused) fell back:
  // its peer answered without MP_CAPABLE, or the connection lost MPTCP later.
  return fdRunsMptcp(fd) ? 'mptcp' : 'mptcp->tcp';
}

/** One live connection among the kernel's sockets, classified. */
export interface ClassifiedConnection {
  /** The MPTCP socket for `mptcp`/`mptcp->tcp`, the TCP socket for `tcp`. */
  socket: InetDiagSocket;
  protocol: ConnectionProtocol;
  /** mptcp->tcp: true when the MPTCP handshake had completed (the peer's key was received), so
   * the connection began MPTCP and lost it on the way; false for a client socket whose peer
   * answered without MP_CAPABLE. */
  beganMptcp?: boolean;
  info?: MptcpInfo;
  /** The connection's TCP subflows among the sockets looked at (mptcp only). */
  subflows: InetDiagSocket[];
  /** Subflows the kernel counts for the connection now (1 for tcp and mptcp->tcp). */
  subflowCount: number;
  /** Subflows established now: the paths the connection uses now. */
  pathsNow: number;
}

export interface SocketClassification {
  connections: ClassifiedConnection[];
  /** Sockets that are not live connections (TIME-WAIT, SYN-RECV, CLOSE), by state number. Never
   * counted as connections, let alone as fallbacks. */
  notLive: InetDiagSocket[];
}

/**
 * Classify the kernel's sockets on a set of local ports: `tcp` and `mptcp` are the inet_diag
 * dumps of IPPROTO_TCP and IPPROTO_MPTCP sockets (already filtered to the ports). Every live
 * connection comes out once: an MPTCP connection as its MPTCP socket with its subflows under it,
 * a plain one as its TCP socket.
 */
export function classifySockets(
  tcp: readonly InetDiagSocket[],
  mptcp: readonly InetDiagSocket[],
): SocketClassification {
  const out: SocketClassification = { connections: [], notLive: [] };
  // A TCP socket whose ULP is `mptcp` is an MPTCP subflow (INET_DIAG_ULP_INFO); the ULP's
  // MPTCP_SUBFLOW_ATTR_TOKEN_LOC equals its connection's mptcpi_token. A subflow is part of its
  // connection, never a connection of its own.
  const subflowsByToken = new Map<number, InetDiagSocket[]>();
  for (const s of tcp) {
    if (s.ulp !== 'mptcp' || !s.subflow) continue;
    const list = subflowsByToken.get(s.subflow.tokenLocal) ?? [];
    list.push(s);
    subflowsByToken.set(s.subflow.tokenLocal, list);
  }
  for (const m of mptcp) {
    if (!isLiveState(m.state)) {
      out.notLive.push(m);
      continue;
    }
    // An MPTCP socket exists on a server only once the MP_CAPABLE handshake completed (the
    // third ACK carried MP_CAPABLE); INET_DIAG_INFO carries its struct mptcp_info.
    const info = m.info ? decodeMptcpInfo(m.info) : undefined;
    const subflows = info ? (subflowsByToken.get(info.token) ?? []) : [];
    if (info?.fallback) {
      // MPTCP_INFO_FLAG_FALLBACK: the connection runs plain TCP on its one subflow now. With
      // MPTCP_INFO_FLAG_REMOTE_KEY_RECEIVED the MPTCP handshake had completed, so it lost MPTCP
      // later (data without a DSS mapping: MPTcpExtDssFallback; an infinite mapping after a
      // checksum failure: MPTcpExtInfiniteMapRx); without it, a client's SYN-ACK came back
      // without MP_CAPABLE (MPTcpExtMPCapableFallbackSYNACK).
      out.connections.push({
        socket: m,
        protocol: 'mptcp->tcp',
        beganMptcp: info.remoteKeyReceived,
        info,
        subflows,
        subflowCount: 1,
        pathsNow: 1,
      });
      continue;
    }
    const established = subflows.filter((s) => s.state === TCP_STATE.ESTABLISHED).length;
    // mptcpi_subflows_total (6.8+) counts the subflows that exist; mptcpi_subflows the extra
    // ones. Subflows that joined on another local port are not in a port-filtered dump: they
    // count as established, since the kernel still holds them.
    const counted = info?.subflowsTotal ?? (info ? info.subflows + 1 : subflows.length);
    const subflowCount = Math.max(counted, subflows.length);
    const unseen = Math.max(0, counted - subflows.length);
    out.connections.push({
      socket: m,
      protocol: 'mptcp',
      ...(info ? { info } : {}),
      subflows,
      subflowCount,
      pathsNow: established + unseen,
    });
  }
  for (const s of tcp) {
    if (s.ulp === 'mptcp') continue;
    if (!isLiveState(s.state)) {
      out.notLive.push(s);
      continue;
    }
    // A TCP socket without the mptcp ULP is a plain TCP connection. On an MPTCP listener this is
    // what accept() returns for a SYN without MP_CAPABLE — and, identically, for an MPTCP
    // handshake that fell back during the 3-way handshake (its ACK came without MP_CAPABLE: the
    // kernel drops the subflow context and counts MPTcpExtMPCapableFallbackACK, per host, not
    // per connection). So it is `tcp`, never "fell back".
    out.connections.push({ socket: s, protocol: 'tcp', subflows: [], subflowCount: 1, pathsNow: 1 });
  }
  return out;
}
