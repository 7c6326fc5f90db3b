// Word splitting and C-style escapes, as systemd applies them to list and command keys
// (`Exec*=`, `Environment=`, `Sockets=`…): blanks separate words, `'…'`/`"…"` wrap (parts of) a
// word and are removed, a backslash escapes. Scalar keys (and `Listen*=`) take raw text and never
// come through here.

import { ValueError } from './values.js';

const BLANKS = ' \t\n\r';
const SIMPLE_ESCAPES: Record<string, number> = {
  a: 0x07,
  b: 0x08,
  f: 0x0c,
  n: 0x0a,
  r: 0x0d,
  t: 0x09,
  v: 0x0b,
  '\\': 0x5c,
  '"': 0x22,
  "'": 0x27,
  s: 0x20,
};
const ESCAPES_EXPECTED = String.raw`\a \b \f \n \r \t \v \\ \" \' \s \xHH \nnn \uXXXX or \UXXXXXXXX`;

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/**
 * Builds a word. `\xHH` and `\nnn` produce bytes, not characters: bytes of 0x80 and up wait
 * until the next character and are decoded together as UTF-8 (a lone one is an error).
 */
class ByteSink {
  private readonly source: string;
  private out = '';
  private pending: number[] = [];
  constructor(source: string) {
    this.source = source;
  }
  text(s: string): void {
    if (this.pending.length > 0) this.flush();
    this.out += s;
  }
  byte(b: number): void {
    if (b < 0x80 && this.pending.length === 0) this.out += String.fromCharCode(b);
    else this.pending.push(b);
  }
  private flush(): void {
    const bytes = new Uint8Array(this.pending);
    this.pending = [];
    try {
      this.out += utf8.decode(bytes);
    } catch {
      throw new ValueError(
        `escape sequences in '${this.source}' produce bytes that are not UTF-8; expected text`,
      );
    }
  }
  finish(): string {
    if (this.pending.length > 0) this.flush();
    return this.out;
  }
}

function isValidCodePoint(c: number): boolean {
  if (c === 0 || c >= 0x110000) return false;
  if (c >= 0xd800 && c <= 0xdfff) return false; // surrogates are not characters
  if (c >= 0xfdd0 && c <= 0xfdef) return false; // non-characters, refused by systemd too
  return (c & 0xfffe) !== 0xfffe;
}

/**
 * Decodes one escape whose backslash is at `s[i - 1]`; writes its value to `out` and returns the
 * index after it, or returns -1 when it is not a valid escape (the caller decides).
 */
function decodeEscape(s: string, i: number, out: ByteSink): number {
  const c = s[i];
  if (c === undefined) return -1;
  const simple = SIMPLE_ESCAPES[c];
  if (simple !== undefined) {
    out.byte(simple);
    return i + 1;
  }
  if (c === 'x') {
    const hex = s.slice(i + 1, i + 3);
    if (!/^[0-9a-fA-F]{2}$/.test(hex)) return -1;
    const b = Number.parseInt(hex, 16);
    if (b === 0) return -1; // NUL would cut the string in C; systemd refuses it
    out.byte(b);
    return i + 3;
  }
  if (c === 'u' || c === 'U') {
    const n = c === 'u' ? 4 : 8;
    const hex = s.slice(i + 1, i + 1 + n);
    if (hex.length !== n || !/^[0-9a-fA-F]+$/.test(hex)) return -1;
    const cp = Number.parseInt(hex, 16);
    if (!isValidCodePoint(cp)) return -1;
    out.text(String.fromCodePoint(cp));
    return i + 1 + n;
  }
  if (c >= '0' && c <= '7') {
    const oct = s.slice(i, i + 3);
    if (!/^[0-3][0-7]{2}$/.test(oct)) return -1;
    const b = Number.parseInt(oct, 8);
    if (b === 0) return -1;
    out.byte(b);
    return i + 3;
  }
  return -1;
}

function badEscape(s: string, i: number): ValueError {
  const seq = s.slice(i - 1, i + 1);
  if (seq === '\\')
    return new ValueError(`'${s}' ends with a lone backslash; expected an escape such as \\\\`);
  return new ValueError(`invalid escape sequence '${seq}' in '${s}'; expected one of ${ESCAPES_EXPECTED}`);
}

/** The whole string with systemd's C escapes decoded. An unknown or malformed escape throws. */
export function unescapeC(s: string): string {
  if (!s.includes('\\')) return s;
  const out = new ByteSink(s);
  let i = 0;
  while (i < s.length) {
    const c = s[i]!;
    if (c !== '\\') {
      const next = s.indexOf('\\', i);
      const end = next === -1 ? s.length : next;
      out.text(s.slice(i, end));
      i = end;
      continue;
    }
    const after = decodeEscape(s, i + 1, out);
    if (after < 0) throw badEscape(s, i + 1);
    i = after;
  }
  return out.finish();
}

export interface SplitOptions {
  /** Remove `'…'`/`"…"` quoting (quoted blanks do not separate words). */
  unquote: boolean;
  /** Decode C escapes (`\n`, `\x41`…); without it a backslash makes the next character literal. */
  cunescape: boolean;
  /** Keep an unknown escape (and a trailing backslash outside quotes) as written instead of failing
   * (systemd's EXTRACT_UNESCAPE_RELAX, used for command lines). Unbalanced quotes still fail. */
  relax?: boolean;
}

/** Splits `s` into words with systemd's extract_first_word rules. */
export function splitWords(s: string, options: SplitOptions): string[] {
  const words: string[] = [];
  // Fast path: nothing to unquote or unescape.
  if (!/["'\\]/.test(s)) {
    for (const w of s.split(/[ \t\n\r]+/)) if (w !== '') words.push(w);
    return words;
  }
  const relax = options.relax === true;
  let i = 0;
  const n = s.length;
  while (i < n) {
    while (i < n && BLANKS.includes(s[i]!)) i++;
    if (i >= n) break;
    const out = new ByteSink(s);
    let quote: string | undefined;
    while (i < n) {
      const c = s[i]!;
      if (quote === undefined && BLANKS.includes(c)) break;
      if (c === '\\') {
        if (i + 1 >= n) {
          if (relax && quote === undefined) {
            out.byte(0x5c);
            i++;
            break;
          }
          throw quote === undefined
            ? badEscape(s, i + 1)
            : new ValueError(`'${s}' has an unbalanced ${quote} quote; expected a closing ${quote}`);
        }
        if (options.cunescape) {
          const after = decodeEscape(s, i + 1, out);
          if (after >= 0) {
            i = after;
            continue;
          }
          if (!relax) throw badEscape(s, i + 1);
          out.text(`\\${s[i + 1]}`);
        } else {
          out.text(s[i + 1]!);
        }
        i += 2;
        continue;
      }
      if (options.unquote && (c === '"' || c === "'")) {
        if (quote === undefined) quote = c;
        else if (quote === c) quote = undefined;
        else out.text(c);
        i++;
        continue;
      }
      out.text(c);
      i++;
    }
    if (quote !== undefined) {
      throw new ValueError(`'${s}' has an unbalanced ${quote} quote; expected a closing ${quote}`);
    }
    words.push(out.finish());
  }
  return words;
}

const PLAIN_WORD = /^[^\s"'\\\p{Cc}]+$/u;

/**
 * `s` written so that splitWords(…, {unquote: true, cunescape: true}) gives it back as one word:
 * unchanged when it has no blanks, quotes, backslashes or control characters, else in double
 * quotes with C escapes.
 */
export function quoteWord(s: string): string {
  if (PLAIN_WORD.test(s)) return s;
  let body = '';
  for (const ch of s) {
    const code = ch.codePointAt(0)!;
    if (ch === '\\' || ch === '"') body += `\\${ch}`;
    else if (ch === '\n') body += '\\n';
    else if (ch === '\t') body += '\\t';
    else if (ch === '\r') body += '\\r';
    else if (code < 0x20 || code === 0x7f) body += `\\x${code.toString(16).padStart(2, '0')}`;
    else body += ch;
  }
  return `"${body}"`;
}
