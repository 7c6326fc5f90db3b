// The manager's objects as plain JSON records for the control socket: what `status`,
// `list-sockets` and `list-units` print. Pure: reads state, changes nothing, opens nothing.

import type { LogRecord } from '../log.js';
import type { Manager } from '../manager.js';
import { describeExit } from '../service/commands.js';
import type { ServiceUnit } from '../service/service-unit.js';
import { type Port, portAddress } from '../socket/port.js';
import type { SocketUnit } from '../socket/socket-unit.js';

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
  loadState: 'loaded';
  activeState: string;
  subState: string;
  result: string;
  since: string;
  triggeredBy: string[];
  mainPid: number | null;
  lastExit: string | null;
  statusText: string | null;
  fdStore: FdStoreStatus;
  starts: number;
  restarts: number;
  exits: Record<string, number>;
  logs: LogRecord[];
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

export type UnitStatus = SocketStatus | ServiceStatus | BrokenStatus;

export interface SocketRow extends ListenRecord {
  unit: string;
  activates: string;
}

export interface UnitRow {
  unit: string;
  load: string;
  active: string;
  sub: string;
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
  const rows: UnitRow[] = [];
  for (const s of manager.sockets.values())
    rows.push({
      unit: s.name,
      load: 'loaded',
      active: s.activeState,
      sub: s.state,
      description: s.config.unit.description,
    });
  for (const s of manager.services.values())
    rows.push({
      unit: s.name,
      load: 'loaded',
      active: s.activeState,
      sub: s.state,
      description: s.config.unit.description,
    });
  for (const [name, reason] of manager.broken)
    if (!manager.sockets.has(name) && !manager.services.has(name))
      rows.push({ unit: name, load: loadStateOf(reason), active: 'inactive', sub: 'dead', description: '' });
  return rows.sort((a, b) => a.unit.localeCompare(b.unit));
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
    loadState: 'loaded',
    activeState: service.activeState,
    subState: service.state,
    result: service.result,
    since: service.stateSince.toISOString(),
    triggeredBy: [...triggeredBy],
    mainPid: service.mainPid ?? null,
    lastExit: service.lastExit ? describeExit(service.lastExit) : null,
    statusText: service.statusText ?? null,
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
  if (service) return serviceStatus(service, triggeredBy(manager, service), logs);
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
