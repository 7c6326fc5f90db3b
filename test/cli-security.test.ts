// `sockunit security`: the figure for "the same unit file under systemd" equals what
// `systemd-analyze security --offline=yes` prints for it, so the two are comparable; the figure
// under sockunit counts only what sockunit enforces, and the report says which keys it does not.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

const BIN = fileURLToPath(new URL('../src/cli/bin.js', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'sockunit-cli-security-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function sockunit(...args: string[]) {
  return spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', timeout: 30_000 });
}

const UNITS: Record<string, string> = {
  'bare.service': '[Service]\nExecStart=/bin/true\n',
  'some.service': '[Service]\nExecStart=/bin/true\nPrivateTmp=yes\nProtectSystem=strict\nUMask=0027\n',
  'hardened.service': [
    '[Service]',
    'ExecStart=/bin/true',
    'User=www-data',
    'PrivateTmp=yes',
    'ProtectSystem=strict',
    'ProtectHome=read-only',
    'PrivateDevices=yes',
    'PrivateNetwork=yes',
    'ProtectKernelTunables=yes',
    'ProtectKernelModules=yes',
    'ProtectKernelLogs=yes',
    'ProtectControlGroups=yes',
    'ProtectClock=yes',
    'ProtectHostname=yes',
    'ProtectProc=invisible',
    'ProcSubset=pid',
    'RestrictNamespaces=yes',
    'RestrictRealtime=yes',
    'RestrictSUIDSGID=yes',
    'LockPersonality=yes',
    'MemoryDenyWriteExecute=yes',
    'SystemCallArchitectures=native',
    'SystemCallFilter=@system-service',
    'SystemCallFilter=~@privileged @resources',
    'RestrictAddressFamilies=AF_UNIX AF_INET',
    'CapabilityBoundingSet=CAP_NET_BIND_SERVICE',
    'NoNewPrivileges=yes',
    'UMask=0077',
    '',
  ].join('\n'),
};
for (const [name, text] of Object.entries(UNITS)) writeFileSync(join(dir, name), text);

interface Assessment {
  unit: string;
  exposure: string;
  rating: string;
  systemd: { exposure: string; rating: string };
  notEnforced: string[];
  checks: { name: string; sockunit: string; exposure: string | null }[];
}

function assess(unit: string): Assessment {
  const r = sockunit('security', '--json', join(dir, unit));
  assert.equal(r.status, 0, r.stderr);
  return (JSON.parse(r.stdout) as Assessment[])[0] as Assessment;
}

describe('sockunit security', () => {
  it("the systemd figure is systemd-analyze security's for the same file", (t) => {
    const which = spawnSync('/bin/sh', ['-c', 'command -v systemd-analyze'], { encoding: 'utf8' });
    if (which.status !== 0) {
      if (process.env.CI)
        assert.fail('systemd-analyze (Debian systemd) is missing — .ci/run installs systemd');
      return t.skip('systemd-analyze (Debian package systemd) is not installed: nothing to compare with');
    }
    for (const unit of Object.keys(UNITS)) {
      const theirs = spawnSync(
        'systemd-analyze',
        ['security', '--offline=yes', '--no-pager', join(dir, unit)],
        {
          encoding: 'utf8',
        },
      );
      const m = /Overall exposure level for \S+: (\d+\.\d) (\w+)/.exec(theirs.stdout);
      assert.ok(m, `systemd-analyze printed no figure:\n${theirs.stdout}${theirs.stderr}`);
      const ours = assess(unit);
      assert.deepEqual(ours.systemd, { exposure: m[1], rating: m[2] }, unit);
    }
  });

  it('under sockunit, keys it does not enforce count as absent, and are named', () => {
    const bare = assess('bare.service');
    assert.equal(bare.rating, 'UNSAFE');
    assert.deepEqual(bare.notEnforced, []);
    const hardened = assess('hardened.service');
    assert.ok(Number(hardened.exposure) > Number(hardened.systemd.exposure), JSON.stringify(hardened));
    assert.deepEqual(hardened.notEnforced, ['NoNewPrivileges', 'CapabilityBoundingSet']);
    const check = (name: string) => hardened.checks.find((c) => c.name === name);
    assert.equal(check('PrivateNetwork=')?.sockunit, 'applied');
    assert.equal(check('PrivateNetwork=')?.exposure, null, 'an applied key adds no exposure');
    assert.match(check('NoNewPrivileges=')?.sockunit ?? '', /^not enforced: /);
    assert.equal(check('PrivateUsers=')?.sockunit, 'not set');
  });

  it('the table ends with both figures; a socket unit or a missing unit exits 1; no unit is bad usage', () => {
    const r = sockunit('security', join(dir, 'hardened.service'));
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /^→ Overall exposure level for hardened\.service under sockunit: \d+\.\d \w+$/m);
    assert.match(r.stdout, /^ {2}under systemd, the same unit file: \d+\.\d \w+$/m);
    assert.match(
      r.stdout,
      /set in the file, not enforced by sockunit: NoNewPrivileges= CapabilityBoundingSet=/,
    );
    writeFileSync(join(dir, 'x.socket'), '[Socket]\nListenStream=1\n');
    const notService = sockunit('security', join(dir, 'x.socket'));
    assert.equal(notService.status, 1);
    assert.match(notService.stderr, /x\.socket: not a service; name a \.service unit/);
    const usage = sockunit('security');
    assert.equal(usage.status, 2);
    assert.match(usage.stderr, /no unit given/);
  });
});
