// start/stop/restart/reload of one unit and daemon-reload, with systemd's semantics: stopping a
// socket closes its listeners (its service, if running, keeps running); starting a service
// passes it the fds of every socket unit that triggers it, and those sockets stop watching
// until it stops (the manager's state hook resumes them); reload needs ExecReload=.

import type { Manager } from '../manager.js';
import type { ServiceUnit } from '../service/service-unit.js';
import type { SocketUnit } from '../socket/socket-unit.js';
import { ControlError } from './protocol.js';

export type UnitOperation = 'start' | 'stop' | 'restart' | 'reload';

export interface OperationResult {
  unit: string;
  operation: UnitOperation;
  activeState: string;
  subState: string;
}

type Resolved = { kind: 'socket'; unit: SocketUnit } | { kind: 'service'; unit: ServiceUnit };

/** A name as systemctl takes it: exact, else `NAME.service`, else `NAME.socket`. */
export function resolveUnit(manager: Manager, name: string): Resolved {
  const candidates = name.includes('.') ? [name] : [`${name}.service`, `${name}.socket`];
  for (const n of candidates) {
    const socket = manager.sockets.get(n);
    if (socket) return { kind: 'socket', unit: socket };
    const service = manager.services.get(n);
    if (service) return { kind: 'service', unit: service };
  }
  const broken = candidates.map((n) => manager.broken.get(n)).find((r) => r !== undefined);
  if (broken)
    throw new ControlError(
      'ENOUNIT',
      `Unit ${name} failed to load: ${broken} Fix it, then run 'sockunit daemon-reload'.`,
    );
  throw new ControlError(
    'ENOUNIT',
    `Unit ${name} is not loaded: this manager runs only the socket units it was given and the services they trigger ('sockunit list-units' shows them).`,
  );
}

async function startService(manager: Manager, service: ServiceUnit): Promise<void> {
  if (service.isActiveOrActivating && service.state !== 'auto-restart') return;
  const sockets = manager.socketsOf(service).filter((s) => s.state === 'listening' || s.state === 'running');
  for (const s of sockets) s.pauseForService();
  await service.start({ fds: sockets.flatMap((s) => s.passedFds()) });
  if (service.state === 'failed')
    throw new ControlError(
      'EFAILED',
      `Job for ${service.name} failed (result: ${service.result}). See 'sockunit status ${service.name}' and 'sockunit logs ${service.name}'.`,
    );
}

function startSocket(socket: SocketUnit): void {
  if (socket.state === 'listening' || socket.state === 'running') return;
  if (!socket.start())
    throw new ControlError(
      'EFAILED',
      `Job for ${socket.name} failed (result: ${socket.result}). See 'sockunit status ${socket.name}'.`,
    );
}

export async function controlUnit(
  manager: Manager,
  operation: UnitOperation,
  name: string,
): Promise<OperationResult> {
  const target = resolveUnit(manager, name);
  const unitName = target.unit.name;
  if (
    operation === 'reload' &&
    target.kind === 'service' &&
    target.unit.config.service.type === 'notify-reload'
  ) {
    try {
      await target.unit.reload();
    } catch (err) {
      throw new ControlError('EFAILED', `Failed to reload ${unitName}: ${(err as Error).message}`);
    }
    return { unit: unitName, operation, activeState: target.unit.activeState, subState: target.unit.state };
  }
  if (operation === 'reload') {
    const reloadable = target.kind === 'service' && target.unit.config.service.execReload.length > 0;
    throw new ControlError(
      'ENOTAPPLICABLE',
      reloadable
        ? `Failed to reload ${unitName}: ExecReload= is not run by this manager yet; use 'sockunit restart ${unitName}'.`
        : `Failed to reload ${unitName}: Job type reload is not applicable for unit ${unitName} (no ExecReload=); use restart.`,
    );
  }
  if (target.kind === 'socket') {
    if (operation !== 'start') target.unit.stop();
    if (operation !== 'stop') startSocket(target.unit);
  } else {
    // A restart keeps the fd store (FileDescriptorStorePreserve=restart), a stop does not.
    if (operation !== 'start') await target.unit.stop({ restart: operation === 'restart' });
    if (operation !== 'stop') await startService(manager, target.unit);
  }
  // A reload may have replaced the object meanwhile: report the unit that is there now.
  const now = manager.sockets.get(unitName) ?? manager.services.get(unitName) ?? target.unit;
  return { unit: unitName, operation, activeState: now.activeState, subState: now.state };
}

export interface DaemonReloadResult {
  sockets: number;
  services: number;
  broken: string[];
}

/** Re-read every unit file, as SIGHUP does: unchanged listeners stay open. */
export function daemonReload(manager: Manager): DaemonReloadResult {
  manager.reload();
  return {
    sockets: manager.sockets.size,
    services: manager.services.size,
    broken: [...manager.broken.keys()],
  };
}
