// What a unit's state change sets off in other units (systemd's unit_notify()): BindsTo= stops
// the units bound to one that went down, Upholds= starts again a unit an active one upholds,
// OnFailure=/OnSuccess= start their units, StopWhenUnneeded= stops a unit nothing active needs.
// Only units that ask for one of these pay for it: without any, a state change costs a lookup.

import type { UnitSection } from '../../unit/unit-section.js';
import type { Logger } from '../log.js';
import type { Jobs, JobUnit } from './engine.js';

export interface ReactionsOptions {
  log: Logger;
  unit(name: string): JobUnit | { missing: string };
  loaded(): Iterable<JobUnit>;
  jobs(): Jobs;
  /** The [Unit] sections of every loaded unit (to know whether any asks for a reaction). */
  sections(): Iterable<UnitSection>;
}

/** Whether a unit asks for a reaction to another unit's state. */
export function hasReactions(u: UnitSection): boolean {
  return (
    u.bindsTo.length > 0 ||
    u.upholds.length > 0 ||
    u.onFailure.length > 0 ||
    u.onSuccess.length > 0 ||
    u.stopWhenUnneeded
  );
}

function isDown(activeState: string): boolean {
  return activeState === 'inactive' || activeState === 'failed';
}

export class Reactions {
  private readonly options: ReactionsOptions;
  /** The active state each unit was last seen in, so a reaction runs once per change. */
  private readonly lastActive = new Map<string, string>();
  private reactive: boolean | undefined;

  constructor(options: ReactionsOptions) {
    this.options = options;
  }

  /** Units were added, removed or reloaded: whether any asks for reactions is asked again. */
  unitsChanged(): void {
    this.reactive = undefined;
  }

  /** A unit that has gone for good (an Accept=yes instance). */
  forget(name: string): void {
    this.lastActive.delete(name);
  }

  changed(name: string, now: string): void {
    if (this.lastActive.get(name) === now) return;
    this.lastActive.set(name, now);
    this.reactive ??= [...this.options.sections()].some(hasReactions);
    if (!this.reactive) return;
    const loaded = [...this.options.loaded()];
    const me = loaded.find((u) => u.name === name);
    if (isDown(now)) {
      // BindsTo=: units bound to this one stop with it.
      for (const u of loaded)
        if (u.dependencies.bindsTo.includes(name) && !isDown(u.activeState()))
          this.act('stop', u.name, `BindsTo=${name}, which is ${now}`);
      // Upholds=: an active unit keeps this one running.
      for (const u of loaded)
        if (u.dependencies.upholds.includes(name) && u.activeState() === 'active')
          this.act('start', name, `upheld by ${u.name}`);
      if (!me) return;
      const d = me.dependencies;
      for (const dep of [...d.requires, ...d.wants, ...d.bindsTo, ...d.upholds])
        this.stopIfUnneeded(dep, loaded);
      for (const unit of now === 'failed' ? d.onFailure : d.onSuccess)
        this.act('start', unit, now === 'failed' ? `OnFailure= of ${name}` : `OnSuccess= of ${name}`);
    } else if (now === 'active' && me) {
      // Upholds= of a unit that came up: what it upholds is started now.
      for (const unit of me.dependencies.upholds) {
        const u = this.options.unit(unit);
        if (!('missing' in u) && isDown(u.activeState())) this.act('start', unit, `upheld by ${name}`);
      }
    }
  }

  private act(type: 'start' | 'stop', unit: string, why: string): void {
    const { log } = this.options;
    log.debug(`${unit}: ${type} (${why}).`, unit);
    this.options
      .jobs()
      .run(type, unit)
      .catch((err: unknown) => log.error((err as Error).message, unit));
  }

  /** StopWhenUnneeded=yes: stop `name` when no active unit requires, wants, binds to or upholds it. */
  private stopIfUnneeded(name: string, loaded: readonly JobUnit[]): void {
    const u = loaded.find((x) => x.name === name);
    if (!u?.dependencies.stopWhenUnneeded || isDown(u.activeState())) return;
    const needed = loaded.some((other) => {
      if (isDown(other.activeState())) return false;
      const d = other.dependencies;
      return [d.requires, d.wants, d.bindsTo, d.upholds, d.requisite].some((list) => list.includes(name));
    });
    if (!needed) {
      this.options.log.info(`${name}: Unit not needed anymore. Stopping.`, name);
      this.act('stop', name, 'StopWhenUnneeded=yes');
    }
  }
}
