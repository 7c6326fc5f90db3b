// `sockunit show [-p DIR]... [--user|--system] [--property KEY]... UNIT...`: the effective typed
// values of a unit, defaults included, one `Key=value` line each (like `systemctl show`), in the
// order of the key table. `-p` is --unit-path here as in every command that reads unit files;
// systemctl's `-p KEY` is `--property KEY`.

import { formatDiagnostic } from '../unit/diagnostic.js';
import { type KeyDef, SERVICE_TABLE, SOCKET_TABLE } from '../unit/key-table.js';
import { type LoadedUnit, loadUnit, type UnitConfig } from '../unit/load-unit.js';
import type { CommandIO } from './io.js';
import { UsageError } from './options.js';
import { directoryProblem, parseUnitFileCommand, unitTarget } from './unit-target.js';

const USAGE = `Usage: sockunit show [-p DIR]... [--user|--system] [--property KEY]... UNIT...

Print the effective settings of a unit, defaults included, as Key=value lines.

      --property KEY   print only KEY (repeatable; or KEY1,KEY2). systemctl's -p KEY: here -p is
                       --unit-path, as in run, verify and cat
  -p, --unit-path DIR  search DIR instead of the default unit path (repeatable; first wins)
      --user           search the user manager's unit path
      --system         search systemd's system unit path (the default)
  -h, --help           show this help
`;

export async function showCommand(argv: string[], io: CommandIO): Promise<number> {
  const parsed = parseUnitFileCommand('show', USAGE, argv, io, {
    extra: { property: { type: 'string', multiple: true } },
    missing: 'no unit given',
    check: (values) => propertyGivenAsUnitPath(values['unit-path'] as string[] | undefined),
  });
  if (typeof parsed === 'number') return parsed;
  const choice = parsed.choice;
  const manager = choice.manager;
  const wanted = ((parsed.values.property as string[] | undefined) ?? [])
    .flatMap((p) => p.split(','))
    .filter((p) => p !== '');
  const filter = wanted.length === 0 ? undefined : new Set(wanted);
  let exit = 0;
  let first = true;
  for (const arg of parsed.positionals) {
    const target = unitTarget(arg, choice.dirs, manager);
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

/** systemctl's habit `show -p Listen`: a -p value that is no directory but a key name meant
 * --property; say so instead of "the directory does not exist". */
function propertyGivenAsUnitPath(values: readonly string[] | undefined): void {
  const keys = new Set([...SOCKET_TABLE.keys, ...SERVICE_TABLE.keys].map((k) => k.name));
  keys.add('Id').add('LoadState').add('FragmentPath').add('DropInPaths').add('Triggers').add('NotEnforced');
  for (const v of values ?? []) {
    if (directoryProblem(v) === undefined) continue;
    if (v.split(',').every((k) => keys.has(k)))
      throw new UsageError(
        `-p ${v}: -p is --unit-path (as in every sockunit command); for the property use --property ${v}`,
      );
  }
}
