// The [Service] keys of systemd.resource-control(5). Those the cgroup controllers carry are
// typed here and applied by the manager's cgroup room where the controller is available to it
// (and reported there, at load, where it is not); the rest are recognised and reported as not
// enforced, each with its own reason. [Socket] keeps every one of them as not enforced: they would
// shape a socket unit's own commands, which sockunit does not run.

import {
  type Amount,
  type DeviceSetting,
  formatAmount,
  formatCpuList,
  parseCpuList,
  parseCpuQuota,
  parseCpuWeight,
  parseDeviceSetting,
  parseIoLimit,
  parseLatencyTarget,
  parseMemoryAmount,
  parseTasksMax,
  parseWeight,
  type ResourceControl,
} from '../resource-control.js';
import type { ServiceUnitConfig } from '../service-config.js';
import { formatTimespan } from '../values.js';
import { bool, type KeyDef, listRow, notEnforcedRow, scalarRow, timespan, type ValueType } from './define.js';

const resources = (c: ServiceUnitConfig): ResourceControl => c.resources;
const S = 'Service';

const memory = (zeroAllowed: boolean): ValueType<Amount> => ({
  name: 'bytes (K, M, G, T), % of memory, or infinity',
  parse: (s) => parseMemoryAmount(s, zeroAllowed),
  format: (a) => formatAmount(a),
});

const tasks: ValueType<Amount> = {
  name: 'number, % of the system limit, or infinity',
  parse: parseTasksMax,
  format: (a) => formatAmount(a),
};

const cpuWeight: ValueType<number | 'idle'> = {
  name: '1-10000 or idle',
  parse: parseCpuWeight,
  format: String,
};

const weight: ValueType<number> = { name: '1-10000', parse: parseWeight, format: String };

const cpuQuota: ValueType<number> = {
  name: 'percentage (above 100% for several CPUs)',
  parse: parseCpuQuota,
  format: (p) => `${p / 100}%`,
};

const cpuList: ValueType<number[]> = {
  name: 'numbers and ranges (0-3 5)',
  parse: parseCpuList,
  format: formatCpuList,
};

type DeviceList = Exclude<
  {
    [K in keyof ResourceControl]-?: ResourceControl[K] extends DeviceSetting<unknown>[] ? K : never;
  }[keyof ResourceControl],
  undefined
>;

function deviceRow<V>(
  name: string,
  field: DeviceList,
  parseValue: (v: string) => V,
  formatValue: (v: V) => string,
  type: string,
  doc: string,
): KeyDef<ServiceUnitConfig> {
  return listRow(
    S,
    name,
    resources,
    field,
    (value) => [parseDeviceSetting(value, parseValue)],
    (items) => (items as DeviceSetting<V>[]).map((d) => `${d.path} ${formatValue(d.value)}`),
    doc,
    { type, specifiers: 'all' },
  );
}

const limit = (v: number | 'infinity'): string => String(v);

/** The resource-control keys sockunit applies through cgroup v2. */
export const RESOURCE_CONTROL_KEYS: readonly KeyDef<ServiceUnitConfig>[] = [
  scalarRow(S, 'CPUAccounting', resources, 'cpuAccounting', bool, 'show CPU time used (cpu.stat)', {
    default: 'yes',
  }),
  scalarRow(
    S,
    'MemoryAccounting',
    resources,
    'memoryAccounting',
    bool,
    'show memory used (memory controller)',
    {
      default: 'yes',
    },
  ),
  scalarRow(S, 'TasksAccounting', resources, 'tasksAccounting', bool, 'show tasks (pids controller)', {
    default: 'yes',
  }),
  scalarRow(S, 'IOAccounting', resources, 'ioAccounting', bool, 'enable the io controller for the service', {
    default: 'no',
  }),
  scalarRow(S, 'CPUWeight', resources, 'cpuWeight', cpuWeight, 'share of CPU time (cpu.weight, cpu.idle)', {
    default: '100',
    emptyResetsTo: { value: undefined },
  }),
  scalarRow(S, 'CPUQuota', resources, 'cpuQuotaPermyriad', cpuQuota, 'at most this much CPU time (cpu.max)', {
    emptyResetsTo: { value: undefined },
  }),
  scalarRow(
    S,
    'CPUQuotaPeriodSec',
    resources,
    'cpuQuotaPeriodUsec',
    timespan,
    'the period CPUQuota= is measured over (cpu.max), 1ms-1s',
    { default: '100ms', emptyResetsTo: { value: undefined } },
  ),
  scalarRow(
    S,
    'AllowedCPUs',
    resources,
    'allowedCpus',
    cpuList,
    'CPUs the processes may run on (cpuset.cpus)',
    {
      emptyResetsTo: { value: undefined },
    },
  ),
  scalarRow(
    S,
    'AllowedMemoryNodes',
    resources,
    'allowedMemoryNodes',
    cpuList,
    'NUMA nodes memory may come from (cpuset.mems)',
    { emptyResetsTo: { value: undefined } },
  ),
  scalarRow(
    S,
    'MemoryMin',
    resources,
    'memoryMin',
    memory(true),
    'memory that is never reclaimed (memory.min)',
    {
      default: '0',
      emptyResetsTo: { value: undefined },
    },
  ),
  scalarRow(
    S,
    'MemoryLow',
    resources,
    'memoryLow',
    memory(true),
    'memory reclaimed only under pressure (memory.low)',
    {
      default: '0',
      emptyResetsTo: { value: undefined },
    },
  ),
  scalarRow(
    S,
    'MemoryHigh',
    resources,
    'memoryHigh',
    memory(false),
    'memory use above which it is throttled (memory.high)',
    {
      default: 'infinity',
      emptyResetsTo: { value: undefined },
    },
  ),
  scalarRow(
    S,
    'MemoryMax',
    resources,
    'memoryMax',
    memory(false),
    'memory use that invokes the OOM killer (memory.max)',
    {
      default: 'infinity',
      emptyResetsTo: { value: undefined },
    },
  ),
  scalarRow(
    S,
    'MemorySwapMax',
    resources,
    'memorySwapMax',
    memory(true),
    'swap use limit (memory.swap.max)',
    {
      default: 'infinity',
      emptyResetsTo: { value: undefined },
    },
  ),
  scalarRow(
    S,
    'MemoryZSwapMax',
    resources,
    'memoryZSwapMax',
    memory(true),
    'zswap use limit (memory.zswap.max)',
    {
      default: 'infinity',
      since: 253,
      emptyResetsTo: { value: undefined },
    },
  ),
  scalarRow(
    S,
    'MemoryZSwapWriteback',
    resources,
    'memoryZSwapWriteback',
    bool,
    'zswap pages may be written to swap (memory.zswap.writeback)',
    { default: 'yes', since: 256, emptyResetsTo: { value: undefined } },
  ),
  scalarRow(
    S,
    'TasksMax',
    resources,
    'tasksMax',
    tasks,
    'most tasks (threads) the service may have (pids.max)',
    {
      default: '15%',
      emptyResetsTo: { value: undefined },
    },
  ),
  scalarRow(S, 'IOWeight', resources, 'ioWeight', weight, 'share of block I/O (io.weight)', {
    default: '100',
    emptyResetsTo: { value: undefined },
  }),
  deviceRow(
    'IODeviceWeight',
    'ioDeviceWeight',
    parseWeight,
    String,
    'device weight',
    'block I/O share on a device (io.weight)',
  ),
  deviceRow(
    'IOReadBandwidthMax',
    'ioReadBandwidthMax',
    parseIoLimit,
    limit,
    'device bytes/s (base 1000)',
    'read bandwidth limit on a device (io.max rbps)',
  ),
  deviceRow(
    'IOWriteBandwidthMax',
    'ioWriteBandwidthMax',
    parseIoLimit,
    limit,
    'device bytes/s (base 1000)',
    'write bandwidth limit on a device (io.max wbps)',
  ),
  deviceRow(
    'IOReadIOPSMax',
    'ioReadIOPSMax',
    parseIoLimit,
    limit,
    'device IOPS',
    'read IOPS limit on a device (io.max riops)',
  ),
  deviceRow(
    'IOWriteIOPSMax',
    'ioWriteIOPSMax',
    parseIoLimit,
    limit,
    'device IOPS',
    'write IOPS limit on a device (io.max wiops)',
  ),
  deviceRow(
    'IODeviceLatencyTargetSec',
    'ioDeviceLatencyTargetUsec',
    parseLatencyTarget,
    (v) => (v === 'infinity' ? v : formatTimespan(v)),
    'device time span',
    'average I/O latency target on a device (io.latency)',
  ),
];

const NO_STARTUP = 'sockunit has no startup and shutdown phases: set the key without Startup';
const NO_SLICES = 'sockunit has no slices: every service sits directly in the manager’s own cgroup';
const CGROUP_V1 = 'a cgroup v1 setting, which systemd itself no longer applies: use its v2 successor';
const BPF = 'needs BPF programs or other machinery sockunit does not load';

/** The rest of systemd.resource-control(5) in [Service], each with its reason. */
const NOT_ENFORCED: readonly (readonly [string, string, number?])[] = [
  ['StartupCPUWeight', NO_STARTUP],
  ['StartupAllowedCPUs', NO_STARTUP],
  ['StartupAllowedMemoryNodes', NO_STARTUP],
  ['StartupMemoryLow', NO_STARTUP],
  ['StartupMemoryHigh', NO_STARTUP],
  ['StartupMemoryMax', NO_STARTUP],
  ['StartupMemorySwapMax', NO_STARTUP],
  ['StartupMemoryZSwapMax', NO_STARTUP],
  ['StartupIOWeight', NO_STARTUP],
  ['Slice', NO_SLICES],
  ['DefaultMemoryMin', NO_SLICES],
  ['DefaultMemoryLow', NO_SLICES],
  ['DefaultStartupMemoryLow', NO_SLICES],
  ['DisableControllers', NO_SLICES],
  ['Delegate', 'a service cannot be given its cgroup to manage (delegation) under sockunit'],
  ['DelegateSubgroup', 'a service cannot be given its cgroup to manage (delegation) under sockunit'],
  ['CPUShares', CGROUP_V1],
  ['StartupCPUShares', CGROUP_V1],
  ['MemoryLimit', CGROUP_V1],
  ['BlockIOAccounting', CGROUP_V1],
  ['BlockIOWeight', CGROUP_V1],
  ['StartupBlockIOWeight', CGROUP_V1],
  ['BlockIODeviceWeight', CGROUP_V1],
  ['BlockIOReadBandwidth', CGROUP_V1],
  ['BlockIOWriteBandwidth', CGROUP_V1],
  ['NetClass', CGROUP_V1],
  ['DeviceAllow', BPF],
  ['DevicePolicy', BPF],
  ['IPAccounting', BPF],
  ['IPAddressAllow', BPF],
  ['IPAddressDeny', BPF],
  ['IPIngressFilterPath', BPF],
  ['IPEgressFilterPath', BPF],
  ['BPFProgram', BPF],
  ['SocketBindAllow', BPF],
  ['SocketBindDeny', BPF],
  ['RestrictNetworkInterfaces', BPF],
  ['NFTSet', 'sockunit does not add cgroups to nftables sets'],
  ['ManagedOOMSwap', 'there is no systemd-oomd to act on it'],
  ['ManagedOOMMemoryPressure', 'there is no systemd-oomd to act on it'],
  ['ManagedOOMMemoryPressureLimit', 'there is no systemd-oomd to act on it'],
  ['ManagedOOMMemoryPressureDurationSec', 'there is no systemd-oomd to act on it'],
  ['ManagedOOMPreference', 'there is no systemd-oomd to act on it'],
  ['MemoryPressureWatch', 'sockunit does not pass $MEMORY_PRESSURE_WATCH'],
  ['MemoryPressureThresholdSec', 'sockunit does not pass $MEMORY_PRESSURE_WATCH'],
  ['CoredumpReceive', 'there is no systemd-coredump to forward core dumps to'],
];

/** Every [Service] resource-control key this file defines, applied or not: the generic
 * "not enforced" rows of not-enforced.ts give way to these. */
export const RESOURCE_CONTROL_KEY_NAMES: ReadonlySet<string> = new Set([
  ...RESOURCE_CONTROL_KEYS.map((k) => k.name),
  ...NOT_ENFORCED.map(([name]) => name),
]);

export const RESOURCE_CONTROL_NOT_ENFORCED: readonly KeyDef<ServiceUnitConfig>[] = NOT_ENFORCED.map(
  ([name, reason]) => notEnforcedRow<ServiceUnitConfig>(S, name, reason),
);
