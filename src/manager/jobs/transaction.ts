// The start/stop transaction, as systemd builds one (src/core/transaction.c, simplified to what
// sockunit's units need): from one anchor job, pull in the jobs its dependencies ask for, order
// them by After=/Before=, break ordering cycles by dropping a job nothing requires, and refuse
// what cannot be done (a required unit that does not exist, a Requisite= unit that is not active,
// a cycle of required jobs). Pure: the units' dependencies and states are handed in.

import { orderingEdges, type UnitDependencies } from './dependencies.js';

export type JobType = 'start' | 'stop';

export interface Job {
  unit: string;
  type: JobType;
  /** The anchor, or a job the anchor cannot do without (Requires=/BindsTo= chains): its
   * failure fails the transaction's purpose, and it is never dropped to break a cycle. */
  required: boolean;
  /** Why the job is there: the unit and dependency that pulled it in (undefined: the anchor). */
  pulledBy?: { unit: string; dependency: string };
  /** Jobs that must finish before this one runs (by unit name). */
  waitsFor: string[];
}

export interface TransactionView {
  /** A loaded unit's dependencies, or why there is none. */
  lookup(name: string): UnitDependencies | { missing: 'not-found' | 'bad-setting' | 'masked' | 'error' };
  /** Whether the unit is active or on its way up (then a start job is not needed). */
  isActive(name: string): boolean;
  /** Whether the unit is inactive or failed (then a stop job is not needed). */
  isInactive(name: string): boolean;
  /** Every loaded unit, for the reverse dependencies (who Requires= the unit being stopped). */
  loaded(): Iterable<UnitDependencies>;
  /** False where activity is unknown (verify): Requisite= is then not checked. */
  checksRequisite?: boolean;
}

export interface Transaction {
  anchor: Job;
  /** Every job, the anchor included, in an order that respects `waitsFor`. */
  jobs: Job[];
  /** Things the transaction did that the user should hear about (systemd logs them). */
  notes: string[];
}

export class TransactionError extends Error {
  /** The unit and dependency (key) the failure comes from, when one line is to blame. */
  readonly at: { unit: string; dependency: string } | undefined;
  constructor(message: string, at?: { unit: string; dependency: string }) {
    super(message);
    this.at = at;
  }
}

function isMissing(
  d: UnitDependencies | { missing: string },
): d is { missing: 'not-found' | 'bad-setting' | 'masked' | 'error' } {
  return 'missing' in d;
}

/** Build the transaction for `type` of `anchorName`. Throws TransactionError with systemd's
 * reasons when it cannot be done. */
export function buildTransaction(view: TransactionView, type: JobType, anchorName: string): Transaction {
  const jobs = new Map<string, Job>();
  const deps = new Map<string, UnitDependencies>();
  const notes: string[] = [];

  const anchorDeps = view.lookup(anchorName);
  if (isMissing(anchorDeps))
    throw new TransactionError(`Unit ${anchorName} ${describeMissing(anchorDeps.missing)}.`);

  const add = (
    name: string,
    jobType: JobType,
    required: boolean,
    pulledBy: Job['pulledBy'],
  ): Job | undefined => {
    const d = view.lookup(name);
    if (isMissing(d)) {
      if (required)
        throw new TransactionError(
          `Unit ${name} ${describeMissing(d.missing)}${pulledBy ? ` (${pulledBy.dependency}= of ${pulledBy.unit})` : ''}.`,
          pulledBy,
        );
      notes.push(
        `${pulledBy?.unit ?? anchorName}: ${pulledBy?.dependency ?? 'Wants'}=${name} ignored: unit ${describeMissing(d.missing)}.`,
      );
      return undefined;
    }
    const existing = jobs.get(name);
    if (existing) {
      if (existing.type !== jobType) {
        // Start and stop of the same unit in one transaction: systemd refuses (a conflict).
        if (required || existing.required)
          throw new TransactionError(
            `Transaction for ${anchorName}/${type} is destructive: ${name} would be started and stopped (${describePull(existing)} and ${describePull({ pulledBy })}).`,
          );
        notes.push(
          `${name}/${jobType} dropped: ${name} is also to be ${existing.type === 'start' ? 'started' : 'stopped'}.`,
        );
        return undefined;
      }
      if (required && !existing.required) existing.required = true;
      return undefined;
    }
    deps.set(name, d);
    if (jobType === 'start' && view.isActive(name) && name !== anchorName) return undefined;
    if (jobType === 'stop' && view.isInactive(name) && name !== anchorName) return undefined;
    const job: Job = { unit: name, type: jobType, required, waitsFor: [] };
    if (pulledBy) job.pulledBy = pulledBy;
    jobs.set(name, job);
    return job;
  };

  let conflicts: Map<string, string[]> | undefined;
  const conflictedBy = (): Map<string, string[]> => {
    if (!conflicts) {
      conflicts = new Map();
      for (const other of view.loaded())
        for (const c of other.conflicts) conflicts.set(c, [...(conflicts.get(c) ?? []), other.name]);
    }
    return conflicts;
  };
  const anchor = add(anchorName, type, true, undefined) as Job;
  const queue: Job[] = [anchor];
  const reverse = type === 'stop' ? reverseDependencies(view) : undefined;
  while (queue.length > 0) {
    const job = queue.shift() as Job;
    const d = deps.get(job.unit) as UnitDependencies;
    const pull = (list: readonly string[], dependency: string, jobType: JobType, required: boolean) => {
      for (const name of list) {
        const next = add(name, jobType, required, { unit: job.unit, dependency });
        if (next) queue.push(next);
      }
    };
    if (job.type === 'start') {
      pull(d.requires, 'Requires', 'start', job.required);
      pull(d.bindsTo, 'BindsTo', 'start', job.required);
      pull(d.wants, 'Wants', 'start', false);
      pull(d.upholds, 'Upholds', 'start', false);
      for (const name of view.checksRequisite === false ? [] : d.requisite) {
        if (!view.isActive(name) && !jobs.has(name))
          throw new TransactionError(
            `${job.unit} has Requisite=${name}, and ${name} is not active; start ${name} first.`,
            { unit: job.unit, dependency: 'Requisite' },
          );
      }
      pull(d.conflicts, 'Conflicts', 'stop', job.required);
      // Conflicts= works both ways: units that conflict with this one stop too.
      pull(conflictedBy().get(job.unit) ?? [], 'ConflictedBy', 'stop', job.required);
    } else {
      // Units that cannot be without this one stop with it (reverse Requires=/BindsTo=, PartOf=).
      for (const dependency of ['Requires', 'BindsTo', 'PartOf', 'StopPropagatedFrom'] as const)
        pull(reverse?.get(job.unit)?.[dependency] ?? [], `${dependency}(reverse)`, 'stop', job.required);
      pull(d.propagatesStopTo, 'PropagatesStopTo', 'stop', job.required);
    }
  }

  const ordered = orderJobs(jobs, deps, notes, anchor);
  return { anchor, jobs: ordered, notes };
}

function describeMissing(missing: string): string {
  switch (missing) {
    case 'not-found':
      return 'not found';
    case 'masked':
      return 'is masked';
    case 'bad-setting':
      return 'has a bad setting (see sockunit verify)';
    default:
      return 'failed to load';
  }
}

function describePull(job: { pulledBy?: Job['pulledBy'] | undefined }): string {
  return job.pulledBy ? `${job.pulledBy.dependency}= of ${job.pulledBy.unit}` : 'the request';
}

/** For each unit: the units that Require/BindTo/are PartOf it, or list it in StopPropagatedFrom=. */
function reverseDependencies(
  view: TransactionView,
): Map<string, Record<'Requires' | 'BindsTo' | 'PartOf' | 'StopPropagatedFrom', string[]>> {
  const out = new Map<string, Record<'Requires' | 'BindsTo' | 'PartOf' | 'StopPropagatedFrom', string[]>>();
  const entry = (name: string) => {
    let e = out.get(name);
    if (!e) {
      e = { Requires: [], BindsTo: [], PartOf: [], StopPropagatedFrom: [] };
      out.set(name, e);
    }
    return e;
  };
  for (const d of view.loaded()) {
    for (const r of d.requires) entry(r).Requires.push(d.name);
    for (const r of d.bindsTo) entry(r).BindsTo.push(d.name);
    for (const r of d.partOf) entry(r).PartOf.push(d.name);
    for (const r of d.stopPropagatedFrom) entry(r).StopPropagatedFrom.push(d.name);
  }
  return out;
}

/** Order edges between the transaction's jobs, cycles broken as systemd breaks them, and the jobs
 * in an order that respects them. */
function orderJobs(
  jobs: Map<string, Job>,
  deps: Map<string, UnitDependencies>,
  notes: string[],
  anchor: Job,
): Job[] {
  const link = () => {
    for (const job of jobs.values()) job.waitsFor = [];
    const ds = [...jobs.keys()].map((name) => deps.get(name) as UnitDependencies);
    for (const [later, earlier] of orderingEdges(ds)) {
      const a = jobs.get(later) as Job;
      const b = jobs.get(earlier) as Job;
      // Starts follow the ordering, stops go the other way, and between a stop and a start of
      // ordered units the stop goes first (systemd's job ordering).
      if (a.type === 'start' && b.type === 'start') a.waitsFor.push(b.unit);
      else if (a.type === 'stop' && b.type === 'stop') b.waitsFor.push(a.unit);
      else if (a.type === 'start') a.waitsFor.push(b.unit);
      else b.waitsFor.push(a.unit);
    }
  };
  link();
  for (;;) {
    const cycle = findCycle(jobs);
    if (!cycle) break;
    // Drop a job of the cycle that nothing requires (systemd: "deleted to break ordering cycle").
    const victim = cycle.find((name) => {
      const j = jobs.get(name) as Job;
      return !j.required && j !== anchor;
    });
    const path = cycle.map((n) => `${n}/${(jobs.get(n) as Job).type}`).join(' -> ');
    if (!victim)
      throw new TransactionError(
        `Ordering cycle that cannot be broken: ${path}; every job in it is required. Remove an After=/Before= from one of these units.`,
      );
    const v = jobs.get(victim) as Job;
    notes.push(
      `Found ordering cycle ${path}; job ${victim}/${v.type} deleted to break it (it was only wanted, ${describePull(v)}).`,
    );
    jobs.delete(victim);
    link();
  }
  // Kahn's order over waitsFor, stable by insertion.
  const done = new Set<string>();
  const out: Job[] = [];
  const pending = [...jobs.values()];
  while (pending.length > 0) {
    const i = pending.findIndex((j) => j.waitsFor.every((w) => done.has(w)));
    const [job] = pending.splice(Math.max(i, 0), 1) as [Job];
    done.add(job.unit);
    out.push(job);
  }
  return out;
}

/** A cycle of waitsFor edges (unit names in order), or undefined. */
function findCycle(jobs: Map<string, Job>): string[] | undefined {
  const state = new Map<string, 'visiting' | 'done'>();
  const stack: string[] = [];
  const visit = (name: string): string[] | undefined => {
    state.set(name, 'visiting');
    stack.push(name);
    for (const next of (jobs.get(name) as Job).waitsFor) {
      if (!jobs.has(next)) continue;
      const s = state.get(next);
      if (s === 'visiting') return stack.slice(stack.indexOf(next));
      if (s === undefined) {
        const found = visit(next);
        if (found) return found;
      }
    }
    stack.pop();
    state.set(name, 'done');
    return undefined;
  };
  for (const name of jobs.keys()) {
    if (state.has(name)) continue;
    const found = visit(name);
    if (found) return found;
  }
  return undefined;
}
