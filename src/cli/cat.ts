// `sockunit cat [-p DIR]... [--user|--system] UNIT...`: the unit file and its drop-ins, each
// headed by `# PATH`, as `systemctl cat` prints them.

import { readFileSync } from 'node:fs';
import { findUnit } from '../unit/load.js';
import type { CommandIO } from './io.js';
import { parseUnitFileCommand, unitTarget } from './unit-target.js';

const USAGE = `Usage: sockunit cat [-p DIR]... [--user|--system] UNIT...

Print a unit file and its drop-ins, each headed by its path. UNIT is a name (searched on the
unit path) or a path to a unit file.

  -p, --unit-path DIR  search DIR instead of the default unit path (repeatable; first wins)
      --user           search the user manager's unit path
      --system         search systemd's system unit path (the default)
  -h, --help           show this help
`;

export async function catCommand(argv: string[], io: CommandIO): Promise<number> {
  const parsed = parseUnitFileCommand('cat', USAGE, argv, io, { missing: 'no unit given' });
  if (typeof parsed === 'number') return parsed;
  const choice = parsed.choice;
  const manager = choice.manager;
  let exit = 0;
  let first = true;
  for (const arg of parsed.positionals) {
    const target = unitTarget(arg, choice.dirs, manager);
    let found: ReturnType<typeof findUnit>;
    try {
      found = findUnit(target.name, target.searchPath);
    } catch (e) {
      io.stderr.write(`sockunit cat: ${arg}: ${(e as Error).message}\n`);
      exit = 1;
      continue;
    }
    if (found.masked) {
      io.stdout.write(
        `${first ? '' : '\n'}# Unit ${target.name} is masked (${found.maskedBy ?? '/dev/null'}).\n`,
      );
      first = false;
      continue;
    }
    // Type-wide drop-ins (socket.d/) apply to every name; without a fragment there is no unit.
    if (found.fragmentPath === undefined) {
      io.stderr.write(
        `sockunit cat: no files found for ${target.name}; searched ${target.searchPath.join(', ')}\n`,
      );
      exit = 1;
      continue;
    }
    for (const path of [
      ...(found.fragmentPath === undefined ? [] : [found.fragmentPath]),
      ...found.dropIns,
    ]) {
      let text: string;
      try {
        text = readFileSync(path, 'utf8');
      } catch (e) {
        io.stderr.write(
          `sockunit cat: cannot read ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}\n`,
        );
        exit = 1;
        continue;
      }
      io.stdout.write(
        `${first ? '' : '\n'}# ${path}\n${text}${text.endsWith('\n') || text === '' ? '' : '\n'}`,
      );
      first = false;
    }
  }
  return exit;
}
