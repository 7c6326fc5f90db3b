// Spawn rate: /bin/true started and reaped through sockunit's spawnProcess (posix_spawn +
// pidfd + readiness watcher) against Node's child_process.spawn, one at a time and 8 at a time.
//
// Run: npx tsc -p tsconfig.test.json && node .test-build/bench/spawn.js [count]
// Bounded: `count` spawns per row (default 500) and a 60 s deadline per row.

import { spawn } from 'node:child_process';
import { cpus, loadavg } from 'node:os';
import { onExit } from '../src/sys/process.js';
import { spawnProcess } from '../src/sys/spawn.js';

const COUNT = Number(process.argv[2] ?? 500);
const ROW_DEADLINE_MS = 60_000;
const ENV = { PATH: '/usr/bin:/bin' };

type Starter = () => Promise<void>;

let blockingNs = 0n;
const viaSpawnProcess: Starter = async () => {
  const t = process.hrtime.bigint();
  const child = spawnProcess({ file: '/bin/true', argv: ['true'], env: ENV, stdout: 'null', stderr: 'null' });
  blockingNs += process.hrtime.bigint() - t;
  const exit = await onExit(child.pid, child.pidfd);
  if (exit.status !== 0) throw new Error(`/bin/true ended with ${exit.code} ${exit.status}`);
};

const viaChildProcess: Starter = () =>
  new Promise((resolve, reject) => {
    const child = spawn('/bin/true', [], { env: ENV, stdio: 'ignore' });
    child.once('error', reject);
    child.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`/bin/true exited ${code}`))));
  });

async function rate(start: Starter, concurrency: number): Promise<{ perSecond: number; done: number }> {
  const begin = performance.now();
  const deadline = begin + ROW_DEADLINE_MS;
  let started = 0;
  let done = 0;
  const lane = async (): Promise<void> => {
    while (started < COUNT && performance.now() < deadline) {
      started++;
      await start();
      done++;
    }
  };
  await Promise.all(Array.from({ length: concurrency }, lane));
  return { perSecond: (done / (performance.now() - begin)) * 1000, done };
}

async function main(): Promise<void> {
  await rate(viaSpawnProcess, 1); // warm-up: watcher thread, JIT
  await rate(viaChildProcess, 1);
  const rows: string[] = [];
  for (const concurrency of [1, 8]) {
    blockingNs = 0n;
    const ours = await rate(viaSpawnProcess, concurrency);
    const blockingUs = Number(blockingNs) / 1000 / Math.max(1, ours.done);
    const node = await rate(viaChildProcess, concurrency);
    rows.push(
      `| ${concurrency} | ${ours.perSecond.toFixed(0)} | ${node.perSecond.toFixed(0)} | ${(ours.perSecond / node.perSecond).toFixed(2)} | ${blockingUs.toFixed(0)} |`,
    );
  }
  console.log(`# /bin/true started and reaped, ${COUNT} per row`);
  console.log(
    `# node ${process.version}, ${cpus().length} CPUs (${cpus()[0]?.model ?? '?'}), load average ${loadavg()
      .map((l) => l.toFixed(1))
      .join(' ')}`,
  );
  console.log(
    '| concurrency | spawnProcess /s | child_process.spawn /s | ratio | spawnProcess blocks µs/call |',
  );
  console.log('|---|---|---|---|---|');
  for (const row of rows) console.log(row);
}

await main();
