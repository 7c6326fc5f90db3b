// Orphans under a busy PID 1: how many zombies wait at once while a service leaves orphans
// behind at a steady rate. `sockunit run` runs as a child subreaper (prctl before exec, as under
// a container's init), with one Accept=no service: a small C program built here that, RATE
// times a second for SECONDS seconds, forks a child that forks a grandchild and exits; the
// grandchild exits at once and is re-parented to the manager, which must reap it. The bench
// samples the manager's zombie children every SAMPLE_MS from /proc and prints the largest count,
// percentiles, the orphans really made, and the manager's CPU over the run.
//
// Run: npx tsc -p tsconfig.test.json && node .test-build/bench/orphans.js [rate] [seconds] [runs]
// Bounded: at most rate x seconds orphans per run (default 500 x 10), 3 runs, a deadline of
// seconds + 30 s per run.

import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort, loadLine, stopChild } from './helpers.js';

const BIN = fileURLToPath(new URL('../src/cli/bin.js', import.meta.url));
const PYTHON = '/usr/bin/python3';
const SAMPLE_MS = 10;
const CLK_TCK = 100;
const SUBREAPER =
  'import ctypes, os, sys; assert ctypes.CDLL(None, use_errno=True).prctl(36, 1, 0, 0, 0) == 0; os.execv(sys.argv[1], sys.argv[1:])';

// Paced by absolute deadlines, so a slow fork does not lower the rate; prints how many it made.
const ORPHANS_C = String.raw`
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
int main(int argc, char **argv) {
  long rate = atol(argv[1]), seconds = atol(argv[2]), total = rate * seconds, made = 0;
  struct timespec start, next;
  clock_gettime(CLOCK_MONOTONIC, &start);
  for (long i = 0; i < total; i++) {
    long ns = (long)((double)i * 1e9 / (double)rate);
    next.tv_sec = start.tv_sec + (start.tv_nsec + ns) / 1000000000L;
    next.tv_nsec = (start.tv_nsec + ns) % 1000000000L;
    clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next, NULL);
    pid_t child = fork();
    if (child == 0) {
      if (fork() == 0) _exit(0);
      _exit(0);
    }
    if (child > 0) {
      waitpid(child, NULL, 0);
      made++;
    }
  }
  printf("made %ld orphans\n", made);
  fflush(stdout);
  pause();
  return 0;
}
`;

function zombieChildren(pid: number): number {
  let count = 0;
  let tasks: string[];
  try {
    tasks = readdirSync(`/proc/${pid}/task`);
  } catch {
    return 0;
  }
  for (const tid of tasks) {
    let children: string;
    try {
      children = readFileSync(`/proc/${pid}/task/${tid}/children`, 'latin1');
    } catch {
      continue;
    }
    for (const child of children.split(' ')) {
      if (!child) continue;
      try {
        const stat = readFileSync(`/proc/${child}/stat`, 'latin1');
        if (stat[stat.lastIndexOf(')') + 2] === 'Z') count++;
      } catch {}
    }
  }
  return count;
}

function cpuMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return ((Number(f[11]) + Number(f[12])) * 1000) / CLK_TCK;
}

function waitForLine(child: ChildProcess, pattern: RegExp, ms: number): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = '';
    const timer = setTimeout(() => reject(new Error(`no ${pattern} within ${ms} ms:\n${text}`)), ms);
    const take = (d: Buffer) => {
      text += d.toString('utf8');
      const m = text.split('\n').find((l) => pattern.test(l));
      if (m) {
        clearTimeout(timer);
        child.stdout?.off('data', take);
        child.stderr?.off('data', take);
        resolve(m);
      }
    };
    child.stdout?.on('data', take);
    child.stderr?.on('data', take);
  });
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0;
}

interface RunResult {
  made: number;
  max: number;
  p50: number;
  p99: number;
  samples: number;
  cpuMs: number;
  left: number;
}

async function run(dir: string, producer: string, rate: number, seconds: number): Promise<RunResult> {
  const port = await freePort();
  const units = mkdtempSync(join(dir, 'units-'));
  writeFileSync(join(units, 'storm.socket'), `[Socket]\nListenStream=127.0.0.1:${port}\n`);
  writeFileSync(join(units, 'storm.service'), `[Service]\nExecStart=${producer} ${rate} ${seconds}\n`);
  const manager = spawn(
    PYTHON,
    ['-c', SUBREAPER, process.execPath, BIN, 'run', units, '--control-socket', join(units, 'control.sock')],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  try {
    await waitForLine(manager, /socket units listening\.$/, 20_000);
    const pid = manager.pid as number;
    const cpu0 = cpuMs(pid);
    const done = waitForLine(manager, /made \d+ orphans/, (seconds + 30) * 1000);
    await new Promise<void>((resolve, reject) => {
      const c = net.connect(port, '127.0.0.1', () => {
        c.destroy();
        resolve();
      });
      c.on('error', reject);
    });
    const counts: number[] = [];
    let finished = false;
    let line = '';
    void done.then((l) => {
      line = l;
      finished = true;
    });
    while (!finished) {
      counts.push(zombieChildren(pid));
      await new Promise((r) => setTimeout(r, SAMPLE_MS));
    }
    await done;
    const cpu = cpuMs(pid) - cpu0;
    // What is left a moment after the last orphan (the reaper had a SIGCHLD for each).
    await new Promise((r) => setTimeout(r, 200));
    const left = zombieChildren(pid);
    const sorted = [...counts].sort((a, b) => a - b);
    return {
      made: Number(/made (\d+)/.exec(line)?.[1]),
      max: sorted.at(-1) ?? 0,
      p50: percentile(sorted, 50),
      p99: percentile(sorted, 99),
      samples: counts.length,
      cpuMs: cpu,
      left,
    };
  } finally {
    await stopChild(manager);
  }
}

async function main(): Promise<void> {
  const rate = Number(process.argv[2] ?? 500);
  const seconds = Number(process.argv[3] ?? 10);
  const runs = Number(process.argv[4] ?? 3);
  const dir = mkdtempSync(join(tmpdir(), 'sockunit-bench-orphans-'));
  try {
    const producer = join(dir, 'orphans');
    writeFileSync(`${producer}.c`, ORPHANS_C);
    const cc = spawnSync('cc', ['-O2', '-o', producer, `${producer}.c`], { encoding: 'utf8' });
    if (cc.status !== 0) throw new Error(`cc failed (a C compiler is needed): ${cc.stderr}`);
    console.log(`orphans: ${rate}/s for ${seconds} s, zombies sampled every ${SAMPLE_MS} ms`);
    console.log(loadLine('start'));
    console.log(
      '| run | orphans made | zombies max | p99 | p50 | samples | left after 200 ms | manager CPU ms | CPU ms per 1,000 orphans |',
    );
    console.log('|---|---|---|---|---|---|---|---|---|');
    for (let i = 1; i <= runs; i++) {
      const r = await run(dir, producer, rate, seconds);
      console.log(
        `| ${i} | ${r.made} | ${r.max} | ${r.p99} | ${r.p50} | ${r.samples} | ${r.left} | ${r.cpuMs.toFixed(0)} | ${((r.cpuMs / r.made) * 1000).toFixed(0)} |`,
      );
    }
    console.log(loadLine('end'));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
