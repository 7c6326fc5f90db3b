// What `status` shows of a service's cgroup, as `systemctl status` shows it: Tasks (with the
// limit), Memory (with the limits the kernel enforces, and the peak), CPU time, and the processes
// under CGroup:. Read from the kernel at the moment of asking.
//
// Without the memory controller (a hybrid machine binds it to cgroup v1) there is no memory.current
// to read; the figure is then the sum of the processes' proportional set sizes (PSS: shared pages
// divided among their users, so the sum does not count them twice), and says so.

import { readFileSync } from 'node:fs';
import { readAttribute } from '../../sys/cgroup.js';
import type { ResourceControl } from '../../unit/resource-control.js';
import type { CgroupProcess, ServiceCgroup } from './service-cgroup.js';

export interface MemoryLimits {
  min?: number;
  low?: number;
  high?: number;
  max?: number;
  swapMax?: number;
}

export interface CgroupStatus {
  /** The cgroup's path in the hierarchy. */
  path: string;
  /** Tasks (threads) now; null with TasksAccounting=no. */
  tasks: number | null;
  /** pids.max; null when there is none (`max`, or no pids controller). */
  tasksMax: number | null;
  /** Bytes; null with MemoryAccounting=no. */
  memoryBytes: number | null;
  /** `cgroup`: memory.current; `pss`: the sum of the processes' PSS, where there is no memory controller. */
  memorySource: 'cgroup' | 'pss' | null;
  memoryPeakBytes: number | null;
  /** What the kernel enforces now (memory.min/low/high/max, memory.swap.max), where set. */
  memoryLimits: MemoryLimits;
  /** CPU time used, microseconds (cpu.stat usage_usec); null with CPUAccounting=no. */
  cpuUsec: number | null;
  processes: CgroupProcess[];
}

/** The status of `cgroup`, or null when it does not exist (the service has not run, or ended). */
export function cgroupStatus(cgroup: ServiceCgroup, resources: ResourceControl): CgroupStatus | null {
  if (readAttribute(cgroup.dir, 'cgroup.procs') === undefined) return null;
  const f = cgroup.figures();
  const processes = cgroup.processes();
  let memoryBytes: number | null = null;
  let memorySource: CgroupStatus['memorySource'] = null;
  if (resources.memoryAccounting) {
    if (f.memoryBytes !== undefined) {
      memoryBytes = f.memoryBytes;
      memorySource = 'cgroup';
    } else {
      memoryBytes = processes.reduce((sum, p) => sum + pssBytes(p.pid), 0);
      memorySource = 'pss';
    }
  }
  return {
    path: cgroup.path,
    tasks: resources.tasksAccounting ? (f.tasks ?? null) : null,
    tasksMax: f.tasksMax ?? null,
    memoryBytes,
    memorySource,
    memoryPeakBytes: resources.memoryAccounting ? (f.memoryPeakBytes ?? null) : null,
    memoryLimits: memoryLimits(cgroup.dir),
    cpuUsec: resources.cpuAccounting ? (f.cpuUsec ?? null) : null,
    processes,
  };
}

function memoryLimits(dir: string): MemoryLimits {
  const out: MemoryLimits = {};
  const read = (file: string, field: keyof MemoryLimits, unset: string) => {
    const v = readAttribute(dir, file);
    if (v !== undefined && v !== unset && v !== '') out[field] = Number(v);
  };
  read('memory.min', 'min', '0');
  read('memory.low', 'low', '0');
  read('memory.high', 'high', 'max');
  read('memory.max', 'max', 'max');
  read('memory.swap.max', 'swapMax', 'max');
  return out;
}

/** A process's PSS from /proc/PID/smaps_rollup, in bytes; 0 when it is gone or unreadable. */
function pssBytes(pid: number): number {
  try {
    const kb = /^Pss:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/smaps_rollup`, 'latin1'))?.[1];
    return Number(kb ?? 0) * 1024;
  } catch {
    return 0;
  }
}
