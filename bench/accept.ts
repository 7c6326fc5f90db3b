// Accept=yes: connections per second, latency and CPU per connection of one-process-per-connection
// servers on the same trivial service, measured in one run on loopback:
//   stdin/stdout (inetd) rows, service /bin/cat:
//     systemd-socket-activate --inetd -a, socat TCP-LISTEN,fork EXEC:/bin/cat,
//     sockunit activate --inetd -a, sockunit run (Accept=yes unit, StandardInput=socket)
//   LISTEN_FDS rows (connection at fd 3, LISTEN_PID checked), service: a 15-line C echo built here:
//     systemd-socket-activate -a, sockunit activate -a, sockunit run (Accept=yes unit), and the
//     Node floor (bench/floor-server.ts: spawn.md's prototype, nothing but accept and spawn)
// Each connection: connect, send one line, half-close, read the echo until the server closes.
// CPU per connection = the server's utime+stime plus its reaped children's (cutime+cstime) from
// /proc/<pid>/stat, over the row, divided by the connections.
//
// Cgroups: where `sockunit run` puts its services in cgroups (root, a writable cgroup v2
// hierarchy), its rows run that way, and the same units also run with --cgroup=no (process
// groups) beside them: the cost of a cgroup per instance. SOCKUNIT_BENCH_BEFORE=PATH/src/cli/bin.js
// adds `sockunit run` rows of another build (the branch point), to show a unit without cgroups
// pays nothing for them.
//
// With SOCKUNIT_BASELINE=/path/to/another/build/src/cli/bin.js (e.g. a build of main; the older
// name SOCKUNIT_BENCH_BEFORE works too), that build's `sockunit run` rows are measured too,
// interleaved with this one's: before and after a change in the same run, so the machine's drift
// cancels out of their ratio.
//
// Run: npx tsc -p tsconfig.test.json && node .test-build/bench/accept.js [connections] [repetitions]
// Bounded: `connections` per row (default 800), taken in CHUNKS_PER_ROW chunks interleaved with
// the other servers' chunks, a 30 s deadline per chunk, `repetitions` (default 3) passes over
// every concurrency.

import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const BIN = fileURLToPath(new URL('../src/cli/bin.js', import.meta.url));
const FLOOR = fileURLToPath(new URL('./floor-server.js', import.meta.url));
const FLOOR_NAME = 'Node floor (bench/floor-server.ts)';
/** The floor's CPU per connection on the baseline machine (shared/spec/spawn.md), against which
 * the 0.75 ms target was set. */
const FLOOR_BASELINE_MS = 0.7;
const WARM_UP_CONNECTIONS = 2000;
/** Chunks a row is measured in, interleaved with the other servers' (see main). */
const CHUNKS_PER_ROW = 4;
const SELF = fileURLToPath(import.meta.url);
const SSA = '/usr/bin/systemd-socket-activate';
const CONCURRENCY = [1, 8, 32];
const CHUNK_DEADLINE_MS = 30_000;
const CLK_TCK = 100;
const LINE = 'ping sockunit\n';
/** The `sockunit run` row the floor comparison is made with. */
const RUN_FD3 = 'sockunit run (LISTEN_FDS)';

interface ClientResult {
  errors: number;
  mismatches: number;
  elapsedMs: number;
  /** One per finished connection, in ms. */
  latencies: number[];
}

// ---- the load client, run in its own process so it does not share the bench's event loop ----

async function client(port: number, concurrency: number, count: number): Promise<ClientResult> {
  const latencies: number[] = [];
  let started = 0;
  let errors = 0;
  let mismatches = 0;
  const begin = performance.now();
  const deadline = begin + CHUNK_DEADLINE_MS;
  const one = (): Promise<void> =>
    new Promise((resolve) => {
      const t0 = performance.now();
      const sock = net.connect(port, '127.0.0.1');
      let reply = '';
      sock.setNoDelay(true);
      sock.on('connect', () => sock.end(LINE));
      sock.on('data', (d: Buffer) => {
        reply += d.toString();
      });
      sock.on('error', () => {
        errors++;
      });
      sock.on('close', () => {
        latencies.push(performance.now() - t0);
        if (reply !== LINE) mismatches++;
        resolve();
      });
    });
  const lane = async (): Promise<void> => {
    while (started < count && performance.now() < deadline) {
      started++;
      await one();
    }
  };
  await Promise.all(Array.from({ length: concurrency }, lane));
  return { errors, mismatches, elapsedMs: performance.now() - begin, latencies };
}

function runClient(port: number, concurrency: number, count: number): Promise<ClientResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      [SELF, '--client', String(port), String(concurrency), String(count)],
      {
        stdio: ['ignore', 'pipe', 'inherit'],
      },
    );
    let out = '';
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
    });
    child.on('exit', (code) => {
      if (code !== 0) reject(new Error(`load client exited ${code}`));
      else resolve(JSON.parse(out) as ClientResult);
    });
  });
}

// ---- servers ----

interface Server {
  name: string;
  family: 'inetd' | 'listen-fds';
  port: number;
  process: ChildProcess;
}

/** CPU ticks of the server itself (all its threads) and of its reaped children. */
function cpuTicks(pid: number): { own: number; children: number } {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // Fields 14-17 of stat(5) (utime stime cutime cstime) are 11-14 after the comm field.
  return {
    own: Number(fields[11]) + Number(fields[12]),
    children: Number(fields[13]) + Number(fields[14]),
  };
}

function childCount(pid: number): number {
  let n = 0;
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      n += readFileSync(`/proc/${pid}/task/${tid}/children`, 'utf8').split(' ').filter(Boolean).length;
    } catch {}
  }
  return n;
}

async function until(what: string, test: () => boolean, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!test()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

function isListening(port: number): boolean {
  const hex = `:${port.toString(16).toUpperCase().padStart(4, '0')} `;
  for (const file of ['/proc/net/tcp', '/proc/net/tcp6']) {
    for (const line of readFileSync(file, 'utf8').split('\n')) {
      const cols = line.trim().split(/\s+/);
      if (cols[1]?.endsWith(hex.trim()) && cols[3] === '0A') return true;
    }
  }
  return false;
}

async function freePort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise((r) => s.close(r));
  return port;
}

async function startServer(
  name: string,
  family: Server['family'],
  build: (port: number) => [string, string[]],
): Promise<Server> {
  const port = await freePort();
  const [file, args] = build(port);
  const child = spawn(file, args, { stdio: ['ignore', 'ignore', 'ignore'], env: { PATH: '/usr/bin:/bin' } });
  await until(`${name} to listen on ${port}`, () => isListening(port));
  return { name, family, port, process: child };
}

const FD3_ECHO_C = `
#include <stdlib.h>
#include <unistd.h>
int main(void) {
  const char *pid = getenv("LISTEN_PID"), *fds = getenv("LISTEN_FDS");
  if (!pid || !fds || atol(pid) != (long)getpid() || atoi(fds) != 1) {
    write(2, "fd3echo: LISTEN_PID/LISTEN_FDS wrong\\n", 37);
    return 1;
  }
  char buf[4096];
  ssize_t n;
  while ((n = read(3, buf, sizeof buf)) > 0)
    if (write(3, buf, n) != n) return 1;
  return 0;
}
`;

function buildFd3Echo(dir: string): string | undefined {
  const src = join(dir, 'fd3echo.c');
  const out = join(dir, 'fd3echo');
  writeFileSync(src, FD3_ECHO_C);
  const r = spawnSync('cc', ['-O2', '-o', out, src], { encoding: 'utf8' });
  if (r.status !== 0) {
    console.error(`cc failed (${r.error?.message ?? r.stderr}); skipping the LISTEN_FDS rows`);
    return undefined;
  }
  return out;
}

function writeUnits(dir: string, name: string, port: number, service: string): void {
  // The limits are off: systemd's defaults (200 triggers, 150 polls per 2 s for Accept=yes) would
  // fail or pause the socket at these rates, in systemd as here.
  writeFileSync(
    join(dir, `${name}.socket`),
    `[Socket]\nListenStream=127.0.0.1:${port}\nAccept=yes\nMaxConnections=1024\nTriggerLimitIntervalSec=0\nPollLimitIntervalSec=0\n`,
  );
  writeFileSync(join(dir, `${name}@.service`), `[Service]\n${service}`);
}

async function startRun(
  name: string,
  family: Server['family'],
  dir: string,
  service: string,
  options: { bin?: string; args?: string[] } = {},
): Promise<Server> {
  spawnSync('mkdir', ['-p', dir]);
  return startServer(name, family, (port) => {
    writeUnits(dir, 'bench', port, service);
    // A control socket each: managers on one control socket are one manager (and share a cgroup).
    const control = ['--control-socket', join(dir, 'control.sock')];
    return [
      process.execPath,
      [options.bin ?? BIN, 'run', '--log-level=warning', ...control, ...(options.args ?? []), '-p', dir],
    ];
  });
}

/** Whether `sockunit run` here puts services in cgroups (then --cgroup=no rows are added). */
function cgroupsHere(): boolean {
  if (process.geteuid?.() !== 0) return false;
  const mount = readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .find((l) => l.includes(' - cgroup2 '));
  return mount !== undefined;
}

/** Keys of systemd.exec(5) that put the exec-context helper in the chain (one more exec). */
const EXEC_CONTEXT_KEYS =
  'LimitNOFILE=4096\nNice=1\nCapabilityBoundingSet=~CAP_SYS_ADMIN\nNoNewPrivileges=yes\n';

interface Row {
  server: string;
  family: Server['family'];
  concurrency: number;
  connPerSec: number;
  p50: number;
  p99: number;
  /** The server's CPU and its reaped children's, per connection. */
  cpuMsPerConn: number;
  /** The server's own CPU (all its threads, no children), per connection. */
  ownCpuMsPerConn: number;
  errors: number;
}

/** One chunk of a row: `count` connections to one server. */
interface Sample {
  elapsedMs: number;
  latencies: number[];
  ownTicks: number;
  childTicks: number;
  errors: number;
}

async function measure(server: Server, concurrency: number, count: number): Promise<Sample> {
  const pid = server.process.pid as number;
  const before = cpuTicks(pid);
  const r = await runClient(server.port, concurrency, count);
  await until(`${server.name} to reap its children`, () => childCount(pid) === 0, 10_000);
  const after = cpuTicks(pid);
  return {
    elapsedMs: r.elapsedMs,
    latencies: r.latencies,
    ownTicks: after.own - before.own,
    childTicks: after.children - before.children,
    errors: r.errors + r.mismatches + (count - r.latencies.length),
  };
}

/** A row from its chunks: rates and CPU over all of them, latency percentiles over every
 * connection. */
function rowOf(server: Server, concurrency: number, samples: Sample[]): Row {
  const latencies = samples.flatMap((x) => x.latencies).sort((a, b) => a - b);
  const done = Math.max(1, latencies.length);
  const pick = (q: number): number => latencies[Math.min(done - 1, Math.floor(q * done))] ?? 0;
  const sum = (f: (x: Sample) => number) => samples.reduce((n, x) => n + f(x), 0);
  const tickMs = 1000 / CLK_TCK;
  return {
    server: server.name,
    family: server.family,
    concurrency,
    connPerSec: (latencies.length / sum((x) => x.elapsedMs)) * 1000,
    p50: pick(0.5),
    p99: pick(0.99),
    cpuMsPerConn: (sum((x) => x.ownTicks + x.childTicks) * tickMs) / done,
    ownCpuMsPerConn: (sum((x) => x.ownTicks) * tickMs) / done,
    errors: sum((x) => x.errors),
  };
}

/** CPU ms of one fork+exec of /bin/true by dash, from the shell's own and its reaped children's
 * times: the floor every row pays per connection, measured in the same run so a loaded or
 * throttled machine can be told apart from a slow server. */
function execFloorMs(count = 300): number {
  const script = `i=0; while [ $i -lt ${count} ]; do /bin/true; i=$((i+1)); done; cat /proc/$$/stat`;
  const stat = spawnSync('/bin/sh', ['-c', script], { encoding: 'utf8' }).stdout;
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticks = [11, 12, 13, 14].reduce((sum, i) => sum + Number(fields[i]), 0);
  return (ticks * 1000) / CLK_TCK / count;
}

function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.floor((s.length - 1) / 2)] ?? 0;
}

async function main(): Promise<void> {
  const count = Number(process.argv[2] ?? 800);
  const repetitions = Number(process.argv[3] ?? 3);
  const dir = mkdtempSync(join(tmpdir(), 'sockunit-bench-accept-'));
  const servers: Server[] = [];
  try {
    const hasSsa = existsSync(SSA);
    const socat = ['/usr/bin/socat', '/bin/socat'].find((p) => existsSync(p));
    if (!hasSsa) console.error('systemd-socket-activate missing: its rows are skipped');
    if (!socat) console.error('socat missing (apt-get install -y socat): its row is skipped');
    const su = (args: string[]): [string, string[]] => [process.execPath, [BIN, 'activate', ...args]];
    if (hasSsa)
      servers.push(
        await startServer('systemd-socket-activate --inetd -a', 'inetd', (p) => [
          SSA,
          ['--inetd', '-a', '-l', `127.0.0.1:${p}`, '/bin/cat'],
        ]),
      );
    if (socat)
      servers.push(
        await startServer('socat TCP-LISTEN,fork EXEC:/bin/cat', 'inetd', (p) => [
          socat,
          [`TCP-LISTEN:${p},bind=127.0.0.1,reuseaddr,fork,backlog=4096`, 'EXEC:/bin/cat'],
        ]),
      );
    servers.push(
      await startServer('sockunit activate --inetd -a', 'inetd', (p) =>
        su(['--inetd', '-a', '-l', `127.0.0.1:${p}`, '/bin/cat']),
      ),
    );
    const runCat = join(dir, 'run-cat');
    const runFd3 = join(dir, 'run-fd3');
    for (const d of [runCat, runFd3]) spawnSync('mkdir', ['-p', d]);
    const catUnit = 'ExecStart=/bin/cat\nStandardInput=socket\n';
    const cgroups = cgroupsHere();
    const before = process.env.SOCKUNIT_BASELINE ?? process.env.SOCKUNIT_BENCH_BEFORE;
    servers.push(await startRun('sockunit run (StandardInput=socket)', 'inetd', runCat, catUnit));
    if (cgroups)
      servers.push(
        await startRun(
          'sockunit run (StandardInput=socket, --cgroup=no)',
          'inetd',
          join(dir, 'run-cat-no'),
          catUnit,
          {
            args: ['--cgroup=no'],
          },
        ),
      );
    if (before)
      servers.push(
        await startRun(
          'sockunit run (StandardInput=socket) before',
          'inetd',
          join(dir, 'run-cat-before'),
          catUnit,
          {
            bin: before,
          },
        ),
      );
    const fd3echo = buildFd3Echo(dir);
    if (fd3echo) {
      if (hasSsa)
        servers.push(
          await startServer('systemd-socket-activate -a', 'listen-fds', (p) => [
            SSA,
            ['-a', '-l', `127.0.0.1:${p}`, fd3echo],
          ]),
        );
      servers.push(
        await startServer('sockunit activate -a', 'listen-fds', (p) =>
          su(['-a', '-l', `127.0.0.1:${p}`, fd3echo]),
        ),
      );
      servers.push(await startRun(RUN_FD3, 'listen-fds', runFd3, `ExecStart=${fd3echo}\n`));
      if (cgroups)
        servers.push(
          await startRun(
            'sockunit run (LISTEN_FDS, --cgroup=no)',
            'listen-fds',
            join(dir, 'run-fd3-no'),
            `ExecStart=${fd3echo}\n`,
            {
              args: ['--cgroup=no'],
            },
          ),
        );
      if (before)
        servers.push(
          await startRun(
            'sockunit run (LISTEN_FDS) before',
            'listen-fds',
            join(dir, 'run-fd3-before'),
            `ExecStart=${fd3echo}\n`,
            {
              bin: before,
            },
          ),
        );
      servers.push(
        await startRun(
          'sockunit run (LISTEN_FDS, limits, nice, capabilities)',
          'listen-fds',
          join(dir, 'run-keys'),
          `ExecStart=${fd3echo}\n${EXEC_CONTEXT_KEYS}`,
        ),
      );
      servers.push(
        await startServer(FLOOR_NAME, 'listen-fds', (p) => [process.execPath, [FLOOR, String(p), fd3echo]]),
      );
    }
    // Warm-up to the steady state of a long-running manager: page cache, the watcher and accept
    // threads, and V8's optimizing compiler. After 400 connections TurboFan jobs were still 80 %
    // of the Node platform threads' CPU (~0.2 ms per connection of `run`, on this VM 10-20 ms a
    // job); after 2,000 they are done. systemd-socket-activate gets the same warm-up.
    for (const s of servers) await measure(s, 8, WARM_UP_CONNECTIONS);
    // Each row is taken in CHUNKS_PER_ROW chunks, interleaved with the other servers' chunks
    // (starting with a different server each time): on a shared VM the cost of an exec drifts
    // by 10-20 % within a minute, and a row measured whole, after another server's, carried that
    // drift into the ratios between them.
    const rows: Row[] = [];
    const chunk = Math.ceil(count / CHUNKS_PER_ROW);
    for (let rep = 0; rep < repetitions; rep++)
      for (const c of CONCURRENCY) {
        const samples = servers.map((): Sample[] => []);
        for (let k = 0; k < CHUNKS_PER_ROW; k++)
          for (let i = 0; i < servers.length; i++) {
            const at = (i + k) % servers.length;
            samples[at]?.push(await measure(servers[at] as Server, c, chunk));
          }
        servers.forEach((s, i) => {
          const row = rowOf(s, c, samples[i] ?? []);
          rows.push(row);
          console.error(
            `rep ${rep + 1} c=${c} ${s.name}: ${row.connPerSec.toFixed(0)} conn/s, p50 ${row.p50.toFixed(2)} ms, ` +
              `p99 ${row.p99.toFixed(2)} ms, CPU ${row.cpuMsPerConn.toFixed(3)} ms/conn ` +
              `(own ${row.ownCpuMsPerConn.toFixed(3)}), errors ${row.errors}`,
          );
        });
      }
    printTable(rows, servers, count, repetitions);
    console.log(
      `\nExec floor in this run: ${execFloorMs().toFixed(2)} ms CPU per fork+exec of /bin/true by /bin/sh ` +
        '(0.5 ms on this machine when idle, shared/spec/baselines.md).',
    );
  } finally {
    for (const s of servers) s.process.kill('SIGTERM');
    rmSync(dir, { recursive: true, force: true });
  }
}

function printTable(rows: Row[], servers: Server[], count: number, repetitions: number): void {
  console.log(
    `\nAccept=yes, ${count} connections a row, median of ${repetitions} interleaved repetitions; ratio = conn/s over systemd-socket-activate's in the same family and concurrency.\n`,
  );
  console.log(
    '| server | service | c | conn/s | ratio | p50 ms | p99 ms | CPU ms/conn | CPU ratio | own CPU ms/conn | errors |',
  );
  console.log('|---|---|---|---|---|---|---|---|---|---|---|');
  for (const family of ['inetd', 'listen-fds'] as const)
    for (const c of CONCURRENCY) {
      const of = (name: string) => rows.filter((r) => r.server === name && r.concurrency === c);
      const reference = servers.find(
        (s) => s.family === family && s.name.startsWith('systemd-socket-activate'),
      );
      const refRate = reference ? median(of(reference.name).map((r) => r.connPerSec)) : Number.NaN;
      const refCpu = reference ? median(of(reference.name).map((r) => r.cpuMsPerConn)) : Number.NaN;
      for (const s of servers.filter((x) => x.family === family)) {
        const mine = of(s.name);
        const rate = median(mine.map((r) => r.connPerSec));
        const cpu = median(mine.map((r) => r.cpuMsPerConn));
        console.log(
          `| ${s.name} | ${family === 'inetd' ? '/bin/cat on stdin/stdout' : 'C echo on fd 3 (LISTEN_PID checked)'} | ${c} | ${rate.toFixed(0)} | ${(rate / refRate).toFixed(2)} | ` +
            `${median(mine.map((r) => r.p50)).toFixed(2)} | ${median(mine.map((r) => r.p99)).toFixed(2)} | ` +
            `${cpu.toFixed(2)} | ${(cpu / refCpu).toFixed(2)} | ${median(mine.map((r) => r.ownCpuMsPerConn)).toFixed(2)} | ` +
            `${mine.reduce((n, r) => n + r.errors, 0)} |`,
        );
      }
    }
  printFloorComparison(rows);
}

/** CPU per connection of `sockunit run` over the Node floor's, per concurrency, and what that
 * ratio makes of the floor's 0.70 ms on the baseline machine. Both run the same service on the
 * same machine, their chunks interleaved, so the ratio carries over where absolute figures do
 * not. Ratios are taken per repetition (each pair measured side by side), then the median; the
 * servers' own CPU (no children) is compared too: it is the part the manager's code decides. */
function printFloorComparison(rows: Row[]): void {
  const ofServer = (name: string, c: number) => rows.filter((r) => r.server === name && r.concurrency === c);
  const lines: string[] = [];
  for (const c of CONCURRENCY) {
    const floor = ofServer(FLOOR_NAME, c);
    const run = ofServer(RUN_FD3, c);
    if (floor.length === 0 || floor.length !== run.length) return;
    const total = run.map((r, i) => r.cpuMsPerConn / (floor[i]?.cpuMsPerConn ?? Number.NaN));
    const own = run.map((r, i) => r.ownCpuMsPerConn / (floor[i]?.ownCpuMsPerConn ?? Number.NaN));
    const ratio = median(total);
    lines.push(
      `c=${c}: ${ratio.toFixed(2)}x -> ${(ratio * FLOOR_BASELINE_MS).toFixed(2)} ms ` +
        `(repetitions ${total.map((x) => x.toFixed(2)).join(', ')}); own CPU ${median(own).toFixed(2)}x`,
    );
  }
  console.log(
    `\nCPU per connection, sockunit run over the Node floor, scaled to the floor's ${FLOOR_BASELINE_MS} ms on the baseline machine:\n${lines.join('\n')}`,
  );
}

if (process.argv[2] === '--client') {
  const [port, concurrency, count] = process.argv.slice(3).map(Number) as [number, number, number];
  client(port, concurrency, count).then((r) => process.stdout.write(JSON.stringify(r)));
} else {
  main().catch((err: unknown) => {
    console.error(err);
    process.exitCode = 1;
  });
}
