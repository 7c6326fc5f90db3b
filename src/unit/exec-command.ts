// `Exec*=` command lines (socket-units.md §6.1): prefixes, word splitting, `;` separators, and
// the `$VAR`/`${VAR}` expansion the manager applies just before exec.

import { ValueError } from './values.js';
import { splitWords } from './words.js';

export interface ExecCommand {
  /** The executable: an absolute path, or a bare name looked up in the fixed search path. */
  path: string;
  /** argv as it will be passed, argv[0] included. */
  argv: string[];
  /** `-`: a failing exit or signal counts as success. */
  ignoreFailure: boolean;
  /** `@`: the word after the executable is argv[0]. */
  argv0FromLine: boolean;
  /** `:`: no `$VAR` expansion. */
  noEnvironmentExpansion: boolean;
  /** `+`: run with full privileges (no User=/Group=, capabilities or namespaces). */
  fullPrivileges: boolean;
  /** `!`: only User=/Group=/SupplementaryGroups= are skipped. */
  noSetCredentials: boolean;
  /** `|` (v258): run through the user's shell with `-c`. */
  viaShell: boolean;
  /** The unit-file line the command came from (set by the loader). */
  origin?: { file: string; line: number };
}

export interface ParsedExecLine {
  commands: ExecCommand[];
  /** Non-fatal remarks (obsolete prefixes). */
  notices: string[];
}

/** Parses one non-empty `Exec*=` value. `expand` replaces the specifiers of each word after the
 * line is split, as systemd does: a word that expands to nothing (`%i` in a unit that is no
 * instance) stays an empty argument. Throws ValueError; whether that fails the unit depends on
 * the `-` prefix (see `execLineIgnoresErrors`). */
export function parseExecLine(value: string, expand: (word: string) => string = (w) => w): ParsedExecLine {
  const notices: string[] = [];
  const commands: ExecCommand[] = [];
  for (const segment of splitAtSeparators(value)) {
    const words = splitWords(segment, { unquote: true, cunescape: true, relax: true }).map((w) =>
      w === '\\;' ? ';' : expand(w),
    );
    if (words.length === 0) throw new ValueError('empty command after ";"; expected a command on each side');
    commands.push(parseCommandWords(words, notices));
  }
  if (commands.length === 0) throw new ValueError('no command; expected an executable and its arguments');
  return { commands, notices };
}

/** True when the first word carries `-`: parse errors on such a line only warn (systemd). */
export function execLineIgnoresErrors(value: string): boolean {
  const match = /^\s*([-@:+!|]*)/.exec(value);
  return match?.[1]?.includes('-') ?? false;
}

function parseCommandWords(words: string[], notices: string[]): ExecCommand {
  const first = words[0] ?? '';
  const command: ExecCommand = {
    path: '',
    argv: [],
    ignoreFailure: false,
    argv0FromLine: false,
    noEnvironmentExpansion: false,
    fullPrivileges: false,
    noSetCredentials: false,
    viaShell: false,
  };
  let i = 0;
  let ambientOnly = false;
  for (; i < first.length; i++) {
    const c = first[i];
    if (c === '-' && !command.ignoreFailure) command.ignoreFailure = true;
    else if (c === '@' && !command.argv0FromLine) command.argv0FromLine = true;
    else if (c === ':' && !command.noEnvironmentExpansion) command.noEnvironmentExpansion = true;
    else if (c === '+' && !command.fullPrivileges) command.fullPrivileges = true;
    else if (c === '|' && !command.viaShell) command.viaShell = true;
    else if (c === '!' && first[i + 1] === '!' && !ambientOnly) {
      ambientOnly = true;
      i++;
    } else if (c === '!' && !command.noSetCredentials) command.noSetCredentials = true;
    else break;
  }
  if (ambientOnly) {
    notices.push("the '!!' prefix was removed in systemd 258 and is ignored; use '!' or drop it");
  }
  if (command.fullPrivileges && (command.noSetCredentials || ambientOnly)) {
    throw new ValueError("the '+' and '!' prefixes exclude each other; expected one of them");
  }
  const rest = [first.slice(i), ...words.slice(1)];
  if (rest[0] === '') rest.shift();
  const executable = rest[0];
  if (executable === undefined) {
    if (command.viaShell && !command.argv0FromLine) {
      // `|` alone starts the user's shell itself (v258).
      return { ...command, path: '', argv: [] };
    }
    throw new ValueError('the command line has no executable; expected an absolute path or a program name');
  }
  checkExecutable(executable);
  command.path = executable;
  if (command.argv0FromLine) {
    const argv0 = rest[1];
    if (argv0 === undefined) {
      throw new ValueError(
        "the '@' prefix needs the argv[0] word after the executable; expected @PATH ARGV0 ARGS…",
      );
    }
    command.argv = rest.slice(1);
  } else {
    command.argv = rest;
  }
  return command;
}

function checkExecutable(path: string): void {
  if (path.startsWith('/')) {
    if (/(^|\/)\.\.?(\/|$)/.test(path) || path.includes('//')) {
      throw new ValueError(
        `executable path '${path}' is not normalized; expected a path without '.', '..' or '//'`,
      );
    }
    if (path.endsWith('/')) throw new ValueError(`executable path '${path}' is a directory; expected a file`);
    return;
  }
  if (path.includes('/')) {
    throw new ValueError(
      `executable path '${path}' is relative; expected an absolute path or a bare program name (looked up in /usr/local/sbin, /usr/local/bin, /usr/sbin, /usr/bin)`,
    );
  }
}

/** Splits raw command text at `;` words (unquoted, standing alone), keeping quoting intact. */
function splitAtSeparators(value: string): string[] {
  const segments: string[] = [];
  let start = 0;
  let quote: string | undefined;
  let wordStart = true;
  for (let i = 0; i < value.length; i++) {
    const c = value[i];
    if (quote !== undefined) {
      if (c === '\\') i++;
      else if (c === quote) quote = undefined;
      wordStart = false;
      continue;
    }
    if (c === '\\') {
      i++;
      wordStart = false;
      continue;
    }
    if (c === '"' || c === "'") {
      quote = c;
      wordStart = false;
      continue;
    }
    if (c === ' ' || c === '\t' || c === '\n') {
      wordStart = true;
      continue;
    }
    const next = value[i + 1];
    if (c === ';' && wordStart && (next === undefined || next === ' ' || next === '\t' || next === '\n')) {
      segments.push(value.slice(start, i));
      start = i + 1;
      continue;
    }
    wordStart = false;
  }
  segments.push(value.slice(start));
  // A trailing `;` ends the line without opening another command (systemd accepts it).
  if (segments.length > 1 && (segments.at(-1) ?? '').trim() === '') segments.pop();
  return segments;
}

const VARIABLE_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** Expands `$VAR`, `${VAR}` and `$$` in the arguments (never the executable nor argv[0]), as
 * the manager does just before exec. A word that is exactly `$VAR` becomes the value split at
 * blanks (quotes respected; unset or empty gives no argument); `${VAR}` inside a word stays one
 * argument. A `:` command is returned unchanged. */
export function expandCommandVariables(
  command: ExecCommand,
  env: Readonly<Record<string, string>>,
): ExecCommand {
  if (command.noEnvironmentExpansion) return command;
  const [argv0, ...args] = command.argv;
  if (argv0 === undefined) return command;
  const out: string[] = [argv0];
  for (const word of args) {
    const whole = /^\$([A-Za-z_][A-Za-z0-9_]*)$/.exec(word);
    if (whole?.[1] !== undefined) {
      const value = env[whole[1]] ?? '';
      out.push(...splitWords(value, { unquote: true, cunescape: false, relax: true }));
      continue;
    }
    out.push(expandInWord(word, env));
  }
  return { ...command, argv: out };
}

function expandInWord(word: string, env: Readonly<Record<string, string>>): string {
  let out = '';
  for (let i = 0; i < word.length; i++) {
    const c = word[i];
    if (c !== '$') {
      out += c;
      continue;
    }
    if (word[i + 1] === '$') {
      out += '$';
      i++;
      continue;
    }
    if (word[i + 1] === '{') {
      const close = word.indexOf('}', i + 2);
      const name = close < 0 ? '' : word.slice(i + 2, close);
      if (VARIABLE_NAME.test(name)) {
        out += env[name] ?? '';
        i = close;
        continue;
      }
    }
    out += c;
  }
  return out;
}

/** How systemctl show writes a command: `{ path=… ; argv[]=… ; ignore_errors=… }`. */
export function formatExecCommand(command: ExecCommand): string {
  const prefixes =
    (command.ignoreFailure ? '-' : '') +
    (command.argv0FromLine ? '@' : '') +
    (command.noEnvironmentExpansion ? ':' : '') +
    (command.fullPrivileges ? '+' : '') +
    (command.noSetCredentials ? '!' : '') +
    (command.viaShell ? '|' : '');
  const words = command.argv0FromLine ? [command.path, ...command.argv] : command.argv;
  return `${prefixes}${words.map(quoteForDisplay).join(' ')}`;
}

function quoteForDisplay(word: string): string {
  if (word !== '' && /^[A-Za-z0-9_@%+=:,./-]+$/.test(word)) return word;
  return `"${word.replace(/[\\"]/g, (c) => `\\${c}`).replace(/\n/g, '\\n')}"`;
}
