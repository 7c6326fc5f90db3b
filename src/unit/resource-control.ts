// The resource-control settings of a service (systemd.resource-control(5)) as typed values, and
// the value grammars they are written in. Pure: a share of the machine (`50%` of memory, `15%`
// of the tasks limit) stays a share here and is turned into a number when the manager applies
// it, on the machine the unit runs on.

import { parseSize, parseTimespan, ValueError } from './values.js';

/** An amount given in absolute units or as a share of the machine's total, in permyriad
 * (1/10000: systemd's unit for `12.34%`, `5‰`, `1‱`); `infinity`: no limit. */
export type Amount = { value: number } | { permyriad: number } | 'infinity';

/** A setting for one block device: the path as written (a device node, or any file whose
 * file system's device is meant), resolved to MAJOR:MINOR when applied. */
export interface DeviceSetting<V> {
  path: string;
  value: V;
}

export interface ResourceControl {
  cpuAccounting: boolean;
  memoryAccounting: boolean;
  tasksAccounting: boolean;
  ioAccounting: boolean;
  /** 1..10000, or `idle` (cpu.idle). Unset: the kernel's 100. */
  cpuWeight?: number | 'idle';
  /** CPUQuota= in permyriad of one CPU (`150%` = 15000). */
  cpuQuotaPermyriad?: number;
  /** CPUQuotaPeriodSec=; unset: 100ms. */
  cpuQuotaPeriodUsec?: number;
  /** CPU and NUMA node numbers, sorted, each once. */
  allowedCpus?: number[];
  allowedMemoryNodes?: number[];
  memoryMin?: Amount;
  memoryLow?: Amount;
  memoryHigh?: Amount;
  memoryMax?: Amount;
  memorySwapMax?: Amount;
  memoryZSwapMax?: Amount;
  memoryZSwapWriteback?: boolean;
  /** Unset: systemd's DefaultTasksMax=15%. */
  tasksMax?: Amount;
  /** 1..10000; unset: the kernel's 100. */
  ioWeight?: number;
  ioDeviceWeight: DeviceSetting<number>[];
  ioReadBandwidthMax: DeviceSetting<number | 'infinity'>[];
  ioWriteBandwidthMax: DeviceSetting<number | 'infinity'>[];
  ioReadIOPSMax: DeviceSetting<number | 'infinity'>[];
  ioWriteIOPSMax: DeviceSetting<number | 'infinity'>[];
  ioDeviceLatencyTargetUsec: DeviceSetting<number | 'infinity'>[];
}

/** systemd's defaults (DefaultCPUAccounting=, DefaultMemoryAccounting=, DefaultTasksAccounting=
 * yes, DefaultIOAccounting=no). */
export function defaultResourceControl(): ResourceControl {
  return {
    cpuAccounting: true,
    memoryAccounting: true,
    tasksAccounting: true,
    ioAccounting: false,
    ioDeviceWeight: [],
    ioReadBandwidthMax: [],
    ioWriteBandwidthMax: [],
    ioReadIOPSMax: [],
    ioWriteIOPSMax: [],
    ioDeviceLatencyTargetUsec: [],
  };
}

/** systemd's DefaultTasksMax=: 15% of the system's task limit. */
export const DEFAULT_TASKS_MAX: Amount = { permyriad: 1500 };

/** `12.34%`, `5‰`, `7‱` in permyriad, as systemd's parse_permyriad; undefined when `s` is not a
 * share. `max` caps it (100% unless the key allows more, as CPUQuota= does). */
export function parsePermyriad(s: string, max = 10_000): number | undefined {
  const m = /^(\d+)(?:\.(\d+))?(%|‰|‱)$/.exec(s);
  if (!m) return undefined;
  const [, whole, fraction = '', sign] = m;
  // % takes two decimals, ‰ one, ‱ none: each is then a whole number of permyriad.
  const decimals = sign === '%' ? 2 : sign === '‰' ? 1 : 0;
  if (fraction.length > decimals)
    throw new ValueError(
      `'${s}' has too many decimals; expected at most ${decimals} after the point for ${sign}`,
    );
  const value = Number(whole + fraction.padEnd(decimals, '0'));
  if (!Number.isSafeInteger(value) || value > max)
    throw new ValueError(`'${s}' is more than 100%; expected a share of at most 100%`);
  return value;
}

/** MemoryMax= and friends: bytes (K, M, G, T… base 1024), a percentage of physical memory, or
 * `infinity`. Zero is refused where it would make the service unable to run (Max, High). */
export function parseMemoryAmount(s: string, zeroAllowed: boolean): Amount {
  if (s === 'infinity') return 'infinity';
  const permyriad = parsePermyriad(s);
  if (permyriad !== undefined) return { permyriad };
  let bytes: number;
  try {
    bytes = parseSize(s);
  } catch {
    throw new ValueError(
      `'${s}' is not a memory limit; expected bytes with an optional K, M, G or T suffix, a percentage of physical memory, or infinity`,
    );
  }
  if (bytes === 0 && !zeroAllowed) throw new ValueError(`'${s}' is out of range; expected more than 0 bytes`);
  return { value: bytes };
}

/** TasksMax=: a number of tasks, a percentage of the system's limit, or `infinity`. */
export function parseTasksMax(s: string): Amount {
  if (s === 'infinity') return 'infinity';
  const permyriad = parsePermyriad(s);
  if (permyriad !== undefined) {
    if (permyriad === 0) throw new ValueError(`'${s}' is out of range; expected more than 0%`);
    return { permyriad };
  }
  if (!/^\d+$/.test(s) || Number(s) === 0 || !Number.isSafeInteger(Number(s)))
    throw new ValueError(`'${s}' is not a tasks limit; expected a number above 0, a percentage, or infinity`);
  return { value: Number(s) };
}

/** CPUWeight=: 1..10000, or `idle`. */
export function parseCpuWeight(s: string): number | 'idle' {
  return s === 'idle' ? 'idle' : parseWeight(s);
}

/** IOWeight=, IODeviceWeight='s weight: 1..10000. */
export function parseWeight(s: string): number {
  const n = /^\d+$/.test(s) ? Number(s) : Number.NaN;
  if (!(n >= 1 && n <= 10_000))
    throw new ValueError(`'${s}' is not a weight; expected a number from 1 to 10000`);
  return n;
}

/** CPUQuota=: a percentage of one CPU above 0; more than 100% spans several CPUs. */
export function parseCpuQuota(s: string): number {
  const permyriad = parsePermyriad(s, Number.POSITIVE_INFINITY);
  if (permyriad === undefined || permyriad === 0)
    throw new ValueError(`'${s}' is not a CPU quota; expected a percentage above 0%, e.g. 20% or 150%`);
  return permyriad;
}

/** AllowedCPUs=, AllowedMemoryNodes=: numbers and ranges (`0-3 5,7`) separated by blanks or
 * commas. */
export function parseCpuList(s: string): number[] {
  const out = new Set<number>();
  for (const item of s.split(/[\s,]+/).filter((w) => w !== '')) {
    const m = /^(\d+)(?:-(\d+))?$/.exec(item);
    const first = Number(m?.[1]);
    const last = m?.[2] === undefined ? first : Number(m[2]);
    // 8192: the kernel's largest CONFIG_NR_CPUS, and systemd's bound too.
    if (!m || last < first || last >= 8192)
      throw new ValueError(`'${item}' is not a CPU or node number or range; expected e.g. 0-3 5,7`);
    for (let n = first; n <= last; n++) out.add(n);
  }
  return [...out].sort((a, b) => a - b);
}

/** The kernel's list format, as cpuset.cpus takes it and systemd prints it: `0-3,5,7`. */
export function formatCpuList(list: readonly number[]): string {
  const parts: string[] = [];
  for (let i = 0; i < list.length; i++) {
    const first = list[i] as number;
    let last = first;
    while (list[i + 1] === last + 1) last = list[++i] as number;
    parts.push(first === last ? String(first) : `${first}-${last}`);
  }
  return parts.join(',');
}

/** `PATH VALUE` of the IO*= device keys. */
export function parseDeviceSetting<V>(s: string, parseValue: (v: string) => V): DeviceSetting<V> {
  const m = /^(\S+)\s+(\S+)$/.exec(s.trim());
  if (!m) throw new ValueError(`'${s}' is not a device and a value; expected e.g. /dev/sda 5M`);
  const [, path = '', value = ''] = m;
  if (!path.startsWith('/'))
    throw new ValueError(
      `'${path}' is not an absolute path; expected a device node such as /dev/sda or a file`,
    );
  return { path, value: parseValue(value) };
}

/** IO*BandwidthMax= (bytes per second) and IO*IOPSMax=: K, M, G, T to the base of 1000, or
 * `infinity`. */
export function parseIoLimit(s: string): number | 'infinity' {
  if (s === 'infinity') return 'infinity';
  let n: number;
  try {
    n = parseSize(s, 1000);
  } catch {
    throw new ValueError(
      `'${s}' is not a limit; expected a number with an optional K, M, G or T suffix (base 1000)`,
    );
  }
  if (n === 0) throw new ValueError(`'${s}' is out of range; expected more than 0`);
  return n;
}

/** IODeviceLatencyTargetSec='s target: a time span, or `infinity`. */
export function parseLatencyTarget(s: string): number | 'infinity' {
  const usec = parseTimespan(s);
  return usec === Number.POSITIVE_INFINITY ? 'infinity' : usec;
}

export function formatAmount(a: Amount, unit = ''): string {
  if (a === 'infinity') return 'infinity';
  if ('permyriad' in a) return `${a.permyriad / 100}%`;
  return `${a.value}${unit}`;
}
