// LoadCredential=, ImportCredential= and SetCredential=, set up as systemd's exec-credential.c
// does before a unit's first process of a start: a workspace only the manager can enter is
// filled — files and directories named by LoadCredential= (a missing one fails the start with
// 243/CREDENTIALS unless SetCredential= gives a default), credentials the manager itself was
// given ($CREDENTIALS_DIRECTORY) or that lie in the credential stores (/etc/credstore…), matched
// by ImportCredential=, then the literal SetCredential= ones for IDs still missing — each file
// 0400 and owned by the service's user, the directory 0500 likewise, then moved into place at
// $RUNTIME/credentials/UNIT (what %d expands to) and, for a manager running as root, bound
// read-only onto itself, so not even the service can change or add a credential. The service
// gets it as $CREDENTIALS_DIRECTORY; it is removed when the unit stops.

import {
  chmodSync,
  chownSync,
  closeSync,
  fchmodSync,
  fchownSync,
  type lstatSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmdirSync,
  rmSync,
  statSync,
  writeSync,
} from 'node:fs';
import { join } from 'node:path';
import { bindReadOnly, unmountLazily } from '../../sys/mount.js';
import type { ExecContext } from '../../unit/exec-context.js';
import type { Logger } from '../log.js';
import { directoryPrefix } from './directories.js';
import { EXIT, ExecSetupError } from './setup-error.js';

/** systemd's CREDENTIAL_SIZE_MAX and CREDENTIALS_TOTAL_SIZE_MAX. */
const CREDENTIAL_SIZE_MAX = 1024 * 1024;
const CREDENTIALS_TOTAL_SIZE_MAX = 1024 * 1024;

export function hasCredentials(exec: ExecContext): boolean {
  const c = exec.credentials;
  return c.load.length > 0 || c.set.length > 0 || c.import.length > 0;
}

/** $RUNTIME/credentials/UNIT, the directory %d names; undefined without a runtime directory. */
export function credentialsDirectory(unit: string, manager: 'system' | 'user'): string | undefined {
  const runtime = directoryPrefix('runtime', manager);
  return runtime === undefined ? undefined : join(runtime, 'credentials', unit);
}

/** Where names without a path are looked up: the manager's own credentials, then the stores. */
function searchPath(managerEnv: NodeJS.ProcessEnv, manager: 'system' | 'user'): string[] {
  const own = managerEnv.CREDENTIALS_DIRECTORY;
  const stores =
    manager === 'system'
      ? ['/etc/credstore', '/run/credstore', '/usr/local/lib/credstore', '/usr/lib/credstore']
      : [join(directoryPrefix('configuration', 'user') ?? '', 'credstore')];
  return [...(own?.startsWith('/') ? [own] : []), ...stores];
}

export interface CredentialOwner {
  uid: number;
  gid: number;
  /** A system manager: it may chown and mount. */
  privileged: boolean;
}

class Workspace {
  private left = CREDENTIALS_TOTAL_SIZE_MAX;
  readonly ids = new Set<string>();
  private readonly dir: string;
  private readonly owner: CredentialOwner;

  constructor(dir: string, owner: CredentialOwner) {
    this.dir = dir;
    this.owner = owner;
  }

  write(id: string, data: Buffer, from: string): void {
    if (data.length > CREDENTIAL_SIZE_MAX || id.length + data.length > this.left)
      throw new Error(
        `credential ${id} (${from}) would exceed systemd's 1 MiB limit for a unit's credentials`,
      );
    const fd = openSync(join(this.dir, id), 'wx', 0o600);
    try {
      writeSync(fd, data);
      fchmodSync(fd, 0o400);
      if (this.owner.privileged) fchownSync(fd, this.owner.uid, this.owner.gid);
    } finally {
      closeSync(fd);
    }
    this.left -= id.length + data.length;
    this.ids.add(id);
  }
}

function readCredentialFile(path: string): Buffer {
  const st = statSync(path);
  if (!st.isFile()) throw Object.assign(new Error(`${path} is not a regular file`), { code: 'EINVAL' });
  if (st.size > CREDENTIAL_SIZE_MAX) throw new Error(`${path} is larger than 1 MiB`);
  return readFileSync(path);
}

/** The files of `dir`, recursively, by name: `sub/file` becomes `ID_sub_file`. */
function loadDirectory(ws: Workspace, id: string, dir: string): void {
  const walk = (path: string, name: string) => {
    for (const e of readdirSync(path, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
      const sub = `${name}_${e.name}`;
      if (e.isDirectory()) walk(join(path, e.name), sub);
      else if (e.isFile() && !ws.ids.has(sub))
        ws.write(sub, readCredentialFile(join(path, e.name)), join(path, e.name));
    }
  };
  walk(dir, id);
}

function matches(glob: string, name: string): boolean {
  return glob.endsWith('*') ? name.startsWith(glob.slice(0, -1)) : name === glob;
}

function fill(
  ws: Workspace,
  exec: ExecContext,
  managerEnv: NodeJS.ProcessEnv,
  manager: 'system' | 'user',
  log: Logger | undefined,
  unit: string,
): void {
  const c = exec.credentials;
  // For one ID the last assignment counts (systemd keeps them in a hashmap by ID).
  const load = [...new Map(c.load.map((l) => [l.id, l])).values()];
  const set = [...new Map(c.set.map((s) => [s.id, s])).values()];
  const hasDefault = (id: string) => set.some((s) => s.id === id);
  const stores = searchPath(managerEnv, manager);
  for (const { id, path } of load) {
    if (path.startsWith('/')) {
      let st: ReturnType<typeof lstatSync> | undefined;
      try {
        st = statSync(path);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT' && hasDefault(id)) continue;
        throw new Error(`LoadCredential=${id}:${path}: ${(err as Error).message}`);
      }
      if (st.isDirectory()) loadDirectory(ws, id, path);
      else if (!ws.ids.has(id)) ws.write(id, readCredentialFile(path), path);
      continue;
    }
    const found = stores
      .map((d) => join(d, path))
      .find((f) => {
        try {
          return statSync(f).isFile();
        } catch {
          return false;
        }
      });
    if (found === undefined) {
      // A credential passed down that is not there is not fatal (systemd logs it and goes on).
      if (!hasDefault(id))
        log?.info(
          `${unit}: LoadCredential=${id}:${path}: no credential '${path}' in ${stores.join(', ')}; skipping it.`,
          unit,
        );
      continue;
    }
    if (!ws.ids.has(id)) ws.write(id, readCredentialFile(found), found);
  }
  for (const { glob, rename } of c.import)
    for (const dir of stores) {
      let names: string[];
      try {
        names = readdirSync(dir).sort();
      } catch {
        continue;
      }
      for (const name of names) {
        if (!matches(glob, name)) continue;
        const id =
          rename === undefined ? name : rename + name.slice(glob.length - (glob.endsWith('*') ? 1 : 0));
        if (ws.ids.has(id)) continue;
        try {
          ws.write(id, readCredentialFile(join(dir, name)), join(dir, name));
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code !== 'EINVAL') throw err;
        }
      }
    }
  for (const { id, data } of c.set)
    if (!ws.ids.has(id)) ws.write(id, Buffer.from(data, 'utf8'), 'SetCredential=');
}

/** Makes the unit's credentials directory unless it is there from an earlier process of this
 * start; returns its path (for $CREDENTIALS_DIRECTORY). Throws ExecSetupError (243/CREDENTIALS). */
export function setUpCredentials(
  unit: string,
  exec: ExecContext,
  owner: CredentialOwner,
  manager: 'system' | 'user',
  managerEnv: NodeJS.ProcessEnv,
  log?: Logger,
): string | undefined {
  if (!hasCredentials(exec)) return undefined;
  const dir = credentialsDirectory(unit, manager);
  if (dir === undefined)
    throw new ExecSetupError(
      EXIT.CREDENTIALS,
      'LoadCredential=/SetCredential=: this manager runs as a user without $XDG_RUNTIME_DIR; set it (e.g. /run/user/$UID)',
    );
  try {
    if (readdirSync(dir).length > 0) return dir;
  } catch {}
  const runtime = join(dir, '..', '..');
  const workspace = join(runtime, 'sockunit', 'temporary-credentials', unit);
  try {
    mkdirSync(join(dir, '..'), { recursive: true, mode: 0o755 });
    mkdirSync(join(workspace, '..'), { recursive: true, mode: 0o700 });
    rmSync(workspace, { recursive: true, force: true });
    mkdirSync(workspace, { mode: 0o700 });
    const ws = new Workspace(workspace, owner);
    fill(ws, exec, managerEnv, manager, log, unit);
    if (ws.ids.size === 0) {
      rmdirSync(workspace);
      return dir;
    }
    rmSync(dir, { recursive: true, force: true });
    // Moved while still 0700 (moving a directory needs write access to it), made 0500 after.
    renameSync(workspace, dir);
    chmodSync(dir, 0o500);
    if (owner.privileged) {
      chownSync(dir, owner.uid, owner.gid);
      bindReadOnly(dir);
    }
    return dir;
  } catch (err) {
    try {
      chmodSync(workspace, 0o700);
    } catch {}
    rmSync(workspace, { recursive: true, force: true });
    throw new ExecSetupError(
      EXIT.CREDENTIALS,
      `${(err as Error).message.startsWith('LoadCredential=') ? '' : 'LoadCredential=/ImportCredential=/SetCredential=: '}${(err as Error).message}; fix the path or give a default with SetCredential=ID:VALUE`,
    );
  }
}

/** Removes the unit's credentials (at stop). */
export function removeCredentials(unit: string, manager: 'system' | 'user'): void {
  const dir = credentialsDirectory(unit, manager);
  if (dir === undefined) return;
  unmountLazily(dir);
  try {
    chmodSync(dir, 0o700); // a mode 0500 directory cannot lose its files otherwise, for a user manager
  } catch {}
  rmSync(dir, { recursive: true, force: true });
}
