// RuntimeDirectory=, StateDirectory=, CacheDirectory=, LogsDirectory=, ConfigurationDirectory=,
// set up before each of a unit's processes starts as systemd's setup_exec_directory() does:
// under /run, /var/lib, /var/cache, /var/log and /etc (for a manager running as a user under
// $XDG_RUNTIME_DIR, $XDG_STATE_HOME, $XDG_CACHE_HOME, $XDG_STATE_HOME/log and $XDG_CONFIG_HOME —
// the same directories %t %S %C %L %E expand to), parents 0755, the directory with *Mode=, owned
// by User=/Group= (the whole tree re-owned when its top is not; a user manager changes no
// ownership), `path:link` symlinks next to it, and each kind exported as $RUNTIME_DIRECTORY…
// (colon-separated). An existing ConfigurationDirectory= is left as it is (it is not the
// service's to write), only a different mode is reported. With DynamicUser= the state, cache and
// logs directories live under a root-only `private/` directory with a symlink at the usual place,
// so a uid reused later cannot reach them; the service gets them through its own mount namespace
// (context-steps.ts). Runtime directories are removed when the unit stops, unless
// RuntimeDirectoryPreserve= says otherwise.

import {
  chmodSync,
  chownSync,
  type Dirent,
  lchownSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  readlinkSync,
  renameSync,
  rmSync,
  statSync,
  symlinkSync,
  unlinkSync,
} from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { DIRECTORY_KINDS, type DirectoryKind, type ExecContext } from '../../unit/exec-context.js';
import { managerFacts } from '../../unit/specifiers.js';
import type { Logger } from '../log.js';
import { EXIT, ExecSetupError } from './setup-error.js';

const KEYS: Readonly<Record<DirectoryKind, string>> = {
  runtime: 'RuntimeDirectory',
  state: 'StateDirectory',
  cache: 'CacheDirectory',
  logs: 'LogsDirectory',
  configuration: 'ConfigurationDirectory',
};

const STATUS: Readonly<Record<DirectoryKind, number>> = {
  runtime: EXIT.RUNTIME_DIRECTORY,
  state: EXIT.STATE_DIRECTORY,
  cache: EXIT.CACHE_DIRECTORY,
  logs: EXIT.LOGS_DIRECTORY,
  configuration: EXIT.CONFIGURATION_DIRECTORY,
};

/** Whether a kind's directories sit under `private/` with DynamicUser= (not runtime ones, which
 * are shared with other services, nor configuration, which is not the service's). */
function isPrivate(kind: DirectoryKind, dynamicUser: boolean): boolean {
  return dynamicUser && (kind === 'state' || kind === 'cache' || kind === 'logs');
}

/** Where each kind lives for this manager (the directories %t %S %C %L %E name). */
export function directoryPrefix(kind: DirectoryKind, manager: 'system' | 'user'): string | undefined {
  const m = managerFacts(manager);
  switch (kind) {
    case 'runtime':
      return m.runtimeDir;
    case 'state':
      return m.stateDir;
    case 'cache':
      return m.cacheDir;
    case 'logs':
      return m.logsDir;
    default:
      return m.configDir;
  }
}

export interface DirectoryOwner {
  uid: number;
  gid: number;
  /** The manager may change ownership (a system manager). */
  chown: boolean;
  dynamicUser: boolean;
}

export interface PreparedDirectories {
  /** RUNTIME_DIRECTORY=…, STATE_DIRECTORY=…: one variable per kind the unit uses. */
  environment: Record<string, string>;
  /** For DynamicUser=: the `private/` roots and the directories below them the service's mount
   * namespace must show. */
  privateDirectories: { root: string; paths: string[] }[];
}

function errnoOf(err: unknown): string {
  return (err as NodeJS.ErrnoException).code ?? (err as Error).message;
}

function lstatOrUndefined(path: string): ReturnType<typeof lstatSync> | undefined {
  try {
    return lstatSync(path);
  } catch {
    return undefined;
  }
}

/** chown -R, as systemd's path_chown_recursive(): skipped when the top already has the owner
 * (the tree is then taken to be right); with DynamicUser= set-uid/gid bits are cleared. */
function chownTree(top: string, uid: number, gid: number, clearSetId: boolean): void {
  const st = statSync(top);
  if (st.uid === uid && st.gid === gid) return;
  const walk = (path: string, entry?: Dirent) => {
    const isDir = entry ? entry.isDirectory() : true;
    const isLink = entry?.isSymbolicLink() ?? false;
    if (isLink) lchownSync(path, uid, gid);
    else {
      chownSync(path, uid, gid);
      if (clearSetId) {
        const mode = lstatSync(path).mode & 0o7777;
        if (mode & 0o6000) chmodSync(path, mode & 0o1777);
      }
    }
    if (isDir)
      for (const child of readdirSync(path, { withFileTypes: true })) walk(join(path, child.name), child);
  };
  walk(top);
}

/** A relative symlink at `link` to `target`, unless one is there already. */
function symlinkTo(target: string, link: string): void {
  mkdirSync(dirname(link), { recursive: true, mode: 0o755 });
  const wanted = relative(dirname(link), target);
  const st = lstatOrUndefined(link);
  if (st?.isSymbolicLink() && readlinkSync(link) === wanted) return;
  if (st !== undefined)
    throw Object.assign(new Error(`${link} exists and is not the symlink to ${target}`), { code: 'EEXIST' });
  symlinkSync(wanted, link);
}

/** Sets up one directory (see the file's comment). Returns the directory's real path. */
function setUpOne(
  prefix: string,
  path: string,
  kind: DirectoryKind,
  mode: number,
  owner: DirectoryOwner,
  log: Logger | undefined,
  unit: string,
): string {
  const p = join(prefix, path);
  mkdirSync(dirname(p), { recursive: true, mode: 0o755 });
  let target = p;
  if (isPrivate(kind, owner.dynamicUser)) {
    const privateRoot = join(prefix, 'private');
    mkdirSync(privateRoot, { recursive: true, mode: 0o700 });
    chmodSync(privateRoot, 0o700);
    target = join(privateRoot, path);
    mkdirSync(dirname(target), { recursive: true, mode: 0o755 });
    const public_ = lstatOrUndefined(p);
    if (public_?.isDirectory() && lstatOrUndefined(target) === undefined) {
      log?.info(`${unit}: migrating ${p} to ${target} for DynamicUser=yes.`, unit);
      renameSync(p, target);
    } else mkdirOk(target, mode);
    symlinkTo(target, p);
  } else {
    const st = lstatOrUndefined(p);
    if (st?.isSymbolicLink()) {
      // Made private by an earlier DynamicUser=yes: move it back up, as systemd does.
      const privateCopy = join(prefix, 'private', path);
      if (
        readlinkSync(p) === relative(dirname(p), privateCopy) &&
        lstatOrUndefined(privateCopy)?.isDirectory()
      ) {
        log?.info(`${unit}: migrating ${privateCopy} back to ${p} (DynamicUser= is off now).`, unit);
        unlinkSync(p);
        renameSync(privateCopy, p);
      }
    }
    const existed = mkdirOk(p, mode);
    if (existed && kind === 'configuration') {
      const now = statSync(p).mode & 0o7777;
      if (now !== mode)
        log?.warning(
          `${unit}: ConfigurationDirectory= '${path}' already exists but its mode is ${now.toString(8)}, not ${mode.toString(8)} (ConfigurationDirectoryMode=); left as it is.`,
          unit,
        );
      return p;
    }
  }
  chmodSync(target, mode);
  if (owner.chown) chownTree(target, owner.uid, owner.gid, owner.dynamicUser);
  return target;
}

/** mkdir with `mode`; true when a directory was already there. A file in its place throws. */
function mkdirOk(path: string, mode: number): boolean {
  try {
    mkdirSync(path, { mode });
    return false;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  }
  if (!statSync(path).isDirectory())
    throw Object.assign(new Error(`${path} exists and is not a directory`), { code: 'ENOTDIR' });
  return true;
}

/** Creates every directory `exec` lists; throws ExecSetupError with systemd's status per kind
 * (233/RUNTIME_DIRECTORY, 238/STATE_DIRECTORY, 239, 240, 241). */
export function setUpDirectories(
  unit: string,
  exec: ExecContext,
  owner: DirectoryOwner,
  manager: 'system' | 'user',
  log?: Logger,
): PreparedDirectories {
  const prepared: PreparedDirectories = { environment: {}, privateDirectories: [] };
  for (const kind of DIRECTORY_KINDS) {
    const { items, mode } = exec.directories[kind];
    if (items.length === 0) continue;
    const key = KEYS[kind];
    const prefix = directoryPrefix(kind, manager);
    if (prefix === undefined)
      throw new ExecSetupError(
        STATUS[kind],
        `${key}=${items[0]?.path}: this manager runs as a user without $XDG_RUNTIME_DIR; set it (e.g. /run/user/$UID) or run the manager as root`,
      );
    const paths: string[] = [];
    for (const item of items) {
      try {
        setUpOne(prefix, item.path, kind, mode, owner, log, unit);
        for (const link of item.symlinks) symlinkTo(join(prefix, item.path), join(prefix, link));
      } catch (err) {
        const where = join(prefix, item.path);
        const fix =
          errnoOf(err) === 'ENOTDIR' || errnoOf(err) === 'EEXIST'
            ? `remove or rename what is in the way, or choose another name in ${key}=`
            : `check ${dirname(where)} (read-only file system? full disk?) or change ${key}=`;
        throw new ExecSetupError(
          STATUS[kind],
          `${key}=${item.path}: cannot set up ${where}: ${(err as Error).message.replace(/^[A-Z]+: /, '')}; ${fix}`,
        );
      }
      paths.push(item.path);
    }
    prepared.environment[`${kind.toUpperCase()}_DIRECTORY`] = items
      .map((i) => join(prefix, i.path))
      .join(':');
    if (isPrivate(kind, owner.dynamicUser))
      prepared.privateDirectories.push({ root: join(prefix, 'private'), paths });
  }
  return prepared;
}

/** Removes the unit's RuntimeDirectory= directories and their symlinks (at stop). */
export function removeRuntimeDirectories(exec: ExecContext, manager: 'system' | 'user'): void {
  const prefix = directoryPrefix('runtime', manager);
  if (prefix === undefined) return;
  for (const item of exec.directories.runtime.items) {
    rmSync(join(prefix, item.path), { recursive: true, force: true });
    for (const link of item.symlinks) rmSync(join(prefix, link), { force: true });
  }
}
