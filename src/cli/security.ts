// `sockunit security [--json] [-p DIR]... [--user|--system] UNIT...`: what a service's hardening
// buys under sockunit — each check of `systemd-analyze security`, whether sockunit applies the
// keys behind it (and why not), and the overall exposure figure computed as systemd computes
// it, beside the figure the same file gets under systemd.

import { resolveSyscall, seccompAvailable } from '../sys/seccomp.js';
import { assessService, formatExposure, type SecurityAssessment } from '../unit/exposure.js';
import { SERVICE_TABLE } from '../unit/key-table.js';
import { loadUnit } from '../unit/load-unit.js';
import type { ServiceUnitConfig } from '../unit/service-config.js';
import type { CommandIO } from './io.js';
import { parseUnitFileCommand, unitTarget } from './unit-target.js';

const USAGE = `Usage: sockunit security [--json] [--no-pager] [-p DIR]... [--user|--system] UNIT...

Assess the sandboxing of services as sockunit runs them: every check of systemd-analyze
security, whether sockunit applies it (and why not), and the overall exposure (0.0 = locked down,
10.0 = fully exposed) beside the figure systemd would give the same unit file.

      --json           print the assessment as JSON
  -p, --unit-path DIR  search DIR instead of the default unit path (repeatable; first wins)
      --user           search the user manager's unit path
      --system         search systemd's system unit path (the default)
  -h, --help           show this help

Exit status: 0, or 1 when a unit could not be loaded or is not a service; 2 for bad usage.
`;

export async function securityCommand(argv: string[], io: CommandIO): Promise<number> {
  const parsed = parseUnitFileCommand('security', USAGE, argv, io, {
    extra: { json: { type: 'boolean' }, 'no-pager': { type: 'boolean' } },
    missing: 'no unit given; name the services to assess (NAME.service or a path)',
  });
  if (typeof parsed === 'number') return parsed;
  const choice = parsed.choice;
  // systemd skips the calls this machine does not have; without libseccomp every name counts.
  const exists = seccompAvailable() ? (call: string) => resolveSyscall(call) !== undefined : () => true;
  const results: SecurityAssessment[] = [];
  let exit = 0;
  for (const arg of parsed.positionals) {
    const target = unitTarget(arg, choice.dirs, choice.manager);
    const unit = loadUnit(target.name, { searchPath: target.searchPath, manager: choice.manager });
    if (unit.loadState !== 'loaded' || unit.config?.type !== 'service') {
      io.stderr.write(
        `sockunit security: ${arg}: ${unit.loadState !== 'loaded' ? `unit is ${unit.loadState}` : 'not a service'}; name a .service unit that loads (sockunit verify says why)\n`,
      );
      exit = 1;
      continue;
    }
    results.push(assessService(unit.config as ServiceUnitConfig, SERVICE_TABLE, exists));
  }
  if (parsed.values.json === true) {
    io.stdout.write(`${JSON.stringify(results.map(toJson), null, 2)}\n`);
    return exit;
  }
  results.forEach((r, n) => {
    if (n > 0) io.stdout.write('\n');
    io.stdout.write(table(r));
  });
  return exit;
}

function toJson(r: SecurityAssessment) {
  return {
    unit: r.unit,
    exposure: formatExposure(r.exposure),
    rating: r.rating,
    systemd: { exposure: formatExposure(r.systemdExposure), rating: r.systemdRating },
    notEnforced: r.notEnforced,
    checks: r.checks.map((c) => ({
      set: c.badness === undefined ? null : c.badness === 0,
      name: c.name,
      json_field: c.jsonField,
      description: c.description,
      exposure: c.exposure ?? null,
      systemd_exposure: c.systemdExposure ?? null,
      sockunit: c.sockunit,
    })),
  };
}

function table(r: SecurityAssessment): string {
  const rows = [...r.checks].sort((a, b) => Number(b.exposure ?? 0) - Number(a.exposure ?? 0));
  const mark = (b: number | undefined) => (b === undefined ? ' ' : b === 0 ? '✓' : '✗');
  const nameWidth = Math.max(4, ...rows.map((c) => c.name.length));
  const descWidth = Math.max(11, ...rows.map((c) => c.description.length));
  const lines = [
    `  ${'NAME'.padEnd(nameWidth)} ${'DESCRIPTION'.padEnd(descWidth)} EXPOSURE  SYSTEMD  SOCKUNIT`,
  ];
  for (const c of rows)
    lines.push(
      `${mark(c.badness)} ${c.name.padEnd(nameWidth)} ${c.description.padEnd(descWidth)} ${(c.exposure ?? '').padStart(8)}  ${(c.systemdExposure ?? '').padStart(7)}  ${c.sockunit}`,
    );
  lines.push(
    '',
    `→ Overall exposure level for ${r.unit} under sockunit: ${formatExposure(r.exposure)} ${r.rating}`,
    `  under systemd, the same unit file: ${formatExposure(r.systemdExposure)} ${r.systemdRating}`,
  );
  if (r.notEnforced.length > 0)
    lines.push(`  set in the file, not enforced by sockunit: ${r.notEnforced.map((k) => `${k}=`).join(' ')}`);
  lines.push('');
  return lines.join('\n');
}
