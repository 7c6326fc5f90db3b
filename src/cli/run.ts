// `sockunit run`: the long-running manager. Thin: parse options, build a Manager, wire signals.

import { existsSync } from 'node:fs';
import { basename, dirname, resolve } from 'node:path';
import { type ListenFd, listenFds } from '../activation/listen-fds.js';
import { CgroupChoiceError, CgroupTree } from '../manager/cgroup/tree.js';
import { OuterManager } from '../manager/control/outer-manager.js';
import { type ControlPlane, startControlPlane } from '../manager/control/plane.js';
import { defaultControlSocketPath } from '../manager/control/protocol.js';
import { PosixSpawnStarter } from '../manager/exec/process.js';
import { setSandboxMode } from '../manager/exec/sandbox.js';
import { type LogFormat, Logger, type LogLevel } from '../manager/log.js';
import { Manager } from '../manager/manager.js';
import { startOrphanReaper } from '../manager/orphans.js';
import { unitFileChecksFor } from '../unit/file-trust.js';
import { resolveSearchPath } from '../unit/load.js';
import type { ManagerKind } from '../unit/specifiers.js';
import type { CommandIO } from './io.js';
import { parseCommandLine, UNIT_FILE_OPTIONS, UsageError, usageError } from './options.js';
import { directoryProblem, unitPathChoice } from './unit-target.js';
import { releaseStartupSettings } from './v8-startup.js';

const HELP = `Usage: sockunit run [OPTIONS] [DIR|UNIT]...

Open the listeners of socket units and start their services on first traffic, as systemd does.
Every DIR argument is added to the unit search path; every other argument names a socket unit
to run (NAME.socket, or the path of a .socket file); default: every socket unit on the path.

Which units: a DIR or -p DIR, else $SYSTEMD_UNIT_PATH. Running the host's own units (systemd's
system path: /etc/systemd/system, /run/systemd/system, /usr/lib/systemd/system, ...) takes
--system, so that a bare 'sockunit run' never takes over the host's ssh, dbus or journald sockets.

Options:
  -p, --unit-path DIR     add DIR to the unit search path (repeatable; highest priority first)
      --system            add systemd's system unit path (the host's own units)
      --user              add the user manager's unit path (~/.config/systemd/user, ...); its
                          specifiers (%h, %t, ...) expand as the user manager's
      --target TARGET     boot mode: start TARGET (e.g. multi-user.target) with everything it
                          Wants=/Requires= — sockets, plain services, other targets — as systemd
                          does at boot, instead of every socket unit ('sockunit enable' makes
                          the links; --system boots the host's own units)
      --mptcp-fallback    open MPTCP ports as TCP where the kernel has no MPTCP (systemd fails
                          such units; reports show mptcp->tcp). Per unit: X-Sockunit-MPTCPFallback=yes
      --sandbox MODE      strict (default: a sandboxing key the kernel refuses fails the service,
                          status=226/NAMESPACE, 228/SECCOMP) or best-effort (run without it, and
                          say so in the log and status). Per unit: X-Sockunit-Sandbox=best-effort
      --mptcp-upgrade[=UNIT,...]
                          open the TCP ports (ListenStream= on an IP address) of every socket
                          unit, or of the units named, as MPTCP; plain TCP clients are served as
                          before. A port stays TCP, with a line that says why, where the kernel has
                          no MPTCP or refuses one of its options on MPTCP (IPTTL=, or what the
                          service sets itself: X-Sockunit-ServiceSocketOptions=TCP_MD5SIG kTLS ...).
                          Reports show upgraded ports as tcp->mptcp
      --log-format FMT    text (default) or json (one object a line)
      --log-level LEVEL   debug, info (default), notice, warning, error
      --control-socket PATH
                          serve status/start/stop/... on this unix socket (default:
                          $SOCKUNIT_CONTROL_SOCKET, else /run/sockunit/control.sock as root,
                          $XDG_RUNTIME_DIR/sockunit/control.sock otherwise); mode 0600, only root
                          and this user may use it
      --control-socket-mode MODE
                          file mode of the control socket (for tests; peers are still checked)
      --metrics ADDR      serve Prometheus metrics on http://ADDR/metrics (e.g. 127.0.0.1:9101),
                          and the probes /healthz and /readyz; off by default
      --allow-unsafe-unit-files
                          as root, run unit files that another user could modify (owned by
                          them, or in a directory they may write) with a warning, instead of
                          refusing them
      --cgroup PATH|no    run services in cgroups under this cgroup v2 path (default: the
                          manager's own cgroup when it is alone there, else a child of it named
                          after the control socket); no: process groups, as without cgroups
  -h, --help              show this help

Exit status: 0 after SIGTERM/SIGINT; 1 when no socket unit could be loaded or none listens (every
unit failed), or the control socket or metrics could not be served; 2 for bad usage.

Signals: SIGTERM/SIGINT stop every service and close every listener (exit 0); SIGHUP reloads
units, keeping unchanged listeners open.

Under another manager: with NOTIFY_SOCKET set, READY=1 once every listener is open (or the
target is reached), RELOADING=1 ... READY=1 around a reload, STOPPING=1, and WATCHDOG=1 while
WATCHDOG_USEC asks; started with LISTEN_FDS, each passed fd goes to the socket unit whose
Listen*= names it (no second bind), and an fd no unit names is closed.

Environment: SOCKUNIT_ACCEPT_THREAD=0 (or no, false, off) starts every Accept=yes instance from
the main thread (by default a worker thread accepts and spawns them where the template allows;
--log-level=debug tells which units do).
`;

export async function runCommand(argv: string[], io: CommandIO): Promise<number> {
  let args: ReturnType<typeof parse>;
  try {
    args = parse(argv);
  } catch (err) {
    if (err instanceof UsageError) return usageError('run', HELP, err.message, io);
    throw err;
  }
  if (args.values.help) {
    io.stdout.write(HELP);
    return 0;
  }
  const format = args.values['log-format'] ?? 'text';
  if (format !== 'text' && format !== 'json') {
    io.stderr.write(`sockunit run: --log-format=${format}: expected text or json\n`);
    return 2;
  }
  const level = (args.values['log-level'] ?? 'info') as LogLevel;
  if (!['debug', 'info', 'notice', 'warning', 'error'].includes(level)) {
    io.stderr.write(`sockunit run: --log-level=${level}: expected debug, info, notice, warning or error\n`);
    return 2;
  }
  let where: RunUnits;
  try {
    where = runUnits(args);
  } catch (err) {
    if (err instanceof UsageError) return usageError('run', HELP, err.message, io);
    throw err;
  }
  const { unitPath, units, manager: unitManager } = where;
  let mptcpUpgrade: true | string[] | undefined;
  try {
    mptcpUpgrade = upgradeTargets(args.values['mptcp-upgrade']);
  } catch (err) {
    io.stderr.write(`sockunit run: ${(err as Error).message}\n`);
    return 2;
  }
  const log = new Logger({ format: format as LogFormat, level, out: io.stderr });
  if (where.hostPath && existsSync('/run/systemd/system'))
    log.warning(
      'systemd runs on this host (/run/systemd/system exists) and already listens on its units’ sockets: those units fail here with EADDRINUSE. Stop them in systemd first, or run your own units from a directory.',
    );
  const starter = new PosixSpawnStarter(log);
  const target = args.values.target;
  if (target !== undefined && !/\.target$/.test(target)) {
    io.stderr.write(
      `sockunit run: --target=${target}: expected a target unit name such as multi-user.target\n`,
    );
    return 2;
  }
  const sandbox = args.values.sandbox;
  if (sandbox !== undefined && sandbox !== 'strict' && sandbox !== 'best-effort') {
    io.stderr.write(`sockunit run: --sandbox=${sandbox}: expected strict or best-effort\n`);
    return 2;
  }
  if (sandbox !== undefined) setSandboxMode(sandbox);
  const outer = new OuterManager(log);
  let cgroups: CgroupTree | undefined;
  try {
    cgroups = await CgroupTree.claim({
      requested: args.values.cgroup,
      identity: resolve(args.values['control-socket'] ?? defaultControlSocketPath(process.env)),
      log,
    });
  } catch (err) {
    if (!(err instanceof CgroupChoiceError)) throw err;
    log.error(err.message);
    return 1;
  }
  const manager = new Manager({
    unitPath,
    units,
    log,
    starter,
    mptcpFallback: args.values['mptcp-fallback'] ?? false,
    unitManager,
    ...(target !== undefined ? { target } : {}),
    ...(cgroups ? { cgroups } : {}),
    inheritedFds: inheritedFds(log),
    unitFileChecks: unitFileChecksFor(
      process.geteuid?.() ?? 0,
      process.getegid?.() ?? 0,
      args.values['allow-unsafe-unit-files'] ?? false,
    ),
    ...(mptcpUpgrade ? { mptcpUpgrade } : {}),
  });
  // The services' cgroups go with them; the manager returns to the cgroup it was started in.
  const stopAll = async () => {
    await manager.stop();
    cgroups?.release();
  };
  // Before any unit starts: /readyz and is-system-running answer 'starting' meanwhile, and
  // whoever waits for the 'listening' line may use the control socket at once.
  let plane: ControlPlane;
  try {
    plane = await startControlPlane(manager, log, {
      controlSocket: args.values['control-socket'],
      controlSocketMode: args.values['control-socket-mode'],
      metrics: args.values.metrics,
    });
  } catch (err) {
    log.error((err as Error).message);
    await stopAll();
    return 1;
  }
  const giveUp = async (): Promise<number> => {
    // Closes what start() opened anyway (the notify socket), which would keep the process alive.
    await plane.close();
    await stopAll();
    return 1;
  };
  let listening: number;
  if (target !== undefined) {
    const reached = await manager.boot(target);
    // The target itself did not load (not found, masked, broken): nothing to run.
    if (!manager.targets.has(target)) return giveUp();
    if (!reached)
      log.error(
        `sockunit: ${target} was not reached; the units that started keep running ('sockunit status' tells why).`,
      );
    listening = [...manager.sockets.values()].filter((s) => s.activeState === 'active').length;
  } else listening = manager.start();
  const found = manager.sockets.size + [...manager.broken.keys()].filter((n) => n.endsWith('.socket')).length;
  if (target === undefined && found === 0) {
    log.error(`No socket units found in ${unitPath.join(', ')}.`);
    return giveUp();
  }
  if (target === undefined && listening === 0) {
    // Every socket unit failed to load or to listen: nothing would ever start, and a manager
    // that stayed up would only look healthy.
    log.error(
      `sockunit: 0 of ${found} socket units listening: every one failed (see the errors above); nothing to serve. Fix them and start again.`,
    );
    return giveUp();
  }

  return new Promise<number>((resolve) => {
    let stopping = false;
    // Orphans re-parented to us (PID 1 in a container, or a subreaper) are reaped as they come;
    // our own children are left to their pidfd watchers.
    const reaper = startOrphanReaper(log, (pid) => starter.livePids.has(pid));
    const shutdown = (signal: string) => {
      if (stopping) return;
      stopping = true;
      log.info(`Received ${signal}, stopping.`);
      outer.stopping();
      plane
        .close()
        .then(() => stopAll())
        .then(
          () => {
            reaper?.stop();
            for (const s of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) process.removeAllListeners(s);
            log.info('sockunit: stopped.');
            resolve(0);
          },
          (err: unknown) => {
            log.error(`Stopping failed: ${(err as Error).message}`);
            resolve(1);
          },
        );
    };
    process.on('SIGTERM', () => shutdown('SIGTERM'));
    process.on('SIGINT', () => shutdown('SIGINT'));
    process.on('SIGHUP', () => {
      outer.reloading();
      manager.reload();
      outer.reloaded(manager);
    });
    // Only now: whoever waits for this line may signal at once, and a signal that arrives
    // before its handler is installed takes its default action (half of the SIGINTs sent right
    // after this line killed the manager when it was logged first).
    log.info(`sockunit: ${listening} of ${manager.sockets.size} socket units listening.`);
    outer.ready(manager);
    releaseStartupSettings();
  });
}

/** `--mptcp-upgrade` (every unit) or `--mptcp-upgrade=a,b.socket` (those units), repeatable. */
function upgradeTargets(values: string[] | undefined): true | string[] | undefined {
  if (values === undefined) return undefined;
  if (values.includes('')) return true;
  const names = values.flatMap((v) => v.split(',')).filter((n) => n !== '');
  for (const name of names)
    if (name.includes('.') && !name.endsWith('.socket'))
      throw new Error(
        `--mptcp-upgrade=${name}: expected socket unit names (web or web.socket), separated by commas`,
      );
  return names.map((n) => (n.endsWith('.socket') ? n : `${n}.socket`));
}

function parse(argv: string[]) {
  const parsed = parseCommandLine(
    'run',
    // parseArgs has no optional values: a bare --mptcp-upgrade means every unit, and must not
    // take the next argument (a unit directory) as its value.
    argv.map((a) => (a === '--mptcp-upgrade' ? '--mptcp-upgrade=' : a)),
    {
      ...UNIT_FILE_OPTIONS,
      'mptcp-fallback': { type: 'boolean' },
      'mptcp-upgrade': { type: 'string', multiple: true },
      sandbox: { type: 'string' },
      target: { type: 'string' },
      'log-format': { type: 'string' },
      'log-level': { type: 'string' },
      'control-socket': { type: 'string' },
      'control-socket-mode': { type: 'string' },
      metrics: { type: 'string' },
      cgroup: { type: 'string' },
      'allow-unsafe-unit-files': { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  );
  return parsed as {
    values: {
      'unit-path'?: string[];
      user?: boolean;
      system?: boolean;
      'mptcp-fallback'?: boolean;
      sandbox?: string;
      'mptcp-upgrade'?: string[];
      target?: string;
      'log-format'?: string;
      'log-level'?: string;
      'control-socket'?: string;
      'control-socket-mode'?: string;
      metrics?: string;
      'allow-unsafe-unit-files'?: boolean;
      cgroup?: string;
      help?: boolean;
    };
    positionals: string[];
  };
}

/** Where the units come from and which to run. */
interface RunUnits {
  unitPath: string[];
  units: string[];
  manager: ManagerKind;
  /** The host's own unit path was chosen (--system/--user). */
  hostPath: boolean;
}

/**
 * Directories, unit names and paths of unit files from the arguments; the host's unit path only
 * when asked for (--system, --user, or $SYSTEMD_UNIT_PATH). Throws UsageError for an argument
 * that looks like a path but names nothing, and for no unit path at all.
 */
function runUnits(args: ReturnType<typeof parse>): RunUnits {
  const choice = unitPathChoice(args.values);
  const dirs = [...choice.dirs];
  const units: string[] = [];
  for (const p of args.positionals) {
    if (directoryProblem(p) === undefined) dirs.push(resolve(p));
    else if (/\.socket$/.test(p) && existsSync(p)) {
      // The path of a unit file: its directory joins the path, its name is the unit.
      dirs.push(dirname(resolve(p)));
      units.push(basename(p));
    } else if (p.includes('/'))
      throw new UsageError(
        `${p}: ${existsSync(p) ? 'not a directory nor a .socket file' : 'no such directory or unit file'}; give a unit directory, a .socket file, or a unit name (NAME.socket)`,
      );
    else units.push(p);
  }
  // The host's path as systemd computes it: $SYSTEMD_UNIT_PATH when set (a trailing ':' appends
  // the defaults), else the manager's default path. Set explicitly, the variable is a choice too.
  const hostWanted = choice.hostPath || (dirs.length === 0 && Boolean(process.env.SYSTEMD_UNIT_PATH));
  const host = hostWanted ? resolveSearchPath({ manager: choice.manager }) : [];
  const unitPath = [...new Set([...dirs, ...host])];
  if (unitPath.length === 0)
    throw new UsageError(
      `no unit directory given${units.length > 0 ? ` to find ${units.join(', ')} in` : ''}. Name one (sockunit run examples/units, or -p DIR), or choose the host's own units explicitly: --system for systemd's system unit path (/etc/systemd/system, /usr/lib/systemd/system, ...), --user for the user manager's`,
    );
  return { unitPath, units, manager: choice.manager, hostPath: choice.hostPath };
}

/** The listening fds sockunit itself was started with (LISTEN_FDS for this pid), for the socket
 * units whose Listen*= name them. Malformed variables are a warning: the units bind instead. */
function inheritedFds(log: Logger): ListenFd[] {
  if (process.env.LISTEN_FDS === undefined) return [];
  const pid = process.env.LISTEN_PID;
  if (pid !== undefined && pid !== String(process.pid)) {
    log.warning(
      `LISTEN_FDS is set for pid ${pid}, not for sockunit (pid ${process.pid}): the fds are not taken and the units bind their own. Start sockunit directly (node …/bin.js, not through npx or a shell that stays) to take them.`,
    );
    return [];
  }
  try {
    const fds = [...listenFds({ unsetEnvironment: true })];
    if (fds.length > 0) log.info(`Inherited ${fds.length} fd(s) from the manager that started sockunit.`);
    return fds;
  } catch (err) {
    log.warning(`Ignoring the fds sockunit was started with: ${(err as Error).message}`);
    return [];
  }
}
