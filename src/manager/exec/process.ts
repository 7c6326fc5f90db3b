// Room manager/exec/: how a process of a unit starts — this file (executable, fds, LISTEN_PID,
// stdio, output capture, the exec chain), its environment (environment.ts), its execution
// environment as systemd.exec(5) defines it (unit-execution.ts: the user it runs as, its
// directories and credentials, the exec-context helper's steps for limits, scheduling and
// privileges, and what an unprivileged manager cannot apply: feasibility.ts) and its output as
// log lines (output-lines.ts). Used by the service and accept rooms; uses only the layers below
// manager/ and the manager's log.
//
// The exec chain: posix_spawn → the sandbox helper's early plan (namespaces, mounts), only with
// sandboxing keys → the LISTEN_PID helper (sets the *_PID variables to the pid) → the
// exec-context helper, only when the unit asks for something it does (runs its system calls)
// → the sandbox helper's late plan (seccomp filters) → the service. Every helper execs in place,
// so the pid never changes.
//
// Starting one process of a unit: resolve the executable, place the fds at 3.., set LISTEN_PID
// through the exec trampoline, wire stdin/stdout/stderr per Standard*=, and capture output into
// the log as `unit[pid]: line`. Every start goes through posix_spawn (sys/spawn.ts): Node's own
// child_process forks the whole ~50 MB manager and is 0.5-0.7x as fast (spawn.md).

import { accessSync, existsSync, constants as fsConstants } from 'node:fs';
import { signalCgroup } from '../../sys/cgroup.js';
import { O_CLOEXEC, O_CREAT, O_RDONLY, O_WRONLY } from '../../sys/constants.js';
import { contextHelperWrap } from '../../sys/context-helper.js';
import { open as openFile } from '../../sys/fs.js';
import { listenPidWrap, type OwnPidVariable } from '../../sys/listen-pid-helper.js';
import { dataFd } from '../../sys/memfd.js';
import { socketPair } from '../../sys/msg.js';
import { type ExitStatus, kill, onExit, waitPid } from '../../sys/process.js';
import { closeQuietly, type Fd, readSome, setNonBlocking } from '../../sys/socket.js';
import { spawnProcess } from '../../sys/spawn.js';
import type { ScriptStep } from '../../sys/syscall-script.js';
import { type Watch, watchReadable } from '../../sys/watch.js';
import type { ExecCommand } from '../../unit/exec-command.js';
import type { StandardInput, StandardOutput } from '../../unit/exec-context.js';
import type { Logger } from '../log.js';
import { SERVICE_PATH } from './environment.js';
import { OutputLines } from './output-lines.js';
import { chainInsideRoot, executableInRoot, inRoot } from './root-directory.js';
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
  /** The exec-context helper's steps (ids, limits, scheduling, capabilities…); none: no helper. */
  steps?: readonly ScriptStep[];
  /** IgnoreSIGPIPE=: the process starts with SIGPIPE ignored. */
  ignoreSigpipe?: boolean;
  /** ExecSearchPath=: where a bare executable name is looked up instead of systemd's PATH. */
  searchPath?: readonly string[];
  /** StandardInput=data: these bytes are the process's stdin. */
  stdinData?: string;
  /** The sandbox plans around the exec-context helper (sandbox.ts); none: no helper in the chain. */
  sandbox?: SandboxLaunch;
  /** The service's cgroup directory: the process starts inside it, and a signal to its group
   * reaches every process of the cgroup. */
  cgroup?: string;
}

export interface RunningProcess {
  pid: number;
  exit: Promise<ProcessExit>;
  /** Send a signal; `group` also reaches the process group the service leads (setsid), or, in a
   * cgroup, every process of the service's cgroup. */
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
  /** A process whose set-up failed before its exec, as under systemd: it exits at once with
   * `status` (238/STATE_DIRECTORY…), so the start fails the way it does there. */
  startFailed(unit: string, status: number): RunningProcess;
  /** Supervise a process another thread started and watches; see PosixSpawnStarter. */
  adopt?(unit: string, pid: number, cgroup?: string): { proc: RunningProcess; reports: WatchedElsewhere };
}

/** A bare executable name is looked up in systemd's fixed search path, not in $PATH. An absolute
 * path is checked here too: the LISTEN_PID trampoline would otherwise start, report the service
 * as started, and fail later with the shell's "exec: not found" and status 127. */
export function resolveExecutable(path: string, searchPath?: readonly string[]): string {
  const now = performance.now();
  const key = searchPath && searchPath.length > 0 ? `${path}\0${searchPath.join(':')}` : path;
  const known = resolvedRecently.get(key);
  if (known && now - known.at < RESOLVE_CACHE_MS) return known.file;
  const file = lookUpExecutable(path, searchPath && searchPath.length > 0 ? searchPath.join(':') : undefined);
  if (resolvedRecently.size >= 256) resolvedRecently.clear();
  resolvedRecently.set(key, { file, at: now });
  return file;
}

/** How long a found executable is taken as still there: Accept=yes starts the same program per
 * connection, and the access(2) checks showed in its profile. Failures are never cached. */
const RESOLVE_CACHE_MS = 1000;
const resolvedRecently = new Map<string, { file: string; at: number }>();

function lookUpExecutable(path: string, searchPath = SERVICE_PATH): string {
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
  for (const dir of searchPath.split(':')) {
    const candidate = `${dir}/${path}`;
    try {
      accessSync(candidate, fsConstants.X_OK);
      return candidate;
    } catch {}
  }
  const err = new Error(
    `executable '${path}' not found in ${searchPath}; write its absolute path in the unit${searchPath === SERVICE_PATH ? '' : ' or fix ExecSearchPath='}`,
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

/** Where a process's stdout/stderr go: the connection (StandardInput=socket), the manager's log,
 * /dev/null, or a file (`file:`, `append:`, `truncate:`). */
export type OutputTarget = 'connection' | 'capture' | 'null' | { file: StandardOutput };

/** systemd's rules for Standard*=, decided without opening anything: stdout defaults to the
 * connection when stdin is the socket, else to the log; stderr follows stdout unless set;
 * `socket`/`inherit` without a connection, and journal, kmsg, tty, fd:, land in the log. A
 * stderr that follows stdout (unset, `inherit`, or the same file) is the very same target, so
 * both share one open file, as systemd dup()s stdout's fd for it. StandardInput=data without data
 * (StandardInputText=/StandardInputData=) is /dev/null. */
export function stdioTargets(
  standardInput: StandardInput,
  standardOutput: StandardOutput | undefined,
  standardError: StandardOutput | undefined,
  hasConnection: boolean,
  hasData = false,
): { stdin: 'connection' | 'null' | 'data' | { file: string }; stdout: OutputTarget; stderr: OutputTarget } {
  let stdin: 'connection' | 'null' | 'data' | { file: string } = 'null';
  if (standardInput === 'socket' && hasConnection) stdin = 'connection';
  else if (standardInput === 'data' && hasData) stdin = 'data';
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

/** A program that exits with `status` at once: the exec-context helper with a single exit step
 * (the shell where there is no helper). */
function exitingWith(status: number): { file: string; argv: string[] } {
  try {
    return contextHelperWrap('/', ['exit'], [{ call: 'exit_group', args: [status] }]);
  } catch {
    return { file: '/bin/sh', argv: ['/bin/sh', '-c', `exit ${status}`] };
  }
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
    const root = request.sandbox?.root;
    const file =
      root !== undefined
        ? executableInRoot(root, request.command.path, request.searchPath)
        : resolveExecutable(request.command.path, request.searchPath);
    const cwdExists =
      request.cwd === undefined || request.cwd === '/' || existsSync(inRoot(root, request.cwd));
    if (!cwdExists && !request.cwdMissingOk) {
      throw new Error(`WorkingDirectory=${request.cwd} does not exist; create it or prefix it with '-'`);
    }
    for (const fd of request.fds) setNonBlocking(fd, request.nonBlocking);
    if (request.connection !== undefined) setNonBlocking(request.connection, request.nonBlocking);

    let argv = request.command.argv;
    let target = file;
    let env = request.env;
    // The chain, outermost first: sandbox helper (namespaces, mounts; as root), the LISTEN_PID
    // helper (fills in the *_PID variables; ties the process's life to the manager's with
    // PR_SET_PDEATHSIG, so a manager killed with SIGKILL leaves nothing running), the
    // exec-context helper when the unit asks for something it does (limits, scheduling, the
    // user, capabilities; a user change clears the parent-death signal, so its steps arm it
    // again: context-steps.ts), the sandbox helper again (seccomp filters, right before the
    // service as systemd installs them, so no step of ours meets them), the service. Each execs
    // in place: the pid never changes. Built innermost first.
    ({ file: target, argv } = wrapWithSandbox(request.sandbox, 'late', target, argv));
    if (request.steps && request.steps.length > 0)
      ({ file: target, argv } = contextHelperWrap(target, argv, request.steps));
    if (request.ownPid.length > 0)
      ({
        file: target,
        argv,
        env,
      } = listenPidWrap(target, argv, env, request.ownPid, {
        parentPid: process.pid,
      }));
    ({ file: target, argv } = wrapWithSandbox(request.sandbox, 'early', target, argv));
    if (root !== undefined)
      ({ file: target, argv } = chainInsideRoot({ file: target, argv }, request.sandbox?.late));

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
        (request.stdinData ?? '') !== '',
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
      else if (targets.stdin === 'data') {
        stdin = dataFd(`${request.unit}-stdin`, Buffer.from(request.stdinData ?? '', 'latin1'));
        owned.push(stdin);
      } else if (typeof targets.stdin === 'object') {
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
        ignoreSigpipe: request.ignoreSigpipe === true,
        // Inside RootDirectory=, the late plan enters the working directory.
        ...(request.cwd !== undefined && cwdExists && root === undefined ? { cwd: request.cwd } : {}),
        ...(request.cgroup !== undefined ? { cgroup: request.cgroup } : {}),
      });
      pid = child.pid;
      return this.running(child.pid, child.pidfd, capture?.done, request.cgroup);
    } finally {
      for (const fd of owned) closeQuietly(fd);
    }
  }

  startFailed(_unit: string, status: number): RunningProcess {
    const child = spawnProcess({
      ...exitingWith(status),
      env: {},
      setsid: true,
    });
    return this.running(child.pid, child.pidfd, undefined, undefined);
  }

  /** A process the accept thread started and watches: its end and output come as `reports`.
   * Reaped here (waitid on its pid) when it has ended, so no other thread's wait can race the
   * main thread's signals to a pid that is already free again. */
  adopt(unit: string, pid: number, cgroup?: string): { proc: RunningProcess; reports: WatchedElsewhere } {
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
    return { proc: this.handle(pid, exit, cgroup), reports };
  }

  private lostStatus(pid: number, err: unknown): ProcessExit {
    // Its status is gone (something else reaped it): the process still ended, and the manager
    // must go on. Counted as a clean exit, so no Restart= loop follows from it.
    this.log.error(`pid ${pid}: exit status lost (${(err as Error).message}); counting it as exited.`);
    return { pid, code: 'exited', status: 0 };
  }

  private running(
    pid: number,
    pidfd: Fd,
    logged: Promise<void> | undefined,
    cgroup: string | undefined,
  ): RunningProcess {
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
    return this.handle(pid, exit, cgroup);
  }

  private handle(pid: number, exit: Promise<ProcessExit>, cgroup: string | undefined): RunningProcess {
    return {
      pid,
      exit,
      signal: (signal: number, group = false) => {
        if (group && cgroup !== undefined) {
          signalCgroup(cgroup, signal, pid);
          return;
        }
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
