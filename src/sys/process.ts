// Process calls for starting and supervising services: pidfds, non-blocking reaping, signals,
// exit statuses described the way systemd describes them.
//
// Reaping rule (spawn.md trap 2): a Node process may have children started by child_process,
// whose exit statuses libuv collects with waitpid(pid). Reaping "any child" steals those, and
// their 'exit' events never fire. Reap our own children through their pidfd (`waitPidfd`,
// `onExit`), and orphans (PID 1 in a container) with `reapOrphans`, which peeks before it reaps
// and never takes a status someone else waits for.

import { readdirSync, readFileSync } from 'node:fs';
import { constants as osConstants } from 'node:os';
import {
  __WNOTHREAD,
  CLD_DUMPED,
  CLD_EXITED,
  CLD_KILLED,
  P_ALL,
  P_PID,
  P_PIDFD,
  SYS_pidfd_open,
  WEXITED,
  WNOHANG,
  WNOWAIT,
} from './constants.js';
import { systemError } from './errors.js';
import { libcCalls as c, errno } from './ffi.js';
import { check, type Fd } from './socket.js';
import { type Watch, watchReadable } from './watch.js';

export type Pid = number;

/** How a child ended, as waitid(2) reports it. */
export interface ExitStatus {
  pid: Pid;
  /** `exited`: called exit(); `killed`: a signal ended it; `dumped`: killed and dumped core. */
  code: 'exited' | 'killed' | 'dumped';
  /** The exit code for `exited`, the signal number otherwise. */
  status: number;
  /** The signal's name without `SIG` (`TERM`) for `killed`/`dumped`. */
  signal?: string;
}

// siginfo_t (128 bytes): si_signo@0, si_errno@4, si_code@8, then for SIGCHLD si_pid@16,
// si_uid@20, si_status@24.
const SIGINFO_SIZE = 128;
const ECHILD = 10;

const signalNumbers = osConstants.signals as Record<string, number>;

/** `TERM` for 15; `SIGRTMIN+3`-style numbers have no name in Node and stay numeric. */
export function signalName(signal: number): string | undefined {
  for (const [name, value] of Object.entries(signalNumbers)) if (value === signal) return name.slice(3);
  return undefined;
}

/** A signal given as `SIGTERM`, `TERM` or 15, as its number. Throws for an unknown name. */
export function signalNumber(signal: string | number): number {
  if (typeof signal === 'number') {
    if (!Number.isInteger(signal) || signal < 0 || signal > 64)
      throw new RangeError(`signal ${signal} is not 0..64`);
    return signal;
  }
  const upper = signal.toUpperCase();
  const value = signalNumbers[upper.startsWith('SIG') ? upper : `SIG${upper}`];
  if (value === undefined)
    throw new RangeError(`unknown signal '${signal}' (expected a name such as TERM or SIGKILL)`);
  return value;
}

/** waitid's siginfo_t, filled and decoded within one call (each thread has its own copy). */
const siginfoScratch = Buffer.alloc(SIGINFO_SIZE);

function decodeSiginfo(info: Buffer): ExitStatus | undefined {
  const pid = info.readInt32LE(16);
  if (pid === 0) return undefined; // WNOHANG and nothing has exited
  const cldCode = info.readInt32LE(8);
  const status = info.readInt32LE(24);
  if (cldCode === CLD_EXITED) return { pid, code: 'exited', status };
  const code = cldCode === CLD_DUMPED ? 'dumped' : 'killed';
  if (cldCode !== CLD_KILLED && cldCode !== CLD_DUMPED) return { pid, code: 'exited', status };
  const name = signalName(status);
  return name ? { pid, code, status, signal: name } : { pid, code, status };
}

/** waitid(2). ECHILD means "no children" for P_ALL (undefined) but "not a child of ours, or
 * reaped already" for one process, which the caller must hear about. */
function waitid(idtype: number, id: number, options: number, context: string): ExitStatus | undefined {
  const info = siginfoScratch.fill(0); // si_pid stays 0 when WNOHANG finds nothing
  if (c.waitid(idtype, id, info, options) === -1) {
    const e = errno();
    if (e === ECHILD && idtype === P_ALL) return undefined;
    const hint = e === ECHILD ? `${context} is not a child of this process, or was reaped already` : context;
    throw systemError('waitid', e, { hint });
  }
  return decodeSiginfo(info);
}

/** pidfd_open(2): a close-on-exec fd that becomes readable when `pid` exits. Open it before the
 * child can be reaped, i.e. right after spawning (a zombie keeps its pid). */
export function pidfdOpen(pid: Pid): Fd {
  return check(c.syscall(SYS_pidfd_open, 'int', pid, 'unsigned int', 0), 'pidfd_open', {
    hint: `pid ${pid}`,
  });
}

/** Reap the child behind `pidfd` if it has exited (waitid P_PIDFD, WNOHANG); undefined while it
 * runs. Throws ECHILD for a process that is not our child. The pidfd stays open: close it after. */
export function waitPidfd(pidfd: Fd): ExitStatus | undefined {
  return waitid(P_PIDFD, pidfd, WEXITED | WNOHANG, `pidfd ${pidfd}`);
}

/** Reap child `pid` if it has exited; undefined while it runs. Throws ECHILD when it is not our
 * child. */
export function waitPid(pid: Pid): ExitStatus | undefined {
  return waitid(P_PID, pid, WEXITED | WNOHANG, `pid ${pid}`);
}

/** kill(2) with a signal by name (`TERM`, `SIGKILL`) or number. Signal 0 checks the pid exists. */
/** The version of the glibc this process runs on (`2.36`), as ConditionVersion=glibc compares it.
 * Asked of glibc itself: process.report would also have it, but a report waits for every worker
 * thread, and the watcher's is blocked in epoll_wait until a port becomes readable. */
export function glibcVersion(): string {
  return String(c.gnu_get_libc_version());
}

export function kill(pid: Pid, signal: string | number): void {
  const sig = signalNumber(signal);
  check(c.kill(pid, sig), 'kill', { hint: `pid ${pid}, signal ${signalName(sig) ?? sig}` });
}

/** The pids of this process's children, from /proc (every thread's children list). */
export function childPids(): Pid[] {
  const pids: Pid[] = [];
  for (const tid of readdirSync('/proc/self/task')) {
    let text: string;
    try {
      text = readFileSync(`/proc/self/task/${tid}/children`, 'latin1');
    } catch {
      continue; // the thread ended since readdir
    }
    for (const word of text.split(' ')) if (word) pids.push(Number(word));
  }
  return pids;
}

const PR_GET_CHILD_SUBREAPER = 37;

/** Whether orphans can be re-parented to this process: it is PID 1 of its pid namespace, or a
 * child subreaper (prctl(2)). When the kernel cannot tell, true: reaping then costs little and
 * leaving zombies would cost more. */
export function mayInheritOrphans(): boolean {
  if (process.pid === 1) return true;
  const flag = Buffer.alloc(4);
  if (c.prctl(PR_GET_CHILD_SUBREAPER, 'void *', flag) === -1) return true;
  return flag.readInt32LE() !== 0;
}

/** The children of the calling thread, from /proc (fork, spawn and re-parenting give a child to
 * one thread; waitid sees the whole group's unless told __WNOTHREAD). */
function threadChildPids(): Pid[] {
  let text: string;
  try {
    text = readFileSync('/proc/thread-self/children', 'latin1');
  } catch {
    return childPids(); // no /proc/thread-self (before Linux 3.17): every thread's
  }
  const pids: Pid[] = [];
  for (const word of text.split(' ')) if (word) pids.push(Number(word));
  return pids;
}

/**
 * Reap exited children whose pids are not in `excluded` (a set, or a predicate), leaving the
 * others' statuses for their owners (pidfd watchers, child_process). For PID 1 and subreapers,
 * to which orphans are re-parented. Call it from the main thread: the kernel hands orphans to
 * the first live thread of the group, the main one, and only that thread's children are looked
 * at (children other threads started, such as the accept thread's instances, are theirs).
 * `excluded` must hold every pid someone else waits for: the manager's own children and those
 * of child_process. Returns what was reaped, at most `limit` (the caller calls again when that
 * many came back, so one call stays short); fewer means none was left to reap.
 *
 * It peeks with WNOWAIT first, so a status it must not take is never consumed. waitid reports one
 * waitable child at a time; when that one is excluded, the others are found through /proc.
 */
export function reapOrphans(
  excluded: ReadonlySet<Pid> | ((pid: Pid) => boolean),
  limit = 1024,
): ExitStatus[] {
  // A predicate is asked at the moment of each decision: another thread may be starting children
  // meanwhile (the manager's accept thread), which a set taken before the call would not know.
  const isExcluded = typeof excluded === 'function' ? excluded : (pid: Pid) => excluded.has(pid);
  const reaped: ExitStatus[] = [];
  while (reaped.length < limit) {
    const peek = waitid(P_ALL, 0, WEXITED | WNOHANG | WNOWAIT | __WNOTHREAD, 'any child (peek)');
    if (!peek) return reaped;
    if (isExcluded(peek.pid)) break;
    const status = waitPid(peek.pid);
    if (status) reaped.push(status);
  }
  for (const pid of threadChildPids()) {
    if (reaped.length >= limit) break;
    if (isExcluded(pid)) continue;
    let status: ExitStatus | undefined;
    try {
      status = waitPid(pid);
    } catch {
      continue; // reaped by its owner since /proc was read
    }
    if (status) reaped.push(status);
  }
  return reaped;
}

/** systemd's name for an exit status (`1` → `FAILURE`, `203` → `EXEC`, `64` → `USAGE`), or
 * undefined for a number it has no name for. */
export function exitStatusName(status: number): string | undefined {
  return exitStatusNames[status];
}

/** What ended, in the words of systemd's "Main process exited, …" line: `code=exited,
 * status=1/FAILURE`, `code=killed, status=15/TERM`, `code=dumped, status=11/SEGV`; a status
 * without a name says `n/a`, as systemd's strna() prints it. */
export function describeExit(exit: ExitStatus): string {
  const name = exit.code === 'exited' ? exitStatusName(exit.status) : exit.signal;
  return `code=${exit.code}, status=${exit.status}/${name ?? 'n/a'}`;
}

// systemd's names for exit statuses (libc 0-1, LSB 2-7, BSD's sysexits 64-78, systemd's own
// 200+ and 255), as its exit-status.c maps them with EXIT_STATUS_FULL.
const exitStatusNames: Record<number, string> = {
  0: 'SUCCESS',
  1: 'FAILURE',
  2: 'INVALIDARGUMENT',
  3: 'NOTIMPLEMENTED',
  4: 'NOPERMISSION',
  5: 'NOTINSTALLED',
  6: 'NOTCONFIGURED',
  7: 'NOTRUNNING',
  64: 'USAGE',
  65: 'DATAERR',
  66: 'NOINPUT',
  67: 'NOUSER',
  68: 'NOHOST',
  69: 'UNAVAILABLE',
  70: 'SOFTWARE',
  71: 'OSERR',
  72: 'OSFILE',
  73: 'CANTCREAT',
  74: 'IOERR',
  75: 'TEMPFAIL',
  76: 'PROTOCOL',
  77: 'NOPERM',
  78: 'CONFIG',
  200: 'CHDIR',
  201: 'NICE',
  202: 'FDS',
  203: 'EXEC',
  204: 'MEMORY',
  205: 'LIMITS',
  206: 'OOM_ADJUST',
  207: 'SIGNAL_MASK',
  208: 'STDIN',
  209: 'STDOUT',
  210: 'CHROOT',
  211: 'IOPRIO',
  212: 'TIMERSLACK',
  213: 'SECUREBITS',
  214: 'SETSCHEDULER',
  215: 'CPUAFFINITY',
  216: 'GROUP',
  217: 'USER',
  218: 'CAPABILITIES',
  219: 'CGROUP',
  220: 'SETSID',
  221: 'CONFIRM',
  222: 'STDERR',
  224: 'PAM',
  225: 'NETWORK',
  226: 'NAMESPACE',
  227: 'NO_NEW_PRIVILEGES',
  228: 'SECCOMP',
  229: 'SELINUX_CONTEXT',
  230: 'PERSONALITY',
  231: 'APPARMOR',
  232: 'ADDRESS_FAMILIES',
  233: 'RUNTIME_DIRECTORY',
  235: 'CHOWN',
  236: 'SMACK_PROCESS_LABEL',
  237: 'KEYRING',
  238: 'STATE_DIRECTORY',
  239: 'CACHE_DIRECTORY',
  240: 'LOGS_DIRECTORY',
  241: 'CONFIGURATION_DIRECTORY',
  242: 'NUMA_POLICY',
  243: 'CREDENTIALS',
  245: 'BPF',
  255: 'EXCEPTION',
};

/**
 * Resolves with the exit status of child `pid` once it has exited, and reaps it. Built on a
 * pidfd and the readiness watcher, so it never calls waitpid(-1). Pass `pidfd` when one is
 * already open (spawnProcess returns one): it is then owned, and closed, by this call.
 * Rejects when the pid is not a child of this process or the watch fails.
 */
export function onExit(pid: Pid, pidfd?: Fd): Promise<ExitStatus> {
  let fd: Fd;
  try {
    fd = pidfd ?? pidfdOpen(pid);
  } catch (err) {
    return Promise.reject(err);
  }
  return new Promise<ExitStatus>((resolve, reject) => {
    let watch: Watch;
    const settle = (): void => {
      let status: ExitStatus | undefined;
      try {
        status = waitPidfd(fd);
      } catch (err) {
        watch.close();
        reject(err);
        return;
      }
      if (status) {
        watch.close();
        resolve(status);
      } else {
        watch.rearm(); // a spurious wake-up: still running
      }
    };
    try {
      watch = watchReadable(fd, (event) => {
        if (event.error) {
          watch.close();
          reject(event.error);
          return;
        }
        settle();
      });
    } catch (err) {
      if (pidfd === undefined) c.close(fd);
      reject(err);
    }
  });
}
