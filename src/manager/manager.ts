// The manager behind `sockunit run`: loads socket units and the services they trigger, opens every
// listener before starting anything, routes traffic to service starts, supervises, reloads on
// SIGHUP and shuts down cleanly on SIGTERM/SIGINT. One broken unit fails alone. Every start and
// stop of a unit with dependencies goes through the jobs room (a transaction, as systemd's);
// `--target` boots a target with everything it wants.

import type { ListenFd } from '../activation/listen-fds.js';
import { describeFd } from '../net/describe.js';
import { signalNumber } from '../sys/process.js';
import { closeQuietly } from '../sys/socket.js';
import { formatDiagnostic } from '../unit/diagnostic.js';
import { unitFileChecksFor } from '../unit/file-trust.js';
import { listUnitNames, resolveSearchPath, type UnitFileChecks, UnitPathIndex } from '../unit/load.js';
import { type LoadedUnit, loadUnit } from '../unit/load-unit.js';
import { parseUnitName, unitType } from '../unit/names.js';
import type { ServiceUnitConfig } from '../unit/service-config.js';
import type { SocketUnitConfig } from '../unit/socket-config.js';
import type { ManagerKind } from '../unit/specifiers.js';
import type { TargetUnitConfig } from '../unit/target-config.js';
import { connectionEnvironment, connectionInstance } from './accept/instance-name.js';
import { acceptPlanFor } from './accept/plan.js';
import type { AcceptPlan } from './accept/protocol.js';
import { acceptThread } from './accept/thread.js';
import { PosixSpawnStarter, type ProcessStarter, type RunningProcess } from './exec/process.js';
import { hostConditionFacts } from './jobs/condition-facts.js';
import { Jobs, type JobUnit, stopInOrder, TransactionFailed } from './jobs/engine.js';
import { hasReactions, Reactions } from './jobs/reactions.js';
import { TargetUnit } from './jobs/target-unit.js';
import { needsTransaction, serviceJobUnit, socketJobUnit, targetJobUnit } from './jobs/units.js';
import type { Logger } from './log.js';
import { NotifyRouter } from './service/notify-router.js';
import { ServiceUnit } from './service/service-unit.js';
import { activeStateOf, type ServiceState } from './service/states.js';
import { InheritedFds } from './socket/inherited-fds.js';
import { socketSpecsFor } from './socket/listen-spec.js';
import type { Port } from './socket/port.js';
import { type AcceptedConnection, SocketUnit, type SpawnEvent } from './socket/socket-unit.js';
import { type ManagerPhase, type SystemReport, systemReport } from './system-state.js';

export interface ManagerOptions {
  /** Unit directories, highest priority first. */
  unitPath: readonly string[];
  /** Socket units to run; all socket units on the path when empty. */
  units?: readonly string[];
  log: Logger;
  mptcpFallback?: boolean;
  /** `--mptcp-upgrade`: `true` for every socket unit, or the socket units named. */
  mptcpUpgrade?: true | readonly string[];
  starter?: ProcessStarter;
  /** NOTIFY_SOCKET for the services (a path or `@abstract`); default `@sockunit/notify/<pid>`. */
  notifySocket?: string;
  /** Boot mode: start this target (and what it wants) instead of every socket unit. */
  target?: string;
  /** Whose unit files these are: specifiers (%h, %t…) expand as this manager's. Default system. */
  unitManager?: ManagerKind;
  /** Listening fds sockunit was started with (LISTEN_FDS): ports that name them take them. */
  inheritedFds?: readonly ListenFd[];
  /** Who may have written the unit files run (unit/file-trust.ts); default: this process's. */
  unitFileChecks?: UnitFileChecks;
}

type Missing = { missing: 'not-found' | 'bad-setting' | 'masked' | 'error' };

export class Manager {
  readonly sockets = new Map<string, SocketUnit>();
  readonly services = new Map<string, ServiceUnit>();
  readonly targets = new Map<string, TargetUnit>();
  /** The start/stop transactions, and the jobs running now. */
  readonly jobs: Jobs;
  /** Each unit as the jobs room sees it; rebuilt when a reload replaces the configs. */
  private readonly jobUnits = new Map<string, JobUnit>();
  /** Waiters for a service's outcome across automatic restarts (see startService). */
  private readonly outcomeWaiters = new Map<ServiceUnit, ((up: boolean) => void)[]>();
  /** BindsTo=, Upholds=, OnFailure=, OnSuccess=, StopWhenUnneeded= acted on. */
  private readonly reactions: Reactions;
  /** Units that failed to load, with the reason, for status output. */
  readonly broken = new Map<string, string>();
  private readonly options: ManagerOptions;
  readonly log: Logger;
  private readonly starter: ProcessStarter;
  private index: UnitPathIndex;
  private stopping = false;
  /** fds from the manager that started sockunit, until ports take them. */
  private readonly inherited: InheritedFds | undefined;
  /** Starting until start() or boot() is done, then running, until stop(). */
  phase: ManagerPhase = 'starting';
  /** The notify socket, and the routing of its messages to services. */
  private readonly notify: NotifyRouter;

  constructor(options: ManagerOptions) {
    this.options = options;
    this.log = options.log;
    this.starter = options.starter ?? new PosixSpawnStarter(options.log);
    this.index = this.newIndex();
    this.notify = new NotifyRouter(this.log, () => this.services.values());
    if (options.inheritedFds && options.inheritedFds.length > 0)
      this.inherited = new InheritedFds(options.inheritedFds);
    this.reactions = new Reactions({
      log: this.log,
      unit: (name) => this.jobUnit(name),
      loaded: () => this.loadedJobUnits(),
      jobs: () => this.jobs,
      sections: () =>
        [...this.sockets.values(), ...this.services.values(), ...this.targets.values()].map(
          (u) => u.config.unit,
        ),
    });
    this.jobs = new Jobs({
      log: this.log,
      unit: (name) => this.jobUnit(name),
      loaded: () => this.loadedJobUnits(),
      facts: () => hostConditionFacts(),
    });
  }

  private newIndex(): UnitPathIndex {
    const checks =
      this.options.unitFileChecks ??
      unitFileChecksFor(process.geteuid?.() ?? 0, process.getegid?.() ?? 0, false);
    return new UnitPathIndex(resolveSearchPath({ override: [...this.options.unitPath] }), checks);
  }

  private socketNames(): string[] {
    if (this.options.units && this.options.units.length > 0) {
      return this.options.units
        .map((u) => (u.includes('.') ? u : `${u}.socket`))
        .filter((u) => u.endsWith('.socket'));
    }
    return listUnitNames(this.index, ['socket']).filter((n) => !parseUnitName(n).template);
  }

  private load(name: string, quietWhenMissing = false): LoadedUnit | undefined {
    const unit = loadUnit(name, { searchPath: this.index, manager: this.options.unitManager ?? 'system' });
    // A name looked up as a dependency or by a command that does not exist is no broken unit.
    if (quietWhenMissing && unit.loadState === 'not-found') return undefined;
    for (const d of unit.diagnostics) {
      const line = formatDiagnostic(d);
      if (d.severity === 'error') this.log.error(line, name);
      else this.log.warning(line, name);
    }
    if (unit.loadState !== 'loaded' || !unit.config) {
      const reason = `${name}: unit is ${unit.loadState}${unit.loadState === 'bad-setting' ? ' (see the errors above)' : ''}; not started.`;
      this.broken.set(name, reason);
      this.log.error(reason, name, { loadState: unit.loadState });
      return undefined;
    }
    this.broken.delete(name);
    return unit;
  }

  private loadService(name: string): ServiceUnit | undefined {
    const existing = this.services.get(name);
    if (existing) return existing;
    const unit = this.load(name);
    if (unit?.config?.type !== 'service') return undefined;
    return this.addService(unit.config);
  }

  private addService(config: ServiceUnitConfig): ServiceUnit {
    const service = new ServiceUnit({
      config,
      log: this.log,
      starter: this.starter,
      onStateChange: (_unit, previous) => this.onServiceState(service, previous),
      restartRequest: () => ({ fds: this.socketsOf(service).flatMap((s) => s.passedFds()) }),
      ...this.notifyOptions(),
    });
    this.services.set(config.name, service);
    this.reactions.unitsChanged();
    return service;
  }

  /** The notify socket's address once it is open (what services get as NOTIFY_SOCKET). */
  get notifySocketAddress(): string | undefined {
    return this.notify.address;
  }

  /** sd_notify messages taken, and refused (no such service, NotifyAccess=, malformed). */
  get notifyCounts(): { accepted: number; refused: number } {
    return this.notify.counts;
  }

  private openNotifySocket(): void {
    this.notify.open(this.options.notifySocket);
  }

  private notifyOptions(): { notifySocket?: string; drainNotifications?: () => void } {
    return this.notify.serviceOptions();
  }

  /** Load every socket unit and open its ports. Returns how many units listen. */
  start(): number {
    this.openNotifySocket();
    for (const name of this.socketNames()) {
      const unit = this.load(name);
      if (unit?.config?.type !== 'socket') continue;
      this.addSocket(unit.config);
    }
    this.checkUpgradeNames();
    // Open everything before anything can start (systemd opens sockets before services).
    let listening = 0;
    for (const socket of this.sockets.values()) if (socket.start()) listening++;
    this.closeUnclaimedFds();
    if (!this.stopping) this.phase = 'running';
    return listening;
  }

  /** An inherited fd that no socket unit names is closed, saying what it was. */
  private closeUnclaimedFds(): void {
    for (const passed of this.inherited?.takeUnclaimed() ?? []) {
      this.log.warning(
        `fd ${passed.fd} (${passed.name}: ${describeFd(passed.description)}) from the manager that started sockunit matches no socket unit's Listen*= (family, type and address); closed.`,
      );
      closeQuietly(passed.fd);
    }
  }

  /** Boot mode: start `target` with everything it wants, as systemd does at boot (its sockets
   * listen before its services start: see jobs/dependencies.ts). Resolves once the target is
   * reached, or its start failed (then false). */
  async boot(target: string): Promise<boolean> {
    this.openNotifySocket();
    try {
      return (await this.jobs.run('start', target)) === 'done';
    } catch (err) {
      if (!(err instanceof TransactionFailed)) throw err;
      this.log.error(err.message, target);
      return false;
    } finally {
      this.closeUnclaimedFds();
      if (!this.stopping) this.phase = 'running';
    }
  }

  /** The whole manager as `systemctl is-system-running` and a readiness probe see it. */
  systemReport(): SystemReport {
    const target = this.options.target;
    return systemReport({
      phase: this.phase,
      sockets: this.sockets.values(),
      units: [...this.services.values(), ...this.targets.values()],
      broken: this.broken,
      ...(target !== undefined
        ? { target: { name: target, active: this.targets.get(target)?.activeState === 'active' } }
        : {}),
    });
  }

  // ---- units as the jobs room sees them ---------------------------------------------------

  /** The unit called `name`, loaded when first asked for (a dependency, `sockunit start`). */
  jobUnit(name: string): JobUnit | Missing {
    const known = this.jobUnits.get(name);
    if (known) return known;
    const socket = this.sockets.get(name);
    const service = socket ? undefined : this.services.get(name);
    const target = socket || service ? undefined : this.targets.get(name);
    let unit: JobUnit | undefined;
    if (socket) unit = socketJobUnit(socket);
    else if (service) unit = serviceJobUnit(service, this);
    else if (target) unit = targetJobUnit(target);
    else {
      let type: string;
      try {
        type = unitType(name);
      } catch {
        return { missing: 'error' };
      }
      if (type !== 'socket' && type !== 'service' && type !== 'target') return { missing: 'error' };
      let loaded = this.load(name, true);
      if (!loaded && !this.broken.has(name)) {
        // Not on the path as it was read: a unit file added since is found without a reload, as
        // systemd re-reads its unit path cache on a miss.
        this.index = this.newIndex();
        loaded = this.load(name, true);
      }
      const config = loaded?.config;
      if (!config) {
        const state =
          loaded?.loadState ?? /: unit is ([a-z-]+)/.exec(this.broken.get(name) ?? '')?.[1] ?? 'not-found';
        return {
          missing: state === 'masked' || state === 'bad-setting' || state === 'not-found' ? state : 'error',
        };
      }
      if (config.type === 'socket') unit = socketJobUnit(this.addSocket(config));
      else if (config.type === 'service') unit = serviceJobUnit(this.addService(config), this);
      else unit = targetJobUnit(this.addTarget(config));
    }
    this.jobUnits.set(name, unit);
    return unit;
  }

  private *loadedJobUnits(): Iterable<JobUnit> {
    for (const name of [...this.sockets.keys(), ...this.services.keys(), ...this.targets.keys()]) {
      const u = this.jobUnit(name);
      if (!('missing' in u)) yield u;
    }
  }

  private addTarget(config: TargetUnitConfig): TargetUnit {
    const target = new TargetUnit(config, this.log, (t) => this.unitChanged(t.name, t.activeState));
    this.targets.set(config.name, target);
    this.reactions.unitsChanged();
    return target;
  }

  /** A service start as the jobs room asks for it (ServiceStarter): with the fds of its sockets,
   * resolving once it is up — across automatic restarts, as systemd keeps a start job pending
   * while the service will restart — or has failed. */
  async startService(s: ServiceUnit): Promise<boolean> {
    if (s.isActiveOrActivating && s.state !== 'auto-restart') return true;
    const sockets = this.socketsOf(s).filter((x) => x.state === 'listening' || x.state === 'running');
    for (const x of sockets) x.pauseForService();
    await s.start({ fds: sockets.flatMap((x) => x.passedFds()) });
    if (s.state === 'auto-restart' || s.state === 'stop-post')
      return new Promise<boolean>((resolve) => {
        const list = this.outcomeWaiters.get(s) ?? [];
        list.push(resolve);
        this.outcomeWaiters.set(s, list);
      });
    return s.state !== 'failed';
  }

  /** Whether `--mptcp-upgrade` covers the socket unit `name`. */
  private upgrades(name: string): boolean {
    const wanted = this.options.mptcpUpgrade;
    return wanted === true || (wanted?.includes(name) ?? false);
  }

  /** A unit named in `--mptcp-upgrade=` that is not loaded is a typo or a missing file: say so. */
  private checkUpgradeNames(): void {
    const wanted = this.options.mptcpUpgrade;
    if (wanted === undefined || wanted === true) return;
    for (const name of wanted)
      if (!this.sockets.has(name))
        this.log.warning(
          `--mptcp-upgrade=${name}: no socket unit of that name is loaded, so nothing is upgraded for it (loaded: ${[...this.sockets.keys()].join(', ') || 'none'}).`,
        );
  }

  private addSocket(config: SocketUnitConfig, ports?: Port[]): SocketUnit {
    const socket = new SocketUnit({
      config,
      log: this.log,
      mptcpFallback: this.options.mptcpFallback ?? false,
      ...(this.inherited ? { inherited: this.inherited } : {}),
      mptcpUpgrade: this.upgrades(config.name),
      hooks: {
        trigger: (s) => this.trigger(s),
        connection: (s, conn) => this.startInstance(s, conn),
        acceptPlan: (s) => this.acceptPlan(s),
        adopt: (s, conn, event) => this.adoptInstance(s, conn, event),
        stateChanged: (s) => this.unitChanged(s.name, s.activeState),
      },
    });
    this.sockets.set(config.name, socket);
    this.reactions.unitsChanged();
    if (ports) socket.adopt(ports);
    if (!config.socket.accept) this.loadService(config.triggers);
    return socket;
  }

  /** The socket units whose fds a service receives: Sockets= first, then every unit that
   * triggers it (sorted by name: systemd leaves the order between units undefined). */
  socketsOf(service: ServiceUnit): SocketUnit[] {
    const out: SocketUnit[] = [];
    for (const name of service.config.service.sockets) {
      const s = this.sockets.get(name);
      if (s && !out.includes(s)) out.push(s);
    }
    const triggering = [...this.sockets.values()]
      .filter((s) => !s.config.socket.accept && s.config.triggers === service.name)
      .sort((a, b) => a.name.localeCompare(b.name));
    for (const s of triggering) if (!out.includes(s)) out.push(s);
    return out;
  }

  private trigger(socket: SocketUnit): void {
    if (this.stopping) return;
    const service = this.loadService(socket.config.triggers);
    if (!service) {
      // Listening again would re-trigger at once on the same pending traffic: systemd fails the
      // socket instead, and a reload after the fix brings it back.
      socket.failToStart(
        `Failed to queue service startup job (Maybe the service file is missing or not a service unit?): ${socket.config.triggers} did not load`,
      );
      return;
    }
    if (service.isActiveOrActivating && service.state !== 'auto-restart') return;
    const units = this.socketsOf(service);
    for (const s of units) if (s !== socket && s.state === 'listening') s.pauseForService();
    if (needsTransaction(service.config)) {
      // Its dependencies first, its conditions checked: the jobs room does both.
      socket.pauseForService();
      this.jobs.run('start', service.name).then(
        (result) => {
          // Skipped (a condition), or a dependency failed: the service never changed state, so,
          // as under systemd, nothing wakes the socket: it stays `running`, not listening, until
          // it is restarted or the service is started by hand. Said, unlike systemd.
          if (result !== 'done' && !service.isActiveOrActivating)
            this.log.notice(
              `${socket.name}: ${service.name} did not start (${result}); the socket stops listening until 'sockunit restart ${socket.name}' or 'sockunit start ${service.name}'.`,
              socket.name,
            );
        },
        (err: unknown) => {
          // The transaction could not be built (a required unit is missing): as systemd, the
          // socket fails, and a reload after the fix brings it back.
          socket.failToStart((err as Error).message);
        },
      );
      return;
    }
    const fds = units.flatMap((s) => s.passedFds());
    void service.start({ fds });
  }

  private onServiceState(service: ServiceUnit, previous: string): void {
    if (!this.stopping) this.settleOutcome(service);
    if (activeOf(previous) !== service.activeState) this.unitChanged(service.name, service.activeState);
    if (this.stopping) return;
    const state = service.state;
    if (state === 'running' || state === 'start-pre' || state === 'start' || state === 'start-post') return;
    if (state === 'dead' || state === 'failed' || state === 'auto-restart' || state === 'exited') {
      for (const socket of this.socketsOf(service)) {
        if (state === 'failed' && service.result === 'start-limit-hit') {
          socket.serviceFailedToStart();
        } else if (state !== 'exited') socket.resume();
      }
    }
  }

  /** Accept=yes: one instance of the template per connection, named as systemd 258 names it. */
  private async startInstance(socket: SocketUnit, conn: AcceptedConnection): Promise<void> {
    if (this.stopping) {
      closeQuietly(conn.fd);
      return;
    }
    const name = instanceName(socket, conn);
    const unit = this.loadInstance(name, socket.config.triggers);
    if (!unit) {
      closeQuietly(conn.fd);
      socket.failToStart(templateMissing(socket));
      return;
    }
    const stdinSocket = unit.exec.standardInput === 'socket';
    await this.superviseInstance(name, unit, async (service) => {
      const start = async (): Promise<boolean> => {
        await service.start({
          fds: stdinSocket ? [] : [{ fd: conn.fd, name: socket.config.socket.fileDescriptorName }],
          environment: instanceEnvironment(conn),
          ...(stdinSocket ? { connection: conn.fd } : {}),
        });
        return service.state !== 'failed';
      };
      try {
        if (!needsTransaction(unit)) await start();
        else {
          // An instance with dependencies or conditions: the jobs room starts what it needs first.
          const instance: JobUnit = { ...serviceJobUnit(service, this), start };
          await this.jobs.run('start', name, instance).catch((err: unknown) => {
            this.log.error((err as Error).message, name);
          });
        }
      } finally {
        closeQuietly(conn.fd);
      }
    });
  }

  /** One Accept=yes instance's ServiceUnit, from `begin` (its start) until it has come to rest. */
  private async superviseInstance(
    name: string,
    unit: ServiceUnitConfig,
    begin: (service: ServiceUnit) => Promise<void> | void,
  ): Promise<void> {
    const service = new ServiceUnit({
      config: unit,
      log: this.log,
      starter: this.starter,
      restartable: false,
      // Only an instance whose template asks for reactions (OnFailure=…) pays for them.
      ...(hasReactions(unit.unit)
        ? {
            onStateChange: (s: { name: string; activeState: string }) =>
              this.unitChanged(s.name, s.activeState),
          }
        : {}),
      ...this.notifyOptions(),
    });
    this.services.set(name, service);
    if (hasReactions(unit.unit)) this.reactions.unitsChanged();

    const done = new Promise<void>((resolve) => {
      service.onSettled = resolve;
    });
    try {
      await begin(service);
      if (service.activeState !== 'inactive' && service.activeState !== 'failed') await done;
    } finally {
      this.services.delete(name);
      this.jobUnits.delete(name);
      this.reactions.forget(name);
    }
  }

  /** Whether the accept thread may start `socket`'s instances, and how (accept/plan.ts). */
  private acceptPlan(socket: SocketUnit): AcceptPlan | undefined {
    if (!this.starter.adopt) return undefined;
    // Only a template that is the same for every instance can have one plan for all of them.
    const template = this.uniformTemplate(socket.config.triggers);
    if (!template) return undefined;
    const plan = acceptPlanFor(
      socket.config,
      socket.ports.map((p) => p.spec),
      template,
      process.env,
    );
    if ('reason' in plan) {
      this.log.debug(`${socket.name}: instances start on the main thread (${plan.reason}).`, socket.name);
      return undefined;
    }
    this.log.debug(`${socket.name}: instances start on the accept thread.`, socket.name);
    return plan;
  }

  /** Accept=yes through the accept thread: the instance runs already (or failed to start);
   * name it, supervise it, log it, as startInstance does for the main thread's starts. */
  private async adoptInstance(
    socket: SocketUnit,
    conn: AcceptedConnection,
    event: SpawnEvent,
  ): Promise<void> {
    const name = instanceName(socket, conn);
    const unit = this.loadInstance(name, socket.config.triggers);
    let proc: RunningProcess | undefined;
    if (event.kind === 'spawned' && this.starter.adopt) {
      const adopted = this.starter.adopt(name, event.pid);
      proc = adopted.proc;
      acceptThread().adopted(event.pid, adopted.reports);
    }
    if (event.kind === 'spawned') acceptThread().registered(event.pid, event.ringSlot);
    if (!unit) {
      proc?.signal(signalNumber('SIGKILL'), true);
      socket.failToStart(templateMissing(socket));
      return;
    }
    const request = { fds: [], environment: instanceEnvironment(conn) };
    await this.superviseInstance(name, unit, (service) => {
      if (!proc) {
        service.startFailed(
          event.kind === 'failed' ? event.message : 'cannot supervise the process',
          request,
        );
        return;
      }
      service.adopt(proc, request);
      // Spawned while the manager began to stop: stop it with the others.
      if (this.stopping) void service.stop();
    });
  }

  private readonly templates = new Map<string, ServiceUnitConfig | null>();

  /** A template without `%` specifiers is the same for every instance: its config, typed once;
   * null when it has specifiers or does not load. */
  private uniformTemplate(template: string): ServiceUnitConfig | null {
    let cached = this.templates.get(template);
    if (cached === undefined) {
      const unit = this.load(template);
      const text = unit?.config ? JSON.stringify(unit.config) : '';
      cached = unit?.config?.type === 'service' && !text.includes('%') ? unit.config : null;
      this.templates.set(template, cached);
    }
    return cached;
  }

  private loadInstance(name: string, template: string): ServiceUnitConfig | undefined {
    const uniform = this.uniformTemplate(template);
    if (uniform) return { ...uniform, name };
    const unit = this.load(name);
    return unit?.config?.type === 'service' ? unit.config : undefined;
  }

  // ---- what a unit's state change sets off (systemd's unit_notify) ------------------------------

  private settleOutcome(service: ServiceUnit): void {
    const waiters = this.outcomeWaiters.get(service);
    if (!waiters) return;
    const a = service.activeState;
    const up = a === 'active';
    if (!up && a !== 'inactive' && a !== 'failed') return;
    this.outcomeWaiters.delete(service);
    for (const w of waiters) w(up);
  }

  /** A unit's active state changed: the reactions other units ask for (jobs/reactions.ts). */
  private unitChanged(name: string, now: string): void {
    if (!this.stopping) this.reactions.changed(name, now);
  }

  /** SIGHUP: re-read units. Ports whose specs did not change stay open (and keep their queued
   * connections); changed ones are re-opened; removed units are stopped. */
  reload(): void {
    // A reload during shutdown would open (and watch) listeners that the stop already passed.
    if (this.stopping) {
      this.log.notice('Not reloading: stopping.');
      return;
    }
    this.log.info('Reloading.');
    this.index = this.newIndex();
    this.templates.clear();
    this.jobUnits.clear();
    this.reactions.unitsChanged();
    const wanted = new Set(this.socketNames());
    for (const [name, socket] of this.sockets) {
      if (!wanted.has(name)) {
        socket.stop();
        this.sockets.delete(name);
        this.log.info(`Stopped ${name} (removed).`, name);
      }
    }
    for (const name of wanted) {
      const unit = this.load(name);
      const old = this.sockets.get(name);
      if (unit?.config?.type !== 'socket') {
        if (old) {
          old.stop();
          this.sockets.delete(name);
        }
        continue;
      }
      const config = unit.config;
      if (old && sameSpecs(old.config, config) && old.state !== 'failed') {
        const wasRunning = old.state === 'running';
        const ports = old.detachPorts();
        this.sockets.delete(name);
        const fresh = this.addSocket(config, ports);
        fresh.inheritCounters(old);
        if (wasRunning) fresh.markRunning();
        continue;
      }
      old?.stop();
      this.sockets.delete(name);
      this.addSocket(config).start();
    }
    for (const [name, service] of this.services) {
      const unit = this.load(name);
      if (unit?.config?.type === 'service') service.config = unit.config;
    }
    for (const [name, target] of this.targets) {
      const unit = this.load(name);
      if (unit?.config?.type === 'target') target.config = unit.config;
    }
    this.log.info('Reloading finished.');
  }

  /** SIGTERM/SIGINT: stop watching (a connection arriving meanwhile must not start a service
   * that nobody stops), stop every service with its timeouts, then close every port. */
  async stop(): Promise<void> {
    this.stopping = true;
    this.phase = 'stopping';
    for (const socket of this.sockets.values()) socket.quiesce();
    // Services and targets stop in the reverse of their start order (After=/Before=).
    const units = [...this.services.keys(), ...this.targets.keys()].flatMap((name) => {
      const u = this.jobUnit(name);
      return 'missing' in u ? [] : [u];
    });
    await stopInOrder(units);
    for (const socket of this.sockets.values()) socket.stop();
    for (const service of this.services.values()) service.fdStore.clear();
    this.notify.close();
  }
}

/** `prefix@N-COOKIE-LOCAL-REMOTE.service`. A socket unit's name is valid (it loaded) and has no
 * instance: its prefix is everything before `.socket`, no parse needed per connection. */
function instanceName(socket: SocketUnit, conn: AcceptedConnection): string {
  return `${socket.name.slice(0, -'.socket'.length)}@${connectionInstance(conn)}.service`;
}

function instanceEnvironment(conn: AcceptedConnection): Record<string, string> {
  return connectionEnvironment(conn.remote, conn.cookie);
}

function activeOf(state: string): string {
  return activeStateOf(state as ServiceState);
}

function templateMissing(socket: SocketUnit): string {
  return `Failed to queue service startup job (Maybe the service file is missing or not a template unit?): ${socket.config.triggers} did not load`;
}

function sameSpecs(a: SocketUnitConfig, b: SocketUnitConfig): boolean {
  try {
    // The service's own socket options decide whether --mptcp-upgrade makes a port MPTCP.
    const serviceOptions = (c: SocketUnitConfig) => c.socket.serviceSocketOptions.join(' ');
    if (serviceOptions(a) !== serviceOptions(b)) return false;
    return JSON.stringify(socketSpecsFor(a.socket)) === JSON.stringify(socketSpecsFor(b.socket));
  } catch {
    return false;
  }
}
