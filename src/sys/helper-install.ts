// Where sockunit's hand-assembled helper programs (the LISTEN_PID helper, the exec-context helper,
// the cgroup-enter step, the sandbox helper and its plans) are built and written before their
// first use: a directory only this user can write, on a filesystem that allows exec, each file
// checked byte for byte and replaced atomically when it differs. Nothing of another user can be
// exec'd as a service's first step. Most helpers live in a private directory; the sandbox helper
// and its plans in one everyone may read and search, because a service that drops to User= reads
// its second plan after the switch.

import {
  accessSync,
  closeSync,
  constants,
  fchmodSync,
  lstatSync,
  mkdirSync,
  openSync,
  readFileSync,
  renameSync,
  type Stats,
  unlinkSync,
  writeSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { isAbsolute, join } from 'node:path';
import type { ListingLine } from './elf.js';
import { helperElf } from './elf.js';
import { crypto } from './lazy-builtins.js';

/** Node's `process.arch` names of the architectures that have helper listings. */
export type HelperArch = 'x64' | 'arm64';

export function isHelperArch(arch: string): arch is HelperArch {
  return arch === 'x64' || arch === 'arm64';
}

const images = new Map<readonly ListingLine[], Uint8Array>();

/** A helper's static ELF file for `arch` (Node's names), from its listing for that architecture;
 * undefined where it has none. Built on first use; the same bytes on every machine. */
export function helperImage(
  arch: string,
  listings: Record<HelperArch, readonly ListingLine[]>,
): Uint8Array | undefined {
  if (!isHelperArch(arch)) return undefined;
  const listing = listings[arch];
  let image = images.get(listing);
  if (!image) {
    image = helperElf(arch, listing);
    images.set(listing, image);
  }
  return image;
}

/** A helper's file name: `prefix-arch-digest`. The content hash keeps two sockunit versions (two
 * contracts) that share a directory from replacing each other's helper. */
export function helperFileName(prefix: string, arch: string, image: Uint8Array): string {
  const digest = crypto().createHash('sha256').update(image).digest('hex').slice(0, 12);
  return `${prefix}-${arch}-${digest}`;
}

/** The user installed files must belong to: this process's effective uid. */
export function effectiveUid(): number {
  return process.geteuid?.() ?? 0;
}

/** Who may read and search a directory of installed files. Only this user may ever write it:
 * `private` (0700) for the helpers a service execs first, `shared` (0755) for the sandbox
 * helper and its plans, which a service reads after it has dropped to User=. */
export type InstallDirAccess = 'private' | 'shared';

const DIR_MODE: Record<InstallDirAccess, number> = { private: 0o700, shared: 0o755 };

function unsafeDirMessage(dir: string, access: InstallDirAccess, st: Stats): string {
  const found = `owner uid ${st.uid}, mode ${(st.mode & 0o7777).toString(8)}`;
  const uid = effectiveUid();
  return access === 'private'
    ? `${dir} is not a private directory (${st.isDirectory() ? 'directory' : 'not a directory'}, ${found}); ` +
        `expected a directory of uid ${uid} that only its owner can write`
    : `${dir} is not a directory only uid ${uid} can write (${found}); remove it`;
}

/** Creates `dir` (mode 0700 or 0755) unless it exists, then checks that nobody else can write
 * to it: a real directory, ours, not group- or world-writable. Throws saying what is wrong. */
function ensureInstallDir(dir: string, access: InstallDirAccess): void {
  try {
    mkdirSync(dir, { mode: DIR_MODE[access] });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
  }
  const st = lstatSync(dir);
  if (!st.isDirectory() || st.uid !== effectiveUid() || (st.mode & 0o022) !== 0)
    throw new Error(unsafeDirMessage(dir, access, st));
}

function isInstalled(path: string, bytes: Uint8Array, mode: number): boolean {
  let st: Stats;
  try {
    st = lstatSync(path);
  } catch {
    return false;
  }
  if (!st.isFile() || st.uid !== effectiveUid() || (st.mode & 0o7777) !== mode || st.size !== bytes.length)
    return false;
  return Buffer.compare(readFileSync(path), bytes) === 0;
}

/** Writes `bytes` as `dir/name` with `mode` (`dir` created if missing, and checked: see
 * `InstallDirAccess`) unless an identical file is there, replacing a different or tampered one
 * atomically, and returns its path. */
export function installFile(
  dir: string,
  name: string,
  bytes: Uint8Array,
  mode: number,
  access: InstallDirAccess,
): string {
  ensureInstallDir(dir, access);
  const path = join(dir, name);
  if (isInstalled(path, bytes, mode)) return path;
  const temporary = join(dir, `.${name}.${process.pid}.${crypto().randomBytes(6).toString('hex')}`);
  try {
    const fd = openSync(temporary, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o600);
    try {
      writeSync(fd, bytes);
      fchmodSync(fd, mode); // the umask may have taken bits away
    } finally {
      closeSync(fd);
    }
    renameSync(temporary, path);
  } catch (error) {
    try {
      unlinkSync(temporary);
    } catch {}
    throw error;
  }
  return path;
}

/** Writes `image` as the program `dir/fileName` (mode 0755; `dir` private unless `access` says
 * shared) unless an identical file is there, and returns its path. Throws when `dir` is not
 * ours alone to write, not writable, or on a filesystem mounted noexec. */
export function installHelperImage(
  dir: string,
  fileName: string,
  image: Uint8Array,
  access: InstallDirAccess = 'private',
): string {
  const path = installFile(dir, fileName, image, 0o755, access);
  // access(X_OK) fails on a noexec mount even for root, where execve would fail too.
  accessSync(path, constants.X_OK);
  return path;
}

/** Where the helpers may live, best first: the user's runtime directory, /run (root), /tmp. */
export function helperDirs(): string[] {
  const dirs: string[] = [];
  const runtime = process.env.XDG_RUNTIME_DIR;
  if (runtime && isAbsolute(runtime)) dirs.push(join(runtime, 'sockunit'));
  if (effectiveUid() === 0) dirs.push('/run/sockunit');
  dirs.push(join(tmpdir(), `sockunit-${effectiveUid()}`));
  return dirs;
}

/** Installs `image` in the first of `helperDirs()` that is private and allows exec, and returns
 * its path; throws naming every directory tried and why (`what` names the helper). */
export function installHelperSomewhere(fileName: string, image: Uint8Array, what: string): string {
  const failures: string[] = [];
  for (const dir of helperDirs()) {
    try {
      return installHelperImage(dir, fileName, image);
    } catch (error) {
      failures.push(`${dir}: ${(error as Error).message}`);
    }
  }
  throw new Error(
    `cannot install the ${what} (${failures.join('; ')}); ` +
      'set XDG_RUNTIME_DIR to a private directory on a filesystem that allows exec',
  );
}
