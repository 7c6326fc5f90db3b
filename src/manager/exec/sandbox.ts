// A service's sandbox, as systemd.exec(5) defines it, turned into the plan of system calls the
// sandbox helper makes between the spawn and the service's exec (sys/syscall-plan.ts says why a
// plan and a helper): a mount namespace arranged as the keys ask, the other namespaces, then the
// seccomp filters. Per unit it keeps what all of the unit's processes share: the PrivateTmp=
// directories and the PrivateNetwork=/PrivateIPC= namespaces, made when the first process starts
// and removed when the unit stops.
//
// Where the kernel refuses a step, the helper ends the process with systemd's exit status
// (226/NAMESPACE, 228/SECCOMP, 218/CAPABILITIES) and a message naming the key. With
// X-Sockunit-Sandbox=best-effort (or `sockunit run --sandbox=best-effort`) the manager first
// probes what this machine allows and leaves the rest out, saying so in the log and in status.

import { spawnSync } from 'node:child_process';
import {
  chmodSync,
  closeSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readFileSync,
  statSync,
} from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { O_CLOEXEC, O_CREAT, O_RDONLY, O_WRONLY } from '../../sys/constants.js';
import {
  CLONE_NEWIPC,
  CLONE_NEWNET,
  CLONE_NEWNS,
  CLONE_NEWUSER,
  CLONE_NEWUTS,
  createNamespace,
} from '../../sys/namespace.js';
import {
  compileFilter,
  type SeccompAction,
  type SeccompFilter,
  type SeccompRule,
  seccompAvailable,
} from '../../sys/seccomp.js';
import { closeQuietly, type Fd } from '../../sys/socket.js';
import {
  encodePlan,
  forgetPlan,
  type PlanStep,
  sandboxDir,
  sandboxHelperPath,
  sandboxWrap,
  writePlan,
} from '../../sys/syscall-plan.js';
import { capabilityMask } from '../../unit/capabilities.js';
import {
  ADDRESS_FAMILIES,
  AF_MAX,
  filterEntryCalls,
  isSandboxed,
  mountsApiVfs,
  NAMESPACE_FLAGS,
  needsMountNamespace,
  needsSeccomp,
  type SandboxContext,
  type SandboxPath,
  serviceRoot,
} from '../../unit/sandbox-config.js';
import type { ServiceUnitConfig } from '../../unit/service-config.js';
import {
  AT_FDCWD,
  AT_RECURSIVE,
  EEXIST,
  ENOENT,
  EXIT_CAPABILITIES,
  EXIT_NAMESPACE,
  EXIT_SECCOMP,
  MS_BIND,
  MS_NODEV,
  MS_NOEXEC,
  MS_NOSUID,
  MS_RDONLY,
  MS_REC,
  MS_SLAVE,
  MS_STRICTATIME,
} from './plan-constants.js';
import {
  apiPresent,
  bindPointSteps,
  enterRootSteps,
  inRoot,
  mountPointSteps,
  rootMountSteps,
  workingDirectorySteps,
} from './root-directory.js';

const MOUNT_ATTR_RDONLY = 1n;
const MOUNT_ATTR_NOEXEC = 8n;
const OPEN_TREE_CLONE = 1;
const MOVE_MOUNT_F_EMPTY_PATH = 4;
const PR_CAPBSET_DROP = 24;
const PR_SET_NO_NEW_PRIVS = 38;
const SECCOMP_SET_MODE_FILTER = 1;
const EINVAL = 22;
const EPERM = 1;

/** How strictly the keys are applied when the kernel refuses some: systemd fails the service
 * (strict); best-effort runs it with what can be applied. */
export type SandboxMode = 'strict' | 'best-effort';
let managerMode: SandboxMode = 'strict';

/** `sockunit run --sandbox=MODE`: the default for every unit (X-Sockunit-Sandbox= overrides). */
export function setSandboxMode(mode: SandboxMode): void {
  managerMode = mode;
}

/** The runtimes of the units running now, by unit name: JoinsNamespaceOf= finds them here. */
const running = new Map<string, SandboxRuntime>();

/** The runtime a unit's processes use: that of a running unit it JoinsNamespaceOf=, else its
 * own. Each call takes a reference; give it back with `release()`. */
export function acquireRuntime(unit: string, joins: readonly string[]): SandboxRuntime {
  for (const other of joins) {
    const shared = running.get(other);
    if (shared) {
      shared.users++;
      return shared;
    }
  }
  let own = running.get(unit);
  if (!own) {
    own = new SandboxRuntime(unit);
    running.set(unit, own);
  }
  own.users++;
  return own;
}

/** What one unit's processes share while it runs. */
export class SandboxRuntime {
  /** Units using it (JoinsNamespaceOf= shares one between units). */
  users = 0;
  /** Joined by another unit: its namespaces are kept by the manager, whatever the unit runs. */
  get shared(): boolean {
    return this.users > 1;
  }
  private tmpRoot: string | undefined;
  private netns: Fd | undefined;
  private ipcns: Fd | undefined;
  private readonly unit: string;
  /** Plans that name this runtime's directories or namespaces: removed with them. */
  private readonly plans = new Set<string>();

  constructor(unit: string) {
    this.unit = unit;
  }

  /** Whether plans of this unit name its own directories or namespaces (so they are its own). */
  get holdsResources(): boolean {
    return this.tmpRoot !== undefined || this.netns !== undefined || this.ipcns !== undefined;
  }

  /** A plan written for this runtime's processes only. */
  own(plan: string | undefined): void {
    if (plan !== undefined) this.plans.add(plan);
  }

  /** The private /tmp and /var/tmp: directories on the host, as systemd's, so ExecStartPre=,
   * ExecStart= and ExecStop= see the same files. */
  privateTmp(): { tmp: string; varTmp: string } {
    if (!this.tmpRoot) {
      const safe = this.unit.replace(/[^A-Za-z0-9_.@-]/g, '_');
      this.tmpRoot = mkdtempSync(join('/tmp', `sockunit-private-${safe}-`));
      const varRoot = `/var/tmp/${this.tmpRoot.slice('/tmp/'.length)}`;
      for (const root of [this.tmpRoot, varRoot]) {
        mkdirSync(root, { recursive: true, mode: 0o700 });
        mkdirSync(join(root, 'tmp'), { mode: 0o1777 });
        chmodSync(join(root, 'tmp'), 0o1777);
      }
    }
    return { tmp: join(this.tmpRoot, 'tmp'), varTmp: `/var/tmp/${this.tmpRoot.slice('/tmp/'.length)}/tmp` };
  }

  /** A /proc path through which a child opens the unit's namespace (the manager holds it open),
   * or undefined when the manager cannot make one: the child then tries itself and fails (or
   * the key was left out). */
  namespacePath(kind: 'net' | 'ipc'): string | undefined {
    try {
      if (kind === 'net') this.netns ??= createNamespace('net');
      else this.ipcns ??= createNamespace('ipc');
    } catch {
      return undefined;
    }
    return `/proc/${process.pid}/fd/${kind === 'net' ? this.netns : this.ipcns}`;
  }

  /** A unit using it has stopped; with the last one, its namespaces and private /tmp go. */
  release(): void {
    if (this.users > 1) {
      this.users--;
      return;
    }
    this.users = 0;
    if (running.get(this.unit) === this) running.delete(this.unit);
    for (const plan of this.plans) forgetPlan(plan);
    this.plans.clear();
    if (this.netns !== undefined) closeQuietly(this.netns);
    if (this.ipcns !== undefined) closeQuietly(this.ipcns);
    this.netns = undefined;
    this.ipcns = undefined;
    if (this.tmpRoot) {
      // Removed on libuv's thread pool: deleting even a near-empty tree took ~5 ms here (a disk
      // mounted with `discard`), time the main thread would not serve connections.
      for (const root of [this.tmpRoot, `/var/tmp/${this.tmpRoot.slice('/tmp/'.length)}`])
        void rm(root, { recursive: true, force: true }).catch(() => {});
      this.tmpRoot = undefined;
    }
  }
}

/** What the kernel lets this manager do, probed once (best-effort mode only). */
interface Abilities {
  mount: string | undefined;
  uts: string | undefined;
  seccomp: string | undefined;
  netns: string | undefined;
  ipcns: string | undefined;
  userns: string | undefined;
}

let abilities: Abilities | undefined;

function probePlan(steps: PlanStep[]): string | undefined {
  let result: ReturnType<typeof spawnSync>;
  try {
    const wrapped = sandboxWrap(writePlan(encodePlan(steps)), '/bin/true', ['true']);
    result = spawnSync(wrapped.file, wrapped.argv.slice(1), { encoding: 'utf8', timeout: 5000 });
  } catch (err) {
    return (err as Error).message;
  }
  if (result.status === 0) return undefined;
  return String(result.stderr).trim() || `status ${result.status}`;
}

function probe(): Abilities {
  const fail = (n: number, message: string): PlanStep => ({
    call: 'unshare',
    args: [n],
    failStatus: 1,
    message,
  });
  const tryNs = (kind: 'net' | 'ipc'): string | undefined => {
    try {
      closeQuietly(createNamespace(kind));
      return undefined;
    } catch (err) {
      return (err as Error).message;
    }
  };
  let seccomp: string | undefined;
  if (!seccompAvailable()) seccomp = 'libseccomp (Debian libseccomp2) is not installed';
  else
    seccomp = probePlan([
      { call: 'prctl', args: [PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0], failStatus: 1, message: 'no_new_privs' },
      {
        call: 'seccomp',
        args: [
          SECCOMP_SET_MODE_FILTER,
          0,
          { fprog: compileFilter({ defaultAction: { kind: 'allow' }, rules: [] }) },
        ],
        failStatus: 1,
        message: 'seccomp filters',
      },
    ]);
  return {
    mount: probePlan([
      fail(CLONE_NEWNS, 'mount namespace'),
      {
        call: 'mount',
        args: [0, { text: '/' }, 0, MS_REC | MS_SLAVE, 0],
        failStatus: 1,
        message: 'mount propagation',
      },
      {
        call: 'mount_setattr',
        args: [AT_FDCWD, { text: '/' }, 0, { bytes: mountAttr(MOUNT_ATTR_RDONLY, 0n) }, 32],
        failStatus: 1,
        message: 'mount_setattr',
      },
    ]),
    uts: probePlan([fail(CLONE_NEWUTS, 'UTS namespace')]),
    seccomp,
    netns: tryNs('net'),
    ipcns: tryNs('ipc'),
    userns: userNamespaceRefusal(probePlan([fail(CLONE_NEWUSER, 'user namespace')])),
  };
}

function mountAttr(set: bigint, clear: bigint): Buffer {
  const b = Buffer.alloc(32);
  b.writeBigUInt64LE(set, 0);
  b.writeBigUInt64LE(clear, 8);
  return b;
}

/** A started process's plans: `early` (namespaces, mounts) runs first, as root, before User=
 * takes effect; `late` (the seccomp filters) runs last, right before the service's exec. */
export interface SandboxLaunch {
  early?: string;
  late?: string;
  /** RootDirectory=: the service's executable is looked up there, and the chain after the early
   * plan names its helpers relative to the host's `/` (root-directory.ts). */
  root?: string;
  /** Best-effort: the keys left out and why, for the log and status. */
  omitted: string[];
}

export interface SandboxRequest {
  unit: string;
  sandbox: SandboxContext;
  /** The uid the service runs as (User=), when it is not the manager's. */
  switchesUser: boolean;
  runtime: SandboxRuntime;
  /** The working directory, entered again inside a new mount namespace (the spawn's chdir
   * happened before it, on the host's tree), or inside RootDirectory=. */
  cwd: string;
  /** WorkingDirectory=-PATH: inside RootDirectory=, a missing one leaves the service in `/`. */
  cwdMissingOk?: boolean;
  /** Directories the unit's *Directory= keys made (RuntimeDirectory=…): writable under
   * ProtectSystem=strict and the other read-only keys, as systemd leaves them. */
  writableDirectories?: readonly string[];
  /** The unit runs one process only (no ExecStartPre=, ExecStop=…): namespaces it would share
   * are made by that process itself. */
  singleProcess: boolean;
}

/** Whether a service runs exactly one process in its life: its namespaces need no sharing. */
export function runsOneProcess(config: ServiceUnitConfig): boolean {
  const s = config.service;
  return (
    s.execStart.length === 1 &&
    [s.execCondition, s.execStartPre, s.execStartPost, s.execReload, s.execStop, s.execStopPost].every(
      (list) => list.length === 0,
    )
  );
}

const STRICT_LEFT_OUT: string[] = [];

/** The plans for one process of a unit, or undefined when the unit asks for no sandboxing (a
 * unit without these keys pays nothing: not even this function's work beyond one check). */
export function planSandbox(req: SandboxRequest): SandboxLaunch | undefined {
  if (!isSandboxed(req.sandbox)) return undefined;
  const writable = (req.writableDirectories ?? []).map((path) => ({ path, missingOk: true }));
  const s: SandboxContext =
    writable.length > 0
      ? { ...req.sandbox, readWritePaths: [...req.sandbox.readWritePaths, ...writable] }
      : req.sandbox;
  const bestEffort = s.bestEffort || managerMode === 'best-effort';
  if (bestEffort && !abilities) abilities = probe();
  const can = bestEffort ? abilities : undefined;
  const omitted = bestEffort ? [] : STRICT_LEFT_OUT;
  const leaveOut = (why: string | undefined, keys: string): boolean => {
    if (!can || why === undefined) return false;
    omitted.push(`${keys} (${why})`);
    return true;
  };

  const early: PlanStep[] = [];
  // Namespaces first, while /proc is still the host's (the unit's namespaces are opened there).
  if (s.privateNetwork && !leaveOut(can?.netns, 'PrivateNetwork=')) early.push(...joinShared(req, 'net'));
  else if (s.networkNamespacePath !== undefined && !leaveOut(can?.netns, 'NetworkNamespacePath='))
    early.push(...joinPath(s.networkNamespacePath, CLONE_NEWNET, 'NetworkNamespacePath='));
  if (s.privateIPC && !leaveOut(can?.ipcns, 'PrivateIPC=')) early.push(...joinShared(req, 'ipc'));
  else if (s.ipcNamespacePath !== undefined && !leaveOut(can?.ipcns, 'IPCNamespacePath='))
    early.push(...joinPath(s.ipcNamespacePath, CLONE_NEWIPC, 'IPCNamespacePath='));
  if (s.protectHostname && !leaveOut(can?.uts, 'ProtectHostname='))
    early.push({
      call: 'unshare',
      args: [CLONE_NEWUTS],
      failStatus: EXIT_NAMESPACE,
      message: 'ProtectHostname=: cannot make a UTS namespace (unshare)',
    });
  const root = serviceRoot(s);
  if (needsMountNamespace(s) && !leaveOut(can?.mount, mountKeys(s))) {
    early.push(...mountSteps(s, req.runtime));
    if (root === undefined)
      early.push({
        call: 'chdir',
        args: [{ text: req.cwd }],
        failStatus: 200, // CHDIR
        message: `WorkingDirectory=${req.cwd}: not found in the service's mount namespace`,
      });
  }
  if (root !== undefined) early.push(...enterRootSteps(root));
  if (hasSysAdmin()) early.push(...capabilityDrops(s));
  // Applied by the exec-context helper's steps (private-users.ts); only the omission is said here.
  if (s.privateUsers) leaveOut(can?.userns, 'PrivateUsers=');

  // Inside a root, the late plan always runs: it leaves the host's tree (root-directory.ts).
  const filters: PlanStep[] =
    root !== undefined ? workingDirectorySteps(req.cwd, req.cwdMissingOk ?? false) : [];
  if (needsSeccomp(s) && !leaveOut(can?.seccomp, seccompKeys(s))) {
    if (!seccompAvailable())
      throw new Error(
        `${seccompKeys(s)} need libseccomp (Debian package libseccomp2); install it, or set X-Sockunit-Sandbox=best-effort to run without them`,
      );
    const unprivileged = req.switchesUser || !hasSysAdmin();
    // The kernel takes a filter from a process without CAP_SYS_ADMIN only with no_new_privs set,
    // which systemd implies for such units too.
    if (unprivileged)
      filters.push({
        call: 'prctl',
        args: [PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0],
        failStatus: EXIT_SECCOMP,
        message: 'SystemCallFilter=: cannot set no_new_privs',
      });
    for (const [keys, filter] of seccompFilters(s))
      filters.push({
        call: 'seccomp',
        args: [SECCOMP_SET_MODE_FILTER, 0, { fprog: compileFilter(filter) }],
        failStatus: EXIT_SECCOMP,
        message: `${keys}: the kernel refused the seccomp filter`,
      });
  }
  const launch: SandboxLaunch = { omitted, ...(root !== undefined ? { root } : {}) };
  // The filters go in a helper run of their own, the last step before the service (after
  // setpriv's and the LISTEN_PID helper's own calls, which an allow-list might not include).
  const lateSteps = filters;
  const earlySteps = early;
  if (earlySteps.length > 0) launch.early = writePlan(encodePlan(earlySteps));
  if (lateSteps.length > 0) launch.late = writePlan(encodePlan(lateSteps));
  // A plan naming the unit's own /tmp directory or namespace is used by no other unit.
  if (req.runtime.holdsResources) req.runtime.own(launch.early);
  return launch;
}

/** The request to spawn: `file`/`argv` wrapped by the plans around the User= switch. */
export function wrapWithSandbox(
  launch: SandboxLaunch | undefined,
  stage: 'early' | 'late',
  file: string,
  argv: string[],
): { file: string; argv: string[] } {
  const plan = launch?.[stage];
  return plan ? sandboxWrap(plan, file, argv) : { file, argv };
}

/** The helper is installed before the first start, so a missing runtime directory is reported
 * at start, not as an exec failure. */
export function sandboxReady(): string {
  return sandboxHelperPath();
}

function joinShared(req: SandboxRequest, kind: 'net' | 'ipc'): PlanStep[] {
  const key = kind === 'net' ? 'PrivateNetwork=' : 'PrivateIPC=';
  const flag = kind === 'net' ? CLONE_NEWNET : CLONE_NEWIPC;
  // A unit of one process (most Accept=yes instances) has nobody to share the namespace with:
  // the process makes its own, off the manager's main thread (a network namespace costs the
  // kernel a few ms, more under load, waiting for RCU).
  const path = req.singleProcess && !req.runtime.shared ? undefined : req.runtime.namespacePath(kind);
  // Otherwise the manager made it; if it could not (no CAP_SYS_ADMIN), the process tries
  // itself, and fails with the kernel's own answer, as under systemd.
  if (path === undefined) {
    const steps: PlanStep[] = [
      {
        call: 'unshare',
        args: [flag],
        failStatus: EXIT_NAMESPACE,
        message: `${key}: cannot make a ${kind === 'net' ? 'network' : 'IPC'} namespace (unshare)`,
      },
    ];
    if (kind === 'net') steps.push(...loopbackUpSteps());
    return steps;
  }
  return joinPath(path, flag, key);
}

/** `lo` up in the process's new network namespace (SIOCSIFFLAGS with IFF_UP|IFF_LOOPBACK). */
function loopbackUpSteps(): PlanStep[] {
  const ifreq = Buffer.alloc(40);
  ifreq.write('lo', 0, 'latin1');
  ifreq.writeUInt16LE(0x1 | 0x8, 16);
  const fail = { failStatus: EXIT_NAMESPACE, message: 'PrivateNetwork=: cannot bring lo up' };
  return [
    { call: 'socket', args: [2 /* AF_INET */, 2 /* SOCK_DGRAM */ | O_CLOEXEC, 0], saveAs: 'lo', ...fail },
    { call: 'ioctl', args: [{ saved: 'lo' }, 0x8914 /* SIOCSIFFLAGS */, { bytes: ifreq }], ...fail },
    { call: 'close', args: [{ saved: 'lo' }], ...fail },
  ];
}

function joinPath(path: string, flag: number, key: string): PlanStep[] {
  const name = `ns${flag}`;
  return [
    {
      call: 'openat',
      args: [AT_FDCWD, { text: path }, O_RDONLY | O_CLOEXEC],
      saveAs: name,
      failStatus: EXIT_NAMESPACE,
      message: `${key}: cannot open the namespace ${path}`,
    },
    {
      call: 'setns',
      args: [{ saved: name }, flag],
      failStatus: EXIT_NAMESPACE,
      message: `${key}: cannot join the namespace ${path} (setns)`,
    },
    { call: 'close', args: [{ saved: name }], failStatus: EXIT_NAMESPACE, message: `${key}: close` },
  ];
}

function mountKeys(s: SandboxContext): string {
  const keys: string[] = [];
  if (s.privateTmp !== 'no') keys.push('PrivateTmp=');
  if (s.protectSystem !== 'no') keys.push('ProtectSystem=');
  if (s.protectHome !== 'no') keys.push('ProtectHome=');
  if (s.readWritePaths.length) keys.push('ReadWritePaths=');
  if (s.readOnlyPaths.length) keys.push('ReadOnlyPaths=');
  if (s.inaccessiblePaths.length) keys.push('InaccessiblePaths=');
  if (s.execPaths.length || s.noExecPaths.length) keys.push('ExecPaths=/NoExecPaths=');
  if (s.bindPaths.length || s.bindReadOnlyPaths.length) keys.push('BindPaths=');
  if (s.temporaryFileSystem.length) keys.push('TemporaryFileSystem=');
  if (s.privateDevices) keys.push('PrivateDevices=');
  if (s.protectKernelTunables) keys.push('ProtectKernelTunables=');
  if (s.protectKernelModules) keys.push('ProtectKernelModules=');
  if (s.protectKernelLogs) keys.push('ProtectKernelLogs=');
  if (s.protectControlGroups) keys.push('ProtectControlGroups=');
  if (s.protectProc !== 'default' || s.procSubset !== 'all') keys.push('ProtectProc=/ProcSubset=');
  if (s.privateMounts) keys.push('PrivateMounts=');
  if (mountsApiVfs(s)) keys.push('RootDirectory=/MountAPIVFS=');
  return keys.join(' ');
}

function seccompKeys(s: SandboxContext): string {
  const keys: string[] = [];
  if (s.systemCallFilter) keys.push('SystemCallFilter=');
  if (s.systemCallLog) keys.push('SystemCallLog=');
  if (s.systemCallArchitectures.length) keys.push('SystemCallArchitectures=');
  if (s.restrictAddressFamilies) keys.push('RestrictAddressFamilies=');
  if (s.restrictNamespaces) keys.push('RestrictNamespaces=');
  if (s.restrictRealtime) keys.push('RestrictRealtime=');
  if (s.restrictSUIDSGID) keys.push('RestrictSUIDSGID=');
  if (s.lockPersonality) keys.push('LockPersonality=');
  if (s.memoryDenyWriteExecute) keys.push('MemoryDenyWriteExecute=');
  if (
    s.privateDevices ||
    s.protectKernelModules ||
    s.protectKernelLogs ||
    s.protectClock ||
    s.protectHostname
  )
    keys.push('(the system calls Protect*=/PrivateDevices= deny)');
  return keys.join(' ');
}

/** The mount namespace steps, in systemd's order: make the mount points (binds, tmpfs), make
 * things read-only, open the writable holes again, then hide what must be hidden. */
function mountSteps(s: SandboxContext, runtime: SandboxRuntime): PlanStep[] {
  const steps: PlanStep[] = [];
  // With RootDirectory=, every path of the keys is inside the root, but the host paths of
  // ReadWritePaths= and the like written without `+` (systemd's prefix rule).
  const root = serviceRoot(s);
  const at = (path: string): string => inRoot(root, path);
  const pathOf = (p: SandboxPath): string => (p.inRoot ? at(p.path) : p.path);
  const fail = (key: string, what: string) => ({ failStatus: EXIT_NAMESPACE, message: `${key}: ${what}` });
  const bind = (key: string, source: string, target: string, recursive: boolean, missingOk: boolean) =>
    steps.push({
      call: 'mount',
      args: [{ text: source }, { text: target }, 0, MS_BIND | (recursive ? MS_REC : 0), 0],
      ...(missingOk ? { okErrno: ENOENT } : {}),
      ...fail(key, `cannot bind ${source} on ${target}`),
    });
  const setattr = (key: string, path: string, set: bigint, clear: bigint, missingOk: boolean) =>
    steps.push({
      call: 'mount_setattr',
      args: [AT_FDCWD, { text: path }, AT_RECURSIVE, { bytes: mountAttr(set, clear) }, 32],
      ...(missingOk ? { okErrno: ENOENT } : {}),
      ...fail(key, `cannot change the mount flags of ${path}`),
    });
  const tmpfs = (key: string, path: string, flags: number, data: string, missingOk = false) =>
    steps.push({
      call: 'mount',
      args: [{ text: 'tmpfs' }, { text: path }, { text: 'tmpfs' }, flags, { text: data }],
      ...(missingOk ? { okErrno: ENOENT } : {}),
      ...fail(key, `cannot mount a tmpfs on ${path}`),
    });
  const readOnly = (key: string, path: string, missingOk: boolean) => {
    bind(key, path, path, true, missingOk);
    setattr(key, path, MOUNT_ATTR_RDONLY, 0n, missingOk);
  };
  const inaccessible = (key: string, p: SandboxPath) => {
    const path = pathOf(p);
    let isDir = true;
    try {
      isDir = statSync(path).isDirectory();
    } catch {
      if (p.missingOk) return;
    }
    if (isDir) tmpfs(key, path, MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, 'mode=000', p.missingOk);
    else {
      bind(key, inaccessibleFile(), path, false, p.missingOk);
      setattr(key, path, MOUNT_ATTR_RDONLY, 0n, p.missingOk);
    }
  };

  steps.push(
    {
      call: 'unshare',
      args: [CLONE_NEWNS],
      ...fail(mountKeys(s), 'cannot make a mount namespace (unshare)'),
    },
    // Slave: mounts of the host still reach the service, none of its own leak out.
    {
      call: 'mount',
      args: [0, { text: '/' }, 0, MS_REC | MS_SLAVE, 0],
      ...fail(mountKeys(s), 'cannot make the mounts private'),
    },
  );
  if (root !== undefined) steps.push(...rootMountSteps(s, root));
  const strict = s.protectSystem === 'strict';
  // ProtectSystem=strict makes everything read-only but the API file systems: keep copies of
  // them with their own flags and put them back on top (inside a root, those it has).
  const apis = ['/dev', '/proc', '/sys'].filter((api) => root === undefined || apiPresent(s, root, api));
  if (strict)
    for (const api of apis)
      steps.push({
        call: 'open_tree',
        args: [AT_FDCWD, { text: at(api) }, OPEN_TREE_CLONE | O_CLOEXEC | AT_RECURSIVE],
        saveAs: `api${api}`,
        ...fail('ProtectSystem=strict', `cannot copy the ${api} mounts`),
      });
  if (root !== undefined && s.privateTmp !== 'no')
    steps.push(...mountPointSteps('PrivateTmp=', at('/tmp'), 'directory'));
  if (s.privateTmp === 'yes') {
    const dirs = runtime.privateTmp();
    bind('PrivateTmp=', dirs.tmp, at('/tmp'), true, false);
    bind('PrivateTmp=', dirs.varTmp, at('/var/tmp'), true, true);
  } else if (s.privateTmp === 'disconnected') {
    tmpfs('PrivateTmp=disconnected', at('/tmp'), MS_NOSUID | MS_NODEV | MS_STRICTATIME, 'mode=01777');
    tmpfs(
      'PrivateTmp=disconnected',
      at('/var/tmp'),
      MS_NOSUID | MS_NODEV | MS_STRICTATIME,
      'mode=01777',
      true,
    );
  }
  // The sources are the host's; the destinations are in the root, made when missing (as systemd
  // makes mount points there).
  for (const [key, list] of [
    ['BindPaths=', s.bindPaths],
    ['BindReadOnlyPaths=', s.bindReadOnlyPaths],
  ] as const)
    for (const b of list) {
      if (root !== undefined) steps.push(...bindPointSteps(key, b, at(b.destination)));
      bind(key, b.source, at(b.destination), b.recursive, b.missingOk);
    }
  for (const t of s.temporaryFileSystem) {
    const opts = t.options.split(',').filter((o) => o !== '');
    const ro = opts.includes('ro');
    const data = opts.filter((o) => o !== 'ro' && o !== 'rw');
    if (!data.some((o) => o.startsWith('mode='))) data.push('mode=0755');
    tmpfs(
      'TemporaryFileSystem=',
      at(t.path),
      MS_NODEV | MS_STRICTATIME | (ro ? MS_RDONLY : 0),
      data.join(','),
    );
  }
  for (const p of [...s.readWritePaths, ...s.readOnlyPaths, ...s.execPaths, ...s.noExecPaths])
    bind('ReadWritePaths=/ReadOnlyPaths=', pathOf(p), pathOf(p), true, p.missingOk);

  if (strict) {
    setattr('ProtectSystem=strict', at('/'), MOUNT_ATTR_RDONLY, 0n, false);
    for (const api of apis)
      steps.push({
        call: 'move_mount',
        args: [{ saved: `api${api}` }, { text: '' }, AT_FDCWD, { text: at(api) }, MOVE_MOUNT_F_EMPTY_PATH],
        ...fail('ProtectSystem=strict', `cannot put ${api} back`),
      });
  } else if (s.protectSystem !== 'no') {
    const dirs = ['/usr', '/boot', '/efi', ...(s.protectSystem === 'full' ? ['/etc'] : [])];
    for (const d of dirs) readOnly(`ProtectSystem=${s.protectSystem}`, at(d), true);
  }
  const homes = ['/home', '/root', '/run/user'].map(at);
  if (s.protectHome === 'yes')
    for (const h of homes) inaccessible('ProtectHome=yes', { path: h, missingOk: true });
  else if (s.protectHome === 'read-only') for (const h of homes) readOnly('ProtectHome=read-only', h, true);
  else if (s.protectHome === 'tmpfs')
    for (const h of homes) tmpfs('ProtectHome=tmpfs', h, MS_RDONLY | MS_NOSUID | MS_NODEV, 'mode=0755', true);

  // Writable again: the private /tmp and the ReadWritePaths= under a read-only tree.
  if (s.privateTmp !== 'no' && s.protectSystem !== 'no') {
    setattr('PrivateTmp=', at('/tmp'), 0n, MOUNT_ATTR_RDONLY, false);
    setattr('PrivateTmp=', at('/var/tmp'), 0n, MOUNT_ATTR_RDONLY, true);
  }
  for (const p of s.readWritePaths) setattr('ReadWritePaths=', pathOf(p), 0n, MOUNT_ATTR_RDONLY, p.missingOk);
  for (const t of s.temporaryFileSystem)
    if (!t.options.split(',').includes('ro'))
      setattr('TemporaryFileSystem=', at(t.path), 0n, MOUNT_ATTR_RDONLY, false);
  for (const p of s.readOnlyPaths) setattr('ReadOnlyPaths=', pathOf(p), MOUNT_ATTR_RDONLY, 0n, p.missingOk);
  for (const b of s.bindReadOnlyPaths)
    setattr('BindReadOnlyPaths=', at(b.destination), MOUNT_ATTR_RDONLY, 0n, b.missingOk);
  for (const p of s.noExecPaths) setattr('NoExecPaths=', pathOf(p), MOUNT_ATTR_NOEXEC, 0n, p.missingOk);
  for (const p of s.execPaths) setattr('ExecPaths=', pathOf(p), 0n, MOUNT_ATTR_NOEXEC, p.missingOk);

  // MountAPIVFS= mounted /proc inside the root with these options already.
  if ((s.protectProc !== 'default' || s.procSubset !== 'all') && !mountsApiVfs(s)) {
    const options = [`hidepid=${s.protectProc === 'default' ? 'off' : s.protectProc}`];
    if (s.procSubset === 'pid') options.push('subset=pid');
    steps.push({
      call: 'mount',
      args: [
        { text: 'proc' },
        { text: at('/proc') },
        { text: 'proc' },
        MS_NOSUID | MS_NODEV | MS_NOEXEC,
        { text: options.join(',') },
      ],
      ...fail('ProtectProc=/ProcSubset=', 'cannot mount /proc with hidepid=/subset='),
    });
  }
  if (s.privateDevices) {
    if (root !== undefined) steps.push(...mountPointSteps('PrivateDevices=', at('/dev'), 'directory'));
    steps.push(...privateDevSteps(at('/dev')));
  }
  // Paths inside the root, taken as `+` paths are.
  const hidden = (path: string): SandboxPath => ({ path, missingOk: true, inRoot: true });
  if (s.protectKernelTunables) {
    for (const p of KERNEL_TUNABLES_READ_ONLY) readOnly('ProtectKernelTunables=', at(p), true);
    for (const p of KERNEL_TUNABLES_HIDDEN) inaccessible('ProtectKernelTunables=', hidden(p));
    // /sys/fs/cgroup stays as it was unless ProtectControlGroups= says otherwise.
    if (!s.protectControlGroups)
      setattr('ProtectKernelTunables=', at('/sys/fs/cgroup'), 0n, MOUNT_ATTR_RDONLY, true);
  }
  if (s.protectKernelModules)
    for (const p of ['/usr/lib/modules', '/lib/modules']) inaccessible('ProtectKernelModules=', hidden(p));
  if (s.protectKernelLogs)
    for (const p of ['/proc/kmsg', '/dev/kmsg']) inaccessible('ProtectKernelLogs=', hidden(p));
  if (s.protectControlGroups) readOnly('ProtectControlGroups=', at('/sys/fs/cgroup'), true);
  for (const p of s.inaccessiblePaths) inaccessible('InaccessiblePaths=', p);
  return steps;
}

// ProtectKernelTunables=: what systemd's namespace.c makes read-only and hides (facts taken from
// its protect_kernel_tunables tables).
const KERNEL_TUNABLES_READ_ONLY = [
  '/proc/acpi',
  '/proc/apm',
  '/proc/asound',
  '/proc/bus',
  '/proc/fs',
  '/proc/irq',
  '/proc/latency_stats',
  '/proc/mtrr',
  '/proc/scsi',
  '/proc/sys',
  '/proc/sysrq-trigger',
  '/proc/timer_stats',
  '/sys',
];
const KERNEL_TUNABLES_HIDDEN = ['/proc/kallsyms', '/proc/kcore', '/sys/kernel/debug', '/sys/kernel/tracing'];

const DEVICE_NODES = ['null', 'zero', 'full', 'random', 'urandom', 'tty'];
const DEVICE_DIRS = ['pts', 'shm', 'mqueue', 'hugepages'];

/** PrivateDevices=: a tmpfs on `dev` (/dev, or the one inside RootDirectory=) holding copies of
 * the harmless nodes and of /dev/pts, /dev/shm, /dev/mqueue, taken from the host's /dev first. */
function privateDevSteps(dev: string): PlanStep[] {
  const key = 'PrivateDevices=';
  const steps: PlanStep[] = [];
  const fail = (what: string) => ({ failStatus: EXIT_NAMESPACE, message: `${key} ${what}` });
  const present = [...DEVICE_NODES, ...DEVICE_DIRS].filter((n) => existsSync(`/dev/${n}`));
  for (const n of present)
    steps.push({
      call: 'open_tree',
      args: [AT_FDCWD, { text: `/dev/${n}` }, OPEN_TREE_CLONE | O_CLOEXEC | AT_RECURSIVE],
      saveAs: `dev-${n}`,
      ...fail(`cannot copy /dev/${n}`),
    });
  steps.push({
    call: 'mount',
    args: [
      { text: 'tmpfs' },
      { text: dev },
      { text: 'tmpfs' },
      MS_NOSUID | MS_STRICTATIME,
      { text: 'mode=0755' },
    ],
    ...fail('cannot mount a tmpfs on /dev'),
  });
  for (const n of present) {
    if (DEVICE_NODES.includes(n)) {
      steps.push(
        {
          call: 'openat',
          args: [AT_FDCWD, { text: `${dev}/${n}` }, O_WRONLY | O_CREAT | O_CLOEXEC, 0o666],
          saveAs: `node-${n}`,
          ...fail(`cannot create /dev/${n}`),
        },
        { call: 'close', args: [{ saved: `node-${n}` }], ...fail('close') },
      );
    } else {
      steps.push({
        call: 'mkdirat',
        args: [AT_FDCWD, { text: `${dev}/${n}` }, 0o755],
        okErrno: EEXIST,
        ...fail(`cannot create /dev/${n}`),
      });
    }
    steps.push({
      call: 'move_mount',
      args: [{ saved: `dev-${n}` }, { text: '' }, AT_FDCWD, { text: `${dev}/${n}` }, MOVE_MOUNT_F_EMPTY_PATH],
      ...fail(`cannot put /dev/${n} in place`),
    });
  }
  for (const [link, target] of [
    ['ptmx', 'pts/ptmx'],
    ['fd', '/proc/self/fd'],
    ['stdin', '/proc/self/fd/0'],
    ['stdout', '/proc/self/fd/1'],
    ['stderr', '/proc/self/fd/2'],
  ])
    steps.push({
      call: 'symlinkat',
      args: [{ text: target as string }, AT_FDCWD, { text: `${dev}/${link}` }],
      okErrno: EEXIST,
      ...fail(`cannot link /dev/${link}`),
    });
  return steps;
}

let inaccessiblePath: string | undefined;

/** An empty file nobody may open, bound over InaccessiblePaths= files (systemd keeps the same
 * under /run/systemd/inaccessible/). */
function inaccessibleFile(): string {
  if (!inaccessiblePath) {
    sandboxHelperPath(); // creates the directory
    const path = join(sandboxDir(), 'inaccessible-file');
    if (!existsSync(path)) closeSync(openSync(path, 'w', 0o000));
    chmodSync(path, 0o000);
    inaccessiblePath = path;
  }
  return inaccessiblePath;
}

/** Capabilities systemd takes from the bounding set for these keys. */
/** The capabilities the sandboxing keys take out of the bounding set, with the key of each. */
function boundingDrops(s: SandboxContext): [number, string][] {
  const caps: [number, string][] = [];
  if (s.privateDevices) caps.push([27, 'PrivateDevices='], [17, 'PrivateDevices=']); // MKNOD, SYS_RAWIO
  if (s.protectKernelModules) caps.push([16, 'ProtectKernelModules=']); // SYS_MODULE
  if (s.protectKernelLogs) caps.push([34, 'ProtectKernelLogs=']); // SYSLOG
  if (s.protectClock) caps.push([25, 'ProtectClock='], [35, 'ProtectClock=']); // SYS_TIME, WAKE_ALARM
  return caps;
}

/** The bounding-set mask the early plan drops: the exec-context helper, which runs after it,
 * computes its capability sets without them (a capset() that kept them would fail). */
export function sandboxBoundingMask(s: SandboxContext): bigint {
  return capabilityMask(boundingDrops(s).map(([cap]) => cap));
}

function capabilityDrops(s: SandboxContext): PlanStep[] {
  return boundingDrops(s).map(([cap, key]) => ({
    call: 'prctl',
    args: [PR_CAPBSET_DROP, cap, 0, 0, 0],
    okErrno: EINVAL, // a capability this kernel does not know
    failStatus: EXIT_CAPABILITIES,
    message: `${key}: cannot drop capability ${cap} from the bounding set`,
  }));
}

/** The seccomp filters, one per concern as systemd installs them; the kernel applies the most
 * restrictive answer of all. SystemCallFilter= goes last: an allow-list without seccomp(2)
 * would otherwise kill the installation of the filters after it. */
function seccompFilters(s: SandboxContext): [string, SeccompFilter][] {
  const out: [string, SeccompFilter][] = [];
  const last: [string, SeccompFilter][] = [];
  const allow: SeccompAction = { kind: 'allow' };
  const errno = (n: number): SeccompAction => ({ kind: 'errno', errno: n });
  const denied: SeccompAction =
    s.systemCallErrorNumber === undefined || s.systemCallErrorNumber === 'kill'
      ? { kind: 'kill' }
      : s.systemCallErrorNumber === 'log'
        ? { kind: 'log' }
        : errno(s.systemCallErrorNumber);
  const f = s.systemCallFilter;
  if (f) {
    if (f.allowList) {
      // Allow-lists always include @default (execve, exit, getpid…), as systemd's do.
      const calls = new Set(filterEntryCalls('@default'));
      for (const name of f.entries.keys()) for (const c of filterEntryCalls(name)) calls.add(c);
      last.push([
        'SystemCallFilter=',
        { defaultAction: denied, rules: [...calls].map((syscall) => ({ syscall, action: allow })) },
      ]);
    } else {
      const rules: SeccompRule[] = [];
      for (const [name, e] of f.entries)
        for (const c of filterEntryCalls(name))
          rules.push({ syscall: c, action: e === undefined ? denied : errno(e) });
      last.push(['SystemCallFilter=', { defaultAction: allow, rules }]);
    }
  }
  const implied: SeccompRule[] = [];
  const deny = (key: boolean, names: string[]) => {
    if (key)
      for (const n of names)
        for (const c of filterEntryCalls(n)) implied.push({ syscall: c, action: errno(EPERM) });
  };
  deny(s.privateDevices, ['@raw-io']);
  deny(s.protectKernelModules, ['@module']);
  deny(s.protectKernelLogs, ['syslog']);
  deny(s.protectClock, ['@clock']);
  deny(s.protectHostname, ['sethostname', 'setdomainname']);
  if (implied.length) out.push(['PrivateDevices=/Protect*=', { defaultAction: allow, rules: implied }]);
  const native = s.systemCallArchitectures;
  if (native.length > 0 && native.every((a) => a === 'native' || a === nativeName()))
    out.push(['SystemCallArchitectures=native', { defaultAction: allow, rules: [], nativeOnly: true }]);
  const af = s.restrictAddressFamilies;
  if (af) {
    const listed = new Set(af.names.map((n) => ADDRESS_FAMILIES[n] as number));
    const rules: SeccompRule[] = [];
    const refuse = errno(97); // EAFNOSUPPORT
    for (let family = 0; family < AF_MAX; family++)
      if (af.allowList !== listed.has(family))
        rules.push({
          syscall: 'socket',
          action: refuse,
          when: [{ arg: 0, op: 'eq', value: BigInt(family) }],
        });
    if (af.allowList)
      rules.push({ syscall: 'socket', action: refuse, when: [{ arg: 0, op: 'ge', value: BigInt(AF_MAX) }] });
    out.push(['RestrictAddressFamilies=', { defaultAction: allow, rules }]);
  }
  const ns = s.restrictNamespaces;
  if (ns) {
    const flags = Object.entries(NAMESPACE_FLAGS)
      .filter(([name]) => ns.allowList !== ns.names.includes(name))
      .map(([, flag]) => BigInt(flag));
    const rules: SeccompRule[] = [];
    for (const flag of flags) {
      const masked = { arg: 0, op: 'masked-eq' as const, mask: flag, value: flag };
      rules.push({ syscall: 'unshare', action: errno(EPERM), when: [masked] });
      rules.push({ syscall: 'clone', action: errno(EPERM), when: [masked] });
      rules.push({ syscall: 'setns', action: errno(EPERM), when: [{ arg: 1, op: 'eq', value: flag }] });
    }
    if (flags.length > 0) {
      rules.push({ syscall: 'setns', action: errno(EPERM), when: [{ arg: 1, op: 'eq', value: 0n }] });
      // clone3 passes its flags in memory, out of a filter's reach: ENOSYS makes libc use clone.
      rules.push({ syscall: 'clone3', action: errno(38) });
    }
    out.push(['RestrictNamespaces=', { defaultAction: allow, rules }]);
  }
  if (s.restrictRealtime)
    out.push([
      'RestrictRealtime=',
      {
        defaultAction: allow,
        rules: [1n, 2n, 6n].map((policy) => ({
          syscall: 'sched_setscheduler',
          action: errno(EPERM),
          when: [{ arg: 1, op: 'masked-eq' as const, mask: ~0x40000000n & 0xffffffffn, value: policy }],
        })),
      },
    ]);
  if (s.restrictSUIDSGID) {
    const rules: SeccompRule[] = [];
    for (const bit of [0o4000n, 0o2000n]) {
      const mode = (arg: number) => ({ arg, op: 'masked-eq' as const, mask: bit, value: bit });
      const creat = (arg: number) => ({
        arg,
        op: 'masked-eq' as const,
        mask: BigInt(O_CREAT),
        value: BigInt(O_CREAT),
      });
      rules.push(
        { syscall: 'chmod', action: errno(EPERM), when: [mode(1)] },
        { syscall: 'fchmod', action: errno(EPERM), when: [mode(1)] },
        { syscall: 'fchmodat', action: errno(EPERM), when: [mode(2)] },
        { syscall: 'fchmodat2', action: errno(EPERM), when: [mode(2)] },
        { syscall: 'mknod', action: errno(EPERM), when: [mode(1)] },
        { syscall: 'mknodat', action: errno(EPERM), when: [mode(2)] },
        { syscall: 'creat', action: errno(EPERM), when: [mode(1)] },
        { syscall: 'open', action: errno(EPERM), when: [creat(1), mode(2)] },
        { syscall: 'openat', action: errno(EPERM), when: [creat(2), mode(3)] },
      );
    }
    out.push(['RestrictSUIDSGID=', { defaultAction: allow, rules }]);
  }
  if (s.lockPersonality)
    out.push([
      'LockPersonality=',
      {
        defaultAction: allow,
        rules: [{ syscall: 'personality', action: errno(EPERM), when: [{ arg: 0, op: 'ne', value: 0n }] }],
      },
    ]);
  if (s.memoryDenyWriteExecute) {
    const wx = { arg: 2, op: 'masked-eq' as const, mask: 6n, value: 6n }; // PROT_WRITE|PROT_EXEC
    const x = { arg: 2, op: 'masked-eq' as const, mask: 4n, value: 4n };
    out.push([
      'MemoryDenyWriteExecute=',
      {
        defaultAction: allow,
        rules: [
          { syscall: 'mmap', action: errno(EPERM), when: [wx] },
          { syscall: 'mprotect', action: errno(EPERM), when: [x] },
          { syscall: 'pkey_mprotect', action: errno(EPERM), when: [x] },
          {
            syscall: 'shmat',
            action: errno(EPERM),
            when: [{ arg: 2, op: 'masked-eq', mask: 0o100000n, value: 0o100000n }],
          },
        ],
      },
    ]);
  }
  // SystemCallLog=: the kernel takes the strictest answer of all filters, and "log" is stricter
  // only than "allow", so a logged call still runs (or is denied by another filter).
  const logged = s.systemCallLog;
  if (logged) {
    const log: SeccompAction = { kind: 'log' };
    out.push([
      'SystemCallLog=',
      {
        defaultAction: logged.allowList ? allow : log,
        rules: logged.names.map((syscall) => ({ syscall, action: logged.allowList ? log : allow })),
      },
    ]);
  }
  return [...out, ...last];
}

/** Why this manager cannot give a process PrivateUsers='s namespace: the kernel refused to make
 * one (`made`), or the maps of uid and gid 0 need CAP_SETUID, CAP_SETGID and (Linux 5.12)
 * CAP_SETFCAP, which the manager lacks. */
function userNamespaceRefusal(made: string | undefined): string | undefined {
  if (made !== undefined) return made;
  const m = /^CapEff:\s*([0-9a-f]+)$/m.exec(readFileSync('/proc/self/status', 'latin1'));
  const eff = m ? BigInt(`0x${m[1]}`) : 0n;
  const missing = [
    [6, 'CAP_SETGID'],
    [7, 'CAP_SETUID'],
    [31, 'CAP_SETFCAP'],
  ].filter(([bit]) => (eff & (1n << BigInt(bit as number))) === 0n);
  if (missing.length === 0) return undefined;
  return `the manager lacks ${missing.map(([, name]) => name).join(', ')} to write the maps of root`;
}

/** Best-effort only: why PrivateUsers= is left out on this machine (undefined: applied). */
export function privateUsersLeftOut(s: SandboxContext): string | undefined {
  if (!s.privateUsers || !(s.bestEffort || managerMode === 'best-effort')) return undefined;
  abilities ??= probe();
  return abilities.userns;
}

let sysAdmin: boolean | undefined;

/** Whether the manager holds CAP_SYS_ADMIN (root in a container may not). */
function hasSysAdmin(): boolean {
  if (sysAdmin === undefined) {
    const m = /^CapEff:\s*([0-9a-f]+)$/m.exec(readFileSync('/proc/self/status', 'latin1'));
    sysAdmin = m ? (BigInt(`0x${m[1]}`) & (1n << 21n)) !== 0n : false;
  }
  return sysAdmin;
}

function nativeName(): string {
  return process.arch === 'x64' ? 'x86-64' : process.arch;
}
