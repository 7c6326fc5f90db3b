// The manager's log: systemd-like lines for people ("Listening on echo.socket (MPTCP
// 0.0.0.0:8080).") or one JSON object a line for machines (`--log-format=json`). Service output
// is forwarded through the same log, prefixed `unit[pid]:` as the journal shows it.

import type { Writable } from 'node:stream';

export type LogLevel = 'debug' | 'info' | 'notice' | 'warning' | 'error';
export type LogFormat = 'text' | 'json';

export interface LogRecord {
  time: string;
  level: LogLevel;
  unit?: string;
  pid?: number;
  message: string;
  /** Machine-readable facts (state, result, address…) for the JSON format. */
  fields?: Record<string, unknown>;
}

const levelRank: Record<LogLevel, number> = { debug: 0, info: 1, notice: 2, warning: 3, error: 4 };

export interface LoggerOptions {
  format?: LogFormat;
  level?: LogLevel;
  out: Writable;
  /** Keep the last N records per unit for `status` (default 20). */
  keepPerUnit?: number;
  /** Keep records for at most this many units, the least recently logged dropped first (default
   * 2048). Every Accept=yes connection is a unit of its own: without a bound the history would
   * grow by one entry per connection for as long as the manager runs. */
  keepUnits?: number;
}

export class Logger {
  readonly format: LogFormat;
  private readonly minRank: number;
  private readonly out: Writable;
  private readonly keep: number;
  private readonly keepUnits: number;
  private readonly recent = new Map<string, LogRecord[]>();
  private readonly listeners = new Set<(record: LogRecord) => void>();

  constructor(options: LoggerOptions) {
    this.format = options.format ?? 'text';
    this.minRank = levelRank[options.level ?? 'info'];
    this.out = options.out;
    this.keep = options.keepPerUnit ?? 20;
    this.keepUnits = options.keepUnits ?? 2048;
  }

  log(level: LogLevel, message: string, unit?: string, fields?: Record<string, unknown>, pid?: number): void {
    // Below the level and nobody following (`logs -f`): not kept either. Every Accept=yes
    // instance logs its state changes at debug level; keeping what nobody asked for cost a record,
    // a timestamp and a history update each.
    if (levelRank[level] < this.minRank && this.listeners.size === 0) return;
    const record: LogRecord = { time: new Date().toISOString(), level, message };
    if (unit !== undefined) record.unit = unit;
    if (pid !== undefined) record.pid = pid;
    if (fields !== undefined) record.fields = fields;
    if (unit !== undefined) {
      const list = this.recent.get(unit) ?? [];
      list.push(record);
      if (list.length > this.keep) list.shift();
      // Re-inserted so the Map's order is least recently logged first.
      this.recent.delete(unit);
      this.recent.set(unit, list);
      if (this.recent.size > this.keepUnits) {
        const oldest = this.recent.keys().next().value;
        if (oldest !== undefined) this.recent.delete(oldest);
      }
    }
    for (const listener of this.listeners) listener(record);
    if (levelRank[level] < this.minRank) return;
    this.out.write(this.format === 'json' ? `${JSON.stringify(record)}\n` : `${formatText(record)}\n`);
  }

  info(message: string, unit?: string, fields?: Record<string, unknown>): void {
    this.log('info', message, unit, fields);
  }
  notice(message: string, unit?: string, fields?: Record<string, unknown>): void {
    this.log('notice', message, unit, fields);
  }
  warning(message: string, unit?: string, fields?: Record<string, unknown>): void {
    this.log('warning', message, unit, fields);
  }
  error(message: string, unit?: string, fields?: Record<string, unknown>): void {
    this.log('error', message, unit, fields);
  }
  debug(message: string, unit?: string, fields?: Record<string, unknown>): void {
    this.log('debug', message, unit, fields);
  }

  /** A line a service wrote to stdout/stderr. */
  output(unit: string, pid: number, line: string): void {
    this.log('info', line, unit, { output: true }, pid);
  }

  /** How many units have records kept. */
  get unitsKept(): number {
    return this.recent.size;
  }

  recentFor(unit: string): readonly LogRecord[] {
    return this.recent.get(unit) ?? [];
  }

  subscribe(listener: (record: LogRecord) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}

function formatText(record: LogRecord): string {
  const isOutput = record.fields?.output === true;
  if (isOutput) return `${record.unit}[${record.pid}]: ${record.message}`;
  if (record.unit === undefined) return record.message;
  // systemd prefixes unit-scoped messages with the unit name unless the message already names it
  return record.message.includes(record.unit) ? record.message : `${record.unit}: ${record.message}`;
}
