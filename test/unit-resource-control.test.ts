import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { formatDiagnostic } from '../src/unit/diagnostic.js';
import { findKey, SERVICE_TABLE, SOCKET_TABLE } from '../src/unit/key-table.js';
import { type TypedUnit, typeUnit } from '../src/unit/load-unit.js';
import {
  formatCpuList,
  parseCpuList,
  parseCpuQuota,
  parseMemoryAmount,
  parsePermyriad,
  parseTasksMax,
} from '../src/unit/resource-control.js';
import type { ServiceUnitConfig } from '../src/unit/service-config.js';
import { specifierContext } from '../src/unit/specifiers.js';
import { parseUnitText } from '../src/unit/syntax.js';
import { parseSize } from '../src/unit/values.js';

function typeText(text: string): TypedUnit {
  const name = 'r.service';
  const file = `/fixture/${name}`;
  const parsed = parseUnitText(`[Service]\nExecStart=/bin/true\n${text}`, file);
  return typeUnit(name, [{ path: file, entries: parsed.entries }], {
    sections: parsed.sections.map((s) => ({ file, name: s.name, line: s.line })),
    specifiers: specifierContext(name, file, 'system'),
  });
}

const resourcesOf = (t: TypedUnit) => (t.config as ServiceUnitConfig).resources;
const printed = (t: TypedUnit): string[] => t.diagnostics.map((d) => `${d.severity} ${formatDiagnostic(d)}`);

describe('value grammars, as systemd.resource-control(5) reads them', () => {
  it('memory: bytes base 1024, a share of physical memory, infinity; 0 only where it means no protection', () => {
    assert.deepEqual(parseMemoryAmount('1G', false), { value: 1024 ** 3 });
    assert.deepEqual(parseMemoryAmount('512M', false), { value: 512 * 1024 ** 2 });
    assert.deepEqual(parseMemoryAmount('1.5K', false), { value: 1536 });
    assert.deepEqual(parseMemoryAmount('50%', false), { permyriad: 5000 });
    assert.deepEqual(parseMemoryAmount('12.34%', false), { permyriad: 1234 });
    assert.deepEqual(parseMemoryAmount('5‰', false), { permyriad: 50 });
    assert.equal(parseMemoryAmount('infinity', false), 'infinity');
    assert.deepEqual(parseMemoryAmount('0', true), { value: 0 });
    assert.throws(() => parseMemoryAmount('0', false), /out of range; expected more than 0 bytes/);
    assert.throws(() => parseMemoryAmount('101%', false), /more than 100%/);
    assert.throws(() => parseMemoryAmount('1.234%', false), /too many decimals/);
    assert.throws(() => parseMemoryAmount('1Q', false), /not a memory limit/);
  });

  it('tasks: a number above 0, a share of the system limit, infinity', () => {
    assert.deepEqual(parseTasksMax('4096'), { value: 4096 });
    assert.deepEqual(parseTasksMax('15%'), { permyriad: 1500 });
    assert.equal(parseTasksMax('infinity'), 'infinity');
    assert.throws(() => parseTasksMax('0'), /expected a number above 0/);
    assert.throws(() => parseTasksMax('-1'), /not a tasks limit/);
  });

  it('CPUQuota=: a percentage above 0, more than 100% for several CPUs', () => {
    assert.equal(parseCpuQuota('20%'), 2000);
    assert.equal(parseCpuQuota('150%'), 15000);
    assert.equal(parseCpuQuota('0.5%'), 50);
    assert.throws(() => parseCpuQuota('0%'), /expected a percentage above 0%/);
    assert.throws(() => parseCpuQuota('20'), /not a CPU quota/);
  });

  it('CPU lists: numbers and ranges, blanks or commas; printed in the kernel’s format', () => {
    assert.deepEqual(parseCpuList('0-3 5,7'), [0, 1, 2, 3, 5, 7]);
    assert.deepEqual(parseCpuList('3,1,2'), [1, 2, 3]);
    assert.equal(formatCpuList([0, 1, 2, 3, 5, 7, 8]), '0-3,5,7-8');
    assert.throws(() => parseCpuList('3-1'), /not a CPU or node number or range/);
    assert.throws(() => parseCpuList('a'), /not a CPU or node number or range/);
  });

  it('permyriad: %, ‰ and ‱, each with its decimals', () => {
    assert.equal(parsePermyriad('100%'), 10_000);
    assert.equal(parsePermyriad('2.5‰'), 25);
    assert.equal(parsePermyriad('7‱'), 7);
    assert.equal(parsePermyriad('7'), undefined);
  });

  it('sizes to the base of 1000 for IO limits', () => {
    assert.equal(parseSize('5M', 1000), 5_000_000);
    assert.equal(parseSize('5M'), 5 * 1024 ** 2);
  });
});

describe('[Service] resource-control keys', () => {
  it('typed into the config, with systemd’s accounting defaults', () => {
    const t = typeText(
      [
        'MemoryMax=1G',
        'MemoryHigh=50%',
        'MemoryLow=0',
        'MemorySwapMax=0',
        'CPUWeight=idle',
        'CPUQuota=150%',
        'CPUQuotaPeriodSec=10ms',
        'TasksMax=64',
        'IOWeight=500',
        'IOReadBandwidthMax=/dev/sda 5M',
        'IOWriteIOPSMax=/var/lib 1K',
        'IODeviceWeight=/dev/sdb 200',
        'IODeviceLatencyTargetSec=/dev/sda 25ms',
        'AllowedCPUs=0-1',
        'AllowedMemoryNodes=0',
        'IOAccounting=yes',
      ].join('\n'),
    );
    assert.deepEqual(printed(t), []);
    const r = resourcesOf(t);
    assert.deepEqual(r.memoryMax, { value: 1024 ** 3 });
    assert.deepEqual(r.memoryHigh, { permyriad: 5000 });
    assert.deepEqual(r.memoryLow, { value: 0 });
    assert.deepEqual(r.memorySwapMax, { value: 0 });
    assert.equal(r.cpuWeight, 'idle');
    assert.equal(r.cpuQuotaPermyriad, 15000);
    assert.equal(r.cpuQuotaPeriodUsec, 10_000);
    assert.deepEqual(r.tasksMax, { value: 64 });
    assert.equal(r.ioWeight, 500);
    assert.deepEqual(r.ioReadBandwidthMax, [{ path: '/dev/sda', value: 5_000_000 }]);
    assert.deepEqual(r.ioWriteIOPSMax, [{ path: '/var/lib', value: 1000 }]);
    assert.deepEqual(r.ioDeviceWeight, [{ path: '/dev/sdb', value: 200 }]);
    assert.deepEqual(r.ioDeviceLatencyTargetUsec, [{ path: '/dev/sda', value: 25_000 }]);
    assert.deepEqual(r.allowedCpus, [0, 1]);
    assert.deepEqual(r.allowedMemoryNodes, [0]);
    assert.deepEqual(
      [r.cpuAccounting, r.memoryAccounting, r.tasksAccounting, r.ioAccounting],
      [true, true, true, true],
    );
    assert.deepEqual(resourcesOf(typeText('')).ioAccounting, false);
  });

  it('a bad value is warned at its line and ignored; an empty value resets', () => {
    const t = typeText('MemoryMax=lots\nTasksMax=10\nTasksMax=\nCPUWeight=0\nIOReadBandwidthMax=sda 5M');
    assert.deepEqual(printed(t), [
      "warning /fixture/r.service:3: MemoryMax=lots: 'lots' is not a memory limit; expected bytes with an optional K, M, G or T suffix, a percentage of physical memory, or infinity; the line is ignored",
      "warning /fixture/r.service:6: CPUWeight=0: '0' is not a weight; expected a number from 1 to 10000; the line is ignored",
      "warning /fixture/r.service:7: IOReadBandwidthMax=sda 5M: 'sda' is not an absolute path; expected a device node such as /dev/sda or a file; the line is ignored",
    ]);
    const r = resourcesOf(t);
    assert.equal(r.memoryMax, undefined);
    assert.equal(r.tasksMax, undefined);
  });

  it('the keys sockunit cannot apply say why, in [Service]; in [Socket] none is enforced', () => {
    for (const [key, reason] of [
      ['Slice', /no slices/],
      ['StartupCPUWeight', /no startup and shutdown phases/],
      ['MemoryLimit', /cgroup v1 setting/],
      ['IPAddressDeny', /BPF/],
      ['Delegate', /delegation/],
    ] as const) {
      const k = findKey(SERVICE_TABLE, 'Service', key);
      assert.ok(k && !k.enforcement.enforced && reason.test(k.enforcement.reason), key);
    }
    for (const key of ['MemoryMax', 'CPUWeight', 'TasksMax', 'IOWeight', 'AllowedCPUs'])
      assert.equal(findKey(SERVICE_TABLE, 'Service', key)?.enforcement.enforced, true, key);
    for (const key of ['MemoryMax', 'CPUWeight', 'TasksMax', 'Slice'])
      assert.equal(findKey(SOCKET_TABLE, 'Socket', key)?.enforcement.enforced, false, key);
  });
});
