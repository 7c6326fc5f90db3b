// `sockunit doctor [--json]`: why MPTCP is (or is not) multi-path in this network namespace, each
// finding in plain words with the command that fixes it. Exit 0 when nothing is broken (warnings
// and notes are advice, such as a single-homed host's missing endpoint), 1 when something is
// (MPTCP unusable here, or a manager's MPTCP listener running as plain TCP), 2 for bad usage.

import { readlinkSync } from 'node:fs';
import type { UnitConnections } from '../manager/control/connections.js';
import type { SocketRow } from '../manager/control/snapshot.js';
import { type CheckStatus, type DoctorReport, doctor, type ManagerSocketsSource } from '../mptcp/doctor.js';
import { ControlClientError, callControl, controlPeer, controlSocketPath } from './control-client.js';
import type { CommandIO } from './io.js';
import { parseCommandLine, UsageError, usageError } from './options.js';

const USAGE = `Usage: sockunit doctor [--json] [--control-socket PATH]

Check that Multipath TCP works and can use several paths in this network namespace: MPTCP
enabled, path manager and scheduler, 'ip mptcp' limits and endpoints, the kernel's fallback
counters, SCTP and UDP-Lite; and, when a manager (sockunit run) of this network namespace
answers on its control socket, which of its MPTCP listeners run as plain TCP and what its live
connections run. Run it inside another namespace with: ip netns exec NAME sockunit doctor

  --json                 print the report as JSON
  --control-socket PATH  the manager's control socket (default: $SOCKUNIT_CONTROL_SOCKET, else
                         /run/sockunit/control.sock as root, $XDG_RUNTIME_DIR/sockunit/control.sock)
  -h, --help             show this help

Each finding is PROBLEM (broken), WARNING (works, but stays single-path where it could use
more), note (advice), ok, or skipped (could not be checked, and why).
Exit status: 0 nothing is broken (warnings and notes are advice); 1 a PROBLEM was found: MPTCP
is disabled or unavailable here, or a manager's MPTCP listener runs as plain TCP; 2 bad usage.
`;

const LABELS: Record<CheckStatus, string> = {
  ok: 'ok',
  note: 'note',
  warning: 'WARNING',
  problem: 'PROBLEM',
  skipped: 'skipped',
};

/** The report as text: one block per check, the fixes indented under it. */
export function formatReport(report: DoctorReport): string {
  const width = Math.max(...Object.values(LABELS).map((l) => l.length));
  const lines = [`MPTCP in network namespace ${report.netns}, kernel ${report.kernel}`, ''];
  for (const c of report.checks) {
    lines.push(`${LABELS[c.status].padEnd(width)}  ${c.title}: ${c.message}`);
    for (const fix of c.fix ?? []) lines.push(`${' '.repeat(width)}    fix: ${fix}`);
  }
  const count = (s: CheckStatus) => report.checks.filter((c) => c.status === s).length;
  const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;
  const advice = `${plural(count('warning'), 'warning')}, ${plural(count('note'), 'note')}`;
  lines.push('');
  lines.push(
    report.ok ? `Nothing broken (${advice}).` : `${plural(count('problem'), 'problem')} (${advice}).`,
  );
  return `${lines.join('\n')}\n`;
}

/** This process's network namespace and another process's, as /proc names them
 * (`net:[4026531840]`); undefined when it cannot be read (another PID namespace, no permission). */
function netnsOf(pid: number | 'self'): string | undefined {
  try {
    return readlinkSync(`/proc/${pid}/ns/net`);
  } catch {
    return undefined;
  }
}

/** Asks the manager on `path` for its MPTCP listeners (list-sockets) and their connections —
 * only when it runs in this network namespace: a control socket path reaches a manager in any
 * namespace (`ip netns exec` keeps /run), and another namespace's listeners are not this one's. */
export function managerSocketsOver(path: string): ManagerSocketsSource {
  return async () => {
    let pid: number;
    let rows: SocketRow[];
    try {
      pid = (await controlPeer(path)).pid;
      const theirs = pid > 0 ? netnsOf(pid) : undefined;
      const ours = netnsOf('self');
      if (theirs === undefined)
        return {
          unavailable: `cannot tell which network namespace the manager on ${path} runs in (its pid is not visible here), so its sockets are not reported as this namespace's`,
        };
      if (theirs !== ours)
        return {
          unavailable: `the manager on ${path} (pid ${pid}) runs in network namespace ${theirs}, not in this one (${ours}): its listeners and connections are not this namespace's. Run doctor in its namespace (nsenter -t ${pid} -n sockunit doctor), or give this namespace's manager its own --control-socket`,
        };
      rows = (await callControl(path, 'list-sockets', { timeoutMs: 5000 })) as SocketRow[];
    } catch (err) {
      // No manager is a normal state for doctor (it checks the kernel first), not an error.
      if (err instanceof ControlClientError) return { unavailable: err.message };
      throw err;
    }
    // tcp->mptcp: a TCP unit's port that --mptcp-upgrade opened as MPTCP (it runs MPTCP).
    const mptcp = rows.filter(
      (r) => r.protocol === 'mptcp' || r.protocol === 'mptcp->tcp' || r.protocol === 'tcp->mptcp',
    );
    const units = [...new Set(mptcp.map((r) => r.unit))];
    let connections: UnitConnections[] = [];
    if (units.length > 0) {
      try {
        connections = (await callControl(path, 'connections', {
          units,
          timeoutMs: 5000,
        })) as UnitConnections[];
      } catch (err) {
        if (!(err instanceof ControlClientError)) throw err;
      }
    }
    return {
      source: path,
      pid,
      listeners: mptcp.map((r) => ({
        unit: r.unit,
        listen: r.listen,
        running: r.protocol === 'mptcp->tcp' ? ('tcp' as const) : ('mptcp' as const),
      })),
      connections: connections.map((c) => ({
        unit: c.unit,
        mptcp: c.mptcp,
        severalPaths: c.severalPaths,
        fallenBack: c.fallenBack,
        tcp: c.tcp,
        notLive: c.notLive,
      })),
    };
  };
}

export async function doctorCommand(argv: string[], io: CommandIO): Promise<number> {
  let values: { json?: boolean; help?: boolean; 'control-socket'?: string };
  try {
    ({ values } = parseCommandLine(
      'doctor',
      argv,
      {
        json: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
        'control-socket': { type: 'string' },
      },
      false,
    ) as { values: typeof values });
  } catch (e) {
    if (e instanceof UsageError) return usageError('doctor', USAGE, e.message, io);
    throw e;
  }
  if (values.help) {
    io.stdout.write(USAGE);
    return 0;
  }
  const report = await doctor({
    managerSockets: managerSocketsOver(controlSocketPath(values['control-socket'])),
  });
  io.stdout.write(values.json ? `${JSON.stringify(report, null, 2)}\n` : formatReport(report));
  return report.ok ? 0 : 1;
}
