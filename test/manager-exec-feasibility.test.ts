// What a manager may apply, decided from what it may do itself (exec/feasibility.ts), for
// managers of every kind — root with and without CAP_SYS_RESOURCE, an unprivileged user — without
// needing to be each: systemd's setrlimit_closest() and setpriority_closest() rules, what is left
// out, and the diagnostics at the lines of the keys.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { feasibilityDiagnostics, feasible } from '../src/manager/exec/feasibility.js';
import type { ManagerPowers } from '../src/manager/exec/manager-powers.js';
import { type ResourceLimit, RLIMIT_NAMES, type RlimitName } from '../src/unit/exec-context.js';
import type { ServiceUnitConfig } from '../src/unit/service-config.js';
import { typeText } from './fixtures/unit/type-text.js';

const INF = Number.POSITIVE_INFINITY;
const ALL_CAPS = (1n << 41n) - 1n;
const CAP_SYS_RESOURCE = 1n << 24n;

function powers(
  over: Partial<ManagerPowers> = {},
  limits: Partial<Record<RlimitName, ResourceLimit>> = {},
): ManagerPowers {
  const base = Object.fromEntries(RLIMIT_NAMES.map((n) => [n, { soft: INF, hard: INF }])) as Record<
    RlimitName,
    ResourceLimit
  >;
  const defaults: ManagerPowers = {
    euid: 0,
    egid: 0,
    effective: ALL_CAPS,
    permitted: ALL_CAPS,
    inheritable: 0n,
    bounding: ALL_CAPS,
    lastCap: 40,
    limits: {
      ...base,
      NOFILE: { soft: 1024, hard: 4096 },
      NICE: { soft: 0, hard: 0 },
      RTPRIO: { soft: 0, hard: 0 },
    },
    nice: 0,
    oomScoreAdj: 0,
    nrOpen: 1048576,
    numa: true,
  };
  return { ...defaults, ...over, limits: { ...defaults.limits, ...over.limits, ...limits } };
}

const unprivileged = powers({ euid: 1000, egid: 1000, effective: 0n, permitted: 0n, bounding: ALL_CAPS });
const rootWithoutResource = powers({ effective: ALL_CAPS & ~CAP_SYS_RESOURCE });

function exec(lines: string): ServiceUnitConfig {
  return typeText('f.service', `[Service]\nExecStart=/bin/true\n${lines}\n`).config as ServiceUnitConfig;
}

describe('Limit*= as setrlimit_closest() grants it', () => {
  it('root with CAP_SYS_RESOURCE gets what it asks, up to fs.nr_open for NOFILE', () => {
    const c = exec('LimitNOFILE=100000\nLimitCORE=infinity');
    const f = feasible(c.exec, powers());
    assert.deepEqual(f.limits.NOFILE, { soft: 100000, hard: 100000 });
    assert.deepEqual(f.limits.CORE, { soft: INF, hard: INF });
    assert.deepEqual(f.notes, []);
    // Above nr_open even root is refused (EPERM): clamped to the manager's own hard limit.
    const over = feasible(exec('LimitNOFILE=2000000').exec, powers());
    assert.deepEqual(over.limits.NOFILE, { soft: 4096, hard: 4096 });
    assert.match(over.notes[0]?.message ?? '', /fs\.nr_open 1048576/);
  });

  it('without CAP_SYS_RESOURCE a hard limit above the manager’s is clamped, soft and hard', () => {
    const f = feasible(exec('LimitNOFILE=2000:8192').exec, rootWithoutResource);
    assert.deepEqual(f.limits.NOFILE, { soft: 2000, hard: 4096 });
    assert.equal(f.notes[0]?.key, 'LimitNOFILE');
    assert.match(f.notes[0]?.message ?? '', /the service gets 2000:4096, as systemd clamps it/);
    // Lowering needs nothing.
    assert.deepEqual(feasible(exec('LimitNOFILE=10:20').exec, unprivileged).notes, []);
  });
});

describe('Nice=, OOMScoreAdjust=, scheduling, personality', () => {
  it('a nice level RLIMIT_NICE does not allow is raised to the closest allowed one', () => {
    assert.equal(feasible(exec('Nice=-10').exec, powers()).nice, -10, 'root has CAP_SYS_NICE');
    const f = feasible(exec('Nice=-10').exec, unprivileged);
    assert.equal(f.nice, 0, 'RLIMIT_NICE 0: nothing below the current 0');
    assert.equal(f.notes[0]?.key, 'Nice');
    const allowed = feasible(
      exec('Nice=-10').exec,
      powers({ ...unprivileged, nice: 5 }, { NICE: { soft: 25, hard: 25 } }),
    );
    assert.equal(allowed.nice, -5, 'RLIMIT_NICE 25 allows down to -5');
    assert.equal(feasible(exec('Nice=10').exec, unprivileged).nice, 10, 'raising is always allowed');
  });

  it('OOMScoreAdjust= below the manager’s needs CAP_SYS_RESOURCE, else it is left out', () => {
    assert.equal(feasible(exec('OOMScoreAdjust=-500').exec, powers()).oomScoreAdjust, -500);
    const f = feasible(exec('OOMScoreAdjust=-500').exec, unprivileged);
    assert.equal(f.oomScoreAdjust, undefined);
    assert.match(f.notes[0]?.message ?? '', /needs CAP_SYS_RESOURCE; left at 0/);
    assert.equal(feasible(exec('OOMScoreAdjust=500').exec, unprivileged).oomScoreAdjust, 500);
  });

  it('realtime CPU and I/O classes need privileges; batch and idle do not', () => {
    assert.equal(
      feasible(exec('CPUSchedulingPolicy=fifo\nCPUSchedulingPriority=10').exec, unprivileged).cpuScheduling,
      false,
    );
    assert.equal(
      feasible(
        exec('CPUSchedulingPolicy=fifo\nCPUSchedulingPriority=10').exec,
        powers({ ...unprivileged }, { RTPRIO: { soft: 10, hard: 10 } }),
      ).cpuScheduling,
      true,
      'RLIMIT_RTPRIO 10 allows priority 10',
    );
    assert.equal(feasible(exec('CPUSchedulingPolicy=batch').exec, unprivileged).cpuScheduling, true);
    assert.equal(feasible(exec('IOSchedulingClass=realtime').exec, unprivileged).ioScheduling, false);
    assert.equal(feasible(exec('IOSchedulingClass=idle').exec, unprivileged).ioScheduling, true);
  });

  it('Personality= of another architecture is ignored with a note, as systemd ignores it', () => {
    const other = process.arch === 'arm64' ? 'x86-64' : 'arm64';
    const f = feasible(exec(`Personality=${other}`).exec, powers());
    assert.equal(f.personality, undefined);
    assert.equal(f.notes[0]?.key, 'Personality');
    const native = process.arch === 'arm64' ? 'arm64' : 'x86-64';
    if (process.arch === 'x64' || process.arch === 'arm64')
      assert.equal(feasible(exec(`Personality=${native}`).exec, powers()).personality, 0);
  });
});

describe('privileges an unprivileged manager does not have', () => {
  it('User=, DynamicUser=, capability sets: left out, each said at its line', () => {
    const c = exec('User=root\nDynamicUser=yes\nAmbientCapabilities=CAP_NET_RAW\nNoNewPrivileges=yes');
    const f = feasible(c.exec, unprivileged);
    assert.equal(f.switchUsers, false);
    assert.equal(f.dynamicUser, false);
    assert.equal(f.capabilities, false);
    const d = feasibilityDiagnostics('f.service', c.exec, c.origins, unprivileged);
    assert.deepEqual(
      d.map((x) => `${x.line} ${x.key}`),
      ['3 User', '4 DynamicUser', '5 AmbientCapabilities'],
    );
    assert.ok(d.every((x) => x.severity === 'warning' && x.file === '/fixture/f.service'));
    assert.deepEqual(feasible(c.exec, powers()).notes, [], 'root: nothing to say');
  });

  it('capabilities the kernel does not know are a notice: systemd ignores them past cap_last_cap', () => {
    const f = feasible(
      exec('CapabilityBoundingSet=CAP_CHECKPOINT_RESTORE CAP_CHOWN').exec,
      powers({ lastCap: 39 }),
    );
    assert.equal(f.notes[0]?.severity, 'notice');
    assert.match(f.notes[0]?.message ?? '', /CAP_CHECKPOINT_RESTORE unknown to this kernel/);
  });
});
