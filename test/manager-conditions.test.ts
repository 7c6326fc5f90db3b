// Every Condition*= and Assert*= kind under `sockunit run`, against this machine's own facts: for
// each kind the test reads the fact itself (from /proc, /sys, /etc, uname, its own files) and
// writes one check that holds here and one that does not. One manager, one `sockunit start` of a
// target that wants them all: a unit per kind with the failing condition is skipped (systemd's
// log line, `status` names the check), a unit per kind with the failing assert fails its start,
// and one unit that carries the holding check of every kind starts. (unit-conditions.test.ts
// tests each rule on made-up facts; this file shows the manager reads the real ones and acts.)

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readdirSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { hostname, machine, release } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { type ConditionKind, EVALUATED_CONDITIONS } from '../src/unit/conditions.js';
import { controlAsync } from './fixtures/manager/control.js';
import { managerSuite, tempDir } from './fixtures/manager/harness.js';
import { statusesOf } from './fixtures/manager/status.js';
import { readIfPresent as read } from './helpers/read-if-present.js';

/** The argument of a check that holds on this machine, and of one that does not. */
interface Check {
  holds: string;
  fails: string;
}

/** `!x` for a check that holds, so that it fails (and the other way round). */
const not = (arg: string): string => (arg.startsWith('!') ? arg.slice(1) : `!${arg}`);

/** Mount points and whether each is read-only, from the kernel's mount table. */
function mountPoints(): Map<string, boolean> {
  const out = new Map<string, boolean>();
  for (const line of (read('/proc/self/mountinfo') ?? '').split('\n')) {
    const f = line.split(' ');
    if (f[4]) out.set(f[4].replace(/\\040/g, ' '), (f[5] ?? '').split(',').includes('ro'));
  }
  return out;
}

/** systemd-detect-virt's classes: a container first (its marker files), then a hypervisor. */
function virtualizationClass(): 'container' | 'vm' | 'none' {
  const pid1 = read('/proc/1/environ') ?? '';
  if (
    pid1.split('\0').some((e) => e.startsWith('container=')) ||
    ['/run/systemd/container', '/run/.containerenv', '/.dockerenv'].some((p) => existsSync(p))
  )
    return 'container';
  const cpuinfo = read('/proc/cpuinfo') ?? '';
  const vendor = read('/sys/class/dmi/id/sys_vendor') ?? '';
  if (
    /^flags\s*:.*\bhypervisor\b/m.test(cpuinfo) ||
    /QEMU|KVM|VMware|VirtualBox|Xen|Microsoft|Amazon|Google/i.test(vendor)
  )
    return 'vm';
  return 'none';
}

// systemd's names for uname -m (architecture_to_string()).
const ARCHITECTURES: Record<string, string> = {
  x86_64: 'x86-64',
  aarch64: 'arm64',
  i686: 'x86',
  armv7l: 'arm',
  ppc64le: 'ppc64-le',
  s390x: 's390x',
  riscv64: 'riscv64',
  loongarch64: 'loongarch64',
};

// Bits of the capability mask (linux/capability.h) for the names tried below.
const CAPABILITY_BITS: Record<string, number> = {
  CAP_CHOWN: 0,
  CAP_KILL: 5,
  CAP_NET_BIND_SERVICE: 10,
  CAP_NET_ADMIN: 12,
  CAP_SYS_MODULE: 16,
  CAP_SYS_ADMIN: 21,
  CAP_SYS_TIME: 25,
  CAP_MAC_ADMIN: 33,
  CAP_BPF: 39,
  CAP_CHECKPOINT_RESTORE: 40,
};

function capabilityCheck(): Check {
  const mask = BigInt(`0x${/^CapBnd:\s*([0-9a-f]+)/m.exec(read('/proc/self/status') ?? '')?.[1] ?? '0'}`);
  const has = (name: string) => ((mask >> BigInt(CAPABILITY_BITS[name] as number)) & 1n) === 1n;
  const names = Object.keys(CAPABILITY_BITS);
  const present = names.find(has);
  const absent = names.find((n) => !has(n));
  const holds = present ?? `!${absent}`;
  return { holds, fails: absent ?? not(holds) };
}

function cgroupCheck(): Check {
  const unified = read('/sys/fs/cgroup/cgroup.controllers');
  const v1 = (read('/proc/cgroups') ?? '')
    .split('\n')
    .filter((l) => !l.startsWith('#') && l.split('\t')[3] === '1')
    .map((l) => l.split('\t')[0] as string);
  const version = unified !== undefined ? 2 : v1.length > 0 ? 1 : undefined;
  const controllers = unified?.trim().split(/\s+/) ?? v1;
  // Names systemd's cgroup mask knows (it ignores others, so they would prove nothing).
  const known = ['memory', 'pids', 'cpu', 'io', 'blkio', 'cpuset'].find((c) => controllers.includes(c));
  if (version === undefined) return { holds: '!v2', fails: 'v2' };
  return { holds: known ?? `v${version}`, fails: version === 2 ? 'v1' : 'v2' };
}

/** systemd's on_ac_power(): plugged in when a mains supply is online, or when there is none to
 * ask (a VM, a container); on battery only when every mains supply says offline. */
function onAcPower(): boolean {
  const dir = '/sys/class/power_supply';
  const mains = (existsSync(dir) ? readdirSync(dir) : []).filter(
    (s) => read(`${dir}/${s}/type`)?.trim() === 'Mains',
  );
  return mains.length === 0 || mains.some((s) => read(`${dir}/${s}/online`)?.trim() === '1');
}

function cpuFeatureCheck(): Check {
  const line = /^(?:flags|Features)\s*:\s*(.*)$/m.exec(read('/proc/cpuinfo') ?? '')?.[1] ?? '';
  const flags = new Set(line.split(/\s+/).filter(Boolean));
  const present = ['sse2', 'fpu', 'fp', 'asimd'].find((f) => flags.has(f)) ?? [...flags][0];
  // Features of systemd's x86 table or arm64 names that many CPUs lack.
  const absent = ['fma4', 'tbm', 'sse4a', 'sve2', 'sha512'].find((f) => !flags.has(f));
  const holds = present ?? '!fma4';
  return { holds, fails: absent ?? not(holds) };
}

/** glibc's version (`2.36`) as getconf reports it; undefined on another libc. */
function glibcVersion(): string | undefined {
  try {
    return /(\d+\.\d+)/.exec(execFileSync('getconf', ['GNU_LIBC_VERSION'], { encoding: 'utf8' }))?.[1];
  } catch {
    return undefined;
  }
}

/** The CPUs this process (and the manager it starts) may run on, as systemd counts them for
 * ConditionCPUs= (its affinity mask), from /proc/self/status. */
function allowedCpus(): number {
  const list = /^Cpus_allowed_list:\s*(.*)$/m.exec(read('/proc/self/status') ?? '')?.[1] ?? '';
  let count = 0;
  for (const range of list.split(',').filter(Boolean)) {
    const [first, last] = range.split('-').map(Number) as [number, number | undefined];
    count += last === undefined ? 1 : last - first + 1;
  }
  return count;
}

/** ConditionNeedsUpdate=: /usr is newer than DIR/.updated, or that stamp is missing. */
function needsUpdate(dir: string): boolean {
  let stamp: number;
  try {
    stamp = statSync(join(dir, '.updated')).mtimeMs;
  } catch {
    return true;
  }
  return statSync('/usr').mtimeMs > stamp;
}

function securityCheck(): Check {
  const lsms = (read('/sys/kernel/security/lsm') ?? '').split(',');
  const off = (name: string, fs: string) => !lsms.includes(name) && !existsSync(fs);
  const absent = off('selinux', '/sys/fs/selinux')
    ? 'selinux'
    : off('tomoyo', '/sys/kernel/security/tomoyo')
      ? 'tomoyo'
      : undefined;
  // /proc/self/loginuid exists when the kernel has audit (CONFIG_AUDIT).
  const holds = existsSync('/proc/self/loginuid') ? 'audit' : `!${absent ?? 'selinux'}`;
  return { holds, fails: absent ?? not(holds) };
}

function firmwareCheck(): Check {
  const efi = existsSync('/sys/firmware/efi');
  const dt = existsSync('/sys/firmware/devicetree/base');
  const vendor = read('/sys/class/dmi/id/sys_vendor')?.trim();
  const holds = efi ? 'uefi' : dt ? 'device-tree' : vendor ? `smbios-field(sys_vendor = ${vendor})` : '!uefi';
  const fails = !efi ? 'uefi' : !dt ? 'device-tree' : 'smbios-field(sys_vendor = sockunit-elsewhere)';
  return { holds, fails };
}

/** One holding and one failing check of every kind, from this machine (and `dir`, made by
 * prepare(); the manager runs with SOCKUNIT_KEYTEST=on and CREDENTIALS_DIRECTORY=dir/creds). */
function machineChecks(dir: string): Record<ConditionKind, Check> {
  const mounts = mountPoints();
  assert.equal(mounts.has(dir), false, `${dir} is no mount point`);
  assert.ok(mounts.has('/proc'), '/proc is a mount point');
  const [major, minor] = release().split('.').map(Number) as [number, number];
  const osId =
    /^ID=("?)(.*)\1$/m.exec(read('/etc/os-release') ?? read('/usr/lib/os-release') ?? '')?.[2] ?? 'linux';
  const uid = process.getuid?.() ?? 0;
  const gid = process.getgid?.() ?? 0;
  const gids = new Set([gid, ...(process.getgroups?.() ?? [])]);
  let otherGid = 60000;
  while (gids.has(otherGid)) otherGid++;
  const groupName = (read('/etc/group') ?? '')
    .split('\n')
    .map((l) => l.split(':'))
    .find((f) => f[2] === String(gid))?.[0];
  const memMiB = Math.ceil(
    Number(/^MemTotal:\s*(\d+) kB/m.exec(read('/proc/meminfo') ?? '')?.[1] ?? 0) / 1024,
  );
  const cpus = allowedCpus();
  const arch = ARCHITECTURES[machine()] ?? 'native';
  const virt = virtualizationClass();
  const machineId = read('/etc/machine-id')?.trim() ?? '';
  const firstBoot = machineId === '' || machineId === 'uninitialized';
  const cmdlineWord = (read('/proc/cmdline') ?? '').split(/\s+/).find((w) => /^[\w.,=/-]+$/.test(w));
  const module = readdirSync('/sys/module').sort()[0] as string;
  const glibc = glibcVersion();
  const ac = onAcPower();
  const etcNeeds = needsUpdate('/etc');
  return {
    PathExists: { holds: `${dir}/file`, fails: `${dir}/absent` },
    PathExistsGlob: { holds: `${dir}/*.service`, fails: `${dir}/absent*` },
    PathIsDirectory: { holds: `${dir}/empty`, fails: `${dir}/file` },
    PathIsSymbolicLink: { holds: `${dir}/link`, fails: `${dir}/file` },
    PathIsMountPoint: { holds: '/proc', fails: dir },
    PathIsReadWrite: { holds: dir, fails: `!${dir}` },
    DirectoryNotEmpty: { holds: dir, fails: `${dir}/empty` },
    FileNotEmpty: { holds: `${dir}/file`, fails: `${dir}/empty-file` },
    FileIsExecutable: { holds: `${dir}/tool`, fails: `${dir}/file` },
    Environment: { holds: 'SOCKUNIT_KEYTEST=on', fails: 'SOCKUNIT_KEYTEST=off' },
    Host: { holds: hostname(), fails: `${hostname()}-elsewhere` },
    KernelCommandLine: cmdlineWord
      ? { holds: cmdlineWord, fails: 'sockunit.keytest.never' }
      : { holds: '!sockunit.keytest.never', fails: 'sockunit.keytest.never' },
    Virtualization: {
      holds: virt === 'none' ? 'no' : virt,
      fails: virt === 'container' ? 'vm' : virt === 'vm' ? 'container' : 'yes',
    },
    Architecture: { holds: arch, fails: arch === 'arm64' ? 'x86-64' : 'arm64' },
    KernelVersion: { holds: `>=${major}.${minor}`, fails: `>=${major + 1}` },
    OSRelease: { holds: `ID=${osId}`, fails: `ID=${osId}-elsewhere` },
    User: { holds: String(uid), fails: String(uid + 1) },
    Group: { holds: groupName ?? String(gid), fails: String(otherGid) },
    Capability: capabilityCheck(),
    Memory: { holds: `<${2 * memMiB}M`, fails: `>=${2 * memMiB}M` },
    CPUs: { holds: String(cpus), fails: `>${cpus}` },
    ControlGroupController: cgroupCheck(),
    ACPower: { holds: ac ? 'yes' : 'no', fails: ac ? 'no' : 'yes' },
    FirstBoot: { holds: firstBoot ? 'yes' : 'no', fails: firstBoot ? 'no' : 'yes' },
    CPUFeature: cpuFeatureCheck(),
    NeedsUpdate: { holds: etcNeeds ? '/etc' : '!/etc', fails: etcNeeds ? '!/etc' : '/etc' },
    KernelModuleLoaded: { holds: module, fails: 'sockunit_keytest_absent' },
    Credential: { holds: 'token', fails: 'absent' },
    Version: glibc
      ? { holds: `glibc >= ${glibc}`, fails: `glibc > ${glibc}` }
      : { holds: `kernel >= ${major}.${minor}`, fails: `kernel >= ${major + 1}` },
    Security: securityCheck(),
    Firmware: firmwareCheck(),
  };
}

/** The files the path checks look at. */
function prepare(dir: string): void {
  writeFileSync(join(dir, 'file'), 'not empty\n');
  writeFileSync(join(dir, 'empty-file'), '');
  mkdirSync(join(dir, 'empty'));
  writeFileSync(join(dir, 'tool'), '#!/bin/sh\n');
  chmodSync(join(dir, 'tool'), 0o755);
  chmodSync(join(dir, 'file'), 0o644);
  symlinkSync(join(dir, 'file'), join(dir, 'link'));
  mkdirSync(join(dir, 'creds'));
  writeFileSync(join(dir, 'creds', 'token'), 'secret\n');
}

const unitOf = (prefix: 'c' | 'a', kind: string) => `${prefix}-${kind.toLowerCase()}.service`;

describe('sockunit run: Condition*= and Assert*= of every kind, on this machine', () => {
  const suite = managerSuite('conditions');

  test('a failing check of each kind skips (condition) or fails (assert) its unit; the holding ones let a unit start', async () => {
    const dir = tempDir('conditions');
    prepare(dir);
    const checks = machineChecks(dir);
    assert.deepEqual(Object.keys(checks).sort(), [...EVALUATED_CONDITIONS].sort(), 'a check for every kind');
    const kinds = EVALUATED_CONDITIONS as readonly ConditionKind[];
    const units: Record<string, string> = {
      'x.socket': `[Socket]\nListenStream=${dir}/x.sock\n`,
      'x.service': '[Service]\nExecStart=/bin/true\n',
      'all-hold.service': `[Unit]\n${kinds
        .map((k) => `Condition${k}=${checks[k].holds}\nAssert${k}=${checks[k].holds}\n`)
        .join('')}[Service]\nExecStart=/bin/sleep 60\n`,
    };
    for (const k of kinds) {
      units[unitOf('c', k)] =
        `[Unit]\nCondition${k}=${checks[k].fails}\n[Service]\nExecStart=/bin/sleep 60\n`;
      units[unitOf('a', k)] = `[Unit]\nAssert${k}=${checks[k].fails}\n[Service]\nExecStart=/bin/sleep 60\n`;
    }
    const all = ['all-hold.service', ...kinds.flatMap((k) => [unitOf('c', k), unitOf('a', k)])];
    units['keys.target'] = `[Unit]\nWants=${all.join(' ')}\n`;
    const m = await suite.run({
      dir,
      units,
      env: { ...process.env, SOCKUNIT_KEYTEST: 'on', CREDENTIALS_DIRECTORY: join(dir, 'creds') },
    });
    // One transaction starts them all together; a wanted unit that fails does not fail the target.
    const started = await controlAsync(m, 'start', 'keys.target');
    assert.equal(started.code, 0, `${started.out}\n${m.log}`);
    await m.waitFor(/^Reached target keys\.target\.$/, 20_000);
    await m.waitFor(/^Started all-hold\.service\.$/, 10_000);

    const statuses = statusesOf(m, all);
    const wrong: string[] = [];
    for (const k of kinds) {
      const cond = `Condition${k}=${checks[k].fails}`;
      const skipped = `${unitOf('c', k)} was skipped because of an unmet condition check (${cond}).`;
      if (!m.lines.includes(skipped)) wrong.push(`no line: ${skipped}`);
      const c = statuses.get(unitOf('c', k));
      if (c?.activeState !== 'inactive' || c.condition?.kind !== 'condition' || c.condition.failed !== cond)
        wrong.push(
          `${unitOf('c', k)}: ${JSON.stringify({ state: c?.activeState, condition: c?.condition })}`,
        );
      const asrt = `Assert${k}=${checks[k].fails}`;
      const failed = `Assertion failed for ${unitOf('a', k)} (${asrt}).`;
      if (!m.lines.includes(failed)) wrong.push(`no line: ${failed}`);
      const a = statuses.get(unitOf('a', k));
      if (a?.activeState === 'active' || a?.condition?.kind !== 'assert' || a.condition.failed !== asrt)
        wrong.push(
          `${unitOf('a', k)}: ${JSON.stringify({ state: a?.activeState, condition: a?.condition })}`,
        );
    }
    assert.deepEqual(wrong, [], m.log);
    assert.deepEqual(m.matching(/^Started [ac]-/), [], 'no unit with a failing check started');
    const hold = statuses.get('all-hold.service');
    assert.equal(hold?.activeState, 'active');
    assert.equal(hold?.condition ?? null, null, 'every holding check held');
  });
});
