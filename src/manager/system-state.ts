// The manager as a whole, in the words `systemctl is-system-running` uses (starting, running,
// degraded, stopping), and whether it is ready to serve: what an orchestrator's probe
// (/readyz, `sockunit is-system-running`) and an outer manager (STATUS=) are told.

/** systemctl is-system-running's states that a sockunit manager can be in. */
export type SystemState = 'starting' | 'running' | 'degraded' | 'stopping';

/** Where the manager is in its own life: before and during start-up, serving, shutting down. */
export type ManagerPhase = 'starting' | 'running' | 'stopping';

export interface SystemStateFacts {
  phase: ManagerPhase;
  /** Socket units the manager runs: name and active state. */
  sockets: Iterable<{ name: string; activeState: string }>;
  /** Every other unit it runs (services, targets). */
  units: Iterable<{ name: string; activeState: string }>;
  /** Units asked for that did not load (name → reason). */
  broken: ReadonlyMap<string, string>;
  /** --target: the target booted, and whether it is active. */
  target?: { name: string; active: boolean };
}

export interface SystemReport {
  state: SystemState;
  /** Ready to serve: every socket unit listens (none failed to load), and the boot target, if
   * any, is active. A Kubernetes readiness probe's answer. */
  ready: boolean;
  /** Units in the failed state. */
  failed: string[];
  /** Socket units that do not listen (failed, stopped, or did not load), with why. */
  notListening: string[];
  listening: number;
  /** Socket units the manager was asked to run, loaded or not. */
  socketUnits: number;
}

export function systemReport(facts: SystemStateFacts): SystemReport {
  const failed: string[] = [];
  const notListening: string[] = [];
  let listening = 0;
  let socketUnits = 0;
  const seen = new Set<string>();
  for (const s of facts.sockets) {
    seen.add(s.name);
    socketUnits++;
    if (s.activeState === 'active') listening++;
    else notListening.push(`${s.name} (${s.activeState})`);
    if (s.activeState === 'failed') failed.push(s.name);
  }
  for (const [name, reason] of facts.broken)
    if (name.endsWith('.socket') && !seen.has(name)) {
      socketUnits++;
      notListening.push(`${name} (${reason})`);
    }
  for (const u of facts.units) if (u.activeState === 'failed') failed.push(u.name);
  const state: SystemState =
    facts.phase === 'running' ? (failed.length > 0 ? 'degraded' : 'running') : facts.phase;
  const targetUp = facts.target === undefined || facts.target.active;
  const ready = facts.phase === 'running' && notListening.length === 0 && targetUp;
  return { state, ready, failed: failed.sort(), notListening: notListening.sort(), listening, socketUnits };
}

/** One line for STATUS= and logs: `3 of 3 socket units listening; 1 unit failed: a.service`. */
export function systemSummary(r: SystemReport): string {
  if (r.state === 'stopping') return 'Stopping.';
  if (r.state === 'starting') return 'Starting.';
  const failed =
    r.failed.length === 0
      ? ''
      : `; ${r.failed.length} unit${r.failed.length === 1 ? '' : 's'} failed: ${r.failed.join(', ')}`;
  return `${r.listening} of ${r.socketUnits} socket units listening${failed}`;
}
