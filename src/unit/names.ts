// Unit names (systemd.unit(5)): `prefix[@instance].type`, templates (`foo@.socket`), and the
// escaping `systemd-escape` applies to turn arbitrary strings and paths into name parts.

import { ValueError } from './values.js';

export const UNIT_TYPES = [
  'service',
  'socket',
  'device',
  'mount',
  'automount',
  'swap',
  'target',
  'path',
  'timer',
  'slice',
  'scope',
] as const;
export type UnitType = (typeof UNIT_TYPES)[number];

/** systemd's UNIT_NAME_MAX (256) minus the terminating NUL. */
export const MAX_UNIT_NAME_LENGTH = 255;

const TYPE_SET: ReadonlySet<string> = new Set(UNIT_TYPES);
const PREFIX_CHARS = /^[A-Za-z0-9:_.\-\\]+$/;
const INSTANCE_CHARS = /^[A-Za-z0-9:_.\-\\@]+$/;

export interface UnitName {
  /** The full name, e.g. `foo@bar.socket`. */
  name: string;
  /** Text before `@` (or before the type suffix when there is no `@`). */
  prefix: string;
  /** The instance, for `foo@bar.socket`; absent for plain names and templates. */
  instance?: string;
  /** True for `foo@.socket`. */
  template: boolean;
  type: UnitType;
}

function isUnitType(s: string): s is UnitType {
  return TYPE_SET.has(s);
}

/** Why `name` is not a valid unit name, or undefined when it is. */
function unitNameProblem(name: string): string | undefined {
  if (name === '') return 'the name is empty';
  if (name.length > MAX_UNIT_NAME_LENGTH) return `the name is longer than ${MAX_UNIT_NAME_LENGTH} characters`;
  const dot = name.lastIndexOf('.');
  if (dot < 0) return 'the name has no type suffix';
  const type = name.slice(dot + 1);
  if (!isUnitType(type)) return `'.${type}' is not a unit type`;
  const stem = name.slice(0, dot);
  const at = stem.indexOf('@');
  if (at === 0) return "the name starts with '@'";
  const prefix = at < 0 ? stem : stem.slice(0, at);
  if (prefix === '') return 'the name has nothing before the type suffix';
  if (!PREFIX_CHARS.test(prefix)) return `'${prefix}' contains characters other than A-Z a-z 0-9 : _ . - \\`;
  if (at >= 0) {
    const instance = stem.slice(at + 1);
    if (instance !== '' && !INSTANCE_CHARS.test(instance)) {
      return `instance '${instance}' contains characters other than A-Z a-z 0-9 : _ . - \\ @`;
    }
  }
  return undefined;
}

const NAME_EXPECTED = `expected PREFIX.TYPE, PREFIX@.TYPE or PREFIX@INSTANCE.TYPE with TYPE one of ${UNIT_TYPES.join(', ')} (use escapeUnitNamePart for other characters)`;

export function isValidUnitName(name: string): boolean {
  return unitNameProblem(name) === undefined;
}

/** Splits a unit name into its parts; throws ValueError saying what is wrong with an invalid one. */
export function parseUnitName(name: string): UnitName {
  const problem = unitNameProblem(name);
  if (problem !== undefined)
    throw new ValueError(`'${name}' is not a valid unit name: ${problem}; ${NAME_EXPECTED}`);
  const dot = name.lastIndexOf('.');
  const type = name.slice(dot + 1) as UnitType;
  const stem = name.slice(0, dot);
  const at = stem.indexOf('@');
  if (at < 0) return { name, prefix: stem, template: false, type };
  const instance = stem.slice(at + 1);
  const prefix = stem.slice(0, at);
  if (instance === '') return { name, prefix, template: true, type };
  return { name, prefix, instance, template: false, type };
}

export function unitType(name: string): UnitType {
  return parseUnitName(name).type;
}

export function isTemplateName(name: string): boolean {
  return isValidUnitName(name) && parseUnitName(name).template;
}

export function isInstanceName(name: string): boolean {
  return isValidUnitName(name) && parseUnitName(name).instance !== undefined;
}

/** `foo@bar.socket` -> `foo@.socket`. Throws for a name that is not an instance. */
export function templateOf(name: string): string {
  const parsed = parseUnitName(name);
  if (parsed.instance === undefined) {
    throw new ValueError(
      `'${name}' is not an instance name; expected PREFIX@INSTANCE.TYPE such as foo@bar.service`,
    );
  }
  return `${parsed.prefix}@.${parsed.type}`;
}

/** `foo@.socket` + `bar` -> `foo@bar.socket`. The instance is used as given (escape it first if needed). */
export function instanceName(template: string, instance: string): string {
  const parsed = parseUnitName(template);
  if (!parsed.template) {
    throw new ValueError(`'${template}' is not a template name; expected PREFIX@.TYPE such as foo@.service`);
  }
  const name = `${parsed.prefix}@${instance}.${parsed.type}`;
  if (instance === '' || !INSTANCE_CHARS.test(instance) || name.length > MAX_UNIT_NAME_LENGTH) {
    throw new ValueError(
      `'${instance}' is not a valid instance for ${template}; expected 1 or more of A-Z a-z 0-9 : _ . - \\ @ (escape it with escapeUnitNamePart) and a name of at most ${MAX_UNIT_NAME_LENGTH} characters`,
    );
  }
  return name;
}

/** The name with a different type suffix: `foo@bar.socket` + `service` -> `foo@bar.service`. */
export function withUnitType(name: string, type: UnitType): string {
  const parsed = parseUnitName(name);
  return `${name.slice(0, name.length - parsed.type.length)}${type}`;
}

// ---- systemd-escape ---------------------------------------------------------------------------

const KEPT_CHARS = /^[A-Za-z0-9:_.]$/;
const encoder = new TextEncoder();
const strictUtf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/**
 * `systemd-escape STRING`: `/` -> `-`, a leading `.` and every byte outside `[A-Za-z0-9:_.]`
 * (including `-` and `\`) -> `\xHH` (lower-case hex), so the result is a valid name part.
 */
export function escapeUnitNamePart(s: string): string {
  let out = '';
  let index = 0;
  for (const ch of s) {
    if (ch === '/') out += '-';
    else if (KEPT_CHARS.test(ch) && !(index === 0 && ch === '.')) out += ch;
    else for (const b of encoder.encode(ch)) out += `\\x${b.toString(16).padStart(2, '0')}`;
    index += ch.length;
  }
  return out;
}

/** `systemd-escape --unescape`: `-` -> `/`, `\xHH` -> byte; any other backslash sequence throws. */
export function unescapeUnitNamePart(s: string): string {
  const bytes: number[] = [];
  for (let i = 0; i < s.length; i++) {
    const ch = s[i]!;
    if (ch === '-') bytes.push(0x2f);
    else if (ch === '\\') {
      const hex = s.slice(i + 1, i + 4);
      if (!/^x[0-9a-fA-F]{2}$/.test(hex)) {
        throw new ValueError(
          `'${s}' has an invalid escape '${s.slice(i, i + 4)}' at position ${i}; expected \\xHH (two hex digits)`,
        );
      }
      bytes.push(Number.parseInt(hex.slice(1), 16));
      i += 3;
    } else for (const b of encoder.encode(ch)) bytes.push(b);
  }
  try {
    return strictUtf8.decode(new Uint8Array(bytes));
  } catch {
    throw new ValueError(`'${s}' unescapes to bytes that are not UTF-8; expected escapes of UTF-8 text`);
  }
}

/** `systemd-escape --path --unescape`: `run-foo` -> `/run/foo`, `-` -> `/`. The result must be a normalized path. */
export function unescapePath(s: string): string {
  if (s === '') throw new ValueError(`escaped path is empty; expected e.g. run-foo or -`);
  if (s === '-') return '/';
  const path = unescapeUnitNamePart(s);
  const parts = path.split('/');
  if (parts.some((p) => p === '' || p === '.' || p === '..')) {
    throw new ValueError(
      `'${s}' unescapes to '${path}', which is not a normalized path; expected no leading, trailing or doubled '-' and no '.' or '..' parts`,
    );
  }
  return `/${path}`;
}
