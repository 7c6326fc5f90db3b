// The cgroup lines of `sockunit status` for a service, as `systemctl status` prints them:
// Tasks, Memory, CPU, then CGroup: with the processes under it.

import type { CgroupStatus } from '../manager/cgroup/status.js';

const BYTE_UNITS = ['K', 'M', 'G', 'T', 'P', 'E'];

/** Bytes as systemd's format_bytes() prints them: base 1024, one decimal (`1.5M`, `512B`). */
export function formatBytes(bytes: number): string {
  for (let i = BYTE_UNITS.length; i >= 1; i--) {
    const factor = 1024 ** i;
    if (bytes < factor) continue;
    const tenths = Math.floor((bytes * 10) / factor) % 10;
    return `${Math.floor(bytes / factor)}.${tenths}${BYTE_UNITS[i - 1]}`;
  }
  return `${bytes}B`;
}

const TIME_UNITS: readonly [string, number][] = [
  ['h', 3_600_000_000],
  ['min', 60_000_000],
  ['s', 1_000_000],
  ['ms', 1000],
];

/** CPU time as systemd's format_timespan(t, USEC_PER_MSEC) prints it: `12ms`, `1.234s`,
 * `2min 3.456s`; below a millisecond `0`. */
export function formatCpuTime(usec: number): string {
  let t = Math.floor(usec / 1000) * 1000; // millisecond accuracy
  if (t <= 0) return '0';
  const parts: string[] = [];
  for (const [suffix, size] of TIME_UNITS) {
    if (t < size) continue;
    const whole = Math.floor(t / size);
    const rest = t % size;
    if (t < 60_000_000 && rest > 0 && size > 1000) {
      // Below a minute the rest is written as decimals, to the millisecond.
      const digits = String(size / 1000).length - 1;
      parts.push(`${whole}.${String(rest / 1000).padStart(digits, '0')}${suffix}`);
      t = 0;
      break;
    }
    parts.push(`${whole}${suffix}`);
    t = rest;
  }
  return parts.join(' ');
}

function memoryDetail(c: CgroupStatus): string {
  if (c.memorySource === 'pss')
    return ` (PSS of its ${c.processes.length} process${c.processes.length === 1 ? '' : 'es'}: no memory controller in this cgroup)`;
  const l = c.memoryLimits;
  const parts = [
    l.min !== undefined ? `min: ${formatBytes(l.min)}` : '',
    l.low !== undefined ? `low: ${formatBytes(l.low)}` : '',
    l.high !== undefined ? `high: ${formatBytes(l.high)}` : '',
    l.max !== undefined ? `max: ${formatBytes(l.max)}` : '',
    l.swapMax !== undefined ? `swap max: ${formatBytes(l.swapMax)}` : '',
    c.memoryPeakBytes !== null ? `peak: ${formatBytes(c.memoryPeakBytes)}` : '',
  ].filter((p) => p !== '');
  return parts.length > 0 ? ` (${parts.join(' ')})` : '';
}

/** The lines, each through `field` (status's `Label: value` layout). */
export function cgroupLines(
  c: CgroupStatus | null | undefined,
  field: (label: string, value: string) => string,
): string {
  if (!c) return '';
  let out = '';
  if (c.tasks !== null)
    out += field('Tasks', `${c.tasks}${c.tasksMax !== null ? ` (limit: ${c.tasksMax})` : ''}`);
  if (c.memoryBytes !== null) out += field('Memory', `${formatBytes(c.memoryBytes)}${memoryDetail(c)}`);
  if (c.cpuUsec !== null) out += field('CPU', formatCpuTime(c.cpuUsec));
  out += field('CGroup', c.path);
  c.processes.forEach((p, i) => {
    out += `${''.padStart(13)}${i === c.processes.length - 1 ? '└─' : '├─'}${p.pid} ${p.command}\n`;
  });
  return out;
}
