// [Install] acted on: `sockunit enable`, `disable` and `is-enabled` create, remove and read the
// symlinks `systemctl enable` would (systemctl(1), systemd.unit(5) "[Install] Section Options"):
// WantedBy=T → T.wants/UNIT, RequiredBy=T → T.requires/UNIT, UpheldBy=T → T.upholds/UNIT, each a
// link to the unit file; Alias=NAME → a link NAME to it; Also= enables or disables those units
// too; a template is enabled as its DefaultInstance= unless an instance is named.

import { lstatSync, mkdirSync, readdirSync, readlinkSync, rmdirSync, symlinkSync, unlinkSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { findUnit, type SearchPath, UnitPathIndex } from './load.js';
import { loadUnit } from './load-unit.js';
import { instanceName, isTemplateName, parseUnitName } from './names.js';

export type InstallChange =
  | { type: 'symlink'; path: string; target: string }
  | { type: 'unlink'; path: string; target: string };

export class InstallError extends Error {}

const DEPENDENCY_DIRS = ['wants', 'requires', 'upholds'] as const;

interface InstallInfo {
  /** The name the links carry (the instance for a template). */
  name: string;
  /** The unit file the links point to (the template's file for an instance). */
  fragment: string;
  links: { dir: string; name: string }[];
  also: string[];
  hasInstall: boolean;
}

/** What enabling `requested` means: its links, from its [Install] section. */
function installInfo(requested: string, index: UnitPathIndex): InstallInfo {
  let name = requested;
  const found = findUnit(name, index);
  if (found.masked) throw new InstallError(`Unit ${requested} is masked; unmask it first.`);
  if (found.fragmentPath === undefined)
    throw new InstallError(
      `Unit ${requested} not found; expected it in one of: ${index.searchPath.join(', ')}.`,
    );
  // Typed by the name the links will carry, so %i in [Install] is the instance.
  let unit = loadUnit(name, { searchPath: index });
  if (isTemplateName(name)) {
    const instance = unit.config?.install.defaultInstance ?? '';
    if (instance === '')
      throw new InstallError(
        `Unit ${requested} is a template; name an instance (e.g. ${instanceName(name, 'NAME')}) or give it DefaultInstance=.`,
      );
    name = instanceName(name, instance);
    unit = loadUnit(name, { searchPath: index });
  }
  const install = unit.config?.install;
  if (!install)
    throw new InstallError(`Unit ${requested} does not load; run 'sockunit verify ${found.fragmentPath}'.`);
  const links: { dir: string; name: string }[] = [];
  for (const t of install.wantedBy) links.push({ dir: `${t}.wants`, name });
  for (const t of install.requiredBy) links.push({ dir: `${t}.requires`, name });
  for (const t of install.upheldBy) links.push({ dir: `${t}.upholds`, name });
  for (const alias of install.alias) links.push({ dir: '', name: alias });
  const hasInstall = links.length > 0 || install.also.length > 0;
  return { name, fragment: resolve(found.fragmentPath), links, also: install.also, hasInstall };
}

function linkTarget(path: string): string | undefined {
  try {
    return readlinkSync(path);
  } catch {
    return undefined;
  }
}

/** The links `enable` would make for `units` into `into` (and Also= units'), as changes. */
export function planEnable(units: readonly string[], into: string, searchPath: SearchPath): InstallChange[] {
  const index = new UnitPathIndex(searchPath);
  const changes: InstallChange[] = [];
  const seen = new Set<string>();
  const visit = (requested: string) => {
    if (seen.has(requested)) return;
    seen.add(requested);
    const info = installInfo(requested, index);
    if (!info.hasInstall)
      throw new InstallError(
        `The unit ${requested} has no installation config (WantedBy=, RequiredBy=, UpheldBy=, Also=, Alias= in [Install]); it is not meant to be enabled.`,
      );
    for (const l of info.links) {
      const path = join(into, l.dir, l.name);
      if (linkTarget(path) === info.fragment) continue;
      changes.push({ type: 'symlink', path, target: info.fragment });
    }
    for (const also of info.also) visit(also);
  };
  for (const u of units) visit(u);
  return changes;
}

/** Every link in `into` that points at the unit file of `units` (and of their Also= units). */
export function planDisable(units: readonly string[], into: string, searchPath: SearchPath): InstallChange[] {
  const index = new UnitPathIndex(searchPath);
  const changes: InstallChange[] = [];
  const seen = new Set<string>();
  const visit = (requested: string) => {
    if (seen.has(requested)) return;
    seen.add(requested);
    const found = findUnit(requested, index);
    if (found.fragmentPath === undefined) throw new InstallError(`Unit ${requested} not found.`);
    const fragment = resolve(found.fragmentPath);
    for (const path of linksIn(into)) {
      const target = linkTarget(path);
      if (target === undefined || resolve(into, target) !== fragment) continue;
      // A template's links are removed whatever instance they carry; another unit's never.
      const base = path.slice(path.lastIndexOf('/') + 1);
      if (!sameUnit(base, requested) && !isAliasOf(path, into)) continue;
      changes.push({ type: 'unlink', path, target });
    }
    let also: string[] = [];
    try {
      also = loadUnit(requested, { searchPath: index }).config?.install.also ?? [];
    } catch {}
    for (const a of also) visit(a);
  };
  for (const u of units) visit(u);
  return changes;
}

function sameUnit(linkName: string, requested: string): boolean {
  if (linkName === requested) return true;
  try {
    const a = parseUnitName(linkName);
    const b = parseUnitName(requested);
    return a.prefix === b.prefix && a.type === b.type && (b.template || b.instance === a.instance);
  } catch {
    return false;
  }
}

/** An Alias= link sits directly in the directory, not in a .wants/ one. */
function isAliasOf(path: string, into: string): boolean {
  return resolve(path, '..') === resolve(into);
}

/** Symlinks directly in `into` and in its NAME.wants/, NAME.requires/, NAME.upholds/ directories. */
function linksIn(into: string): string[] {
  const out: string[] = [];
  let entries: string[];
  try {
    entries = readdirSync(into);
  } catch {
    return out;
  }
  for (const e of entries) {
    const path = join(into, e);
    let st: ReturnType<typeof lstatSync>;
    try {
      st = lstatSync(path);
    } catch {
      continue;
    }
    if (st.isSymbolicLink()) out.push(path);
    else if (st.isDirectory() && DEPENDENCY_DIRS.some((d) => e.endsWith(`.${d}`)))
      for (const inner of readdirSync(path)) {
        const p = join(path, inner);
        if (lstatSync(p).isSymbolicLink()) out.push(p);
      }
  }
  return out;
}

/** Carry the changes out: links made (parents created), links removed (an emptied .wants/
 * directory too, as systemctl leaves none behind). */
export function applyInstallChanges(changes: readonly InstallChange[]): void {
  for (const c of changes) {
    if (c.type === 'symlink') {
      mkdirSync(resolve(c.path, '..'), { recursive: true });
      if (linkTarget(c.path) !== undefined) unlinkSync(c.path);
      symlinkSync(c.target, c.path);
    } else {
      unlinkSync(c.path);
      const dir = resolve(c.path, '..');
      if (DEPENDENCY_DIRS.some((d) => dir.endsWith(`.${d}`)))
        try {
          rmdirSync(dir);
        } catch {}
    }
  }
}

export type EnablementState =
  | 'enabled'
  | 'disabled'
  | 'static'
  | 'alias'
  | 'masked'
  | 'indirect'
  | 'not-found';

/** `systemctl is-enabled`'s answer for `name`, looking for its links in every directory of the
 * search path. */
export function enablementState(name: string, searchPath: SearchPath): EnablementState {
  const index = new UnitPathIndex(searchPath);
  let found: ReturnType<typeof findUnit>;
  try {
    found = findUnit(name, index);
  } catch {
    return 'not-found';
  }
  if (found.masked) return 'masked';
  if (found.fragmentPath === undefined) return 'not-found';
  if (found.id !== name && !isTemplateName(found.id)) return 'alias';
  let info: InstallInfo;
  try {
    info = installInfo(name, index);
  } catch {
    return 'disabled';
  }
  if (!info.hasInstall) return 'static';
  if (info.links.length === 0) return 'indirect';
  const fragment = info.fragment;
  const linked = index.searchPath.some((dir) =>
    info.links.some((l) => {
      const t = linkTarget(join(dir, l.dir, l.name));
      return t !== undefined && resolve(dir, l.dir, t) === fragment;
    }),
  );
  return linked ? 'enabled' : 'disabled';
}
