// Room manager/exec/: how a process of a unit starts — this file (executable, fds, LISTEN_PID,
// stdio, output capture), its environment (environment.ts), the user it runs as (users.ts) and
// its output as log lines (output-lines.ts). Used by the service and accept rooms; uses only
// the layers below manager/ and the manager's log.
//
// Starting one process of a unit: resolve the executable, place the fds at 3.., set LISTEN_PID
// through the exec trampoline, wire stdin/stdout/stderr per Standard*=, and capture output into
// the log as `unit[pid]: line`. Every start goes through posix_spawn (sys/spawn.ts): Node's own
// child_process forks the whole ~50 MB manager and is 0.5-0.7x as fast (spawn.md).

import { accessSync, existsSync, constants as fsConstants } from 'node:fs';
import { O_CLOEXEC, O_CREAT, O_RDONLY, O_WRONLY } from '../../sys/constants.js';
import { open as openFile } from '../../sys/fs.js';
import { listenPidWrap, type OwnPidVariable } from '../../sys/listen-pid-helper.js';
import { socketPair } from '../../sys/msg.js';
import { type ExitStatus, kill, onExit, waitPid } from '../../sys/process.js';
import { closeQuietly, type Fd, readSome, setNonBlocking } from '../../sys/socket.js';
import { spawnProcess } from '../../sys/spawn.js';
import { type Watch, watchReadable } from '../../sys/watch.js';
import type { ExecCommand } from '../../unit/exec-command.js';
import type { StandardInput, StandardOutput } from '../../unit/exec-context.js';
import type { Logger } from '../log.js';
import { SERVICE_PATH } from './environment.js';
import { OutputLines } from './output-lines.js';
import { type SandboxLaunch, wrapWithSandbox } from './sandbox.js';

export type ProcessExit = ExitStatus;

export interface ProcessRequest {
  unit: string;
  command: ExecCommand;
  env: Record<string, string>;
  /** Placed at fd 3, 4, … in this order. */
  fds: Fd[];
  /** The variables set to the process's own pid (LISTEN_PID with fds, WATCHDOG_PID,
   * SYSTEMD_EXEC_PID), through the exec helper; none: no helper in the chain. */
  ownPid: readonly OwnPidVariable[];
  /** Accept=yes with StandardInput=socket: the connection becomes stdin (and stdout/stderr by
   * default). */
  connection?: Fd;
  standardInput: StandardInput;
  standardOutput?: StandardOutput;
  standardError?: StandardOutput;
  /** NonBlocking=: O_NONBLOCK set or cleared on the passed fds right before the spawn. */
  nonBlocking: boolean;
  cwd?: string;
  cwdMissingOk?: boolean;
  umask: number;
  uid?: number;
  gid?: number;
  /** The sandbox plans around the User= switch (sandbox.ts); none: no helper in the chain. */
  sandbox?: SandboxLaunch;
}

export interface RunningProcess {
  pid: number;
  exit: Promise<ProcessExit>;
  /** Send a signal; `group` also reaches the process group the service leads (setsid). */
  signal(signal: number, group?: boolean): void;
}

/** What another thread (the accept thread) reports about a process it started and watches;
 * the main thread reaps it and logs its output. */
export interface WatchedElsewhere {
  /** Whole lines it wrote to its log pipe. */
  output(lines: string[]): void;
  /** It has ended and can be reaped now; with `logOpen`, output may still follow. */
  exited(logOpen: boolean): void;
  /** Its log pipe has closed (after an `exited` with `logOpen`). */
  logClosed(): void;
  /** The watching thread is gone: watch the process from here (its output is no longer read). */
  takeOver(): void;
}

export interface ProcessStarter {
  start(request: ProcessRequest): RunningProcess;
  /** Supervise a process another thread started and watches; see PosixSpawnStarter. */
  adopt?(unit: string, pid: number): { proc: RunningProcess; reports: WatchedElsewhere };
}

/** A bare executable name is looked up in systemd's fixed search path, not in $PATH. An absolute
 * path is checked here too: the LISTEN_PID trampoline would otherwise start, report the service
 * as started, and fail later with the shell's "exec: not found" and status 127. */
export function resolveExecutable(path: string): string {
  const now = performance.now();
  const known = resolvedRecently.get(path);
  if (known && now - known.at < RESOLVE_CACHE_MS) return known.file;
  const file = lookUpExecutable(path);
  if (resolvedRecently.size >= 256) resolvedRecently.clear();
  resolvedRecently.set(path, { file, at: now });
  return file;
}

/** How long a found executable is taken as still there: Accept=yes starts the same program per
 * connection, and the access(2) checks showed in its profile. Failures are never cached. */
const RESOLVE_CACHE_MS = 1000;
const resolvedRecently = new Map<string, { file: string; at: number }>();

function lookUpExecutable(path: string): string {
  if (path.startsWith('/')) {
    try {
      accessSync(path, fsConstants.X_OK);
      return path;
    } catch (cause) {
      const code = (cause as NodeJS.ErrnoException).code ?? 'ENOENT';
      const why = code === 'EACCES' ? 'Permission denied (not executable)' : 'No such file or directory';
      const err = new Error(
        `Failed to locate executable ${path}: ${why}; fix ExecStart= or install the program`,
      ) as Error & { code: string };
      err.code = code;
      throw err;
    }
  }
  for (const dir of SERVICE_PATH.split(':')) {
    const candidate = `${dir}/${path}`;
    try {
      accessSync(candidate, fsConstants.X_OK);
      return candidate;
    } catch {}
  }
  const err = new Error(
    `executable '${path}' not found in ${SERVICE_PATH}; write its absolute path in the unit`,
  ) as Error & { code: string };
  err.code = 'ENOENT';
  throw err;
}

/** One read buffer for every capture: reads are synchronous, so they never overlap. */
const captureBuffer = Buffer.allocUnsafe(64 * 1024);

/** Output that goes to the manager's log: one socketpair per process. The manager's end is read
 * through the readiness watcher with plain read(2) calls, not a net.Socket: a Node handle per
 * Accept=yes connection cost ~0.2 ms of the main thread (construction, stream state, destroy),
 * which showed in the connection rate. `done` settles at end of file. */
function captureOutput(log: Logger, unit: string, pid: () => number): { childEnd: Fd; done: Promise<void> } {
  const [parentEnd, childEnd] = socketPair('stream');
  try {
    return { childEnd, done: readOutput(log, unit, pid, parentEnd) };
  } catch (err) {
    closeQuietly(childEnd);
    throw err;
  }
}

/** Forward what arrives on `parentEnd` to the log, line by line, until end of file; closes it. */
function readOutput(log: Logger, unit: string, pid: () => number, parentEnd: Fd): Promise<void> {
  const lines = new OutputLines();
  const emit = (out: string[]) => {
    for (const line of out) log.output(unit, pid(), line);
  };
  let settle!: () => void;
  const done = new Promise<void>((resolve) => {
    settle = resolve;
  });
  let watch: Watch | undefined;
  const finish = () => {
    watch?.close();
    watch = undefined;
    emit(lines.end());
    settle();
  };
  const onReady = () => {
    // One read per wake-up: readable means it cannot block, so the fd needs no O_NONBLOCK (two
    // fcntl calls saved per process); more pending data wakes the watcher again at once.
    let n: number | undefined;
    try {
      n = readSome(parentEnd, captureBuffer);
    } catch {
      n = 0; // ECONNRESET and the like: the writer is gone
    }
    if (n === 0) return finish();
    if (n !== undefined) emit(lines.push(captureBuffer.subarray(0, n)));
    watch?.rearm();
  };
  try {
    watch = watchReadable(parentEnd, onReady);
  } catch (err) {
    closeQuietly(parentEnd);
    throw err;
  }
  return done;
}

function openOutputFile(spec: string): Fd | undefined {
  const [kind, ...rest] = spec.split(':');
  const path = rest.join(':');
  if (kind === 'file' || kind === 'truncate')
    return openFile(path, O_WRONLY | O_CREAT | O_CLOEXEC | (kind === 'truncate' ? 0o1000 : 0), 0o644);
  if (kind === 'append') return openFile(path, O_WRONLY | O_CREAT | O_CLOEXEC | 0o2000, 0o644);
  return undefined;
}

let ids: { euid: number; egid: number } | undefined;
/** The manager's own ids; they never change while it runs (it never calls setuid). */
function ownIds(): { euid: number; egid: number } {
  ids ??= { euid: process.geteuid?.() ?? 0, egid: process.getegid?.() ?? 0 };
  return ids;
}

/** Where a process's stdout/stderr go: the connection (StandardInput=socket), the manager's log,
 * /dev/null, or a file (`file:`, `append:`, `truncate:`). */
export type OutputTarget = 'connection' | 'capture' | 'null' | { file: StandardOutput };

/** systemd's rules for Standard*=, decided without opening anything: stdout defaults to the
 * connection when stdin is the socket, else to the log; stderr follows stdout unless set;
 * `socket`/`inherit` without a connection, and journal, kmsg, tty, fd:, land in the log. A
 * stderr that follows stdout (unset, `inherit`, or the same file) is the very same target, so
 * both share one open file, as systemd dup()s stdout's fd for it. */
export function stdioTargets(
  standardInput: StandardInput,
  standardOutput: StandardOutput | undefined,
  standardError: StandardOutput | undefined,
  hasConnection: boolean,
): { stdin: 'connection' | 'null' | { file: string }; stdout: OutputTarget; stderr: OutputTarget } {
  let stdin: 'connection' | 'null' | { file: string } = 'null';
  if (standardInput === 'socket' && hasConnection) stdin = 'connection';
  else if (standardInput.startsWith('file:')) stdin = { file: standardInput.slice(5) };
  const fallback = stdin === 'connection' ? 'connection' : 'capture';
  const output = (spec: StandardOutput | undefined): OutputTarget => {
    if (spec === undefined) return fallback;
    if (spec === 'null') return 'null';
    if (spec === 'socket' || spec === 'inherit') return hasConnection ? 'connection' : 'capture';
    const kind = spec.split(':')[0];
    if (kind === 'file' || kind === 'truncate' || kind === 'append') return { file: spec };
    return 'capture';
  };
  const stdout = output(standardOutput);
  const followsStdout =
    standardError === undefined || standardError === 'inherit' || standardError === standardOutput;
  return { stdin, stdout, stderr: followsStdout ? stdout : output(standardError) };
}

/** User=/Group=: posix_spawn cannot change credentials, so a service that must run as another
 * user is started through util-linux's `setpriv`, which sets groups, gid and uid and then execs
 * the service in place (same pid, so LISTEN_PID stays right). */
export function dropPrivileges(
  file: string,
  argv: string[],
  uid: number | undefined,
  gid: number | undefined,
): { file: string; argv: string[] } {
  const { euid, egid } = ownIds();
  if ((uid === undefined || uid === euid) && (gid === undefined || gid === egid)) return { file, argv };
  const setpriv = ['/usr/bin/setpriv', '/bin/setpriv'].find((p) => existsSync(p));
  if (!setpriv)
    throw new Error('User=/Group= needs setpriv(1) from util-linux to drop privileges; install util-linux');
  const args = [setpriv];
  if (uid !== undefined) args.push(`--reuid=${uid}`);
  if (gid !== undefined) args.push(`--regid=${gid}`);
  args.push(uid !== undefined ? '--init-groups' : '--clear-groups', '--', file, ...argv.slice(1));
  // setpriv execs argv after `--` with the path as argv[0]; an `@`-style argv[0] is lost here.
  return { file: setpriv, argv: args };
}

/** How long an exit waits for the last lines of output. Not until the pipe closes: a child the
 * process left running (a forking daemon, `cmd &`) holds it open, and the exit would be reported
 * only when that child ends. */
const OUTPUT_FLUSH_MS = 50;

function settledOrAfter(p: Promise<void>, ms: number): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    timer.unref();
    void p.then(() => {
      clearTimeout(timer);
      resolve();
    });
  });
}

export class PosixSpawnStarter implements ProcessStarter {
  private readonly log: Logger;
  /** Pids started here and not reaped yet: never taken by the PID-1 orphan reaper. */
  readonly livePids = new Set<number>();

  constructor(log: Logger) {
    this.log = log;
  }

  start(request: ProcessRequest): RunningProcess {
    const file = resolveExecutable(request.command.path);
    const cwdExists = request.cwd === undefined || request.cwd === '/' || existsSync(request.cwd);
    if (!cwdExists && !request.cwdMissingOk) {
      throw new Error(`WorkingDirectory=${request.cwd} does not exist; create it or prefix it with '-'`);
    }
    for (const fd of request.fds) setNonBlocking(fd, request.nonBlocking);
    if (request.connection !== undefined) setNonBlocking(request.connection, request.nonBlocking);

    let argv = request.command.argv;
    let target = file;
    let env = request.env;
    // The chain, outermost first: sandbox helper (namespaces, mounts; as root), setpriv (User=),
    // LISTEN_PID helper, sandbox helper again (seccomp filters, right before the service as
    // systemd installs them, so no step of ours meets them), the service. Same pid throughout.
    ({ file: target, argv } = wrapWithSandbox(request.sandbox, 'late', target, argv));
    // Through the exec helper, which also ties the process's life to the manager's
    // (PR_SET_PDEATHSIG: a manager killed with SIGKILL leaves nothing running). After setpriv in
    // the chain, since a change of user clears the signal.
    if (request.ownPid.length > 0)
      ({
        file: target,
        argv,
        env,
      } = listenPidWrap(target, argv, env, request.ownPid, {
        parentPid: process.pid,
      }));
    ({ file: target, argv } = dropPrivileges(target, argv, request.uid, request.gid));
    ({ file: target, argv } = wrapWithSandbox(request.sandbox, 'early', target, argv));

    const owned: Fd[] = [];
    let pid = 0;
    // The log pipe costs a socketpair and a Node handle per process: made only when some output
    // really goes to the log (an Accept=yes `cat` with StandardInput=socket writes to its client).
    let capture: { childEnd: Fd; done: Promise<void> } | undefined;
    const toLog = (): Fd => {
      if (!capture) {
        capture = captureOutput(this.log, request.unit, () => pid);
        owned.push(capture.childEnd);
      }
      return capture.childEnd;
    };
    // Everything that can throw from here on runs inside the try: the capture pipe and opened
    // files must be closed on every path, or each failed start leaks them.
    try {
      const targets = stdioTargets(
        request.standardInput,
        request.standardOutput,
        request.standardError,
        request.connection !== undefined,
      );
      const place = (t: OutputTarget): Fd | 'null' => {
        if (t === 'null') return 'null';
        if (t === 'connection') return request.connection as Fd;
        if (t === 'capture') return toLog();
        const fd = openOutputFile(t.file) as Fd;
        owned.push(fd);
        return fd;
      };
      let stdin: Fd | 'null' = 'null';
      if (targets.stdin === 'connection') stdin = request.connection as Fd;
      else if (targets.stdin !== 'null') {
        stdin = openFile(targets.stdin.file, O_RDONLY | O_CLOEXEC);
        owned.push(stdin);
      }
      const stdout = place(targets.stdout);
      // One file opened twice would have two offsets, and stderr would overwrite stdout.
      const stderr = targets.stderr === targets.stdout ? stdout : place(targets.stderr);

      const child = spawnProcess({
        file: target,
        argv,
        env,
        fds: request.fds,
        stdin,
        stdout,
        stderr,
        setsid: true,
        umask: request.umask,
        ...(request.cwd !== undefined && cwdExists ? { cwd: request.cwd } : {}),
      });
      pid = child.pid;
      return this.running(child.pid, child.pidfd, capture?.done);
    } finally {
      for (const fd of owned) closeQuietly(fd);
    }
  }

  /** A process the accept thread started and watches: its end and output come as `reports`.
   * Reaped here (waitid on its pid) when it has ended, so no other thread's wait can race the
   * main thread's signals to a pid that is already free again. */
  adopt(unit: string, pid: number): { proc: RunningProcess; reports: WatchedElsewhere } {
    this.livePids.add(pid);
    let settle!: (exit: Promise<ProcessExit>) => void;
    const ended = new Promise<ProcessExit>((resolve) => {
      settle = (exit) => resolve(exit);
    });
    const exit = ended
      .catch((err: unknown): ProcessExit => this.lostStatus(pid, err))
      .then((status) => {
        this.livePids.delete(pid);
        return status;
      });
    const reports: WatchedElsewhere = {
      output: (lines) => {
        for (const line of lines) this.log.output(unit, pid, line);
      },
      exited: () => {
        try {
          const status = waitPid(pid);
          settle(status ? Promise.resolve(status) : onExit(pid));
        } catch (err) {
          settle(Promise.reject(err));
        }
      },
      logClosed: () => {},
      takeOver: () => settle(onExit(pid)),
    };
    return { proc: this.handle(pid, exit), reports };
  }

  private lostStatus(pid: number, err: unknown): ProcessExit {
    // Its status is gone (something else reaped it): the process still ended, and the manager
    // must go on. Counted as a clean exit, so no Restart= loop follows from it.
    this.log.error(`pid ${pid}: exit status lost (${(err as Error).message}); counting it as exited.`);
    return { pid, code: 'exited', status: 0 };
  }

  private running(pid: number, pidfd: Fd, logged: Promise<void> | undefined): RunningProcess {
    this.livePids.add(pid);
    // Usually the output pipe has ended by the time the exit is seen: no flush timer then.
    let flushed = logged === undefined;
    void logged?.then(() => {
      flushed = true;
    });
    const exit = onExit(pid, pidfd)
      .catch((err: unknown): ProcessExit => this.lostStatus(pid, err))
      .then(async (status) => {
        this.livePids.delete(status.pid);
        if (logged && !flushed) await settledOrAfter(logged, OUTPUT_FLUSH_MS);
        return status;
      });
    return this.handle(pid, exit);
  }

  private handle(pid: number, exit: Promise<ProcessExit>): RunningProcess {
    return {
      pid,
      exit,
      signal: (signal: number, group = false) => {
        try {
          kill(group ? -pid : pid, signal);
        } catch {
          if (group) {
            try {
              kill(pid, signal);
            } catch {}
          }
        }
      },
    };
  }
}
