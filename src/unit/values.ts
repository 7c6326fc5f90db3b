// Scalar value grammars of unit files (systemd.syntax(7), systemd.time(7)): booleans, time spans,
// sizes, modes, integers, signals, user names. Each parser takes the raw (already trimmed) value
// and either returns the typed value or throws a ValueError whose message says what is wrong and
// what is expected; the caller adds the `file:line: Key=value:` prefix.

import { constants as osConstants } from 'node:os';

/** A value that does not match its grammar. `message` = "what is wrong; what is expected". */
export class ValueError extends Error {
  override name = 'ValueError';
}

const TRUE_WORDS = new Set(['1', 'yes', 'y', 'true', 't', 'on']);
const FALSE_WORDS = new Set(['0', 'no', 'n', 'false', 'f', 'off']);

/** systemd accepts the short forms (`y`, `t`, `n`, `f`) too, although the man page lists only the long ones. */
export function parseBoolean(s: string): boolean {
  const word = s.toLowerCase();
  if (TRUE_WORDS.has(word)) return true;
  if (FALSE_WORDS.has(word)) return false;
  throw new ValueError(`'${s}' is not a boolean; expected yes/no, true/false, on/off or 1/0`);
}

// ---- time spans -------------------------------------------------------------------------------

const USEC_PER_SEC = 1_000_000;
const USEC_PER_MINUTE = 60 * USEC_PER_SEC;
const USEC_PER_HOUR = 60 * USEC_PER_MINUTE;
const USEC_PER_DAY = 24 * USEC_PER_HOUR;
const USEC_PER_WEEK = 7 * USEC_PER_DAY;
// systemd's calendar-free month and year: 30.44 days and 365.25 days.
const USEC_PER_MONTH = 2_629_800 * USEC_PER_SEC;
const USEC_PER_YEAR = 31_557_600 * USEC_PER_SEC;

// Longest spelling first, because units are matched as prefixes of the remaining text (`min`
// before `m`, `ms` before `m`, `months` before `month` before `M`), as systemd does.
const TIME_UNITS: readonly (readonly [string, number])[] = [
  ['seconds', USEC_PER_SEC],
  ['second', USEC_PER_SEC],
  ['sec', USEC_PER_SEC],
  ['s', USEC_PER_SEC],
  ['minutes', USEC_PER_MINUTE],
  ['minute', USEC_PER_MINUTE],
  ['min', USEC_PER_MINUTE],
  ['months', USEC_PER_MONTH],
  ['month', USEC_PER_MONTH],
  ['M', USEC_PER_MONTH],
  ['msec', 1000],
  ['ms', 1000],
  ['m', USEC_PER_MINUTE],
  ['hours', USEC_PER_HOUR],
  ['hour', USEC_PER_HOUR],
  ['hr', USEC_PER_HOUR],
  ['h', USEC_PER_HOUR],
  ['days', USEC_PER_DAY],
  ['day', USEC_PER_DAY],
  ['d', USEC_PER_DAY],
  ['weeks', USEC_PER_WEEK],
  ['week', USEC_PER_WEEK],
  ['w', USEC_PER_WEEK],
  ['years', USEC_PER_YEAR],
  ['year', USEC_PER_YEAR],
  ['y', USEC_PER_YEAR],
  ['usec', 1],
  ['us', 1],
  ['\u03bcs', 1], // Greek small letter mu
  ['\u00b5s', 1], // micro sign
];

export type TimeUnit = 'us' | 'ms' | 's';
const DEFAULT_UNIT_USEC: Record<TimeUnit, number> = { us: 1, ms: 1000, s: USEC_PER_SEC };

const BLANKS = ' \t\n\r';
const isBlank = (c: string | undefined): boolean => c !== undefined && BLANKS.includes(c);
const isDigit = (c: string | undefined): boolean => c !== undefined && c >= '0' && c <= '9';

function skipBlanks(s: string, i: number): number {
  while (isBlank(s[i])) i++;
  return i;
}

/** `0.<digits>` times `multiplier`, truncated, in exact integer arithmetic (0.57 * 100 is 57, not 56). */
function fractionOf(digits: string, multiplier: number): number {
  if (digits === '') return 0;
  return Number((BigInt(digits) * BigInt(multiplier)) / 10n ** BigInt(digits.length));
}

function matchTimeUnit(s: string, i: number): readonly [string, number] | undefined {
  for (const unit of TIME_UNITS) if (s.startsWith(unit[0], i)) return unit;
  return undefined;
}

/**
 * A time span in MICROSECONDS: a sum of `<number>[unit]` terms (`1min 30s`, `1h30m`, `1.5s`,
 * `500ms`), or `infinity` (-> `Number.POSITIVE_INFINITY`). A term without a unit is in
 * `defaultUnit` (seconds unless told otherwise, as for systemd's `*Sec=` keys).
 */
export function parseTimespan(s: string, options: { defaultUnit?: TimeUnit } = {}): number {
  const bad = (): ValueError =>
    new ValueError(`'${s}' is not a time span; expected e.g. 5s, 1min 30s, 500ms or infinity`);
  const defaultUsec = DEFAULT_UNIT_USEC[options.defaultUnit ?? 's'];
  let i = skipBlanks(s, 0);
  if (s.startsWith('infinity', i)) {
    if (skipBlanks(s, i + 'infinity'.length) !== s.length) throw bad();
    return Number.POSITIVE_INFINITY;
  }
  let total = 0;
  let terms = 0;
  for (;;) {
    i = skipBlanks(s, i);
    if (i >= s.length) break;
    if (s[i] === '-') {
      throw new ValueError(`'${s}' is a negative time span; expected a time of 0 or more, e.g. 5s`);
    }
    if (s[i] === '+') i++;
    const intStart = i;
    while (isDigit(s[i])) i++;
    const intPart = s.slice(intStart, i);
    let fracPart = '';
    if (s[i] === '.') {
      const fracStart = ++i;
      while (isDigit(s[i])) i++;
      fracPart = s.slice(fracStart, i);
    }
    if (intPart === '' && fracPart === '') throw bad();
    const afterNumber = i;
    const unitAt = skipBlanks(s, i);
    const unit = matchTimeUnit(s, unitAt);
    // Like systemd: "12.34.56" and "5x" are refused, but a blank may separate two unit-less terms.
    if (unit === undefined && unitAt === afterNumber && unitAt < s.length) throw bad();
    const multiplier = unit?.[1] ?? defaultUsec;
    i = unit === undefined ? unitAt : unitAt + unit[0].length;
    const whole = Number(intPart || '0');
    total += whole * multiplier + fractionOf(fracPart, multiplier);
    terms++;
    if (!Number.isSafeInteger(total)) {
      throw new ValueError(`'${s}' is too long a time span; expected at most ${Number.MAX_SAFE_INTEGER}us`);
    }
  }
  if (terms === 0) throw bad();
  return total;
}

const FORMAT_UNITS: readonly (readonly [string, number])[] = [
  ['y', USEC_PER_YEAR],
  ['month', USEC_PER_MONTH],
  ['w', USEC_PER_WEEK],
  ['d', USEC_PER_DAY],
  ['h', USEC_PER_HOUR],
  ['min', USEC_PER_MINUTE],
  ['s', USEC_PER_SEC],
  ['ms', 1000],
  ['us', 1],
];

/**
 * Microseconds printed the way `systemctl show` prints them (systemd's format_timespan at full
 * accuracy): `1min 30s`, `500ms`, `infinity`, `0`; below one minute a remainder is written as a
 * decimal of the largest unit (`1.500000s`, `1.500ms`). The output parses back with parseTimespan.
 */
export function formatTimespan(usec: number): string {
  if (usec === Number.POSITIVE_INFINITY) return 'infinity';
  if (!Number.isFinite(usec) || usec < 0) {
    throw new ValueError(`${usec} is not a time span in microseconds; expected a number of 0 or more`);
  }
  let t = Math.round(usec);
  if (t === 0) return '0';
  const parts: string[] = [];
  for (const [suffix, size] of FORMAT_UNITS) {
    if (t <= 0) break;
    if (t < size) continue;
    const whole = Math.floor(t / size);
    const rest = t - whole * size;
    if (t < USEC_PER_MINUTE && rest > 0 && size > 1) {
      const digits = String(size).length - 1;
      const fraction = String(rest).padStart(digits, '0');
      parts.push(`${whole}.${fraction}${suffix}`);
      t = 0;
      break;
    }
    parts.push(`${whole}${suffix}`);
    t = rest;
  }
  return parts.join(' ');
}

// ---- sizes ------------------------------------------------------------------------------------

/** Each suffix's power of the base. */
const SIZE_UNITS: Record<string, number> = { E: 6, P: 5, T: 4, G: 3, M: 2, K: 1, B: 0, '': 0 };
const SIZE_ORDER = ['E', 'P', 'T', 'G', 'M', 'K', 'B', ''];
const SIZE_TERM = /^[ \t\n\r]*(\d*)(?:\.(\d*))?[ \t\n\r]*([EPTGMKB]?)/;

/**
 * A size in bytes, base 1024: `512`, `64K`, `1.5M`, `8G`, `1G 512M` (terms in decreasing units,
 * as systemd). Suffixes are upper case; `B` or none means bytes. Base 1000 for the figures
 * systemd reads that way (IO bandwidth and IOPS limits).
 */
export function parseSize(s: string, base: 1024 | 1000 = 1024): number {
  const bad = (): ValueError =>
    new ValueError(
      `'${s}' is not a size; expected a number of bytes with an optional K, M, G, T, P or E suffix`,
    );
  if (/^[ \t\n\r]*-/.test(s)) {
    throw new ValueError(`'${s}' is a negative size; expected 0 or more bytes, e.g. 64K`);
  }
  let rest = s;
  let total = 0;
  let lastRank = -1;
  let terms = 0;
  while (rest.trim() !== '') {
    const m = SIZE_TERM.exec(rest);
    if (m === null) throw bad();
    const [all, intPart = '', fracPart, suffix = ''] = m;
    // systemd wants digits before the point: `.5K` is refused, `10.M` is 10M.
    if (intPart === '') throw bad();
    const rank = SIZE_ORDER.indexOf(suffix);
    if (rank <= lastRank) throw bad();
    lastRank = suffix === '' ? SIZE_ORDER.length : rank;
    const multiplier = base ** (SIZE_UNITS[suffix] ?? 0);
    total += Number(intPart || '0') * multiplier;
    total += fractionOf(fracPart ?? '', multiplier);
    rest = rest.slice(all.length);
    terms++;
    if (!Number.isSafeInteger(total)) {
      throw new ValueError(`'${s}' is too large a size; expected at most ${Number.MAX_SAFE_INTEGER} bytes`);
    }
    // A term without a unit must be the last one ("5 5" is not a size).
    if (suffix === '' && rest.trim() !== '') throw bad();
  }
  if (terms === 0) throw bad();
  return total;
}

// ---- numbers ----------------------------------------------------------------------------------

/** A file mode in octal (`0644`, `755`), at most 07777. */
export function parseMode(s: string): number {
  if (!/^[0-7]+$/.test(s)) {
    throw new ValueError(`'${s}' is not a file mode; expected an octal number such as 0644`);
  }
  const mode = Number.parseInt(s, 8);
  if (mode > 0o7777) {
    throw new ValueError(`'${s}' is too large a file mode; expected an octal number of at most 07777`);
  }
  return mode;
}

/** A decimal number of 0 or more, at most `max` (default 2^32-1, systemd's `unsigned`). */
export function parseUnsigned(s: string, options: { max?: number } = {}): number {
  const max = options.max ?? 0xffff_ffff;
  if (!/^\+?\d+$/.test(s)) {
    throw new ValueError(`'${s}' is not an unsigned number; expected a decimal number of 0 or more`);
  }
  const n = Number(s);
  if (!Number.isSafeInteger(n) || n > max) {
    throw new ValueError(`'${s}' is too large; expected a number between 0 and ${max}`);
  }
  return n;
}

/** A decimal integer, optionally signed, within [min, max] (default: the 32-bit signed range). */
export function parseInteger(s: string, options: { min?: number; max?: number } = {}): number {
  const min = options.min ?? -0x8000_0000;
  const max = options.max ?? 0x7fff_ffff;
  if (!/^[+-]?\d+$/.test(s)) {
    throw new ValueError(`'${s}' is not an integer; expected a decimal number such as 10 or -5`);
  }
  const n = Number(s);
  if (!Number.isSafeInteger(n) || n < min || n > max) {
    throw new ValueError(`'${s}' is out of range; expected a number between ${min} and ${max}`);
  }
  return n;
}

// ---- signals ----------------------------------------------------------------------------------

export interface Signal {
  /** Canonical name with the SIG prefix (`SIGTERM`), or `SIGRTMIN+n` for real-time signals. */
  name: string;
  number: number;
}

// glibc keeps the first two kernel real-time signals for itself; systemd counts RTMIN from 34.
const SIGRTMIN = 34;
const SIGRTMAX = 64;
// Names that are second spellings of a number; they are accepted but never printed.
const SIGNAL_ALIASES = new Set(['SIGIOT', 'SIGPOLL', 'SIGUNUSED', 'SIGCLD', 'SIGLOST', 'SIGINFO']);

const signalsByName = new Map<string, number>();
const signalNames = new Map<number, string>();
for (const [name, number] of Object.entries(osConstants.signals)) {
  signalsByName.set(name, number);
  if (!SIGNAL_ALIASES.has(name) && !signalNames.has(number)) signalNames.set(number, name);
}

function signalName(n: number): string {
  const known = signalNames.get(n);
  if (known !== undefined) return known;
  if (n >= SIGRTMIN && n <= SIGRTMAX) return n === SIGRTMIN ? 'SIGRTMIN' : `SIGRTMIN+${n - SIGRTMIN}`;
  return String(n);
}

/** A signal by name (`TERM`, `SIGTERM`, `RTMIN+3`, `SIGRTMAX-1`) or number (1..64). */
export function parseSignal(s: string): Signal {
  const bad = (): ValueError =>
    new ValueError(
      `'${s}' is not a signal; expected a name such as SIGTERM, TERM or RTMIN+1, or a number 1-64`,
    );
  if (/^\d+$/.test(s)) {
    const n = Number(s);
    if (n < 1 || n > SIGRTMAX) throw bad();
    return { name: signalName(n), number: n };
  }
  const bare = s.startsWith('SIG') ? s.slice(3) : s;
  const known = signalsByName.get(`SIG${bare}`);
  if (known !== undefined) return { name: signalName(known), number: known };
  const rt = /^RT(MIN|MAX)(?:([+-])(\d+))?$/.exec(bare);
  if (rt !== null) {
    const base = rt[1] === 'MIN' ? SIGRTMIN : SIGRTMAX;
    const offset = rt[3] === undefined ? 0 : Number(rt[3]);
    // As systemd: offsets go up from RTMIN and down from RTMAX only.
    if ((rt[1] === 'MIN' && rt[2] === '-') || (rt[1] === 'MAX' && rt[2] === '+')) throw bad();
    const n = rt[1] === 'MIN' ? base + offset : base - offset;
    if (n < SIGRTMIN || n > SIGRTMAX) throw bad();
    return { name: signalName(n), number: n };
  }
  throw bad();
}

// ---- users and groups -------------------------------------------------------------------------

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/**
 * Whether `s` is a user or group name systemd accepts. Strict mode is the portable POSIX-ish
 * rule (`[A-Za-z_][A-Za-z0-9_-]*`, optional trailing `$`, at most 31 chars). The relaxed mode
 * (default, what `User=`/`Group=` use since systemd 246) refuses only what cannot work: empty,
 * `.`/`..`, a leading `-`, `:` or `/`, control characters, leading/trailing blanks, all digits
 * (that is a numeric id, see parseUserName).
 */
export function isValidUserOrGroupName(s: string, options: { strict?: boolean } = {}): boolean {
  if (options.strict === true) return s.length <= 31 && /^[A-Za-z_][A-Za-z0-9_-]*\$?$/.test(s);
  if (s === '' || s === '.' || s === '..' || s.length > 255) return false;
  if (s.startsWith('-') || /^\d+$/.test(s)) return false;
  if (/[:/\p{Cc}]/u.test(s)) return false;
  if (s.trim() !== s) return false;
  return !LONE_SURROGATE.test(s);
}

/**
 * A `User=`/`Group=` value: a user or group name (relaxed rule), or a numeric id (0..2^32-2,
 * not 65535 which is the 16-bit "nobody" sentinel). Returned as written.
 */
export function parseUserName(s: string): string {
  if (/^\d+$/.test(s)) {
    const id = Number(s);
    if (id > 0xffff_fffe || id === 0xffff) {
      throw new ValueError(`'${s}' is not a valid user or group id; expected 0-4294967294, except 65535`);
    }
    return s;
  }
  if (!isValidUserOrGroupName(s)) {
    throw new ValueError(
      `'${s}' is not a valid user or group name; expected a name such as www-data (no ':', '/', control characters or leading '-') or a numeric id`,
    );
  }
  return s;
}
