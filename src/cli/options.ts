// Command-line options for every sub-command: Node's parseArgs underneath, sockunit's own words
// on top. A mistake gets one line that says what is wrong and what to do ("unknown option
// '--bogus'; did you mean --unit-path?"), the command's usage line, and where the full help is —
// never Node's raw parse error.

import { parseArgs } from 'node:util';
import { didYouMean } from '../unit/suggest.js';
import type { CommandIO } from './io.js';

export interface OptionSpec {
  type: 'string' | 'boolean';
  short?: string;
  multiple?: boolean;
}
export type OptionSpecs = Record<string, OptionSpec>;

export interface ParsedCommandLine {
  values: Record<string, string | boolean | string[] | undefined>;
  positionals: string[];
}

/** A usage mistake, worded for the user; the command prints it and exits 2. */
export class UsageError extends Error {}

/** The options a command reads unit files with, the same in run, verify, cat and show. */
export const UNIT_FILE_OPTIONS = {
  'unit-path': { type: 'string', short: 'p', multiple: true },
  user: { type: 'boolean' },
  system: { type: 'boolean' },
} as const satisfies OptionSpecs;

function optionNames(specs: OptionSpecs): string[] {
  return Object.entries(specs).flatMap(([long, s]) => [`--${long}`, ...(s.short ? [`-${s.short}`] : [])]);
}

/** Node's parse error, reworded: which option, what is wrong with it, what was meant. */
function reword(command: string, specs: OptionSpecs, err: Error & { code?: string }): string {
  const quoted = /'([^']+)'/.exec(err.message)?.[1] ?? '';
  switch (err.code) {
    case 'ERR_PARSE_ARGS_UNKNOWN_OPTION': {
      const option = quoted.split('=')[0] as string;
      const hint = didYouMean(option, optionNames(specs));
      return `unknown option '${option}'${hint ? `; ${hint}` : ''}`;
    }
    case 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE': {
      // "Option '-p, --unit-path <value>' argument missing" / "Option '--json' does not take an argument"
      const option = /--[\w-]+/.exec(quoted)?.[0] ?? quoted;
      return /does not take/.test(err.message)
        ? `option '${option}' takes no value`
        : `option '${option}' needs a value`;
    }
    case 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL':
      return `unexpected argument '${quoted}': ${command} takes options only`;
    default:
      return err.message;
  }
}

/** Parse `argv` for `command`; throws UsageError with sockunit's wording. */
export function parseCommandLine(
  command: string,
  argv: string[],
  specs: OptionSpecs,
  allowPositionals = true,
): ParsedCommandLine {
  try {
    return parseArgs({ args: argv, options: specs, allowPositionals, strict: true }) as ParsedCommandLine;
  } catch (err) {
    throw new UsageError(reword(command, specs, err as Error & { code?: string }));
  }
}

/** Print a usage mistake: the message, the command's usage line, where the help is. Returns 2,
 * the exit status for bad usage. */
export function usageError(command: string, usage: string, message: string, io: CommandIO): number {
  const line = usage.split('\n').find((l) => l.startsWith('Usage:')) ?? `Usage: sockunit ${command} ...`;
  io.stderr.write(
    `sockunit ${command}: ${message}\n${line}\nRun 'sockunit help ${command}' for every option.\n`,
  );
  return 2;
}
