// How the commands that read unit files (run, verify, cat, show) find them: the same options in
// each — `-p/--unit-path DIR` (repeatable), `--user` (the user manager's path and specifiers),
// `--system` (systemd's system path, the default of the file commands) — checked the same way.
// A unit named by path has its own directory searched first.

import { statSync } from 'node:fs';
import { basename, dirname, resolve } from 'node:path';
import { defaultSearchPath } from '../unit/load.js';
import type { ManagerKind } from '../unit/specifiers.js';
import type { CommandIO } from './io.js';
import {
  type OptionSpecs,
  type ParsedCommandLine,
  parseCommandLine,
  UNIT_FILE_OPTIONS,
  UsageError,
  usageError,
} from './options.js';

export interface UnitTarget {
  name: string;
  searchPath: string[];
}

/** What the unit-file options asked for. */
export interface UnitPathChoice {
  /** The --unit-path directories, absolute, in order (first wins). */
  dirs: string[];
  manager: ManagerKind;
  /** --system or --user was given: the host's own unit path was chosen explicitly. */
  hostPath: boolean;
}

/** Why `dir` cannot be a unit directory, or undefined when it can. */
export function directoryProblem(dir: string): string | undefined {
  try {
    return statSync(dir).isDirectory() ? undefined : 'is not a directory';
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    return code === 'ENOENT'
      ? 'the directory does not exist'
      : `cannot be read (${code ?? (err as Error).message})`;
  }
}

/** Read and check -p/--unit-path, --user and --system; throws UsageError. */
export function unitPathChoice(values: ParsedCommandLine['values']): UnitPathChoice {
  if (values.user === true && values.system === true)
    throw new UsageError('--user and --system exclude each other: pick the manager whose units to read');
  const dirs = ((values['unit-path'] as string[] | undefined) ?? []).map((d) => {
    const problem = directoryProblem(d);
    if (problem) throw new UsageError(`--unit-path ${d}: ${problem}`);
    return resolve(d);
  });
  return {
    dirs,
    manager: values.user === true ? 'user' : 'system',
    hostPath: values.user === true || values.system === true,
  };
}

export function unitTarget(arg: string, unitPath: readonly string[], manager: ManagerKind): UnitTarget {
  const base = unitPath.length > 0 ? [...unitPath] : defaultSearchPath(manager);
  if (!arg.includes('/')) return { name: arg, searchPath: base };
  const full = resolve(arg);
  return { name: basename(full), searchPath: [dirname(full), ...base] };
}

/** A unit-file command's parsed arguments with the unit path they chose. */
export type UnitFileCommandLine = ParsedCommandLine & { choice: UnitPathChoice };

/**
 * Parse the arguments of verify, cat or show: the shared unit-file options, `extra`, -h/--help.
 * Returns the exit status when the command is over already: its help was printed (0), or a
 * usage mistake (2) — including no positional argument, reported as `missing`. `check` may
 * throw a UsageError of its own about the values.
 */
export function parseUnitFileCommand(
  command: string,
  usage: string,
  argv: string[],
  io: CommandIO,
  options: { extra?: OptionSpecs; missing: string; check?: (values: ParsedCommandLine['values']) => void },
): UnitFileCommandLine | number {
  let parsed: UnitFileCommandLine;
  try {
    const line = parseCommandLine(command, argv, {
      ...options.extra,
      ...UNIT_FILE_OPTIONS,
      help: { type: 'boolean', short: 'h' },
    });
    options.check?.(line.values);
    parsed = { ...line, choice: unitPathChoice(line.values) };
  } catch (e) {
    if (e instanceof UsageError) return usageError(command, usage, e.message, io);
    throw e;
  }
  if (parsed.values.help === true) {
    io.stdout.write(usage);
    return 0;
  }
  if (parsed.positionals.length === 0) return usageError(command, usage, options.missing, io);
  return parsed;
}
