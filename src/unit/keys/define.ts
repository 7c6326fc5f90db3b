// The shape of one row of the key table and the small builders the rows are written with. A row
// says everything about a key: where it lives, how its value is read and shown, its default,
// whether specifiers are expanded, whether sockunit acts on it, and since when systemd has it.

import {
  formatTimespan,
  parseBoolean,
  parseInteger,
  parseMode,
  parseSignal,
  parseSize,
  parseTimespan,
  parseUnsigned,
  type Signal,
  ValueError,
} from '../values.js';

export type SectionName = 'Unit' | 'Socket' | 'Service' | 'Install';

/** Which `%` specifiers a value may use: all of them, the restricted set systemd allows in unit
 * names (`Service=`, `Sockets=`), or none (the value is taken as written). */
export type SpecifierSet = 'all' | 'unit-names' | 'none';

/** `scalar`: the last assignment wins. `list`: assignments append, an empty one resets.
 * `list-no-reset`: assignments append and an empty one is refused. */
export type Repetition = 'scalar' | 'list' | 'list-no-reset';

export type Enforcement = { enforced: true } | { enforced: false; reason: string };

export interface ApplyContext {
  unitName: string;
  /** Where the line being applied is. */
  readonly file: string;
  readonly line: number;
  /** Expands specifiers (throws ValueError naming an unknown one). */
  expand(value: string, set: SpecifierSet): string;
  warn(message: string): void;
  notice(message: string): void;
  /** An error that makes the unit `bad-setting`. */
  error(message: string): void;
}

export interface KeyDef<C> {
  section: SectionName;
  name: string;
  /** One line for the key reference. */
  doc: string;
  /** The value grammar in a few words (`boolean`, `time span`, `address`…). */
  type: string;
  /** The config field the value lands in (for the docs and for readers of the table). */
  field?: string;
  /** The default as `show` and the docs print it ('' = unset). */
  default: string;
  repetition: Repetition;
  specifiers: SpecifierSet;
  /** The parser expands specifiers itself (Exec lines: a bad specifier's severity depends on `-`). */
  expandsOwnSpecifiers?: boolean;
  /** The systemd version that added the key (flagged when newer than 257). */
  since?: number;
  /** A second name systemd accepts for the same setting. */
  aliasOf?: string;
  enforcement: Enforcement;
  /** Parses `value` (non-empty unless the key resets on empty) into `config`; throws ValueError. */
  apply(config: C, value: string, ctx: ApplyContext): void;
  /** The effective value(s) for `show`; several strings give several lines. */
  show?(config: C): string | string[];
}

/** How one value type is read and written back. Methods, so a type of `number` fits a field of
 * `number | undefined`. */
export interface ValueType<V> {
  name: string;
  parse(text: string): V;
  format(value: V): string;
}

export const bool: ValueType<boolean> = {
  name: 'boolean',
  parse: parseBoolean,
  format: (v) => (v ? 'yes' : 'no'),
};

export const timespan: ValueType<number> = {
  name: 'time span',
  parse: (s) => parseTimespan(s),
  format: formatTimespan,
};

/** "Fix-0" time spans: `0` means no limit (TimeoutSec=, DeferTriggerMaxSec=). */
export const timespanZeroIsInfinity: ValueType<number> = {
  name: 'time span (0 = infinity)',
  parse: (s) => {
    const v = parseTimespan(s);
    return v === 0 ? Number.POSITIVE_INFINITY : v;
  },
  format: formatTimespan,
};

export const unsigned: ValueType<number> = {
  name: 'unsigned integer',
  parse: (s) => parseUnsigned(s),
  format: String,
};

export const integer: ValueType<number> = {
  name: 'integer',
  parse: (s) => parseInteger(s),
  format: String,
};

export const size: ValueType<number> = {
  name: 'size (K, M, G… base 1024)',
  parse: parseSize,
  format: String,
};

export const mode: ValueType<number> = {
  name: 'octal mode',
  parse: parseMode,
  format: (v) => `0${v.toString(8).padStart(3, '0')}`,
};

export const signal: ValueType<Signal> = {
  name: 'signal',
  parse: parseSignal,
  format: (v) => v.name,
};

export const text: ValueType<string> = {
  name: 'string',
  parse: (s) => s,
  format: (v) => v,
};

export function oneOf<const T extends string>(
  values: readonly T[],
  aliases: Record<string, T> = {},
): ValueType<T> {
  return {
    name: values.join(' | '),
    parse: (s) => {
      if ((values as readonly string[]).includes(s)) return s as T;
      const alias = aliases[s];
      if (alias !== undefined) return alias;
      throw new ValueError(`'${s}' is not a valid value; expected one of ${values.join(', ')}`);
    },
    format: (v) => v,
  };
}

/** An absolute path (after specifiers). */
export const absolutePath: ValueType<string> = {
  name: 'absolute path',
  parse: (s) => {
    if (!s.startsWith('/'))
      throw new ValueError(`'${s}' is not an absolute path; expected a path starting with /`);
    return s;
  },
  format: (v) => v,
};

const ENFORCED: Enforcement = { enforced: true };

interface RowOptions {
  specifiers?: SpecifierSet;
  since?: number;
  default?: string;
  aliasOf?: string;
  /** An empty value restores this (systemd resets some scalars on empty); without it, an empty
   * value goes to the parser (which usually refuses it). */
  emptyResetsTo?: { value: unknown };
}

/** A scalar key stored in one field of a sub-object of the config. */
export function scalarRow<C, O, K extends keyof O>(
  section: SectionName,
  name: string,
  owner: (config: C) => O,
  field: K,
  type: ValueType<Exclude<O[K], undefined>>,
  doc: string,
  options: RowOptions = {},
): KeyDef<C> {
  return {
    section,
    name,
    doc,
    type: type.name,
    field: String(field),
    default: options.default ?? '',
    repetition: 'scalar',
    specifiers: options.specifiers ?? 'none',
    since: options.since,
    aliasOf: options.aliasOf,
    enforcement: ENFORCED,
    apply: (config, value) => {
      if (value === '' && options.emptyResetsTo !== undefined) {
        owner(config)[field] = options.emptyResetsTo.value as O[K];
        return;
      }
      owner(config)[field] = type.parse(value) as O[K];
    },
    show: (config) => {
      const v = owner(config)[field];
      return v === undefined ? '' : type.format(v as Exclude<O[K], undefined>);
    },
  };
}

/** A list key: each assignment's items are appended; an empty assignment clears the list. */
export function listRow<C, O, K extends keyof O>(
  section: SectionName,
  name: string,
  owner: (config: C) => O,
  field: K,
  parseItems: (value: string, ctx: ApplyContext) => unknown[],
  format: (items: O[K]) => string | string[],
  doc: string,
  options: RowOptions & { type?: string; reset?: boolean } = {},
): KeyDef<C> {
  return {
    section,
    name,
    doc,
    type: options.type ?? 'list',
    field: String(field),
    default: options.default ?? '',
    repetition: options.reset === false ? 'list-no-reset' : 'list',
    specifiers: options.specifiers ?? 'none',
    since: options.since,
    aliasOf: options.aliasOf,
    enforcement: ENFORCED,
    apply: (config, value, ctx) => {
      const o = owner(config);
      if (value === '') {
        (o[field] as unknown[]) = [];
        return;
      }
      // Each config gets fresh arrays from its defaults, so appending in place is safe.
      for (const item of parseItems(value, ctx)) (o[field] as unknown[]).push(item);
    },
    show: (config) => format(owner(config)[field]),
  };
}

/** A key systemd knows and sockunit reads but does not act on. The loader records its value and
 * reports it once as "not enforced by sockunit". */
export function notEnforcedRow<C>(
  section: SectionName,
  name: string,
  reason: string,
  options: { since?: number; doc?: string } = {},
): KeyDef<C> {
  return {
    section,
    name,
    doc: options.doc ?? `recognised, not enforced: ${reason}`,
    type: 'as systemd',
    default: '',
    repetition: 'scalar',
    specifiers: 'none',
    since: options.since,
    enforcement: { enforced: false, reason },
    apply: () => {},
  };
}

/** Rows systemd defines for a unit type whose effect sockunit does not produce there (a socket
 * unit's own commands): same names, types and docs, reported as not enforced with `reason`. */
export function asNotEnforced<C>(rows: readonly KeyDef<C>[], reason: string): KeyDef<C>[] {
  return rows.map((k) => ({ ...k, enforcement: { enforced: false, reason }, show: undefined }));
}

/** Blank-separated words with quotes removed (Documentation=, unit lists). */
export function splitBlank(value: string): string[] {
  return value.split(/\s+/).filter((w) => w !== '');
}
