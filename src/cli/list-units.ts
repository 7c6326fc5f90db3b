// `sockunit list-units`: every unit of the running manager with its load, active and sub state,
// like `systemctl list-units --all`.

import type { UnitRow } from '../manager/control/snapshot.js';
import { CLIENT_OPTIONS_HELP, callControl, formatTable, runClient } from './control-client.js';
import type { CommandIO } from './io.js';

const USAGE = `Usage: sockunit list-units [OPTIONS]

List the units of the running manager: UNIT, LOAD, ACTIVE, SUB, JOB (the start or stop job
running or waiting for the unit), DESCRIPTION.

Options:
      --no-legend          print neither header nor footer
${CLIENT_OPTIONS_HELP}`;

export const LIST_UNITS_HEADER = ['UNIT', 'LOAD', 'ACTIVE', 'SUB', 'JOB', 'DESCRIPTION'];

export async function listUnitsCommand(argv: string[], io: CommandIO): Promise<number> {
  return runClient('list-units', USAGE, argv, io, { 'no-legend': { type: 'boolean' } }, async (args) => {
    const rows = (await callControl(args.path, 'list-units')) as UnitRow[];
    if (args.json) {
      io.stdout.write(`${JSON.stringify(rows, null, 2)}\n`);
      return 0;
    }
    const table = formatTable(
      LIST_UNITS_HEADER,
      rows.map((r) => [r.unit, r.load, r.active, r.sub, r.job, r.description]),
    );
    if (args.values['no-legend'] === true) io.stdout.write(table.slice(table.indexOf('\n') + 1));
    else io.stdout.write(`${table}\n${rows.length} units listed.\n`);
    return 0;
  });
}
