// cgroup v2 through its filesystem: where the unified hierarchy is mounted, which cgroup a process
// is in, making and removing cgroups, their attributes and figures, moving a process, and signals
// to every process of one. Plain file operations (cgroup v2 has no other interface); sys/ holds
// them because they are the kernel's interface, as the socket calls are.
//
// Paths: a `CgroupPath` is a cgroup's name in the hierarchy as /proc/PID/cgroup shows it
// (`/sockunit/web.service`, `/` for the root); `Hierarchy.dir()` turns it into the directory.

import {
  accessSync,
  constants as fsConstants,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmdirSync,
  watch,
  writeFileSync,
} from 'node:fs';
import { hasCode } from './errors.js';
import { kill, signalNumber } from './process.js';

/** A cgroup's path inside the unified hierarchy, starting with `/`. */
export type CgroupPath = string;

/** Where the cgroup v2 hierarchy is mounted: `mountPoint` shows the hierarchy from `root` down
 * (`/` unless only a subtree was mounted, as some container runtimes do). */
export interface Hierarchy {
  mountPoint: string;
  root: CgroupPath;
}

/** The cgroup2 mounts of this mount namespace, from /proc/self/mountinfo, the conventional
 * places first (/sys/fs/cgroup on a unified system, /sys/fs/cgroup/unified on a hybrid one). */
export function unifiedMounts(mountinfo = readText('/proc/self/mountinfo') ?? ''): Hierarchy[] {
  const found: Hierarchy[] = [];
  for (const line of mountinfo.split('\n')) {
    // id parent major:minor root mountpoint options [optional fields] - fstype source superopts
    const [before, after] = line.split(' - ');
    if (!before || !after || after.split(' ')[0] !== 'cgroup2') continue;
    const fields = before.split(' ');
    const root = unescapeMountField(fields[3] ?? '/');
    const mountPoint = unescapeMountField(fields[4] ?? '');
    if (mountPoint) found.push({ mountPoint, root });
  }
  const rank = (h: Hierarchy) =>
    h.mountPoint === '/sys/fs/cgroup' ? 0 : h.mountPoint === '/sys/fs/cgroup/unified' ? 1 : 2;
  return found.sort((a, b) => rank(a) - rank(b));
}

/** mountinfo escapes blanks and backslashes as octal (`\040`). */
function unescapeMountField(field: string): string {
  return field.replace(/\\([0-7]{3})/g, (_, octal: string) => String.fromCharCode(Number.parseInt(octal, 8)));
}

/** The cgroup v2 path of process `pid` (the `0::PATH` line of /proc/PID/cgroup), or undefined
 * when the process is gone or the kernel has no unified hierarchy. */
export function cgroupOf(pid: number | 'self' = 'self'): CgroupPath | undefined {
  const text = readText(`/proc/${pid}/cgroup`);
  const line = text?.split('\n').find((l) => l.startsWith('0::'));
  return line === undefined ? undefined : line.slice(3);
}

/** The directory of `path` under `h`, or undefined when `path` lies outside what is mounted. */
export function cgroupDir(h: Hierarchy, path: CgroupPath): string | undefined {
  const root = h.root === '/' ? '' : h.root;
  if (path !== h.root && !path.startsWith(`${root}/`)) return undefined;
  const rest = path.slice(root.length);
  return rest === '' || rest === '/' ? h.mountPoint : `${h.mountPoint}${rest}`;
}

function readText(file: string): string | undefined {
  try {
    return readFileSync(file, 'latin1');
  } catch {
    return undefined;
  }
}

/** An attribute file's content without its final newline; undefined when it does not exist
 * (no such controller here, or the cgroup is gone). */
export function readAttribute(dir: string, name: string): string | undefined {
  return readText(`${dir}/${name}`)?.replace(/\n$/, '');
}

/** Write `value` to an attribute file. Throws the kernel's refusal (EINVAL for a bad value,
 * EBUSY, ENOENT for a controller that is not enabled here) as a Node error naming the file. */
export function writeAttribute(dir: string, name: string, value: string): void {
  writeFileSync(`${dir}/${name}`, value);
}

/** mkdir; an existing cgroup is fine (a service restarts into the same one). */
export function createCgroup(dir: string): void {
  try {
    mkdirSync(dir);
  } catch (err) {
    if (!hasCode(err, 'EEXIST')) throw err;
  }
}

/** rmdir: true when the cgroup is gone (or was never there), false while processes or child
 * cgroups keep it (EBUSY). The kernel lets a cgroup whose processes have all exited go even
 * before they are reaped. */
export function removeCgroup(dir: string): boolean {
  try {
    rmdirSync(dir);
    return true;
  } catch (err) {
    if (hasCode(err, 'ENOENT')) return true;
    if (hasCode(err, 'EBUSY', 'ENOTEMPTY')) return false;
    throw err;
  }
}

/** Whether this process may make cgroups in `dir` and move processes into them: write access
 * to the directory and its cgroup.procs (false on a read-only mount, EROFS). */
export function isWritable(dir: string): boolean {
  try {
    accessSync(dir, fsConstants.W_OK);
    accessSync(`${dir}/cgroup.procs`, fsConstants.W_OK);
    return true;
  } catch {
    return false;
  }
}

/** Controllers a cgroup may hand to its children (its cgroup.controllers). */
export function availableControllers(dir: string): Set<string> {
  return new Set((readAttribute(dir, 'cgroup.controllers') ?? '').split(' ').filter((c) => c !== ''));
}

/** Controllers enabled for a cgroup's children (its cgroup.subtree_control). */
export function enabledControllers(dir: string): Set<string> {
  return new Set((readAttribute(dir, 'cgroup.subtree_control') ?? '').split(' ').filter((c) => c !== ''));
}

/** Enable `names` for the children of `dir`, one at a time so one refusal does not cost the
 * others. Returns the refusals: EBUSY when `dir` (not the root) still holds processes (the
 * "no internal processes" rule of cgroup v2), ENOENT for a controller its parent did not hand down. */
export function enableControllers(dir: string, names: Iterable<string>): { name: string; error: Error }[] {
  const refused: { name: string; error: Error }[] = [];
  for (const name of names) {
    try {
      writeAttribute(dir, 'cgroup.subtree_control', `+${name}`);
    } catch (error) {
      refused.push({ name, error: error as Error });
    }
  }
  return refused;
}

/** Move process `pid` (all its threads) into the cgroup at `dir`. */
export function moveProcess(dir: string, pid: number): void {
  writeAttribute(dir, 'cgroup.procs', String(pid));
}

/** The pids in the cgroup itself (not its children); empty when it is gone. */
export function processesIn(dir: string): number[] {
  const text = readAttribute(dir, 'cgroup.procs');
  if (!text) return [];
  return text.split('\n').map(Number);
}

/** The child cgroups' names. */
export function childCgroups(dir: string): string[] {
  try {
    return readdirSync(dir, { withFileTypes: true })
      .filter((e) => e.isDirectory())
      .map((e) => e.name);
  } catch {
    return [];
  }
}

/** Whether any process runs in the cgroup or below it (cgroup.events `populated`). A cgroup
 * that is gone is not populated. The root cgroup has no cgroup.events: it always is. */
export function isPopulated(dir: string): boolean {
  const events = readAttribute(dir, 'cgroup.events');
  if (events === undefined) return false;
  return /^populated 1$/m.test(events);
}

/** Send `signal` to every process of the cgroup and its descendants (and to `first`, which the
 * caller knows belongs there, before the others). SIGKILL goes through
 * cgroup.kill where the kernel has it (5.14): one write, and no process can fork its way out.
 * Otherwise each pid is signalled, and the list is read again until it shows no pid that was not
 * signalled yet (a process forked meanwhile), as systemd's cg_kill() does. Returns how many
 * processes were signalled (for cgroup.kill: how many were there). */
export function signalCgroup(dir: string, signal: number, first?: number): number {
  const done = new Set<number>();
  if (first !== undefined) {
    // The process the caller knows, signalled whatever the list says: it may not have moved itself
    // into the cgroup yet (the exec step runs between its spawn and the service's exec).
    done.add(first);
    try {
      kill(first, signal);
    } catch {}
  }
  if (signal === SIGKILL) {
    const there = allProcesses(dir).filter((pid) => !done.has(pid)).length + done.size;
    try {
      writeAttribute(dir, 'cgroup.kill', '1');
      return there;
    } catch (err) {
      if (hasCode(err, 'ENOENT') && !isDirectory(dir)) return done.size; // the cgroup is gone
      // No cgroup.kill on this kernel: signal one by one below.
    }
  }
  for (let round = 0; round < MAX_SIGNAL_ROUNDS; round++) {
    let fresh = 0;
    for (const pid of allProcesses(dir)) {
      if (done.has(pid)) continue;
      done.add(pid);
      fresh++;
      try {
        kill(pid, signal);
      } catch {} // gone since the list was read
    }
    if (fresh === 0) break;
  }
  return done.size;
}

/** A cgroup whose processes fork faster than they can be listed is still covered after this
 * many passes; cgroup.kill has no such limit. */
const MAX_SIGNAL_ROUNDS = 16;
const SIGKILL = signalNumber('SIGKILL');

function isDirectory(dir: string): boolean {
  try {
    readdirSync(dir);
    return true;
  } catch {
    return false;
  }
}

/** Every pid in the cgroup and its descendants. */
export function allProcesses(dir: string): number[] {
  const pids = processesIn(dir);
  for (const child of childCgroups(dir)) pids.push(...allProcesses(`${dir}/${child}`));
  return pids;
}

/** Resolves true once nothing runs in the cgroup (or it is gone), false after `timeoutMs`
 * (undefined: no limit). Woken by the kernel's notification on cgroup.events (inotify), with a
 * slow poll as a second line should a notification be missed. */
export function waitUntilEmpty(dir: string, timeoutMs: number | undefined): Promise<boolean> {
  if (!isPopulated(dir)) return Promise.resolve(true);
  return new Promise((resolve) => {
    let settled = false;
    let watcher: ReturnType<typeof watch> | undefined;
    let timer: NodeJS.Timeout | undefined;
    let poll: NodeJS.Timeout | undefined;
    const finish = (empty: boolean) => {
      if (settled) return;
      settled = true;
      watcher?.close();
      clearTimeout(timer);
      clearInterval(poll);
      resolve(empty);
    };
    const check = () => {
      if (!isPopulated(dir)) finish(true);
    };
    try {
      watcher = watch(`${dir}/cgroup.events`, { persistent: false }, check);
      watcher.on('error', check);
    } catch {
      // no inotify here: the poll does it alone
    }
    poll = setInterval(check, EMPTY_POLL_MS);
    if (timeoutMs !== undefined) timer = setTimeout(() => finish(!isPopulated(dir)), timeoutMs);
    check();
  });
}

const EMPTY_POLL_MS = 250;

/** What the kernel counts for a cgroup, as `systemctl status` shows it. Each figure is
 * undefined where its controller is not enabled (memory, pids) or the cgroup is gone. */
export interface CgroupFigures {
  /** Tasks (threads): pids.current, or the lines of cgroup.threads without the pids controller. */
  tasks?: number;
  /** pids.max; undefined for `max`. */
  tasksMax?: number;
  /** memory.current, bytes. */
  memoryBytes?: number;
  /** memory.peak (kernel 5.19), bytes. */
  memoryPeakBytes?: number;
  /** cpu.stat usage_usec: present in every cgroup, with or without the cpu controller. */
  cpuUsec?: number;
}

export function cgroupFigures(dir: string): CgroupFigures {
  const out: CgroupFigures = {};
  const number = (name: string): number | undefined => {
    const v = readAttribute(dir, name);
    return v === undefined || v === 'max' || v.trim() === '' ? undefined : Number(v);
  };
  const pids = number('pids.current');
  if (pids !== undefined) out.tasks = pids;
  else {
    const threads = readAttribute(dir, 'cgroup.threads');
    if (threads !== undefined) out.tasks = threads === '' ? 0 : threads.split('\n').length;
  }
  const tasksMax = number('pids.max');
  if (tasksMax !== undefined) out.tasksMax = tasksMax;
  const memory = number('memory.current');
  if (memory !== undefined) out.memoryBytes = memory;
  const peak = number('memory.peak');
  if (peak !== undefined) out.memoryPeakBytes = peak;
  const usage = /^usage_usec (\d+)$/m.exec(readAttribute(dir, 'cpu.stat') ?? '');
  if (usage) out.cpuUsec = Number(usage[1]);
  return out;
}
