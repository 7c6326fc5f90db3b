// `sockunit connections UNIT`: the live connections on a socket unit's TCP/MPTCP ports, read from
// the kernel's socket diagnostics rather than from the manager, so Accept=no services (which
// accept for themselves) are covered. For MPTCP: whether each connection runs multi-path, how
// many subflows it has, and every subflow's addresses, joined to its MPTCP socket by token.

import { decodeMptcpInfo } from '../../mptcp/info.js';
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
  /** `mptcp`; `mptcp->tcp` when the MPTCP connection fell back; `tcp` for plain TCP. */
  protocol: 'mptcp' | 'mptcp->tcp' | 'tcp';
  state: string;
  /** More than one subflow is established right now. */
  multipath: boolean;
  subflowCount: number;
  subflows: SubflowRecord[];
  token?: number;
  bytesSent?: number;
  bytesReceived?: number;
}

export interface UnitConnections {
  unit: string;
  /** The ports looked at, `address:port`. */
  ports: string[];
  connections: ConnectionRecord[];
  mptcp: number;
  fallenBack: number;
  tcp: number;
  subflows: number;
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
    fallenBack: 0,
    tcp: 0,
    subflows: 0,
    warnings: [],
  };
  if (ports.length === 0) return result;
  const onPorts = (s: InetDiagSocket) => ports.some((p) => matches(p, s.local));
  // Filtered to the unit's ports in the kernel. A subflow that joined on another port (an
  // ADD_ADDR with a port) is therefore not listed under its connection; the count still is.
  const portNumbers = [...new Set(ports.map((p) => p.port))];
  const tcp = dumpBoth(dump, 'tcp', portNumbers, result.warnings);
  const wantsMptcp = socket.ports.some(
    (p) => p.spec.kind === 'socket' && p.spec.protocol === 'mptcp' && !p.fellBack,
  );
  const msks = wantsMptcp ? dumpBoth(dump, 'mptcp', portNumbers, result.warnings).filter(onPorts) : [];
  const subflowsByToken = new Map<number, InetDiagSocket[]>();
  for (const s of tcp) {
    if (s.ulp !== 'mptcp' || !s.subflow) continue;
    const list = subflowsByToken.get(s.subflow.tokenLocal) ?? [];
    list.push(s);
    subflowsByToken.set(s.subflow.tokenLocal, list);
  }
  for (const m of msks) {
    const info = m.info ? decodeMptcpInfo(m.info) : undefined;
    const subs = info ? (subflowsByToken.get(info.token) ?? []) : [];
    const established = subs.filter((s) => s.state === 1).length;
    const count = info?.subflowsTotal ?? (info ? info.subflows + 1 : subs.length);
    const record: ConnectionRecord = {
      local: format(m.local),
      remote: format(m.remote),
      protocol: info?.fallback ? 'mptcp->tcp' : 'mptcp',
      state: stateName(m.state),
      multipath: !info?.fallback && Math.max(established, count) > 1,
      subflowCount: info?.fallback ? 1 : Math.max(count, subs.length),
      subflows: subs.map((s) => ({
        local: format(s.local),
        remote: format(s.remote),
        localId: s.subflow?.idLocal ?? 0,
        remoteId: s.subflow?.idRemote ?? 0,
        state: stateName(s.state),
      })),
    };
    if (info) {
      record.token = info.token;
      if (info.bytesSent !== undefined) record.bytesSent = info.bytesSent;
      if (info.bytesReceived !== undefined) record.bytesReceived = info.bytesReceived;
    }
    result.connections.push(record);
  }
  // Plain TCP on the ports: a TCP unit's, or on an MPTCP port a connection that is not MPTCP (a
  // port that fell back to TCP, or a peer without MPTCP, which the kernel hands over as a plain
  // TCP socket): those count as fallen back. An MPTCP subflow is never counted twice.
  for (const s of tcp) {
    if (s.ulp === 'mptcp') continue;
    const port = ports.find((p) => matches(p, s.local));
    if (!port) continue;
    result.connections.push({
      local: format(s.local),
      remote: format(s.remote),
      protocol: port.mptcp ? 'mptcp->tcp' : 'tcp',
      state: stateName(s.state),
      multipath: false,
      subflowCount: 1,
      subflows: [],
    });
  }
  for (const c of result.connections) {
    if (c.protocol === 'mptcp') result.mptcp++;
    else if (c.protocol === 'mptcp->tcp') result.fallenBack++;
    else result.tcp++;
    if (c.protocol === 'mptcp') result.subflows += c.subflowCount;
  }
  return result;
}
