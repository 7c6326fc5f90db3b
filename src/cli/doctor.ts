// `sockunit doctor [--json]`: why MPTCP is (or is not) multi-path in this network namespace, each
// finding in plain words with the command that fixes it. Exit 0 when nothing is wrong, 1 when a
// check found a problem or a warning (MPTCP unusable, or connections that stay single-path).

import { parseArgs } from 'node:util';
import type { UnitConnections } from '../manager/control/connections.js';
import type { SocketRow } from '../manager/control/snapshot.js';
import { type CheckStatus, type DoctorReport, doctor, type ManagerSocketsSource } from '../mptcp/doctor.js';
import { ControlClientError, callControl, controlSocketPath } from './control-client.js';
import type { CommandIO } from './io.js';

const USAGE = `Usage: sockunit doctor [--json] [--control-socket PATH]

Check that Multipath TCP works and can use several paths in this network namespace: MPTCP
enabled, path manager and scheduler, 'ip mptcp' limits and endpoints, SCTP and UDP-Lite; and,
when a manager (sockunit run) answers on its control socket, which of its MPTCP listeners and
connections fell back to TCP. Run it inside another namespace with: ip netns exec NAME sockunit doctor

  --json                 print the report as JSON
  --control-socket PATH  the manager's control socket (default: $SOCKUNIT_CONTROL_SOCKET, else
                         /run/sockunit/control.sock as root, $XDG_RUNTIME_DIR/sockunit/control.sock)
Exit status 0 when nothing is wrong, 1 when a problem or warning was found.
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
  const problems = count('problem');
  const warnings = count('warning');
  lines.push('');
  lines.push(
    report.ok
      ? 'Nothing wrong found.'
      : `${problems} problem${problems === 1 ? '' : 's'}, ${warnings} warning${warnings === 1 ? '' : 's'}.`,
  );
  return `${lines.join('\n')}\n`;
}

/** Asks the manager on `path` for its MPTCP listeners (list-sockets) and their connections. */
export function managerSocketsOver(path: string): ManagerSocketsSource {
  return async () => {
    let rows: SocketRow[];
    try {
      rows = (await callControl(path, 'list-sockets', { timeoutMs: 5000 })) as SocketRow[];
    } catch (err) {
      // No manager is a normal state for doctor (it checks the kernel first), not an error.
      if (err instanceof ControlClientError) return { unavailable: err.message };
      throw err;
    }
    const mptcp = rows.filter((r) => r.protocol === 'mptcp' || r.protocol === 'mptcp->tcp');
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
      listeners: mptcp.map((r) => ({
        unit: r.unit,
        listen: r.listen,
        running: r.protocol === 'mptcp->tcp' ? ('tcp' as const) : ('mptcp' as const),
      })),
      connections: connections.map((c) => ({
        unit: c.unit,
        mptcp: c.mptcp,
        fallenBack: c.fallenBack,
        tcp: c.tcp,
      })),
    };
  };
}

export async function doctorCommand(argv: string[], io: CommandIO): Promise<number> {
  let values: { json?: boolean; help?: boolean; 'control-socket'?: string };
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        json: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
        'control-socket': { type: 'string' },
      },
      allowPositionals: false,
    }));
  } catch (e) {
    io.stderr.write(`sockunit doctor: ${(e as Error).message}\n${USAGE}`);
    return 2;
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
