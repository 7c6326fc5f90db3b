// `sockunit verify [--json] [--strict] [-p DIR]... [--user|--system] PATH...`: load unit files (or every
// .socket/.service in a directory) as the manager would and print every diagnostic as
// `file:line: Key=value: message`. Exit 1 when a unit has an error (or, with --strict, a warning).
// Commands and users missing on this machine are warnings: units are often checked on one
// machine and deployed on another.

import { accessSync, constants, readFileSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { transactionDiagnostics } from '../manager/jobs/check.js';
import { type Diagnostic, formatDiagnostic } from '../unit/diagnostic.js';
import type { ExecCommand } from '../unit/exec-command.js';
import { unitFileChecksFor } from '../unit/file-trust.js';
import { listUnitFiles, type UnitFileChecks, UnitPathIndex } from '../unit/load.js';
import { type LoadedUnit, loadUnitFromPaths, type UnitConfig } from '../unit/load-unit.js';
import type { CommandIO } from './io.js';
import { parseUnitFileCommand } from './unit-target.js';

const USAGE = `Usage: sockunit verify [--json] [--strict] [--no-notices] [-p DIR]... [--user|--system] PATH...

Check .socket and .service files (or every one in a directory) the way sockunit loads them.
Prints each problem as FILE:LINE: Key=value: message; a misspelt key gets "did you mean ...?".
Exit status 1 when a unit has an error, 2 for bad usage.

      --json           print a JSON report instead
      --strict         treat warnings as errors
      --no-notices     leave out notices (keys sockunit does not enforce, rewritten paths)
  -p, --unit-path DIR  also search DIR for the services sockets start (repeatable)
      --user           expand specifiers as the user manager would
      --system         expand specifiers as the system manager would (the default)
      --allow-unsafe-unit-files
                       as root: report unit files another user could modify as warnings, as
                       \`sockunit run --allow-unsafe-unit-files\` runs them (errors otherwise, as
                       \`sockunit run\` refuses them; as another user, notices of what it would do)
  -h, --help           show this help
`;

/** Where a bare command name is looked up (systemd's fixed list). */
const COMMAND_SEARCH_PATH = ['/usr/local/sbin', '/usr/local/bin', '/usr/sbin', '/usr/bin'];

export async function verifyCommand(argv: string[], io: CommandIO): Promise<number> {
  const parsed = parseUnitFileCommand('verify', USAGE, argv, io, {
    extra: {
      json: { type: 'boolean' },
      strict: { type: 'boolean' },
      'no-notices': { type: 'boolean' },
      'allow-unsafe-unit-files': { type: 'boolean' },
    },
    missing: 'no unit file or directory given',
  });
  if (typeof parsed === 'number') return parsed;
  const choice = parsed.choice;
  const unitPath = choice.dirs;
  const { files, problems } = collectUnitFiles(parsed.positionals);
  const units = loadUnitFromPaths(files, {
    unitPath,
    ...(choice.manager === 'user' ? { manager: 'user' as const } : {}),
    checks: verifyChecks(parsed.values['allow-unsafe-unit-files'] === true),
  });
  const host = new HostLookup();
  for (const u of units)
    if (u.config !== undefined) u.diagnostics.push(...checkOnThisMachine(u.config, host));
  // Each unit's start transaction, as systemd-analyze verify builds one: missing required units,
  // Requisite= and ordering cycles.
  const searchDirs = [...new Set(files.map((f) => dirname(f))), ...unitPath];
  for (const d of transactionDiagnostics(units, new UnitPathIndex(searchDirs))) {
    const owner =
      units.find((u) => u.fragmentPath === d.file || u.dropIns.includes(d.file)) ??
      units.find((u) => d.message.startsWith(`${u.name} `));
    owner?.diagnostics.push(d);
  }
  for (const u of units) u.diagnostics = inFileOrder(u);

  const strict = parsed.values.strict === true;
  const failed = (u: LoadedUnit): boolean =>
    !['loaded', 'masked'].includes(u.loadState) ||
    u.diagnostics.some((d) => d.severity === 'error' || (strict && d.severity === 'warning'));
  const all = [...problems, ...units.flatMap((u) => u.diagnostics)];
  const count = (s: Diagnostic['severity']): number => all.filter((d) => d.severity === s).length;
  const exit = problems.length > 0 || units.some(failed) ? 1 : 0;

  if (parsed.values.json === true) {
    const report = {
      units: units.map((u) => ({
        name: u.name,
        loadState: u.loadState,
        fragmentPath: u.fragmentPath ?? null,
        dropIns: u.dropIns,
        ok: !failed(u),
        diagnostics: u.diagnostics.map((d) => ({ ...d, text: formatDiagnostic(d) })),
      })),
      problems: problems.map((d) => ({ ...d, text: formatDiagnostic(d) })),
      errors: count('error'),
      warnings: count('warning'),
      notices: count('notice'),
      strict,
    };
    io.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
    return exit;
  }
  const quiet = parsed.values['no-notices'] === true;
  for (const d of all) if (!quiet || d.severity !== 'notice') io.stdout.write(`${formatDiagnostic(d)}\n`);
  const bad = units.filter(failed);
  for (const u of bad)
    io.stdout.write(`${u.name}: ${u.loadState === 'loaded' ? 'has errors' : u.loadState}\n`);
  io.stdout.write(
    `${units.length} unit${units.length === 1 ? '' : 's'} checked: ${count('error')} errors, ${count('warning')} warnings, ${count('notice')} notices${strict ? ' (--strict: warnings fail)' : ''}\n`,
  );
  return exit;
}

/** What `sockunit run` as root would say about who may have written the files: as root, the
 * same (an error, or with the option a warning); as another user, a notice of it. */
function verifyChecks(allowUnsafe: boolean): UnitFileChecks {
  const euid = process.geteuid?.() ?? 0;
  const { ownership } = unitFileChecksFor(0, euid === 0 ? (process.getegid?.() ?? 0) : 0, allowUnsafe);
  if (!ownership) return {};
  return { ownership: euid === 0 ? ownership : { ...ownership, severity: 'notice' } };
}

/** A unit's diagnostics in reading order: fragment, then drop-ins, by line; whole-unit ones
 * (line 0) after the lines of their file. The sort is stable, so equal lines keep their order. */
function inFileOrder(unit: LoadedUnit): Diagnostic[] {
  const files = [unit.fragmentPath, ...unit.dropIns];
  const fileRank = (f: string): number => {
    const i = files.indexOf(f);
    return i < 0 ? files.length : i;
  };
  const lineRank = (d: Diagnostic): number => (d.line === 0 ? Number.POSITIVE_INFINITY : d.line);
  return [...unit.diagnostics].sort(
    (a, b) => fileRank(a.file) - fileRank(b.file) || lineRank(a) - lineRank(b),
  );
}

/** Expands directories into their .socket/.service files; anything else is a problem. */
function collectUnitFiles(paths: readonly string[]): { files: string[]; problems: Diagnostic[] } {
  const files: string[] = [];
  const problems: Diagnostic[] = [];
  for (const p of paths) {
    const full = resolve(p);
    let isDir: boolean;
    try {
      isDir = statSync(full).isDirectory();
    } catch (e) {
      problems.push({
        severity: 'error',
        file: p,
        line: 0,
        message:
          (e as NodeJS.ErrnoException).code === 'ENOENT'
            ? 'no such file or directory; expected a unit file or a directory of them'
            : `cannot read it (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}); expected a unit file or a directory`,
      });
      continue;
    }
    if (isDir) {
      const found = listUnitFiles([full], ['socket', 'service', 'target']);
      if (found.length === 0) {
        problems.push({
          severity: 'warning',
          file: p,
          line: 0,
          message: 'the directory has no .socket, .service or .target files; expected unit files in it',
        });
      }
      files.push(...found.map((f) => f.path));
    } else if (/\.(socket|service|target)$/.test(full)) {
      files.push(full);
    } else {
      problems.push({
        severity: 'error',
        file: p,
        line: 0,
        message: 'not a .socket, .service or .target file; expected NAME.socket, NAME.service or NAME.target',
      });
    }
  }
  return { files, problems };
}

/** Users, groups and executables of this machine, read once. */
class HostLookup {
  private users?: Set<string>;
  private groups?: Set<string>;

  hasUser(name: string): boolean {
    this.users ??= readNames('/etc/passwd');
    return /^[0-9]+$/.test(name) || this.users.has(name);
  }

  hasGroup(name: string): boolean {
    this.groups ??= readNames('/etc/group');
    return /^[0-9]+$/.test(name) || this.groups.has(name);
  }

  /** The file a command runs, or undefined when none is executable here. */
  executable(path: string): string | undefined {
    const candidates = path.startsWith('/') ? [path] : COMMAND_SEARCH_PATH.map((d) => `${d}/${path}`);
    for (const c of candidates) {
      try {
        if (!statSync(c).isFile()) continue;
        accessSync(c, constants.X_OK);
        return c;
      } catch {
        // Not here: try the next directory.
      }
    }
    return undefined;
  }
}

function readNames(file: string): Set<string> {
  try {
    return new Set(
      readFileSync(file, 'utf8')
        .split('\n')
        .map((l) => l.split(':')[0] ?? '')
        .filter((n) => n !== '' && !n.startsWith('#')),
    );
  } catch {
    return new Set();
  }
}

function commandsOf(config: UnitConfig): { key: string; commands: ExecCommand[] }[] {
  // A socket unit's own commands are not run by sockunit (reported as not enforced at load).
  if (config.type !== 'service') return [];
  const s = config.service;
  return [
    { key: 'ExecCondition', commands: s.execCondition },
    { key: 'ExecStartPre', commands: s.execStartPre },
    { key: 'ExecStart', commands: s.execStart },
    { key: 'ExecStartPost', commands: s.execStartPost },
    { key: 'ExecReload', commands: s.execReload },
    { key: 'ExecStop', commands: s.execStop },
    { key: 'ExecStopPost', commands: s.execStopPost },
  ];
}

/** Warnings about what this machine lacks; never errors (the unit may be deployed elsewhere). */
function checkOnThisMachine(config: UnitConfig, host: HostLookup): Diagnostic[] {
  const out: Diagnostic[] = [];
  if (config.type === 'target') return out;
  for (const { key, commands } of commandsOf(config)) {
    for (const c of commands) {
      if (c.path === '' || c.ignoreFailure || host.executable(c.path) !== undefined) continue;
      out.push({
        severity: 'warning',
        file: c.origin?.file ?? config.name,
        line: c.origin?.line ?? 0,
        key,
        value: c.path,
        message: c.path.startsWith('/')
          ? 'the command does not exist or is not executable on this machine; expected an executable file where the unit runs'
          : `no executable of that name in ${COMMAND_SEARCH_PATH.join(':')} on this machine; expected it where the unit runs`,
      });
    }
  }
  const identities: { key: string; name: string | undefined; kind: 'user' | 'group' }[] = [
    { key: 'User', name: config.exec.user, kind: 'user' },
    { key: 'Group', name: config.exec.group, kind: 'group' },
  ];
  if (config.type === 'socket') {
    identities.push({ key: 'SocketUser', name: config.socket.socketUser, kind: 'user' });
    identities.push({ key: 'SocketGroup', name: config.socket.socketGroup, kind: 'group' });
  }
  const dynamicUser = config.notEnforced.some((n) => n.key === 'DynamicUser');
  for (const { key, name, kind } of identities) {
    if (name === undefined || dynamicUser) continue;
    if (kind === 'user' ? host.hasUser(name) : host.hasGroup(name)) continue;
    const origin = config.origins[key];
    out.push({
      severity: 'warning',
      file: origin?.file ?? config.name,
      line: origin?.line ?? 0,
      key,
      value: name,
      message: `no ${kind} of that name on this machine; expected it to exist where the unit runs`,
    });
  }
  return out;
}
