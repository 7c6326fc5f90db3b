import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

// The compiled CLI, run as users run it.
const BIN = fileURLToPath(new URL('../src/cli/bin.js', import.meta.url));
const FIXTURES = fileURLToPath(new URL('../../test/fixtures/units', import.meta.url));
const scratch = mkdtempSync(join(tmpdir(), 'sockunit-cli-verify-'));
after(() => rmSync(scratch, { recursive: true, force: true }));

function sockunit(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', timeout: 30_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

function unitDir(name: string, files: Record<string, string>): string {
  const dir = join(scratch, name);
  mkdirSync(dir, { recursive: true });
  for (const [file, text] of Object.entries(files)) writeFileSync(join(dir, file), text);
  return dir;
}

describe('sockunit verify', () => {
  it('a key one or two edits from a known one gets "did you mean"; a key of another section says where it belongs', () => {
    const dir = unitDir('typo', {
      'typo.socket':
        '[Socket]\nListenStream=1\nAcept=yes\nBaklogg=8\nNoSuchThingAtAll=1\n[Unit]\nAccept=no\n',
      'typo.service': '[Service]\nExecStart=/bin/true\n[Servce]\nType=simple\n',
    });
    const r = sockunit('verify', '-p', dir, dir);
    assert.equal(r.status, 0, 'unknown keys are warnings, as in systemd');
    const lines = r.stdout.split('\n');
    assert.ok(
      lines.includes(
        `${dir}/typo.socket:3: Unknown key name 'Acept' in section [Socket], ignoring; did you mean Accept=?`,
      ),
      r.stdout,
    );
    assert.ok(
      lines.includes(
        `${dir}/typo.socket:4: Unknown key name 'Baklogg' in section [Socket], ignoring; did you mean Backlog=?`,
      ),
      r.stdout,
    );
    assert.ok(
      lines.includes(
        `${dir}/typo.socket:5: Unknown key name 'NoSuchThingAtAll' in section [Socket], ignoring`,
      ),
      r.stdout,
    );
    assert.ok(
      lines.includes(
        `${dir}/typo.socket:7: Unknown key name 'Accept' in section [Unit], ignoring; Accept= belongs in [Socket]`,
      ),
      r.stdout,
    );
    assert.ok(
      lines.includes(
        `${dir}/typo.service:3: Unknown section [Servce], ignoring its lines; did you mean [Service]?`,
      ),
      r.stdout,
    );
  });

  it("bad usage: sockunit's own message with the usage line, exit 2", () => {
    const r = sockunit('verify', '--strickt', FIXTURES);
    assert.equal(r.status, 2);
    assert.equal(
      r.stderr,
      "sockunit verify: unknown option '--strickt'; did you mean --strict?\n" +
        'Usage: sockunit verify [--json] [--strict] [--no-notices] [-p DIR]... [--user|--system] PATH...\n' +
        "Run 'sockunit help verify' for every option.\n",
    );
    const missing = sockunit('verify', '-p', join(scratch, 'nope'), FIXTURES);
    assert.equal(missing.status, 2);
    assert.match(missing.stderr, /--unit-path \S+nope: the directory does not exist/);
  });

  it('passes the fixtures with notices only', () => {
    const r = sockunit('verify', FIXTURES);
    assert.equal(r.status, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /^9 units checked: 0 errors, 0 warnings, 1 notices$/m);
    assert.match(r.stdout, /webapp\.service:19: MemoryMax=512M: not enforced by sockunit/);
    assert.equal(
      sockunit('verify', '--no-notices', FIXTURES).stdout,
      '9 units checked: 0 errors, 0 warnings, 1 notices\n',
    );
  });

  it('fails a unit with an error, naming file:line, and keeps checking the others', () => {
    const dir = unitDir('bad', {
      'bad.socket': '[Socket]\nListenStream=1\nMaxConnections=0\n',
      'bad.service': '[Service]\nExecStart=/bin/true\n',
      'good.socket': '[Socket]\nListenStream=2\nService=bad.service\n',
    });
    const r = sockunit('verify', dir);
    assert.equal(r.status, 1);
    assert.deepEqual(r.stdout.split('\n'), [
      `${dir}/bad.socket:3: MaxConnections=0: MaxConnections= must be at least 1; expected a positive number`,
      'bad.socket: bad-setting',
      '3 units checked: 1 errors, 0 warnings, 0 notices',
      '',
    ]);
  });

  it('warns, without failing, about commands and users this machine lacks; --strict fails', () => {
    const dir = unitDir('elsewhere', {
      'app.service':
        '[Service]\nExecStart=/opt/not-here/app\nExecStartPre=no-such-tool-xyz\nUser=no-such-user-xyz\n',
    });
    const r = sockunit('verify', join(dir, 'app.service'));
    assert.equal(r.status, 0, r.stdout);
    assert.deepEqual(r.stdout.split('\n'), [
      `${dir}/app.service:2: ExecStart=/opt/not-here/app: the command does not exist or is not executable on this machine; expected an executable file where the unit runs`,
      `${dir}/app.service:3: ExecStartPre=no-such-tool-xyz: no executable of that name in /usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin on this machine; expected it where the unit runs`,
      `${dir}/app.service:4: User=no-such-user-xyz: no user of that name on this machine; expected it to exist where the unit runs`,
      '1 unit checked: 0 errors, 3 warnings, 0 notices',
      '',
    ]);
    const strict = sockunit('verify', '--strict', join(dir, 'app.service'));
    assert.equal(strict.status, 1);
    assert.match(strict.stdout, /app\.service: has errors/);
  });

  it('--json reports every unit and diagnostic', () => {
    const r = sockunit('verify', '--json', join(FIXTURES, 'web.socket'), join(FIXTURES, 'webapp.service'));
    assert.equal(r.status, 0);
    const report = JSON.parse(r.stdout) as {
      units: {
        name: string;
        loadState: string;
        ok: boolean;
        diagnostics: { severity: string; line: number; text: string }[];
      }[];
      errors: number;
      warnings: number;
      notices: number;
    };
    assert.deepEqual(
      report.units.map((u) => [u.name, u.loadState, u.ok]),
      [
        ['web.socket', 'loaded', true],
        ['webapp.service', 'loaded', true],
      ],
    );
    assert.equal(report.errors, 0);
    assert.equal(report.notices, 1);
    assert.equal(report.units[1]?.diagnostics[0]?.line, 19);
  });

  it('refuses what is not a unit file, and usage errors exit 2', () => {
    const other = join(scratch, 'notes.txt');
    writeFileSync(other, 'x');
    const r = sockunit('verify', other);
    assert.equal(r.status, 1);
    assert.match(
      r.stdout,
      /notes\.txt: not a \.socket, \.service or \.target file; expected NAME\.socket, NAME\.service or NAME\.target/,
    );
    assert.equal(sockunit('verify').status, 2);
    assert.equal(sockunit('verify', '--bogus', FIXTURES).status, 2);
  });

  it('builds each unit start transaction as systemd-analyze verify does: missing required unit, cycles', (t) => {
    const dir = unitDir('transactions', {
      'x.service': '[Unit]\nRequires=nothere.service\n[Service]\nExecStart=/bin/true\n',
      'w.service': '[Unit]\nWants=y.service\nAfter=y.service\n[Service]\nExecStart=/bin/true\n',
      'y.service': '[Unit]\nAfter=w.service\n[Service]\nExecStart=/bin/true\n',
      'ok.target': '[Unit]\nWants=w.service\n',
    });
    const files = ['x.service', 'w.service', 'y.service', 'ok.target'].map((f) => join(dir, f));
    const ours = sockunit('verify', '--no-notices', ...files);
    assert.equal(ours.status, 1, ours.stdout);
    assert.match(
      ours.stdout,
      new RegExp(
        `${dir}/x\\.service:2: Requires=nothere\\.service: x\\.service cannot start: Unit nothere\\.service not found \\(Requires= of x\\.service\\)\\.`,
      ),
    );
    assert.match(
      ours.stdout,
      /w\.service: Found ordering cycle w\.service\/start -> y\.service\/start; job y\.service\/start deleted to break it/,
    );
    // systemd's own verdict on the same files, where systemd-analyze is installed (CI installs it).
    const analyze = spawnSync('systemd-analyze', ['verify', '--man=no', ...files], {
      encoding: 'utf8',
      timeout: 60_000,
    });
    if (analyze.error) {
      if (process.env.CI) assert.fail(`systemd-analyze is missing in CI: ${analyze.error.message}`);
      return t.skip('systemd-analyze (Debian package systemd) is not installed: compared with sockunit only');
    }
    const theirs = `${analyze.stdout}${analyze.stderr}`;
    assert.match(theirs, /x\.service: Failed to create x\.service\/start: Unit nothere\.service not found\./);
    assert.match(theirs, /Job y\.service\/start deleted to break ordering cycle/);
  });
});
