// `sockunit connections UNIT...`: the live connections on a socket unit's ports, from the kernel
// (so Accept=no services count too): peer, protocol (mptcp, mptcp->tcp, tcp), whether a
// connection runs multi-path, its subflow count and each subflow's addresses.

import type { UnitConnections } from '../manager/control/connections.js';
import type { UpstreamConnections } from '../manager/control/upstream.js';
import { formatUpstream } from './connections-upstream.js';
import { CLIENT_OPTIONS_HELP, callControl, formatTable, runClient } from './control-client.js';
import type { CommandIO } from './io.js';

const USAGE = `Usage: sockunit connections [OPTIONS] UNIT...

List the connections on the TCP/MPTCP ports of socket units, read from the kernel's socket
diagnostics (NETLINK_SOCK_DIAG, as ss -M does). Subflows are indented under their connection.
Below, the connections the unit's service opened itself (a proxy's connections to its target).

Options:
${CLIENT_OPTIONS_HELP}`;

export const CONNECTIONS_HEADER = ['LOCAL', 'PEER', 'PROTOCOL', 'STATE', 'MULTIPATH', 'SUBFLOWS'];

export function formatConnections(u: UnitConnections): string {
  const rows: string[][] = [];
  for (const c of u.connections) {
    rows.push([c.local, c.remote, c.protocol, c.state, c.multipath ? 'yes' : 'no', String(c.subflowCount)]);
    for (const s of c.subflows)
      rows.push([`  ${s.local}`, s.remote, 'subflow', s.state, '', `id ${s.localId}/${s.remoteId}`]);
  }
  const summary = `${u.connections.length} connections on ${u.ports.join(', ') || 'no TCP/MPTCP port'}: ${u.mptcp} mptcp (${u.subflows} subflows), ${u.fallenBack} fallen back to TCP, ${u.tcp} tcp.`;
  const warnings = u.warnings.map((w) => `warning: ${w}\n`).join('');
  return `${u.unit}\n${formatTable(CONNECTIONS_HEADER, rows)}\n${summary}\n${warnings}`;
}

export async function connectionsCommand(argv: string[], io: CommandIO): Promise<number> {
  return runClient('connections', USAGE, argv, io, {}, async (args) => {
    if (args.positionals.length === 0) {
      io.stderr.write(`sockunit connections: no unit given\n${USAGE}`);
      return 2;
    }
    const result = (await callControl(args.path, 'connections', {
      units: args.positionals,
    })) as (UnitConnections & { upstream?: UpstreamConnections })[];
    if (args.json) io.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
    else io.stdout.write(result.map((u) => formatConnections(u) + formatUpstream(u.upstream)).join('\n'));
    return 0;
  });
}
