// From unit files to typed config: `typeUnit` applies the key table to parsed entries (pure);
// `loadUnit` and `loadUnitFromPaths` add finding the files, drop-ins and the checks that need
// other units (the service a socket triggers).

import { basename, dirname, resolve } from 'node:path';
import type { Diagnostic } from './diagnostic.js';
import type { Entry, UnitFileText } from './entry.js';
import { defaultExecContext, defaultKillContext } from './exec-context.js';
import { defaultInstallSection } from './install-section.js';
import {
  type ApplyContext,
  findKey,
  type KeyTable,
  SERVICE_TABLE,
  SOCKET_TABLE,
  type SpecifierSet,
  TARGET_TABLE,
} from './key-table.js';
import {
  dependencyDirectoryUnits,
  findUnit,
  type LoadedUnitFiles,
  readUnitFiles,
  type SearchPath,
  type UnitFileChecks,
  UnitPathIndex,
} from './load.js';
import {
  instanceName,
  isInstanceName,
  isTemplateName,
  isValidUnitName,
  templateOf,
  unitType,
} from './names.js';
import { defaultSandboxContext } from './sandbox-config.js';
import { defaultServiceSection, finalizeService, type ServiceUnitConfig } from './service-config.js';
import { defaultSocketSection, finalizeSocket, type SocketUnitConfig } from './socket-config.js';
import {
  expandSpecifiers,
  type ManagerKind,
  type SpecifierContext,
  specifierContext,
  UNIT_NAME_SPECIFIERS,
} from './specifiers.js';
import { didYouMean } from './suggest.js';
import { emptyTargetConfig, type TargetUnitConfig } from './target-config.js';
import { defaultUnitSection } from './unit-section.js';
import { ValueError } from './values.js';

export type UnitLoadState = 'loaded' | 'not-found' | 'bad-setting' | 'error' | 'masked';
export type UnitConfig = SocketUnitConfig | ServiceUnitConfig | TargetUnitConfig;

export interface TypedUnit {
  loadState: 'loaded' | 'bad-setting';
  config?: UnitConfig;
  diagnostics: Diagnostic[];
  /** `X-` keys and the lines of `X-` sections, for the manager (e.g. `X-Sockunit-…`). */
  unknownXKeys: Entry[];
}

export interface LoadedUnit {
  name: string;
  loadState: UnitLoadState;
  config?: UnitConfig;
  fragmentPath?: string;
  dropIns: string[];
  diagnostics: Diagnostic[];
  unknownXKeys: Entry[];
}

export interface TypeUnitOptions {
  manager?: ManagerKind;
  /** Section headers (file, name, line), so an unknown section is reported at its header. */
  sections?: readonly { file: string; name: string; line: number }[];
  /** Expansion context; built from this machine's facts when absent. */
  specifiers?: SpecifierContext;
}

export function emptySocketConfig(name: string): SocketUnitConfig {
  return {
    type: 'socket',
    name,
    unit: defaultUnitSection(),
    socket: defaultSocketSection(),
    exec: defaultExecContext(),
    kill: defaultKillContext(),
    install: defaultInstallSection(),
    origins: {},
    notEnforced: [],
    triggers: '',
  };
}

export function emptyServiceConfig(name: string): ServiceUnitConfig {
  return {
    type: 'service',
    name,
    unit: defaultUnitSection(),
    service: defaultServiceSection(),
    exec: defaultExecContext(),
    kill: defaultKillContext(),
    sandbox: defaultSandboxContext(),
    install: defaultInstallSection(),
    origins: {},
    notEnforced: [],
  };
}

/** Text to typed config, without touching the disk: `files` are the fragment then its drop-ins. */
export function typeUnit(
  name: string,
  files: readonly UnitFileText[],
  options: TypeUnitOptions = {},
): TypedUnit {
  const diagnostics: Diagnostic[] = [];
  const unknownXKeys: Entry[] = [];
  const fragmentPath = files[0]?.path ?? name;
  // The suffix decides the type; loadUnit has validated the whole name already.
  const type = unitType(name);
  if (type !== 'socket' && type !== 'service' && type !== 'target') {
    diagnostics.push({
      severity: 'error',
      file: fragmentPath,
      line: 0,
      message: `sockunit reads only .socket, .service and .target units, not .${type}; expected one of those`,
    });
    return { loadState: 'bad-setting', diagnostics, unknownXKeys };
  }
  // Built on first use: most lines have no specifier.
  let context = options.specifiers;
  const specifiers = (): SpecifierContext => {
    context ??= specifierContext(name, files[0]?.path, options.manager ?? 'system');
    return context;
  };
  let bad: boolean;
  let config: UnitConfig;
  if (type === 'socket') {
    const c = emptySocketConfig(name);
    bad = applyEntries(c, SOCKET_TABLE, files, specifiers, options.sections, diagnostics, unknownXKeys);
    bad = finalizeSocket(c, fragmentPath, diagnostics) || bad;
    config = c;
  } else if (type === 'service') {
    const c = emptyServiceConfig(name);
    bad = applyEntries(c, SERVICE_TABLE, files, specifiers, options.sections, diagnostics, unknownXKeys);
    bad = finalizeService(c, fragmentPath, diagnostics) || bad;
    config = c;
  } else {
    const c = emptyTargetConfig(name);
    bad = applyEntries(c, TARGET_TABLE, files, specifiers, options.sections, diagnostics, unknownXKeys);
    config = c;
  }
  return { loadState: bad ? 'bad-setting' : 'loaded', config, diagnostics, unknownXKeys };
}

/** What a row's parser sees of the line being applied; one per unit, moved from line to line
 * (a class with plain fields, so typing many units keeps one object shape). */
class EntryContext implements ApplyContext {
  entry: Entry = { section: '', key: '', value: '', file: '', line: 0 };
  bad = false;
  readonly unitName: string;
  private readonly specifiers: () => SpecifierContext;
  private readonly diagnostics: Diagnostic[];
  constructor(unitName: string, specifiers: () => SpecifierContext, diagnostics: Diagnostic[]) {
    this.unitName = unitName;
    this.specifiers = specifiers;
    this.diagnostics = diagnostics;
  }
  get file(): string {
    return this.entry.file;
  }
  get line(): number {
    return this.entry.line;
  }
  expand(value: string, set: SpecifierSet): string {
    return expand(value, set, this.specifiers);
  }
  report(severity: Diagnostic['severity'], message: string): void {
    const e = this.entry;
    this.diagnostics.push({ severity, file: e.file, line: e.line, key: e.key, value: e.value, message });
  }
  warn(message: string): void {
    this.report('warning', message);
  }
  notice(message: string): void {
    this.report('notice', message);
  }
  error(message: string): void {
    this.bad = true;
    this.report('error', message);
  }
}

/** Applies every entry through the key table. Returns true when a line made the unit bad-setting. */
function applyEntries<C extends UnitConfig>(
  config: C,
  table: KeyTable<C>,
  files: readonly UnitFileText[],
  specifiers: () => SpecifierContext,
  sections: TypeUnitOptions['sections'],
  diagnostics: Diagnostic[],
  unknownXKeys: Entry[],
): boolean {
  const ctx = new EntryContext(config.name, specifiers, diagnostics);
  const report = (severity: Diagnostic['severity'], message: string): void => ctx.report(severity, message);
  let warnedSections: Set<string> | undefined;
  for (const file of files) {
    for (const entry of file.entries) {
      ctx.entry = entry;
      if (entry.section.startsWith('X-')) {
        unknownXKeys.push(entry);
        continue;
      }
      if (!table.sectionSet.has(entry.section)) {
        const id = `${entry.file}\0${entry.section}`;
        warnedSections ??= new Set();
        if (!warnedSections.has(id)) {
          warnedSections.add(id);
          const header = sections?.find((s) => s.file === entry.file && s.name === entry.section);
          diagnostics.push({
            severity: 'warning',
            file: entry.file,
            line: header?.line ?? entry.line,
            message: `Unknown section [${entry.section}], ignoring its lines; ${didYouMean(entry.section, table.sections, (s) => `[${s}]`) || `expected ${table.sections.map((s) => `[${s}]`).join(', ')}`}`,
          });
        }
        continue;
      }
      const def = findKey(table, entry.section, entry.key);
      if (def === undefined) {
        if (entry.key.startsWith('X-')) {
          unknownXKeys.push(entry);
          continue;
        }
        diagnostics.push({
          severity: 'warning',
          file: entry.file,
          line: entry.line,
          message: `Unknown key name '${entry.key}' in section [${entry.section}], ignoring${keySuggestion(table, entry.section, entry.key)}`,
        });
        continue;
      }
      if (!def.enforcement.enforced) {
        config.notEnforced.push({
          section: entry.section,
          key: entry.key,
          value: entry.value,
          file: entry.file,
          line: entry.line,
          reason: def.enforcement.reason,
        });
        report('notice', `not enforced by sockunit (${def.enforcement.reason}); the line has no effect`);
        continue;
      }
      try {
        let value = entry.value;
        if (value !== '' && !def.expandsOwnSpecifiers) value = expand(value, def.specifiers, specifiers);
        if (value === '' && def.repetition === 'list-no-reset') {
          throw new ValueError(`an empty ${def.name}= does not reset the list; expected one or more values`);
        }
        def.apply(config, value, ctx);
        config.origins[def.aliasOf ?? def.name] = { file: entry.file, line: entry.line, value: entry.value };
      } catch (e) {
        if (!(e instanceof ValueError)) throw e;
        report('warning', `${e.message}; the line is ignored`);
      }
    }
  }
  return ctx.bad;
}

/** `; did you mean Accept=?` for a key one or two edits from a key of its section, or `; Accept=
 * belongs in [Socket]` for a known key in the wrong section; '' otherwise. */
function keySuggestion<C>(table: KeyTable<C>, section: string, key: string): string {
  const hint = didYouMean(key, table.index.get(section)?.keys() ?? [], (k) => `${k}=`);
  if (hint) return `; ${hint}`;
  const home = table.sections.find((s) => s !== section && findKey(table, s, key) !== undefined);
  return home ? `; ${key}= belongs in [${home}]` : '';
}

function expand(value: string, set: SpecifierSet, specifiers: () => SpecifierContext): string {
  if (set === 'none' || !value.includes('%')) return value;
  return expandSpecifiers(value, specifiers(), set === 'unit-names' ? UNIT_NAME_SPECIFIERS : undefined);
}

/** The instance a template is typed with when it is loaded by its template name. */
export const TEMPLATE_CHECK_INSTANCE = 'test_instance';

export interface LoadUnitOptions {
  /** Directories to search, highest priority first (or a prebuilt index for many loads). */
  searchPath: SearchPath | UnitPathIndex;
  manager?: ManagerKind;
}

/** Finds, reads and types unit `name`, then checks what depends on other units. */
export function loadUnit(name: string, options: LoadUnitOptions): LoadedUnit {
  if (!isValidUnitName(name)) {
    return {
      name,
      loadState: 'error',
      dropIns: [],
      unknownXKeys: [],
      diagnostics: [
        {
          severity: 'error',
          file: name,
          line: 0,
          message: `'${name}' is not a valid unit name; expected NAME.socket, NAME.service or NAME.target`,
        },
      ],
    };
  }
  const index =
    options.searchPath instanceof UnitPathIndex ? options.searchPath : new UnitPathIndex(options.searchPath);
  const files = readUnitFiles(name, index);
  return typeLoadedFiles(name, files, index, options.manager);
}

function typeLoadedFiles(
  name: string,
  files: LoadedUnitFiles,
  index: UnitPathIndex,
  manager: ManagerKind | undefined,
): LoadedUnit {
  const base: LoadedUnit = {
    name,
    loadState: files.loadState,
    dropIns: files.dropIns,
    diagnostics: files.diagnostics,
    unknownXKeys: [],
  };
  if (files.fragmentPath !== undefined) base.fragmentPath = files.fragmentPath;
  if (files.loadState !== 'loaded') return base;
  // As systemd-analyze verify: a template is typed as an instance, so %i and names built from
  // it are checked with a real value.
  const id = isTemplateName(files.id) ? instanceName(files.id, TEMPLATE_CHECK_INSTANCE) : files.id;
  const typed = typeUnit(id, files.files, {
    sections: files.sections,
    ...(manager === undefined ? {} : { manager }),
  });
  base.diagnostics = [...files.diagnostics, ...typed.diagnostics];
  base.unknownXKeys = typed.unknownXKeys;
  base.loadState = typed.loadState;
  if (typed.config !== undefined) base.config = typed.config;
  if (typed.config?.type === 'socket') checkTriggeredService(typed.config, base, index);
  if (typed.config !== undefined) addDependencyDirectories(typed.config, files, index);
  return base;
}

/** `NAME.wants/`, `NAME.requires/` and `NAME.upholds/` next to the unit (on any search directory)
 * count as Wants=, Requires= and Upholds=, as for systemd; `systemctl enable` (and `sockunit
 * enable`) put [Install] there. */
function addDependencyDirectories(config: UnitConfig, files: LoadedUnitFiles, index: UnitPathIndex): void {
  const names = [files.id, ...files.aliases];
  if (isInstanceName(files.id)) names.push(templateOf(files.id));
  const u = config.unit;
  for (const [kind, list] of [
    ['wants', u.wants],
    ['requires', u.requires],
    ['upholds', u.upholds],
  ] as const)
    for (const dep of dependencyDirectoryUnits(index, names, kind)) if (!list.includes(dep)) list.push(dep);
}

/** Accept=yes needs the template service to exist; Accept=no merely warns when its service is
 * missing, since it may be installed later. */
function checkTriggeredService(config: SocketUnitConfig, unit: LoadedUnit, index: UnitPathIndex): void {
  const target = config.triggers;
  if (isPlainUnitFile(target, index)) return;
  let found: ReturnType<typeof findUnit> | undefined;
  try {
    found = findUnit(target, index);
  } catch {
    found = undefined;
  }
  if (found?.fragmentPath !== undefined && !found.masked) return;
  const file = unit.fragmentPath ?? unit.name;
  const key = config.origins.Service !== undefined ? 'Service' : 'Accept';
  const origin = config.origins[key];
  const where =
    origin === undefined
      ? { file, line: 0 }
      : { file: origin.file, line: origin.line, key, value: origin.value };
  if (config.socket.accept) {
    unit.loadState = 'bad-setting';
    unit.diagnostics.push({
      severity: 'error',
      ...where,
      message: `Accept=yes starts an instance of ${target} per connection, but ${found?.masked ? 'it is masked' : 'no such template was found'}; expected a file ${target} next to the socket or on the unit path`,
    });
  } else {
    unit.diagnostics.push({
      severity: 'warning',
      ...where,
      message: `the service this socket starts, ${target}, ${found?.masked ? 'is masked' : 'was not found'}; expected ${target} next to the socket or on the unit path`,
    });
  }
}

/** The common case, answered from the directory index without a stat: the first file named
 * `name` on the search path is a regular file. Links and everything else go through findUnit
 * (masking, aliases). An empty regular file also masks; the service's own load reports that. */
function isPlainUnitFile(name: string, index: UnitPathIndex): boolean {
  for (const dir of index.searchPath) {
    const entry = index.entry(dir, name);
    if (entry !== undefined) return entry.isFile();
  }
  return false;
}

export interface LoadFromPathsOptions {
  /** Extra directories searched after each file's own directory (for Service= and templates). */
  unitPath?: readonly string[];
  manager?: ManagerKind;
  /** Who may have written the files (load.ts, file-trust.ts); default: systemd's warnings only. */
  checks?: UnitFileChecks;
}

/** Loads unit files given by path (verify on loose files): each file's directory comes first in
 * the search path, so its drop-ins (`NAME.d/`) and sibling units are found. */
export function loadUnitFromPaths(
  paths: readonly string[],
  options: LoadFromPathsOptions = {},
): LoadedUnit[] {
  const indexes = new Map<string, UnitPathIndex>();
  const out: LoadedUnit[] = [];
  for (const p of paths) {
    const full = resolve(p);
    const dir = dirname(full);
    const name = basename(full);
    let index = indexes.get(dir);
    if (index === undefined) {
      index = new UnitPathIndex([dir, ...(options.unitPath ?? [])], options.checks);
      indexes.set(dir, index);
    }
    out.push(
      loadUnit(name, {
        searchPath: index,
        ...(options.manager === undefined ? {} : { manager: options.manager }),
      }),
    );
  }
  return out;
}
