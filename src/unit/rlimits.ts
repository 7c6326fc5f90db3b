// Limit*= values as systemd parses them (rlimit_parse() in src/basic/rlimit-util.c): `SOFT:HARD`
// or one value for both, `infinity`, and each resource in its own unit — seconds for CPU,
// microseconds for RTTIME, bytes (K, M, G… base 1024) for the sizes, a plain count for the rest,
// and for NICE either the raw limit 0..40 or a nice level written with its sign (`-10`, `+5`).

import type { ResourceLimit, RlimitName } from './exec-context.js';
import { parseSize, parseTimespan, ValueError } from './values.js';

type Unit = 'seconds' | 'microseconds' | 'bytes' | 'count' | 'nice';

const UNITS: Readonly<Record<RlimitName, Unit>> = {
  CPU: 'seconds',
  FSIZE: 'bytes',
  DATA: 'bytes',
  STACK: 'bytes',
  CORE: 'bytes',
  RSS: 'bytes',
  NPROC: 'count',
  NOFILE: 'count',
  MEMLOCK: 'bytes',
  AS: 'bytes',
  LOCKS: 'count',
  SIGPENDING: 'count',
  MSGQUEUE: 'bytes',
  NICE: 'nice',
  RTPRIO: 'count',
  RTTIME: 'microseconds',
};

/** The kernel's resource numbers (asm-generic/resource.h; the same on x86_64 and AArch64). */
export const RLIMIT_NUMBERS: Readonly<Record<RlimitName, number>> = {
  CPU: 0,
  FSIZE: 1,
  DATA: 2,
  STACK: 3,
  CORE: 4,
  RSS: 5,
  NPROC: 6,
  NOFILE: 7,
  MEMLOCK: 8,
  AS: 9,
  LOCKS: 10,
  SIGPENDING: 11,
  MSGQUEUE: 12,
  NICE: 13,
  RTPRIO: 14,
  RTTIME: 15,
};

/** What a value of this limit looks like, for messages and the key reference. */
export function rlimitValueHint(name: RlimitName): string {
  switch (UNITS[name]) {
    case 'seconds':
      return 'seconds or a time span (e.g. 30, 5min), or infinity';
    case 'microseconds':
      return 'microseconds or a time span (e.g. 500ms), or infinity';
    case 'bytes':
      return 'bytes with an optional K, M, G… suffix (base 1024), or infinity';
    case 'nice':
      return 'a raw limit 0-40, or a nice level -20..19 written with its sign (e.g. -10, +5)';
    default:
      return 'a number, or infinity';
  }
}

function parseCount(text: string): number {
  if (!/^[0-9]+$/.test(text)) throw new ValueError(`'${text}' is not a number`);
  const n = Number(text);
  if (!Number.isSafeInteger(n)) throw new ValueError(`'${text}' is too large`);
  return n;
}

function parseNice(text: string): number {
  if (text.startsWith('+')) {
    const level = parseCount(text.slice(1));
    if (level >= 20) throw new ValueError(`nice level '${text}' is out of range`);
    return 20 - level;
  }
  if (text.startsWith('-')) {
    const level = parseCount(text.slice(1));
    if (level > 20) throw new ValueError(`nice level '${text}' is out of range`);
    return 20 + level;
  }
  const raw = parseCount(text);
  if (raw > 40) throw new ValueError(`'${text}' is out of range`);
  return raw;
}

function parseOne(name: RlimitName, text: string): number {
  if (text === 'infinity') return Number.POSITIVE_INFINITY;
  switch (UNITS[name]) {
    case 'seconds': {
      const usec = parseTimespan(text);
      return Number.isFinite(usec) ? Math.ceil(usec / 1_000_000) : Number.POSITIVE_INFINITY;
    }
    case 'microseconds':
      return parseTimespan(text, { defaultUnit: 'us' });
    case 'bytes':
      return parseSize(text);
    case 'nice':
      return parseNice(text);
    default:
      return parseCount(text);
  }
}

/** Parses `SOFT[:HARD]` for Limit`name`=; throws ValueError saying what was expected. */
export function parseResourceLimit(name: RlimitName, text: string): ResourceLimit {
  const parts = text.split(':');
  if (parts.length > 2 || parts.some((p) => p === ''))
    throw new ValueError(`'${text}' is not a limit; expected VALUE or SOFT:HARD`);
  let soft: number;
  let hard: number;
  try {
    soft = parseOne(name, parts[0] as string);
    hard = parts.length === 2 ? parseOne(name, parts[1] as string) : soft;
  } catch (err) {
    if (!(err instanceof ValueError)) throw err;
    throw new ValueError(`'${text}' is not a valid limit; expected ${rlimitValueHint(name)}`);
  }
  if (soft > hard)
    throw new ValueError(
      `soft limit ${formatLimitValue(soft)} is above the hard limit ${formatLimitValue(hard)}; expected SOFT <= HARD`,
    );
  return { soft, hard };
}

export function formatLimitValue(v: number): string {
  return Number.isFinite(v) ? String(v) : 'infinity';
}

/** As systemd shows a limit: one value when soft and hard agree, else `SOFT:HARD`. */
export function formatResourceLimit(limit: ResourceLimit): string {
  return limit.soft === limit.hard
    ? formatLimitValue(limit.soft)
    : `${formatLimitValue(limit.soft)}:${formatLimitValue(limit.hard)}`;
}
