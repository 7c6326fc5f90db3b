// Boot-mode benchmark: time from `sockunit run --target bench.target` (exec) to "Reached target"
// for two shapes issue 16 names, at several sizes to show how it scales:
// - a chain of N services, each After= the one before (the start order is the whole chain);
// - N units pulled in by one target's Wants= (fan-out): targets (the jobs room alone) and
//   services (each a process: what a real boot pays).
// The services are Type=oneshot /bin/true with RemainAfterExit=yes, so every start is a real
// process and finishes on its own. Beside it, in the same run: `node -e 0` (Node's own start).
// No peer: systemd cannot run as a second manager here (it is not PID 1 on these machines).
//
// Run: npx tsc -p tsconfig.test.json && node .test-build/bench/deps.js [runs] [sizes...]

import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, release, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const BIN = fileURLToPath(new URL('../src/cli/bin.js', import.meta.url));
const RUNS = Number(process.argv[2] ?? 3);
const SIZES = process.argv
  .slice(3)
  .map(Number)
  .filter((n) => n > 0);
const sizes = SIZES.length > 0 ? SIZES : [100, 200, 500, 1000];

type Shape = 'chain of services (After=)' | 'fan-out of targets (Wants=)' | 'fan-out of services (Wants=)';

const ONESHOT = '[Service]\nType=oneshot\nRemainAfterExit=yes\nExecStart=/bin/true\n';

function generate(dir: string, shape: Shape, n: number): void {
  const wants: string[] = [];
  for (let i = 0; i < n; i++) {
    if (shape === 'fan-out of targets (Wants=)') {
      writeFileSync(join(dir, `t${i}.target`), '[Unit]\n');
      wants.push(`t${i}.target`);
    } else if (shape === 'fan-out of services (Wants=)') {
      writeFileSync(join(dir, `s${i}.service`), ONESHOT);
      wants.push(`s${i}.service`);
    } else {
      const after = i === 0 ? '' : `Requires=c${i - 1}.service\nAfter=c${i - 1}.service\n`;
      writeFileSync(join(dir, `c${i}.service`), `[Unit]\n${after}${ONESHOT}`);
    }
  }
  if (shape === 'chain of services (After=)') wants.push(`c${n - 1}.service`);
  writeFileSync(join(dir, 'bench.target'), `[Unit]\nDescription=Bench\nWants=${wants.join(' ')}\n`);
}

const TICK_MS = 1000 / 100; // USER_HZ

/** The manager's own CPU (user + system, ms) so far, and its children's that it reaped. */
function cpuOf(pid: number): { own: number; children: number } {
  const stat = spawnSync('cat', [`/proc/${pid}/stat`], { encoding: 'utf8' }).stdout;
  const f = stat
    .slice(stat.lastIndexOf(')') + 2)
    .split(' ')
    .map(Number);
  // utime stime cutime cstime are fields 14-17 (1-based), 12-15 after the comm.
  return { own: ((f[11] ?? 0) + (f[12] ?? 0)) * TICK_MS, children: ((f[13] ?? 0) + (f[14] ?? 0)) * TICK_MS };
}

/** ms from exec to the "Reached target" line, the manager's CPU by then, and its peak RSS (MiB). */
function boot(dir: string): Promise<{ ms: number; rssMiB: number; cpu: { own: number; children: number } }> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child = spawn(
      process.execPath,
      [BIN, 'run', dir, '--target', 'bench.target', '--control-socket', join(dir, 'c.sock')],
      { stdio: ['ignore', 'pipe', 'pipe'], env: { PATH: process.env.PATH ?? '/usr/bin:/bin' } },
    );
    let out = '';
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`no target after 60 s:\n${out}`));
    }, 60_000);
    const check = (d: Buffer) => {
      out += d.toString();
      if (!out.includes('socket units listening')) return;
      const ms = performance.now() - t0;
      const cpu = cpuOf(child.pid as number);
      let rssMiB = 0;
      try {
        const status = spawnSync('cat', [`/proc/${child.pid}/status`], { encoding: 'utf8' }).stdout;
        rssMiB = Number(/VmHWM:\s+(\d+)/.exec(status)?.[1] ?? 0) / 1024;
      } catch {}
      clearTimeout(timer);
      child.kill('SIGTERM');
      child.on('exit', () => resolve({ ms, rssMiB, cpu }));
    };
    child.stdout.on('data', check);
    child.stderr.on('data', check);
  });
}

function nodeFloor(): number {
  const t0 = performance.now();
  spawnSync(process.execPath, ['-e', '0'], { env: { PATH: process.env.PATH ?? '/usr/bin:/bin' } });
  return performance.now() - t0;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;

async function main(): Promise<void> {
  const shapes: Shape[] = [
    'chain of services (After=)',
    'fan-out of targets (Wants=)',
    'fan-out of services (Wants=)',
  ];
  const rows: string[] = [];
  const floors: number[] = [];
  for (const n of sizes) {
    for (const shape of shapes) {
      const dir = mkdtempSync(join(tmpdir(), 'sockunit-bench-deps-'));
      try {
        generate(dir, shape, n);
        const times: number[] = [];
        const rss: number[] = [];
        const own: number[] = [];
        const kids: number[] = [];
        for (let r = 0; r < RUNS; r++) {
          floors.push(nodeFloor());
          const b = await boot(dir);
          times.push(b.ms);
          rss.push(b.rssMiB);
          own.push(b.cpu.own);
          kids.push(b.cpu.children);
        }
        rows.push(
          `| ${shape} | ${n} | ${median(times).toFixed(0)} | ${Math.min(...times).toFixed(0)}–${Math.max(...times).toFixed(0)} | ${median(own).toFixed(0)} | ${median(kids).toFixed(0)} | ${median(rss).toFixed(0)} |`,
        );
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    }
  }
  const cpu = cpus();
  console.log(
    `machine: ${cpu.length} x ${cpu[0]?.model ?? 'unknown CPU'}, Linux ${release()}, Node ${process.version}, load ${loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')}; ${RUNS} runs each, NODE_EXTRA_CA_CERTS unset for every process`,
  );
  console.log(`node -e 0 in the same run: median ${median(floors).toFixed(0)} ms\n`);
  console.log(
    '| shape | units | exec → target reached, median ms | range ms | manager CPU ms | services CPU ms (reaped) | peak RSS MiB |',
  );
  console.log('|---|---|---|---|---|---|---|');
  for (const r of rows) console.log(r);
}

await main();
