// Keys of systemd.exec(5) about a process's privileges: CapabilityBoundingSet=,
// AmbientCapabilities=, NoNewPrivileges=, SecureBits=, DynamicUser=. Capability lists are read as
// systemd's config_parse_capability_set() reads them: assignments OR together (AND with `~`), an
// empty one resets, names it does not know are left out — sockunit also says so.

import { ALL_CAPABILITY_NUMBERS, capabilityName, parseCapabilityList } from '../capabilities.js';
import type { ExecContext, ExecPrivileges } from '../exec-context.js';
import { ValueError } from '../values.js';
import { bool, type KeyDef, type SectionName, scalarRow, splitBlank } from './define.js';

type WithExec = { exec: ExecContext };
const privileges = (c: WithExec): ExecPrivileges => c.exec.privileges;

function formatCaps(caps: readonly number[]): string {
  return caps.map(capabilityName).join(' ');
}

/** Merges one assignment into the set, as systemd does: the first non-empty assignment (or an
 * empty one, or `~` alone) replaces, later ones add (or, with `~`, take away). */
function mergeCapabilities(
  current: readonly number[],
  atDefault: boolean,
  value: string,
  warn: (message: string) => void,
): number[] {
  const { invert, caps, unknown } = parseCapabilityList(value);
  if (unknown.length > 0)
    warn(
      `unknown capability ${unknown.map((u) => `'${u}'`).join(', ')} left out (systemd ignores it too); expected names such as CAP_NET_BIND_SERVICE (capabilities(7))`,
    );
  const listed = new Set(caps);
  // The default (bounding: unset; ambient: empty) is replaced, and so is anything by an empty
  // list or `~` alone.
  if (caps.length === 0 || atDefault)
    return invert ? ALL_CAPABILITY_NUMBERS.filter((n) => !listed.has(n)) : [...caps];
  if (invert) return current.filter((n) => !listed.has(n));
  return [...new Set([...current, ...caps])].sort((a, b) => a - b);
}

function capabilityRow(
  section: SectionName,
  name: 'CapabilityBoundingSet' | 'AmbientCapabilities',
  doc: string,
): KeyDef<WithExec> {
  return {
    section,
    name,
    doc,
    type: '[~]capability names',
    default: name === 'CapabilityBoundingSet' ? 'all (unchanged)' : 'none',
    repetition: 'list',
    specifiers: 'none',
    enforcement: { enforced: true },
    apply: (c, value, ctx) => {
      const p = c.exec.privileges;
      if (name === 'CapabilityBoundingSet')
        p.capabilityBoundingSet = mergeCapabilities(
          p.capabilityBoundingSet ?? [],
          p.capabilityBoundingSet === undefined,
          value,
          (m) => ctx.warn(m),
        );
      else
        p.ambientCapabilities = mergeCapabilities(
          p.ambientCapabilities,
          p.ambientCapabilities.length === 0,
          value,
          (m) => ctx.warn(m),
        );
    },
    show: (c) => {
      const p = c.exec.privileges;
      if (name === 'AmbientCapabilities') return formatCaps(p.ambientCapabilities);
      return p.capabilityBoundingSet === undefined ? '' : formatCaps(p.capabilityBoundingSet);
    },
  };
}

/** SECBIT_* of linux/securebits.h by systemd's names. */
export const SECURE_BITS: Readonly<Record<string, number>> = {
  noroot: 1 << 0,
  'noroot-locked': 1 << 1,
  'no-setuid-fixup': 1 << 2,
  'no-setuid-fixup-locked': 1 << 3,
  'keep-caps': 1 << 4,
  'keep-caps-locked': 1 << 5,
};

function secureBitsRow(section: SectionName): KeyDef<WithExec> {
  return {
    section,
    name: 'SecureBits',
    doc: 'securebits of the processes (prctl PR_SET_SECUREBITS)',
    type: Object.keys(SECURE_BITS).join(' | '),
    default: '',
    repetition: 'list',
    specifiers: 'all',
    enforcement: { enforced: true },
    apply: (c, value, ctx) => {
      if (value === '') {
        c.exec.privileges.secureBits = 0;
        return;
      }
      const unknown: string[] = [];
      for (const word of splitBlank(value)) {
        const bit = SECURE_BITS[word];
        if (bit === undefined) unknown.push(word);
        else c.exec.privileges.secureBits |= bit;
      }
      if (unknown.length > 0) {
        const message = `unknown securebit ${unknown.map((u) => `'${u}'`).join(', ')}; expected ${Object.keys(SECURE_BITS).join(', ')}`;
        if (unknown.length === splitBlank(value).length) throw new ValueError(message);
        ctx.warn(`${message} (left out)`);
      }
    },
    show: (c) =>
      Object.entries(SECURE_BITS)
        .filter(([, bit]) => (c.exec.privileges.secureBits & bit) !== 0)
        .map(([n]) => n)
        .join(' '),
  };
}

export function execPrivilegeKeys(section: SectionName): KeyDef<WithExec>[] {
  return [
    capabilityRow(section, 'CapabilityBoundingSet', 'capabilities the processes may ever have'),
    capabilityRow(section, 'AmbientCapabilities', 'capabilities kept across exec by a non-root User='),
    scalarRow(
      section,
      'NoNewPrivileges',
      privileges,
      'noNewPrivileges',
      bool,
      'no privileges gained through exec (PR_SET_NO_NEW_PRIVS)',
      { default: 'no (yes with DynamicUser=)' },
    ),
    secureBitsRow(section),
    scalarRow(
      section,
      'DynamicUser',
      privileges,
      'dynamicUser',
      bool,
      'run as a user allocated for the unit (uid 61184-65519)',
      { default: 'no' },
    ),
  ];
}
