// `sockunit doctor [--json]`: why MPTCP is (or is not) multi-path in this network namespace, each
// finding in plain words with the command that fixes it. Exit 0 when nothing is wrong, 1 when a
// check found a problem or a warning (MPTCP unusable, or connections that stay single-path).

import { parseArgs } from 'node:util';
import { type CheckStatus, type DoctorReport, doctor } from '../mptcp/doctor.js';
import type { CommandIO } from './io.js';

const USAGE = `Usage: sockunit doctor [--json]

Check that Multipath TCP works and can use several paths in this network namespace: MPTCP
enabled, path manager and scheduler, 'ip mptcp' limits and endpoints, SCTP and UDP-Lite.
Run it inside another namespace with: ip netns exec NAME sockunit doctor

  --json    print the report as JSON
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

export async function doctorCommand(argv: string[], io: CommandIO): Promise<number> {
  let values: { json?: boolean; help?: boolean };
  try {
    ({ values } = parseArgs({
      args: argv,
      options: { json: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } },
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
  const report = await doctor();
  io.stdout.write(values.json ? `${JSON.stringify(report, null, 2)}\n` : formatReport(report));
  return report.ok ? 0 : 1;
}
