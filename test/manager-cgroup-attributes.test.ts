// What resource settings write into a service's cgroup: the files and values systemd's
// cgroup_context_apply() writes, shares of the machine resolved with its figures, and the
// controllers a service needs. The machine's own figures come from /proc and stat(2).

import assert from 'node:assert/strict';
import { readFileSync, statSync } from 'node:fs';
import { totalmem } from 'node:os';
import { describe, it } from 'node:test';
import {
  controllersFor,
  cpuMax,
  type MachineFacts,
  resourceAttributes,
  thisMachine,
} from '../src/manager/cgroup/attributes.js';
import { cgroupName, treeName } from '../src/manager/cgroup/names.js';
import { defaultResourceControl, type ResourceControl } from '../src/unit/resource-control.js';

/** A machine of 8 GiB, 2 GiB of swap, a tasks limit of 100,000, and one disk. */
const facts: MachineFacts = {
  memoryBytes: () => 8 * 1024 ** 3,
  swapBytes: () => 2 * 1024 ** 3,
  tasksMax: () => 100_000,
  blockDevice: (path) => {
    if (path === '/dev/vda' || path.startsWith('/var')) return '254:0';
    throw new Error(`${path} is not a block device`);
  },
};

const settings = (extra: Partial<ResourceControl>): ResourceControl => ({
  ...defaultResourceControl(),
  ...extra,
});
const written = (r: ResourceControl) =>
  resourceAttributes(r, facts).attributes.map((a) => `${a.controller} ${a.file}=${a.value}`);

describe('resource settings -> cgroup attributes', () => {
  it('nothing set: only TasksMax=’s default, 15% of the system limit, as systemd writes for every service', () => {
    assert.deepEqual(written(settings({})), ['pids pids.max=15000']);
  });

  it('memory: bytes, shares of physical memory and of swap, infinity as max', () => {
    assert.deepEqual(
      written(
        settings({
          memoryMax: { value: 64 * 1024 ** 2 },
          memoryHigh: { permyriad: 5000 },
          memoryLow: { value: 0 },
          memorySwapMax: { permyriad: 1000 },
          memoryZSwapMax: 'infinity',
          memoryZSwapWriteback: false,
          tasksMax: 'infinity',
        }),
      ),
      [
        'memory memory.low=0',
        `memory memory.high=${4 * 1024 ** 3}`,
        `memory memory.max=${64 * 1024 ** 2}`,
        `memory memory.swap.max=${Math.floor((2 * 1024 ** 3) / 10)}`,
        'memory memory.zswap.max=max',
        'memory memory.zswap.writeback=0',
        'pids pids.max=max',
      ],
    );
  });

  it('cpu: weight, idle, quota per period clamped as systemd clamps it; cpusets in the kernel’s list format', () => {
    assert.deepEqual(
      written(
        settings({ cpuWeight: 50, cpuQuotaPermyriad: 2000, allowedCpus: [0, 1, 3], allowedMemoryNodes: [0] }),
      ).slice(0, 4),
      ['cpu cpu.weight=50', 'cpu cpu.max=20000 100000', 'cpuset cpuset.cpus=0-1,3', 'cpuset cpuset.mems=0'],
    );
    assert.deepEqual(written(settings({ cpuWeight: 'idle' }))[0], 'cpu cpu.idle=1');
    // 150% over the default 100ms period; a 0.5% quota raises the period so the quota is >= 1ms.
    assert.equal(cpuMax(15000), '150000 100000');
    assert.equal(cpuMax(50), '1000 200000');
    // The period stays within [1ms, 1s].
    assert.equal(cpuMax(10000, 10), '1000 1000');
    assert.equal(cpuMax(10000, 5_000_000), '1000000 1000000');
  });

  it('io: default and device weights, one io.max line per device with every limit, latency targets', () => {
    const r = settings({
      ioWeight: 500,
      ioDeviceWeight: [{ path: '/dev/vda', value: 200 }],
      ioReadBandwidthMax: [{ path: '/dev/vda', value: 5_000_000 }],
      ioWriteIOPSMax: [{ path: '/var/lib', value: 1000 }],
      ioDeviceLatencyTargetUsec: [{ path: '/dev/vda', value: 25_000 }],
      tasksMax: { value: 64 },
    });
    assert.deepEqual(written(r), [
      'pids pids.max=64',
      'io io.weight=default 500',
      'io io.weight=254:0 200',
      'io io.max=254:0 rbps=5000000 wbps=max riops=max wiops=1000',
      'io io.latency=254:0 target=25000',
    ]);
    const bad = resourceAttributes(settings({ ioReadIOPSMax: [{ path: '/tmp/x', value: 1 }] }), facts);
    assert.deepEqual(bad.problems, [
      'IOReadIOPSMax=/tmp/x: /tmp/x is not a block device; the setting is left out',
    ]);
  });

  it('the controllers a service needs: memory and pids for accounting by default, the others when asked for', () => {
    assert.deepEqual([...controllersFor(settings({}))].sort(), ['memory', 'pids']);
    assert.deepEqual(
      [...controllersFor(settings({ memoryAccounting: false, tasksAccounting: false, cpuWeight: 10 }))],
      ['cpu'],
    );
    assert.deepEqual([...controllersFor(settings({ ioAccounting: true, allowedCpus: [0] }))].sort(), [
      'cpuset',
      'io',
      'memory',
      'pids',
    ]);
  });
});

describe('this machine’s figures', () => {
  it('memory from the kernel, tasks limit from /proc/sys/kernel', () => {
    assert.equal(thisMachine.memoryBytes(), totalmem());
    const pidMax = Number(readFileSync('/proc/sys/kernel/pid_max', 'latin1'));
    const threadsMax = Number(readFileSync('/proc/sys/kernel/threads-max', 'latin1'));
    assert.equal(thisMachine.tasksMax(), Math.min(pidMax, threadsMax));
    assert.ok(thisMachine.swapBytes() >= 0);
  });

  it('block devices: a character device is refused; a file on a block-backed file system names its disk', () => {
    assert.throws(() => thisMachine.blockDevice('/dev/null'), /character device; expected a block device/);
    const dev = statSync('/', { bigint: true }).dev;
    if (dev >> 8n === 0n) assert.throws(() => thisMachine.blockDevice('/'), /without a block device/);
    else assert.match(thisMachine.blockDevice('/'), /^\d+:\d+$/);
    assert.throws(() => thisMachine.blockDevice('/nonexistent-sockunit'), /ENOENT/);
  });
});

describe('cgroup names', () => {
  it('as systemd escapes them: names that look like kernel files get a _', () => {
    assert.equal(cgroupName('web.service'), 'web.service');
    assert.equal(cgroupName('memory.service'), '_memory.service');
    assert.equal(cgroupName('cgroup.service'), '_cgroup.service');
    assert.equal(cgroupName('_x.service'), '__x.service');
    assert.equal(
      cgroupName('echo@1-127.0.0.1:7-127.0.0.1:9.service'),
      'echo@1-127.0.0.1:7-127.0.0.1:9.service',
    );
  });

  it('the subtree after the control socket, as systemd-escape --path writes it', () => {
    assert.equal(treeName('/run/sockunit/control.sock'), 'sockunit@run-sockunit-control.sock');
    assert.equal(treeName('/tmp/my-dir/c.sock'), 'sockunit@tmp-my\\x2ddir-c.sock');
    assert.match(treeName(`/${'x'.repeat(300)}`), /^sockunit@[0-9a-f]{16}$/);
  });
});
