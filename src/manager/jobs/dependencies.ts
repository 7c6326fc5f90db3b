// A unit's dependencies as the transaction reads them: what its [Unit] section says, plus the
// implicit ones systemd adds (systemd.unit(5) "Implicit Dependencies" and "Default Dependencies").
//
// Added here, as systemd adds them:
// - a socket unit is ordered Before= the service it triggers (systemd.socket(5)), which is then
//   ordered after it; a service's Sockets= add Wants= and After= on those sockets;
// - with DefaultDependencies=yes, a target is ordered After= every unit it Wants=/Requires=
//   (systemd.target(5)), a socket Before= sockets.target, and every service with default
//   dependencies after every socket with default dependencies in the same transaction (what
//   systemd gets from services being After=basic.target, which is After=sockets.target).
// Left out, because sockunit has no such world to order against: sysinit.target, basic.target
// and shutdown.target themselves (Requires=/After=/Conflicts=/Before=), slices and mounts
// (RequiresMountsFor=); `verify` and the README say so.

import type { UnitConfig } from '../../unit/load-unit.js';
import { unitType } from '../../unit/names.js';

export interface UnitDependencies {
  name: string;
  type: 'socket' | 'service' | 'target';
  requires: readonly string[];
  requisite: readonly string[];
  wants: readonly string[];
  bindsTo: readonly string[];
  partOf: readonly string[];
  upholds: readonly string[];
  conflicts: readonly string[];
  after: readonly string[];
  before: readonly string[];
  onFailure: readonly string[];
  onSuccess: readonly string[];
  propagatesReloadTo: readonly string[];
  reloadPropagatedFrom: readonly string[];
  propagatesStopTo: readonly string[];
  stopPropagatedFrom: readonly string[];
  stopWhenUnneeded: boolean;
  defaultDependencies: boolean;
}

const unique = (list: readonly string[]): string[] => [...new Set(list)];

/** The dependencies of a loaded unit, its implicit ones included. */
export function dependenciesOf(config: UnitConfig): UnitDependencies {
  const u = config.unit;
  const requires = [...u.requires];
  const wants = [...u.wants];
  const after = [...u.after];
  const before = [...u.before];
  if (config.type === 'socket') {
    // A socket starts (listens) before its service; for Accept=yes the template is no unit.
    if (!config.socket.accept) before.push(config.triggers);
    if (u.defaultDependencies) before.push('sockets.target');
  }
  if (config.type === 'service') {
    for (const socket of config.service.sockets) {
      wants.push(socket);
      after.push(socket);
    }
  }
  if (config.type === 'target' && u.defaultDependencies) after.push(...u.wants, ...u.requires);
  return {
    name: config.name,
    type: config.type,
    requires: unique(requires),
    requisite: unique(u.requisite),
    wants: unique(wants),
    bindsTo: unique(u.bindsTo),
    partOf: unique(u.partOf),
    upholds: unique(u.upholds),
    conflicts: unique(u.conflicts),
    after: unique(after),
    before: unique(before),
    onFailure: unique(u.onFailure),
    onSuccess: unique(u.onSuccess),
    propagatesReloadTo: unique(u.propagatesReloadTo),
    reloadPropagatedFrom: unique(u.reloadPropagatedFrom),
    propagatesStopTo: unique(u.propagatesStopTo),
    stopPropagatedFrom: unique(u.stopPropagatedFrom),
    stopWhenUnneeded: u.stopWhenUnneeded,
    defaultDependencies: u.defaultDependencies,
  };
}

/**
 * The ordering edges among `units`: each [later, earlier] pair where `later` is ordered after
 * `earlier` by either side's After=/Before=, or by the default dependencies that put sockets
 * before services. Built from the lists (O(edges)), not by comparing every pair.
 */
export function orderingEdges(units: readonly UnitDependencies[]): [string, string][] {
  const present = new Set(units.map((u) => u.name));
  const seen = new Set<string>();
  const edges: [string, string][] = [];
  const add = (later: string, earlier: string) => {
    if (later === earlier || !present.has(later) || !present.has(earlier)) return;
    const key = `${later}\0${earlier}`;
    if (seen.has(key)) return;
    seen.add(key);
    edges.push([later, earlier]);
  };
  const sockets: string[] = [];
  const services: string[] = [];
  for (const u of units) {
    for (const name of u.after) add(u.name, name);
    for (const name of u.before) add(name, u.name);
    if (u.defaultDependencies && u.type === 'socket') sockets.push(u.name);
    if (u.defaultDependencies && u.type === 'service') services.push(u.name);
  }
  for (const service of services) for (const socket of sockets) add(service, socket);
  return edges;
}

/** The unit type a name has, for units that did not load. */
export function typeOfName(name: string): string {
  try {
    return unitType(name);
  } catch {
    return 'unknown';
  }
}
