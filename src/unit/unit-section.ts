// The typed [Unit] section shared by every unit type: description, dependencies, ordering, the
// start rate limit, and the conditions (their grammar and evaluation are in conditions.ts).

import type { Condition } from './conditions.js';

export interface UnitSection {
  description: string;
  documentation: string[];
  requires: string[];
  requisite: string[];
  wants: string[];
  bindsTo: string[];
  partOf: string[];
  upholds: string[];
  conflicts: string[];
  before: string[];
  after: string[];
  onFailure: string[];
  onSuccess: string[];
  propagatesReloadTo: string[];
  reloadPropagatedFrom: string[];
  propagatesStopTo: string[];
  stopPropagatedFrom: string[];
  /** Stop the unit when no active unit needs it any more. */
  stopWhenUnneeded: boolean;
  /** Add the implicit dependencies of the unit's type (DefaultDependencies=yes). */
  defaultDependencies: boolean;
  /** Only dependencies may start (or stop) the unit, not `sockunit start`/`stop`. */
  refuseManualStart: boolean;
  refuseManualStop: boolean;
  /** Microseconds; 0 disables start rate limiting. */
  startLimitIntervalUsec: number;
  startLimitBurst: number;
  conditions: Condition[];
  asserts: Condition[];
  /** Units whose private /tmp, network and IPC namespaces this one's processes join. */
  joinsNamespaceOf: string[];
}

export const DEFAULT_START_LIMIT_INTERVAL_USEC = 10_000_000;
export const DEFAULT_START_LIMIT_BURST = 5;

export function defaultUnitSection(): UnitSection {
  return {
    description: '',
    documentation: [],
    requires: [],
    requisite: [],
    wants: [],
    bindsTo: [],
    partOf: [],
    upholds: [],
    conflicts: [],
    before: [],
    after: [],
    onFailure: [],
    onSuccess: [],
    propagatesReloadTo: [],
    reloadPropagatedFrom: [],
    propagatesStopTo: [],
    stopPropagatedFrom: [],
    stopWhenUnneeded: false,
    defaultDependencies: true,
    refuseManualStart: false,
    refuseManualStop: false,
    startLimitIntervalUsec: DEFAULT_START_LIMIT_INTERVAL_USEC,
    startLimitBurst: DEFAULT_START_LIMIT_BURST,
    conditions: [],
    joinsNamespaceOf: [],
    asserts: [],
  };
}
