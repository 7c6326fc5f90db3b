// A service unit's state machine, as systemd's service.c drives it: dead -> start-pre -> start ->
// start-post -> running -> stop-sigterm -> stop-post -> dead/failed, with auto-restart, driven by
// the processes it starts (commands.ts) and the timers it lives under. What its processes tell it
// over sd_notify, and reloads, are added by ServiceUnit (service-unit.ts).

import { describeExit, kill, signalNumber } from '../../sys/process.js';
import type { ServiceUnitConfig } from '../../unit/service-config.js';
import type { ProcessExit, ProcessStarter, RunningProcess } from '../exec/process.js';
import type { Logger } from '../log.js';
import { RateLimit } from '../rate-limit.js';
import { ServiceCommands, stopPostEnvironment, timeoutMs, waitOrTimeout } from './commands.js';
import { FdStore } from './fd-store.js';
import { followForkedDaemon, readPidFile } from './forked-daemon.js';
import { Deadline, WatchdogTimer } from './notify-rules.js';
import { restartsAfter, resultOfExit, type ServiceResult } from './restart-policy.js';
import { type ActiveState, activeStateOf, type ServiceState, type StartRequest } from './states.js';

export interface ServiceUnitOptions {
  config: ServiceUnitConfig;
  log: Logger;
  starter: ProcessStarter;
  managerEnv?: NodeJS.ProcessEnv;
  /** Called on every state change, so sockets can resume listening when the service stops. */
  onStateChange?: (unit: ServiceLifecycle, previous: ServiceState) => void;
  /** The fds for an automatic restart, gathered afresh: a reload may have re-opened the
   * sockets since the last start, whose fds are closed (or reused) by then. */
  restartRequest?: () => StartRequest;
  /** False for Accept=yes instances: their connection is closed once the process has it, so a
   * restart would pass a closed fd number, or one reused by another connection. */
  restartable?: boolean;
  /** The manager's notify socket (NOTIFY_SOCKET), given to the processes NotifyAccess= permits. */
  notifySocket?: string;
  /** Deliver the notify messages queued now; run before a main process's exit is handled. */
  drainNotifications?: () => void;
}

export class ServiceLifecycle {
  readonly name: string;
  config: ServiceUnitConfig;
  state: ServiceState = 'dead';
  result: ServiceResult = 'success';
  stateSince = new Date();
  mainPid: number | undefined;
  lastExit: ProcessExit | undefined;
  statusText: string | undefined;
  starts = 0;
  restarts = 0;
  readonly exits = new Map<string, number>();
  /** Called once the service has come to rest (dead, exited or failed, no restart pending). */
  onSettled: (() => void) | undefined;
  /** fds the service handed over with FDSTORE=1; passed back after the sockets' on each start. */
  readonly fdStore: FdStore;
  /** ERRNO= of the last notification that carried one. */
  statusErrno: number | undefined;
  /** Notify messages taken from this service's processes. */
  notifications = 0;
  /** Starts the unit's commands and tracks their processes. */
  protected readonly commands: ServiceCommands;
  private readonly drainNotifications: (() => void) | undefined;
  /** Type=notify: settles the wait for READY=1 (or the main process's end). */
  protected startWaiter: ((outcome: 'ready' | 'exited') => void) | undefined;
  protected reloadWaiter: (() => void) | undefined;
  /** RELOADING=1 came after the reload signal: only then does READY=1 end the reload. */
  protected reloadingSeen = false;
  /** A restart was asked for (stop then start): FileDescriptorStorePreserve=restart keeps the store. */
  private restartJob = false;
  private forcedResult: ServiceResult | undefined;
  /** The timeout running now (start, reload or stop), which EXTEND_TIMEOUT_USEC= extends. */
  protected deadline: Deadline | undefined;
  protected watchdog: WatchdogTimer | undefined;
  /** The watchdog killed the main process: its end counts as Result `watchdog`. */
  private watchdogFired = false;
  protected main: RunningProcess | undefined;
  protected readonly log: Logger;
  private readonly onStateChange: ((unit: ServiceLifecycle, previous: ServiceState) => void) | undefined;
  private readonly restartRequest: (() => StartRequest) | undefined;
  private readonly restartable: boolean;
  private readonly startLimit: RateLimit;
  private lastRequest: StartRequest | undefined;
  private stopRequested = false;
  private restartTimer: NodeJS.Timeout | undefined;
  private runtimeTimer: NodeJS.Timeout | undefined;
  private stopping: Promise<void> | undefined;

  constructor(options: ServiceUnitOptions) {
    this.config = options.config;
    this.name = options.config.name;
    this.log = options.log;
    this.onStateChange = options.onStateChange;
    this.restartRequest = options.restartRequest;
    this.restartable = options.restartable ?? true;
    this.commands = new ServiceCommands(this, {
      log: options.log,
      starter: options.starter,
      managerEnv: options.managerEnv ?? process.env,
      notifySocket: options.notifySocket,
    });
    this.drainNotifications = options.drainNotifications;
    this.fdStore = new FdStore(options.config.service.fileDescriptorStoreMax);
    this.startLimit = new RateLimit(
      options.config.unit.startLimitIntervalUsec,
      options.config.unit.startLimitBurst,
    );
  }

  /** Best-effort sandboxing: the keys its last start ran without, and why. */
  get sandboxOmitted(): readonly string[] {
    return this.commands.sandboxOmitted;
  }

  get activeState(): ActiveState {
    return activeStateOf(this.state);
  }

  /** True while the service runs or is on its way up: a trigger then starts nothing new. */
  get isActiveOrActivating(): boolean {
    const a = this.activeState;
    return a === 'active' || a === 'activating' || a === 'deactivating';
  }

  /** `force` reports a state again (a refused start of an already failed unit), so the sockets
   * waiting on it learn the outcome. */
  protected setState(next: ServiceState, force = false): void {
    if (next === this.state && !force) return;
    const previous = this.state;
    this.state = next;
    this.stateSince = new Date();
    this.log.debug(`${this.name}: ${previous} -> ${next}`, this.name, { state: next, previous });
    this.armRuntimeLimit(next);
    if (next === 'dead' || next === 'failed' || next === 'auto-restart') this.releaseFdStore(next);
    if (next === 'dead' || next === 'failed') this.commands.releaseSandbox();
    this.onStateChange?.(this, previous);
    if (next === 'dead' || next === 'failed' || next === 'exited') this.onSettled?.();
  }

  /** RuntimeMaxSec=: counted from the moment the service became active (running), as systemd
   * counts it; a oneshot is never held to it. Leaving the active states disarms it. */
  private armRuntimeLimit(next: ServiceState): void {
    const active = next === 'running' || next === 'reload';
    if (!active) {
      clearTimeout(this.runtimeTimer);
      this.runtimeTimer = undefined;
      return;
    }
    const usec = this.config.service.runtimeMaxUsec;
    if (this.runtimeTimer || !Number.isFinite(usec) || this.config.service.type === 'oneshot') return;
    this.runtimeTimer = setTimeout(() => void this.runtimeLimitReached(), Math.max(0, usec / 1000));
  }

  /** systemd's service_enter_stop(s, SERVICE_FAILURE_TIMEOUT): ExecStop=, KillSignal=, and the
   * exit is judged as a timeout, so Restart=on-failure applies. */
  private async runtimeLimitReached(): Promise<void> {
    this.runtimeTimer = undefined;
    const main = this.main;
    if (!main || this.stopping) return;
    this.log.warning(`${this.name}: Service reached runtime time limit. Stopping.`, this.name, {
      result: 'timeout',
    });
    // However the main process ends from here (ExecStop= may end it), the result is a timeout.
    this.forcedResult = 'timeout';
    this.setState('stop');
    for (const cmd of this.config.service.execStop)
      await this.commands.run(cmd, 'ExecStop', undefined, { MAINPID: String(main.pid) });
    if (this.main !== main || this.stopping) return;
    this.setState('stop-sigterm');
    await this.abortMain('timeout', this.config.kill.killSignal.number, this.stopTimeoutMs());
  }

  /** FileDescriptorStorePreserve=: `no` releases the store whenever the service goes down,
   * `restart` (default) keeps it across an automatic or requested restart only, `yes` keeps it
   * as long as the manager runs. */
  private releaseFdStore(next: ServiceState): void {
    if (this.fdStore.size === 0) return;
    const preserve = this.config.service.fileDescriptorStorePreserve;
    if (preserve === 'yes') return;
    if (preserve === 'restart' && (next === 'auto-restart' || this.restartJob)) return;
    this.log.info(`${this.name}: Releasing ${this.fdStore.size} stored file descriptor(s).`, this.name);
    this.fdStore.clear();
  }

  /** Start the service with the given fds. Resolves when it counts as started (or failed). */
  async start(request: StartRequest): Promise<void> {
    if (this.isActiveOrActivating && this.state !== 'auto-restart') return;
    clearTimeout(this.restartTimer);
    if (!this.startLimit.test()) {
      // The result status shows is the one logged, as systemd's: start-limit-hit.
      this.result = 'start-limit-hit';
      this.log.error(`${this.name}: Start request repeated too quickly.`, this.name);
      this.log.error(`${this.name}: Failed with result 'start-limit-hit'.`, this.name, {
        result: 'start-limit-hit',
      });
      this.setState('failed', true);
      return;
    }
    this.beginStart(request);
    const s = this.config.service;
    this.fdStore.max = s.fileDescriptorStoreMax;
    this.commands.sessions.clear();
    try {
      this.setState('start-pre');
      for (const cmd of s.execStartPre)
        if (!(await this.commands.run(cmd, 'ExecStartPre', undefined, undefined, this.startTimeoutMs())))
          return await this.failStart(this.startFailure());
      this.setState('start');
      if (s.type === 'oneshot') {
        for (const cmd of s.execStart)
          if (!(await this.commands.run(cmd, 'ExecStart', request)))
            return await this.failStart(this.startFailure());
        this.setState('start-post');
        for (const cmd of s.execStartPost)
          if (!(await this.commands.run(cmd, 'ExecStartPost')))
            return await this.failStart(this.startFailure());
        this.log.info(`Finished ${this.describe()}.`, this.name);
        await this.afterMainExit(undefined);
        return;
      }
      const cmd = s.execStart[0];
      if (!cmd) return await this.failStart('resources');
      const proc = this.commands.spawn(cmd, request, true);
      this.main = proc;
      this.mainPid = proc.pid;
      this.commands.sessions.add(proc.pid);
      proc.exit.then((exit) => this.onMainExit(proc, exit));
      if (s.watchdogUsec > 0 && s.type !== 'forking') this.startWatchdog(s.watchdogUsec);
      if (s.type === 'notify' || s.type === 'notify-reload') {
        const outcome = await this.waitForReady();
        if (outcome === 'exited') return; // onMainExit handles the failure (and Restart=)
        if (outcome === 'timeout') {
          this.log.warning(`${this.name}: Start operation timed out. Terminating.`, this.name);
          this.setState('stop-sigterm');
          await this.abortMain('timeout', this.config.kill.killSignal.number, this.stopTimeoutMs());
          return;
        }
      }
      if (s.type === 'forking') {
        if (await waitOrTimeout(proc.exit, this.startTimeoutMs())) {
          this.main = undefined; // its exit is ours to handle now, not onMainExit's
          this.mainPid = undefined;
          this.log.warning(`${this.name}: Start operation timed out. Terminating.`, this.name);
          await this.commands.terminate(proc);
          return await this.failStart('timeout');
        }
        const exit = await proc.exit;
        if (exit.code !== 'exited' || exit.status !== 0) return; // onMainExit handles the failure
        if (s.pidFile !== undefined && readPidFile(s.pidFile) === undefined)
          this.log.warning(
            `${this.name}: PID file ${s.pidFile} not readable (yet?) after start; following the process group only.`,
            this.name,
          );
        // What is left runs in the start command's process group (setsid): follow that, so a
        // stop reaches the daemon and its end lets the sockets listen again.
        const daemon = followForkedDaemon(proc.pid, s.pidFile);
        this.main = daemon;
        this.mainPid = daemon.pid;
        daemon.exit.then((e) => this.onMainExit(daemon, e));
      }
      if (s.watchdogUsec > 0 && s.type === 'forking') this.startWatchdog(s.watchdogUsec);
      this.setState('start-post');
      for (const c of s.execStartPost)
        if (!(await this.commands.run(c, 'ExecStartPost', undefined, undefined, this.startTimeoutMs())))
          return await this.failStart(this.startFailure());
      if (this.state === 'start-post') {
        this.setState('running');
        this.log.info(`Started ${this.describe()}.`, this.name, { pid: this.mainPid });
      }
    } catch (err) {
      this.log.error(`${this.name}: ${(err as Error).message}`, this.name);
      await this.failStart('resources');
    }
  }

  /** Accept=yes through the accept thread: the main process already runs (Type=simple/exec,
   * nothing before or after it; accept/plan.ts decides). From here on it is supervised as if
   * `start()` had spawned it. */
  adopt(proc: RunningProcess, request: StartRequest): void {
    this.beginStart(request);
    this.setState('start');
    this.main = proc;
    this.mainPid = proc.pid;
    this.commands.sessions.add(proc.pid);
    proc.exit.then((exit) => this.onMainExit(proc, exit));
    this.setState('running');
    this.log.info(`Started ${this.describe()}.`, this.name, { pid: proc.pid });
  }

  /** The accept thread could not spawn the main process: fail as `start()` fails then. */
  startFailed(message: string, request: StartRequest): void {
    this.beginStart(request);
    this.setState('start');
    this.log.error(`${this.name}: ${message}`, this.name);
    this.fail('resources');
  }

  /** What every start resets, whoever spawns the main process. */
  private beginStart(request: StartRequest): void {
    this.lastRequest = request;
    this.stopRequested = false;
    this.restartJob = false;
    this.commands.timedOut = false;
    this.forcedResult = undefined;
    this.watchdogFired = false;
    // A new run says its own STATUS=, as systemd forgets the last one on start.
    this.statusText = undefined;
    this.statusErrno = undefined;
    this.result = 'success';
    this.starts++;
  }

  /** Type=notify: wait for READY=1 under TimeoutStartSec= (extended by EXTEND_TIMEOUT_USEC=). */
  private async waitForReady(): Promise<'ready' | 'exited' | 'timeout'> {
    const deadline = new Deadline(this.startTimeoutMs());
    this.deadline = deadline;
    const settled = new Promise<'ready' | 'exited'>((resolve) => {
      this.startWaiter = resolve;
    });
    const r = await deadline.race(settled);
    deadline.cancel();
    this.deadline = undefined;
    this.startWaiter = undefined;
    return r === 'timeout' ? 'timeout' : r.value;
  }

  /** End the main process for a reason of ours (watchdog, start timeout, RuntimeMaxSec=): `signal`
   * to its group, then FinalKillSignal= after `killAfterMs` (as a stop's timeout does). Its exit
   * then runs the usual path with `result`, so Restart= applies. */
  private async abortMain(
    result: ServiceResult,
    signal: number,
    killAfterMs: number | undefined,
  ): Promise<void> {
    const main = this.main;
    if (!main) return;
    this.forcedResult = result;
    this.stopWatchdog();
    main.signal(signal, true);
    main.signal(SIGCONT, true);
    if (!(await waitOrTimeout(main.exit, killAfterMs))) return;
    // As a stop that times out: FinalKillSignal= unless SendSIGKILL=no, and a process that
    // survives even that is given up on (systemd goes on to stop-post and forgets it).
    const k = this.config.kill;
    if (!k.sendSIGKILL) {
      this.log.warning(`${this.name}: Processes still around after ${result}. Skipping SIGKILL.`, this.name);
      return this.forgetMain(main);
    }
    this.log.warning(`${this.name}: Processes still around after ${result}. Killing.`, this.name);
    main.signal(k.finalKillSignal.number, k.killMode !== 'process');
    if (await waitOrTimeout(main.exit, killAfterMs)) {
      this.log.warning(`${this.name}: Processes still around after final SIGKILL. Ignoring.`, this.name);
      this.forgetMain(main);
    }
  }

  /** A main process that would not die: no longer ours to wait for; what follows its end
   * (ExecStopPost=, Restart=) runs now, with the result already decided. */
  private forgetMain(main: RunningProcess): void {
    if (this.main !== main) return;
    this.main = undefined;
    this.mainPid = undefined;
    void this.afterMainExit(undefined);
  }

  protected startWatchdog(usec: number): void {
    this.watchdog?.cancel();
    this.watchdog = new WatchdogTimer(usec, () => this.watchdogExpired(false));
  }

  private stopWatchdog(): void {
    this.watchdog?.cancel();
    this.watchdog = undefined;
  }

  protected watchdogExpired(triggered: boolean): void {
    const main = this.main;
    if (!main || this.watchdogFired) return;
    this.watchdogFired = true;
    const usec = this.watchdog?.periodUsec ?? this.config.service.watchdogUsec;
    this.log.error(
      triggered
        ? `${this.name}: Watchdog request (last status: ${this.statusText ?? 'n/a'})!`
        : `${this.name}: Watchdog timeout (limit ${formatSeconds(usec)})!`,
      this.name,
      { result: 'watchdog' },
    );
    const signal = this.config.kill.watchdogSignal;
    this.log.notice(`${this.name}: Killing process ${main.pid} with signal ${signal.name}.`, this.name);
    const s = this.config.service;
    const abortUsec = s.timeoutAbortUsec ?? s.timeoutStopUsec;
    const abortMs = Number.isFinite(abortUsec) && abortUsec > 0 ? abortUsec / 1000 : undefined;
    void this.abortMain('watchdog', signal.number, abortMs);
  }

  protected describe(): string {
    return this.config.unit.description ? `${this.config.unit.description} (${this.name})` : this.name;
  }

  /** TimeoutStartSec= in ms for the start-up commands; undefined when infinite. */
  protected startTimeoutMs(): number | undefined {
    return timeoutMs(this.config.service.timeoutStartUsec);
  }

  private stopTimeoutMs(): number | undefined {
    return timeoutMs(this.config.service.timeoutStopUsec);
  }

  private startFailure(): ServiceResult {
    return this.commands.timedOut ? 'timeout' : 'exit-code';
  }

  private fail(result: ServiceResult): void {
    this.result = result;
    this.log.error(`${this.name}: Failed with result '${result}'.`, this.name, { result });
    this.setState('failed');
  }

  protected onMainExit(proc: RunningProcess, exit: ProcessExit): void {
    if (this.main !== proc) return;
    if (this.config.service.type === 'forking' && this.state === 'start') {
      if (exit.code === 'exited' && exit.status === 0) return;
    }
    // Its last words (READY=1, FDSTORE=1 just before exit(3)) count while it is still the main pid.
    // With NotifyAccess=none none of its processes got NOTIFY_SOCKET: nothing of its to drain.
    if (this.config.service.notifyAccess !== 'none') this.drainNotifications?.();
    if (this.main !== proc) return;
    this.main = undefined;
    this.mainPid = undefined;
    this.stopWatchdog();
    this.startWaiter?.('exited');
    this.lastExit = exit;
    const key = exit.code === 'exited' ? `status=${exit.status}` : `signal=${exit.signal ?? exit.status}`;
    this.exits.set(key, (this.exits.get(key) ?? 0) + 1);
    // systemd's levels: a clean exit is a debug line (the journal shows only "Deactivated
    // successfully."), anything else a notice.
    const level = exit.code === 'exited' && exit.status === 0 ? 'debug' : 'notice';
    this.log.log(level, `${this.name}: Main process exited, ${describeExit(exit)}`, this.name, {
      pid: proc.pid,
      exit,
    });
    void this.afterMainExit(exit);
  }

  private async afterMainExit(exit: ProcessExit | undefined): Promise<void> {
    const classified = resultOfExit(exit, this.config.service);
    // A watchdog abort or a start timeout decides the result, whatever signal ended the process.
    const result = this.forcedResult ?? classified;
    this.forcedResult = undefined;
    if (this.stopping) return; // stop() owns the rest
    if (result !== 'success') this.result = result;
    await this.stopPostThenDead(result, exit);
  }

  /** A start that failed before the service was up (ExecStartPre=, a oneshot's ExecStart= or
   * ExecStartPost= failed or timed out, the main process could not be started). As systemd's
   * stop-sigterm → stop-post → dead path: a running main process is stopped first, ExecStopPost=
   * runs, and Restart= decides what follows, as after any other failure. */
  private async failStart(result: ServiceResult): Promise<void> {
    if (this.main) {
      // Its exit runs ExecStopPost= and Restart= with this result (afterMainExit).
      this.setState('stop-sigterm');
      await this.abortMain(result, this.config.kill.killSignal.number, this.stopTimeoutMs());
      return;
    }
    this.result = result;
    await this.stopPostThenDead(result, undefined);
  }

  /** ExecStopPost=, then auto-restart, dead or failed as Restart= decides (systemd's
   * service_enter_stop_post() → service_enter_dead() with restarts allowed). */
  private async stopPostThenDead(result: ServiceResult, exit: ProcessExit | undefined): Promise<void> {
    const s = this.config.service;
    // RemainAfterExit=: processes that ended well leave the service active (exited), of any
    // Type=, and neither Restart= nor ExecStopPost= follow until it is stopped (systemd's
    // service_enter_running()).
    if (result === 'success' && s.remainAfterExit) {
      this.setState('exited');
      return;
    }
    // A service that started and whose processes then ended well on their own is still stopped
    // as systemd stops it: ExecStop= runs (service_enter_running() -> service_enter_stop()).
    const started = this.state === 'running' || this.state === 'reload' || s.type === 'oneshot';
    if (result === 'success' && started && s.execStop.length > 0) {
      this.setState('stop');
      for (const cmd of s.execStop)
        await this.commands.run(cmd, 'ExecStop', undefined, stopPostEnvironment(this.result, exit));
    }
    this.setState('stop-post');
    for (const cmd of s.execStopPost)
      await this.commands.run(cmd, 'ExecStopPost', undefined, stopPostEnvironment(this.result, exit));
    // A oneshot whose commands all succeeded has no exit to judge: it is done, not restarted.
    const judged = exit !== undefined || result !== 'success';
    const restart = judged && restartsAfter(s, result, exit, this.stopRequested);
    if (restart && !this.restartable)
      this.log.notice(
        `${this.name}: Restart=${s.restart} not applied: an Accept=yes instance's connection is gone once it exits.`,
        this.name,
      );
    if (restart && this.restartable) {
      this.setState('auto-restart');
      const delay = Math.max(0, s.restartUsec / 1000);
      this.log.info(`${this.name}: Scheduled restart job, restart in ${delay} ms.`, this.name);
      this.restartTimer = setTimeout(() => {
        this.restarts++;
        void this.start(this.restartRequest?.() ?? this.lastRequest ?? { fds: [] });
      }, delay);
      return;
    }
    if (result === 'success') {
      // Logged before the state change: it wakes the sockets, whose lines come after.
      this.log.info(`${this.name}: Deactivated successfully.`, this.name);
      this.setState('dead');
    } else {
      this.fail(result);
    }
  }

  /** Stop: ExecStop=, then KillSignal= to the main process (its process group, as KillMode=
   * control-group approximates without cgroups), SIGKILL after TimeoutStopSec=, then ExecStopPost=. */
  async stop(options: { restart?: boolean } = {}): Promise<void> {
    clearTimeout(this.restartTimer);
    this.stopRequested = true;
    this.restartJob = options.restart ?? false;
    if (this.state === 'auto-restart') {
      this.setState('dead');
      return;
    }
    if (!this.main) {
      if (this.state === 'exited') return this.stopExited();
      if (this.state === 'failed') this.setState('dead');
      return;
    }
    if (this.stopping) return this.stopping;
    this.stopping = this.doStop(this.main).finally(() => {
      this.stopping = undefined;
    });
    return this.stopping;
  }

  /** A RemainAfterExit= service whose processes are gone is stopped as systemd stops it:
   * ExecStop=, then ExecStopPost=. */
  private async stopExited(): Promise<void> {
    const s = this.config.service;
    this.setState('stop');
    for (const cmd of s.execStop) await this.commands.run(cmd, 'ExecStop');
    this.setState('stop-post');
    for (const cmd of s.execStopPost)
      await this.commands.run(
        cmd,
        'ExecStopPost',
        undefined,
        stopPostEnvironment(this.result, this.lastExit),
      );
    this.setState('dead');
    this.log.info(`Stopped ${this.describe()}.`, this.name);
  }

  private async doStop(main: RunningProcess): Promise<void> {
    const s = this.config.service;
    const k = this.config.kill;
    this.setState('stop');
    for (const cmd of s.execStop)
      await this.commands.run(cmd, 'ExecStop', undefined, { MAINPID: String(main.pid) });
    this.setState('stop-sigterm');
    // KillMode=none: systemd signals nothing and does not wait; the processes run on, forgotten.
    const ended = k.killMode === 'none' ? false : await this.signalMainAndWait(main);
    const exit = ended ? await main.exit : undefined;
    this.main = undefined;
    this.mainPid = undefined;
    this.stopWatchdog();
    this.setState('stop-post');
    for (const cmd of s.execStopPost)
      await this.commands.run(cmd, 'ExecStopPost', undefined, stopPostEnvironment(this.result, exit));
    // KillMode=mixed: what is left of the service once its main process is gone gets
    // FinalKillSignal= (systemd's final-sigkill, sent to the whole control group). Its process
    // group, not its pid: the pid is free again.
    if (ended && k.killMode === 'mixed' && k.sendSIGKILL)
      try {
        kill(-main.pid, k.finalKillSignal.number);
      } catch {} // nothing left
    this.setState(this.result === 'success' ? 'dead' : 'failed');
    this.log.info(`Stopped ${this.describe()}.`, this.name);
  }

  /** KillSignal= (RestartKillSignal= on a restart), SIGCONT, SIGHUP with SendSIGHUP=, then
   * TimeoutStopSec=; past it FinalKillSignal= (unless SendSIGKILL=no) and TimeoutStopSec= once
   * more, as systemd's stop-sigterm and stop-sigkill states. Whether the main process ended. */
  private async signalMainAndWait(main: RunningProcess): Promise<boolean> {
    const k = this.config.kill;
    // A stop that is half of a restart sends RestartKillSignal= (default: KillSignal=).
    const signal = this.restartJob ? (k.restartKillSignal ?? k.killSignal) : k.killSignal;
    const group = k.killMode === 'control-group';
    main.signal(signal.number, group);
    // systemd follows it with SIGCONT, so a stopped process can act on it, and with SIGHUP
    // when SendSIGHUP=yes (shells and the like), on a plain stop only.
    main.signal(SIGCONT, group);
    if (k.sendSIGHUP && !this.restartJob && signal.number !== SIGHUP) main.signal(SIGHUP, group);
    // EXTEND_TIMEOUT_USEC= may push this out while the service winds down.
    const deadline = new Deadline(this.stopTimeoutMs());
    this.deadline = deadline;
    const timedOut = (await deadline.race(main.exit)) === 'timeout';
    deadline.cancel();
    this.deadline = undefined;
    if (!timedOut) return true;
    this.result = 'timeout';
    if (!k.sendSIGKILL) {
      this.log.warning(`${this.name}: State 'stop-sigterm' timed out. Skipping SIGKILL.`, this.name);
      return false;
    }
    this.log.warning(`${this.name}: State 'stop-sigterm' timed out. Killing.`, this.name);
    this.setState('stop-sigkill');
    main.signal(k.finalKillSignal.number, k.killMode !== 'process');
    if (await waitOrTimeout(main.exit, this.stopTimeoutMs())) {
      // A FinalKillSignal= the process survives: systemd gives up on it too.
      this.log.warning(`${this.name}: Processes still around after final SIGKILL. Ignoring.`, this.name);
      return false;
    }
    return true;
  }
}

/** Seconds as systemd prints a limit: `5s`, `1.500s`. */
export function formatSeconds(usec: number): string {
  const sec = usec / 1_000_000;
  return Number.isInteger(sec) ? `${sec}s` : `${sec.toFixed(3)}s`;
}

const SIGCONT = signalNumber('SIGCONT');
const SIGHUP = signalNumber('SIGHUP');
