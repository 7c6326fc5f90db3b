// LISTEN_PID must be the service's own pid (sd_listen_fds and its ports in Go, Python and Rust
// ignore the fds otherwise), and a spawner cannot know that pid before the child exists. So the
// child sets it itself, between the spawn and the service's exec:
//
// - On x86_64 and AArch64, through a tiny static helper (no libc, a few hundred bytes) whose
//   machine code is kept here as commented listings (listen-pid-helper-x86_64.ts,
//   listen-pid-helper-aarch64.ts) and written out as an ELF file once per process. Cost: one
//   extra execve of a program that maps nothing but itself, ~0.1 ms (spawn.md).
// - Elsewhere, through `/bin/sh -c 'LISTEN_PID=$$; export LISTEN_PID; exec "$0" "$@"'`: the
//   same result, but a dynamically linked shell starts first (about 0.6 ms), and without
//   LISTEN_PIDFDID (below).
//
// LISTEN_PIDFDID (systemd 259): beside LISTEN_PID, the inode id of the service's own pidfd, so
// that sd_listen_fds(3) can tell fds meant for this very process from fds meant for an earlier
// one that had the same pid. Only the child can learn it, and only on a kernel with pidfs (Linux
// 6.9+: before it, every pidfd shares one anon_inode). Wherever LISTEN_PID is wrapped in and
// `pidfdInodeId(process.pid)` works here, the helper gets a LISTEN_PIDFDID slot too. A shell
// cannot open a pidfd, so the shell fallback leaves the variable out, as systemd does where it
// cannot get the id: libraries then check LISTEN_PID alone.
//
// The helper's contract (the spawner's side is `listenPidWrap`):
//   argv = [helper, PATH, ARGV0, ARG...]: it execs PATH with argv [ARGV0, ARG...], so ARGV0 may
//     differ from PATH (systemd's `@` prefix). PATH is used as is: no $PATH search.
//   argv = [helper, PPID, PATH, ARGV0, ARG...], PPID all digits (a PATH always holds a '/'): the
//     same, after prctl(PR_SET_PDEATHSIG, SIGKILL), so that the service is killed when its parent
//     dies; if getppid() is no longer PPID by then, the parent died before the signal was armed
//     and the helper exits 127 at once. The kernel sends the signal when the *thread* that
//     spawned the process ends, so only threads that live as long as their process may ask.
//   envp: every entry that ends in "_PID=0000000000" (a name ending in _PID whose value is the
//     placeholder, ten zeros: `ownPidPlaceholder(name)`) is rewritten in place to "NAME=<pid>",
//     the decimal pid left-aligned and NUL-terminated (execve copies an entry up to its first
//     NUL, so the service sees no padding). That is how LISTEN_PID, WATCHDOG_PID and
//     SYSTEMD_EXEC_PID, which systemd sets to the process's own pid, get it. Ten digits hold any
//     32-bit pid; Linux's pid_max is at most 4194304. Other entries pass untouched. A request
//     without a placeholder is exec'd unchanged.
//   envp: every entry that ends in "_PIDFDID=" and twenty zeros (`LISTEN_PIDFDID_PLACEHOLDER`)
//     is rewritten the same way to the decimal inode id of the helper's own pidfd (its process's:
//     the id survives execve), from pidfd_open(getpid(), 0), fstatfs, fstat, close; twenty digits
//     hold any 64-bit id. Decimal without leading zeros, as systemd writes it: sd_listen_fds
//     parses it with base auto-detection, so "0…" would be octal. When that id cannot be had
//     (pidfd_open fails: no such syscall, no free fd, a seccomp filter; fstatfs or fstat fails;
//     the pidfd is not on pidfs), such entries are taken out of the environment: the service
//     sees no LISTEN_PIDFDID, never the zeros (which would make libsystemd refuse the fds) nor a
//     shared anon_inode number. The pidfd is closed before the exec.
//   On execve failure: "sockunit-listen-pid: cannot execute PATH: errno N" on fd 2 and exit
//     status 127 (as a shell's "command not found"; the errno says which failure it was). With
//     fewer than two arguments: a usage line on fd 2 and status 127.

import { createHash, randomBytes } from 'node:crypto';
import {
  accessSync,
  closeSync,
  constants,
  existsSync,
  fchmodSync,
  lstatSync,
  mkdirSync,
  openSync,
  readFileSync,
  renameSync,
  unlinkSync,
  writeSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { isAbsolute, join } from 'node:path';
import { helperElf } from './elf.js';
import {
  LISTEN_PID_HELPER_AARCH64,
  OWN_PID_SUFFIX_AARCH64,
  OWN_PIDFDID_SUFFIX_AARCH64,
} from './listen-pid-helper-aarch64.js';
import {
  LISTEN_PID_HELPER_X86_64,
  OWN_PID_SUFFIX_X86_64,
  OWN_PIDFDID_SUFFIX_X86_64,
} from './listen-pid-helper-x86_64.js';
import { pidfdInodeId } from './pidfd.js';

if (
  OWN_PID_SUFFIX_AARCH64 !== OWN_PID_SUFFIX_X86_64 ||
  OWN_PIDFDID_SUFFIX_AARCH64 !== OWN_PIDFDID_SUFFIX_X86_64
)
  throw new Error('listen-pid-helper: the x86_64 and aarch64 listings disagree on a placeholder');
// Both listings load each suffix's length (with its NUL) and where its zeros start as immediates.
if (
  OWN_PID_SUFFIX_X86_64.length + 1 !== 0x10 ||
  OWN_PID_SUFFIX_X86_64.indexOf('=') + 1 !== 0x5 ||
  OWN_PIDFDID_SUFFIX_X86_64.length + 1 !== 0x1e ||
  OWN_PIDFDID_SUFFIX_X86_64.indexOf('=') + 1 !== 0x9
)
  throw new Error(
    'listen-pid-helper: a suffix no longer matches the immediates of the listings (0x10/0x5, 0x1e/0x9)',
  );

/** The variables systemd sets to the started process's own pid, which the helper fills in:
 * LISTEN_PID (sd_listen_fds(3)), WATCHDOG_PID (sd_watchdog_enabled(3)) and SYSTEMD_EXEC_PID
 * (systemd.exec(5), every command since systemd 248). Each ends in `_PID`, as the helper needs. */
export type OwnPidVariable = 'LISTEN_PID' | 'WATCHDOG_PID' | 'SYSTEMD_EXEC_PID';

/** The placeholder value the helper replaces with the pid. */
const PLACEHOLDER_VALUE = OWN_PID_SUFFIX_X86_64.slice('_PID='.length);

/** `NAME=0000000000`: the environment entry the helper rewrites to `NAME=<pid>`. */
export function ownPidPlaceholder(name: OwnPidVariable): string {
  return `${name}=${PLACEHOLDER_VALUE}`;
}

/** The environment entry the helper replaces with the real `LISTEN_PID=<pid>`. */
export const LISTEN_PID_PLACEHOLDER = ownPidPlaceholder('LISTEN_PID');

/** `LISTEN_PIDFDID=` and twenty zeros: the entry the helper rewrites to the inode id of its own
 * pidfd, or takes out of the environment when it cannot get one. */
export const LISTEN_PIDFDID_PLACEHOLDER = `LISTEN${OWN_PIDFDID_SUFFIX_X86_64}`;
const LISTEN_PIDFDID = 'LISTEN_PIDFDID';
const PIDFDID_ZEROS = LISTEN_PIDFDID_PLACEHOLDER.slice(`${LISTEN_PIDFDID}=`.length);

let pidfdIdsChecked: boolean | undefined;

/** Whether this kernel gives pidfds inode ids (pidfs, Linux 6.9+), so that a LISTEN_PIDFDID slot
 * is worth handing to the helper. Asked once per process: the kernel does not change under it. */
export function kernelHasPidfdIds(): boolean {
  pidfdIdsChecked ??= pidfdInodeId(process.pid) !== undefined;
  return pidfdIdsChecked;
}

/** The LISTEN_PIDFDID slot for an environment that gets LISTEN_PID through the helper: the
 * placeholder where this kernel gives pidfds inode ids, none elsewhere. */
export function listenPidfdIdSlot(): string[] {
  return kernelHasPidfdIds() ? [LISTEN_PIDFDID_PLACEHOLDER] : [];
}

/** The shell fallback's script for `names`: $0 is the service's path, "$@" its arguments. With
 * `parentPid`, a shell whose parent is no longer that process exits 127 (the helper's check). */
export function ownPidShellScript(
  names: readonly OwnPidVariable[] = ['LISTEN_PID'],
  unsetPwd = false,
  parentPid?: number,
): string {
  const orphaned = parentPid !== undefined ? `[ "$PPID" = ${parentPid} ] || exit 127; ` : '';
  return `${orphaned}${names.map((n) => `${n}=$$; export ${n}; `).join('')}${unsetPwd ? 'unset PWD; ' : ''}exec "$0" "$@"`;
}
const SHELL = '/bin/sh';

/** What a wrapped start asks for besides the own-pid variables. */
export interface WrapOptions {
  /** The spawner's pid (process.pid): the service is killed with SIGKILL when the spawning
   * thread ends, through PR_SET_PDEATHSIG (the shell fallback uses `setpriv --pdeathsig`). */
  parentPid?: number;
}

/** A spawn request: the file to execute, its whole argv (argv[0] included), its environment. */
export interface SpawnRequest<Env> {
  file: string;
  argv: string[];
  env: Env;
}

export type EnvRecord = Readonly<Record<string, string>>;

/** Node's `process.arch` names of the architectures that have a helper listing. */
export type HelperArch = 'x64' | 'arm64';

const images = new Map<HelperArch, Uint8Array>();

function isHelperArch(arch: string): arch is HelperArch {
  return arch === 'x64' || arch === 'arm64';
}

/** The helper's ELF file for `arch` (Node's names: `x64`, `arm64`), or undefined where there
 * is no listing. Built from the listings on first use; the same bytes on every machine. */
export function listenPidHelperImage(arch: string = process.arch): Uint8Array | undefined {
  if (!isHelperArch(arch)) return undefined;
  let image = images.get(arch);
  if (!image) {
    image = helperElf(arch, LISTEN_PID_HELPER_X86_64, LISTEN_PID_HELPER_AARCH64);
    images.set(arch, image);
  }
  return image;
}

/** The helper's file name: the content hash keeps two sockunit versions (two contracts) that
 * share a directory from replacing each other's helper. */
function helperFileName(arch: HelperArch, image: Uint8Array): string {
  const digest = createHash('sha256').update(image).digest('hex').slice(0, 12);
  return `listen-pid-${arch}-${digest}`;
}

function effectiveUid(): number {
  return process.geteuid?.() ?? 0;
}

/** Creates `dir` (mode 0700) unless it exists, then checks that nobody else can write to it:
 * a real directory, ours, not group- or world-writable. Throws saying what is wrong. */
function ensurePrivateDir(dir: string): void {
  try {
    mkdirSync(dir, { mode: 0o700 });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
  }
  const st = lstatSync(dir);
  const uid = effectiveUid();
  if (!st.isDirectory() || st.uid !== uid || (st.mode & 0o022) !== 0)
    throw new Error(
      `${dir} is not a private directory (${st.isDirectory() ? 'directory' : 'not a directory'}, ` +
        `owner uid ${st.uid}, mode ${(st.mode & 0o7777).toString(8)}); expected a directory of uid ${uid} ` +
        'that only its owner can write',
    );
}

function isInstalled(path: string, image: Uint8Array): boolean {
  let st: ReturnType<typeof lstatSync>;
  try {
    st = lstatSync(path);
  } catch {
    return false;
  }
  if (!st.isFile() || st.uid !== effectiveUid() || (st.mode & 0o7777) !== 0o755 || st.size !== image.length)
    return false;
  return Buffer.compare(readFileSync(path), image) === 0;
}

/** Writes the helper into `dir` (created private if missing) unless an identical file is there,
 * replacing a different or tampered one atomically, and returns its path. Throws when `dir`
 * is not private, not writable, or on a filesystem mounted noexec. */
export function installListenPidHelper(dir: string, arch: string = process.arch): string {
  const image = listenPidHelperImage(arch);
  if (!image || !isHelperArch(arch)) throw new Error(`no LISTEN_PID helper for architecture ${arch}`);
  ensurePrivateDir(dir);
  const path = join(dir, helperFileName(arch, image));
  if (!isInstalled(path, image)) {
    const temporary = join(dir, `.listen-pid.${process.pid}.${randomBytes(6).toString('hex')}`);
    try {
      const fd = openSync(temporary, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o700);
      try {
        writeSync(fd, image);
        fchmodSync(fd, 0o755); // the umask may have taken bits away
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
  }
  // access(X_OK) fails on a noexec mount even for root, where execve would fail too.
  accessSync(path, constants.X_OK);
  return path;
}

/** Where the helper may live, best first: the user's runtime directory, /run (root), /tmp. */
function helperDirs(): string[] {
  const dirs: string[] = [];
  const runtime = process.env.XDG_RUNTIME_DIR;
  if (runtime && isAbsolute(runtime)) dirs.push(join(runtime, 'sockunit'));
  if (effectiveUid() === 0) dirs.push('/run/sockunit');
  dirs.push(join(tmpdir(), `sockunit-${effectiveUid()}`));
  return dirs;
}

let installedPath: string | undefined;

/** The path of this architecture's LISTEN_PID helper, written (or checked byte for byte and
 * replaced) on the first call of the process: `$XDG_RUNTIME_DIR/sockunit/`, else
 * `/run/sockunit/` for root, else `<tmpdir>/sockunit-<uid>/`, the first that is private and
 * allows exec. Undefined on an architecture without a helper; throws when no directory will do. */
export function listenPidHelperPath(): string | undefined {
  if (installedPath) return installedPath;
  if (!listenPidHelperImage()) return undefined;
  const failures: string[] = [];
  for (const dir of helperDirs()) {
    try {
      installedPath = installListenPidHelper(dir);
      return installedPath;
    } catch (error) {
      failures.push(`${dir}: ${(error as Error).message}`);
    }
  }
  throw new Error(
    `cannot install the LISTEN_PID helper (${failures.join('; ')}); ` +
      'set XDG_RUNTIME_DIR to a private directory on a filesystem that allows exec',
  );
}

let helperFailure: Error | undefined;

/** The helper's path for `listenPidWrap`, or undefined to use the shell: where there is no
 * helper, and where it cannot be installed. A service start must not fail over a faster way to
 * set LISTEN_PID, so that case warns once (a process warning, code SOCKUNIT_LISTEN_PID_HELPER)
 * and is not retried. */
function helperOrShell(): string | undefined {
  if (helperFailure) return undefined;
  try {
    return listenPidHelperPath();
  } catch (error) {
    helperFailure = error as Error;
    process.emitWarning(`${helperFailure.message}; using the slower /bin/sh trampoline`, {
      code: 'SOCKUNIT_LISTEN_PID_HELPER',
    });
    return undefined;
  }
}

function checkRequest(file: string, argv: readonly string[]): void {
  if (!file.includes('/'))
    throw new TypeError(
      `LISTEN_PID wrapper: '${file}' is not a path; resolve it first (as systemd does for ExecStart=)`,
    );
  if (argv.length === 0)
    throw new RangeError(`LISTEN_PID wrapper: empty argv for '${file}' (argv[0] is required)`);
}

function isEntryList(env: EnvRecord | readonly string[]): env is readonly string[] {
  return Array.isArray(env);
}

function without(env: EnvRecord, names: readonly string[]): Record<string, string>;
function without(env: readonly string[], names: readonly string[]): string[];
function without(
  env: EnvRecord | readonly string[],
  names: readonly string[],
): Record<string, string> | string[];
function without(
  env: EnvRecord | readonly string[],
  names: readonly string[],
): Record<string, string> | string[] {
  if (isEntryList(env)) return env.filter((entry) => !names.some((n) => entry.startsWith(`${n}=`)));
  const copy = { ...env };
  for (const n of names) delete copy[n];
  return copy;
}

/** Rewrites a spawn request so that the service starts with `names` (LISTEN_PID unless told
 * otherwise) set to its own pid, through the helper, or through `/bin/sh` where there is none or
 * it cannot be installed. `file` must be a path (no $PATH search); `argv[0]` may differ from it.
 * With LISTEN_PID comes LISTEN_PIDFDID, as under systemd 259: through the helper, on a kernel
 * that gives pidfds inode ids; otherwise left out. Those variables already in `env` are
 * replaced (or removed); other entries pass unchanged. Spawn the result as `file` with argv
 * `argv` (for child_process: `spawn(r.file, r.argv.slice(1), { argv0: r.argv[0], env: r.env
 * })`). */
export function listenPidWrap(
  file: string,
  argv: readonly string[],
  env: EnvRecord,
  names?: readonly OwnPidVariable[],
  options?: WrapOptions,
): SpawnRequest<Record<string, string>>;
export function listenPidWrap(
  file: string,
  argv: readonly string[],
  env: readonly string[],
  names?: readonly OwnPidVariable[],
  options?: WrapOptions,
): SpawnRequest<string[]>;
export function listenPidWrap(
  file: string,
  argv: readonly string[],
  env: EnvRecord | readonly string[],
  names: readonly OwnPidVariable[] = ['LISTEN_PID'],
  options: WrapOptions = {},
): SpawnRequest<Record<string, string> | string[]> {
  const helper = helperOrShell();
  if (!helper) return wrapWithShell(file, argv, env, names, options.parentPid);
  checkRequest(file, argv);
  const rest = without(env, replacedNames(names));
  const slots: [string, string][] = names.map((n) => [n, PLACEHOLDER_VALUE]);
  if (names.includes('LISTEN_PID') && kernelHasPidfdIds()) slots.push([LISTEN_PIDFDID, PIDFDID_ZEROS]);
  const wrappedEnv = Array.isArray(rest)
    ? [...rest, ...slots.map(([n, v]) => `${n}=${v}`)]
    : { ...rest, ...Object.fromEntries(slots) };
  const parent = options.parentPid !== undefined ? [String(options.parentPid)] : [];
  return { file: helper, argv: [helper, ...parent, file, ...argv], env: wrappedEnv };
}

/** The `/bin/sh` fallback of `listenPidWrap`, usable on any architecture. Differences from the
 * helper, both from the shell: argv[0] becomes `file` (POSIX sh cannot exec under another
 * name), and a `PWD` entry that does not name the working directory is corrected to it. */
export function listenPidShellWrap(
  file: string,
  argv: readonly string[],
  env: EnvRecord,
  names?: readonly OwnPidVariable[],
  options?: WrapOptions,
): SpawnRequest<Record<string, string>>;
export function listenPidShellWrap(
  file: string,
  argv: readonly string[],
  env: readonly string[],
  names?: readonly OwnPidVariable[],
  options?: WrapOptions,
): SpawnRequest<string[]>;
export function listenPidShellWrap(
  file: string,
  argv: readonly string[],
  env: EnvRecord | readonly string[],
  names: readonly OwnPidVariable[] = ['LISTEN_PID'],
  options: WrapOptions = {},
): SpawnRequest<Record<string, string> | string[]> {
  return wrapWithShell(file, argv, env, names, options.parentPid);
}

function wrapWithShell(
  file: string,
  argv: readonly string[],
  env: EnvRecord | readonly string[],
  names: readonly OwnPidVariable[],
  parentPid?: number,
): SpawnRequest<Record<string, string> | string[]> {
  checkRequest(file, argv);
  const rest = without(env, replacedNames(names));
  const hasPwd = Array.isArray(rest) ? rest.some((entry) => entry.startsWith('PWD=')) : 'PWD' in rest;
  // dash exports PWD at start-up; take it away again unless the caller passed one.
  const shell = [SHELL, '-c', ownPidShellScript(names, !hasPwd, parentPid), file, ...argv.slice(1)];
  // A shell cannot call prctl: util-linux's setpriv arms the signal and execs it (same pid).
  const setpriv = parentPid !== undefined ? SETPRIV.find((p) => existsSync(p)) : undefined;
  if (!setpriv) return { file: SHELL, argv: shell, env: rest };
  return { file: setpriv, argv: [setpriv, '--pdeathsig', 'KILL', '--', ...shell], env: rest };
}

const SETPRIV = ['/usr/bin/setpriv', '/bin/setpriv'];

/** The variables a wrap sets, or removes: a LISTEN_PIDFDID the caller passed belongs to another
 * process, and beside a fresh LISTEN_PID it would make libsystemd refuse the fds. */
function replacedNames(names: readonly OwnPidVariable[]): readonly string[] {
  return names.includes('LISTEN_PID') ? [...names, LISTEN_PIDFDID] : names;
}
