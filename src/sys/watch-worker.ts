// The epoll worker of watch.ts. It only waits: the main thread owns the epoll instance and adds,
// re-arms and removes fds on it directly (epoll_ctl is safe while another thread is in
// epoll_wait). Each wake-up posts the ready entries' 64-bit tags as [tag, events] pairs.
// Tag 0 is the main thread's eventfd asking this worker to stop.

import { parentPort, workerData } from 'node:worker_threads';
import { libcCalls as c, errno } from './ffi.js';

const { epfd, eventSize, dataOffset } = workerData as { epfd: number; eventSize: number; dataOffset: number };
const MAX_EVENTS = 64;
const EINTR = 4;
// Bounded wait: a worker stuck in a native call cannot be terminated, so it looks up now and
// then even if the stop request were lost.
const WAIT_MS = 1000;

const events = Buffer.alloc(eventSize * MAX_EVENTS);
let running = true;
while (running) {
  const n = c.epoll_wait(epfd, events, MAX_EVENTS, WAIT_MS);
  if (n === -1) {
    const e = errno();
    if (e === EINTR) continue;
    parentPort?.postMessage({ error: e });
    break;
  }
  if (n === 0) continue;
  const ready: bigint[] = [];
  for (let i = 0; i < n; i++) {
    const tag = events.readBigUInt64LE(i * eventSize + dataOffset);
    if (tag === 0n) {
      running = false;
      break;
    }
    ready.push(tag, BigInt(events.readUInt32LE(i * eventSize)));
  }
  if (ready.length > 0) parentPort?.postMessage(ready);
}
