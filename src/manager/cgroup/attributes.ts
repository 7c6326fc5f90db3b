// What a service's resource-control settings write into its cgroup: each setting becomes an
// attribute file of one controller with the value systemd writes there (its cgroup.c
// cgroup_context_apply()), shares of the machine turned into numbers on this machine. Which
// controllers a service needs follows from the same settings, as systemd enables them.

import { readFileSync, statSync } from 'node:fs';
import { totalmem } from 'node:os';
import {
  type Amount,
  DEFAULT_TASKS_MAX,
  type DeviceSetting,
  formatCpuList,
  type ResourceControl,
} from '../../unit/resource-control.js';

export type Controller = 'cpu' | 'cpuset' | 'io' | 'memory' | 'pids';

/** One attribute write; `key` names the unit-file key it comes from, for messages. */
export interface CgroupAttribute {
  key: string;
  controller: Controller;
  file: string;
  value: string;
}

/** The facts of this machine that shares and device paths are resolved against. */
export interface MachineFacts {
  memoryBytes(): number;
  swapBytes(): number;
  /** The system's limit on tasks: systemd's system_tasks_max(). */
  tasksMax(): number;
  /** MAJOR:MINOR of the block device a path names or lives on; throws saying why not. */
  blockDevice(path: string): string;
}

const USEC_PER_SEC = 1_000_000;
const USEC_PER_MSEC = 1000;
/** systemd's CGROUP_CPU_QUOTA_DEFAULT_PERIOD_USEC. */
const DEFAULT_QUOTA_PERIOD_USEC = 100_000;

function amount(a: Amount, total: () => number): string {
  if (a === 'infinity') return 'max';
  if ('value' in a) return String(a.value);
  return String(Math.floor((total() * a.permyriad) / 10_000));
}

/** cpu.max: quota per period, the period clamped to [1ms, 1s] and raised so the quota is at least
 * 1ms, as systemd's cgroup_cpu_adjust_period() does. */
export function cpuMax(permyriad: number, periodUsec = DEFAULT_QUOTA_PERIOD_USEC): string {
  const perSecUsec = (permyriad * USEC_PER_SEC) / 10_000;
  const period = Math.min(
    Math.max(periodUsec, USEC_PER_MSEC, (USEC_PER_MSEC * USEC_PER_SEC) / perSecUsec),
    USEC_PER_SEC,
  );
  const quota = Math.max(Math.floor((perSecUsec * period) / USEC_PER_SEC), USEC_PER_MSEC);
  return `${quota} ${Math.round(period)}`;
}

/** The controller each applied key writes to (the accounting switches are not listed: without
 * their controller they only change what status can show). */
export const KEY_CONTROLLERS: Readonly<Record<string, Controller>> = {
  CPUWeight: 'cpu',
  CPUQuota: 'cpu',
  CPUQuotaPeriodSec: 'cpu',
  AllowedCPUs: 'cpuset',
  AllowedMemoryNodes: 'cpuset',
  MemoryMin: 'memory',
  MemoryLow: 'memory',
  MemoryHigh: 'memory',
  MemoryMax: 'memory',
  MemorySwapMax: 'memory',
  MemoryZSwapMax: 'memory',
  MemoryZSwapWriteback: 'memory',
  TasksMax: 'pids',
  IOWeight: 'io',
  IODeviceWeight: 'io',
  IOReadBandwidthMax: 'io',
  IOWriteBandwidthMax: 'io',
  IOReadIOPSMax: 'io',
  IOWriteIOPSMax: 'io',
  IODeviceLatencyTargetSec: 'io',
};

/** The controllers `r` needs: memory and pids for accounting (on by default, as systemd), the
 * others only when a setting asks for them. */
export function controllersFor(r: ResourceControl): Set<Controller> {
  const need = new Set<Controller>();
  if (
    r.memoryAccounting ||
    [r.memoryMin, r.memoryLow, r.memoryHigh, r.memoryMax, r.memorySwapMax, r.memoryZSwapMax].some(
      (v) => v !== undefined,
    ) ||
    r.memoryZSwapWriteback !== undefined
  )
    need.add('memory');
  if (r.tasksAccounting || r.tasksMax !== undefined) need.add('pids');
  if (r.cpuWeight !== undefined || r.cpuQuotaPermyriad !== undefined) need.add('cpu');
  if (r.allowedCpus !== undefined || r.allowedMemoryNodes !== undefined) need.add('cpuset');
  if (r.ioAccounting || r.ioWeight !== undefined || ioDevices(r).length > 0) need.add('io');
  return need;
}

function ioDevices(r: ResourceControl): DeviceSetting<unknown>[] {
  return [
    ...r.ioDeviceWeight,
    ...r.ioReadBandwidthMax,
    ...r.ioWriteBandwidthMax,
    ...r.ioReadIOPSMax,
    ...r.ioWriteIOPSMax,
    ...r.ioDeviceLatencyTargetUsec,
  ];
}

/** The attribute writes for `r`, and what could not be resolved on this machine (a device path
 * that names no block device): systemd warns and leaves those out, and so does the manager. The
 * kernel's defaults are left alone: only what a setting asks for is written, plus TasksMax='s
 * default of 15%, which systemd applies to every service. */
export function resourceAttributes(
  r: ResourceControl,
  facts: MachineFacts,
): { attributes: CgroupAttribute[]; problems: string[] } {
  const out: CgroupAttribute[] = [];
  const problems: string[] = [];
  const add = (key: string, controller: Controller, file: string, value: string) =>
    out.push({ key, controller, file, value });

  if (r.cpuWeight === 'idle') add('CPUWeight', 'cpu', 'cpu.idle', '1');
  else if (r.cpuWeight !== undefined) add('CPUWeight', 'cpu', 'cpu.weight', String(r.cpuWeight));
  if (r.cpuQuotaPermyriad !== undefined)
    add('CPUQuota', 'cpu', 'cpu.max', cpuMax(r.cpuQuotaPermyriad, r.cpuQuotaPeriodUsec));
  if (r.allowedCpus !== undefined) add('AllowedCPUs', 'cpuset', 'cpuset.cpus', formatCpuList(r.allowedCpus));
  if (r.allowedMemoryNodes !== undefined)
    add('AllowedMemoryNodes', 'cpuset', 'cpuset.mems', formatCpuList(r.allowedMemoryNodes));

  const memory: [string, Amount | undefined, string, () => number][] = [
    ['MemoryMin', r.memoryMin, 'memory.min', facts.memoryBytes],
    ['MemoryLow', r.memoryLow, 'memory.low', facts.memoryBytes],
    ['MemoryHigh', r.memoryHigh, 'memory.high', facts.memoryBytes],
    ['MemoryMax', r.memoryMax, 'memory.max', facts.memoryBytes],
    ['MemorySwapMax', r.memorySwapMax, 'memory.swap.max', facts.swapBytes],
    ['MemoryZSwapMax', r.memoryZSwapMax, 'memory.zswap.max', facts.swapBytes],
  ];
  for (const [key, value, file, total] of memory)
    if (value !== undefined) add(key, 'memory', file, amount(value, total));
  if (r.memoryZSwapWriteback !== undefined)
    add('MemoryZSwapWriteback', 'memory', 'memory.zswap.writeback', r.memoryZSwapWriteback ? '1' : '0');

  add('TasksMax', 'pids', 'pids.max', amount(r.tasksMax ?? DEFAULT_TASKS_MAX, facts.tasksMax));

  if (r.ioWeight !== undefined) add('IOWeight', 'io', 'io.weight', `default ${r.ioWeight}`);
  const device = (key: string, d: DeviceSetting<unknown>): string | undefined => {
    try {
      return facts.blockDevice(d.path);
    } catch (err) {
      problems.push(`${key}=${d.path}: ${(err as Error).message}; the setting is left out`);
      return undefined;
    }
  };
  for (const d of r.ioDeviceWeight) {
    const dev = device('IODeviceWeight', d);
    if (dev) add('IODeviceWeight', 'io', 'io.weight', `${dev} ${d.value}`);
  }
  // io.max takes every limit of a device in one line; the ones not set stay `max`.
  const limits = new Map<string, { key: string; values: Record<string, string> }>();
  const limit = (key: string, field: string, list: DeviceSetting<number | 'infinity'>[]) => {
    for (const d of list) {
      const dev = device(key, d);
      if (!dev) continue;
      const entry = limits.get(dev) ?? { key, values: {} };
      entry.values[field] = d.value === 'infinity' ? 'max' : String(d.value);
      limits.set(dev, entry);
    }
  };
  limit('IOReadBandwidthMax', 'rbps', r.ioReadBandwidthMax);
  limit('IOWriteBandwidthMax', 'wbps', r.ioWriteBandwidthMax);
  limit('IOReadIOPSMax', 'riops', r.ioReadIOPSMax);
  limit('IOWriteIOPSMax', 'wiops', r.ioWriteIOPSMax);
  for (const [dev, { key, values }] of limits) {
    const v = (f: string) => values[f] ?? 'max';
    add(
      key,
      'io',
      'io.max',
      `${dev} rbps=${v('rbps')} wbps=${v('wbps')} riops=${v('riops')} wiops=${v('wiops')}`,
    );
  }
  for (const d of r.ioDeviceLatencyTargetUsec) {
    const dev = device('IODeviceLatencyTargetSec', d);
    if (dev)
      add(
        'IODeviceLatencyTargetSec',
        'io',
        'io.latency',
        `${dev} target=${d.value === 'infinity' ? 'max' : d.value}`,
      );
  }
  return { attributes: out, problems };
}

function readNumber(file: string): number | undefined {
  try {
    const n = Number(readFileSync(file, 'latin1').trim());
    return Number.isFinite(n) ? n : undefined;
  } catch {
    return undefined;
  }
}

/** Linux's dev_t split (new_decode_dev): 12 bits of major, 20 of minor. */
function majorMinor(dev: bigint): string {
  const major = ((dev >> 8n) & 0xfffn) | ((dev >> 32n) & ~0xfffn);
  const minor = (dev & 0xffn) | ((dev >> 12n) & ~0xffn);
  return `${major}:${minor}`;
}

/** The facts of the machine the manager runs on. */
export const thisMachine: MachineFacts = {
  memoryBytes: () => totalmem(),
  swapBytes: () => {
    try {
      const kb = /^SwapTotal:\s+(\d+) kB$/m.exec(readFileSync('/proc/meminfo', 'latin1'))?.[1];
      return Number(kb ?? 0) * 1024;
    } catch {
      return 0;
    }
  },
  tasksMax: () =>
    Math.min(
      readNumber('/proc/sys/kernel/pid_max') ?? 4_194_304,
      readNumber('/proc/sys/kernel/threads-max') ?? 4_194_304,
    ),
  blockDevice: (path) => {
    const st = statSync(path, { bigint: true });
    if (st.isCharacterDevice()) throw new Error(`${path} is a character device; expected a block device`);
    // A block device node names itself; any other file the device its file system is on.
    const dev = st.isBlockDevice() ? st.rdev : st.dev;
    if (dev >> 8n === 0n)
      throw new Error(
        `${path} is on a file system without a block device (tmpfs, overlay, btrfs subvolume…)`,
      );
    let id = majorMinor(dev);
    // A partition's limits go to its disk, which has the I/O scheduler (as systemd does).
    if (readNumber(`/sys/dev/block/${id}/partition`) !== undefined) {
      try {
        id = readFileSync(`/sys/dev/block/${id}/../dev`, 'latin1').trim();
      } catch {}
    }
    return id;
  },
};
