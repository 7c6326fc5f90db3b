// The manager's memory over many Accept=yes connections: `sockunit run` with one Accept=yes unit
// (`/bin/cat`, StandardInput=socket, no trigger limit), CONNECTIONS connections (8 at a time, one
// line echoed each), and what holds the memory every STEP connections and after 20 s idle, from
// bench/memory-probe.ts (preloaded): VmRSS and its anonymous part, the main isolate's V8 heap,
// the accept thread's isolate, the RSS left after glibc's malloc_trim(0) (what malloc kept of
// freed memory), and the manager's own CPU per connection. Rows, one after the other in one run:
// the accept thread (default), the main thread only (SOCKUNIT_ACCEPT_THREAD=0), and both V8
// young generations capped (node --max-semi-space-size=1 for the main isolate, 2 MiB through
// the probe for the thread), to show what V8's young generation holds and what capping it costs.
//
// Run: npx tsc -p tsconfig.test.json && node .test-build/bench/accept-memory.js [connections] [step]
// Bounded: `connections` (default 10,000) per row, a 60 s deadline per step.

import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort, loadLine, stopChild } from './helpers.js';

const BIN = fileURLToPath(new URL('../src/cli/bin.js', import.meta.url));
const PROBE = fileURLToPath(new URL('./memory-probe.js', import.meta.url));
const CONCURRENCY = 8;
const STEP_DEADLINE_MS = 60_000;
const LINE = 'ping\n';
const IDLE_MS = 20_000;
const CLK_TCK = 100;

/** The process's own CPU (utime + stime), ms. */
function cpuMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return ((Number(f[11]) + Number(f[12])) * 1000) / CLK_TCK;
}

interface Memory {
  rssKiB: number;
  rssAnonKiB: number;
  rssFileKiB: number;
  threads: number;
  mainHeapUsed: number;
  mainHeapTotal: number;
  mainMalloced: number;
  external: number;
  workerHeapUsed: number | null;
  workerHeapTotal: number | null;
  workerMalloced: number | null;
  rssAfterTrimKiB?: number;
}

function once(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const c = net.connect(port, '127.0.0.1');
    let got = '';
    c.on('connect', () => c.end(LINE));
    c.on('data', (d: Buffer) => {
      got += d.toString('utf8');
    });
    c.on('error', () => resolve(false));
    c.on('close', () => resolve(got === LINE));
  });
}

async function load(port: number, count: number): Promise<number> {
  let started = 0;
  let failed = 0;
  const deadline = Date.now() + STEP_DEADLINE_MS;
  const worker = async () => {
    while (started < count && Date.now() < deadline) {
      started++;
      if (!(await once(port))) failed++;
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  return failed;
}

class Lines {
  private text = '';
  private waiters: (() => void)[] = [];
  constructor(child: ChildProcess) {
    const take = (d: Buffer) => {
      this.text += d.toString('utf8');
      for (const w of this.waiters.splice(0)) w();
    };
    child.stdout?.on('data', take);
    child.stderr?.on('data', take);
  }
  async next(pattern: RegExp, from: number, ms = 30_000): Promise<{ line: string; end: number }> {
    const deadline = Date.now() + ms;
    for (;;) {
      const rest = this.text.slice(from);
      const m = pattern.exec(rest);
      if (m) return { line: m[0], end: from + m.index + m[0].length };
      if (Date.now() > deadline) throw new Error(`no ${pattern} within ${ms} ms`);
      await new Promise<void>((resolve) => {
        this.waiters.push(resolve);
        setTimeout(resolve, 200);
      });
    }
  }
  get length(): number {
    return this.text.length;
  }
}

interface Row {
  name: string;
  env: NodeJS.ProcessEnv;
}

async function row(r: Row, connections: number, step: number, dir: string): Promise<string[]> {
  const port = await freePort();
  const units = mkdtempSync(join(dir, 'units-'));
  // No trigger limit: this load is well above the default 200 per 2 s.
  writeFileSync(
    join(units, 'echo.socket'),
    `[Socket]\nListenStream=127.0.0.1:${port}\nAccept=yes\nMaxConnections=64\nTriggerLimitBurst=0\n`,
  );
  writeFileSync(join(units, 'echo@.service'), '[Service]\nExecStart=/bin/cat\nStandardInput=socket\n');
  const manager = spawn(
    process.execPath,
    ['--import', PROBE, BIN, 'run', units, '--control-socket', join(units, 'control.sock')],
    { env: { ...process.env, ...r.env }, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const lines = new Lines(manager);
  const out: string[] = [];
  try {
    await lines.next(/socket units listening\./, 0);
    const probe = async (): Promise<Memory> => {
      const from = lines.length;
      manager.kill('SIGUSR2');
      const { line } = await lines.next(/MEMORY (\{.*\})\n/, from);
      return JSON.parse(/MEMORY (\{.*\})/.exec(line)?.[1] ?? '{}') as Memory;
    };
    const mib = (kib: number) => (kib / 1024).toFixed(1);
    const heap = (bytes: number) => (bytes / 2 ** 20).toFixed(1);
    const pid = manager.pid as number;
    let cpuBefore = cpuMs(pid);
    const report = (done: number, m: Memory, failed: number, connections: number) => {
      const cpu = cpuMs(pid);
      const perConnection = connections > 0 ? ((cpu - cpuBefore) / connections).toFixed(2) : '';
      cpuBefore = cpu;
      const workers =
        m.workerHeapUsed === null || m.workerHeapTotal === null
          ? '-'
          : `${heap(m.workerHeapUsed)} / ${heap(m.workerHeapTotal)}`;
      out.push(
        `| ${r.name} | ${done < 0 ? `then ${IDLE_MS / 1000} s idle` : done} | ${mib(m.rssKiB)} | ${mib(m.rssAnonKiB)} | ${heap(m.mainHeapUsed)} / ${heap(m.mainHeapTotal)} | ${heap(m.mainMalloced)} | ${workers} | ${m.threads} | ${m.rssAfterTrimKiB !== undefined ? mib(m.rssAfterTrimKiB) : ''} | ${perConnection} | ${failed} |`,
      );
    };
    report(0, await probe(), 0, 0);
    let failed = 0;
    for (let done = 0; done < connections; ) {
      const n = Math.min(step, connections - done);
      failed += await load(port, n);
      done += n;
      // Let the last instances end and the thread's reports arrive.
      await new Promise((resolve) => setTimeout(resolve, 500));
      report(done, await probe(), failed, n);
    }
    // Idle: what V8's memory reducer gives back once the allocation rate has dropped.
    await new Promise((resolve) => setTimeout(resolve, IDLE_MS));
    report(-1, await probe(), failed, 0);
  } finally {
    await stopChild(manager);
  }
  return out;
}

async function main(): Promise<void> {
  const connections = Number(process.argv[2] ?? 10_000);
  const step = Number(process.argv[3] ?? 2500);
  const dir = mkdtempSync(join(tmpdir(), 'sockunit-bench-memory-'));
  const rows: Row[] = [
    { name: 'accept thread', env: { SOCKUNIT_PROBE_TRIM: '1' } },
    { name: 'main thread only', env: { SOCKUNIT_ACCEPT_THREAD: '0', SOCKUNIT_PROBE_TRIM: '1' } },
    {
      name: 'accept thread, young generations capped (main 1 MiB semi-space, thread 2 MiB)',
      env: {
        NODE_OPTIONS: '--max-semi-space-size=1',
        SOCKUNIT_PROBE_YOUNG_MB: '2',
        SOCKUNIT_PROBE_TRIM: '1',
      },
    },
  ];
  try {
    console.log(`${connections} Accept=yes connections (/bin/cat), ${CONCURRENCY} at a time`);
    console.log(loadLine('start'));
    console.log(
      '| manager | connections | VmRSS MiB | RssAnon MiB | main heap used / total MiB | V8 malloced MiB | accept thread heap used / total MiB | threads | VmRSS after malloc_trim MiB | manager CPU ms per connection | failed |',
    );
    console.log('|---|---|---|---|---|---|---|---|---|---|---|');
    for (const r of rows) for (const line of await row(r, connections, step, dir)) console.log(line);
    console.log(loadLine('end'));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
