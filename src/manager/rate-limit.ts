// systemd's ratelimit: at most `burst` events per `intervalUsec`. Used for TriggerLimit*= (exceeding
// fails the socket), PollLimit*= (exceeding pauses watching for the rest of the window) and the
// services' StartLimit*=. An interval or burst of 0 disables the limit, as in systemd.

export class RateLimit {
  private windowStart = 0;
  private count = 0;

  readonly intervalUsec: number;
  readonly burst: number;
  private readonly now: () => number;

  constructor(intervalUsec: number, burst: number, now: () => number = () => performance.now() * 1000) {
    this.intervalUsec = intervalUsec;
    this.burst = burst;
    this.now = now;
  }

  get enabled(): boolean {
    return this.intervalUsec > 0 && this.burst > 0;
  }

  /** Count one event; false when it is over the limit. */
  test(): boolean {
    if (!this.enabled) return true;
    const t = this.now();
    if (this.count === 0 || t - this.windowStart > this.intervalUsec) {
      this.windowStart = t;
      this.count = 0;
    }
    this.count++;
    return this.count <= this.burst;
  }

  /** Microseconds until the current window ends (0 when not limited). */
  remainingUsec(): number {
    if (!this.enabled) return 0;
    return Math.max(0, this.windowStart + this.intervalUsec - this.now());
  }

  reset(): void {
    this.count = 0;
  }
}
