// Room manager/cgroup/: cgroup v2 for the manager's services — the subtree the manager runs its
// services in (this file), one service's cgroup (service-cgroup.ts), what resource settings
// write there (attributes.ts), and a Type=forking daemon followed by its cgroup (daemon.ts).
// Used by the service and accept rooms; uses the layers below manager/ and the manager's log.
//
// The subtree: a cgroup the manager is given (--cgroup=PATH), else its own cgroup when it is the
// only process there (a unit with Delegate=yes, a container whose cgroup namespace it is alone
// in), else a child of its own cgroup named after its control socket (`sockunit@run-sockunit-
// control.sock`, beside the shell or supervisor that started it; on a host as root, under the
// root). Inside: the manager itself in `manager.scope` (cgroup v2 lets a cgroup hand controllers
// to its children only when it holds no process itself), each service in `<unit>.service`.
// The same control socket gives the same subtree, so a manager that starts again after a crash
// finds what its previous life left running there, and ends it before it opens any port. Where no
// writable cgroup v2 hierarchy exists, there is no tree: services are grouped by session and
// process group, as before, and one notice says so.

import { mkdirSync, readFileSync } from 'node:fs';
import {
  availableControllers,
  type CgroupPath,
  cgroupDir,
  cgroupOf,
  childCgroups,
  enableControllers,
  enabledControllers,
  type Hierarchy,
  isPopulated,
  isWritable,
  moveProcess,
  processesIn,
  removeCgroup,
  signalCgroup,
  unifiedMounts,
  waitUntilEmpty,
  writeAttribute,
} from '../../sys/cgroup.js';
import { signalNumber } from '../../sys/process.js';
import type { ResourceControl } from '../../unit/resource-control.js';
import type { KeyOrigins } from '../../unit/socket-config.js';
import type { Logger } from '../log.js';
import {
  type CgroupAttribute,
  type Controller,
  controllersFor,
  KEY_CONTROLLERS,
  type MachineFacts,
  resourceAttributes,
  thisMachine,
} from './attributes.js';
import { cgroupName, treeName } from './names.js';
import { ServiceCgroup } from './service-cgroup.js';

/** What the accept thread needs to make an instance's cgroup (plain data: it crosses threads). */
export interface InstanceCgroupPlan {
  parentDir: string;
  /** The template's name before `@`. */
  prefix: string;
  attributes: { file: string; value: string }[];
}

export interface CgroupTreeOptions {
  /** `--cgroup`: undefined to find one, `no` for process groups, or a cgroup path to use. */
  requested?: string;
  /** What tells this manager from others on the machine: its control socket's path. */
  identity: string;
  log: Logger;
  machine?: MachineFacts;
}

/** A `--cgroup` the manager cannot use; the message says what to do. */
export class CgroupChoiceError extends Error {
  override name = 'CgroupChoiceError';
}

/** Where the manager itself sits in its subtree. */
const MANAGER_LEAF = 'manager.scope';
/** Previous services get this long to go after SIGTERM before SIGKILL. */
const RECOVERY_GRACE_MS = 5000;
const SIGTERM = signalNumber('SIGTERM');
const SIGKILL = signalNumber('SIGKILL');
const CONTROLLERS: readonly Controller[] = ['cpu', 'cpuset', 'io', 'memory', 'pids'];

export class CgroupTree {
  readonly hierarchy: Hierarchy;
  /** The subtree's root. */
  readonly root: CgroupPath;
  readonly rootDir: string;
  private readonly home: CgroupPath;
  private readonly ownsRoot: boolean;
  private readonly made: boolean;
  private readonly log: Logger;
  private readonly machine: MachineFacts;
  /** Controllers the subtree's parent hands down; those missing with why. */
  private readonly available: Set<string>;
  private readonly missing = new Map<Controller, string>();

  private constructor(o: {
    hierarchy: Hierarchy;
    root: CgroupPath;
    home: CgroupPath;
    ownsRoot: boolean;
    made: boolean;
    log: Logger;
    machine: MachineFacts;
  }) {
    this.hierarchy = o.hierarchy;
    this.root = o.root;
    this.rootDir = dirOf(o.hierarchy, o.root);
    this.home = o.home;
    this.ownsRoot = o.ownsRoot;
    this.made = o.made;
    this.log = o.log;
    this.machine = o.machine;
    this.available = availableControllers(this.rootDir);
    for (const c of CONTROLLERS)
      if (!this.available.has(c)) this.missing.set(c, whyMissing(c, o.hierarchy, o.root));
  }

  /**
   * The subtree this manager runs its services in, or undefined (services then use process
   * groups; one notice is logged). Moves the manager into the subtree's `manager.scope` and ends
   * what a previous manager of the same control socket left running there. Throws
   * CgroupChoiceError for a `--cgroup` it cannot use, or when another live manager holds the tree.
   */
  static async claim(options: CgroupTreeOptions): Promise<CgroupTree | undefined> {
    const { log } = options;
    const without = (why: string): undefined => {
      log.notice(
        `No cgroups for services: ${why}. Services are grouped by session and process group instead (KillMode=control-group signals the process group, a process that leaves it is not followed), without resource limits or memory/CPU figures.`,
      );
      return undefined;
    };
    if (options.requested === 'no') return without('--cgroup=no');
    const hierarchy = unifiedMounts()[0];
    if (!hierarchy)
      return without(
        'no cgroup v2 hierarchy is mounted (mount -t cgroup2 none /sys/fs/cgroup, or give the container one)',
      );
    const home = cgroupOf();
    const homeDir = home === undefined ? undefined : cgroupDir(hierarchy, home);
    if (home === undefined || homeDir === undefined)
      return without(
        `this process's cgroup is not inside the cgroup v2 hierarchy at ${hierarchy.mountPoint}`,
      );

    let root: CgroupPath;
    let ownsRoot = false;
    let made = false;
    if (options.requested !== undefined) {
      root = options.requested;
      const dir = cgroupDir(hierarchy, root);
      if (!root.startsWith('/') || dir === undefined)
        throw new CgroupChoiceError(
          `--cgroup=${root}: not a cgroup path inside the cgroup v2 hierarchy mounted at ${hierarchy.mountPoint} (expected e.g. /sockunit, as /proc/self/cgroup writes paths)`,
        );
      try {
        mkdirSync(dir, { recursive: true });
      } catch (err) {
        throw new CgroupChoiceError(`--cgroup=${root}: cannot make ${dir}: ${(err as Error).message}`);
      }
      if (!isWritable(dir))
        throw new CgroupChoiceError(
          `--cgroup=${root}: ${dir} is not writable by this manager; delegate it (chown it and its cgroup.procs) or run as root`,
        );
    } else {
      if (!isWritable(homeDir))
        return without(
          `its cgroup ${home} is not writable by it (not delegated to it, or a read-only mount); give it one with --cgroup=PATH`,
        );
      // Alone in its cgroup (Delegate=yes, a container's own root): the whole cgroup is the tree.
      ownsRoot = processesIn(homeDir).every((pid) => pid === process.pid);
      root = ownsRoot ? home : `${home === '/' ? '' : home}/${treeName(options.identity)}`;
      const dir = dirOf(hierarchy, root);
      try {
        mkdirSync(dir);
        made = true;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST')
          return without(`cannot make ${dir}: ${(err as Error).message}`);
      }
    }
    const tree = new CgroupTree({
      hierarchy,
      root,
      home,
      ownsRoot,
      made,
      log,
      machine: options.machine ?? thisMachine,
    });
    tree.enter();
    await tree.endPreviousLife();
    log.info(
      `Services run in cgroups under ${root} (cgroup v2 at ${hierarchy.mountPoint}; controllers: ${[...tree.available].filter((c) => (CONTROLLERS as readonly string[]).includes(c)).join(', ') || 'none'}).`,
    );
    return tree;
  }

  /** Into `manager.scope`, unless another live manager is there already. */
  private enter(): void {
    const leaf = `${this.rootDir}/${MANAGER_LEAF}`;
    mkdirSync(leaf, { recursive: true });
    const others = processesIn(leaf).filter((pid) => pid !== process.pid);
    if (others.length > 0)
      throw new CgroupChoiceError(
        `another sockunit manager (pid ${others.join(', ')}) runs in ${this.root}, the cgroup of this control socket; stop it first, or give this manager another --control-socket or --cgroup`,
      );
    try {
      moveProcess(leaf, process.pid);
    } catch (err) {
      this.log.warning(
        `Cannot move the manager into ${this.root}/${MANAGER_LEAF} (${(err as Error).message}); its services get no resource controllers.`,
      );
    }
  }

  /** What a previous manager of this control socket left running (it was killed, or crashed):
   * SIGTERM, SIGKILL after a grace period, then the empty cgroups removed, so no port it held is
   * in use when this manager opens its own. */
  private async endPreviousLife(): Promise<void> {
    const left = childCgroups(this.rootDir).filter((name) => name !== MANAGER_LEAF);
    const busy = left.filter((name) => isPopulated(`${this.rootDir}/${name}`));
    for (const name of busy) {
      const dir = `${this.rootDir}/${name}`;
      const pids = processesIn(dir);
      this.log.warning(
        `Found ${name} of a previous manager still running in ${this.root}/${name}${pids.length > 0 ? ` (pid ${pids.slice(0, 16).join(', ')})` : ''}; stopping it.`,
        name,
      );
      signalCgroup(dir, SIGTERM);
    }
    await Promise.all(
      busy.map(async (name) => {
        const dir = `${this.rootDir}/${name}`;
        if (await waitUntilEmpty(dir, RECOVERY_GRACE_MS)) return;
        this.log.warning(
          `${name}: still running ${RECOVERY_GRACE_MS / 1000}s after SIGTERM; killing it.`,
          name,
        );
        signalCgroup(dir, SIGKILL);
        await waitUntilEmpty(dir, RECOVERY_GRACE_MS);
      }),
    );
    for (const name of left) removeTreeQuietly(`${this.rootDir}/${name}`);
  }

  /** The resource settings a unit's file sets (`origins`) that cannot be applied here, each with
   * why: the controller it needs is not available to this subtree. */
  unenforced(origins: KeyOrigins): { key: string; reason: string }[] {
    const out: { key: string; reason: string }[] = [];
    for (const [key, controller] of Object.entries(KEY_CONTROLLERS)) {
      if (origins[key] === undefined) continue;
      const why = this.missing.get(controller);
      if (why) out.push({ key, reason: why });
    }
    return out;
  }

  /** The attribute writes for `resources` that this subtree can take, with its controllers
   * enabled for them. Problems (a device path that names no device) are logged for `unit`. */
  attributesFor(resources: ResourceControl, unit: string): CgroupAttribute[] {
    const need = [...controllersFor(resources)].filter((c) => this.available.has(c));
    const enabled = enabledControllers(this.rootDir);
    const toEnable = need.filter((c) => !enabled.has(c));
    for (const { name, error } of enableControllers(this.rootDir, toEnable)) {
      // Once refused, not asked again for every start.
      this.available.delete(name);
      this.missing.set(
        name as Controller,
        `the ${name} controller could not be enabled in ${this.root} (${error.message})`,
      );
    }
    const now = enabledControllers(this.rootDir);
    const { attributes, problems } = resourceAttributes(resources, this.machine);
    for (const p of problems) this.log.warning(`${unit}: ${p}.`, unit);
    return attributes.filter((a) => now.has(a.controller));
  }

  /** The cgroup of service `unit` (made by ServiceCgroup.prepare at its start). */
  serviceCgroup(unit: string): ServiceCgroup {
    return this.child(cgroupName(unit));
  }

  /** A cgroup the accept thread made for an instance, by its directory. */
  adopted(dir: string): ServiceCgroup {
    return this.child(dir.slice(dir.lastIndexOf('/') + 1));
  }

  private child(name: string): ServiceCgroup {
    return new ServiceCgroup(`${this.root === '/' ? '' : this.root}/${name}`, `${this.rootDir}/${name}`);
  }

  /** How the accept thread makes the cgroups of `template`'s instances: under the subtree's root,
   * named `prefix@COOKIE.service` (the thread starts an instance before the main thread numbers
   * it, so the name carries the connection's cookie, not the counter), with these writes. */
  instancePlan(template: string, resources: ResourceControl): InstanceCgroupPlan {
    return {
      parentDir: this.rootDir,
      prefix: template.slice(0, template.indexOf('@')),
      attributes: this.attributesFor(resources, template).map(({ file, value }) => ({ file, value })),
    };
  }

  /** At shutdown, after every service stopped: empty cgroups removed, the manager back where it
   * was started, and the subtree removed when the manager made it. */
  release(): void {
    for (const name of childCgroups(this.rootDir))
      if (name !== MANAGER_LEAF) removeTreeQuietly(`${this.rootDir}/${name}`);
    const homeDir = cgroupDir(this.hierarchy, this.home);
    try {
      // The manager's own cgroup can take it back only without controllers for children.
      if (this.ownsRoot)
        for (const c of enabledControllers(this.rootDir))
          writeAttribute(this.rootDir, 'cgroup.subtree_control', `-${c}`);
      if (homeDir) moveProcess(homeDir, process.pid);
    } catch (err) {
      this.log.debug(`Could not move the manager back to ${this.home}: ${(err as Error).message}`);
      return;
    }
    removeCgroup(`${this.rootDir}/${MANAGER_LEAF}`);
    if (this.made && !this.ownsRoot) removeCgroup(this.rootDir);
  }
}

function dirOf(h: Hierarchy, path: CgroupPath): string {
  const dir = cgroupDir(h, path);
  if (dir === undefined)
    throw new Error(`cgroup ${path} is outside the hierarchy mounted at ${h.mountPoint}`);
  return dir;
}

/** Why cgroup v2 does not have `controller` in `root`. */
export function whyMissing(controller: Controller, h: Hierarchy, root: CgroupPath): string {
  const v1 = v1Mount(controller);
  if (v1 !== undefined)
    return `the ${controller} controller is bound to cgroup v1 on this machine (mounted at ${v1}), so cgroup v2 cannot use it`;
  const top = cgroupDir(h, h.root);
  if (top && !availableControllers(top).has(controller))
    return `the kernel offers no ${controller} controller to cgroup v2 here`;
  return `the ${controller} controller is not handed down to ${root} (cgroup.subtree_control of its parent)`;
}

/** Where a cgroup v1 hierarchy with `controller` is mounted, if one is (a hybrid machine). */
function v1Mount(controller: Controller): string | undefined {
  // cpu and cpuacct share a hierarchy on most systems; io is blkio in v1.
  const name = controller === 'io' ? 'blkio' : controller;
  try {
    for (const line of readFileSync('/proc/self/mountinfo', 'latin1').split('\n')) {
      const [before, after] = line.split(' - ');
      const fields = after?.split(' ');
      if (!before || fields?.[0] !== 'cgroup') continue;
      if ((fields[2] ?? '').split(',').includes(name)) return before.split(' ')[4];
    }
  } catch {}
  return undefined;
}

/** rmdir `dir` and its child cgroups, deepest first; what still runs keeps its cgroup. */
function removeTreeQuietly(dir: string): void {
  for (const child of childCgroups(dir)) removeTreeQuietly(`${dir}/${child}`);
  try {
    removeCgroup(dir);
  } catch {}
}
