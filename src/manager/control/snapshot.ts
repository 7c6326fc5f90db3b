// The manager's objects as plain JSON records for the control socket: what `status`,
// `list-sockets` and `list-units` print. Pure: reads state, changes nothing, opens nothing.

import { describeExit } from '../../sys/process.js';
import type { TargetUnit } from '../jobs/target-unit.js';
import type { LogRecord } from '../log.js';
import type { Manager } from '../manager.js';
import type { ServiceUnit } from '../service/service-unit.js';
import { type Port, portAddress } from '../socket/port.js';
import type { SocketUnit } from '../socket/socket-unit.js';
import type { ConnectionCounts } from './connections.js';

/** One listening port as `list-sockets` shows it. */
export interface ListenRecord {
  listen: string;
  /** systemctl's TYPE: Stream, Datagram, SequentialPacket, Netlink, Special, MessageQueue, FIFO. */
  type: string;
  /** tcp, udp, mptcp, `mptcp->tcp` where MPTCP fell back, `tcp->mptcp` where `--mptcp-upgrade`
   * made a TCP port MPTCP, unix, vsock, or `-`. */
  protocol: string;
  /** Why `--mptcp-upgrade` left this TCP port TCP. */
  notUpgraded?: string;
}

export interface SocketStatus {
  unit: string;
  kind: 'socket';
  description: string;
  /** Documentation= URIs, as `systemctl status` lists them under Docs:. */
  documentation: string[];
  loadState: 'loaded';
  activeState: string;
  subState: string;
  result: string;
  since: string;
  triggers: string;
  accept: boolean;
  listen: ListenRecord[];
  accepted: number;
  connected: number;
  refused: number;
  triggerCount: number;
  /** Live connections on the unit's TCP/MPTCP ports by what they run (absent without such a
   * port), filled in by the control server from the kernel. */
  connections?: ConnectionCounts;
  /** Why a failed socket failed and the command that brings it back, when the result alone does
   * not say it (trigger-limit-hit); null otherwise. */
  hint: string | null;
  logs: LogRecord[];
}

export interface FdStoreStatus {
  count: number;
  limit: number;
  /** Names of the stored fds (FDNAME=); empty until the fd store exists. */
  names: string[];
}

export interface ServiceStatus {
  unit: string;
  kind: 'service';
  description: string;
  /** Documentation= URIs, as `systemctl status` lists them under Docs:. */
  documentation: string[];
  loadState: 'loaded';
  activeState: string;
  subState: string;
  result: string;
  since: string;
  triggeredBy: string[];
  mainPid: number | null;
  lastExit: string | null;
  statusText: string | null;
  /** Sandboxing keys a best-effort start ran without, and why (X-Sockunit-Sandbox=). */
  sandboxLeftOut?: string[];
  fdStore: FdStoreStatus;
  starts: number;
  restarts: number;
  exits: Record<string, number>;
  /** The last start's failed condition or assert, when it failed one. */
  condition?: ConditionStatus | null;
  logs: LogRecord[];
}

export interface TargetStatus {
  unit: string;
  kind: 'target';
  description: string;
  /** Documentation= URIs, as `systemctl status` lists them under Docs:. */
  documentation: string[];
  loadState: 'loaded';
  activeState: string;
  subState: string;
  since: string;
  /** What the target Wants= and Requires=, .wants/ and .requires/ directories included. */
  wants: string[];
  requires: string[];
  job: string | null;
  logs: LogRecord[];
}

/** The last failed Condition*=/Assert*= check of a unit, as `systemctl status` shows it. */
export interface ConditionStatus {
  kind: 'condition' | 'assert';
  at: string;
  /** `ConditionPathExists=/nonexistent`. */
  failed: string;
}

/** A unit that did not load: its reason, nothing else is known. */
export interface BrokenStatus {
  unit: string;
  kind: 'broken';
  loadState: string;
  activeState: 'inactive';
  subState: 'dead';
  reason: string;
  logs: LogRecord[];
}

export type UnitStatus = SocketStatus | ServiceStatus | TargetStatus | BrokenStatus;

export interface SocketRow extends ListenRecord {
  unit: string;
  activates: string;
}

export interface UnitRow {
  unit: string;
  load: string;
  active: string;
  sub: string;
  /** The job running or waiting for the unit (`start`, `stop`), as systemctl's JOB column. */
  job: string;
  description: string;
}

export function portType(port: Port): string {
  const spec = port.spec;
  switch (spec.kind) {
    case 'socket':
      return spec.type === 'stream' ? 'Stream' : spec.type === 'datagram' ? 'Datagram' : 'SequentialPacket';
    case 'fifo':
      return 'FIFO';
    case 'special':
      return 'Special';
    case 'mqueue':
      return 'MessageQueue';
    default:
      return 'Netlink';
  }
}

export function portProtocol(port: Port): string {
  const spec = port.spec;
  if (spec.kind !== 'socket') return '-';
  if (port.fellBack) return 'mptcp->tcp';
  if (port.upgrade?.to === 'mptcp') return 'tcp->mptcp';
  if (spec.protocol) return spec.protocol;
  if (spec.family === 'unix' || spec.family === 'vsock') return spec.family;
  return spec.type === 'stream' ? 'tcp' : spec.type === 'datagram' ? 'udp' : '-';
}

export function listenRecords(socket: SocketUnit): ListenRecord[] {
  return socket.ports.map((p) => {
    const record: ListenRecord = { listen: portAddress(p), type: portType(p), protocol: portProtocol(p) };
    if (p.upgrade?.to === 'tcp') record.notUpgraded = p.upgrade.because;
    return record;
  });
}

function activates(socket: SocketUnit): string {
  return socket.config.socket.accept ? '-' : socket.config.triggers;
}

/** A row per open port, sorted as systemctl sorts: addresses first, then paths; ties by type. */
export function socketRows(manager: Manager): SocketRow[] {
  const rows: SocketRow[] = [];
  for (const socket of manager.sockets.values())
    for (const r of listenRecords(socket))
      rows.push({ ...r, unit: socket.name, activates: activates(socket) });
  const isPath = (r: SocketRow) => r.listen.startsWith('/');
  return rows.sort(
    (a, b) =>
      Number(isPath(a)) - Number(isPath(b)) ||
      a.listen.localeCompare(b.listen) ||
      a.type.localeCompare(b.type) ||
      a.unit.localeCompare(b.unit),
  );
}

/** Every unit the manager knows, broken ones included, by name. */
export function unitRows(manager: Manager): UnitRow[] {
  const jobs = new Map(manager.jobs.list().map((j) => [j.unit, j.type]));
  const rows: UnitRow[] = [];
  for (const s of [...manager.sockets.values(), ...manager.services.values(), ...manager.targets.values()])
    rows.push({
      unit: s.name,
      load: 'loaded',
      active: s.activeState,
      sub: s.state,
      job: jobs.get(s.name) ?? '',
      description: s.config.unit.description,
    });
  for (const [name, reason] of manager.broken)
    if (!manager.sockets.has(name) && !manager.services.has(name) && !manager.targets.has(name))
      rows.push({
        unit: name,
        load: loadStateOf(reason),
        active: 'inactive',
        sub: 'dead',
        job: '',
        description: '',
      });
  return rows.sort((a, b) => a.unit.localeCompare(b.unit));
}

export function targetStatus(
  target: TargetUnit,
  job: string | null,
  logs: readonly LogRecord[] = [],
): TargetStatus {
  return {
    unit: target.name,
    kind: 'target',
    description: target.config.unit.description,
    documentation: [...target.config.unit.documentation],
    loadState: 'loaded',
    activeState: target.activeState,
    subState: target.state,
    since: target.stateSince.toISOString(),
    wants: [...target.config.unit.wants],
    requires: [...target.config.unit.requires],
    job,
    logs: [...logs],
  };
}

function conditionOf(manager: Manager, name: string): ConditionStatus | null {
  const c = manager.jobs.conditionResults.get(name);
  return c ? { kind: c.kind, at: c.at.toISOString(), failed: c.failed } : null;
}

/** The manager keeps a broken unit's reason as `NAME: unit is STATE…`; the state is the word after. */
function loadStateOf(reason: string): string {
  return /: unit is ([a-z-]+)/.exec(reason)?.[1] ?? 'error';
}

export function socketStatus(socket: SocketUnit, logs: readonly LogRecord[] = []): SocketStatus {
  return {
    unit: socket.name,
    kind: 'socket',
    description: socket.config.unit.description,
    documentation: [...socket.config.unit.documentation],
    loadState: 'loaded',
    activeState: socket.activeState,
    subState: socket.state,
    result: socket.result,
    since: socket.stateSince.toISOString(),
    triggers: socket.config.triggers,
    accept: socket.config.socket.accept,
    listen: listenRecords(socket),
    accepted: socket.accepted,
    connected: socket.connected,
    refused: socket.refused,
    triggerCount: socket.triggers,
    hint: socket.failureHint() ?? null,
    logs: [...logs],
  };
}

export function serviceStatus(
  service: ServiceUnit,
  triggeredBy: readonly string[],
  logs: readonly LogRecord[] = [],
): ServiceStatus {
  return {
    unit: service.name,
    kind: 'service',
    description: service.config.unit.description,
    documentation: [...service.config.unit.documentation],
    loadState: 'loaded',
    activeState: service.activeState,
    subState: service.state,
    result: service.result,
    since: service.stateSince.toISOString(),
    triggeredBy: [...triggeredBy],
    mainPid: service.mainPid ?? null,
    lastExit: service.lastExit ? describeExit(service.lastExit) : null,
    statusText: service.statusText ?? null,
    ...(service.sandboxOmitted.length > 0 ? { sandboxLeftOut: [...service.sandboxOmitted] } : {}),
    fdStore: {
      count: service.fdStore.size,
      limit: service.config.service.fileDescriptorStoreMax,
      names: service.fdStore.list().map((f) => f.name),
    },
    starts: service.starts,
    restarts: service.restarts,
    exits: Object.fromEntries(service.exits),
    logs: [...logs],
  };
}

/** The socket units that trigger `service` (Sockets= included), by name. */
export function triggeredBy(manager: Manager, service: ServiceUnit): string[] {
  return manager.socketsOf(service).map((s) => s.name);
}

/** One unit's status by name, or undefined when the manager does not know it. */
export function unitStatus(
  manager: Manager,
  name: string,
  logs: readonly LogRecord[] = [],
): UnitStatus | undefined {
  const socket = manager.sockets.get(name);
  if (socket) return socketStatus(socket, logs);
  const service = manager.services.get(name);
  if (service)
    return {
      ...serviceStatus(service, triggeredBy(manager, service), logs),
      condition: conditionOf(manager, name),
    };
  const target = manager.targets.get(name);
  if (target)
    return targetStatus(target, manager.jobs.list().find((j) => j.unit === name)?.type ?? null, logs);
  const reason = manager.broken.get(name);
  if (reason !== undefined)
    return {
      unit: name,
      kind: 'broken',
      loadState: loadStateOf(reason),
      activeState: 'inactive',
      subState: 'dead',
      reason,
      logs: [...logs],
    };
  return undefined;
}

/** Every unit name in list-units order. */
export function unitNames(manager: Manager): string[] {
  return unitRows(manager).map((r) => r.unit);
}
