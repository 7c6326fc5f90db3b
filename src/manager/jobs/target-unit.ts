// A .target unit's life: nothing runs, so it is active once its start job runs (the transaction
// has ordered it after what it wants) and inactive once stopped. systemd.target(5).

import type { TargetUnitConfig } from '../../unit/target-config.js';
import type { Logger } from '../log.js';

export type TargetState = 'dead' | 'active';

export class TargetUnit {
  readonly name: string;
  config: TargetUnitConfig;
  state: TargetState = 'dead';
  stateSince = new Date();
  private readonly log: Logger;
  private readonly onStateChange: ((unit: TargetUnit) => void) | undefined;

  constructor(config: TargetUnitConfig, log: Logger, onStateChange?: (unit: TargetUnit) => void) {
    this.config = config;
    this.name = config.name;
    this.log = log;
    this.onStateChange = onStateChange;
  }

  get activeState(): 'active' | 'inactive' {
    return this.state === 'active' ? 'active' : 'inactive';
  }

  private describe(): string {
    return this.config.unit.description ? `${this.config.unit.description} (${this.name})` : this.name;
  }

  start(): void {
    if (this.state === 'active') return;
    this.setState('active');
    this.log.info(`Reached target ${this.describe()}.`, this.name);
  }

  stop(): void {
    if (this.state === 'dead') return;
    this.setState('dead');
    this.log.info(`Stopped target ${this.describe()}.`, this.name);
  }

  private setState(next: TargetState): void {
    this.state = next;
    this.stateSince = new Date();
    this.onStateChange?.(this);
  }
}
