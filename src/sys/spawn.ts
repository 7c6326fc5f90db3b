// Starting a service: posix_spawn through the FFI, with the passed fds at 3.., stdio, a clean
// signal state and a pidfd to supervise it by. spawn.md says why (glibc's posix_spawn is
// clone(CLONE_VM|CLONE_VFORK) + execve, ~1.3-1.5x faster than child_process.spawn's fork of the
// whole Node process) and lists the traps each option below answers.

import { enterCgroupFirst } from './cgroup-enter.js';
import {
  O_RDONLY,
  O_WRONLY,
  POSIX_SPAWN_SETSID,
  POSIX_SPAWN_SETSIGDEF,
  POSIX_SPAWN_SETSIGMASK,
} from './constants.js';
import { errnoName, type SystemError, systemError } from './errors.js';
import { libcCalls as c } from './ffi.js';
import { type Pid, pidfdOpen } from './process.js';
import type { Fd } from './socket.js';

export interface SpawnOptions {
  /** The program: a path, or a bare name searched in this process's PATH (posix_spawnp). */
  file: string;
  /** The whole argv, argv[0] included. */
  argv: string[];
  /** The child's complete environment (nothing is inherited unless listed here). */
  env: Record<string, string> | string[];
  /** Passed at 3, 4, ... in this order, without close-on-exec. Every other fd above 2 is closed. */
  fds?: Fd[];
  /** Default 'null' (/dev/null), as systemd's StandardInput=null. */
  stdin?: Fd | 'null';
  /** Default 'inherit' (this process's own stdout). */
  stdout?: Fd | 'inherit' | 'null';
  /** Default 'inherit'. */
  stderr?: Fd | 'inherit' | 'null';
  cwd?: string;
  /** Start a new session (POSIX_SPAWN_SETSID), as systemd does for services. */
  setsid?: boolean;
  /** Only the current uid/gid are accepted: see `spawnProcess`. */
  uid?: number;
  gid?: number;
  /** The child's umask; applied by setting this process's umask around the (synchronous) spawn. */
  umask?: number;
  /** A cgroup directory the child enters before `file` runs, through an exec step
   * (cgroup-enter.ts), so that even its first fork happens inside. `file` must be a path. */
  cgroup?: string;
  /** Leave SIGPIPE as this process has it (Node ignores it) instead of resetting it to the default:
   * systemd's IgnoreSIGPIPE=yes, free of cost where the spawner ignores SIGPIPE itself. */
  ignoreSigpipe?: boolean;
}

export interface SpawnedProcess {
  pid: Pid;
  /** A close-on-exec pidfd for the child: watch it (`onExit`) and close it after reaping. */
  pidfd: Fd;
}

const SIGSET_SIZE = 128; // sizeof(sigset_t) in glibc: 1024 bits
// glibc's posix_spawn_file_actions_t is 80 bytes and posix_spawnattr_t 336 on 64-bit; the
// buffers are larger so a future glibc that grows them cannot write past their end.
const FILE_ACTIONS_SIZE = 256;
const SPAWNATTR_SIZE = 512;

type StdioSpec = Fd | 'inherit' | 'null';

function spawnError(message: string, file: string, errno?: number): SystemError {
  if (errno !== undefined) {
    const err = systemError('spawn', errno, { path: file });
    err.message = `spawn ${file} ${err.code}: ${message}`;
    return err;
  }
  const err = new Error(`spawn ${file}: ${message}`) as SystemError;
  err.code = 'ERR_INVALID_ARG_VALUE';
  err.syscall = 'spawn';
  err.path = file;
  return err;
}

function checkFd(fd: Fd, what: string, file: string): void {
  if (!Number.isInteger(fd) || fd < 0) throw spawnError(`${what} ${fd} is not a descriptor number`, file);
}

function environment(env: Record<string, string> | string[], file: string): string[] {
  if (!Array.isArray(env))
    for (const name of Object.keys(env))
      if (name === '' || name.includes('='))
        throw spawnError(`environment variable name '${name}' is empty or contains '='`, file);
  const list = Array.isArray(env) ? env : Object.entries(env).map(([k, v]) => `${k}=${v}`);
  for (const entry of list)
    if (entry.includes('\0'))
      throw spawnError(`environment entry '${entry.split('\0')[0]}…' contains a NUL byte`, file);
  return list;
}

/** Calls a posix_spawn_* helper; they return an errno value instead of setting errno. */
function call(ret: number, what: string, file: string): void {
  if (ret !== 0) throw spawnError(`${what} failed`, file, ret);
}

/**
 * The file actions, in the order the child runs them:
 * 1. every source fd that lies in the target range 0..2+n is first copied to a temporary slot
 *    above every source and target, so no later dup2 can overwrite a source still needed;
 * 2. stdio: dup2 onto 0/1/2, /dev/null opens, or dup2(k, k) for 'inherit' — dup2 onto the same
 *    number clears close-on-exec, which Node sets on its stdio (spawn.md trap 6);
 * 3. passed fds: dup2 onto 3+i (clears close-on-exec on the copy);
 * 4. closefrom(3+n): fds this process inherited without close-on-exec never leak to services,
 *    and the temporaries of step 1 are closed.
 */
function addFileActions(actions: Buffer, options: SpawnOptions, file: string): void {
  const fds = options.fds ?? [];
  const stdio: [StdioSpec, StdioSpec, StdioSpec] = [
    options.stdin ?? 'null',
    options.stdout ?? 'inherit',
    options.stderr ?? 'inherit',
  ];
  const firstFree = 3 + fds.length;
  const sources = [...fds, ...stdio.filter((s): s is Fd => typeof s === 'number')];
  let nextTemp = Math.max(firstFree, ...sources.map((fd) => fd + 1));
  const moved = new Map<Fd, Fd>();
  for (const source of sources) {
    if (source >= firstFree || moved.has(source)) continue;
    const temp = nextTemp++;
    call(
      c.posix_spawn_file_actions_adddup2(actions, source, temp),
      `moving fd ${source} out of the way`,
      file,
    );
    moved.set(source, temp);
  }
  const from = (fd: Fd): Fd => moved.get(fd) ?? fd;
  stdio.forEach((spec, target) => {
    if (spec === 'inherit') {
      call(c.posix_spawn_file_actions_adddup2(actions, target, target), `keeping fd ${target}`, file);
    } else if (spec === 'null') {
      const flags = target === 0 ? O_RDONLY : O_WRONLY;
      call(
        c.posix_spawn_file_actions_addopen(actions, target, '/dev/null', flags, 0),
        `/dev/null on fd ${target}`,
        file,
      );
    } else {
      call(c.posix_spawn_file_actions_adddup2(actions, from(spec), target), `fd ${spec} to ${target}`, file);
    }
  });
  fds.forEach((fd, i) => {
    call(c.posix_spawn_file_actions_adddup2(actions, from(fd), 3 + i), `fd ${fd} to ${3 + i}`, file);
  });
  if (options.cwd !== undefined)
    call(c.posix_spawn_file_actions_addchdir_np(actions, options.cwd), `chdir to ${options.cwd}`, file);
  call(c.posix_spawn_file_actions_addclosefrom_np(actions, firstFree), `closefrom(${firstFree})`, file);
}

/** SIGPIPE is signal 13: bit 12 of a sigset_t. */
const SIGPIPE_BIT = 12;

/** Signal state (spawn.md trap 5): every signal to its default action, bits written by hand
 * because sigaddset refuses glibc's internal 32 and 33; nothing blocked. With `ignoreSigpipe`,
 * SIGPIPE is left out of the set, so the child inherits Node's SIG_IGN for it. */
function addAttributes(attr: Buffer, setsid: boolean, ignoreSigpipe: boolean): void {
  const allSignals = Buffer.alloc(SIGSET_SIZE);
  allSignals.fill(0xff, 0, 8); // signals 1..64 are bits 0..63
  if (ignoreSigpipe)
    allSignals[SIGPIPE_BIT >> 3] = (allSignals[SIGPIPE_BIT >> 3] as number) & ~(1 << (SIGPIPE_BIT & 7));
  const noSignals = Buffer.alloc(SIGSET_SIZE);
  const flags = POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK | (setsid ? POSIX_SPAWN_SETSID : 0);
  call(c.posix_spawnattr_setflags(attr, flags), 'posix_spawnattr_setflags', 'posix_spawnattr');
  call(c.posix_spawnattr_setsigdefault(attr, allSignals), 'posix_spawnattr_setsigdefault', 'posix_spawnattr');
  call(c.posix_spawnattr_setsigmask(attr, noSignals), 'posix_spawnattr_setsigmask', 'posix_spawnattr');
}

// Spawn attributes and file actions are built once and reused: posix_spawn only reads them, and
// each posix_spawn_file_actions_add* call costs glibc a getrlimit(RLIMIT_NOFILE) system call per
// fd it names (eight per Accept=yes start). Connections arriving one at a time get the same fd
// numbers again and again, so a few recent sets of actions cover most starts.

const attributeSets = new Map<number, Buffer>();

function attributesFor(setsid: boolean, ignoreSigpipe: boolean): Buffer {
  const key = (setsid ? 1 : 0) | (ignoreSigpipe ? 2 : 0);
  let attr = attributeSets.get(key);
  if (!attr) {
    attr = Buffer.alloc(SPAWNATTR_SIZE);
    call(c.posix_spawnattr_init(attr), 'posix_spawnattr_init', 'posix_spawnattr');
    try {
      addAttributes(attr, setsid, ignoreSigpipe);
    } catch (err) {
      c.posix_spawnattr_destroy(attr);
      throw err;
    }
    attributeSets.set(key, attr);
  }
  return attr;
}

/** posix_spawn's pid out-parameter, read right after the call. */
const pidScratch = Buffer.alloc(4);

const ACTION_SETS_KEPT = 32;
/** Built file actions by their layout, least recently used first. */
const actionSets = new Map<string, Buffer>();

function actionsKey(options: SpawnOptions): string {
  return `${options.stdin ?? 'null'} ${options.stdout ?? 'inherit'} ${options.stderr ?? 'inherit'} ${(options.fds ?? []).join(',')} ${options.cwd ?? ''}`;
}

function actionsFor(options: SpawnOptions): Buffer {
  const key = actionsKey(options);
  let actions = actionSets.get(key);
  if (actions) {
    actionSets.delete(key);
    actionSets.set(key, actions);
    return actions;
  }
  actions = Buffer.alloc(FILE_ACTIONS_SIZE);
  call(c.posix_spawn_file_actions_init(actions), 'posix_spawn_file_actions_init', options.file);
  try {
    addFileActions(actions, options, options.file);
  } catch (err) {
    c.posix_spawn_file_actions_destroy(actions);
    throw err;
  }
  actionSets.set(key, actions);
  if (actionSets.size > ACTION_SETS_KEPT) {
    const [oldestKey, oldest] = actionSets.entries().next().value as [string, Buffer];
    actionSets.delete(oldestKey);
    c.posix_spawn_file_actions_destroy(oldest);
  }
  return actions;
}

/**
 * Start `file` with posix_spawn. Blocks until the child has exec'd (~0.3-0.5 ms) and returns its
 * pid and a pidfd. Exec failures (ENOENT, EACCES, ENOEXEC) throw a SystemError with syscall
 * 'spawn' and `path`, as child_process does.
 *
 * uid/gid: posix_spawn cannot change credentials, and a setuid step would need either a helper
 * program or code running between fork and exec. Not implemented: a uid/gid different from this
 * process's throws; equal values are accepted (nothing to change).
 */
export function spawnProcess(options: SpawnOptions): SpawnedProcess {
  const { file } = options;
  if (typeof file !== 'string' || file === '' || file.includes('\0'))
    throw spawnError('file must be a non-empty string without NUL bytes', String(file));
  if (options.argv.length === 0) throw spawnError('argv is empty (it must include argv[0])', file);
  if (options.argv.some((a) => a.includes('\0'))) throw spawnError('an argument contains a NUL byte', file);
  if (options.uid !== undefined && options.uid !== c.geteuid())
    throw spawnError(
      `uid/gid switching is not implemented in spawnProcess yet (asked for uid ${options.uid}, running as ${c.geteuid()})`,
      file,
    );
  if (options.gid !== undefined && options.gid !== c.getegid())
    throw spawnError(
      `uid/gid switching is not implemented in spawnProcess yet (asked for gid ${options.gid}, running as ${c.getegid()})`,
      file,
    );
  for (const fd of options.fds ?? []) checkFd(fd, 'passed fd', file);
  for (const [name, spec] of [
    ['stdin', options.stdin],
    ['stdout', options.stdout],
    ['stderr', options.stderr],
  ] as const)
    if (typeof spec === 'number') checkFd(spec, name, file);
  const env = environment(options.env, file);

  const actions = actionsFor(options);
  const attr = attributesFor(options.setsid === true, options.ignoreSigpipe === true);
  const pidOut = pidScratch;
  const start =
    options.cgroup === undefined
      ? options
      : enterCgroupFirst(
          options.cgroup,
          file,
          options.argv,
          env.some((e) => e.startsWith('PWD=')),
        );
  const argv = [...start.argv, null];
  const envp = [...env, null];
  const spawn = start.file.includes('/') ? c.posix_spawn : c.posix_spawnp;
  const previousUmask = options.umask !== undefined ? c.umask(options.umask & 0o777) : undefined;
  let ret: number;
  try {
    ret = spawn(pidOut, start.file, actions, attr, argv, envp);
  } finally {
    if (previousUmask !== undefined) c.umask(previousUmask);
  }
  if (ret !== 0) throw spawnError(exitHint(ret), file, ret);
  const pid = pidOut.readInt32LE();
  // The child cannot be reaped before this (only we can reap it), so the pid is still ours.
  return { pid, pidfd: pidfdOpen(pid) };
}

function exitHint(errno: number): string {
  switch (errnoName(errno)) {
    case 'ENOENT':
      return 'no such program (or its interpreter, or the working directory, is missing)';
    case 'EACCES':
      return 'permission denied: is it executable, and are its directories searchable?';
    case 'ENOEXEC':
      return 'not an executable format (a script without #! line?)';
    default:
      return 'could not start the program';
  }
}
