// Condition*=/Assert*= evaluated as systemd.unit(5) describes each kind, against facts handed in
// (the evaluation is pure; manager-jobs.test.ts checks the host's own facts through a manager).

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  type Condition,
  type ConditionFacts,
  compareVersions,
  evaluateConditions,
  globMatches,
  parseCondition,
} from '../src/unit/conditions.js';
import { ValueError } from '../src/unit/values.js';

const facts: ConditionFacts = {
  path: (p) =>
    p === '/etc'
      ? { isSymbolicLink: false, target: { type: 'directory', size: 0, executable: true, entries: 3 } }
      : p === '/etc/hostname'
        ? { isSymbolicLink: false, target: { type: 'file', size: 5, executable: false } }
        : p === '/usr/bin/tool'
          ? { isSymbolicLink: true, target: { type: 'file', size: 9, executable: true } }
          : undefined,
  glob: (pattern) => (pattern === '/dev/tty*' ? ['/dev/tty0'] : []),
  mount: (p) =>
    p === '/proc'
      ? { isMountPoint: true, readOnly: false }
      : p === '/usr'
        ? { isMountPoint: false, readOnly: true }
        : undefined,
  environment: { MODE: 'prod' },
  hostname: 'box',
  machineId: '0123456789abcdef0123456789abcdef',
  kernelCommandLine: 'quiet root=/dev/sda1 debug',
  virtualization: { id: 'kvm', class: 'vm' },
  architecture: 'x86-64',
  kernelRelease: '6.18.44-fc-v1300',
  osRelease: { ID: 'debian', VERSION_ID: '12', PRETTY_NAME: 'Debian GNU/Linux 12 (bookworm)' },
  user: { uid: 0, name: 'root', gids: [0, 4], groupNames: ['root', 'adm'] },
  capabilities: new Set(['CAP_NET_ADMIN', 'CAP_SYS_ADMIN']),
  memoryBytes: 24 * 1024 ** 3,
  cpus: 2,
  cgroup: { version: 1, controllers: new Set(['memory', 'pids', 'cpu']) },
  acPower: true,
  firstBoot: false,
  cpuFeatures: new Set(['sse4_2', 'avx2']),
  needsUpdate: (dir) => dir === '/var',
  kernelModules: (name) => name === 'nf_tables',
  credentials: new Set(['token']),
  glibcVersion: '2.36',
  systemdVersion: 257,
  security: new Set(['apparmor', 'audit']),
  firmware: {
    uefi: false,
    deviceTree: false,
    compatible: [],
    smbios: (field) => (field === 'sys_vendor' ? 'QEMU' : undefined),
  },
};

const c = (kind: Condition['kind'], value: string, negate = false, triggering = false): Condition => ({
  kind,
  value,
  negate,
  triggering,
});

describe('conditions, one kind at a time', () => {
  const holds: Condition[] = [
    c('PathExists', '/etc'),
    c('PathExists', '/nope', true),
    c('PathExistsGlob', '/dev/tty*'),
    c('PathExistsGlob', '/dev/sd*', true),
    c('PathIsDirectory', '/etc'),
    c('PathIsSymbolicLink', '/usr/bin/tool'),
    c('PathIsMountPoint', '/proc'),
    c('PathIsMountPoint', '/usr', true),
    c('PathIsReadWrite', '/proc'),
    c('PathIsReadWrite', '/usr', true),
    c('FileNotEmpty', '/etc/hostname'),
    c('DirectoryNotEmpty', '/etc'),
    c('FileIsExecutable', '/usr/bin/tool'),
    c('FileIsExecutable', '/etc/hostname', true),
    c('Environment', 'MODE=prod'),
    c('Environment', 'MODE'),
    c('Environment', 'MODE=dev', true),
    c('Host', 'BOX'),
    c('Host', '0123456789ABCDEF0123456789ABCDEF'),
    c('KernelCommandLine', 'root'),
    c('KernelCommandLine', 'root=/dev/sda1'),
    c('KernelCommandLine', 'root=/dev/sdb1', true),
    c('Virtualization', 'vm'),
    c('Virtualization', 'yes'),
    c('Virtualization', 'kvm'),
    c('Virtualization', 'container', true),
    c('Architecture', 'x86-64'),
    c('Architecture', 'native'),
    c('Architecture', 'arm64', true),
    c('KernelVersion', '>=6.1'),
    c('KernelVersion', '<7'),
    c('KernelVersion', '>=5.10 <6.19'),
    c('KernelVersion', '6.18.*'),
    c('KernelVersion', '<6.18', true),
    c('OSRelease', 'ID=debian'),
    c('OSRelease', 'VERSION_ID>=11'),
    c('OSRelease', 'VERSION_ID!=13'),
    c('OSRelease', 'PRETTY_NAME$=Debian*'),
    c('OSRelease', 'ID=fedora', true),
    c('User', 'root'),
    c('User', '0'),
    c('User', '@system'),
    c('Group', 'adm'),
    c('Group', '4'),
    c('Group', 'wheel', true),
    c('Capability', 'CAP_NET_ADMIN'),
    c('Capability', 'CAP_SYS_MODULE', true),
    c('Memory', '>=1G'),
    c('Memory', '<1T'),
    c('CPUs', '>=2'),
    c('CPUs', '2'),
    c('CPUs', '>2', true),
    c('ControlGroupController', 'memory pids'),
    c('ControlGroupController', 'v1'),
    c('ControlGroupController', 'v2', true),
    // Names systemd does not know are ignored; a value with none it knows holds (systemd's test-condition).
    c('ControlGroupController', 'thisisnotarealcontroller'),
    c('ControlGroupController', 'memory thisisnotarealcontroller'),
    c('ControlGroupController', 'io thisisnotarealcontroller', true),
    c('ACPower', 'yes'),
    c('FirstBoot', 'no'),
    c('CPUFeature', 'avx2'),
    c('CPUFeature', 'avx512f', true),
    c('NeedsUpdate', '/var'),
    c('NeedsUpdate', '/etc', true),
    c('KernelModuleLoaded', 'nf-tables'),
    c('Credential', 'token'),
    c('Version', '>=250'),
    c('Version', 'systemd >= 257'),
    c('Version', 'glibc>=2.30'),
    c('Version', 'kernel >= 6.0'),
    c('Security', 'apparmor'),
    c('Security', 'selinux', true),
    c('Firmware', 'smbios-field(sys_vendor = QEMU)'),
    c('Firmware', 'uefi', true),
  ];
  for (const x of holds)
    it(`${x.negate ? '!' : ''}Condition${x.kind}=${x.value} holds on the fixture machine`, () => {
      assert.deepEqual(evaluateConditions([x], facts), { ok: true });
      const opposite = { ...x, negate: !x.negate };
      assert.deepEqual(evaluateConditions([opposite], facts), { ok: false, failed: opposite });
    });
});

describe('how conditions combine', () => {
  it('every plain condition must hold; the first that does not is reported', () => {
    const a = c('PathExists', '/etc');
    const b = c('Host', 'other');
    assert.deepEqual(evaluateConditions([a, b], facts), { ok: false, failed: b });
  });
  it('needs one triggering condition to hold when there are some', () => {
    const a = c('PathExists', '/nope', false, true);
    const b = c('PathExists', '/etc', false, true);
    assert.deepEqual(evaluateConditions([a, b], facts), { ok: true });
    assert.deepEqual(evaluateConditions([a], facts), { ok: false, failed: a });
  });
});

describe('condition grammar', () => {
  it('reads | and ! prefixes', () => {
    assert.deepEqual(parseCondition('PathExists', '|!/x'), {
      kind: 'PathExists',
      value: '/x',
      negate: true,
      triggering: true,
    });
  });
  it('refuses what systemd refuses when it loads the unit', () => {
    for (const [kind, value, message] of [
      ['PathExists', 'rel', /not an absolute path/],
      ['NeedsUpdate', '/usr', /not \/etc or \/var/],
      ['Memory', '>=lots', /not a size/],
      ['CPUs', '>=x', /not a number of CPUs/],
      ['OSRelease', 'nonsense', /KEY OPERATOR VALUE/],
      ['ACPower', 'maybe', /not a boolean/],
    ] as const)
      assert.throws(
        () => parseCondition(kind, value),
        (e: unknown) => e instanceof ValueError && message.test((e as Error).message),
      );
  });
  it('compares versions as systemd does, and matches globs', () => {
    assert.ok(compareVersions('6.18.44', '6.9') > 0);
    assert.ok(compareVersions('2.36', '2.36') === 0);
    assert.ok(compareVersions('1.0~rc1', '1.0') < 0);
    assert.ok(compareVersions('5.10a', '5.10') > 0);
    assert.equal(globMatches('6.*-fc-*', '6.18.44-fc-v1300'), true);
    assert.equal(globMatches('[0-9]*', 'x1'), false);
  });
});
