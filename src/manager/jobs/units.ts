// The manager's units as the jobs room drives them: a socket unit starts when it listens, a
// service when it is up (simple: running; notify: READY=1; oneshot: done), a target at once.

import type { UnitConfig } from '../../unit/load-unit.js';
import type { ServiceUnit } from '../service/service-unit.js';
import type { SocketUnit } from '../socket/socket-unit.js';
import { dependenciesOf } from './dependencies.js';
import type { JobUnit } from './engine.js';
import type { TargetUnit } from './target-unit.js';

function base(
  config: UnitConfig,
): Pick<JobUnit, 'name' | 'dependencies' | 'conditions' | 'asserts' | 'description'> {
  return {
    name: config.name,
    dependencies: dependenciesOf(config),
    conditions: config.unit.conditions,
    asserts: config.unit.asserts,
    description: config.unit.description,
  };
}

export function socketJobUnit(socket: SocketUnit): JobUnit {
  return {
    ...base(socket.config),
    activeState: () => socket.activeState,
    start: async () => socket.start(),
    stop: async () => socket.stop(),
  };
}

export interface ServiceStarter {
  /** Start `service` with the fds of its sockets; resolves when it is up or has failed. */
  startService(service: ServiceUnit): Promise<boolean>;
}

export function serviceJobUnit(service: ServiceUnit, starter: ServiceStarter): JobUnit {
  return {
    ...base(service.config),
    activeState: () => service.activeState,
    start: () => starter.startService(service),
    stop: (restart) => service.stop({ restart: restart === true }),
  };
}

export function targetJobUnit(target: TargetUnit): JobUnit {
  return {
    ...base(target.config),
    activeState: () => target.activeState,
    start: async () => {
      target.start();
      return true;
    },
    stop: async () => target.stop(),
  };
}

/** Whether starting `config` needs the jobs room at all: a unit with no dependency to pull in,
 * no conflict and no condition starts as it always did (the Accept=yes fast path keeps its cost). */
export function needsTransaction(config: UnitConfig): boolean {
  const u = config.unit;
  return (
    u.requires.length > 0 ||
    u.requisite.length > 0 ||
    u.wants.length > 0 ||
    u.bindsTo.length > 0 ||
    u.upholds.length > 0 ||
    u.conflicts.length > 0 ||
    u.conditions.length > 0 ||
    u.asserts.length > 0
  );
}
