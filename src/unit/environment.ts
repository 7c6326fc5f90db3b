// `Environment=` items and `EnvironmentFile=` contents (socket-units.md §6.5). Both are pure: the
// manager reads the file at exec time and hands the text to parseEnvironmentFile.

import { splitWords } from './words.js';

export type EnvironmentAssignment = readonly [name: string, value: string];

export interface ParsedEnvironment {
  assignments: EnvironmentAssignment[];
  /** One message per dropped item: "what is wrong; what is expected". */
  warnings: string[];
}

const NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

export function isValidEnvironmentName(name: string): boolean {
  return NAME.test(name);
}

/** One non-empty `Environment=` value: blank-separated `NAME=value` items, quotes removed, C
 * escapes applied, no `$` expansion. Invalid items are dropped with a warning, as systemd does. */
export function parseEnvironmentAssignments(value: string): ParsedEnvironment {
  const assignments: EnvironmentAssignment[] = [];
  const warnings: string[] = [];
  for (const item of splitWords(value, { unquote: true, cunescape: true, relax: true })) {
    const eq = item.indexOf('=');
    if (eq < 0) {
      warnings.push(`'${item}' has no '='; expected NAME=value`);
      continue;
    }
    const name = item.slice(0, eq);
    if (!NAME.test(name)) {
      warnings.push(
        `'${name}' is not a valid variable name; expected letters, digits and '_', not starting with a digit`,
      );
      continue;
    }
    assignments.push([name, item.slice(eq + 1)]);
  }
  return { assignments, warnings };
}

/** Applies assignments in order (later wins) onto a copy of `base`. */
export function applyEnvironment(
  base: Readonly<Record<string, string>>,
  assignments: readonly EnvironmentAssignment[],
): Record<string, string> {
  const out: Record<string, string> = { ...base };
  for (const [name, value] of assignments) out[name] = value;
  return out;
}

export interface ParsedEnvironmentFile {
  assignments: EnvironmentAssignment[];
  /** `line: message` for each line that was dropped. */
  warnings: { line: number; message: string }[];
}

/** The shell-like format of `EnvironmentFile=`: `NAME=value` lines; `#`/`;` comment lines;
 * a trailing `\` continues a line; `'…'` is literal; `"…"` honours `\"`, `\\`, `\$`, `` \` `` and
 * `\` + newline; outside quotes `\` escapes the next character; unquoted trailing blanks are
 * dropped. An optional `export ` before the name is accepted. */
export function parseEnvironmentFile(text: string): ParsedEnvironmentFile {
  const assignments: EnvironmentAssignment[] = [];
  const warnings: { line: number; message: string }[] = [];
  const src = text.startsWith('\uFEFF') ? text.slice(1) : text;
  let i = 0;
  let line = 1;
  const n = src.length;
  while (i < n) {
    // Start of a logical line: skip blanks.
    while (i < n && (src[i] === ' ' || src[i] === '\t' || src[i] === '\r')) i++;
    if (i >= n) break;
    const c = src[i];
    if (c === '\n') {
      i++;
      line++;
      continue;
    }
    if (c === '#' || c === ';') {
      while (i < n && src[i] !== '\n') i++;
      continue;
    }
    const startLine = line;
    // Key: up to '=' or end of line.
    let key = '';
    while (i < n && src[i] !== '=' && src[i] !== '\n') {
      key += src[i];
      i++;
    }
    if (i >= n || src[i] === '\n') {
      warnings.push({ line: startLine, message: `'${key.trim()}' has no '='; expected NAME=value` });
      continue;
    }
    i++; // '='
    key = key.trim();
    if (key.startsWith('export ') || key.startsWith('export\t')) key = key.slice(7).trim();
    let value = '';
    let pendingBlanks = '';
    let done = false;
    while (i < n && !done) {
      const ch = src[i] as string;
      if (ch === '\n') {
        done = true;
        break;
      }
      if (ch === "'") {
        value += pendingBlanks;
        pendingBlanks = '';
        i++;
        while (i < n && src[i] !== "'") {
          if (src[i] === '\n') line++;
          value += src[i];
          i++;
        }
        i++;
        continue;
      }
      if (ch === '"') {
        value += pendingBlanks;
        pendingBlanks = '';
        i++;
        while (i < n && src[i] !== '"') {
          if (src[i] === '\\' && i + 1 < n) {
            const next = src[i + 1] as string;
            if (next === '\n') {
              line++;
              i += 2;
              continue;
            }
            if ('"\\`$'.includes(next)) {
              value += next;
              i += 2;
              continue;
            }
          }
          if (src[i] === '\n') line++;
          value += src[i];
          i++;
        }
        i++;
        continue;
      }
      if (ch === '\\') {
        const next = src[i + 1];
        if (next === '\n') {
          line++;
          i += 2;
          continue;
        }
        if (next !== undefined) {
          value += pendingBlanks + next;
          pendingBlanks = '';
        }
        i += 2;
        continue;
      }
      if (ch === ' ' || ch === '\t' || ch === '\r') {
        // Blanks before the value are dropped, inside it kept, at its end dropped.
        if (value !== '') pendingBlanks += ch;
        i++;
        continue;
      }
      value += pendingBlanks + ch;
      pendingBlanks = '';
      i++;
    }
    if (!NAME.test(key)) {
      warnings.push({
        line: startLine,
        message: `'${key}' is not a valid variable name; expected letters, digits and '_', not starting with a digit`,
      });
      continue;
    }
    assignments.push([key, value]);
  }
  return { assignments, warnings };
}
