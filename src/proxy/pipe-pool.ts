// Pipes for the relays, kept for reuse. Each connection needs two (one a direction), and opening
// one is three system calls (pipe2, F_SETPIPE_SZ, F_GETPIPE_SZ) and closing it two more: at
// thousands of short connections a second that is a visible share of the work. A pipe that comes
// back empty is as good as new; one that still holds bytes (its connection was reset) is closed.
// An idle pipe holds no data pages, only its ring of slots, so keeping some costs little.

import { closePipe, openPipe, type Pipe } from '../sys/relay.js';

export class PipePool {
  private readonly idle: Pipe[] = [];

  private readonly size: number;
  private readonly keep: number;

  constructor(size: number, keep: number) {
    this.size = size;
    this.keep = keep;
  }

  take(): Pipe {
    return this.idle.pop() ?? openPipe(this.size);
  }

  /** Give a pipe back; `empty` says that nothing is left in it. */
  give(pipe: Pipe, empty: boolean): void {
    if (empty && this.idle.length < this.keep) this.idle.push(pipe);
    else closePipe(pipe);
  }

  /** Close every idle pipe (the thread is ending). */
  drain(): void {
    for (const pipe of this.idle.splice(0)) closePipe(pipe);
  }
}
