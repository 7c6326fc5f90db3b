// How a service's commands run: the main process and every ExecStartPre=/ExecStartPost=/ExecStop=/
// ExecStopPost= command, each with what the unit gives it (fds, environment, user, working
// directory, NOTIFY_SOCKET), control commands run to completion under their timeout, and the
// processes of the service tracked for NotifyAccess= (control pids, sessions).

import type { OwnPidVariable } from '../../sys/listen-pid-helper.js';
import { describeExit, signalNumber } from '../../sys/process.js';
import { type ExecCommand, expandCommandVariables } from '../../unit/exec-command.js';
import type { ServiceUnitConfig } from '../../unit/service-config.js';
import { newInvocationId, serviceEnvironment } from '../exec/environment.js';
import type { ProcessExit, ProcessStarter, RunningProcess } from '../exec/process.js';
import { acquireRuntime, planSandbox, runsOneProcess, type SandboxRuntime } from '../exec/sandbox.js';
import { lookupUser, requireGroup, requireUser, type UserRecord } from '../exec/users.js';
import type { Logger } from '../log.js';
import type { FdStore } from './fd-store.js';
import type { ServiceResult } from './restart-policy.js';
import type { StartRequest } from './states.js';

/** The unit whose commands these are, read afresh on each start (a reload replaces its config). */
export interface CommandOwner {
  readonly name: string;
  readonly config: ServiceUnitConfig;
  readonly mainPid: number | undefined;
  readonly fdStore: FdStore;
}

export interface ServiceCommandsOptions {
  log: Logger;
  starter: ProcessStarter;
  managerEnv: NodeJS.ProcessEnv;
  /** The manager's notify socket (NOTIFY_SOCKET), given to the processes NotifyAccess= permits. */
  notifySocket: string | undefined;
}

export class ServiceCommands {
  /** Control commands running now: NotifyAccess=exec/all lets them talk for the service. */
  readonly controlPids = new Set<number>();
  /** Sessions (setsid: the pids they were started as) of the main process and control commands. */
  readonly sessions = new Set<number>();
  /** The last control command overran its timeout: the start fails with 'timeout'. */
  timedOut = false;
  private readonly owner: CommandOwner;
  private readonly log: Logger;
  private readonly starter: ProcessStarter;
  private readonly managerEnv: NodeJS.ProcessEnv;
  private readonly notifySocket: string | undefined;
  /** PrivateTmp= directories and namespaces the unit's processes share while it runs. */
  private sandboxRuntime: SandboxRuntime | undefined;
  /** Best-effort sandboxing: the keys left out of the last start, and why (shown by status). */
  sandboxOmitted: string[] = [];

  private get name(): string {
    return this.owner.name;
  }

  constructor(owner: CommandOwner, options: ServiceCommandsOptions) {
    this.owner = owner;
    this.log = options.log;
    this.starter = options.starter;
    this.managerEnv = options.managerEnv;
    this.notifySocket = options.notifySocket;
  }

  private resolveUser(cmd: ExecCommand): { user?: UserRecord; gid?: number } {
    const e = this.owner.config.exec;
    if (cmd.fullPrivileges || cmd.noSetCredentials) return {};
    const out: { user?: UserRecord; gid?: number } = {};
    if (e.user !== undefined) {
      out.user = requireUser(e.user);
      out.gid = out.user.gid;
    }
    if (e.group !== undefined) out.gid = requireGroup(e.group);
    return out;
  }

  /** Start one of the unit's commands (`isMain`: the main process, which gets the fds). */
  spawn(
    cmd: ExecCommand,
    request: StartRequest | undefined,
    isMain: boolean,
    extra: Record<string, string> = {},
  ): RunningProcess {
    const e = this.owner.config.exec;
    const { user, gid } = this.resolveUser(cmd);
    const protocol: Record<string, string> = { ...(request?.environment ?? {}), ...extra };
    const s = this.owner.config.service;
    // systemd exports NOTIFY_SOCKET only to the processes whose messages it would accept.
    const access = s.notifyAccess;
    if (this.notifySocket !== undefined && access !== 'none' && (isMain || access !== 'main'))
      protocol.NOTIFY_SOCKET = this.notifySocket;
    // systemd gives every process its own pid as SYSTEMD_EXEC_PID, the main one WATCHDOG_PID
    // with the watchdog, and LISTEN_PID with fds: the exec helper fills them in (the pid is
    // known only after the spawn).
    const ownPid: OwnPidVariable[] = ['SYSTEMD_EXEC_PID'];
    if (isMain && s.watchdogUsec > 0) {
      protocol.WATCHDOG_USEC = String(s.watchdogUsec);
      ownPid.push('WATCHDOG_PID');
    }
    if (isMain && s.fileDescriptorStoreMax > 0) protocol.FDSTORE = String(s.fileDescriptorStoreMax);
    // Stored fds come after the sockets' own, named by FDNAME= (socket-units.md §5.4).
    const fds = isMain && !request?.connection ? [...(request?.fds ?? []), ...this.owner.fdStore.list()] : [];
    if (fds.length > 0) {
      protocol.LISTEN_FDS = String(fds.length);
      protocol.LISTEN_FDNAMES = fds.map((f) => f.name).join(':');
      ownPid.push('LISTEN_PID');
    }
    const env = serviceEnvironment({
      exec: e,
      managerEnv: this.managerEnv,
      ...(user ? { user } : e.user !== undefined ? {} : {}),
      protocol,
      invocationId: newInvocationId(),
    });
    const expanded = expandCommandVariables(cmd, env);
    // systemd starts system services in `/`, not wherever the manager was started.
    let cwd = '/';
    if (e.workingDirectory) {
      cwd =
        e.workingDirectory.path === '~'
          ? (user?.home ?? lookupUser('0')?.home ?? '/')
          : e.workingDirectory.path;
    }
    const sandbox = cmd.fullPrivileges ? undefined : this.sandboxFor(user, gid, cwd);
    return this.starter.start({
      unit: this.name,
      command: expanded,
      env,
      fds: fds.map((f) => f.fd),
      ownPid,
      ...(request?.connection !== undefined && isMain ? { connection: request.connection } : {}),
      standardInput: e.standardInput,
      ...(e.standardOutput !== undefined ? { standardOutput: e.standardOutput } : {}),
      ...(e.standardError !== undefined ? { standardError: e.standardError } : {}),
      nonBlocking: this.owner.config.service.nonBlocking,
      cwd,
      cwdMissingOk: e.workingDirectory?.missingOk ?? false,
      umask: e.umask,
      ...(user ? { uid: user.uid } : {}),
      ...(gid !== undefined ? { gid } : {}),
      ...(sandbox ? { sandbox } : {}),
    });
  }

  /** The sandbox plans for a process of this unit (undefined without sandboxing keys). */
  private sandboxFor(user: UserRecord | undefined, gid: number | undefined, cwd: string) {
    const euid = process.geteuid?.() ?? 0;
    const egid = process.getegid?.() ?? 0;
    this.sandboxRuntime ??= acquireRuntime(this.name, this.owner.config.unit.joinsNamespaceOf);
    const launch = planSandbox({
      unit: this.name,
      sandbox: this.owner.config.sandbox,
      switchesUser: (user !== undefined && user.uid !== euid) || (gid !== undefined && gid !== egid),
      runtime: this.sandboxRuntime,
      cwd,
      // Only an instance of a template (an Accept=yes connection) of one process makes its own
      // namespaces: any other unit may be named by another's JoinsNamespaceOf=.
      singleProcess:
        this.name.includes('@') &&
        runsOneProcess(this.owner.config) &&
        this.owner.config.unit.joinsNamespaceOf.length === 0,
    });
    if (launch && launch.omitted.join() !== this.sandboxOmitted.join()) {
      this.sandboxOmitted = launch.omitted;
      if (launch.omitted.length > 0)
        this.log.warning(
          `${this.name}: sandbox best-effort: running WITHOUT ${launch.omitted.join('; ')}. The kernel refused them; the unit is less protected than its file asks.`,
          this.name,
        );
    }
    return launch;
  }

  /** The unit has stopped: its private /tmp and namespaces go. */
  releaseSandbox(): void {
    this.sandboxRuntime?.release();
    this.sandboxRuntime = undefined;
  }

  /** Run a control command (ExecStartPre=, ExecStop=…) to completion. False when it failed and
   * its `-` prefix does not excuse it. */
  async run(
    cmd: ExecCommand,
    key: string,
    request?: StartRequest,
    extra?: Record<string, string>,
    timeoutMs?: number,
  ): Promise<boolean> {
    let proc: RunningProcess;
    try {
      proc = this.spawn(cmd, request, key === 'ExecStart', extra);
    } catch (err) {
      this.log.error(`${this.name}: ${key}=${cmd.path}: ${(err as Error).message}`, this.name);
      return cmd.ignoreFailure;
    }
    // NotifyAccess=exec/all: a control command may talk for the service while it runs.
    this.controlPids.add(proc.pid);
    this.sessions.add(proc.pid);
    void proc.exit.then(() => {
      this.controlPids.delete(proc.pid);
      if (proc.pid !== this.owner.mainPid) this.sessions.delete(proc.pid);
    });
    if (await waitOrTimeout(proc.exit, timeoutMs)) {
      // A timeout fails the start whatever the `-` prefix says, as in systemd.
      this.log.warning(`${this.name}: ${key}=${cmd.path} timed out. Terminating.`, this.name);
      await this.terminate(proc);
      this.timedOut = true;
      return false;
    }
    const exit = await proc.exit;
    const ok = exit.code === 'exited' && exit.status === 0;
    if (!ok) {
      this.log.log(
        cmd.ignoreFailure ? 'notice' : 'error',
        `${this.name}: ${key}=${cmd.path} exited, ${describeExit(exit)}`,
        this.name,
      );
    }
    return ok || cmd.ignoreFailure;
  }

  /** SIGTERM to the process group, SIGKILL after TimeoutStopSec=: for a command that overran. */
  async terminate(proc: RunningProcess): Promise<void> {
    proc.signal(SIGTERM, true);
    if (await waitOrTimeout(proc.exit, timeoutMs(this.owner.config.service.timeoutStopUsec))) {
      proc.signal(SIGKILL, true);
      await proc.exit;
    }
  }
}

/** What systemd tells ExecStopPost= (and ExecStop=) about the end of the main process. */
export function stopPostEnvironment(
  result: ServiceResult,
  exit: ProcessExit | undefined,
): Record<string, string> {
  const env: Record<string, string> = { SERVICE_RESULT: result };
  if (exit) {
    env.EXIT_CODE = exit.code;
    env.EXIT_STATUS = exit.code === 'exited' ? String(exit.status) : (exit.signal ?? String(exit.status));
  }
  return env;
}

/** A microsecond timeout (TimeoutStartSec=, TimeoutStopSec=…) in ms; undefined when infinite. */
export function timeoutMs(usec: number): number | undefined {
  return Number.isFinite(usec) && usec > 0 ? usec / 1000 : undefined;
}

const SIGTERM = signalNumber('SIGTERM');
const SIGKILL = signalNumber('SIGKILL');

/** True when the timeout passed first. */
export async function waitOrTimeout(p: Promise<unknown>, ms: number | undefined): Promise<boolean> {
  if (ms === undefined) {
    await p;
    return false;
  }
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<true>((resolve) => {
    timer = setTimeout(() => resolve(true), ms);
  });
  const r = await Promise.race([p.then(() => false as const), timeout]);
  clearTimeout(timer);
  return r;
}
