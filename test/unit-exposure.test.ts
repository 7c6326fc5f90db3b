// The systemd half of `sockunit security`, check by check, against systemd-analyze itself: for
// unit files that set each check's keys in each of their kinds of value, every check's name, JSON
// field, verdict (good, bad, not applicable) and share of the figure, and the overall figure and
// rating, must be what `systemd-analyze security --offline=yes` prints for the same file.
// (cli-security.test.ts checks the command and the sockunit half.)

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { resolveSyscall, seccompAvailable } from '../src/sys/seccomp.js';
import { assessService, formatExposure, rating } from '../src/unit/exposure.js';
import { SERVICE_TABLE } from '../src/unit/key-table.js';
import { loadUnit } from '../src/unit/load-unit.js';
import type { ServiceUnitConfig } from '../src/unit/service-config.js';

const dir = mkdtempSync(join(tmpdir(), 'sockunit-exposure-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const service = (...lines: string[]) => ['[Service]', 'ExecStart=/bin/true', ...lines, ''].join('\n');

/** Each check's keys in each kind of value systemd tells apart, spread over a few files. */
const UNITS: Record<string, string> = {
  'bare.service': service(),
  'some.service': service(
    'PrivateTmp=yes',
    'ProtectSystem=strict',
    'UMask=0027',
    'SystemCallFilter=@system-service',
  ),
  // Every check good at once (in key order).
  'locked-down.service': service(
    'CapabilityBoundingSet=CAP_NET_BIND_SERVICE',
    'IPAddressDeny=any',
    'LockPersonality=yes',
    'MemoryDenyWriteExecute=yes',
    'NoNewPrivileges=yes',
    'PrivateDevices=yes',
    'PrivateMounts=yes',
    'PrivateNetwork=yes',
    'PrivateTmp=yes',
    'ProcSubset=pid',
    'ProtectClock=yes',
    'ProtectControlGroups=yes',
    'ProtectHome=yes',
    'ProtectHostname=yes',
    'ProtectKernelLogs=yes',
    'ProtectKernelModules=yes',
    'ProtectKernelTunables=yes',
    'ProtectProc=invisible',
    'ProtectSystem=strict',
    'RemoveIPC=yes',
    'RestrictAddressFamilies=AF_UNIX AF_INET',
    'RestrictNamespaces=yes',
    'RestrictRealtime=yes',
    'RestrictSUIDSGID=yes',
    'SystemCallArchitectures=native',
    'SystemCallFilter=@system-service',
    'SystemCallFilter=~@privileged @resources',
    'UMask=0077',
    'User=www-data',
  ),
  'nobody.service': service(
    'User=nobody',
    'SupplementaryGroups=adm',
    'ProtectHome=read-only',
    'ProtectSystem=full',
    'UMask=0002',
    'ProtectProc=noaccess',
    'NotifyAccess=all',
    'KeyringMode=shared',
    'Delegate=yes',
    'RestrictNamespaces=~user net',
    'RestrictAddressFamilies=~AF_PACKET AF_NETLINK',
    'SystemCallArchitectures=native x86',
    'SystemCallFilter=~@mount @clock @debug',
    'IPAddressDeny=any',
    'IPAddressAllow=10.0.0.0/8 localhost',
    'DevicePolicy=closed',
    'DeviceAllow=/dev/null rw',
    'AmbientCapabilities=CAP_NET_BIND_SERVICE',
    'CapabilityBoundingSet=~CAP_SYS_ADMIN CAP_NET_ADMIN',
    'PrivateUsers=yes',
  ),
  'dynamic.service': service(
    'DynamicUser=yes',
    'ProtectHome=tmpfs',
    'ProtectSystem=yes',
    'UMask=0022',
    'ProtectProc=ptraceable',
    'IPAddressDeny=any',
    'IPAddressAllow=localhost ::1',
    'PrivateDevices=yes',
    'RestrictAddressFamilies=AF_INET6 AF_NETLINK',
    'RestrictNamespaces=cgroup ipc',
    'SystemCallFilter=@basic-io @swap @cpu-emulation',
    'KeyringMode=private',
  ),
  'early.service': [
    '[Unit]',
    'DefaultDependencies=no',
    service(
      'User=root',
      'UMask=0026',
      'CapabilityBoundingSet=CAP_KILL',
      'CapabilityBoundingSet=CAP_SYSLOG CAP_SYS_PTRACE',
      'AmbientCapabilities=~CAP_KILL',
      'SystemCallArchitectures=x86',
      'DevicePolicy=strict',
      'RestrictAddressFamilies=AF_UNIX',
      'ProtectHome=no',
      'ProtectSystem=no',
    ),
  ].join('\n'),
  'static-user.service': service(
    'User=daemon',
    'UMask=0000',
    'RestrictNamespaces=no',
    'CapabilityBoundingSet=~CAP_SYS_MODULE',
    'CapabilityBoundingSet=',
    'CapabilityBoundingSet=CAP_CHOWN CAP_MKNOD',
    'DeviceAllow=/dev/sda r',
    'IPAddressDeny=0.0.0.0/0 ::/0',
    'NotifyAccess=main',
    'ProtectProc=default',
  ),
  // What systemd's unit_patch_contexts() derives from other keys.
  'implied.service': service(
    'PrivateDevices=yes',
    'ProtectKernelModules=yes',
    'ProtectKernelLogs=yes',
    'ProtectClock=yes',
    'DevicePolicy=closed',
    'DeviceAllow=/dev/sda r',
    'DeviceAllow=',
    'AmbientCapabilities=CAP_KILL',
    'AmbientCapabilities=',
    'UMask=0007',
  ),
  'private-devices.service': service('PrivateDevices=yes', 'DevicePolicy=auto', 'UMask=0017'),
  'dynamic-only.service': service('DynamicUser=yes', 'AmbientCapabilities=~'),
  'root-directory.service': service('RootDirectory=/srv', 'User=0', 'ProtectSystem=true'),
};
for (const [name, text] of Object.entries(UNITS)) writeFileSync(join(dir, name), text);

const exists = seccompAvailable() ? (call: string) => resolveSyscall(call) !== undefined : () => true;

function ours(name: string) {
  const unit = loadUnit(name, { searchPath: [dir], manager: 'system' });
  assert.equal(unit.loadState, 'loaded', name);
  return assessService(unit.config as ServiceUnitConfig, SERVICE_TABLE, exists);
}

interface TheirCheck {
  set: boolean | null;
  name: string;
  json_field: string;
  exposure: string | null;
}

function theirs(name: string): { checks: TheirCheck[]; figure: string; rating: string } {
  const run = (...extra: string[]) =>
    spawnSync('systemd-analyze', ['security', '--offline=yes', '--no-pager', ...extra, join(dir, name)], {
      encoding: 'utf8',
    });
  const json = run('--json=short');
  const text = run();
  const m = /Overall exposure level for \S+: (\d+\.\d) (\w+)/.exec(text.stdout);
  assert.ok(m, `systemd-analyze printed no figure:\n${text.stdout}${text.stderr}`);
  return { checks: JSON.parse(json.stdout) as TheirCheck[], figure: m[1] as string, rating: m[2] as string };
}

const haveSystemdAnalyze =
  spawnSync('/bin/sh', ['-c', 'command -v systemd-analyze'], { encoding: 'utf8' }).status === 0;

describe("exposure under systemd: every check as systemd-analyze security's", () => {
  for (const name of Object.keys(UNITS))
    it(name, (t) => {
      if (!haveSystemdAnalyze) {
        if (process.env.CI)
          assert.fail('systemd-analyze (Debian systemd) is missing — .ci/run installs systemd');
        return t.skip('systemd-analyze (Debian package systemd) is not installed: nothing to compare with');
      }
      const a = ours(name);
      const s = theirs(name);
      const verdict = (badness: number | undefined) => (badness === undefined ? null : badness === 0);
      assert.deepEqual(
        a.checks
          .map((c) => ({
            name: c.name,
            json_field: c.jsonField,
            set: verdict(c.systemdBadness),
            exposure: c.systemdExposure ?? null,
          }))
          .sort((x, y) => x.name.localeCompare(y.name)),
        s.checks
          .map(({ name, json_field, set, exposure }) => ({ name, json_field, set, exposure }))
          .sort((x, y) => x.name.localeCompare(y.name)),
      );
      assert.deepEqual(
        { figure: formatExposure(a.systemdExposure), rating: a.systemdRating },
        { figure: s.figure, rating: s.rating },
      );
    });
});

describe('the ratings and the figure', () => {
  it("rating(): systemd's bands, each from its lower bound", () => {
    const bands: [number, string][] = [
      [0, 'PERFECT'],
      [1, 'SAFE'],
      [9, 'SAFE'],
      [10, 'OK'],
      [49, 'OK'],
      [50, 'MEDIUM'],
      [74, 'MEDIUM'],
      [75, 'EXPOSED'],
      [89, 'EXPOSED'],
      [90, 'UNSAFE'],
      [99, 'UNSAFE'],
      [100, 'DANGEROUS'],
    ];
    assert.deepEqual(
      bands.map(([n]) => [n, rating(n)]),
      bands,
    );
  });

  it('formatExposure(): tenths as one decimal', () => {
    assert.deepEqual([0, 7, 10, 92, 100].map(formatExposure), ['0.0', '0.7', '1.0', '9.2', '10.0']);
  });
});
