// The manager behind `sockunit run`: loads socket units and the services they trigger, opens every
// listener before starting anything, routes traffic to service starts, supervises, reloads on
// SIGHUP and shuts down cleanly on SIGTERM/SIGINT. One broken unit fails alone.

import { signalNumber } from '../sys/process.js';
import { closeQuietly } from '../sys/socket.js';
import { formatDiagnostic } from '../unit/diagnostic.js';
import { listUnitNames, resolveSearchPath, UnitPathIndex } from '../unit/load.js';
import { type LoadedUnit, loadUnit } from '../unit/load-unit.js';
import { parseUnitName } from '../unit/names.js';
import type { ServiceUnitConfig } from '../unit/service-config.js';
import type { SocketUnitConfig } from '../unit/socket-config.js';
import { connectionEnvironment, connectionInstance } from './accept/instance-name.js';
import { acceptPlanFor } from './accept/plan.js';
import type { AcceptPlan } from './accept/protocol.js';
import { acceptThread } from './accept/thread.js';
import { PosixSpawnStarter, type ProcessStarter, type RunningProcess } from './exec/process.js';
import type { Logger } from './log.js';
import {
  belongsTo,
  checkNotifyAccess,
  defaultNotifySocketAddress,
  sessionOf,
} from './service/notify-rules.js';
import { type NotifyMessage, type NotifyRejection, NotifySocket } from './service/notify-socket.js';
import { ServiceUnit } from './service/service-unit.js';
import { socketSpecsFor } from './socket/listen-spec.js';
import type { Port } from './socket/port.js';
import { type AcceptedConnection, SocketUnit, type SpawnEvent } from './socket/socket-unit.js';

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
}

export class Manager {
  readonly sockets = new Map<string, SocketUnit>();
  readonly services = new Map<string, ServiceUnit>();
  /** Units that failed to load, with the reason, for status output. */
  readonly broken = new Map<string, string>();
  private readonly options: ManagerOptions;
  private readonly log: Logger;
  private readonly starter: ProcessStarter;
  private index: UnitPathIndex;
  private stopping = false;
  private notify: NotifySocket | undefined;
  /** sd_notify messages taken, and refused (no such service, NotifyAccess=, malformed). */
  readonly notifyCounts = { accepted: 0, refused: 0 };

  constructor(options: ManagerOptions) {
    this.options = options;
    this.log = options.log;
    this.starter = options.starter ?? new PosixSpawnStarter(options.log);
    this.index = new UnitPathIndex(resolveSearchPath({ override: [...options.unitPath] }));
  }

  private socketNames(): string[] {
    if (this.options.units && this.options.units.length > 0) {
      return this.options.units
        .map((u) => (u.includes('.') ? u : `${u}.socket`))
        .filter((u) => u.endsWith('.socket'));
    }
    return listUnitNames(this.index, ['socket']).filter((n) => !parseUnitName(n).template);
  }

  private load(name: string): LoadedUnit | undefined {
    const unit = loadUnit(name, { searchPath: this.index });
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
      onStateChange: (s) => this.onServiceState(s),
      restartRequest: () => ({ fds: this.socketsOf(service).flatMap((s) => s.passedFds()) }),
      ...this.notifyOptions(),
    });
    this.services.set(config.name, service);
    return service;
  }

  /** The notify socket's address once it is open (what services get as NOTIFY_SOCKET). */
  get notifySocketAddress(): string | undefined {
    return this.notify?.address;
  }

  /** Open the notify socket. Without it services run, but none gets NOTIFY_SOCKET, so a
   * Type=notify service will fail its start timeout: logged as an error. */
  private openNotifySocket(): void {
    const address = this.options.notifySocket ?? defaultNotifySocketAddress();
    const socket = new NotifySocket(address, {
      message: (m) => this.routeNotification(m),
      rejected: (reason, sender) => this.notifyRejected(reason, sender?.pid),
    });
    try {
      socket.open();
      this.notify = socket;
    } catch (err) {
      this.log.error(
        `Cannot open the notify socket ${address}: ${(err as Error).message}; services get no NOTIFY_SOCKET (Type=notify services will time out).`,
      );
    }
  }

  private notifyOptions(): { notifySocket?: string; drainNotifications?: () => void } {
    const notify = this.notify;
    if (!notify) return {};
    return { notifySocket: notify.address, drainNotifications: () => notify.drain() };
  }

  private notifyRejected(reason: NotifyRejection, pid: number | undefined): void {
    this.notifyCounts.refused++;
    const what: Record<NotifyRejection, string> = {
      'no-credentials': 'without sender credentials',
      'too-large': 'larger than 4096 bytes',
      'embedded-nul': 'with an embedded NUL byte',
      'control-truncated': 'with truncated control data (too many fds?)',
    };
    this.log.warning(
      `Got notification message ${what[reason]}${pid !== undefined ? ` from PID ${pid}` : ''}, ignoring.`,
    );
  }

  /** Route a message to the service its sender belongs to, by pid: main pid first, then control
   * processes, then (NotifyAccess=all) the sessions the service's processes run in. */
  private routeNotification(message: NotifyMessage): void {
    const pid = message.sender.pid;
    const services = [...this.services.values()];
    let owner =
      services.find((s) => s.mainPid === pid) ?? services.find((s) => s.notifyPids().controlPids.has(pid));
    let session: number | undefined;
    if (!owner) {
      session = sessionOf(pid);
      owner = services.find((s) => belongsTo(s.notifyPids(), pid, session));
    }
    const refuse = (line: string, unit?: string) => {
      this.notifyCounts.refused++;
      for (const fd of message.fds) closeQuietly(fd);
      this.log.warning(line, unit);
    };
    if (!owner) {
      refuse(`Cannot find unit for notify message of PID ${pid}, ignoring.`);
      return;
    }
    const verdict = checkNotifyAccess(owner.notifyPids(), pid, session ?? sessionOf(pid));
    if (!verdict.accepted) {
      refuse(`${owner.name}: ${verdict.reason}`, owner.name);
      return;
    }
    this.notifyCounts.accepted++;
    owner.handleNotification(message.fields, message.fds, message.sender);
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
    return listening;
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
      mptcpUpgrade: this.upgrades(config.name),
      hooks: {
        trigger: (s) => this.trigger(s),
        connection: (s, conn) => this.startInstance(s, conn),
        acceptPlan: (s) => this.acceptPlan(s),
        adopt: (s, conn, event) => this.adoptInstance(s, conn, event),
      },
    });
    this.sockets.set(config.name, socket);
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
    const fds = units.flatMap((s) => s.passedFds());
    void service.start({ fds });
  }

  private onServiceState(service: ServiceUnit): void {
    if (this.stopping) return;
    const state = service.state;
    if (state === 'running' || state === 'start-pre' || state === 'start' || state === 'start-post') return;
    if (state === 'dead' || state === 'failed' || state === 'auto-restart' || state === 'exited') {
      for (const socket of this.socketsOf(service)) {
        if (state === 'failed' && service.result === 'resources' && service.startLimitHit) {
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
      try {
        await service.start({
          fds: stdinSocket ? [] : [{ fd: conn.fd, name: socket.config.socket.fileDescriptorName }],
          environment: instanceEnvironment(conn),
          ...(stdinSocket ? { connection: conn.fd } : {}),
        });
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
      ...this.notifyOptions(),
    });
    this.services.set(name, service);
    const done = new Promise<void>((resolve) => {
      service.onSettled = resolve;
    });
    try {
      await begin(service);
      if (service.activeState !== 'inactive' && service.activeState !== 'failed') await done;
    } finally {
      this.services.delete(name);
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

  /** SIGHUP: re-read units. Ports whose specs did not change stay open (and keep their queued
   * connections); changed ones are re-opened; removed units are stopped. */
  reload(): void {
    // A reload during shutdown would open (and watch) listeners that the stop already passed.
    if (this.stopping) {
      this.log.notice('Not reloading: stopping.');
      return;
    }
    this.log.info('Reloading.');
    this.index = new UnitPathIndex(resolveSearchPath({ override: [...this.options.unitPath] }));
    this.templates.clear();
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
    this.log.info('Reloading finished.');
  }

  /** SIGTERM/SIGINT: stop watching (a connection arriving meanwhile must not start a service
   * that nobody stops), stop every service with its timeouts, then close every port. */
  async stop(): Promise<void> {
    this.stopping = true;
    for (const socket of this.sockets.values()) socket.quiesce();
    await Promise.all([...this.services.values()].map((s) => s.stop()));
    for (const socket of this.sockets.values()) socket.stop();
    for (const service of this.services.values()) service.fdStore.clear();
    this.notify?.close();
    this.notify = undefined;
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
