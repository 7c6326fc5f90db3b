// RootDirectory= and MountAPIVFS= (systemd.exec(5)): the service runs chrooted into a directory,
// in a mount namespace of its own, with fresh /proc and /sys, the host's /dev (or PrivateDevices='s)
// and an empty /run inside it; the sandboxing keys' paths are inside the root, and so is the
// executable.
//
// The chroot happens in the early plan, as root, but sockunit's own helpers still have to run
// after it (the LISTEN_PID helper, the exec-context helper, the late plan) and they live on the
// host. chroot(2) leaves the working directory where it was, so the early plan enters the host's
// `/` first and the rest of the chain is named by paths relative to it; the late plan then
// enters the service's working directory inside the root, which drops the last reference to the
// host's tree before the service is exec'd. Nothing but sockunit's helpers runs in between.

import { accessSync, constants as fsConstants, lstatSync, readlinkSync, statSync } from 'node:fs';
import { O_CLOEXEC, O_CREAT, O_RDONLY } from '../../sys/constants.js';
import { contextHelperPath } from '../../sys/context-helper.js';
import { listenPidHelperPath } from '../../sys/listen-pid-helper.js';
import { type PlanStep, sandboxHelperPath } from '../../sys/syscall-plan.js';
import { type BindPath, mountsApiVfs, type SandboxContext } from '../../unit/sandbox-config.js';
import { SERVICE_PATH } from './environment.js';
import {
  AT_FDCWD,
  EEXIST,
  ENOENT,
  EXIT_CHDIR,
  EXIT_CHROOT,
  EXIT_NAMESPACE,
  MS_BIND,
  MS_NODEV,
  MS_NOEXEC,
  MS_NOSUID,
  MS_REC,
  MS_STRICTATIME,
} from './plan-constants.js';

/** `path` (absolute, as the service sees it) on the host's tree, for a service in `root`. */
export function inRoot(root: string | undefined, path: string): string {
  if (root === undefined) return path;
  return path === '/' ? root : `${root}${path}`;
}

/** Whether `api` (/dev, /proc, /sys) is there inside the root once the API mounts are made. */
export function apiPresent(s: SandboxContext, root: string, api: string): boolean {
  if (mountsApiVfs(s)) return true;
  try {
    return statSync(inRoot(root, api)).isDirectory();
  } catch {
    return false;
  }
}

/** A mount point made where it is missing, its parents too (as systemd makes them in the root). */
export function mountPointSteps(key: string, path: string, kind: 'directory' | 'file'): PlanStep[] {
  const steps: PlanStep[] = [];
  const parts = path.split('/').filter((p) => p !== '');
  const dirs = kind === 'directory' ? parts.length : parts.length - 1;
  for (let i = 1; i <= dirs; i++)
    steps.push({
      call: 'mkdirat',
      args: [AT_FDCWD, { text: `/${parts.slice(0, i).join('/')}` }, 0o755],
      okErrno: EEXIST,
      failStatus: EXIT_NAMESPACE,
      message: `${key}: cannot make the mount point ${path}`,
    });
  if (kind === 'file')
    steps.push(
      {
        call: 'openat',
        args: [AT_FDCWD, { text: path }, O_RDONLY | O_CREAT | O_CLOEXEC, 0o644],
        saveAs: 'mount-point',
        failStatus: EXIT_NAMESPACE,
        message: `${key}: cannot make the mount point ${path}`,
      },
      {
        call: 'close',
        args: [{ saved: 'mount-point' }],
        failStatus: EXIT_NAMESPACE,
        message: `${key}: close`,
      },
    );
  return steps;
}

/** The mount point of a bind inside the root: a directory or a file, as its source is. */
export function bindPointSteps(key: string, bind: BindPath, destination: string): PlanStep[] {
  let isDir: boolean;
  try {
    isDir = statSync(bind.source).isDirectory();
  } catch {
    return []; // the bind itself fails with the source's ENOENT (or skips it, with `-`)
  }
  return mountPointSteps(key, destination, isDir ? 'directory' : 'file');
}

/** The root as a mount of its own (so ProtectSystem=strict can make it read-only as a whole),
 * then MountAPIVFS='s /proc, /sys, /dev and /run inside it. */
export function rootMountSteps(s: SandboxContext, root: string): PlanStep[] {
  const fail = (key: string, what: string) => ({ failStatus: EXIT_NAMESPACE, message: `${key}: ${what}` });
  const steps: PlanStep[] = [
    {
      call: 'mount',
      args: [{ text: root }, { text: root }, 0, MS_BIND | MS_REC, 0],
      ...fail(`RootDirectory=${root}`, 'cannot bind the root directory onto itself'),
    },
  ];
  if (!mountsApiVfs(s)) return steps;
  const key = 'MountAPIVFS=';
  for (const dir of ['/proc', '/sys', '/dev', '/run'])
    steps.push(...mountPointSteps(key, inRoot(root, dir), 'directory'));
  // A proc of its own, with ProtectProc='s and ProcSubset='s options when they are set.
  const proc: string[] = [];
  if (s.protectProc !== 'default') proc.push(`hidepid=${s.protectProc}`);
  if (s.procSubset === 'pid') proc.push('subset=pid');
  const noSuidDevExec = MS_NOSUID | MS_NODEV | MS_NOEXEC;
  steps.push(
    {
      call: 'mount',
      args: [
        { text: 'proc' },
        { text: inRoot(root, '/proc') },
        { text: 'proc' },
        noSuidDevExec,
        proc.length > 0 ? { text: proc.join(',') } : 0,
      ],
      ...fail(key, `cannot mount /proc in ${root}`),
    },
    {
      call: 'mount',
      args: [{ text: 'sysfs' }, { text: inRoot(root, '/sys') }, { text: 'sysfs' }, noSuidDevExec, 0],
      ...fail(key, `cannot mount /sys in ${root}`),
    },
    {
      call: 'mount',
      args: [
        { text: 'tmpfs' },
        { text: inRoot(root, '/run') },
        { text: 'tmpfs' },
        MS_NOSUID | MS_NODEV | MS_STRICTATIME,
        { text: 'mode=0755' },
      ],
      ...fail(key, `cannot mount a tmpfs on /run in ${root}`),
    },
  );
  // PrivateDevices= makes a /dev of its own there later; otherwise the host's is bound, as systemd does.
  if (!s.privateDevices)
    steps.push({
      call: 'mount',
      args: [{ text: '/dev' }, { text: inRoot(root, '/dev') }, 0, MS_BIND | MS_REC, 0],
      ...fail(key, `cannot bind /dev in ${root}`),
    });
  return steps;
}

/** The early plan's last steps: the host's `/` as working directory (the chain's helpers are
 * named relative to it), then the chroot. */
export function enterRootSteps(root: string): PlanStep[] {
  return [
    {
      call: 'chdir',
      args: [{ text: '/' }],
      failStatus: EXIT_CHDIR,
      message: `RootDirectory=${root}: cannot enter the host's /`,
    },
    {
      call: 'chroot',
      args: [{ text: root }],
      failStatus: EXIT_CHROOT,
      message: `RootDirectory=${root}: chroot failed`,
    },
  ];
}

/** The late plan's first steps: into the root's `/`, then the working directory inside it (a
 * missing one is fine with `-`: the service starts in the root's `/`). Never skipped: until
 * they run, the working directory is the host's. */
export function workingDirectorySteps(cwd: string, missingOk: boolean): PlanStep[] {
  const steps: PlanStep[] = [
    {
      call: 'chdir',
      args: [{ text: '/' }],
      failStatus: EXIT_CHDIR,
      message: 'RootDirectory=: cannot enter the new root',
    },
  ];
  if (cwd !== '/')
    steps.push({
      call: 'chdir',
      args: [{ text: cwd }],
      ...(missingOk ? { okErrno: ENOENT } : {}),
      failStatus: EXIT_CHDIR,
      message: `WorkingDirectory=${cwd}: not found inside RootDirectory=`,
    });
  return steps;
}

/** The chain after the chroot names sockunit's helpers and the late plan relative to the host's
 * `/` (the working directory until the late plan leaves it). argv[0] and the early plan (argv[1])
 * are used before the chroot and stay absolute. */
export function chainInsideRoot(
  chain: { file: string; argv: string[] },
  latePlan: string | undefined,
): { file: string; argv: string[] } {
  const host = new Set<string>();
  const add = (path: () => string | undefined) => {
    try {
      const p = path();
      if (p !== undefined) host.add(p);
    } catch {}
  };
  add(sandboxHelperPath);
  add(listenPidHelperPath);
  add(contextHelperPath);
  if (latePlan !== undefined) host.add(latePlan);
  const argv = chain.argv.map((arg, i) => (i >= 2 && host.has(arg) ? arg.slice(1) : arg));
  return { file: chain.file, argv };
}

/** `path` inside `root` with its symbolic links followed as the service would see them (an
 * absolute link points into the root, not at the host). */
function resolveInside(root: string, path: string): string {
  let rest = path.split('/').filter((p) => p !== '');
  let done: string[] = [];
  for (let hops = 0; rest.length > 0; ) {
    const part = rest.shift() as string;
    if (part === '.') continue;
    if (part === '..') {
      done.pop();
      continue;
    }
    const candidate = [...done, part];
    const onHost = inRoot(root, `/${candidate.join('/')}`);
    let link: string | undefined;
    try {
      if (lstatSync(onHost).isSymbolicLink()) link = readlinkSync(onHost);
    } catch {
      return onHost; // missing: access() says so
    }
    if (link === undefined) {
      done = candidate;
      continue;
    }
    if (++hops > 40) return onHost;
    const target = link.split('/').filter((p) => p !== '');
    if (link.startsWith('/')) done = [];
    rest = [...target, ...rest];
  }
  return inRoot(root, `/${done.join('/')}`);
}

function executableInside(root: string, path: string): boolean {
  try {
    accessSync(resolveInside(root, path), fsConstants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** The executable as the service will exec it inside `root` (a path in the root), looked up
 * there: an absolute path as it is, a bare name in ExecSearchPath= or systemd's search path. */
export function executableInRoot(root: string, path: string, searchPath?: readonly string[]): string {
  if (path.startsWith('/')) {
    if (executableInside(root, path)) return path;
    throw new Error(
      `Failed to locate executable ${path} inside RootDirectory=${root}; the program and its libraries must be in the root`,
    );
  }
  const dirs = searchPath && searchPath.length > 0 ? [...searchPath] : SERVICE_PATH.split(':');
  for (const dir of dirs) if (executableInside(root, `${dir}/${path}`)) return `${dir}/${path}`;
  throw new Error(
    `executable '${path}' not found in ${dirs.join(':')} inside RootDirectory=${root}; write its absolute path in the unit`,
  );
}
