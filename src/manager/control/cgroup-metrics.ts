// The cgroup figures of each service as Prometheus metrics, read from the kernel at scrape time:
// tasks, memory (memory.current, or the PSS sum where there is no memory controller: the
// `source` label says which) and CPU seconds. Services without a cgroup are left out.

import { Counter, Gauge, type Registry } from 'prom-client';
import { type CgroupStatus, cgroupStatus } from '../cgroup/status.js';
import type { ServiceUnit } from '../service/service-unit.js';

export function registerCgroupMetrics(registry: Registry, services: () => ServiceUnit[]): void {
  // One scrape reads each cgroup once for all three metrics.
  let snapshot: { at: number; data: [string, CgroupStatus][] } | undefined;
  const figures = (): [string, CgroupStatus][] => {
    const now = Date.now();
    if (!snapshot || now - snapshot.at > 100) {
      const data: [string, CgroupStatus][] = [];
      for (const s of services()) {
        const c = s.cgroup ? cgroupStatus(s.cgroup, s.config.resources) : null;
        if (c) data.push([s.name, c]);
      }
      snapshot = { at: now, data };
    }
    return snapshot.data;
  };
  new Gauge({
    name: 'sockunit_service_tasks',
    help: 'Tasks (threads) in the service’s cgroup.',
    labelNames: ['unit'],
    registers: [registry],
    collect() {
      this.reset();
      for (const [unit, c] of figures()) if (c.tasks !== null) this.set({ unit }, c.tasks);
    },
  });
  new Gauge({
    name: 'sockunit_service_memory_bytes',
    help: 'Memory of the service’s cgroup: memory.current (source="cgroup"), or the sum of its processes’ PSS where the cgroup has no memory controller (source="pss").',
    labelNames: ['unit', 'source'],
    registers: [registry],
    collect() {
      this.reset();
      for (const [unit, c] of figures())
        if (c.memoryBytes !== null) this.set({ unit, source: c.memorySource ?? 'cgroup' }, c.memoryBytes);
    },
  });
  new Counter({
    name: 'sockunit_service_cpu_seconds_total',
    help: 'CPU time used by the processes of the service’s cgroup (cpu.stat usage_usec), in seconds.',
    labelNames: ['unit'],
    registers: [registry],
    collect() {
      this.reset();
      for (const [unit, c] of figures()) if (c.cpuUsec !== null) this.inc({ unit }, c.cpuUsec / 1e6);
    },
  });
}
