// `sockunit show [--user] [--unit-path DIR]... [-p KEY]... UNIT...`: the effective typed values
// of a unit, defaults included, one `Key=value` line each (like `systemctl show`), in the order
// of the key table.

import { parseArgs } from 'node:util';
import { formatDiagnostic } from '../unit/diagnostic.js';
import { type KeyDef, SERVICE_TABLE, SOCKET_TABLE } from '../unit/key-table.js';
import { type LoadedUnit, loadUnit, type UnitConfig } from '../unit/load-unit.js';
import type { CommandIO } from './io.js';
import { unitTarget } from './unit-target.js';

const USAGE = `Usage: sockunit show [--user] [--unit-path DIR]... [-p KEY]... UNIT...

Print the effective settings of a unit, defaults included, as Key=value lines.

  -p, --property KEY  print only KEY (repeatable; or KEY1,KEY2)
  --user              search the user manager's unit path
  --unit-path DIR     search DIR instead of the default unit path (repeatable)
`;

export async function showCommand(argv: string[], io: CommandIO): Promise<number> {
  let parsed: ReturnType<typeof parseShowArgs>;
  try {
    parsed = parseShowArgs(argv);
  } catch (e) {
    io.stderr.write(`sockunit show: ${(e as Error).message}\n${USAGE}`);
    return 2;
  }
  if (parsed.values.help === true) {
    io.stdout.write(USAGE);
    return 0;
  }
  if (parsed.positionals.length === 0) {
    io.stderr.write(`sockunit show: no unit given\n${USAGE}`);
    return 2;
  }
  const manager = parsed.values.user === true ? 'user' : 'system';
  const wanted = (parsed.values.property ?? []).flatMap((p) => p.split(',')).filter((p) => p !== '');
  const filter = wanted.length === 0 ? undefined : new Set(wanted);
  let exit = 0;
  let first = true;
  for (const arg of parsed.positionals) {
    const target = unitTarget(arg, parsed.values['unit-path'] ?? [], manager);
    const unit = loadUnit(target.name, { searchPath: target.searchPath, manager });
    if (unit.loadState !== 'loaded') exit = 1;
    const lines = showLines(unit).filter(([k]) => filter === undefined || filter.has(k));
    if (!first && filter === undefined) io.stdout.write('\n');
    first = false;
    for (const [k, v] of lines) io.stdout.write(`${k}=${v}\n`);
    if (unit.loadState !== 'loaded') {
      for (const d of unit.diagnostics.filter((x) => x.severity === 'error')) {
        io.stderr.write(`${formatDiagnostic(d)}\n`);
      }
    }
  }
  return exit;
}

/** Every property of a loaded unit as [key, value] pairs, in table order. */
export function showLines(unit: LoadedUnit): [string, string][] {
  const lines: [string, string][] = [
    ['Id', unit.name],
    ['LoadState', unit.loadState],
    ['FragmentPath', unit.fragmentPath ?? ''],
    ['DropInPaths', unit.dropIns.join(' ')],
  ];
  const config = unit.config;
  if (config === undefined) return lines;
  if (config.type === 'socket') lines.push(['Triggers', config.triggers]);
  const keys = (
    config.type === 'socket' ? SOCKET_TABLE.keys : SERVICE_TABLE.keys
  ) as readonly KeyDef<UnitConfig>[];
  for (const k of keys) {
    if (!k.enforcement.enforced || k.aliasOf !== undefined || k.show === undefined) continue;
    const v = k.show(config);
    if (typeof v === 'string') lines.push([k.name, v]);
    else if (v.length === 0) lines.push([k.name, '']);
    else for (const item of v) lines.push([k.name, item]);
  }
  lines.push(['NotEnforced', [...new Set(config.notEnforced.map((n) => n.key))].join(' ')]);
  return lines;
}

function parseShowArgs(argv: string[]) {
  return parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      property: { type: 'string', short: 'p', multiple: true },
      user: { type: 'boolean' },
      'unit-path': { type: 'string', multiple: true },
      help: { type: 'boolean', short: 'h' },
    },
  });
}
