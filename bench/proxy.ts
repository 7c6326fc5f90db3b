// Loopback benchmark: `sockunit proxy` against systemd-socket-proxyd, in the same run.
//
//   npx tsc -p tsconfig.test.json && node .test-build/bench/proxy.js [ROUNDS [PHASES]]
//
// ROUNDS defaults to 3; PHASES is a comma list of latency, rate, throughput (default all three).
//
// Peers, each a proxy in front of the same python3 targets:
//   systemd-socket-proxyd (TCP)   systemd-socket-activate -l PORT /lib/systemd/systemd-socket-proxyd
//   sockunit proxy (TCP)          systemd-socket-activate -l PORT node bin.js proxy (LISTEN_FDS)
//   sockunit proxy, MPTCP front   --listen --protocol=mptcp, an MPTCP client, a TCP target
//   sockunit proxy, MPTCP back    a TCP client, --upstream-protocol=mptcp, an MPTCP target
//   sockunit proxy, MPTCP both    MPTCP client, proxy on MPTCP both ways, MPTCP target
// and the targets without a proxy (direct TCP, direct MPTCP) for the latency baseline.
//
// Measurements, each in `rounds` chunks with the peers interleaved (the order rotates every
// round), medians printed:
//   latency      64-byte request/response on one connection: p50 of LATENCY_PINGS round trips,
//                added = p50 through the peer - p50 direct (TCP)
//   conn/s       c = 1, 8, 32 connections at a time, each: connect, 64-byte request, 64-byte
//                reply and close by the target; RATE_SECONDS (or RATE_MAX_CONNECTIONS) a chunk.
//                Driven by c client processes, and (c = 8, 32) by one event-loop process too
//   throughput   1 and 16 parallel transfers of 1 GiB each, target -> client
//   CPU per GiB  the proxy process's CPU time (utime + stime of all its threads) over a
//                throughput chunk, per GiB moved
// Targets: sockunit/systemd >= 0.9x for throughput, >= 1.0x for conn/s, added p50 within 50 µs.

import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import { fileURLToPath } from 'node:url';

const BIN = fileURLToPath(new URL('../src/cli/bin.js', import.meta.url));
const PYTHON = '/usr/bin/python3';
const SSA = '/usr/bin/systemd-socket-activate';
const PROXYD = '/lib/systemd/systemd-socket-proxyd';
const IPPROTO_MPTCP = 262;
const GIB = 1024 ** 3;
const LATENCY_PINGS = 4000;
const RATE_SECONDS = 2;
const RATE_MAX_CONNECTIONS = 50_000;
const CONCURRENCIES = [1, 8, 32];
const LOOP_CONCURRENCIES = CONCURRENCIES.filter((c) => c > 1);
const PARALLEL = [1, 16];
const CLOCK_TICKS = 100; // sysconf(_SC_CLK_TCK) on Linux

type Proto = 'tcp' | 'mptcp';
type Mode = 'echo' | 'rr' | 'bulk';

// ---------------------------------------------------------------------------------------------
// python3 targets and clients (the same for every peer; kernel-bound, no per-byte Python work)

const pythonTarget = `
import selectors, socket, sys, threading
proto, mode, nbytes = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM, proto); ls.bind(('127.0.0.1', 0)); ls.listen(4096)
print(ls.getsockname()[1], flush=True)  # the port, for the driver
if mode == 'rr':
    # accept, read the request, answer it, close: one event loop, no thread per connection
    sel = selectors.DefaultSelector(); ls.setblocking(False)
    def answer(c):
        try: c.send(c.recv(4096))
        except OSError: pass
        sel.unregister(c); c.close()
    def take():
        while True:
            try: c, _ = ls.accept()
            except BlockingIOError: return
            c.setblocking(False); sel.register(c, selectors.EVENT_READ, lambda c=c: answer(c))
    sel.register(ls, selectors.EVENT_READ, take)
    while True:
        for key, _ in sel.select(): key.data()
def serve(c):
    try:
        if mode == 'echo':
            c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            while True:
                d = c.recv(4096)
                if not d: break
                c.sendall(d)
        else:
            buf = memoryview(bytearray(1 << 20)); left = nbytes
            while left > 0:
                left -= c.send(buf[:min(left, len(buf))])
    except OSError: pass
    c.close()
while True:
    c, _ = ls.accept(); threading.Thread(target=serve, args=(c,), daemon=True).start()
`;

const pythonClient = `
import json, os, selectors, socket, sys, threading, time
proto, what, port = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
addr = ('127.0.0.1', port)
def connect():
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM, proto); s.connect(addr); return s
if what == 'echo':
    n = int(sys.argv[4]); s = connect(); s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    msg = b'x' * 64; times = []
    for _ in range(200):  # warm-up
        s.sendall(msg); got = 0
        while got < 64: got += len(s.recv(4096))
    for _ in range(n):
        t0 = time.perf_counter_ns(); s.sendall(msg); got = 0
        while got < 64: got += len(s.recv(4096))
        times.append(time.perf_counter_ns() - t0)
    s.close(); times.sort()
    print(json.dumps({'p50': times[len(times) // 2] / 1000, 'p99': times[len(times) * 99 // 100] / 1000}))
elif what == 'bulk':
    parallel, expect = int(sys.argv[4]), int(sys.argv[5]); totals = [0] * parallel
    def one(i):
        s = connect(); buf = bytearray(1 << 20); n = 0
        while True:
            r = s.recv_into(buf)
            if r == 0: break
            n += r
        totals[i] = n; s.close()
    t0 = time.perf_counter()
    ts = [threading.Thread(target=one, args=(i,)) for i in range(parallel)]
    for t in ts: t.start()
    for t in ts: t.join()
    dt = time.perf_counter() - t0
    print(json.dumps({'seconds': dt, 'bytes': sum(totals), 'complete': all(t == expect for t in totals)}))
else:
    # conc connections at a time, spread over procs processes (1: one event loop holds them all;
    # conc: one blocking client a connection, as conc independent clients would be)
    conc, seconds, cap, procs = int(sys.argv[4]), float(sys.argv[5]), int(sys.argv[6]), int(sys.argv[7])
    def loop(conc, cap, out):
        sel = selectors.DefaultSelector(); done = 0; started = 0; failed = 0; req = b'r' * 64
        def start():
            nonlocal started
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM, proto); s.setblocking(False)
            s.connect_ex(addr); sel.register(s, selectors.EVENT_WRITE, 'connecting'); started += 1
        for _ in range(conc): start()
        while sel.get_map():
            for key, _ in sel.select(5):
                s = key.fileobj
                if key.data == 'connecting':
                    if s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR):
                        sel.unregister(s); s.close(); failed += 1; continue
                    s.send(req); sel.modify(s, selectors.EVENT_READ, 'reading'); continue
                try: d = s.recv(4096)
                except ConnectionError: d = b''; failed += 1
                if d: continue
                sel.unregister(s); s.close(); done += 1
                if time.perf_counter() < deadline and started < cap: start()
        os.write(out, f'{done} {failed}\\n'.encode())
    r, w = os.pipe(); t0 = time.perf_counter(); deadline = t0 + seconds; pids = []
    for i in range(procs):
        pid = os.fork()
        if pid == 0:
            loop(conc // procs + (1 if i < conc % procs else 0), cap // procs, w); os._exit(0)
        pids.append(pid)
    for pid in pids: os.waitpid(pid, 0)
    dt = time.perf_counter() - t0; os.close(w); lines = os.read(r, 1 << 16).split()
    print(json.dumps({'seconds': dt, 'connections': sum(int(x) for x in lines[0::2]),
                      'failed': sum(int(x) for x in lines[1::2])}))
`;

function protoNumber(p: Proto): number {
  return p === 'mptcp' ? IPPROTO_MPTCP : 0;
}

function client<T>(proto: Proto, args: (string | number)[]): T {
  const out = execFileSync(PYTHON, ['-c', pythonClient, String(protoNumber(proto)), ...args.map(String)], {
    encoding: 'utf8',
    timeout: 600_000,
  });
  return JSON.parse(out) as T;
}

// ---------------------------------------------------------------------------------------------
// Processes

const children: ChildProcess[] = [];
process.on('exit', () => {
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
});

/** Starts a python3 target; resolves with its port. */
function target(proto: Proto, mode: Mode): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn(PYTHON, ['-c', pythonTarget, String(protoNumber(proto)), mode, String(GIB)], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    children.push(child);
    const timer = setTimeout(() => reject(new Error('target did not start within 10 s')), 10_000);
    child.stdout?.once('data', (d: Buffer) => {
      clearTimeout(timer);
      resolve(Number(d.toString().trim()));
    });
  });
}

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

interface Peer {
  label: string;
  /** Protocol of the client's connection to the peer (or to the target, for direct). */
  front: Proto;
  /** Protocol of the target behind it. */
  back: Proto;
  /** How to start it in front of `targetPort` listening on `port`; undefined: direct. */
  command?: (port: number, targetPort: number) => string[];
  /** A proxy, as opposed to the direct baseline. */
  proxy: boolean;
}

const viaSsa = (port: number, command: string[]) => [SSA, '-l', `127.0.0.1:${port}`, ...command];
const sockunit = (...args: string[]) => [process.execPath, BIN, 'proxy', ...args];

const PEERS: Peer[] = [
  { label: 'direct TCP', front: 'tcp', back: 'tcp', proxy: false },
  { label: 'direct MPTCP', front: 'mptcp', back: 'mptcp', proxy: false },
  {
    label: 'systemd-socket-proxyd',
    front: 'tcp',
    back: 'tcp',
    proxy: true,
    command: (port, t) => viaSsa(port, [PROXYD, `127.0.0.1:${t}`]),
  },
  {
    label: 'sockunit proxy',
    front: 'tcp',
    back: 'tcp',
    proxy: true,
    command: (port, t) => viaSsa(port, sockunit(`127.0.0.1:${t}`)),
  },
  {
    label: 'sockunit, MPTCP front',
    front: 'mptcp',
    back: 'tcp',
    proxy: true,
    command: (port, t) => sockunit('--listen', `127.0.0.1:${port}`, '--protocol=mptcp', `127.0.0.1:${t}`),
  },
  {
    label: 'sockunit, MPTCP back',
    front: 'tcp',
    back: 'mptcp',
    proxy: true,
    command: (port, t) => viaSsa(port, sockunit('--upstream-protocol=mptcp', `127.0.0.1:${t}`)),
  },
  {
    label: 'sockunit, MPTCP both',
    front: 'mptcp',
    back: 'mptcp',
    proxy: true,
    command: (port, t) =>
      sockunit(
        '--listen',
        `127.0.0.1:${port}`,
        '--protocol=mptcp',
        '--upstream-protocol=mptcp',
        `127.0.0.1:${t}`,
      ),
  },
];

interface Running {
  peer: Peer;
  port: number;
  /** The proxy's pid once it runs (systemd-socket-activate execs it in place: same pid). */
  pid: number | undefined;
  child: ChildProcess | undefined;
}

async function waitListening(port: number): Promise<void> {
  for (let i = 0; i < 500; i++) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect(port, '127.0.0.1', () => {
        s.destroy();
        resolve(true);
      });
      s.on('error', () => resolve(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`nothing listens on ${port} after 10 s`);
}

/** Start the `mode` targets and every peer in front of them; a first connection starts the
 * activated ones. */
async function startPeers(mode: Mode): Promise<Running[]> {
  const targets: Record<Proto, number> = {
    tcp: await target('tcp', mode),
    mptcp: await target('mptcp', mode),
  };
  const out: Running[] = [];
  for (const peer of PEERS) {
    if (!peer.command) {
      out.push({ peer, port: targets[peer.back], pid: undefined, child: undefined });
      continue;
    }
    const port = await freePort();
    const [file, ...args] = peer.command(port, targets[peer.back]) as [string, ...string[]];
    const child = spawn(file, args, { stdio: ['ignore', 'ignore', 'ignore'] });
    children.push(child);
    await waitListening(port); // also the activating connection
    out.push({ peer, port, pid: child.pid, child });
  }
  // A warm-up exchange through each, so the proxy runs (activated, JIT warm) before measuring.
  const warmUp: Record<Mode, (port: number) => (string | number)[]> = {
    echo: (port) => ['echo', port, 200],
    rr: (port) => ['rate', port, 1, 0.2, 200, 1],
    bulk: (port) => ['bulk', port, 1, GIB],
  };
  for (const r of out) client(r.peer.front, warmUp[mode](r.port));
  return out;
}

function stopPeers(running: Running[]): void {
  for (const r of running) r.child?.kill('SIGTERM');
}

/** One measurement through `r`: the client's answer, and the proxy's CPU seconds meanwhile. */
function chunk<T>(r: Running, args: (string | number)[]): { res: T; cpu: number } {
  const before = cpuSeconds(r.pid);
  const res = client<T>(r.peer.front, args);
  return { res, cpu: cpuSeconds(r.pid) - before };
}

/** utime + stime of every thread of `pid`, in seconds. */
function cpuSeconds(pid: number | undefined): number {
  if (pid === undefined) return 0;
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
}

/** Each peer once a round, in an order that rotates every round. */
function* interleaved(running: Running[], rounds: number): Generator<Running> {
  for (let round = 0; round < rounds; round++)
    for (let i = 0; i < running.length; i++) yield running[(i + round) % running.length] as Running;
}

// ---------------------------------------------------------------------------------------------
// Driver

const results = new Map<string, Record<string, number[]>>();
function record(label: string, key: string, value: number): void {
  const r = results.get(label) ?? {};
  r[key] = [...(r[key] ?? []), value];
  results.set(label, r);
}
function med(label: string, key: string): number {
  return median(results.get(label)?.[key] ?? [Number.NaN]);
}
/** A figure for the table: '-' for a phase that was not run. */
function figure(x: number, digits: number): string {
  return Number.isNaN(x) ? '-' : x.toFixed(digits);
}

async function main(): Promise<void> {
  const rounds = Number(process.argv[2] ?? 3);
  const phases = new Set((process.argv[3] ?? 'latency,rate,throughput').split(','));
  console.log(
    `bench/proxy: ${rounds} rounds; ${os.cpus().length} x ${os.cpus()[0]?.model ?? '?'}, Linux ${os.release()}, Node ${process.version}, ${execFileSync(PROXYD, ['--version'], { encoding: 'utf8' }).split('\n')[0]}, load ${os.loadavg()[0]?.toFixed(2)}`,
  );

  if (phases.has('latency')) await latency(rounds);
  if (phases.has('rate')) await rate(rounds);
  if (phases.has('throughput')) await throughput(rounds);
  report(rounds);
  process.exit(0);
}

/** Latency: one connection, 64-byte ping-pong. */
async function latency(rounds: number): Promise<void> {
  const running = await startPeers('echo');
  for (const r of interleaved(running, rounds)) {
    const { p50 } = client<{ p50: number }>(r.peer.front, ['echo', r.port, LATENCY_PINGS]);
    record(r.peer.label, 'p50', p50);
  }
  stopPeers(running);
}

/** How the c connections of a rate measurement are driven: by c client processes, each one
 * connection at a time (c independent clients: the proxy is what limits), or by one event-loop
 * process holding all c (the client's own CPU and scheduling then weigh in: on a loaded 2-vCPU
 * machine its wake-ups decide much of the figure). */
const CLIENT_SHAPES = [
  { key: 'rate', processes: (c: number) => c, label: (c: number) => `conn/s c=${c}` },
  { key: 'loop', processes: () => 1, label: (c: number) => `conn/s c=${c}, 1 loop` },
] as const;

/** Connections per second at each concurrency (both client shapes), and the proxy's CPU per
 * connection (c processes). */
async function rate(rounds: number): Promise<void> {
  const running = await startPeers('rr');
  for (const c of CONCURRENCIES)
    for (const shape of CLIENT_SHAPES) {
      if (shape.key === 'loop' && c === 1) continue; // the same as one process
      for (const r of interleaved(running, rounds)) {
        const { res, cpu } = chunk<{ seconds: number; connections: number; failed: number }>(r, [
          'rate',
          r.port,
          c,
          RATE_SECONDS,
          RATE_MAX_CONNECTIONS,
          shape.processes(c),
        ]);
        if (res.failed > 0) throw new Error(`${r.peer.label}: ${res.failed} connections failed at c=${c}`);
        record(r.peer.label, `${shape.key}${c}`, res.connections / res.seconds);
        if (shape.key === 'rate') record(r.peer.label, `cpuconn${c}`, (cpu / res.connections) * 1e6);
      }
    }
  stopPeers(running);
}

/** Throughput of 1 and 16 parallel transfers of 1 GiB, and the proxy's CPU per GiB. */
async function throughput(rounds: number): Promise<void> {
  const running = await startPeers('bulk');
  for (const parallel of PARALLEL)
    for (const r of interleaved(running, rounds)) {
      const { res, cpu } = chunk<{ seconds: number; bytes: number; complete: boolean }>(r, [
        'bulk',
        r.port,
        parallel,
        GIB,
      ]);
      if (!res.complete) throw new Error(`${r.peer.label}: a transfer ended short (${res.bytes} bytes)`);
      record(r.peer.label, `gbit${parallel}`, (res.bytes * 8) / res.seconds / 1e9);
      record(r.peer.label, `cpugib${parallel}`, cpu / (res.bytes / GIB));
    }
  stopPeers(running);
}

function report(rounds: number): void {
  const base = 'systemd-socket-proxyd';
  const direct = med('direct TCP', 'p50');
  /** The median, and for a sockunit peer its ratio to systemd-socket-proxyd's. */
  const withRatio = (peer: Peer, key: string, digits: number) => {
    const x = med(peer.label, key);
    const ratio =
      peer.proxy && peer.label !== base && !Number.isNaN(x) ? ` (${(x / med(base, key)).toFixed(2)}x)` : '';
    return `${figure(x, digits)}${ratio}`;
  };
  const rows: string[][] = [];
  for (const peer of PEERS) {
    const l = peer.label;
    const p50 = med(l, 'p50');
    rows.push([
      l,
      figure(p50, 1),
      peer.proxy ? figure(p50 - direct, 1) : '',
      peer.proxy && l !== base ? figure(p50 - med(base, 'p50'), 1) : '',
      ...CONCURRENCIES.map((c) => withRatio(peer, `rate${c}`, 0)),
      ...LOOP_CONCURRENCIES.map((c) => withRatio(peer, `loop${c}`, 0)),
      ...PARALLEL.map((p) => withRatio(peer, `gbit${p}`, 2)),
      ...PARALLEL.map((p) => (peer.proxy ? figure(med(l, `cpugib${p}`), 2) : '')),
      peer.proxy ? CONCURRENCIES.map((c) => figure(med(l, `cpuconn${c}`), 0)).join(' / ') : '',
    ]);
  }
  const header = [
    'peer',
    'p50 µs',
    'added µs',
    'vs systemd µs',
    ...CONCURRENCIES.map((c) => CLIENT_SHAPES[0].label(c)),
    ...LOOP_CONCURRENCIES.map((c) => CLIENT_SHAPES[1].label(c)),
    ...PARALLEL.map((p) => `Gbit/s ${p}x1GiB`),
    ...PARALLEL.map((p) => `CPU s/GiB ${p}x`),
    'CPU µs/conn c=1/8/32',
  ];
  console.log(`\n| ${header.join(' | ')} |\n|${header.map(() => '---').join('|')}|`);
  for (const row of rows) console.log(`| ${row.join(' | ')} |`);
  console.log(
    `\nRatios are to ${base} in the same run (medians of ${rounds} interleaved chunks); added = p50 - direct TCP p50 (${figure(direct, 1)} µs); vs = p50 - ${base}'s p50. Load at the end: ${os.loadavg()[0]?.toFixed(2)}.`,
  );
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
