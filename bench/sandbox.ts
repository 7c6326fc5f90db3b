// What sandboxing costs: one-process-per-connection (Accept=yes, /bin/cat on the connection) under
// `sockunit run`, in one run on loopback, chunks of every server interleaved:
//   - a unit without sandboxing keys, this build, and (with --baseline DIR) the same unit under
//     another build of sockunit (e.g. main before this change): a unit without the keys must pay
//     nothing;
//   - per-process keys (ProtectSystem=strict, ProtectHome=yes, PrivateTmp=disconnected,
//     SystemCallFilter=@system-service, RestrictAddressFamilies=): instances start from the
//     accept thread through the sandbox helper;
//   - PrivateNetwork=yes: each instance (one process) makes its own network namespace, from the
//     accept thread;
//   - PrivateTmp=yes with PrivateNetwork=yes: the main thread makes each instance's /tmp
//     directory; compared with an unsandboxed main-thread row (SOCKUNIT_ACCEPT_THREAD=0).
// Then the exec chain alone, without a manager: /bin/true started directly, through the sandbox
// helper with a ProtectSystem=strict + PrivateTmp=disconnected + SystemCallFilter=@system-service
// plan, and (when Debian's bubblewrap is installed) through bwrap with the same mounts and a
// seccomp filter: the measurement behind the choice of mechanism (README, Design notes).
// Each connection: connect, send a line, half-close, read the echo to the end. The added start
// cost is the p50 latency over the unsandboxed row's; CPU per connection includes the reaped
// children (utime+stime+cutime+cstime of the manager).
//
// Run as root: npx tsc -p tsconfig.test.json && node .test-build/bench/sandbox.js [connections]
//   [rounds] [--baseline DIR]   (DIR: a built sockunit checkout, its dist/cli/bin.js is run)
// Bounded: `connections` (default 300) per row in `rounds` (default 3) chunks, 30 s per chunk.

import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const BIN = fileURLToPath(new URL('../src/cli/bin.js', import.meta.url));
const CLK_TCK = 100;
const CHUNK_DEADLINE_MS = 30_000;
const LINE = 'ping sockunit\n';

interface Server {
  name: string;
  port: number;
  child: ChildProcess;
}

const SANDBOX_PER_PROCESS = [
  'ProtectSystem=strict',
  'ProtectHome=yes',
  'PrivateTmp=disconnected',
  'SystemCallFilter=@system-service',
  'RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6',
].join('\n');
const SANDBOX_NETWORK = ['PrivateNetwork=yes', 'ProtectSystem=strict'].join('\n');
const SANDBOX_PER_UNIT = ['PrivateTmp=yes', 'PrivateNetwork=yes', 'ProtectSystem=strict'].join('\n');

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

async function startServer(
  name: string,
  bin: string,
  dir: string,
  sandbox: string,
  env: NodeJS.ProcessEnv = process.env,
): Promise<Server> {
  const port = await freePort();
  writeFileSync(
    join(dir, 'bench.socket'),
    `[Socket]\nListenStream=127.0.0.1:${port}\nAccept=yes\nMaxConnections=1024\nTriggerLimitIntervalSec=0\nPollLimitIntervalSec=0\n`,
  );
  writeFileSync(
    join(dir, 'bench@.service'),
    `[Service]\nStandardInput=socket\nExecStart=/bin/cat\n${sandbox}\n`,
  );
  const child = spawn(
    process.execPath,
    [bin, 'run', '--log-level=warning', '--control-socket', join(dir, 'c.sock'), '-p', dir],
    {
      stdio: ['ignore', 'inherit', 'inherit'],
      env,
    },
  );
  const deadline = Date.now() + 10_000;
  for (;;) {
    try {
      await oneConnection(port);
      break;
    } catch (err) {
      if (Date.now() > deadline) {
        child.kill('SIGTERM');
        throw new Error(`${name} did not answer: ${(err as Error).message}`);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  return { name, port, child };
}

function oneConnection(port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const sock = net.connect(port, '127.0.0.1');
    let got = '';
    sock.setEncoding('utf8');
    sock.on('data', (d) => {
      got += d;
    });
    sock.on('error', reject);
    sock.on('connect', () => sock.end(LINE));
    sock.on('close', () =>
      got === LINE ? resolve(performance.now() - t0) : reject(new Error(`echo was '${got}'`)),
    );
  });
}

function cpuTicks(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return [11, 12, 13, 14].reduce((n, i) => n + Number(f[i]), 0);
}

interface Sample {
  latencies: number[];
  elapsedMs: number;
  ticks: number;
  errors: number;
}

async function chunk(server: Server, count: number): Promise<Sample> {
  const pid = server.child.pid as number;
  const before = cpuTicks(pid);
  const begin = performance.now();
  const latencies: number[] = [];
  let errors = 0;
  for (let i = 0; i < count && performance.now() - begin < CHUNK_DEADLINE_MS; i++) {
    try {
      latencies.push(await oneConnection(server.port));
    } catch {
      errors++;
    }
  }
  const elapsedMs = performance.now() - begin;
  // Let the last instances be reaped, so their CPU lands in this chunk.
  await new Promise((r) => setTimeout(r, 300));
  return { latencies, elapsedMs, ticks: cpuTicks(pid) - before, errors };
}

function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.floor((s.length - 1) / 2)] ?? 0;
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const at = args.indexOf('--baseline');
  const baseline = at >= 0 ? args.splice(at, 2)[1] : undefined;
  const connections = Number(args[0] ?? 300);
  const rounds = Number(args[1] ?? 3);
  if (process.geteuid?.() !== 0) throw new Error('run as root: the sandboxed rows make namespaces');
  const dirs: string[] = [];
  const dir = () => {
    const d = mkdtempSync(join(tmpdir(), 'sockunit-bench-sandbox-'));
    dirs.push(d);
    return d;
  };
  const servers: Server[] = [];
  try {
    if (baseline)
      servers.push(
        await startServer('no keys, baseline build', join(baseline, 'dist/cli/bin.js'), dir(), ''),
      );
    servers.push(await startServer('no keys, this build', BIN, dir(), ''));
    servers.push(await startServer('per-process keys (accept thread)', BIN, dir(), SANDBOX_PER_PROCESS));
    servers.push(await startServer('PrivateNetwork=yes (accept thread)', BIN, dir(), SANDBOX_NETWORK));
    const mainThread = { ...process.env, SOCKUNIT_ACCEPT_THREAD: '0' };
    servers.push(await startServer('no keys, main thread', BIN, dir(), '', mainThread));
    servers.push(
      await startServer('PrivateTmp=yes PrivateNetwork=yes (main thread)', BIN, dir(), SANDBOX_PER_UNIT),
    );
    // Warm up every server (JIT, page cache, the helper and plan files).
    for (const s of servers) await chunk(s, 50);
    const samples = new Map<Server, Sample[]>(servers.map((s) => [s, []]));
    const per = Math.ceil(connections / rounds);
    for (let r = 0; r < rounds; r++) for (const s of servers) samples.get(s)?.push(await chunk(s, per));
    const rows = servers.map((s) => {
      const xs = samples.get(s) ?? [];
      const lat = xs.flatMap((x) => x.latencies);
      const done = Math.max(1, lat.length);
      return {
        server: s.name,
        connPerSec: (lat.length / xs.reduce((n, x) => n + x.elapsedMs, 0)) * 1000,
        p50: median(lat),
        cpuMsPerConn: (xs.reduce((n, x) => n + x.ticks, 0) * (1000 / CLK_TCK)) / done,
        errors: xs.reduce((n, x) => n + x.errors, 0),
      };
    });
    const plain = rows.find((r) => r.server === 'no keys, this build');
    console.log('server                                              conn/s   p50 ms  CPU ms/conn  errors');
    for (const r of rows)
      console.log(
        `${r.server.padEnd(50)} ${r.connPerSec.toFixed(0).padStart(7)}  ${r.p50.toFixed(2).padStart(7)}  ${r.cpuMsPerConn.toFixed(2).padStart(11)}  ${String(r.errors).padStart(6)}`,
      );
    if (plain) {
      const base = rows.find((r) => r.server === 'no keys, baseline build');
      if (base)
        console.log(
          `\nno keys, this build over the baseline: ${(plain.connPerSec / base.connPerSec).toFixed(2)}x conn/s, ` +
            `${(plain.cpuMsPerConn / base.cpuMsPerConn).toFixed(2)}x CPU per connection`,
        );
      // Each sandboxed row against the unsandboxed row of the same path.
      const mainPlain = rows.find((r) => r.server === 'no keys, main thread');
      for (const r of rows.filter((x) => x.server.startsWith('per-') || x.server.startsWith('Private'))) {
        const ref = r.server.includes('main thread') && mainPlain ? mainPlain : plain;
        console.log(
          `${r.server}: start adds ${(r.p50 - ref.p50).toFixed(2)} ms (p50 latency), ` +
            `${(r.cpuMsPerConn - ref.cpuMsPerConn).toFixed(2)} ms CPU per connection, over '${ref.server}'`,
        );
      }
    }
  } finally {
    for (const s of servers) s.child.kill('SIGTERM');
    await new Promise((r) => setTimeout(r, 500));
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  }
}

/** ms per start of `argv`, over `count` runs (spawnSync: a fork of this process each, the same
 * for every row). */
function startCost(argv: string[], count: number, fd3?: string): number {
  let total = 0;
  for (let i = 0; i < count; i++) {
    // bwrap reads its filter from fd 3 to the end: a fresh open for every run.
    const input = fd3 === undefined ? undefined : openSync(fd3, 'r');
    const t0 = performance.now();
    const r = spawnSync(argv[0] as string, argv.slice(1), {
      stdio: input === undefined ? 'ignore' : ['ignore', 'ignore', 'ignore', input],
    });
    total += performance.now() - t0;
    if (input !== undefined) closeSync(input);
    if (r.status !== 0) throw new Error(`${argv.join(' ')} exited ${r.status}`);
  }
  return total / count;
}

async function chain(count: number): Promise<void> {
  const { planSandbox, SandboxRuntime } = await import('../src/manager/exec/sandbox.js');
  const { sandboxWrap } = await import('../src/sys/syscall-plan.js');
  const { compileFilter } = await import('../src/sys/seccomp.js');
  const { defaultSandboxContext, filterEntryCalls } = await import('../src/unit/sandbox-config.js');
  const sandbox = defaultSandboxContext();
  sandbox.protectSystem = 'strict';
  sandbox.privateTmp = 'disconnected';
  const entries = new Map<string, number | undefined>();
  for (const c of filterEntryCalls('@system-service')) entries.set(c, undefined);
  sandbox.systemCallFilter = { allowList: true, entries };
  const launch = planSandbox({
    unit: 'bench',
    sandbox,
    switchesUser: false,
    runtime: new SandboxRuntime('bench'),
    cwd: '/',
    singleProcess: true,
  });
  // Both plans, as a service gets them: the filters innermost (exec/process.ts).
  const inner = sandboxWrap(launch?.late as string, '/bin/true', ['true']);
  const helper = sandboxWrap(launch?.early as string, inner.file, inner.argv).argv;
  const rows: [string, string[], string | undefined][] = [
    ['/bin/true', ['/bin/true'], undefined],
    ['sandbox helper', helper, undefined],
  ];
  const bwrap = spawnSync('/bin/sh', ['-c', 'command -v bwrap'], { encoding: 'utf8' }).stdout.trim();
  if (bwrap) {
    const calls = [...filterEntryCalls('@default'), ...entries.keys()];
    const program = compileFilter({
      defaultAction: { kind: 'kill' },
      rules: calls.map((syscall) => ({ syscall, action: { kind: 'allow' } })),
    });
    const file = join(mkdtempSync(join(tmpdir(), 'sockunit-bench-bpf-')), 'filter.bpf');
    writeFileSync(file, program);
    rows.push([
      'bubblewrap (same mounts, --seccomp)',
      [
        bwrap,
        '--bind',
        '/',
        '/',
        '--ro-bind',
        '/',
        '/',
        '--dev-bind',
        '/dev',
        '/dev',
        '--proc',
        '/proc',
        '--tmpfs',
        '/tmp',
        '--tmpfs',
        '/var/tmp',
        '--seccomp',
        '3',
        '/bin/true',
      ],
      file,
    ]);
  }
  const totals = new Map<string, number[]>();
  for (let round = 0; round < 5; round++)
    for (const [name, argv, input] of rows) {
      const list = totals.get(name) ?? [];
      list.push(startCost(argv, Math.ceil(count / 5), input));
      totals.set(name, list);
    }
  const base = median(totals.get('/bin/true') ?? []);
  console.log('\nexec chain alone (spawnSync from Node), ms per start:');
  for (const [name] of rows) {
    const ms = median(totals.get(name) ?? []);
    console.log(`  ${name.padEnd(38)} ${ms.toFixed(2)} ms  (+${(ms - base).toFixed(2)} ms over /bin/true)`);
  }
}

await main();
await chain(Number(process.env.SOCKUNIT_BENCH_CHAIN ?? 200));
