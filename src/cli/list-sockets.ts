// `sockunit list-sockets`: every open port of the running manager, like `systemctl list-sockets
// --show-types`, with a PROTOCOL column that says `mptcp`, or `mptcp->tcp` where MPTCP fell back.

import type { SocketRow } from '../manager/control/snapshot.js';
import { CLIENT_OPTIONS_HELP, callControl, formatTable, runClient } from './control-client.js';
import type { CommandIO } from './io.js';

const USAGE = `Usage: sockunit list-sockets [OPTIONS]

List the listening ports of the running manager: LISTEN, TYPE, PROTOCOL, UNIT, ACTIVATES.

Options:
      --no-legend          print neither header nor footer
${CLIENT_OPTIONS_HELP}`;

export const LIST_SOCKETS_HEADER = ['LISTEN', 'TYPE', 'PROTOCOL', 'UNIT', 'ACTIVATES'];

export async function listSocketsCommand(argv: string[], io: CommandIO): Promise<number> {
  return runClient('list-sockets', USAGE, argv, io, { 'no-legend': { type: 'boolean' } }, async (args) => {
    const rows = (await callControl(args.path, 'list-sockets')) as SocketRow[];
    if (args.json) {
      io.stdout.write(`${JSON.stringify(rows, null, 2)}\n`);
      return 0;
    }
    const table = formatTable(
      LIST_SOCKETS_HEADER,
      rows.map((r) => [r.listen, r.type, r.protocol, r.unit, r.activates]),
    );
    if (args.values['no-legend'] === true) io.stdout.write(table.slice(table.indexOf('\n') + 1));
    else io.stdout.write(`${table}\n${rows.length} sockets listed.\n`);
    return 0;
  });
}
