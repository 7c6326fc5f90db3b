// Finding a unit's files the way systemd does (systemd.unit(5), "Unit File Load Path"): the
// search path (an earlier directory wins), masking, aliases, templates, and drop-ins. Reading
// files is this layer's only I/O; it never opens sockets.

import {
  closeSync,
  type Dirent,
  fstatSync,
  lstatSync,
  openSync,
  readdirSync,
  readlinkSync,
  readSync,
  type Stats,
  statSync,
} from 'node:fs';
import { basename, dirname, resolve } from 'node:path';
import type { Diagnostic } from './diagnostic.js';
import type { UnitFileText } from './entry.js';
import {
  FileTrust,
  type OwnershipPolicy,
  permissionWarnings,
  untrustedFileDiagnostic,
} from './file-trust.js';
import {
  instanceName,
  isInstanceName,
  isValidUnitName,
  parseUnitName,
  templateOf,
  type UnitName,
  type UnitType,
} from './names.js';
import type { ManagerKind } from './specifiers.js';
import { parseUnitText } from './syntax.js';
import { ValueError } from './values.js';

export type SearchPath = readonly string[];

const SYSTEM_UNIT_PATH: SearchPath = [
  '/etc/systemd/system.control',
  '/run/systemd/system.control',
  '/run/systemd/transient',
  '/run/systemd/generator.early',
  '/etc/systemd/system',
  '/run/systemd/system',
  '/run/systemd/generator',
  '/usr/local/lib/systemd/system',
  '/usr/lib/systemd/system',
  '/run/systemd/generator.late',
];

function envDirs(value: string | undefined, fallback: string[]): string[] {
  const dirs = (value ?? '').split(':').filter((d) => d.startsWith('/'));
  return dirs.length > 0 ? dirs : fallback;
}

/**
 * systemd's unit search path, highest priority first.
 *
 * System manager: /etc/systemd/system.control, /run/systemd/system.control,
 * /run/systemd/transient, /run/systemd/generator.early, /etc/systemd/system, /run/systemd/system,
 * /run/systemd/generator, /usr/local/lib/systemd/system, /usr/lib/systemd/system,
 * /run/systemd/generator.late.
 *
 * User manager ($R = $XDG_RUNTIME_DIR; directories under it are left out when it is unset):
 * $XDG_CONFIG_HOME/systemd/user.control, $R/systemd/user.control, $R/systemd/transient,
 * $R/systemd/generator.early, $XDG_CONFIG_HOME/systemd/user, $XDG_CONFIG_DIRS/systemd/user,
 * /etc/systemd/user, $R/systemd/user, /run/systemd/user, $R/systemd/generator,
 * $XDG_DATA_HOME/systemd/user, $XDG_DATA_DIRS/systemd/user, /usr/local/lib/systemd/user,
 * /usr/lib/systemd/user, $R/systemd/generator.late (XDG defaults: ~/.config, /etc/xdg,
 * ~/.local/share, /usr/local/share:/usr/share).
 */
export function defaultSearchPath(manager: ManagerKind, env: NodeJS.ProcessEnv = process.env): string[] {
  if (manager === 'system') return [...SYSTEM_UNIT_PATH];
  const home = env.HOME ?? '/root';
  const configHome = env.XDG_CONFIG_HOME?.startsWith('/') ? env.XDG_CONFIG_HOME : `${home}/.config`;
  const dataHome = env.XDG_DATA_HOME?.startsWith('/') ? env.XDG_DATA_HOME : `${home}/.local/share`;
  const runtime = env.XDG_RUNTIME_DIR?.startsWith('/') ? env.XDG_RUNTIME_DIR : undefined;
  const configDirs = envDirs(env.XDG_CONFIG_DIRS, ['/etc/xdg']);
  const dataDirs = envDirs(env.XDG_DATA_DIRS, ['/usr/local/share', '/usr/share']);
  const inRuntime = (sub: string): string[] => (runtime === undefined ? [] : [`${runtime}/systemd/${sub}`]);
  return dedupe([
    `${configHome}/systemd/user.control`,
    ...inRuntime('user.control'),
    ...inRuntime('transient'),
    ...inRuntime('generator.early'),
    `${configHome}/systemd/user`,
    ...configDirs.map((d) => `${d}/systemd/user`),
    '/etc/systemd/user',
    ...inRuntime('user'),
    '/run/systemd/user',
    ...inRuntime('generator'),
    `${dataHome}/systemd/user`,
    ...dataDirs.map((d) => `${d}/systemd/user`),
    '/usr/local/lib/systemd/user',
    '/usr/lib/systemd/user',
    ...inRuntime('generator.late'),
  ]);
}

function dedupe(dirs: readonly string[]): string[] {
  return [...new Set(dirs)];
}

/**
 * The search path to use: `override` in `$SYSTEMD_UNIT_PATH` form (colon-separated; a trailing
 * `:` appends the default path) or, when it is undefined, `$SYSTEMD_UNIT_PATH` from `env`, else
 * the default for `manager`. Relative directories are resolved against the current directory.
 */
export function resolveSearchPath(
  options: { manager?: ManagerKind; override?: string | readonly string[]; env?: NodeJS.ProcessEnv } = {},
): string[] {
  const env = options.env ?? process.env;
  const manager = options.manager ?? 'system';
  const override = options.override ?? env.SYSTEMD_UNIT_PATH;
  if (override === undefined || override === '') return defaultSearchPath(manager, env);
  const parts = typeof override === 'string' ? override.split(':') : [...override];
  const appendDefaults = parts.length > 1 && parts[parts.length - 1] === '';
  const dirs = parts.filter((p) => p !== '').map((p) => resolve(p));
  return dedupe(appendDefaults ? [...dirs, ...defaultSearchPath(manager, env)] : dirs);
}

// ---- directory index --------------------------------------------------------------------------

/**
 * The entries of every search directory, read once (like systemd's unit path cache), so that
 * finding many units costs one readdir per directory instead of one failed lookup per name and
 * directory. Build one per batch of lookups; it does not see files created after it was built.
 */
/** What the loader checks of who may have written a unit file (file-trust.ts). */
export interface UnitFileChecks {
  /** A manager running as root: refuse (or, allowed, warn about) files others could modify. */
  ownership?: OwnershipPolicy | undefined;
  /** The system manager (root): also warn about world-inaccessible files, as systemd's PID 1. */
  systemManager?: boolean;
}

export class UnitPathIndex {
  readonly searchPath: readonly string[];
  private readonly trust: FileTrust | undefined;
  private readonly systemManager: boolean;
  private readonly entries = new Map<string, Map<string, Dirent>>();
  private readonly dropInDirs = new Map<string, Map<string, Dirent> | null>();
  // Type drop-ins (`socket.d/*.conf`) apply to every unit of the type: read and check them once.
  private readonly dropInMasks = new Map<string, boolean>();
  private readonly dropInBytes = new Map<string, UnitFileBytes | NodeJS.ErrnoException>();
  // Units found with a full check (findUnit), so that loading a unit another one already looked
  // up (a socket checks its service) does not search again.
  private readonly found = new Map<string, FoundUnit>();

  constructor(searchPath: SearchPath, checks: UnitFileChecks = {}) {
    this.searchPath = dedupe(searchPath.map((d) => resolve(d)));
    this.trust = checks.ownership ? new FileTrust(checks.ownership) : undefined;
    this.systemManager = checks.systemManager ?? false;
    for (const dir of this.searchPath) this.entries.set(dir, readDir(dir) ?? new Map());
  }

  /** The entry `name` of search directory `dir`, if there is one. */
  entry(dir: string, name: string): Dirent | undefined {
    return this.entries.get(dir)?.get(name);
  }

  /** Names of the entries of search directory `dir`. */
  names(dir: string): IterableIterator<string> {
    return (this.entries.get(dir) ?? new Map<string, Dirent>()).keys();
  }

  /** The entries of `dir/sub` when `sub` is a directory (or a link to one) of search directory `dir`. */
  subdirectory(dir: string, sub: string): Map<string, Dirent> | undefined {
    const e = this.entry(dir, sub);
    if (e === undefined || !(e.isDirectory() || e.isSymbolicLink())) return undefined;
    const path = `${dir}/${sub}`;
    let cached = this.dropInDirs.get(path);
    if (cached === undefined) {
      cached = readDir(path) ?? null;
      this.dropInDirs.set(path, cached);
    }
    return cached ?? undefined;
  }

  /** Whether drop-in `path` masks its name (link to /dev/null, empty, dangling), checked once. */
  isMaskingDropIn(path: string, entry: Dirent): boolean {
    let masks = this.dropInMasks.get(path);
    if (masks === undefined) {
      masks = isMaskingFile(path, entry);
      this.dropInMasks.set(path, masks);
    }
    return masks;
  }

  /** A copy of what findUnit found for `name` with this index, if it was asked before. */
  foundBefore(name: string): FoundUnit | undefined {
    const f = this.found.get(name);
    return f === undefined
      ? undefined
      : { ...f, dropIns: [...f.dropIns], aliases: [...f.aliases], diagnostics: [...f.diagnostics] };
  }

  remember(found: FoundUnit): void {
    this.found.set(found.name, {
      ...found,
      dropIns: [...found.dropIns],
      aliases: [...found.aliases],
      diagnostics: [...found.diagnostics],
    });
  }

  /** Drop-in `path` and its status, read once. */
  readDropIn(path: string): UnitFileBytes {
    let read = this.dropInBytes.get(path);
    if (read === undefined) {
      try {
        read = readWholeFile(path);
      } catch (e) {
        read = e as NodeJS.ErrnoException;
      }
      this.dropInBytes.set(path, read);
    }
    if (read instanceof Error) throw read;
    return read;
  }

  /** systemd's permission warnings for a file as read, and whether users other than the
   * manager's could have written it: `refused` when the unit must not load. */
  checkFile(path: string, stat: Stats): { diagnostics: Diagnostic[]; refused: boolean } {
    const diagnostics = permissionWarnings(path, stat, this.systemManager);
    const reason = this.trust?.problem(path, stat);
    if (reason === undefined || !this.trust) return { diagnostics, refused: false };
    diagnostics.push(untrustedFileDiagnostic(path, reason, this.trust.severity));
    return { diagnostics, refused: this.trust.severity === 'error' };
  }
}

/** A unit file's bytes and its status, taken from the open file: what was read is what was
 * checked. */
export interface UnitFileBytes {
  bytes: Buffer;
  stat: Stats;
}

const READ_CHUNK = 64 * 1024;
const readBuffer = Buffer.allocUnsafe(READ_CHUNK);

/** The file and its status: unit files are small, so one read usually gets all of it. */
function readWholeFile(path: string): UnitFileBytes {
  const fd = openSync(path, 'r');
  try {
    const stat = fstatSync(fd);
    const chunks: Buffer[] = [];
    for (;;) {
      const n = readSync(fd, readBuffer, 0, READ_CHUNK, null);
      if (n === 0) break;
      chunks.push(Buffer.from(readBuffer.subarray(0, n)));
      if (n < READ_CHUNK && chunks.length === 1) {
        // A short read of a regular file is its end; one more read would only confirm it.
        break;
      }
    }
    return { bytes: chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks), stat };
  } finally {
    closeSync(fd);
  }
}

function readDir(dir: string): Map<string, Dirent> | undefined {
  try {
    const map = new Map<string, Dirent>();
    for (const e of readdirSync(dir, { withFileTypes: true })) map.set(e.name, e);
    return map;
  } catch {
    // A missing (or unreadable) directory of the search path is normal: most of them are absent.
    return undefined;
  }
}

function indexOf(where: SearchPath | UnitPathIndex): UnitPathIndex {
  return where instanceof UnitPathIndex ? where : new UnitPathIndex(where);
}

// ---- finding a unit ---------------------------------------------------------------------------

export interface FoundUnit {
  /** The name asked for. */
  name: string;
  /** The name the unit really has: differs from `name` when `name` is an alias (a symlink to
   * another unit file in the search path). */
  id: string;
  /** The unit file (for an alias: the file the link points to). Absent when not found or masked. */
  fragmentPath?: string;
  masked: boolean;
  /** The file that masks the unit (a link to /dev/null or an empty file). */
  maskedBy?: string;
  /** Drop-in files to apply after the fragment, in order. Empty for a masked unit. */
  dropIns: string[];
  /** Other names the unit was reached by (the requested name when it is an alias). */
  aliases: string[];
  /** Problems met while looking (dangling links, unreadable directories). */
  diagnostics: Diagnostic[];
}

interface Candidate {
  path: string;
  masked: boolean;
  /** Real unit file when `path` is a link. */
  target?: string;
}

/** What a name in a search directory is: a unit file, a mask, or nothing usable (dangling link). */
function inspectCandidate(
  path: string,
  entry: Dirent,
  diagnostics: Diagnostic[],
  checkEmpty: boolean,
): Candidate | undefined {
  try {
    // A plain file needs a stat only to tell an empty one (a mask); a caller about to read it can tell from the bytes.
    if (entry.isFile() && !checkEmpty) return { path, masked: false };
    if (entry.isSymbolicLink()) {
      const link = readlinkSync(path);
      if (link === '/dev/null') return { path, masked: true };
      const target = resolve(dirname(path), link);
      const st = statSync(path);
      if (st.isCharacterDevice() || (st.isFile() && st.size === 0)) return { path, masked: true };
      if (!st.isFile()) return undefined;
      return { path, masked: false, target };
    }
    const st = entry.isFile() ? statSync(path) : lstatSync(path);
    if (st.isCharacterDevice()) return { path, masked: true };
    if (!st.isFile()) return undefined;
    return { path, masked: st.size === 0 };
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    diagnostics.push({
      severity: 'warning',
      file: path,
      line: 0,
      message:
        err.code === 'ENOENT'
          ? 'unit file is a link to a file that does not exist, ignoring it; expected a link to a unit file or /dev/null'
          : `cannot inspect the unit file (${err.code ?? err.message}), ignoring it; expected a readable file`,
    });
    return undefined;
  }
}

/** The name a link makes this unit have, when the link points to another unit file of the search path. */
function aliasTarget(
  index: UnitPathIndex,
  candidateName: string,
  target: string,
  requested: UnitName,
): string | undefined {
  const targetName = basename(target);
  if (targetName === candidateName || !index.searchPath.includes(dirname(target))) return undefined;
  if (!isValidUnitName(targetName)) return undefined;
  const t = parseUnitName(targetName);
  if (t.type !== requested.type) return undefined;
  // An instance reached through a template link keeps its instance: foo@x -> foo@. -> bar@. = bar@x.
  if (requested.instance !== undefined && t.template) return instanceName(targetName, requested.instance);
  return targetName;
}

/**
 * Drop-in directory names for one unit name, in systemd's order (the order of its
 * unit_file_expand_dropin_names, which the man page does not spell out): the name, then its
 * template expanded the same way, then the name cut at its last dash (`foo-bar@x.socket` ->
 * `foo-@x.socket`) expanded the same way. For `foo-bar@x.socket` that gives foo-bar@x, foo-bar@,
 * foo-@, foo-@x (each + `.socket.d`).
 */
export function dropInDirectoryNames(name: string): string[] {
  const u = parseUnitName(name);
  const out: string[] = [];
  expandDropInNames(u.prefix, u.instance, u.template, u.type, out);
  return dedupe(out).map((n) => `${n}.d`);
}

// Works on the parts of an already valid name: every name built here is a shorter valid one.
function expandDropInNames(
  prefix: string,
  instance: string | undefined,
  template: boolean,
  type: UnitType,
  out: string[],
): void {
  const at = instance !== undefined ? `@${instance}` : template ? '@' : '';
  out.push(`${prefix}${at}.${type}`);
  if (instance !== undefined) expandDropInNames(prefix, undefined, true, type, out);
  // Cut the prefix after its last dash; a trailing dash is dropped first, once; a leading dash ends it.
  let stem = prefix;
  let dash = stem.lastIndexOf('-');
  if (dash === stem.length - 1 && dash > 0) {
    stem = stem.slice(0, dash);
    dash = stem.lastIndexOf('-');
  }
  if (dash <= 0) return;
  expandDropInNames(stem.slice(0, dash + 1), instance, template, type, out);
}

const BACKUP_SUFFIXES = [
  '~',
  '.rpmnew',
  '.rpmsave',
  '.rpmorig',
  '.dpkg-old',
  '.dpkg-new',
  '.dpkg-tmp',
  '.dpkg-dist',
  '.dpkg-bak',
  '.dpkg-backup',
  '.dpkg-remove',
  '.ucf-new',
  '.ucf-old',
  '.ucf-dist',
  '.swp',
  '.bak',
  '.old',
  '.new',
];

function isDropInFileName(name: string): boolean {
  return name.endsWith('.conf') && !name.startsWith('.') && !BACKUP_SUFFIXES.some((s) => name.endsWith(s));
}

function isMaskingFile(path: string, entry: Dirent): boolean {
  try {
    if (entry.isSymbolicLink() && readlinkSync(path) === '/dev/null') return true;
    const st = statSync(path);
    return st.isCharacterDevice() || (st.isFile() && st.size === 0);
  } catch {
    return true; // a dangling link contributes nothing, and hides lower files of its name like a mask
  }
}

function collectDropIns(index: UnitPathIndex, names: readonly string[], type: UnitType): string[] {
  const chosen = new Map<string, { path: string; entry: Dirent }>();
  const visited = new Set<string>();
  const visit = (dir: string, sub: string): void => {
    const entries = index.subdirectory(dir, sub);
    if (entries === undefined) return;
    const path = `${dir}/${sub}`;
    // An alias can share directories with the unit (its template, its dash prefixes).
    if (visited.has(path)) return;
    visited.add(path);
    for (const [file, entry] of entries) {
      if (!isDropInFileName(file) || chosen.has(file)) continue;
      chosen.set(file, { path: `${path}/${file}`, entry });
    }
  };
  for (const name of names) {
    const subs = dropInDirectoryNames(name);
    for (const dir of index.searchPath) for (const sub of subs) visit(dir, sub);
  }
  // Last and most generic: `socket.d/` applies to every socket unit.
  for (const dir of index.searchPath) visit(dir, `${type}.d`);
  return [...chosen.keys()]
    .sort()
    .map((file) => chosen.get(file)!)
    .filter(({ path, entry }) => !index.isMaskingDropIn(path, entry))
    .map(({ path }) => path);
}

/**
 * Where unit `name` comes from: the first search directory holding the exact name wins; an
 * instance with no file of its own uses its template; a link to /dev/null or an empty file masks
 * it. Throws ValueError for an invalid name.
 */
export function findUnit(name: string, where: SearchPath | UnitPathIndex): FoundUnit {
  const index = indexOf(where);
  const before = index.foundBefore(name);
  if (before !== undefined) return before;
  const found = findUnitIn(index, name, true);
  index.remember(found);
  return found;
}

function findUnitIn(index: UnitPathIndex, name: string, checkEmpty: boolean): FoundUnit {
  const requested = parseUnitName(name);
  const diagnostics: Diagnostic[] = [];
  const candidates = [name];
  if (isInstanceName(name)) candidates.push(templateOf(name));

  let found: { candidate: Candidate; candidateName: string } | undefined;
  search: for (const candidateName of candidates) {
    for (const dir of index.searchPath) {
      const entry = index.entry(dir, candidateName);
      if (entry === undefined) continue;
      const candidate = inspectCandidate(`${dir}/${candidateName}`, entry, diagnostics, checkEmpty);
      if (candidate === undefined) continue;
      found = { candidate, candidateName };
      break search;
    }
  }

  const result: FoundUnit = { name, id: name, masked: false, dropIns: [], aliases: [], diagnostics };
  if (found?.candidate.masked === true) {
    result.masked = true;
    result.maskedBy = found.candidate.path;
    return result;
  }
  if (found !== undefined) {
    const { candidate, candidateName } = found;
    const alias =
      candidate.target === undefined
        ? undefined
        : aliasTarget(index, candidateName, candidate.target, requested);
    if (alias !== undefined) {
      result.id = alias;
      result.aliases = [name];
      result.fragmentPath = candidate.target;
    } else {
      result.fragmentPath = candidate.path;
    }
  }
  result.dropIns = collectDropIns(index, dedupe([result.id, ...result.aliases]), requested.type);
  return result;
}

// ---- dependency directories --------------------------------------------------------------------

/** The dependency a `NAME.wants/`, `NAME.requires/` or `NAME.upholds/` directory adds. */
export type DependencyDirectory = 'wants' | 'requires' | 'upholds';

/**
 * The units listed in the `.wants/`, `.requires/` or `.upholds/` directories of unit `names` (a
 * unit's own name, its aliases and, for an instance, its template) anywhere on the search path,
 * as systemd reads them: each entry's name is a unit (usually a symlink `systemctl enable` made),
 * in the order found. Entries that are not unit names are skipped.
 */
export function dependencyDirectoryUnits(
  where: SearchPath | UnitPathIndex,
  names: readonly string[],
  kind: DependencyDirectory,
): string[] {
  const index = indexOf(where);
  const out: string[] = [];
  for (const dir of index.searchPath) {
    for (const name of names) {
      const entries = index.subdirectory(dir, `${name}.${kind}`);
      if (!entries) continue;
      for (const entry of [...entries.keys()].sort()) if (isValidUnitName(entry)) out.push(entry);
    }
  }
  return dedupe(out);
}

// ---- reading a unit ---------------------------------------------------------------------------

export type LoadState = 'loaded' | 'not-found' | 'masked' | 'error';

export interface UnitSection {
  file: string;
  name: string;
  line: number;
}

export interface LoadedUnitFiles {
  name: string;
  /** The unit's real name (see FoundUnit.id). */
  id: string;
  fragmentPath?: string;
  dropIns: string[];
  aliases: string[];
  masked: boolean;
  loadState: LoadState;
  /** The fragment first, then the drop-ins in the order they apply. */
  files: UnitFileText[];
  /** Section headers of every file, in reading order. */
  sections: UnitSection[];
  diagnostics: Diagnostic[];
}

function readOne(
  path: string,
  out: LoadedUnitFiles,
  index: UnitPathIndex,
  read: (path: string) => UnitFileBytes,
): boolean {
  let file: UnitFileBytes;
  try {
    file = read(path);
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    out.diagnostics.push({
      severity: 'error',
      file: path,
      line: 0,
      message: `cannot read the file (${err.code ?? err.message}); expected a readable unit file`,
    });
    return false;
  }
  const checked = index.checkFile(path, file.stat);
  out.diagnostics.push(...checked.diagnostics);
  if (checked.refused) return false;
  return parseInto(path, file.bytes, out);
}

function parseInto(path: string, bytes: Buffer, out: LoadedUnitFiles): boolean {
  const parsed = parseUnitText(bytes, path);
  out.files.push({ path, entries: parsed.entries });
  for (const s of parsed.sections) out.sections.push({ file: path, name: s.name, line: s.line });
  out.diagnostics.push(...parsed.diagnostics);
  return !parsed.fatal;
}

/** Finds unit `name` and parses its fragment and drop-ins (see findUnit). Never throws for a bad
 * file or name: an invalid name gives loadState 'error' with a diagnostic saying why. */
export function readUnitFiles(name: string, where: SearchPath | UnitPathIndex): LoadedUnitFiles {
  const index = indexOf(where);
  let found: FoundUnit;
  try {
    // A fully checked earlier result is as good; a quick one (no stat) is not remembered.
    found = index.foundBefore(name) ?? findUnitIn(index, name, false);
  } catch (e) {
    if (!(e instanceof ValueError)) throw e;
    return {
      name,
      id: name,
      dropIns: [],
      aliases: [],
      masked: false,
      loadState: 'error',
      files: [],
      sections: [],
      diagnostics: [{ severity: 'error', file: name, line: 0, message: e.message }],
    };
  }
  const out: LoadedUnitFiles = {
    name,
    id: found.id,
    dropIns: found.dropIns,
    aliases: found.aliases,
    masked: found.masked,
    loadState: 'loaded',
    files: [],
    sections: [],
    diagnostics: [...found.diagnostics],
  };
  if (found.fragmentPath !== undefined) out.fragmentPath = found.fragmentPath;
  if (found.masked) {
    out.loadState = 'masked';
    return out;
  }
  let ok = true;
  if (found.fragmentPath === undefined) {
    out.loadState = 'not-found';
    out.diagnostics.push({
      severity: 'error',
      file: name,
      line: 0,
      message: `unit file not found; expected ${name} in one of: ${index.searchPath.join(', ')}`,
    });
  } else {
    let bytes: Buffer | undefined;
    ok = readOne(found.fragmentPath, out, index, (path) => {
      const file = readWholeFile(path);
      bytes = file.bytes;
      return file;
    });
    // Found without a stat (see inspectCandidate): an empty fragment masks the unit.
    if (bytes !== undefined && bytes.length === 0) {
      out.files = [];
      out.sections = [];
      out.masked = true;
      out.loadState = 'masked';
      out.dropIns = [];
      delete out.fragmentPath;
      return out;
    }
  }
  for (const dropIn of found.dropIns)
    ok = readOne(dropIn, out, index, (path) => index.readDropIn(path)) && ok;
  if (!ok) out.loadState = 'error';
  return out;
}

// ---- listing ------------------------------------------------------------------------------------

export interface ListedUnitFile {
  name: string;
  /** The file in the first search directory that has this name. */
  path: string;
}

/** Every unit file name on the search path (templates included), the first directory winning, sorted by name. */
export function listUnitFiles(
  where: SearchPath | UnitPathIndex,
  types?: readonly string[],
): ListedUnitFile[] {
  const index = indexOf(where);
  const wanted = types === undefined ? undefined : new Set(types);
  const seen = new Map<string, string>();
  for (const dir of index.searchPath) {
    for (const name of index.names(dir)) {
      if (seen.has(name) || !isValidUnitName(name)) continue;
      const entry = index.entry(dir, name)!;
      if (entry.isDirectory()) continue;
      if (wanted !== undefined && !wanted.has(parseUnitName(name).type)) continue;
      seen.set(name, `${dir}/${name}`);
    }
  }
  return [...seen.entries()]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([name, path]) => ({ name, path }));
}

/** The names of listUnitFiles. */
export function listUnitNames(where: SearchPath | UnitPathIndex, types?: readonly string[]): string[] {
  return listUnitFiles(where, types).map((u) => u.name);
}
