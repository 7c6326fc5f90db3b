// Readiness watcher benchmark: wake-up latency from a client's connect() call to the watcher's
// callback on an MPTCP listener, for each watcher in src/sys/watch.ts (uv-poll, the epoll worker
// thread, epoll_wait on libuv's thread pool), plus the cost of arming
// and closing one watch (the manager arms one per child pidfd).
//
// Run: npx tsc -p tsconfig.test.json && node .test-build/bench/watch.js [rounds]
// The client runs in a worker thread and connects with a blocking FFI connect(); both threads
// read the same monotonic clock (process.hrtime.bigint). Every wait is bounded.

import { cpus, loadavg } from 'node:os';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { AF_INET, IPPROTO_MPTCP, SOCK_STREAM } from '../src/sys/constants.js';
import { socketPair } from '../src/sys/msg.js';
import { accept, bind, close, connect, getsockname, listen, socket } from '../src/sys/socket.js';
import {
  createEpollPoolWatcher,
  createEpollWorkerWatcher,
  createUvPollWatcher,
  type Watcher,
} from '../src/sys/watch.js';

const ROUNDS = Number(process.argv[2] ?? 300);
const WARMUP = 20;
const ROUND_TIMEOUT_MS = 2000;

interface ClientData {
  port: number;
  control: SharedArrayBuffer; // Int32 [0]: round to run, [1]: rounds done
  stamps: SharedArrayBuffer; // BigInt64 [0]: hrtime just before connect()
}

function clientThread({ port, control, stamps }: ClientData): void {
  const ctl = new Int32Array(control);
  const t0 = new BigInt64Array(stamps);
  for (let round = 1; ; round++) {
    if (Atomics.wait(ctl, 0, round - 1, 10_000) === 'timed-out') return;
    if (Atomics.load(ctl, 0) < 0) return;
    const fd = socket(AF_INET, SOCK_STREAM, IPPROTO_MPTCP);
    t0[0] = process.hrtime.bigint();
    connect(fd, { family: 'inet', address: '127.0.0.1', port });
    close(fd);
    Atomics.store(ctl, 1, round);
  }
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;
}

interface Result {
  kind: string;
  p50: number;
  p90: number;
  p99: number;
  max: number;
  armUs: number;
  rounds: number;
}

async function measure(watcher: Watcher): Promise<Result> {
  const listener = socket(AF_INET, SOCK_STREAM, IPPROTO_MPTCP);
  bind(listener, { family: 'inet', address: '127.0.0.1', port: 0 });
  listen(listener, 64);
  const addr = getsockname(listener);
  const port = addr.family === 'inet' ? addr.port : 0;
  const control = new SharedArrayBuffer(8);
  const stamps = new SharedArrayBuffer(8);
  const ctl = new Int32Array(control);
  const t0 = new BigInt64Array(stamps);
  const client = new Worker(new URL(import.meta.url), { workerData: { port, control, stamps } });
  await new Promise((res) => client.once('online', res));

  const latencies: number[] = [];
  let onReady: (() => void) | undefined;
  const watch = watcher.watchReadable(listener, () => onReady?.());
  watch.stop();
  try {
    for (let round = 1; round <= ROUNDS + WARMUP; round++) {
      const fired = new Promise<bigint>((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new Error(`round ${round}: no callback in ${ROUND_TIMEOUT_MS} ms`)),
          ROUND_TIMEOUT_MS,
        );
        onReady = () => {
          clearTimeout(timer);
          resolve(process.hrtime.bigint());
        };
      });
      watch.rearm();
      Atomics.store(ctl, 0, round);
      Atomics.notify(ctl, 0);
      const t1 = await fired;
      if (round > WARMUP) latencies.push(Number(t1 - (t0[0] ?? 0n)) / 1000);
      const conn = accept(listener);
      if (conn) close(conn.fd);
      // The client must have finished this round before the next one starts.
      const deadline = Date.now() + ROUND_TIMEOUT_MS;
      while (Atomics.load(ctl, 1) < round && Date.now() < deadline) await new Promise((r) => setImmediate(r));
    }
  } finally {
    Atomics.store(ctl, 0, -1);
    Atomics.notify(ctl, 0);
    watch.close();
    await client.terminate();
  }

  // Arming cost: validate + arm + close, as the manager does once per child pidfd.
  const pairs = Array.from({ length: 300 }, () => socketPair('datagram'));
  const start = process.hrtime.bigint();
  for (const [a] of pairs) watcher.watchReadable(a, () => {}).close();
  const armUs = Number(process.hrtime.bigint() - start) / 1000 / pairs.length;
  for (const [, b] of pairs) close(b);

  latencies.sort((a, b) => a - b);
  return {
    kind: watcher.kind,
    p50: percentile(latencies, 50),
    p90: percentile(latencies, 90),
    p99: percentile(latencies, 99),
    max: latencies.at(-1) ?? Number.NaN,
    armUs,
    rounds: latencies.length,
  };
}

async function main(): Promise<void> {
  const epoll = createEpollWorkerWatcher();
  const pool = createEpollPoolWatcher();
  const results: Result[] = [];
  // Alternate the order so none always runs on a colder process.
  for (const make of [
    () => createUvPollWatcher(),
    () => epoll,
    () => pool,
    () => pool,
    () => epoll,
    () => createUvPollWatcher(),
  ]) {
    results.push(await measure(make()));
  }
  epoll.shutdown();
  pool.shutdown();
  const f = (n: number): string => n.toFixed(0).padStart(6);
  console.log(`# readiness watcher wake-up, MPTCP listener, loopback, ${ROUNDS} rounds per run`);
  console.log(
    `# node ${process.version}, ${cpus().length} CPUs (${cpus()[0]?.model ?? '?'}), load average ${loadavg()
      .map((l) => l.toFixed(1))
      .join(' ')}`,
  );
  console.log('| watcher | p50 µs | p90 µs | p99 µs | max µs | arm+close µs |');
  console.log('|---|---|---|---|---|---|');
  for (const r of results)
    console.log(
      `| ${r.kind} | ${f(r.p50)} | ${f(r.p90)} | ${f(r.p99)} | ${f(r.max)} | ${r.armUs.toFixed(1)} |`,
    );
}

if (isMainThread) await main();
else if (parentPort) clientThread(workerData as ClientData);
