// Room manager/socket/: a socket unit's life — this file (open, watch, trigger, accept, stop), its
// ports and how they are named (port.ts), the socket specs its [Socket] section becomes
// (listen-spec.ts), and the links and files it makes and removes (socket-files.ts). Accept=yes hands connections to the accept room or starts instances here.
//
// One socket unit's life (socket-units.md §4): open every port, watch them, and on traffic either
// start the service with all the unit's fds (Accept=no) or accept and start one instance per
// connection (Accept=yes). States as systemd names them: dead, listening, running, failed.

import { fstatSync } from 'node:fs';
import { isNoMptcpError } from '../../mptcp/probe.js';
import { applyConnectionOptions, type OpenedSocket, openSocket } from '../../net/open.js';
import type { SocketSpec } from '../../net/spec.js';
import { SO_COOKIE, SO_PEERCRED, SO_PEERPIDFD, SOL_SOCKET } from '../../sys/constants.js';
import { hasCode } from '../../sys/errors.js';
import type { SockAddr } from '../../sys/sockaddr.js';
import { accept, closeQuietly, type Fd, getsockname, getsockopt } from '../../sys/socket.js';
import { watchReadable } from '../../sys/watch.js';
import type { SocketUnitConfig } from '../../unit/socket-config.js';
import { formatTimespan } from '../../unit/values.js';
import { sourceKey, type UnixPeer } from '../accept/instance-name.js';
import type { AcceptPlan, ListenerEvent } from '../accept/protocol.js';
import { acceptThread } from '../accept/thread.js';
import type { Logger } from '../log.js';
import { RateLimit } from '../rate-limit.js';
import type { InheritedFds, InheritedPort } from './inherited-fds.js';
import { socketSpecsFor } from './listen-spec.js';
import { decideUpgrade, isUpgradable, type PortUpgrade } from './mptcp-upgrade.js';
import { describePort, type Port, portAddress, protocolLabel } from './port.js';
import { createSymlinks, removeOwnFiles } from './socket-files.js';

export type SocketState = 'dead' | 'listening' | 'running' | 'failed';
export type SocketResult =
  | 'success'
  | 'resources'
  | 'trigger-limit-hit'
  | 'service-start-limit-hit'
  | 'start-limit-hit';

/** A connection accepted for an Accept=yes unit, handed to the manager to start an instance. */
export interface AcceptedConnection {
  fd: Fd;
  port: Port;
  local: SockAddr;
  remote: SockAddr;
  counter: number;
  cookie?: bigint;
  /** AF_UNIX: the peer's pid/uid (and pidfd inode), for the instance name. */
  unixPeer?: UnixPeer;
}

export interface SocketUnitHooks {
  /** Accept=no: start the triggered service (with every triggering unit's fds). */
  trigger(unit: SocketUnit): void;
  /** Accept=yes: start one instance for this connection; the callee owns `conn.fd`. The returned
   * promise settles when the instance has ended, so the live-connection count stays right. */
  connection(unit: SocketUnit, conn: AcceptedConnection): Promise<void>;
  /** Accept=yes: how the accept thread may start this unit's instances; undefined when the main
   * thread must accept and start them (accept/plan.ts). */
  acceptPlan?(unit: SocketUnit): AcceptPlan | undefined;
  /** Accept=yes: an instance the accept thread spawned, or failed to spawn, for `conn` (whose
   * fd is closed already). Settles when the instance has ended. */
  adopt?(unit: SocketUnit, conn: AcceptedConnection, event: SpawnEvent): Promise<void>;
  /** The unit's state changed (for BindsTo=, OnFailure= and the other dependency reactions). */
  stateChanged?(unit: SocketUnit): void;
}

/** What the accept thread reports about one connection it took. */
export type SpawnEvent = Extract<ListenerEvent, { kind: 'spawned' | 'failed' }>;

export interface SocketUnitOptions {
  config: SocketUnitConfig;
  log: Logger;
  hooks: SocketUnitHooks;
  /** `--mptcp-fallback` on the command line: every MPTCP unit may fall back to TCP. */
  mptcpFallback?: boolean;
  /** Listening fds sockunit was started with: a port that matches one takes it, not a new bind. */
  inherited?: InheritedFds;
  /** `--mptcp-upgrade` covers this unit: its TCP ports open as MPTCP where nothing is lost. */
  mptcpUpgrade?: boolean;
}

/** At most this many accepts per wake-up: an unbounded loop starves the event loop (spawn.md
 * trap 1). */
const ACCEPTS_PER_WAKEUP = 8;

export class SocketUnit {
  readonly name: string;
  config: SocketUnitConfig;
  state: SocketState = 'dead';
  result: SocketResult = 'success';
  stateSince = new Date();
  ports: Port[] = [];
  /** Accept=yes counters, as systemctl status shows them. */
  accepted = 0;
  connected = 0;
  refused = 0;
  triggers = 0;
  private readonly perSource = new Map<string, number>();
  private readonly log: Logger;
  private readonly hooks: SocketUnitHooks;
  private readonly mptcpFallback: boolean;
  private readonly inherited: InheritedFds | undefined;
  private readonly mptcpUpgrade: boolean;
  private triggerLimit: RateLimit;
  private quiesced = false;

  constructor(options: SocketUnitOptions) {
    this.config = options.config;
    this.name = options.config.name;
    this.log = options.log;
    this.hooks = options.hooks;
    this.mptcpFallback = options.mptcpFallback ?? false;
    this.inherited = options.inherited;
    this.mptcpUpgrade = options.mptcpUpgrade ?? false;
    this.triggerLimit = this.newTriggerLimit();
  }

  private newTriggerLimit(): RateLimit {
    const s = this.config.socket;
    return new RateLimit(s.triggerLimitIntervalUsec, s.triggerLimitBurst);
  }

  get activeState(): 'inactive' | 'active' | 'failed' {
    return this.state === 'dead' ? 'inactive' : this.state === 'failed' ? 'failed' : 'active';
  }

  get fellBack(): boolean {
    return this.ports.some((p) => p.fellBack);
  }

  private setState(next: SocketState): void {
    if (next === this.state) return;
    const previous = this.state;
    this.state = next;
    this.stateSince = new Date();
    this.log.debug(`${this.name}: ${previous} -> ${next}`, this.name, { state: next, previous });
    this.hooks.stateChanged?.(this);
  }

  /** Open every port (all or nothing), then listen. A failure fails this unit only. */
  start(): boolean {
    if (this.state === 'listening' || this.state === 'running') return true;
    this.result = 'success';
    let specs: SocketSpec[];
    try {
      specs = socketSpecsFor(this.config.socket);
    } catch (err) {
      return this.fail('resources', (err as Error).message);
    }
    const opened: Port[] = [];
    for (const spec of specs) {
      try {
        opened.push(this.openPort(spec));
      } catch (err) {
        for (const p of opened) if (!this.inherited?.giveBack(p.fd)) closeQuietly(p.fd);
        return this.fail(
          'resources',
          `Failed to create listening socket (${describePort(spec)}): ${(err as Error).message}`,
        );
      }
    }
    this.ports = opened;
    // A port epoll refuses (a regular file, /dev/null) can never trigger: systemd fails the unit
    // ("Failed to watch listening fds"), and so does this, before anything is announced.
    try {
      this.armAll();
    } catch (err) {
      return this.fail('resources', `Failed to watch listening fds: ${(err as Error).message}`);
    }
    createSymlinks(this.ports, this.config.socket.symlinks, (m) =>
      this.log.warning(`${this.name}: ${m}`, this.name),
    );
    for (const port of this.ports) {
      const how = port.fellBack
        ? 'MPTCP->TCP'
        : port.upgrade?.to === 'mptcp'
          ? 'TCP->MPTCP'
          : protocolLabel(port.spec);
      this.log.info(`Listening on ${this.name} (${how} ${portAddress(port)}).`, this.name, {
        listen: portAddress(port),
        protocol: how.toLowerCase(),
      });
    }
    this.setState('listening');
    return true;
  }

  /** Keep listeners that are open already (reload: no connection is refused meanwhile). */
  adopt(ports: Port[]): void {
    this.ports = ports;
    this.setState('listening');
    this.armAll();
  }

  private openPort(asWritten: SocketSpec): Port {
    const inherited = this.inherited?.take(asWritten);
    if (inherited) return this.inheritedPort(asWritten, inherited);
    const { spec, upgrade: planned } = this.upgraded(asWritten);
    let upgrade = planned;
    let opened: OpenedSocket;
    let fellBack = false;
    try {
      opened = openSocket(spec);
    } catch (err) {
      const mptcp = spec.kind === 'socket' && spec.protocol === 'mptcp';
      if (upgrade?.to === 'mptcp' && isNoMptcpError(err)) {
        // MPTCP went away between the probe and the port (a sysctl): the port opens as written.
        upgrade = this.keptTcp(asWritten, `MPTCP is not available (${(err as Error).message})`);
        opened = openSocket(asWritten);
      } else {
        const allowed = this.mptcpFallback || this.config.socket.mptcpFallback;
        if (!mptcp || !allowed || !isNoMptcpError(err)) throw err;
        this.log.warning(
          `${this.name}: MPTCP is not available (${(err as Error).message}); falling back to TCP as X-Sockunit-MPTCPFallback=/--mptcp-fallback allow. Reports show this port as mptcp->tcp.`,
          this.name,
          { fallback: 'mptcp->tcp' },
        );
        opened = openSocket({ ...spec, protocol: 'tcp' });
        fellBack = true;
      }
    }
    for (const w of opened.warnings) this.log.warning(`${this.name}: ${w.message}`, this.name);
    const s = this.config.socket;
    return {
      spec: opened.spec.kind === 'socket' && fellBack ? { ...opened.spec, protocol: 'mptcp' } : opened.spec,
      fd: opened.fd,
      address: opened.address,
      fellBack,
      ...(upgrade ? { upgrade } : {}),
      watch: undefined,
      pollLimit: new RateLimit(s.pollLimitIntervalUsec, s.pollLimitBurst),
      pauseTimer: undefined,
      node: opened.node,
      links: [],
    };
  }

  /** The outer manager's fd for this port, taken as it is (its options were the outer
   * manager's to set), as systemd takes the fds it gets back across a re-exec. */
  private inheritedPort(spec: SocketSpec, inherited: InheritedPort): Port {
    const { passed, protocolDiffers } = inherited;
    const d = passed.description;
    const fdProtocol = d.kind === 'socket' ? (d.protocol ?? 'unix') : d.kind;
    this.log.info(
      `${this.name}: ${describePort(spec)} is fd ${passed.fd} from the manager that started sockunit (${fdProtocol}); not bound again.`,
      this.name,
    );
    const wantsMptcp = spec.kind === 'socket' && spec.protocol === 'mptcp';
    if (protocolDiffers)
      this.log.warning(
        wantsMptcp
          ? `${this.name}: the unit asks for MPTCP but the inherited fd ${passed.fd} is ${fdProtocol}; it serves ${fdProtocol} (reports show mptcp->tcp). Give the outer manager's socket SocketProtocol=mptcp.`
          : `${this.name}: the inherited fd ${passed.fd} is MPTCP though the unit does not ask for it; it serves MPTCP.`,
        this.name,
      );
    const s = this.config.socket;
    return {
      spec,
      fd: passed.fd,
      address: d.kind === 'socket' ? d.local : undefined,
      fellBack: protocolDiffers && wantsMptcp,
      // Whoever made the file owns it: RemoveOnStop= leaves it to them.
      node: undefined,
      links: [],
      watch: undefined,
      pollLimit: new RateLimit(s.pollLimitIntervalUsec, s.pollLimitBurst),
      pauseTimer: undefined,
    };
  }

  /** `--mptcp-upgrade`: the spec to open for a port as written, and what became of the upgrade. */
  private upgraded(asWritten: SocketSpec): { spec: SocketSpec; upgrade: PortUpgrade | undefined } {
    if (!this.mptcpUpgrade || !isUpgradable(asWritten)) return { spec: asWritten, upgrade: undefined };
    const decision = decideUpgrade(asWritten, this.config.socket.serviceSocketOptions);
    if ('mptcp' in decision) return { spec: decision.mptcp, upgrade: { to: 'mptcp' } };
    return { spec: asWritten, upgrade: this.keptTcp(asWritten, decision.tcp) };
  }

  /** A port the upgrade leaves TCP: one line that says which port and why. */
  private keptTcp(spec: SocketSpec, because: string): PortUpgrade {
    this.log.warning(
      `${this.name}: --mptcp-upgrade: ${describePort(spec)} stays TCP: ${because}.`,
      this.name,
      {
        upgrade: 'tcp',
      },
    );
    return { to: 'tcp', because };
  }

  private armAll(): void {
    for (const port of this.ports) this.arm(port);
  }

  private arm(port: Port): void {
    if (port.pauseTimer || this.quiesced) return;
    if (!port.watch) {
      const plan = this.acceptPlan();
      if (plan) {
        port.watch = acceptThread().watch(port.fd, port.spec, plan, (ev) => this.onAcceptEvent(port, ev));
      } else {
        port.watch = watchReadable(port.fd, () => this.onReadable(port));
      }
    } else {
      port.watch.rearm();
    }
  }

  private plan: AcceptPlan | null | undefined;

  /** Asked once per unit (a reload makes a new SocketUnit, so a new plan). */
  private acceptPlan(): AcceptPlan | undefined {
    if (!this.config.socket.accept || !this.hooks.acceptPlan || !this.hooks.adopt) return undefined;
    if (this.plan === undefined) this.plan = this.hooks.acceptPlan(this) ?? null;
    return this.plan ?? undefined;
  }

  /** Accept=yes through the accept thread: the same bookkeeping and log lines as
   * acceptConnections/handleConnection, after the fact. */
  private onAcceptEvent(port: Port, ev: ListenerEvent): void {
    // Taken by the thread just before a reload handed the port over: the new unit counts it, so
    // instance numbers go on without repeating.
    if (this.successor) {
      this.successor.onAcceptEvent(port, ev);
      return;
    }
    switch (ev.kind) {
      case 'spawned':
      case 'failed': {
        this.triggers++;
        for (const w of ev.warnings) this.log.debug(`${this.name}: ${w}`, this.name);
        const counter = this.accepted++;
        this.connected++;
        const conn: AcceptedConnection = {
          fd: -1,
          port,
          local: ev.local ?? port.address ?? { family: 'unix', path: '' },
          remote: ev.peer,
          counter,
          ...(ev.cookie !== undefined ? { cookie: ev.cookie } : {}),
        };
        const adopt = this.hooks.adopt;
        if (!adopt) return;
        adopt(this, conn, ev)
          .catch((err: unknown) => this.log.error(`${this.name}: ${(err as Error).message}`, this.name))
          .finally(() => {
            this.connected--;
          });
        return;
      }
      case 'refused-source':
        this.triggers++;
        this.refuse(ev.count, ev.source);
        return;
      case 'refused':
        this.triggers++;
        this.refuse(ev.live);
        return;
      case 'poll-limit':
        port.watch?.stop();
        if (this.state === 'listening') this.pause(port, ev.ms);
        return;
      case 'trigger-limit':
        if (this.state === 'listening')
          this.fail('trigger-limit-hit', 'Trigger limit hit, refusing further activation.');
        return;
      case 'accept-error':
        this.log.error(`${this.name}: accept() failed: ${ev.message}`, this.name);
        return;
      default:
        return;
    }
  }

  private disarmAll(): void {
    for (const port of this.ports) port.watch?.stop();
  }

  private onReadable(port: Port): void {
    if (this.state !== 'listening' || this.quiesced) return;
    if (!port.pollLimit.test()) {
      this.pause(port, Math.ceil(port.pollLimit.remainingUsec() / 1000));
      return;
    }
    if (this.config.socket.accept) {
      this.acceptConnections(port);
      if (this.state === 'listening') this.arm(port);
      return;
    }
    if (!this.triggerLimit.test()) {
      this.fail('trigger-limit-hit', 'Trigger limit hit, refusing further activation.');
      return;
    }
    this.triggers++;
    this.disarmAll();
    this.setState('running');
    this.hooks.trigger(this);
  }

  private acceptConnections(port: Port): void {
    for (let i = 0; i < ACCEPTS_PER_WAKEUP; i++) {
      let conn: ReturnType<typeof accept>;
      try {
        conn = accept(port.fd);
      } catch (err) {
        if (hasCode(err, 'ECONNABORTED', 'EINTR', 'EPROTO')) continue;
        this.log.error(`${this.name}: accept() failed: ${(err as Error).message}`, this.name);
        return;
      }
      if (!conn) return;
      if (!this.triggerLimit.test()) {
        closeQuietly(conn.fd);
        this.fail('trigger-limit-hit', 'Trigger limit hit, refusing further activation.');
        return;
      }
      this.triggers++;
      this.handleConnection(port, conn.fd, conn.peer);
    }
  }

  private handleConnection(port: Port, fd: Fd, remote: SockAddr): void {
    const s = this.config.socket;
    const source = sourceKey(remote);
    if (this.connected >= s.maxConnections) {
      closeQuietly(fd);
      this.refuse(this.connected);
      return;
    }
    const fromSource = this.perSource.get(source) ?? 0;
    if (s.maxConnectionsPerSource > 0 && fromSource >= s.maxConnectionsPerSource) {
      closeQuietly(fd);
      this.refuse(fromSource, source);
      return;
    }
    for (const w of applyConnectionOptions(fd, port.spec))
      this.log.debug(`${this.name}: ${w.message}`, this.name);
    const counter = this.accepted++;
    this.connected++;
    this.perSource.set(source, fromSource + 1);
    let local: SockAddr;
    try {
      local = getsockname(fd);
    } catch {
      local = port.address ?? { family: 'unix', path: '' };
    }
    const conn: AcceptedConnection = { fd, port, local, remote, counter };
    try {
      conn.cookie = getsockopt(fd, SOL_SOCKET, SO_COOKIE, 8, 'SO_COOKIE').readBigUInt64LE();
    } catch {}
    if (local.family === 'unix') {
      const peer = unixPeerOf(fd);
      if (peer) conn.unixPeer = peer;
    }
    this.hooks
      .connection(this, conn)
      .catch((err: unknown) => this.log.error(`${this.name}: ${(err as Error).message}`, this.name))
      .finally(() => {
        this.connected--;
        const n = (this.perSource.get(source) ?? 1) - 1;
        if (n <= 0) this.perSource.delete(source);
        else this.perSource.set(source, n);
      });
  }

  /** Another unit triggered the shared service: this unit's fds go with it, so stop watching. */
  pauseForService(): void {
    if (this.state !== 'listening') return;
    this.disarmAll();
    this.setState('running');
  }

  /** A connection closed at once by MaxConnections= (or, with `source`, MaxConnectionsPerSource=):
   * counted and logged as systemd words it. */
  private refuse(count: number, source?: string): void {
    this.refused++;
    const from = source !== undefined ? ` from source ${source}` : '';
    this.log.warning(
      `${this.name}: Too many incoming connections (${count})${from}, dropping connection.`,
      this.name,
    );
  }

  /** PollLimit*= hit: stop watching `port` for the rest of the window. */
  private pause(port: Port, ms: number): void {
    this.log.notice(`${this.name}: Poll limit hit, pausing ${portAddress(port)} for ${ms} ms.`, this.name);
    clearTimeout(port.pauseTimer);
    port.pauseTimer = setTimeout(() => {
      port.pauseTimer = undefined;
      if (this.state === 'listening') this.arm(port);
    }, ms);
  }

  /** Reload: the counters systemctl shows go on from the unit this one replaces, so Accept=yes
   * instance numbers (`foo@N-…`) never repeat, as systemd keeps n_accepted across reloads. */
  inheritCounters(old: SocketUnit): void {
    this.accepted = old.accepted;
    this.refused = old.refused;
    this.triggers = old.triggers;
    old.successor = this;
  }

  /** The unit this one's ports went to on a reload. */
  private successor: SocketUnit | undefined;

  /** Shutdown: stop watching for good, ports still open, until `stop()` closes them. */
  quiesce(): void {
    this.quiesced = true;
    this.disarmAll();
  }

  /** After a reload while the service runs: keep the ports, do not watch them. */
  markRunning(): void {
    this.disarmAll();
    this.setState('running');
  }

  /** The service stopped: listen again (Accept=no). */
  resume(): void {
    if (this.state !== 'running') return;
    this.setState('listening');
    this.armAll();
  }

  /** The service hit its start limit: the socket fails too, as in systemd. */
  serviceFailedToStart(): void {
    this.fail(
      'service-start-limit-hit',
      `${this.config.triggers} hit its start limit (StartLimitBurst=); refusing further activation.`,
    );
  }

  /** The manager could not start what a connection asked for (no template): systemd fails the
   * socket with 'resources'. */
  failToStart(message: string): void {
    if (this.state === 'failed' || this.state === 'dead') return;
    this.fail('resources', message);
  }

  private fail(result: SocketResult, message: string): false {
    this.result = result;
    // Closed before the lines go out: whoever reads "Failed" may connect at once and must be
    // refused.
    this.closePorts();
    this.setState('failed');
    this.log.error(`${this.name}: ${message}`, this.name, { result });
    this.log.error(`${this.name}: Failed with result '${result}'.`, this.name, { result });
    const hint = this.failureHint();
    if (hint) this.log.notice(`${this.name}: ${hint}`, this.name, { result });
    return false;
  }

  /** What made this failed unit fail, when it is not obvious, and what brings it back; shown by
   * the log and `status`. A trigger limit can be hit by any client of an exposed port, and the
   * socket then stays closed until someone acts (as in systemd). */
  failureHint(): string | undefined {
    if (this.state !== 'failed' || this.result !== 'trigger-limit-hit') return undefined;
    const s = this.config.socket;
    const interval = formatTimespan(s.triggerLimitIntervalUsec);
    const what = s.accept ? 'connections' : 'activations';
    const sizing = s.accept
      ? 'For an exposed port raise TriggerLimitBurst= above the connection rate you serve and cap the instances with MaxConnections= and MaxConnectionsPerSource= instead (README: "Accept=yes on an exposed port").'
      : 'Raise TriggerLimitBurst=/TriggerLimitIntervalSec= if the service is expected to be started that often.';
    return `More than ${s.triggerLimitBurst} ${what} within ${interval} (TriggerLimitBurst=${s.triggerLimitBurst}, TriggerLimitIntervalSec=${interval}) closed the port; 'sockunit start ${this.name}' opens it again. ${sizing}`;
  }

  /** Close every port and remove what RemoveOnStop= says. */
  stop(): void {
    this.closePorts();
    this.setState('dead');
  }

  /** Hand the open ports over (reload) without closing them. */
  detachPorts(): Port[] {
    const ports = this.ports;
    for (const p of ports) {
      p.watch?.release();
      p.watch = undefined;
      clearTimeout(p.pauseTimer);
      p.pauseTimer = undefined;
    }
    this.ports = [];
    this.setState('dead');
    return ports;
  }

  private closePorts(): void {
    for (const port of this.ports) {
      clearTimeout(port.pauseTimer);
      if (this.inherited?.giveBack(port.fd)) port.watch?.release();
      else if (port.watch) port.watch.close();
      else closeQuietly(port.fd);
      port.watch = undefined;
    }
    if (this.config.socket.removeOnStop) removeOwnFiles(this.ports);
    this.ports = [];
    this.triggerLimit = this.newTriggerLimit();
  }

  /** The fds to pass, with their LISTEN_FDNAMES names (Accept=no). */
  passedFds(): { fd: Fd; name: string }[] {
    return this.ports.map((p) => ({ fd: p.fd, name: this.config.socket.fileDescriptorName }));
  }
}

/** SO_PEERCRED (and SO_PEERPIDFD's inode where the kernel has it), as systemd 258 puts them in
 * AF_UNIX instance names; undefined when the peer's pid is not visible (another PID namespace). */
function unixPeerOf(fd: Fd): UnixPeer | undefined {
  let pid: number;
  let uid: number;
  try {
    const cred = getsockopt(fd, SOL_SOCKET, SO_PEERCRED, 12, 'SO_PEERCRED');
    pid = cred.readInt32LE(0);
    uid = cred.readUInt32LE(4);
  } catch {
    return undefined;
  }
  if (pid <= 0) return undefined;
  const peer: UnixPeer = { pid, uid };
  try {
    const pidfd = getsockopt(fd, SOL_SOCKET, SO_PEERPIDFD, 4, 'SO_PEERPIDFD').readInt32LE(0);
    try {
      peer.pidfdInode = Number(fstatSync(pidfd, { bigint: true }).ino);
    } finally {
      closeQuietly(pidfd);
    }
  } catch {}
  return peer;
}
