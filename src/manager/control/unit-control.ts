// start/stop/restart/reload of one unit and daemon-reload, with systemd's semantics: every start
// and stop is a transaction of the jobs room (dependencies started and stopped with the unit,
// conditions checked); stopping a socket closes its listeners (its service, if running, keeps
// running); starting a service passes it the fds of every socket unit that triggers it;
// restart stops and starts the unit and the active units that Require=/BindsTo=/are PartOf= it;
// reload runs ExecReload= (or Type=notify-reload's signal) and PropagatesReloadTo=.

import { TransactionFailed } from '../jobs/engine.js';
import type { TargetUnit } from '../jobs/target-unit.js';
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

type Resolved =
  | { kind: 'socket'; unit: SocketUnit }
  | { kind: 'service'; unit: ServiceUnit }
  | { kind: 'target'; unit: TargetUnit };

function loadedAs(manager: Manager, name: string): Resolved | undefined {
  const socket = manager.sockets.get(name);
  if (socket) return { kind: 'socket', unit: socket };
  const service = manager.services.get(name);
  if (service) return { kind: 'service', unit: service };
  const target = manager.targets.get(name);
  if (target) return { kind: 'target', unit: target };
  return undefined;
}

/** A name as systemctl takes it: exact, else `NAME.service`, else `NAME.socket`, else
 * `NAME.target`. A unit that is not loaded yet is loaded (any unit on the path can be started). */
export function resolveUnit(manager: Manager, name: string): Resolved {
  const candidates = name.includes('.') ? [name] : [`${name}.service`, `${name}.socket`, `${name}.target`];
  for (const n of candidates) {
    const known = loadedAs(manager, n);
    if (known) return known;
  }
  for (const n of candidates) {
    const loaded = manager.jobUnit(n);
    if (!('missing' in loaded)) return loadedAs(manager, n) as Resolved;
  }
  const broken = candidates.map((n) => manager.broken.get(n)).find((r) => r !== undefined);
  if (broken && !broken.includes('not-found'))
    throw new ControlError(
      'ENOUNIT',
      `Unit ${name} failed to load: ${broken} Fix it, then run 'sockunit daemon-reload'.`,
    );
  throw new ControlError(
    'ENOUNIT',
    `Unit ${name} not found on this manager's unit path ('sockunit list-units' shows the units it runs).`,
  );
}

function failed(name: string, what: string, result: string): ControlError {
  return new ControlError(
    'EFAILED',
    `Job for ${name} ${what} (result: ${result}). See 'sockunit status ${name}' and 'sockunit logs ${name}'.`,
  );
}

async function run(
  manager: Manager,
  type: 'start' | 'stop',
  name: string,
  options: { restart?: boolean } = {},
): Promise<void> {
  let result: string;
  try {
    result = await manager.jobs.run(type, name, undefined, options);
  } catch (err) {
    if (err instanceof TransactionFailed) throw new ControlError('EFAILED', err.message);
    throw err;
  }
  if (type === 'start' && result !== 'done' && result !== 'skipped')
    throw failed(name, 'failed', result === 'dependency' ? 'dependency' : stateResult(manager, name, result));
}

function stateResult(manager: Manager, name: string, fallback: string): string {
  const r = loadedAs(manager, name);
  return r && r.kind !== 'target' ? r.unit.result : fallback;
}

/** The active units that restart with `name`: those that Require=, BindsTo= or are PartOf= it. */
function restartedWith(manager: Manager, name: string): string[] {
  const out: string[] = [];
  for (const r of [...manager.sockets.values(), ...manager.services.values(), ...manager.targets.values()]) {
    const u = r.config.unit;
    const active = r.activeState === 'active';
    if (active && [u.requires, u.bindsTo, u.partOf].some((l) => l.includes(name))) out.push(r.name);
  }
  return out;
}

export async function controlUnit(
  manager: Manager,
  operation: UnitOperation,
  name: string,
): Promise<OperationResult> {
  const target = resolveUnit(manager, name);
  const unitName = target.unit.name;
  const u = target.unit.config.unit;
  if ((operation === 'start' || operation === 'restart') && u.refuseManualStart)
    throw new ControlError(
      'EREFUSED',
      `Operation refused, unit ${unitName} may be requested by dependency only (it is configured to refuse manual start).`,
    );
  if ((operation === 'stop' || operation === 'restart') && u.refuseManualStop)
    throw new ControlError(
      'EREFUSED',
      `Operation refused, unit ${unitName} may be requested by dependency only (it is configured to refuse manual stop).`,
    );
  if (operation === 'reload') {
    await reloadUnit(manager, target);
  } else if (operation === 'start') {
    await run(manager, 'start', unitName);
  } else if (operation === 'stop') {
    await run(manager, 'stop', unitName);
  } else {
    const dependents = restartedWith(manager, unitName);
    // A restart keeps a service's fd store (FileDescriptorStorePreserve=restart), a stop does not.
    await run(manager, 'stop', unitName, { restart: true });
    await run(manager, 'start', unitName);
    for (const d of dependents) await run(manager, 'start', d);
  }
  // A reload may have replaced the object meanwhile: report the unit that is there now.
  const now = loadedAs(manager, unitName)?.unit ?? target.unit;
  return { unit: unitName, operation, activeState: now.activeState, subState: now.state };
}

async function reloadUnit(manager: Manager, target: Resolved): Promise<void> {
  const unitName = target.unit.name;
  if (target.kind !== 'service')
    throw new ControlError(
      'ENOTAPPLICABLE',
      `Failed to reload ${unitName}: Job type reload is not applicable for unit ${unitName}; use restart.`,
    );
  try {
    await target.unit.reload();
  } catch (err) {
    throw new ControlError('EFAILED', `Failed to reload ${unitName}: ${(err as Error).message}`);
  }
  // PropagatesReloadTo= of this unit, and units that say ReloadPropagatedFrom= it.
  const others = new Set(target.unit.config.unit.propagatesReloadTo);
  for (const s of manager.services.values())
    if (s.config.unit.reloadPropagatedFrom.includes(unitName)) others.add(s.name);
  for (const other of others) {
    const r = loadedAs(manager, other);
    if (r?.kind === 'service' && r.unit.activeState === 'active')
      await r.unit
        .reload()
        .catch((err: unknown) =>
          manager.log.warning(
            `${other}: reload propagated from ${unitName} failed: ${(err as Error).message}`,
            other,
          ),
        );
  }
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
