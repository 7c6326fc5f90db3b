// Preloaded into `sockunit run` by bench/accept-memory.ts (node --import): on SIGUSR2 it writes
// one line `MEMORY {json}` to stderr with what holds the process's memory: VmRSS and its anonymous
// and file parts, the main isolate's V8 heap, the accept thread's isolate (its own
// v8.getHeapStatistics(), through memory-probe-worker.ts), and, when the bench asks (SOCKUNIT_PROBE_TRIM=1), the RSS after glibc's
// malloc_trim(0) gave freed memory back. Bench-only: nothing in src/ knows about it.

import { readFileSync } from 'node:fs';
import { createRequire, syncBuiltinESMExports } from 'node:module';
import { fileURLToPath } from 'node:url';
import { getHeapStatistics } from 'node:v8';
import type { MessagePort, Worker as WorkerType } from 'node:worker_threads';

type HeapInfo = ReturnType<typeof getHeapStatistics>;

const require = createRequire(import.meta.url);
const threads = require('node:worker_threads') as typeof import('node:worker_threads');
const PROBE_WORKER = fileURLToPath(new URL('./memory-probe-worker.js', import.meta.url));

/** The accept thread, with a port on which it answers v8.getHeapStatistics() of its isolate. */
let acceptThread: { worker: WorkerType; port: MessagePort } | undefined;

const Base = threads.Worker;
// The accept thread is started through memory-probe-worker.js, which answers heap statistics on
// a port of its own and then loads the real worker. The readiness watcher's thread is left
// alone (it sits in a blocking epoll_wait; its isolate holds a few hundred KiB).
threads.Worker = class extends Base {
  constructor(...args: ConstructorParameters<typeof Base>) {
    const [url, options] = args;
    if (!String(url).includes('/accept/')) {
      super(url, options);
      return;
    }
    // An experiment's knob: the accept thread's young generation (V8's semi-spaces), in MiB.
    const young = Number(process.env.SOCKUNIT_PROBE_YOUNG_MB ?? 0);
    const channel = new threads.MessageChannel();
    super(PROBE_WORKER, {
      ...options,
      workerData: { ...(options?.workerData as object), probePort: channel.port2, probeTarget: String(url) },
      transferList: [...(options?.transferList ?? []), channel.port2],
      ...(young > 0
        ? { resourceLimits: { ...options?.resourceLimits, maxYoungGenerationSizeMb: young } }
        : {}),
    });
    channel.port1.unref();
    acceptThread = { worker: this, port: channel.port1 };
  }
} as typeof Base;
syncBuiltinESMExports();

/** A number from /proc/self/status (`VmRSS:  1234 kB` gives 1234; `Threads:  12` gives 12). */
function statusField(field: string): number {
  const m = new RegExp(`^${field}:\\s+(\\d+)`, 'm').exec(readFileSync('/proc/self/status', 'latin1'));
  return Number(m?.[1] ?? 0);
}

/** The accept thread's isolate, as it reports itself; undefined when there is none. */
function acceptThreadHeap(): Promise<HeapInfo | undefined> {
  const t = acceptThread;
  if (!t) return Promise.resolve(undefined);
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(undefined), 5000);
    t.port.once('message', (stats: HeapInfo) => {
      clearTimeout(timer);
      resolve(stats);
    });
    t.port.postMessage('heap');
  });
}

function mallocTrim(): void {
  const koffi = require('koffi') as {
    load(name: string): { func(signature: string): (pad: number) => number };
  };
  koffi.load('libc.so.6').func('int malloc_trim(size_t pad)')(0);
}

process.on('SIGUSR2', () => {
  void (async () => {
    const heap = getHeapStatistics();
    const worker = await acceptThreadHeap();
    const report: Record<string, number | null> = {
      rssKiB: statusField('VmRSS'),
      rssAnonKiB: statusField('RssAnon'),
      rssFileKiB: statusField('RssFile'),
      threads: statusField('Threads'),
      mainHeapUsed: heap.used_heap_size,
      mainHeapTotal: heap.total_heap_size,
      mainMalloced: heap.malloced_memory,
      external: heap.external_memory,
      workerHeapUsed: worker?.used_heap_size ?? null,
      workerHeapTotal: worker?.total_heap_size ?? null,
      workerMalloced: worker?.malloced_memory ?? null,
    };
    if (process.env.SOCKUNIT_PROBE_TRIM === '1') {
      mallocTrim();
      report.rssAfterTrimKiB = statusField('VmRSS');
    }
    process.stderr.write(`MEMORY ${JSON.stringify(report)}\n`);
  })();
});
