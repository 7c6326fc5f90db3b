// One log line per cause per interval. A target that refuses connections would otherwise log a
// line for every client, and a busy proxy would flood its log (and the manager capturing it)
// with thousands of identical lines a second. The first occurrence of a cause is logged at once;
// the ones within the next interval are counted and reported in one line when it ends.

interface Window {
  /** When the window closes (performance.now() ms). */
  until: number;
  suppressed: number;
  /** The latest message of the cause: what the summary line repeats. */
  message: string;
}

export class LogThrottle {
  private readonly windows = new Map<string, Window>();

  private readonly intervalMs: number;
  private readonly emit: (message: string) => void;

  constructor(intervalMs: number, emit: (message: string) => void) {
    this.intervalMs = intervalMs;
    this.emit = emit;
  }

  /** Log `message` unless `cause` was logged less than an interval ago; then count it. */
  report(cause: string, message: string, now: number): void {
    const w = this.windows.get(cause);
    if (w && now < w.until) {
      w.suppressed++;
      w.message = message;
      return;
    }
    this.emit(message);
    this.windows.set(cause, { until: now + this.intervalMs, suppressed: 0, message });
  }

  /** Report the counts of windows that have closed. Returns when the next one closes (Infinity
   * when none is open), for the caller's wait. */
  flush(now: number): number {
    let next = Number.POSITIVE_INFINITY;
    for (const [cause, w] of this.windows) {
      if (now >= w.until) {
        if (w.suppressed === 0) {
          this.windows.delete(cause);
          continue;
        }
        const seconds = Math.round(this.intervalMs / 100) / 10;
        this.emit(
          `${w.message} (${w.suppressed} more time${w.suppressed === 1 ? '' : 's'} in the last ${seconds}s)`,
        );
        // A new window: a cause that keeps happening is reported once an interval.
        w.until = now + this.intervalMs;
        w.suppressed = 0;
      }
      next = Math.min(next, w.until);
    }
    return next;
  }
}
