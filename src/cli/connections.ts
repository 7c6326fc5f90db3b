// `sockunit connections UNIT...`: the live connections on a socket unit's ports, from the kernel
// (so Accept=no services count too): peer, what each runs (mptcp, mptcp->tcp, tcp), how many
// paths it uses now, its subflow count and each subflow's addresses.

import type { ConnectionCounts, UnitConnections } from '../manager/control/connections.js';
import type { UpstreamConnections } from '../manager/control/upstream.js';
import { type ConnectionProtocol, PROTOCOL_MEANING } from '../mptcp/classify.js';
import { formatUpstream } from './connections-upstream.js';
import { CLIENT_OPTIONS_HELP, callControl, formatTable, runClient } from './control-client.js';
import type { CommandIO } from './io.js';

const USAGE = `Usage: sockunit connections [OPTIONS] UNIT...

List the live connections on the TCP/MPTCP ports of socket units, read from the kernel's socket
diagnostics (NETLINK_SOCK_DIAG, as ss -M does). Subflows are indented under their connection.
Below, the connections the unit's service opened itself (a proxy's connections to its target).

PROTOCOL  mptcp       ${PROTOCOL_MEANING.mptcp}
          mptcp->tcp  ${PROTOCOL_MEANING['mptcp->tcp']}
          tcp         ${PROTOCOL_MEANING.tcp}
PATHS     subflows established now; more than one: the connection uses several paths now
Sockets that are not live (TIME-WAIT, SYN-RECV, CLOSE) are counted apart, never as connections.

Options:
${CLIENT_OPTIONS_HELP}`;

export const CONNECTIONS_HEADER = ['LOCAL', 'PEER', 'PROTOCOL', 'STATE', 'PATHS', 'SUBFLOWS'];

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

/** The counts every report prints: `3 live connections: 1 mptcp (1 on several paths now, 2
 * subflows), 1 mptcp->tcp, 1 tcp; 2 not live (TIME-WAIT, SYN-RECV or CLOSE), not counted`. */
export function connectionCountsLine(c: ConnectionCounts): string {
  const live = c.mptcp + c.fallenBack + c.tcp;
  const mptcp = `${c.mptcp} mptcp (${c.severalPaths} on several paths now, ${plural(c.subflows, 'subflow')})`;
  const aside = c.notLive > 0 ? `; ${c.notLive} not live (TIME-WAIT, SYN-RECV or CLOSE), not counted` : '';
  return `${plural(live, 'live connection')}: ${mptcp}, ${c.fallenBack} mptcp->tcp, ${c.tcp} tcp${aside}`;
}

export function formatConnections(u: UnitConnections): string {
  const rows: string[][] = [];
  for (const c of u.connections) {
    rows.push([c.local, c.remote, c.protocol, c.state, String(c.pathsNow), String(c.subflowCount)]);
    for (const s of c.subflows)
      rows.push([`  ${s.local}`, s.remote, 'subflow', s.state, '', `id ${s.localId}/${s.remoteId}`]);
  }
  // The words that appear, spelled out once under the table.
  const present = [...new Set(u.connections.map((c) => c.protocol))] as ConnectionProtocol[];
  const legend = present.map((p) => `  ${p}: ${PROTOCOL_MEANING[p]}\n`).join('');
  const warnings = u.warnings.map((w) => `warning: ${w}\n`).join('');
  return `${u.unit}\n${formatTable(CONNECTIONS_HEADER, rows)}\nOn ${u.ports.join(', ') || 'no TCP/MPTCP port'}: ${connectionCountsLine(u)}.\n${legend}${warnings}`;
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
