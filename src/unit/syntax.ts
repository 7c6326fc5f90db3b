// The line grammar of unit files (systemd.syntax(7)), as systemd's config parser applies it:
// sections, comments, continuation lines, `Key=value` assignments. Which sections and keys exist
// is decided above (the key table); this layer only splits text into entries and reports the
// lines it had to drop (warnings) or that make the whole file unusable (errors).

import type { Diagnostic } from './diagnostic.js';
import type { Entry } from './entry.js';

/** systemd's LONG_LINE_MAX: a joined line longer than this makes the file unusable. */
export const MAX_LINE_LENGTH = 1024 * 1024;

export interface SectionHeader {
  name: string;
  /** Line of the `[Name]` header. */
  line: number;
}

export interface ParsedUnitText {
  /** Every assignment in file order, raw values (see Entry). */
  entries: Entry[];
  /** Every section header in file order (a section may appear more than once). */
  sections: SectionHeader[];
  diagnostics: Diagnostic[];
  /** True when the file cannot be used at all (bad header, not UTF-8, over-long line); parsing
   * stopped at the first such error, as systemd's does. */
  fatal: boolean;
}

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
const utf8Lenient = new TextDecoder('utf-8', { ignoreBOM: true });
const BOM = '\ufeff';
const ANY_SURROGATE = /[\uD800-\uDFFF]/;
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
// Section names may not contain ASCII control characters, quotes or backslashes (systemd's
// string_is_safe). An empty name is allowed: it is just a section nobody knows.
const UNSAFE_SECTION_CHARS = /[\x00-\x1f\x7f"'\\]/;

interface PhysicalLines {
  lines: string[];
  /** Indexes of lines whose bytes were not valid UTF-8 (only for Buffer input). */
  invalid: Set<number>;
}

function splitLines(text: string | Uint8Array): PhysicalLines {
  const invalid = new Set<number>();
  let decoded: string;
  if (typeof text === 'string') {
    decoded = text;
  } else {
    try {
      decoded = utf8.decode(text);
    } catch {
      // Only lines that are read as assignments or headers need to be UTF-8 (systemd skips
      // comments before checking), so find the bad lines one by one.
      return splitInvalidUtf8Lines(text);
    }
  }
  const lines = splitAtLineBreaks(decoded);
  // A final line break ends the last line; it does not start an empty one.
  if (lines.length > 1 && lines[lines.length - 1] === '') lines.pop();
  // One scan of the whole text; only text with a lone surrogate pays for the per-line search.
  if (typeof text === 'string' && ANY_SURROGATE.test(decoded) && LONE_SURROGATE.test(decoded)) {
    for (let i = 0; i < lines.length; i++) if (LONE_SURROGATE.test(lines[i]!)) invalid.add(i);
  }
  return { lines, invalid };
}

/** Lines ended by \n, \r, \r\n or NUL (a regular-expression split is several times slower on big input). */
function splitAtLineBreaks(text: string): string[] {
  if (text === '') return [];
  if (!text.includes('\r') && !text.includes('\0')) return text.split('\n');
  const lines: string[] = [];
  let start = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x0a || c === 0x0d || c === 0x00) {
      lines.push(text.slice(start, i));
      if (c === 0x0d && text.charCodeAt(i + 1) === 0x0a) i++;
      start = i + 1;
    }
  }
  lines.push(text.slice(start));
  return lines;
}

function splitInvalidUtf8Lines(bytes: Uint8Array): PhysicalLines {
  const lines: string[] = [];
  const invalid = new Set<number>();
  let start = 0;
  const push = (end: number): void => {
    const chunk = bytes.subarray(start, end);
    try {
      lines.push(utf8.decode(chunk));
    } catch {
      invalid.add(lines.length);
      lines.push(utf8Lenient.decode(chunk));
    }
  };
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i];
    if (b === 0x0a || b === 0x0d || b === 0x00) {
      push(i);
      if (b === 0x0d && bytes[i + 1] === 0x0a) i++;
      start = i + 1;
    }
  }
  if (start < bytes.length) push(bytes.length);
  return { lines, invalid };
}

const isBlankChar = (c: number): boolean => c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d;

function firstNonBlank(s: string): string | undefined {
  for (let i = 0; i < s.length; i++) if (!isBlankChar(s.charCodeAt(i))) return s[i];
  return undefined;
}

/** Whether the line ends in a backslash that is not itself escaped (`\\` at the end does not continue). */
function endsWithContinuation(s: string): boolean {
  let backslashes = 0;
  for (let i = s.length - 1; i >= 0 && s.charCodeAt(i) === 0x5c; i--) backslashes++;
  return backslashes % 2 === 1;
}

function utf8Length(s: string): number {
  return Buffer.byteLength(s, 'utf8');
}

function trimBlanks(s: string): string {
  let start = 0;
  let end = s.length;
  while (start < end && isBlankChar(s.charCodeAt(start))) start++;
  while (end > start && isBlankChar(s.charCodeAt(end - 1))) end--;
  return start === 0 && end === s.length ? s : s.slice(start, end);
}

/**
 * Splits unit file text into assignments. `file` is only used to say where diagnostics come
 * from. Buffer input is checked for UTF-8; a string is assumed to be decoded text already.
 */
export function parseUnitText(text: string | Uint8Array, file: string): ParsedUnitText {
  const entries: Entry[] = [];
  const sections: SectionHeader[] = [];
  const diagnostics: Diagnostic[] = [];
  const { lines, invalid } = splitLines(text);
  if (lines.length > 0 && lines[0]!.startsWith(BOM)) lines[0] = lines[0]!.slice(1);

  let section: string | undefined;
  let lineNo = 0;

  const fail = (line: number, message: string): ParsedUnitText => {
    diagnostics.push({ severity: 'error', file, line, message });
    return { entries, sections, diagnostics, fatal: true };
  };
  const warn = (line: number, message: string): void => {
    diagnostics.push({ severity: 'warning', file, line, message });
  };

  /** Handles one logical line; returns an error message when the file cannot be used. */
  const parseLogicalLine = (raw: string, isInvalid: boolean, line: number): string | undefined => {
    const l = trimBlanks(raw);
    if (l === '') return undefined;
    if (isInvalid) return 'line is not valid UTF-8; expected UTF-8 text (convert the file, e.g. with iconv)';
    if (l.charCodeAt(0) === 0x5b /* [ */) {
      if (!l.endsWith(']') || l.length < 2) {
        return `invalid section header '${l}'; expected [Name] alone on its line`;
      }
      const name = l.slice(1, -1);
      if (UNSAFE_SECTION_CHARS.test(name)) {
        return `invalid section name '${name}' in header '${l}'; expected a name without control characters, quotes or backslashes, such as [Socket]`;
      }
      section = name;
      sections.push({ name, line });
      return undefined;
    }
    if (section === undefined) {
      warn(
        line,
        `assignment outside of any section, ignoring it; expected it below a header such as [Socket]`,
      );
      return undefined;
    }
    const eq = l.indexOf('=');
    if (eq < 0) {
      warn(line, `line '${l}' has no '=', ignoring it; expected Key=value`);
      return undefined;
    }
    if (eq === 0) {
      warn(line, `assignment '${l}' has no key before '=', ignoring it; expected Key=value`);
      return undefined;
    }
    entries.push({
      section,
      key: trimBlanks(l.slice(0, eq)),
      value: trimBlanks(l.slice(eq + 1)),
      file,
      line,
    });
    return undefined;
  };

  // A continued line is kept as parts and joined once: joining as we go would copy it again for
  // every physical line (quadratic on a long run of continuations).
  let parts: string[] = [];
  let partsBytes = 0;
  let partsInvalid = false;
  for (let index = 0; index < lines.length; index++) {
    const physical = lines[index]!;
    lineNo = index + 1;
    // Comment lines are skipped even in the middle of a continued line (systemd's rule).
    const first = firstNonBlank(physical);
    if (first === '#' || first === ';') continue;

    const continuing = parts.length > 0;
    const bytes =
      continuing || physical.length * 3 > MAX_LINE_LENGTH ? utf8Length(physical) : physical.length;
    if (partsBytes + bytes > MAX_LINE_LENGTH) {
      return fail(
        lineNo,
        continuing
          ? 'continued line is longer than 1 MiB; expected shorter values (split the unit)'
          : 'line is longer than 1 MiB; expected shorter values (split the unit)',
      );
    }
    const lineInvalid: boolean = partsInvalid || invalid.has(index);
    // The escape state is fresh at each physical line: the previous one ended in a blank.
    if (endsWithContinuation(physical)) {
      // The trailing backslash becomes a blank and the next line is appended as it is.
      parts.push(`${physical.slice(0, -1)} `);
      partsBytes += bytes;
      partsInvalid = lineInvalid;
      continue;
    }
    const joined = continuing ? parts.join('') + physical : physical;
    parts = [];
    partsBytes = 0;
    partsInvalid = false;
    const error = parseLogicalLine(joined, lineInvalid, lineNo);
    if (error !== undefined) return fail(lineNo, error);
  }
  // A continuation still open at the end of the file is parsed as it stands.
  if (parts.length > 0) {
    const error = parseLogicalLine(parts.join(''), partsInvalid, lineNo);
    if (error !== undefined) return fail(lineNo, error);
  }
  return { entries, sections, diagnostics, fatal: false };
}
