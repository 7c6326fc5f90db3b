// What several bench scripts need around the process they measure: a free port, the machine's
// load for the report, and a bounded stop.

import type { ChildProcess } from 'node:child_process';
import net from 'node:net';
import { loadavg } from 'node:os';

/** A TCP port free right now on 127.0.0.1 (bound to 0 and released). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      s.close(() => resolve(typeof a === 'object' && a ? a.port : 0));
    });
  });
}

/** `load average at start: 1.00 0.80 0.50`: other work on the machine skews every figure. */
export function loadLine(when: string): string {
  return `load average at ${when}: ${loadavg()
    .map((l) => l.toFixed(2))
    .join(' ')}`;
}

/** SIGTERM, then SIGKILL after `ms`; resolves once the child has exited. */
export async function stopChild(child: ChildProcess, ms = 10_000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGTERM');
  await new Promise<void>((resolve) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      resolve();
    }, ms);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
  });
}
