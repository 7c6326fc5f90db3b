// How the manager's cgroups are named: its subtree after its control socket, each service's
// cgroup after the unit, escaped as systemd escapes cgroup names.

import { crypto } from '../../sys/lazy-builtins.js';
import { escapeUnitNamePart } from '../../unit/names.js';

/** `sockunit@run-sockunit-control.sock`: the control socket's path, escaped as systemd-escape
 * --path does; a hash where that would be too long for a file name. */
export function treeName(identity: string): string {
  const escaped = escapeUnitNamePart(identity.replace(/^\/+/, ''));
  if (escaped.length <= 200) return `sockunit@${escaped}`;
  return `sockunit@${crypto().createHash('sha256').update(identity).digest('hex').slice(0, 16)}`;
}

/** The cgroup name of a unit, escaped as systemd's cg_escape() does: a name that could be taken
 * for a kernel attribute file (`cgroup.*`, `memory.*`…) or starts with `_` or `.` gets a `_`. */
export function cgroupName(unit: string): string {
  const controllerLike =
    /^(cgroup|cpu|cpuacct|cpuset|io|blkio|memory|devices|pids|rdma|misc|hugetlb|freezer|net_cls|net_prio|perf_event)\./;
  return unit.startsWith('_') || unit.startsWith('.') || controllerLike.test(unit) ? `_${unit}` : unit;
}
