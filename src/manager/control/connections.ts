// `sockunit connections UNIT`: the live connections on a socket unit's TCP/MPTCP ports, read from
// the kernel's socket diagnostics rather than from the manager, so Accept=no services (which
// accept for themselves) are covered. What each connection runs is mptcp/classify.ts's decision;
// for MPTCP: how many paths it uses now, its subflows and their addresses. The same counts feed
// `status`, `doctor` and the metrics.

import { type ConnectionProtocol, classifySockets } from '../../mptcp/classify.js';
import {
  CONNECTION_STATES,
  type InetDiagQuery,
  type InetDiagSocket,
  inetDiagDump,
} from '../../sys/inet-diag.js';
import { formatSockAddr, type Inet6Addr, type InetAddr } from '../../sys/sockaddr.js';
import type { SocketUnit } from '../socket/socket-unit.js';

export interface SubflowRecord {
  local: string;
  remote: string;
  /** MPTCP address ids (0 is the initial subflow's local address). */
  localId: number;
  remoteId: number;
  state: string;
}

export interface ConnectionRecord {
  local: string;
  remote: string;
  /** `mptcp` runs MPTCP now; `mptcp->tcp` fell back (began MPTCP and lost it, or asked for it
   * and got TCP); `tcp` plain TCP (mptcp/classify.ts says which kernel fact decides). */
  protocol: ConnectionProtocol;
  state: string;
  /** Subflows established now (1 for tcp and mptcp->tcp). */
  pathsNow: number;
  /** More than one subflow is established now: the connection uses several paths now. */
  severalPaths: boolean;
  /** Subflows the kernel counts for the connection. */
  subflowCount: number;
  subflows: SubflowRecord[];
  /** mptcp->tcp: the MPTCP handshake had completed, so it lost MPTCP on the way. */
  beganMptcp?: boolean;
  token?: number;
  bytesSent?: number;
  bytesReceived?: number;
}

/** Live connections by what they run, and the sockets left aside: the counts every report
 * (`connections`, `status`, `doctor`, the metrics) shows. */
export interface ConnectionCounts {
  /** Run MPTCP now. */
  mptcp: number;
  /** Of those, use several paths now. */
  severalPaths: number;
  /** Fell back (mptcp->tcp). */
  fallenBack: number;
  /** Plain TCP. */
  tcp: number;
  /** Subflows of the MPTCP connections. */
  subflows: number;
  /** Sockets on the ports that are not live connections (TIME-WAIT, SYN-RECV, CLOSE): not
   * counted above. */
  notLive: number;
}

export interface UnitConnections extends ConnectionCounts {
  unit: string;
  /** The ports looked at, `address:port`. */
  ports: string[];
  /** The live connections. */
  connections: ConnectionRecord[];
  /** Why part of the picture is missing (e.g. no mptcp_diag module). */
  warnings: string[];
}

const TCP_STATES = [
  '',
  'established',
  'syn-sent',
  'syn-recv',
  'fin-wait-1',
  'fin-wait-2',
  'time-wait',
  'close',
  'close-wait',
  'last-ack',
  'listen',
  'closing',
];

export type DiagDump = (q: InetDiagQuery) => InetDiagSocket[];

interface LocalPort {
  family: 'inet' | 'inet6';
  address: string;
  port: number;
  /** The unit asked for MPTCP here (whether or not the port fell back to TCP). */
  mptcp: boolean;
}

function stripMapped(address: string): string {
  return address.replace(/^::ffff:(?=\d+\.\d+\.\d+\.\d+$)/i, '');
}

function isWildcard(address: string): boolean {
  return address === '0.0.0.0' || address === '::';
}

function matches(port: LocalPort, local: InetAddr | Inet6Addr): boolean {
  if (local.port !== port.port) return false;
  if (isWildcard(port.address))
    return port.family === 'inet6' || local.family === 'inet' || stripMapped(local.address) !== local.address;
  return stripMapped(local.address) === stripMapped(port.address);
}

/** The unit's IP stream ports, where connections can exist. */
export function localPorts(socket: SocketUnit): LocalPort[] {
  const out: LocalPort[] = [];
  for (const p of socket.ports) {
    const a = p.address;
    if (p.spec.kind !== 'socket' || p.spec.type !== 'stream' || !a) continue;
    if (a.family === 'inet' || a.family === 'inet6')
      out.push({ family: a.family, address: a.address, port: a.port, mptcp: p.spec.protocol === 'mptcp' });
  }
  return out;
}

export function stateName(n: number): string {
  return TCP_STATES[n] ?? String(n);
}

/** `a.b.c.d:port` for IPv4 and v4-mapped IPv6 (as ss prints them), `[v6]:port` otherwise. */
export function format(a: InetAddr | Inet6Addr): string {
  const plain = stripMapped(a.address);
  return plain !== a.address ? `${plain}:${a.port}` : formatSockAddr(a);
}

function dumpBoth(
  dump: DiagDump,
  protocol: 'tcp' | 'mptcp',
  localPorts: readonly number[],
  warnings: string[],
): InetDiagSocket[] {
  const out: InetDiagSocket[] = [];
  for (const family of ['inet', 'inet6'] as const) {
    try {
      out.push(...dump({ family, protocol, states: CONNECTION_STATES, localPorts }));
    } catch (err) {
      warnings.push(`cannot list ${protocol} sockets of ${family}: ${(err as Error).message}`);
    }
  }
  return out;
}

/** The connections on `socket`'s ports right now. `dump` is the kernel query (replaceable only
 * to run the join on recorded data). */
export function unitConnections(socket: SocketUnit, dump: DiagDump = inetDiagDump): UnitConnections {
  const ports = localPorts(socket);
  const result: UnitConnections = {
    unit: socket.name,
    ports: ports.map((p) =>
      format({ family: p.family, address: p.address, port: p.port } as InetAddr | Inet6Addr),
    ),
    connections: [],
    mptcp: 0,
    severalPaths: 0,
    fallenBack: 0,
    tcp: 0,
    subflows: 0,
    notLive: 0,
    warnings: [],
  };
  if (ports.length === 0) return result;
  const onPorts = (s: InetDiagSocket) => ports.some((p) => matches(p, s.local));
  // Filtered to the unit's ports in the kernel. A subflow that joined on another port (an
  // ADD_ADDR with a port) is therefore not listed under its connection; the count still is.
  const portNumbers = [...new Set(ports.map((p) => p.port))];
  // Subflows are kept whatever their local address (a join may arrive on another address of
  // this host, same port); plain TCP sockets only on the unit's own addresses.
  const tcp = dumpBoth(dump, 'tcp', portNumbers, result.warnings).filter(
    (s) => s.ulp === 'mptcp' || onPorts(s),
  );
  const wantsMptcp = socket.ports.some(
    (p) => p.spec.kind === 'socket' && p.spec.protocol === 'mptcp' && !p.fellBack,
  );
  const msks = wantsMptcp ? dumpBoth(dump, 'mptcp', portNumbers, result.warnings).filter(onPorts) : [];
  const { connections, notLive } = classifySockets(tcp, msks);
  result.notLive = notLive.length;
  for (const c of connections) {
    const record: ConnectionRecord = {
      local: format(c.socket.local),
      remote: format(c.socket.remote),
      protocol: c.protocol,
      state: stateName(c.socket.state),
      pathsNow: c.pathsNow,
      severalPaths: c.pathsNow > 1,
      subflowCount: c.subflowCount,
      subflows: c.subflows.map((s) => ({
        local: format(s.local),
        remote: format(s.remote),
        localId: s.subflow?.idLocal ?? 0,
        remoteId: s.subflow?.idRemote ?? 0,
        state: stateName(s.state),
      })),
    };
    if (c.beganMptcp !== undefined) record.beganMptcp = c.beganMptcp;
    if (c.info) {
      record.token = c.info.token;
      if (c.info.bytesSent !== undefined) record.bytesSent = c.info.bytesSent;
      if (c.info.bytesReceived !== undefined) record.bytesReceived = c.info.bytesReceived;
    }
    result.connections.push(record);
    if (c.protocol === 'mptcp') {
      result.mptcp++;
      result.subflows += c.subflowCount;
      if (record.severalPaths) result.severalPaths++;
    } else if (c.protocol === 'mptcp->tcp') result.fallenBack++;
    else result.tcp++;
  }
  return result;
}

/** The counts of `u`, or undefined when the unit has no TCP/MPTCP port to count on. */
export function connectionCounts(u: UnitConnections): ConnectionCounts | undefined {
  if (u.ports.length === 0) return undefined;
  const { mptcp, severalPaths, fallenBack, tcp, subflows, notLive } = u;
  return { mptcp, severalPaths, fallenBack, tcp, subflows, notLive };
}
