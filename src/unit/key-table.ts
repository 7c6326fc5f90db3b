// The one table of unit-file keys (STYLE.md: systemd's load-fragment table). Typing, verify,
// show and docs/keys.md all read it; a key is added here and nowhere else.

import type { KeyDef, SectionName } from './keys/define.js';
import { INSTALL_KEYS } from './keys/install.js';
import { SERVICE_KEYS } from './keys/service.js';
import { SOCKET_KEYS } from './keys/socket.js';
import { UNIT_KEYS } from './keys/unit.js';
import type { ServiceUnitConfig } from './service-config.js';
import type { SocketUnitConfig } from './socket-config.js';
import type { TargetUnitConfig } from './target-config.js';

export type {
  ApplyContext,
  Enforcement,
  KeyDef,
  Repetition,
  SectionName,
  SpecifierSet,
} from './keys/define.js';

/** The unit types sockunit types fully. */
export type TypedUnitType = 'socket' | 'service' | 'target';

export interface KeyTable<C> {
  type: TypedUnitType;
  /** Sections this unit type may have, in the order docs and show list them. */
  sections: readonly SectionName[];
  keys: readonly KeyDef<C>[];
  /** Section -> key -> row (nested, so a lookup builds no string). */
  index: ReadonlyMap<string, ReadonlyMap<string, KeyDef<C>>>;
  /** `sections` as a set. */
  sectionSet: ReadonlySet<string>;
}

function makeTable<C>(
  type: TypedUnitType,
  sections: readonly SectionName[],
  keys: readonly KeyDef<C>[],
): KeyTable<C> {
  const index = new Map<string, Map<string, KeyDef<C>>>();
  for (const k of keys) {
    let section = index.get(k.section);
    if (section === undefined) {
      section = new Map();
      index.set(k.section, section);
    }
    if (section.has(k.name)) throw new Error(`key table: ${k.section}.${k.name} is defined twice`);
    section.set(k.name, k);
  }
  return { type, sections, keys, index, sectionSet: new Set(sections) };
}

export const SOCKET_TABLE: KeyTable<SocketUnitConfig> = makeTable<SocketUnitConfig>(
  'socket',
  ['Unit', 'Socket', 'Install'],
  [...UNIT_KEYS, ...SOCKET_KEYS, ...INSTALL_KEYS],
);

export const SERVICE_TABLE: KeyTable<ServiceUnitConfig> = makeTable<ServiceUnitConfig>(
  'service',
  ['Unit', 'Service', 'Install'],
  [...UNIT_KEYS, ...SERVICE_KEYS, ...INSTALL_KEYS],
);

export const TARGET_TABLE: KeyTable<TargetUnitConfig> = makeTable<TargetUnitConfig>(
  'target',
  ['Unit', 'Install'],
  [...UNIT_KEYS, ...INSTALL_KEYS],
);

export function findKey<C>(table: KeyTable<C>, section: string, name: string): KeyDef<C> | undefined {
  return table.index.get(section)?.get(name);
}

/** The oldest systemd release sockunit's reference treats as current; keys added later are flagged. */
export const BASELINE_SYSTEMD = 257;

/** A key newer than systemd 257 (the docs flag it: users of an older systemd lack it). */
export function isNewerThanBaseline<C>(key: KeyDef<C>): boolean {
  return (key.since ?? 0) > BASELINE_SYSTEMD;
}

/** docs/keys.md: one table per section, generated from the rows. */
export function renderKeyReference(): string {
  const out: string[] = [
    '# Unit-file keys',
    '',
    'Generated from the key table (`src/unit/key-table.ts`, `renderKeyReference()`); do not edit by hand.',
    'Regenerate: `npx tsc -p tsconfig.test.json && UPDATE_KEYS_DOC=1 node --test .test-build/test/unit-key-table.test.js`.',
    '',
    'Every key systemd knows in these sections is recognised. **enforced**: sockunit acts on it.',
    '**not enforced**: the line is accepted and reported by `sockunit verify` as having no effect.',
    'Specifiers: `all` = every `%` specifier, `names` = the restricted set for unit names, `-` = none.',
    '"since" is the systemd release that added the key; `(258)` marks keys systemd 257 lacks.',
    '',
  ];
  const sections: { title: string; keys: readonly KeyDef<unknown>[] }[] = [
    { title: '[Unit]', keys: SOCKET_TABLE.keys.filter((k) => k.section === 'Unit') as KeyDef<unknown>[] },
    { title: '[Socket]', keys: SOCKET_TABLE.keys.filter((k) => k.section === 'Socket') as KeyDef<unknown>[] },
    {
      title: '[Service]',
      keys: SERVICE_TABLE.keys.filter((k) => k.section === 'Service') as KeyDef<unknown>[],
    },
    {
      title: '[Install]',
      keys: SOCKET_TABLE.keys.filter((k) => k.section === 'Install') as KeyDef<unknown>[],
    },
  ];
  const cell = (s: string): string => s.replace(/\|/g, '\\|');
  for (const { title, keys } of sections) {
    const enforced = keys.filter((k) => k.enforcement.enforced);
    const notEnforced = keys.filter((k) => !k.enforcement.enforced);
    out.push(
      `## ${title}`,
      '',
      '| Key | Type | Default | List | Specifiers | Since | Meaning |',
      '|---|---|---|---|---|---|---|',
    );
    for (const k of enforced) {
      const since =
        k.since === undefined ? '' : isNewerThanBaseline(k) ? `**(${k.since})**` : String(k.since);
      const spec = k.specifiers === 'all' ? 'all' : k.specifiers === 'unit-names' ? 'names' : '-';
      const list =
        k.repetition === 'scalar'
          ? 'last wins'
          : k.repetition === 'list'
            ? 'appends; empty resets'
            : 'appends';
      const doc = k.aliasOf === undefined ? k.doc : `${k.doc} (alias of ${k.aliasOf}=)`;
      out.push(
        `| \`${k.name}=\` | ${cell(k.type)} | ${cell(k.default === '' ? 'unset' : k.default)} | ${list} | ${spec} | ${since} | ${cell(doc)} |`,
      );
    }
    if (notEnforced.length > 0) {
      out.push('', `Not enforced in ${title}:`, '');
      const byReason = new Map<string, string[]>();
      for (const k of notEnforced) {
        const reason = k.enforcement.enforced ? '' : k.enforcement.reason;
        const name = isNewerThanBaseline(k) ? `\`${k.name}=\` (${k.since})` : `\`${k.name}=\``;
        byReason.set(reason, [...(byReason.get(reason) ?? []), name]);
      }
      for (const [reason, names] of byReason) out.push(`- ${reason}: ${names.join(', ')}`);
    }
    out.push('');
  }
  return out.join('\n');
}
