// The other side of a proxy: the connections a socket unit's service opened itself, such as
// `sockunit proxy`'s (or systemd-socket-proxyd's) connections to its target. They are on none of
// the unit's ports, so `connections` (connections.ts) cannot find them by port; they are found by
// owner instead: the socket inodes in the service's /proc/PID/fd, looked up in the kernel's
// socket diagnostics. Connections on the unit's own ports (a proxy's clients: the front side,
// which connections.ts lists) are left out. Kept apart from connections.ts, which lists by port.

import { readdirSync, readlinkSync } from 'node:fs';
import { decodeMptcpInfo } from '../../mptcp/info.js';
import { CONNECTION_STATES, type InetDiagSocket, inetDiagDump } from '../../sys/inet-diag.js';
import type { Manager } from '../manager.js';
import type { SocketUnit } from '../socket/socket-unit.js';
import { type DiagDump, format, localPorts, stateName } from './connections.js';

export interface UpstreamConnection {
  local: string;
  remote: string;
  /** `mptcp`; `mptcp->tcp` when the MPTCP connection fell back; `tcp`. */
  protocol: 'mptcp' | 'mptcp->tcp' | 'tcp';
  /** The TCP state number's name as ss prints it (`established`, `close-wait`…). */
  state: string;
  subflowCount: number;
}

export interface UpstreamConnections {
  /** The service whose processes hold them. */
  service: string;
  /** Its main pid; undefined when it is not running. */
  pid: number | undefined;
  connections: UpstreamConnection[];
  warnings: string[];
}

/** The inodes of the sockets process `pid` holds; empty when it is gone. */
export function socketInodes(pid: number): Set<number> {
  const inodes = new Set<number>();
  let fds: string[];
  try {
    fds = readdirSync(`/proc/${pid}/fd`);
  } catch {
    return inodes;
  }
  for (const fd of fds) {
    try {
      const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
      if (m) inodes.add(Number(m[1]));
    } catch {} // closed meanwhile
  }
  return inodes;
}

/** Every connected TCP and MPTCP socket of both families (one kernel dump each), shared by the
 * units looked at in one request or scrape. */
export interface ConnectedSockets {
  mptcp: InetDiagSocket[];
  tcp: InetDiagSocket[];
  warnings: string[];
}

export function connectedSockets(dump: DiagDump = inetDiagDump): ConnectedSockets {
  const out: ConnectedSockets = { mptcp: [], tcp: [], warnings: [] };
  for (const protocol of ['mptcp', 'tcp'] as const)
    for (const family of ['inet', 'inet6'] as const) {
      try {
        out[protocol].push(...dump({ family, protocol, states: CONNECTION_STATES }));
      } catch (err) {
        out.warnings.push(`cannot list ${protocol} sockets of ${family}: ${(err as Error).message}`);
      }
    }
  return out;
}

/** The connections `socket`'s service holds that are not on the unit's ports. `sockets` is
 * read from the kernel when not given (only when the service runs and holds sockets). */
export function upstreamConnections(
  manager: Manager,
  socket: SocketUnit,
  sockets?: () => ConnectedSockets,
): UpstreamConnections {
  const service = socket.config.triggers;
  const pid = manager.services.get(service)?.mainPid;
  const result: UpstreamConnections = { service, pid, connections: [], warnings: [] };
  if (pid === undefined) return result;
  const inodes = socketInodes(pid);
  if (inodes.size === 0) return result;
  const front = new Set(localPorts(socket).map((p) => p.port));
  const mine = (s: InetDiagSocket) => s.inode !== 0 && inodes.has(s.inode) && !front.has(s.local.port);
  const all = sockets ? sockets() : connectedSockets();
  result.warnings.push(...all.warnings);
  for (const s of all.mptcp.filter(mine)) {
    const info = s.info ? decodeMptcpInfo(s.info) : undefined;
    result.connections.push({
      local: format(s.local),
      remote: format(s.remote),
      protocol: info?.fallback ? 'mptcp->tcp' : 'mptcp',
      state: stateName(s.state),
      subflowCount: info && !info.fallback ? (info.subflowsTotal ?? info.subflows + 1) : 1,
    });
  }
  // An MPTCP connection's subflows are TCP sockets of the kernel's own (inode 0): never listed.
  for (const s of all.tcp.filter(mine))
    result.connections.push({
      local: format(s.local),
      remote: format(s.remote),
      protocol: 'tcp',
      state: stateName(s.state),
      subflowCount: 1,
    });
  return result;
}
