// Layer activate/: `sockunit activate`, a small program of its own beside manager/ (it shares
// only manager/socket's listen-spec.ts, so its flags open the same sockets a unit would).
//
// `sockunit activate`: systemd-socket-activate's one-shot activation (socket-units.md §7), plus
// --protocol (MPTCP, SCTP, UDP-Lite). Open the listeners, then either start the command with all
// of them at fd 3.. on the first readable event, or (--accept) accept and start one process per
// connection with the connection at fd 3 (or on stdin/stdout with --inetd).
//
// Differences from systemd-socket-activate, each deliberate:
// - Node 20 cannot exec in place, so without --accept the command runs as a child: SIGTERM,
//   SIGINT and SIGHUP are forwarded to it, and this process exits with the child's status (or
//   128 + the signal that killed it). LISTEN_PID is still the command's own pid (the exec helper
//   of sys/listen-pid-helper.ts writes it, and LISTEN_PIDFDID beside it), but the command's pid
//   is not ours.
// - The command is looked up in PATH before any socket is opened: a typo fails at once instead
//   of at the first connection.
// - --protocol opens MPTCP/SCTP/UDP-Lite listeners, which the C tool cannot.

import { accessSync, constants as fsConstants, statSync } from 'node:fs';
import { socketOptionsFor, specFor } from '../manager/socket/listen-spec.js';
import { isNoMptcpError } from '../mptcp/probe.js';
import { type OpenedSocket, openSocket } from '../net/open.js';
import type { SocketSpec } from '../net/spec.js';
import { hasCode } from '../sys/errors.js';
import {
  LISTEN_PID_PLACEHOLDER,
  LISTEN_PIDFDID_PLACEHOLDER,
  listenPidfdIdSlot,
  listenPidHelperPath,
  listenPidShellWrap,
} from '../sys/listen-pid-helper.js';
import { type ExitStatus, kill, onExit, waitPidfd } from '../sys/process.js';
import { formatSockAddr, type SockAddr } from '../sys/sockaddr.js';
import { accept, closeQuietly, type Fd, getsockname, isOpen, setNonBlocking } from '../sys/socket.js';
import { spawnProcess } from '../sys/spawn.js';
import { createUvPollWatcher, type Watch, type Watcher } from '../sys/watch.js';
import { parseSocketAddress, type SocketListenDirective, type SocketListenKind } from '../unit/listen.js';
import { defaultSocketSection, type SocketSection } from '../unit/socket-config.js';

export type ActivateSocketType = SocketListenKind;
export type ActivateProtocol = 'tcp' | 'mptcp' | 'sctp' | 'udplite';

export interface ActivateOptions {
  /** `-l` values in the ListenStream= grammar (PORT, A.B.C.D:PORT, [IPV6]:PORT, /path, @name,
   * vsock:CID:PORT), in order: they become fds 3, 4, … after inherited ones. */
  listen: string[];
  socketType: ActivateSocketType;
  accept: boolean;
  /** The connection (or the one listener) on stdin and stdout, no LISTEN_* variables. */
  inetd: boolean;
  /** Start the command at once instead of on the first event (not with accept). */
  now: boolean;
  /** Unset: the kernel's default for the type (TCP, UDP). */
  protocol?: ActivateProtocol;
  /** Open MPTCP ports as TCP where the kernel has no MPTCP, with a warning. */
  mptcpFallback: boolean;
  /** `-E` values: NAME=VALUE, or a bare NAME that copies `environment[NAME]` (empty if unset). */
  setenv: string[];
  /** `--fdname` values, each split at `:`, in order; undefined when none was given. */
  fdnames?: string[];
  /** The command and its arguments; argv[0] is searched in `environment.PATH` unless it has a `/`. */
  command: string[];
  /** This tool's own environment: the source of TERM, PATH, USER, HOME, -E NAME and LISTEN_*. */
  environment: Readonly<Record<string, string | undefined>>;
  /** One log line, without newline (systemd-socket-activate logs to stderr). */
  log(line: string): void;
  /** Exec through the LISTEN_PID helper (default) or a /bin/sh trampoline; for benchmarks. */
  listenPidVia?: 'helper' | 'shell';
}

/** A port the command receives, numbered as the command sees it. */
export interface ActivatePort {
  fd: Fd;
  /** The fd number in the command: 3, 4, … */
  childFd: number;
  /** As systemd-socket-activate prints it: `127.0.0.1:8080`, `[::]:8080`, `/path`. */
  address: string;
  /** Inherited through LISTEN_FDS rather than opened here. */
  inherited: boolean;
  /** `mptcp->tcp` when MPTCP was asked for and the kernel had none. */
  protocol: string;
}

export interface Activation {
  readonly ports: readonly ActivatePort[];
  /** Resolves with the exit code: the command's status (128 + signal when killed) without
   * --accept; 0 after `stop()` with --accept. */
  readonly done: Promise<number>;
  /** Without --accept: pass `signal` to the running command (or stop waiting and exit with
   * 128 + signal if it has not started). With --accept: stop accepting, send SIGTERM to live
   * children (as systemd-socket-activate's PR_SET_PDEATHSIG does), resolve `done` with 0. */
  signal(signal: NodeJS.Signals): void;
}

/** Thrown for anything the user must fix (bad option, address, port in use); `message` says what. */
export class ActivateError extends Error {
  override name = 'ActivateError';
}

let listenerWatcher: Watcher | undefined;

/** Listeners are watched on Node's own loop (uv_poll), not by the epoll worker thread: a one-shot
 * tool that waits for its first connection must not make that connection wait for a thread to
 * start and load koffi (measured: ~0.6 s on a loaded 2-vCPU VM). The fds are our own sockets,
 * never owned by a Node handle, which is the case where uv_poll would abort. Children's pidfds
 * still go to the default watcher (onExit). */
function watchListener(fd: Fd, callback: () => void): Watch {
  // Validation (a scan of /proc/self/fdinfo) costs a few ms: fine once per listener and for the
  // one command without --accept, too much per connection.
  listenerWatcher ??= createUvPollWatcher();
  return listenerWatcher.watchReadable(fd, callback);
}

/** At most this many accepts per wake-up: an unbounded loop starves the event loop (spawn.md trap 1). */
const ACCEPTS_PER_WAKEUP = 8;

/** The variables systemd-socket-activate keeps from its own environment, in its order. */
const KEPT_VARIABLES = ['TERM', 'COLORTERM', 'NO_COLOR', 'PATH', 'USER', 'HOME'];

/** glibc's execvp path when PATH is unset (confstr _CS_PATH). */
const DEFAULT_EXEC_PATH = '/bin:/usr/bin';

const SIGNAL_NUMBERS: Record<string, number> = { SIGHUP: 1, SIGINT: 2, SIGQUIT: 3, SIGTERM: 15 };

/** Checks the option combinations systemd-socket-activate refuses (and --protocol's own), with
 * its wording. Returns warnings; throws ActivateError for a refusal. */
export function checkActivateOptions(o: ActivateOptions): string[] {
  if (o.command.length === 0 || o.command[0] === '')
    throw new ActivateError(
      'command to execute is missing; usage: sockunit activate -l ADDR [OPTIONS] COMMAND [ARGS]',
    );
  if (o.socketType === 'datagram' && o.accept)
    throw new ActivateError(
      'Datagram sockets do not accept connections. The --datagram and --accept options may not be combined.',
    );
  if (o.now && o.accept) throw new ActivateError('--now and --accept may not be combined.');
  if (o.listen.length > 1 && !o.accept && o.inetd)
    throw new ActivateError('--inetd only supported with a single file descriptor, or with --accept.');
  const p = o.protocol;
  if ((p === 'tcp' || p === 'mptcp') && o.socketType !== 'stream')
    throw new ActivateError(`--protocol=${p} needs stream sockets; drop --${o.socketType}`);
  if (p === 'udplite' && o.socketType !== 'datagram')
    throw new ActivateError('--protocol=udplite needs datagram sockets; add --datagram');
  if (p === 'sctp' && o.socketType === 'datagram')
    throw new ActivateError('--protocol=sctp needs stream or seqpacket sockets; drop --datagram');
  const warnings: string[] = [];
  for (const name of o.fdnames ?? [])
    if (!fdnameIsValid(name)) warnings.push(`File descriptor name "${name}" is not valid.`);
  if (o.fdnames && o.fdnames.length !== o.listen.length)
    warnings.push(
      `The number of fd names is different than number of fds: ${o.fdnames.length} vs ${o.listen.length}`,
    );
  if (o.fdnames && o.inetd) warnings.push('--fdname has no effect with --inetd present.');
  return warnings;
}

/** systemd's fdname_is_valid: printable ASCII without blanks or ':', at most 255 characters. */
export function fdnameIsValid(name: string): boolean {
  return name.length <= 255 && /^[\x21-\x39\x3b-\x7e]*$/.test(name);
}

/** `-E NAME` copies this tool's value of NAME (empty when unset), as systemd does. */
export function resolveSetenv(
  assignment: string,
  environment: Readonly<Record<string, string | undefined>>,
): string {
  const eq = assignment.indexOf('=');
  const name = eq < 0 ? assignment : assignment.slice(0, eq);
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name))
    throw new ActivateError(
      `Cannot assign environment variable ${assignment}: '${name}' is not a valid variable name`,
    );
  return eq < 0 ? `${name}=${environment[name] ?? ''}` : assignment;
}

/** The command's environment in systemd-socket-activate's order: the kept variables, then
 * LISTEN_FDS, LISTEN_PID, LISTEN_FDNAMES (none with --inetd), then -E (replacing in place). The
 * LISTEN_PID entry is the helper's placeholder, rewritten to the command's pid at exec. */
export function commandEnvironment(o: ActivateOptions, fdCount: number): string[] {
  const env: string[] = [];
  for (const name of KEPT_VARIABLES) {
    const value = o.environment[name];
    if (value !== undefined) env.push(`${name}=${value}`);
  }
  if (!o.inetd) {
    // LISTEN_PIDFDID beside LISTEN_PID, as systemd 259's systemd-socket-activate sets it, where
    // this kernel gives pidfds inode ids; the exec helper writes both.
    env.push(`LISTEN_FDS=${fdCount}`, LISTEN_PID_PLACEHOLDER, ...listenPidfdIdSlot());
    if (o.fdnames) {
      const names = o.fdnames.length === 1 ? Array(fdCount).fill(o.fdnames[0]) : o.fdnames;
      env.push(`LISTEN_FDNAMES=${names.join(':')}`);
    }
  }
  for (const assignment of o.setenv) {
    const entry = resolveSetenv(assignment, o.environment);
    const prefix = entry.slice(0, entry.indexOf('=') + 1);
    const at = env.findIndex((e) => e.startsWith(prefix));
    if (at >= 0) env[at] = entry;
    else env.push(entry);
  }
  return env;
}

/** The command's path as execvp finds it: `file` itself when it has a `/`, else the first
 * executable regular file in PATH. Throws ActivateError saying where it looked. */
export function findExecutable(file: string, path: string | undefined): string {
  const candidates = file.includes('/')
    ? [file]
    : (path ?? DEFAULT_EXEC_PATH).split(':').map((dir) => `${dir === '' ? '.' : dir}/${file}`);
  for (const candidate of candidates) {
    try {
      accessSync(candidate, fsConstants.X_OK);
      if (statSync(candidate).isFile()) return candidate;
    } catch {}
  }
  throw new ActivateError(
    file.includes('/')
      ? `cannot execute '${file}': no such executable file; check the path and its x bit`
      : `cannot execute '${file}': not found in PATH (${path ?? DEFAULT_EXEC_PATH}); give its absolute path`,
  );
}

/** Fds passed to this process through LISTEN_FDS for it (sd_listen_fds): they go first, at the
 * same numbers, as systemd-socket-activate passes them through. */
function inheritedFds(environment: Readonly<Record<string, string | undefined>>): Fd[] {
  if (environment.LISTEN_PID !== String(process.pid)) return [];
  const n = Number(environment.LISTEN_FDS);
  if (!Number.isInteger(n) || n <= 0) return [];
  return Array.from({ length: n }, (_, i) => 3 + i).filter((fd) => isOpen(fd));
}

function specForAddress(value: string, o: ActivateOptions): SocketSpec {
  let directive: SocketListenDirective;
  try {
    directive = { kind: o.socketType, address: parseSocketAddress(value) };
  } catch (err) {
    throw new ActivateError(`Failed to parse -l '${value}': ${(err as Error).message}`);
  }
  const section: SocketSection = {
    ...defaultSocketSection(),
    listen: [directive],
    // systemd-socket-activate creates unix socket nodes 0644 (directories 0755, the default).
    socketMode: 0o644,
  };
  if (o.protocol !== undefined && o.protocol !== 'tcp') section.socketProtocol = o.protocol;
  try {
    return specFor(directive, section, socketOptionsFor(section));
  } catch (err) {
    throw new ActivateError(`Failed to open '${value}': ${(err as Error).message}`);
  }
}

function openPort(value: string, o: ActivateOptions): { opened: OpenedSocket; protocol: string } {
  const spec = specForAddress(value, o);
  const protocol = spec.kind === 'socket' ? (spec.protocol ?? '') : '';
  try {
    return { opened: openSocket(spec), protocol };
  } catch (err) {
    const mptcpMissing = protocol === 'mptcp' && isNoMptcpError(err);
    if (mptcpMissing && o.mptcpFallback && spec.kind === 'socket') {
      o.log(
        `MPTCP is not available (${(err as Error).message}); '${value}' falls back to TCP as --mptcp-fallback allows.`,
      );
      try {
        return { opened: openSocket({ ...spec, protocol: 'tcp' }), protocol: 'mptcp->tcp' };
      } catch (tcpErr) {
        throw new ActivateError(`Failed to open '${value}': ${(tcpErr as Error).message}`);
      }
    }
    const extra = mptcpMissing ? '; or pass --mptcp-fallback to listen with TCP instead' : '';
    throw new ActivateError(`Failed to open '${value}': ${(err as Error).message}${extra}`);
  }
}

/** Opens every -l port in order (all or nothing) after the inherited ones, and logs
 * "Listening on ADDR as N." for each, as systemd-socket-activate does. */
export function openActivatePorts(o: ActivateOptions): ActivatePort[] {
  const ports: ActivatePort[] = [];
  const inherited = inheritedFds(o.environment);
  if (inherited.length > 0) o.log(`Received ${inherited.length} descriptors via the environment.`);
  for (const fd of inherited) {
    let address = '(unknown)';
    try {
      address = prettyAddress(getsockname(fd));
    } catch {}
    ports.push({ fd, childFd: 3 + ports.length, address, inherited: true, protocol: '' });
  }
  try {
    for (const value of o.listen) {
      const { opened, protocol } = openPort(value, o);
      const address = opened.address ? prettyAddress(opened.address) : value;
      ports.push({ fd: opened.fd, childFd: 3 + ports.length, address, inherited: false, protocol });
    }
  } catch (err) {
    for (const p of ports) if (!p.inherited) closeQuietly(p.fd);
    throw err;
  }
  if (ports.length === 0) throw new ActivateError('No sockets to listen on specified or passed in.');
  for (const p of ports) {
    const how = p.protocol === '' || p.protocol === 'tcp' ? '' : ` (${p.protocol.toUpperCase()})`;
    o.log(`Listening on ${p.address} as ${p.childFd}${how}.`);
  }
  return ports;
}

/** As systemd's getsockname_pretty: an abstract name as `@name`, IPv4-mapped IPv6 as IPv4. */
function prettyAddress(addr: SockAddr): string {
  if (addr.family === 'inet6') {
    const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(addr.address);
    if (mapped) return `${mapped[1]}:${addr.port}`;
  }
  return formatSockAddr(addr);
}

/** What to spawn for each start: the file, argv and environment, with LISTEN_PID arranged. */
interface Launch {
  file: string;
  argv: string[];
  env: string[];
  /** The command as systemd-socket-activate names it in its log: `argv[0] (argv joined)`. */
  label: string;
}

function prepareLaunch(o: ActivateOptions, fdCount: number): Launch {
  const path = findExecutable(o.command[0] ?? '', o.environment.PATH);
  const env = commandEnvironment(o, fdCount);
  const label = `${o.command[0]} (${o.command.join(' ')})`;
  if (o.inetd) return { file: path, argv: o.command, env, label };
  const helper = o.listenPidVia === 'shell' ? undefined : listenPidHelperPath();
  if (helper) return { file: helper, argv: [helper, path, ...o.command], env, label };
  // The shell trampoline exports LISTEN_PID itself, and cannot learn LISTEN_PIDFDID (left out,
  // as systemd does where it cannot); keep the other entries in order.
  const withoutPid = env.filter((e) => e !== LISTEN_PID_PLACEHOLDER && e !== LISTEN_PIDFDID_PLACEHOLDER);
  const wrapped = listenPidShellWrap(path, o.command, withoutPid);
  return { file: wrapped.file, argv: wrapped.argv, env: wrapped.env, label };
}

/** The exit code a shell would show for this status. */
export function exitCode(status: ExitStatus): number {
  return status.code === 'exited' ? status.status : 128 + status.status;
}

/** stdin the command inherits, as after systemd-socket-activate's exec; /dev/null when this
 * process has none. */
function inheritedStdin(): Fd | 'null' {
  return isOpen(0) ? 0 : 'null';
}

/** Opens the ports and runs the activation. Throws ActivateError before anything is started when
 * an option, the command or a port is wrong. */
export function activate(o: ActivateOptions): Activation {
  for (const warning of checkActivateOptions(o)) o.log(warning);
  const fdCount = o.accept ? 1 : inheritedFds(o.environment).length + o.listen.length;
  const launch = prepareLaunch(o, fdCount);
  const ports = openActivatePorts(o);
  return o.accept ? new AcceptLoop(o, launch, ports) : new SingleActivation(o, launch, ports);
}

/** Without --accept: wait for the first event on any port, start the command with every port,
 * then follow it until it exits. */
class SingleActivation implements Activation {
  readonly ports: readonly ActivatePort[];
  readonly done: Promise<number>;
  private resolveDone!: (code: number) => void;
  private readonly watches: Watch[] = [];
  private child: { pid: number } | undefined;
  private finished = false;

  private readonly o: ActivateOptions;
  private readonly launch: Launch;

  constructor(o: ActivateOptions, launch: Launch, ports: ActivatePort[]) {
    this.o = o;
    this.launch = launch;
    this.ports = ports;
    this.done = new Promise<number>((resolve) => {
      this.resolveDone = resolve;
    });
    if (o.now) {
      queueMicrotask(() => this.start());
      return;
    }
    try {
      for (const port of ports)
        this.watches.push(
          watchListener(port.fd, () => {
            o.log(`Communication attempt on fd ${port.childFd}.`);
            this.start();
          }),
        );
    } catch (err) {
      this.releaseWatches();
      this.closePorts();
      throw new ActivateError(`Failed to watch the listening sockets: ${(err as Error).message}`);
    }
  }

  private releaseWatches(): void {
    for (const w of this.watches) w.release();
    this.watches.length = 0;
  }

  private finish(code: number): void {
    if (this.finished) return;
    this.finished = true;
    this.resolveDone(code);
  }

  private start(): void {
    if (this.child || this.finished) return;
    this.releaseWatches();
    const { o, launch } = this;
    o.log(`Execing ${launch.label}`);
    const single = this.ports[0];
    let spawned: ReturnType<typeof spawnProcess>;
    try {
      // Blocking, as systemd-socket-activate passes them (and as systemd's NonBlocking=no):
      // O_NONBLOCK lives in the open file description the command shares with us.
      for (const p of this.ports) setNonBlocking(p.fd, false);
      spawned = spawnProcess({
        file: launch.file,
        argv: launch.argv,
        env: launch.env,
        fds: o.inetd ? [] : this.ports.map((p) => p.fd),
        stdin: o.inetd && single ? single.fd : inheritedStdin(),
        stdout: o.inetd && single ? single.fd : 'inherit',
        stderr: 'inherit',
      });
    } catch (err) {
      o.log(`Failed to execute '${o.command.join(' ')}': ${(err as Error).message}`);
      this.closePorts();
      this.finish(1);
      return;
    }
    this.child = { pid: spawned.pid };
    // The command owns the sockets now: ours would keep a port bound after it closed its copy.
    this.closePorts();
    this.follow(spawned.pidfd);
  }

  /** Reaps the command through its pidfd, watched on Node's loop like the listeners: the epoll
   * worker (onExit's watcher) would start a thread and load koffi in it while the command starts
   * up, competing with it for the CPU (measured: a python3 service started ~2x slower). */
  private follow(pidfd: Fd): void {
    const settle = (): void => {
      let status: ExitStatus | undefined;
      try {
        status = waitPidfd(pidfd);
      } catch (err) {
        watch.close();
        this.o.log(`Failed to wait for the command: ${(err as Error).message}`);
        this.finish(1);
        return;
      }
      if (!status) {
        watch.rearm();
        return;
      }
      watch.close();
      this.finish(exitCode(status));
    };
    const watch = watchListener(pidfd, settle);
  }

  private closePorts(): void {
    for (const p of this.ports) if (!p.inherited) closeQuietly(p.fd);
  }

  signal(signal: NodeJS.Signals): void {
    const number = SIGNAL_NUMBERS[signal] ?? 15;
    if (this.child) {
      try {
        kill(this.child.pid, number);
      } catch {}
      return;
    }
    // Nothing started yet: the C tool would die of the signal while waiting in epoll.
    this.releaseWatches();
    this.closePorts();
    this.finish(128 + number);
  }
}

/** --accept: one process per connection, until stopped. */
class AcceptLoop implements Activation {
  readonly ports: readonly ActivatePort[];
  readonly done: Promise<number>;
  private resolveDone!: (code: number) => void;
  private readonly watches = new Map<Fd, Watch>();
  private readonly children = new Set<number>();
  private stopped = false;

  private readonly o: ActivateOptions;
  private readonly launch: Launch;

  constructor(o: ActivateOptions, launch: Launch, ports: ActivatePort[]) {
    this.o = o;
    this.launch = launch;
    this.ports = ports;
    this.done = new Promise<number>((resolve) => {
      this.resolveDone = resolve;
    });
    try {
      for (const port of ports)
        this.watches.set(
          port.fd,
          watchListener(port.fd, () => this.onReadable(port)),
        );
    } catch (err) {
      this.closeAll();
      throw new ActivateError(`Failed to watch the listening sockets: ${(err as Error).message}`);
    }
  }

  private onReadable(port: ActivatePort): void {
    if (this.stopped) return;
    for (let i = 0; i < ACCEPTS_PER_WAKEUP; i++) {
      let conn: ReturnType<typeof accept>;
      try {
        // No SOCK_NONBLOCK: the command gets a blocking connection, as from accept4(fd, …, 0).
        conn = accept(port.fd);
      } catch (err) {
        if (hasCode(err, 'ECONNABORTED', 'EINTR', 'EPROTO')) continue;
        this.o.log(`Failed to accept connection on fd:${port.childFd}: ${(err as Error).message}`);
        break;
      }
      if (!conn) break;
      this.o.log(`Communication attempt on fd ${port.childFd}.`);
      this.startChild(conn.fd, conn.peer);
    }
    this.watches.get(port.fd)?.rearm();
  }

  private startChild(conn: Fd, peer: SockAddr): void {
    const { o, launch } = this;
    let local = '(unknown)';
    try {
      local = prettyAddress(getsockname(conn));
    } catch {}
    o.log(
      `Connection from ${peer.family === 'unix' && peer.path === '' ? '(unnamed)' : prettyAddress(peer)} to ${local}`,
    );
    let spawned: ReturnType<typeof spawnProcess>;
    try {
      spawned = spawnProcess({
        file: launch.file,
        argv: launch.argv,
        env: launch.env,
        fds: o.inetd ? [] : [conn],
        stdin: o.inetd ? conn : inheritedStdin(),
        stdout: o.inetd ? conn : 'inherit',
        stderr: 'inherit',
      });
    } catch (err) {
      o.log(`Failed to spawn '${o.command.join(' ')}': ${(err as Error).message}`);
      return;
    } finally {
      closeQuietly(conn);
    }
    const pid = spawned.pid;
    this.children.add(pid);
    o.log(`Spawned ${launch.label} as PID ${pid}.`);
    onExit(pid, spawned.pidfd).then(
      (status) => {
        this.children.delete(pid);
        o.log(`Child ${pid} died with code ${status.status}`);
      },
      (err: unknown) => {
        this.children.delete(pid);
        o.log(`Failed to wait for PID ${pid}: ${(err as Error).message}`);
      },
    );
  }

  private closeAll(): void {
    for (const w of this.watches.values()) w.release();
    this.watches.clear();
    for (const p of this.ports) if (!p.inherited) closeQuietly(p.fd);
  }

  signal(_signal: NodeJS.Signals): void {
    if (this.stopped) return;
    this.stopped = true;
    this.closeAll();
    for (const pid of this.children) {
      try {
        kill(pid, 15);
      } catch {}
    }
    this.resolveDone(0);
  }
}
