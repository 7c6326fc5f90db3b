// Room manager/jobs/: the start/stop transaction — a unit's dependencies with systemd's implicit
// ones (dependencies.ts), building a transaction (transaction.ts), running it (this file), the
// Condition*=/Assert*= facts of this machine (condition-facts.ts), and .target units
// (target-unit.ts). Used by manager.ts for every start and stop; uses the socket and service
// rooms only through the JobUnit each unit is given as.
//
// Running a transaction: every job starts when the jobs it waitsFor have finished (a start
// finishes when the unit is up: a socket listens, a simple service runs, a notify service sent
// READY=1, a oneshot exited, a target is reached); a start whose Requires=/BindsTo= dependency
// failed fails with result `dependency` ("Dependency failed for …", as systemd logs it); a unit
// whose conditions fail is skipped, one whose asserts fail fails.

import { type Condition, type ConditionFacts, evaluateConditions } from '../../unit/conditions.js';
import type { Logger } from '../log.js';
import { orderingEdges, type UnitDependencies } from './dependencies.js';
import {
  buildTransaction,
  type Job,
  type JobType,
  type Transaction,
  type TransactionView,
} from './transaction.js';

/** What a job ended with, in systemd's job result words. */
export type JobResult = 'done' | 'failed' | 'dependency' | 'skipped' | 'assert' | 'canceled';

/** A unit as the jobs room drives it. */
export interface JobUnit {
  readonly name: string;
  readonly dependencies: UnitDependencies;
  readonly conditions: readonly Condition[];
  readonly asserts: readonly Condition[];
  readonly description: string;
  /** inactive, activating, active, deactivating, failed. */
  activeState(): string;
  /** Start; resolves once the unit is up, or has failed (then false). */
  start(): Promise<boolean>;
  /** `restart`: this stop is half of a restart (a service keeps its fd store). */
  stop(restart?: boolean): Promise<void>;
}

/** The last condition or assert check of a unit, for `status` ("Condition: start condition
 * unmet"), as systemd keeps it. */
export interface ConditionRecord {
  at: Date;
  kind: 'condition' | 'assert';
  failed: string;
}

export interface JobsOptions {
  log: Logger;
  /** The unit called `name`, loaded on demand; a reason when it cannot be. */
  unit(name: string): JobUnit | { missing: 'not-found' | 'bad-setting' | 'masked' | 'error' };
  /** Every unit loaded now (for reverse dependencies). */
  loaded(): Iterable<JobUnit>;
  facts(): ConditionFacts;
}

/** A job that is running or waiting, for `list-units`. */
export interface RunningJob {
  id: number;
  unit: string;
  type: JobType;
  state: 'waiting' | 'running';
}

export class TransactionFailed extends Error {}

const FAILURES: ReadonlySet<JobResult> = new Set(['failed', 'dependency', 'assert']);

export class Jobs {
  /** Conditions that held or failed at the last start of each unit. */
  readonly conditionResults = new Map<string, ConditionRecord>();
  private readonly options: JobsOptions;
  private readonly running = new Map<string, RunningJob>();
  private readonly inFlight = new Map<string, Promise<JobResult>>();
  /** Units a caller hands in for one run (an Accept=yes instance, which is no loadable unit). */
  private readonly given = new Map<string, JobUnit>();
  private nextId = 1;

  constructor(options: JobsOptions) {
    this.options = options;
  }

  /** Jobs waiting or running now, by unit. */
  list(): RunningJob[] {
    return [...this.running.values()].sort((a, b) => a.id - b.id);
  }

  private unit(name: string): JobUnit | { missing: 'not-found' | 'bad-setting' | 'masked' | 'error' } {
    return this.given.get(name) ?? this.options.unit(name);
  }

  private view(): TransactionView {
    const unit = (name: string) => this.unit(name);
    const { loaded } = this.options;
    return {
      lookup: (name) => {
        const u = unit(name);
        return 'missing' in u ? u : u.dependencies;
      },
      isActive: (name) => {
        const u = unit(name);
        if ('missing' in u) return false;
        const s = u.activeState();
        return s === 'active' || s === 'activating' || s === 'reloading';
      },
      isInactive: (name) => {
        const u = unit(name);
        if ('missing' in u) return true;
        const s = u.activeState();
        return s === 'inactive' || s === 'failed';
      },
      loaded: () => [...loaded()].map((u) => u.dependencies),
    };
  }

  /** Build and run the transaction for `type` of `name` (or of `given`, a unit that is not
   * loaded by name); resolves with the anchor job's result. Throws TransactionFailed when the
   * transaction cannot be built. */
  async run(
    type: JobType,
    name: string,
    given?: JobUnit,
    options: { restart?: boolean } = {},
  ): Promise<JobResult> {
    if (given) this.given.set(name, given);
    try {
      let t: Transaction;
      try {
        t = buildTransaction(this.view(), type, name);
      } catch (err) {
        throw new TransactionFailed(`Failed to ${type} ${name}: ${(err as Error).message}`);
      }
      for (const note of t.notes) this.options.log.warning(note, name);
      return await this.execute(t, options.restart === true);
    } finally {
      if (given) this.given.delete(name);
    }
  }

  /** `restart`: the anchor's stop is half of a restart (a service keeps its fd store). */
  private async execute(t: Transaction, restart = false): Promise<JobResult> {
    const results = new Map<string, Promise<JobResult>>();
    for (const job of t.jobs) {
      const waits: [string, Promise<JobResult>][] = [];
      for (const w of job.waitsFor) {
        const p = results.get(w);
        if (p) waits.push([w, p]);
      }
      // A job for a unit that already has one running joins it (systemd merges them).
      results.set(
        job.unit,
        this.inFlight.get(job.unit) ?? this.runJob(job, waits, restart && job === t.anchor),
      );
    }
    return (await results.get(t.anchor.unit)) as JobResult;
  }

  private runJob(job: Job, waits: [string, Promise<JobResult>][], restart: boolean): Promise<JobResult> {
    const record: RunningJob = { id: this.nextId++, unit: job.unit, type: job.type, state: 'waiting' };
    this.running.set(job.unit, record);
    const result = (async (): Promise<JobResult> => {
      const before = await Promise.all(waits.map(([, p]) => p));
      record.state = 'running';
      if (job.type === 'stop') return this.stopJob(job, restart);
      // A Requires=/BindsTo= dependency this unit is ordered after that failed to start fails
      // this start too; without the ordering both start in parallel (systemd.unit(5)).
      const failed = waits.find(
        ([unit], i) => FAILURES.has(before[i] as JobResult) && this.requires(job.unit, unit),
      );
      if (failed) {
        this.options.log.error(`Dependency failed for ${this.describe(job.unit)}.`, job.unit, {
          result: 'dependency',
        });
        return 'dependency';
      }
      return this.startJob(job);
    })().finally(() => {
      this.running.delete(job.unit);
      this.inFlight.delete(job.unit);
    });
    this.inFlight.set(job.unit, result);
    return result;
  }

  /** Whether `a` has Requires=/BindsTo= on `b` (whose failure then fails `a`). */
  private requires(a: string, b: string): boolean {
    const u = this.unit(a);
    if ('missing' in u) return false;
    return u.dependencies.requires.includes(b) || u.dependencies.bindsTo.includes(b);
  }

  private describe(name: string): string {
    const u = this.unit(name);
    return 'missing' in u || u.description === '' ? name : `${u.description} (${name})`;
  }

  private async startJob(job: Job): Promise<JobResult> {
    const u = this.unit(job.unit);
    if ('missing' in u) return 'failed';
    const state = u.activeState();
    if (state === 'active' || state === 'activating') return 'done';
    const verdict = this.checkConditions(u);
    if (verdict !== 'done') return verdict;
    const ok = await u.start();
    return ok ? 'done' : 'failed';
  }

  /** Conditions skip the start, asserts fail it (systemd logs both at the unit). */
  checkConditions(u: JobUnit): JobResult {
    if (u.conditions.length === 0 && u.asserts.length === 0) {
      this.conditionResults.delete(u.name);
      return 'done';
    }
    const facts = this.options.facts();
    const condition = evaluateConditions(u.conditions, facts);
    if (!condition.ok) {
      const failed = describeCondition('Condition', condition.failed);
      this.conditionResults.set(u.name, { at: new Date(), kind: 'condition', failed });
      this.options.log.info(
        `${this.describe(u.name)} was skipped because of an unmet condition check (${failed}).`,
        u.name,
        { result: 'skipped' },
      );
      return 'skipped';
    }
    const assertion = evaluateConditions(u.asserts, facts);
    if (!assertion.ok) {
      const failed = describeCondition('Assert', assertion.failed);
      this.conditionResults.set(u.name, { at: new Date(), kind: 'assert', failed });
      this.options.log.error(`Assertion failed for ${this.describe(u.name)} (${failed}).`, u.name, {
        result: 'assert',
      });
      return 'assert';
    }
    this.conditionResults.delete(u.name);
    return 'done';
  }

  private async stopJob(job: Job, restart: boolean): Promise<JobResult> {
    const u = this.unit(job.unit);
    if ('missing' in u) return 'done';
    await u.stop(restart);
    return 'done';
  }
}

/** Stop every one of `units` in the reverse of their start order (a unit ordered After= another
 * stops first), as systemd shuts down; units not ordered against each other stop together. An
 * ordering cycle (which a start would have broken) does not block: its back edge is ignored. */
export async function stopInOrder(units: readonly JobUnit[]): Promise<void> {
  // Units ordered after a unit (they started later) stop before it.
  const stopsFirst = new Map<string, string[]>();
  for (const [later, earlier] of orderingEdges(units.map((u) => u.dependencies)))
    stopsFirst.set(earlier, [...(stopsFirst.get(earlier) ?? []), later]);
  const byName = new Map(units.map((u) => [u.name, u]));
  const done = new Map<string, Promise<void>>();
  const visiting = new Set<string>();
  const stopOf = (u: JobUnit): Promise<void> => {
    const known = done.get(u.name);
    if (known) return known;
    visiting.add(u.name);
    const waits = (stopsFirst.get(u.name) ?? [])
      .filter((name) => !visiting.has(name))
      .map((name) => stopOf(byName.get(name) as JobUnit));
    visiting.delete(u.name);
    const p = Promise.all(waits).then(() => u.stop());
    done.set(u.name, p);
    return p;
  };
  await Promise.all(units.map(stopOf));
}

/** `ConditionPathExists=/nonexistent`, as systemd names a failed check. */
export function describeCondition(prefix: 'Condition' | 'Assert', c: Condition): string {
  return `${prefix}${c.kind}=${c.triggering ? '|' : ''}${c.negate ? '!' : ''}${c.value}`;
}
