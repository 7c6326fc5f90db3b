// How the keys of systemd.exec(5)'s execution environment are read: each value as systemd's
// load-fragment.c and rlimit-util.c read it (units per resource, soft:hard, infinity, capability
// lists that OR and AND together, directories relative to their root, credentials), what is
// warned and ignored, and the specifier rule for Exec*= words that expand to nothing.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseResourceLimit } from '../src/unit/rlimits.js';
import type { ServiceUnitConfig } from '../src/unit/service-config.js';
import { typeText } from './fixtures/unit/type-text.js';

function service(lines: string, name = 'x.service'): { config: ServiceUnitConfig; warnings: string[] } {
  const t = typeText(name, `[Service]\nExecStart=/bin/true\n${lines}\n`);
  assert.equal(t.loadState, 'loaded', JSON.stringify(t.diagnostics));
  return {
    config: t.config as ServiceUnitConfig,
    warnings: t.diagnostics.filter((d) => d.severity !== 'notice').map((d) => `${d.line}: ${d.message}`),
  };
}

const INF = Number.POSITIVE_INFINITY;

describe('Limit*= (rlimit_parse)', () => {
  it('one value for both, SOFT:HARD, infinity on either side', () => {
    assert.deepEqual(parseResourceLimit('NOFILE', '1024'), { soft: 1024, hard: 1024 });
    assert.deepEqual(parseResourceLimit('NOFILE', '1024:4096'), { soft: 1024, hard: 4096 });
    assert.deepEqual(parseResourceLimit('NOFILE', 'infinity'), { soft: INF, hard: INF });
    assert.deepEqual(parseResourceLimit('CORE', '0:infinity'), { soft: 0, hard: INF });
  });

  it('each resource in its unit: CPU seconds (rounded up), RTTIME µs, sizes base 1024, NICE', () => {
    assert.deepEqual(parseResourceLimit('CPU', '90'), { soft: 90, hard: 90 });
    assert.deepEqual(parseResourceLimit('CPU', '1min 500ms'), { soft: 61, hard: 61 });
    assert.deepEqual(parseResourceLimit('RTTIME', '1000'), { soft: 1000, hard: 1000 });
    assert.deepEqual(parseResourceLimit('RTTIME', '2ms'), { soft: 2000, hard: 2000 });
    assert.deepEqual(parseResourceLimit('FSIZE', '10M'), { soft: 10485760, hard: 10485760 });
    assert.deepEqual(parseResourceLimit('MEMLOCK', '64K:1G'), { soft: 65536, hard: 1073741824 });
    // NICE: a raw limit 0..40, or a nice level with its sign (-20..19 -> 40..1).
    assert.deepEqual(parseResourceLimit('NICE', '30'), { soft: 30, hard: 30 });
    assert.deepEqual(parseResourceLimit('NICE', '-5'), { soft: 25, hard: 25 });
    assert.deepEqual(parseResourceLimit('NICE', '+19'), { soft: 1, hard: 1 });
  });

  it('refuses what systemd refuses, saying what is expected', () => {
    assert.throws(() => parseResourceLimit('NOFILE', '10:5'), /soft limit 10 is above the hard limit 5/);
    assert.throws(() => parseResourceLimit('NOFILE', '1K'), /expected a number, or infinity/);
    assert.throws(() => parseResourceLimit('NICE', '41'), /raw limit 0-40/);
    assert.throws(() => parseResourceLimit('NICE', '+20'), /nice level/);
    assert.throws(() => parseResourceLimit('NOFILE', '1:2:3'), /expected VALUE or SOFT:HARD/);
    assert.throws(() => parseResourceLimit('NOFILE', ':5'), /expected VALUE or SOFT:HARD/);
  });

  it('a bad line is warned and ignored; the earlier value stays', () => {
    const { config, warnings } = service('LimitNOFILE=100:200\nLimitNOFILE=9:8');
    assert.deepEqual(config.exec.limits.NOFILE, { soft: 100, hard: 200 });
    assert.match(
      warnings[0] ?? '',
      /^4: soft limit 9 is above the hard limit 8; expected SOFT <= HARD; the line is ignored/,
    );
  });
});

describe('scheduling keys', () => {
  it('ranges, named classes and numbers, CPU sets that add up', () => {
    const { config } = service(
      [
        'Nice=-7',
        'OOMScoreAdjust=-999',
        'CPUAffinity=0-2,4',
        'CPUAffinity=7',
        'IOSchedulingClass=2',
        'IOSchedulingPriority=6',
        'CPUSchedulingPolicy=rr',
        'CPUSchedulingPriority=40',
        'CPUSchedulingResetOnFork=yes',
        'TimerSlackNSec=50us',
        'CoredumpFilter=default private-dax 0x100',
        'IgnoreSIGPIPE=no',
        'Personality=x86',
        'NUMAPolicy=bind',
        'NUMAMask=0',
      ].join('\n'),
    );
    const s = config.exec.scheduling;
    assert.equal(s.nice, -7);
    assert.equal(s.oomScoreAdjust, -999);
    assert.deepEqual(s.cpuAffinity, [0, 1, 2, 4, 7]);
    assert.equal(s.ioSchedulingClass, 'best-effort');
    assert.equal(s.ioSchedulingPriority, 6);
    assert.equal(s.cpuSchedulingPolicy, 'rr');
    assert.equal(s.cpuSchedulingPriority, 40);
    assert.equal(s.cpuSchedulingResetOnFork, true);
    assert.equal(s.timerSlackNSec, 50_000);
    assert.equal(s.coredumpFilter, 0x33 | 0x80 | 0x100);
    assert.equal(s.ignoreSigpipe, false);
    assert.equal(s.personality, 'x86');
    assert.equal(s.numaPolicy, 'bind');
    assert.deepEqual(s.numaMask, [0]);
  });

  it('defaults: SIGPIPE ignored, nothing else set; CPUAffinity= empty resets, numa is kept as such', () => {
    const { config } = service('CPUAffinity=1\nCPUAffinity=\nTimerSlackNSec=700');
    const s = config.exec.scheduling;
    assert.equal(s.ignoreSigpipe, true);
    assert.equal(s.cpuAffinity, undefined);
    assert.equal(s.timerSlackNSec, 700, 'a bare TimerSlackNSec= is nanoseconds');
    assert.equal(service('CPUAffinity=numa').config.exec.scheduling.cpuAffinity, 'numa');
  });

  it('out-of-range values are warned and ignored', () => {
    const { config, warnings } = service(
      'Nice=20\nOOMScoreAdjust=1001\nIOSchedulingPriority=8\nCPUSchedulingPriority=100',
    );
    assert.equal(config.exec.scheduling.nice, undefined);
    assert.equal(warnings.length, 4);
    assert.match(warnings[0] ?? '', /expected an integer from -20 to 19/);
  });
});

describe('privileges: CapabilityBoundingSet=, AmbientCapabilities= (config_parse_capability_set)', () => {
  const CAP_CHOWN = 0;
  const CAP_NET_BIND_SERVICE = 10;
  const CAP_NET_RAW = 13;
  const CAP_SYS_ADMIN = 21;

  it('lines OR together; a ~ line takes away; any case; numbers', () => {
    const { config } = service(
      'CapabilityBoundingSet=CAP_NET_BIND_SERVICE cap_chown\nCapabilityBoundingSet=CAP_NET_RAW\nCapabilityBoundingSet=~cap_chown',
    );
    assert.deepEqual(config.exec.privileges.capabilityBoundingSet, [CAP_NET_BIND_SERVICE, CAP_NET_RAW]);
    assert.deepEqual(service('AmbientCapabilities=21 10').config.exec.privileges.ambientCapabilities, [
      CAP_NET_BIND_SERVICE,
      CAP_SYS_ADMIN,
    ]);
  });

  it('a first ~ line means all but those; an empty line empties the set (no capabilities)', () => {
    const all =
      service('CapabilityBoundingSet=~CAP_SYS_ADMIN').config.exec.privileges.capabilityBoundingSet ?? [];
    assert.equal(all.includes(CAP_SYS_ADMIN), false);
    assert.equal(all.includes(CAP_CHOWN), true);
    assert.equal(all.length, 62);
    assert.deepEqual(
      service('CapabilityBoundingSet=CAP_CHOWN\nCapabilityBoundingSet=').config.exec.privileges
        .capabilityBoundingSet,
      [],
    );
    assert.equal(service('').config.exec.privileges.capabilityBoundingSet, undefined, 'unset: unchanged');
  });

  it('an unknown name is left out, as systemd does, and warned at its line', () => {
    const { config, warnings } = service('AmbientCapabilities=CAP_NET_RAW CAP_BOGUS');
    assert.deepEqual(config.exec.privileges.ambientCapabilities, [CAP_NET_RAW]);
    assert.match(warnings[0] ?? '', /^3: unknown capability 'CAP_BOGUS' left out/);
  });

  it('SecureBits= names, NoNewPrivileges=, DynamicUser=', () => {
    const { config, warnings } = service(
      'SecureBits=keep-caps noroot-locked bogus\nNoNewPrivileges=yes\nDynamicUser=yes',
    );
    assert.equal(config.exec.privileges.secureBits, 0x10 | 0x2);
    assert.equal(config.exec.privileges.noNewPrivileges, true);
    assert.equal(config.exec.privileges.dynamicUser, true);
    assert.match(warnings[0] ?? '', /unknown securebit 'bogus'/);
  });
});

describe('directories and credentials', () => {
  it('relative paths with symlinks, modes, RuntimeDirectoryPreserve=', () => {
    const { config } = service(
      'RuntimeDirectory=a b/c:link\nStateDirectory=./s//t/\nStateDirectoryMode=0700\nRuntimeDirectoryPreserve=restart',
    );
    const d = config.exec.directories;
    assert.deepEqual(d.runtime.items, [
      { path: 'a', symlinks: [] },
      { path: 'b/c', symlinks: ['link'] },
    ]);
    assert.deepEqual(d.state.items, [{ path: 's/t', symlinks: [] }]);
    assert.equal(d.state.mode, 0o700);
    assert.equal(d.runtime.mode, 0o755);
    assert.equal(config.exec.runtimeDirectoryPreserve, 'restart');
  });

  it('refuses absolute paths, .., and private (DynamicUser= uses it)', () => {
    for (const bad of ['/abs', 'a/../b', 'private']) {
      const { config, warnings } = service(`StateDirectory=${bad}`);
      assert.deepEqual(config.exec.directories.state.items, [], bad);
      assert.equal(warnings.length, 1, bad);
    }
  });

  it('LoadCredential=ID[:PATH], SetCredential=ID:DATA with C escapes, ImportCredential=GLOB[:RENAME]', () => {
    const { config } = service(
      'LoadCredential=tls.key:/etc/ssl/k\nLoadCredential=token\nLoadCredential=tls.key:/other\nSetCredential=pw:a\\x41\\nb\nImportCredential=db.*\nImportCredential=x*:y.',
    );
    const c = config.exec.credentials;
    // All assignments are kept; for one ID the last counts when they are loaded.
    assert.deepEqual(c.load, [
      { id: 'tls.key', path: '/etc/ssl/k' },
      { id: 'token', path: 'token' },
      { id: 'tls.key', path: '/other' },
    ]);
    assert.deepEqual(c.set, [{ id: 'pw', data: 'aA\nb' }]);
    assert.deepEqual(c.import, [{ glob: 'db.*' }, { glob: 'x*', rename: 'y.' }]);
  });

  it('credential names are file names; a bad one is warned and ignored', () => {
    const { config, warnings } = service('LoadCredential=a/b:/x\nSetCredential=nocolon');
    assert.deepEqual(config.exec.credentials.load, []);
    assert.deepEqual(config.exec.credentials.set, []);
    assert.equal(warnings.length, 2);
  });

  it('ExecSearchPath= is colon-separated absolute directories', () => {
    assert.deepEqual(service('ExecSearchPath=/opt/a:/opt/b').config.exec.execSearchPath, [
      '/opt/a',
      '/opt/b',
    ]);
    assert.equal(service('ExecSearchPath=relative').warnings.length, 1);
  });

  it('the encrypted credentials and PAMName= stay not enforced, with the reason', () => {
    const t = typeText(
      'p.service',
      '[Service]\nExecStart=/bin/true\nPAMName=login\nLoadCredentialEncrypted=a:/b\n',
    );
    const c = t.config as ServiceUnitConfig;
    assert.deepEqual(
      c.notEnforced.map((n) => n.key),
      ['PAMName', 'LoadCredentialEncrypted'],
    );
    assert.match(c.notEnforced[0]?.reason ?? '', /no PAM session/);
    assert.match(c.notEnforced[1]?.reason ?? '', /systemd-creds/);
  });
});

describe('Exec*= specifiers are expanded word by word', () => {
  it('%i in a unit that is no instance stays an empty argument', () => {
    const t = typeText('plain.service', '[Service]\nType=oneshot\nExecStart=/usr/bin/test %i = ""\n');
    const c = t.config as ServiceUnitConfig;
    assert.deepEqual(c.service.execStart[0]?.argv, ['/usr/bin/test', '', '=', '']);
  });

  it('an instance name fills the word; a specifier cannot add a ; separator', () => {
    const t = typeText('x@a\\x3bb.service', '[Service]\nExecStart=/bin/echo %I x\n');
    const c = t.config as ServiceUnitConfig;
    assert.equal(c.service.execStart.length, 1);
    assert.deepEqual(c.service.execStart[0]?.argv, ['/bin/echo', 'a;b', 'x']);
  });
});
