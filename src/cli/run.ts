// `sockunit run`: the long-running manager. Thin: parse options, build a Manager, wire signals.

import { statSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { acceptThreadMayOwn } from '../manager/accept/thread.js';
import { type ControlPlane, startControlPlane } from '../manager/control/plane.js';
import { PosixSpawnStarter } from '../manager/exec/process.js';
import { type LogFormat, Logger, type LogLevel } from '../manager/log.js';
import { Manager } from '../manager/manager.js';
import { mayInheritOrphans, reapOrphans } from '../sys/process.js';
import { resolveSearchPath } from '../unit/load.js';
import type { CommandIO } from './io.js';

const HELP = `Usage: sockunit run [OPTIONS] [DIR|UNIT]...

Open the listeners of socket units and start their services on first traffic, as systemd does.
Every DIR argument is added to the unit search path; every other argument names a socket unit
to run (default: every socket unit on the path).

Options:
  -p, --unit-path DIR     add DIR to the unit search path (repeatable; highest priority first).
                          Without any DIR: $SYSTEMD_UNIT_PATH, else systemd's system path
                          (/etc/systemd/system, /run/systemd/system, /usr/lib/systemd/system, ...)
      --mptcp-fallback    open MPTCP ports as TCP where the kernel has no MPTCP (systemd fails
                          such units; reports show mptcp->tcp). Per unit: X-Sockunit-MPTCPFallback=yes
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
      --metrics ADDR      serve Prometheus metrics on http://ADDR/metrics (e.g. 127.0.0.1:9101);
                          off by default
  -h, --help              show this help

Signals: SIGTERM/SIGINT stop every service and close every listener (exit 0); SIGHUP reloads
units, keeping unchanged listeners open.

Environment: SOCKUNIT_ACCEPT_THREAD=0 (or no, false, off) starts every Accept=yes instance from
the main thread (by default a worker thread accepts and spawns them where the template allows;
--log-level=debug tells which units do).
`;

export async function runCommand(argv: string[], io: CommandIO): Promise<number> {
  let args: ReturnType<typeof parse>;
  try {
    args = parse(argv);
  } catch (err) {
    io.stderr.write(`sockunit run: ${(err as Error).message}\n${HELP}`);
    return 2;
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
  const dirs = [...(args.values['unit-path'] ?? [])];
  const units: string[] = [];
  for (const p of args.positionals) {
    if (isDirectory(p)) dirs.push(p);
    else units.push(p);
  }
  const unitPath = dirs.length > 0 ? dirs : resolveSearchPath();
  let mptcpUpgrade: true | string[] | undefined;
  try {
    mptcpUpgrade = upgradeTargets(args.values['mptcp-upgrade']);
  } catch (err) {
    io.stderr.write(`sockunit run: ${(err as Error).message}\n`);
    return 2;
  }
  const log = new Logger({ format: format as LogFormat, level, out: io.stderr });
  const starter = new PosixSpawnStarter(log);
  const manager = new Manager({
    unitPath,
    units,
    log,
    starter,
    mptcpFallback: args.values['mptcp-fallback'] ?? false,
    ...(mptcpUpgrade ? { mptcpUpgrade } : {}),
  });
  const listening = manager.start();
  if (manager.sockets.size === 0) {
    log.error(`No socket units found in ${unitPath.join(', ')}.`);
    // Closes what start() opened anyway (the notify socket), which would keep the process alive.
    await manager.stop();
    return 1;
  }
  // Before the 'listening' line: whoever waits for it may use the control socket at once.
  let plane: ControlPlane;
  try {
    plane = await startControlPlane(manager, log, {
      controlSocket: args.values['control-socket'],
      controlSocketMode: args.values['control-socket-mode'],
      metrics: args.values.metrics,
    });
  } catch (err) {
    log.error((err as Error).message);
    await manager.stop();
    return 1;
  }

  return new Promise<number>((resolve) => {
    let stopping = false;
    // Orphans re-parented to us (PID 1 in a container, or a subreaper) are reaped here; our own
    // children are left to their pidfd watchers. Anywhere else no orphan can come to us, and the
    // tick (a /proc read per thread) would only cost idle CPU.
    const reaper = mayInheritOrphans()
      ? setInterval(() => {
          // The accept thread's fresh spawns are not in livePids until the main thread adopts them.
          const ours = (pid: number) => starter.livePids.has(pid) || acceptThreadMayOwn(pid);
          for (const exit of reapOrphans(ours)) log.debug(`Reaped orphan ${exit.pid}.`);
        }, 1000)
      : undefined;
    const shutdown = (signal: string) => {
      if (stopping) return;
      stopping = true;
      log.info(`Received ${signal}, stopping.`);
      plane
        .close()
        .then(() => manager.stop())
        .then(
          () => {
            clearInterval(reaper);
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
    process.on('SIGHUP', () => manager.reload());
    // Only now: whoever waits for this line may signal at once, and a signal that arrives
    // before its handler is installed takes its default action (half of the SIGINTs sent right
    // after this line killed the manager when it was logged first).
    log.info(`sockunit: ${listening} of ${manager.sockets.size} socket units listening.`);
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
  return parseArgs({
    // parseArgs has no optional values: a bare --mptcp-upgrade means every unit, and must not
    // take the next argument (a unit directory) as its value.
    args: argv.map((a) => (a === '--mptcp-upgrade' ? '--mptcp-upgrade=' : a)),
    allowPositionals: true,
    options: {
      'unit-path': { type: 'string', short: 'p', multiple: true },
      'mptcp-fallback': { type: 'boolean' },
      'mptcp-upgrade': { type: 'string', multiple: true },
      'log-format': { type: 'string' },
      'log-level': { type: 'string' },
      'control-socket': { type: 'string' },
      'control-socket-mode': { type: 'string' },
      metrics: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
}

function isDirectory(p: string): boolean {
  try {
    return statSync(p).isDirectory();
  } catch {
    return false;
  }
}
