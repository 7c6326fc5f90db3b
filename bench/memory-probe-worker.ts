// The accept thread as bench/memory-probe.ts starts it: answers v8.getHeapStatistics() of this
// isolate on its own port, then loads the real worker (accept/worker.ts), which finds its
// workerData as always. The worker returns to its event loop at least once a second, so an
// answer comes within that.

import { getHeapStatistics } from 'node:v8';
import { type MessagePort, workerData } from 'node:worker_threads';

const { probePort, probeTarget } = workerData as { probePort: MessagePort; probeTarget: string };
probePort.on('message', () => probePort.postMessage(getHeapStatistics()));
probePort.unref();
await import(probeTarget);
