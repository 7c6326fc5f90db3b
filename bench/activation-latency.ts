// Accept=no activation, measured in one run on loopback:
// 1. Cold: time from the client's connect() to the first reply byte when the service is not
//    running yet, under systemd-socket-activate, sockunit activate and sockunit run, for a C
//    responder and a python3 responder (each accepts once on fd 3, writes a line, exits). The
//    service's own start-up is measured alone (the bench posix_spawns it on a listener with a
//    connection already pending): activation overhead = cold - alone.
// 2. Warm: the same, once the service runs (a python3 loop that answers every connection) —
//    sockunit is not on the data path, so this must equal the service started directly.
// 3. The manager's memory with 1,000 socket units open (VmRSS, VmHWM, fds), against one unit.
//
// Run: npx tsc -p tsconfig.test.json && node .test-build/bench/activation-latency.js [rounds] [warm]
// Bounded: `rounds` cold activations per row (default 20), `warm` connections per warm row
// (default 200), a 20 s deadline on every wait.

import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { openSocket } from '../src/net/open.js';
import { listenPidWrap } from '../src/sys/listen-pid-helper.js';
import { onExit } from '../src/sys/process.js';
import { close, type Fd, setNonBlocking } from '../src/sys/socket.js';
import { spawnProcess } from '../src/sys/spawn.js';

const BIN = fileURLToPath(new URL('../src/cli/bin.js', import.meta.url));
const SSA = '/usr/bin/systemd-socket-activate';
const PYTHON = '/usr/bin/python3';
const WAIT_MS = 20_000;
const SETTLE_MS = 300;
const ENV = { PATH: '/usr/bin:/bin' };

const C_RESPONDER = `
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>
int main(void) {
  const char *pid = getenv("LISTEN_PID");
  if (!pid || atol(pid) != (long)getpid()) return 1;
  int c = accept(3, 0, 0);
  if (c < 0) return 1;
  write(c, "hi\\n", 3);
  close(c);
  return 0;
}
`;
const PY_ONCE =
  "import os,socket\nassert os.environ['LISTEN_PID']==str(os.getpid())\nc,_=socket.socket(fileno=3).accept()\nc.sendall(b'hi\\n')\nc.close()\n";
const PY_LOOP =
  "import socket\ns=socket.socket(fileno=3)\nwhile True:\n    c,_=s.accept()\n    c.sendall(b'hi\\n')\n    c.close()\n";

async function until(what: string, test: () => boolean, timeoutMs = WAIT_MS): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!test()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

function bounded<T>(what: string, promise: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), WAIT_MS);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** An ExecStart= line: arguments with blanks are double-quoted, with systemd's C escapes. */
function unitCommandLine(argv: string[]): string {
  return argv
    .map((a) =>
      /[\s"\\]/.test(a)
        ? `"${a.replaceAll('\\', '\\\\').replaceAll('"', '\\"').replaceAll('\n', '\\n')}"`
        : a,
    )
    .join(' ');
}

function listeningPorts(): Set<number> {
  const ports = new Set<number>();
  for (const file of ['/proc/net/tcp', '/proc/net/tcp6'])
    for (const line of readFileSync(file, 'utf8').split('\n').slice(1)) {
      const cols = line.trim().split(/\s+/);
      if (cols[3] === '0A') ports.add(Number.parseInt(cols[1]?.split(':')[1] ?? '0', 16));
    }
  return ports;
}

async function freePort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise((r) => s.close(r));
  return port;
}

function childCount(pid: number): number {
  let n = 0;
  for (const tid of readdirSync(`/proc/${pid}/task`))
    try {
      n += readFileSync(`/proc/${pid}/task/${tid}/children`, 'utf8').split(' ').filter(Boolean).length;
    } catch {}
  return n;
}

/** connect() to the first reply byte, in ms. */
function firstByte(port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const sock = net.connect(port, '127.0.0.1');
    const timer = setTimeout(() => {
      sock.destroy();
      reject(new Error(`no reply on ${port} within ${WAIT_MS} ms`));
    }, WAIT_MS);
    sock.once('data', () => {
      clearTimeout(timer);
      resolve(performance.now() - t0);
      sock.destroy();
    });
    sock.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
  });
}

function startTool(file: string, args: string[]): ChildProcess {
  return spawn(file, args, { stdio: ['ignore', 'ignore', 'ignore'], env: ENV });
}

function stopTool(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), WAIT_MS);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

/** A blocking listener, as services get them by default (NonBlocking=no). */
function tcpListener(port: number): Fd {
  const { fd } = openSocket({
    kind: 'socket',
    family: 'inet',
    type: 'stream',
    address: { family: 'inet', address: '127.0.0.1', port },
  });
  setNonBlocking(fd, false);
  return fd;
}

/** The service started directly by posix_spawn with LISTEN_PID right, a connection pending. */
async function aloneOnce(service: string[]): Promise<number> {
  const port = await freePort();
  const fd = tcpListener(port);
  try {
    const sock = net.connect(port, '127.0.0.1');
    await bounded('the client to connect', new Promise((r) => sock.once('connect', r)));
    const got = new Promise<number>((resolve) => sock.once('data', () => resolve(performance.now())));
    const t0 = performance.now();
    const req = listenPidWrap(service[0] as string, service, { ...ENV, LISTEN_FDS: '1' });
    const child = spawnProcess({
      file: req.file,
      argv: req.argv,
      env: req.env,
      fds: [fd],
      stdout: 'null',
      stderr: 'null',
    });
    const t1 = await bounded(`a reply from ${service[0]}`, got);
    sock.destroy();
    await bounded(`${service[0]} to exit`, onExit(child.pid, child.pidfd));
    return t1 - t0;
  } finally {
    close(fd);
  }
}

interface Stats {
  p50: number;
  p90: number;
  min: number;
}

function stats(values: number[]): Stats {
  const s = [...values].sort((a, b) => a - b);
  const q = (p: number): number => s[Math.min(s.length - 1, Math.floor(p * s.length))] ?? Number.NaN;
  return { p50: q(0.5), p90: q(0.9), min: s[0] ?? Number.NaN };
}

async function cold(rounds: number, dir: string): Promise<void> {
  const cBin = join(dir, 'responder');
  writeFileSync(`${cBin}.c`, C_RESPONDER);
  const cc = spawnSync('cc', ['-O2', '-o', cBin, `${cBin}.c`], { encoding: 'utf8' });
  const services: Record<string, string[]> = { python3: [PYTHON, '-I', '-c', PY_ONCE] };
  if (cc.status === 0) services.C = [cBin];
  else console.error(`cc failed (${cc.stderr}); the C responder rows are skipped`);

  // One manager for every service: each has its own Accept=no unit; after a reply the service
  // exits and the manager listens again.
  const unitDir = join(dir, 'cold-units');
  mkdirSync(unitDir);
  const runPorts: Record<string, number> = {};
  for (const [name, argv] of Object.entries(services)) {
    const port = await freePort();
    runPorts[name] = port;
    const exec = unitCommandLine(argv);
    writeFileSync(join(unitDir, `cold-${name}.socket`), `[Socket]\nListenStream=127.0.0.1:${port}\n`);
    writeFileSync(
      join(unitDir, `cold-${name}.service`),
      // Each round starts the service once: more than StartLimitBurst=5 starts in 10 s on a fast
      // machine, which fails the socket (service-start-limit-hit) in systemd as in sockunit.
      `[Unit]\nStartLimitIntervalSec=0\n[Service]\nExecStart=${exec}\nStandardOutput=null\n`,
    );
  }
  const manager = startTool(process.execPath, [BIN, 'run', '--log-level=warning', '-p', unitDir]);
  await until('sockunit run to listen', () => Object.values(runPorts).every((p) => listeningPorts().has(p)));

  const results: Record<string, number[]> = {};
  const add = (key: string, v: number): void => {
    const list = results[key] ?? [];
    list.push(v);
    results[key] = list;
  };
  for (let round = 0; round < rounds; round++)
    for (const [name, argv] of Object.entries(services)) {
      add(`${name}|alone (posix_spawn, no activation)`, await aloneOnce(argv));
      for (const [tool, file, args] of [
        ['systemd-socket-activate', SSA, []],
        ['sockunit activate', process.execPath, [BIN, 'activate']],
      ] as const) {
        if (file === SSA && !existsSync(SSA)) continue;
        const port = await freePort();
        const child = startTool(file, [...args, '-l', `127.0.0.1:${port}`, ...argv]);
        await until(`${tool} to listen`, () => listeningPorts().has(port));
        // A client rarely connects in the very millisecond a tool starts: let its start-up end
        // (Node's is ~10x the C tool's), so the figure is the activation, not the boot.
        await new Promise((r) => setTimeout(r, SETTLE_MS));
        add(`${name}|${tool}`, await firstByte(port));
        console.error(`round ${round + 1} ${name} ${tool} done`);
        await stopTool(child);
      }
      const port = runPorts[name] as number;
      await until('the previous service to exit', () => childCount(manager.pid as number) === 0);
      await until('sockunit run to listen again', () => listeningPorts().has(port));
      add(`${name}|sockunit run`, await firstByte(port));
    }
  await stopTool(manager);

  console.log(`\nCold Accept=no activation, connect() to first reply byte, ${rounds} rounds (ms):\n`);
  console.log('| service | how | p50 | p90 | min | p50 - alone p50 |');
  console.log('|---|---|---|---|---|---|');
  for (const name of Object.keys(services)) {
    const alone = stats(results[`${name}|alone (posix_spawn, no activation)`] ?? []).p50;
    for (const [key, values] of Object.entries(results)) {
      if (!key.startsWith(`${name}|`)) continue;
      const s = stats(values);
      const how = key.slice(name.length + 1);
      const extra = how.startsWith('alone') ? '' : (s.p50 - alone).toFixed(2);
      console.log(
        `| ${name} | ${how} | ${s.p50.toFixed(2)} | ${s.p90.toFixed(2)} | ${s.min.toFixed(2)} | ${extra} |`,
      );
    }
  }
}

async function warm(count: number, dir: string): Promise<void> {
  const loop = [PYTHON, '-I', '-c', PY_LOOP];
  const rows: [string, number[]][] = [];
  const sample = async (port: number): Promise<number[]> => {
    await firstByte(port); // starts the service where it is not running yet
    const out: number[] = [];
    for (let i = 0; i < count; i++) out.push(await firstByte(port));
    return out;
  };
  {
    const port = await freePort();
    const fd = tcpListener(port);
    const child = spawnProcess({
      file: PYTHON,
      argv: loop,
      env: ENV,
      fds: [fd],
      stdout: 'null',
      stderr: 'null',
    });
    close(fd);
    rows.push(['started directly', await sample(port)]);
    process.kill(child.pid, 'SIGTERM');
    await onExit(child.pid, child.pidfd);
  }
  for (const [tool, file, args] of [
    ['systemd-socket-activate', SSA, []],
    ['sockunit activate', process.execPath, [BIN, 'activate']],
  ] as const) {
    if (file === SSA && !existsSync(SSA)) continue;
    const port = await freePort();
    const child = startTool(file, [...args, '-l', `127.0.0.1:${port}`, ...loop]);
    await until(`${tool} to listen`, () => listeningPorts().has(port));
    rows.push([tool, await sample(port)]);
    await stopTool(child);
  }
  {
    const unitDir = join(dir, 'warm-units');
    mkdirSync(unitDir);
    const port = await freePort();
    const exec = unitCommandLine(loop);
    writeFileSync(join(unitDir, 'warm.socket'), `[Socket]\nListenStream=127.0.0.1:${port}\n`);
    writeFileSync(join(unitDir, 'warm.service'), `[Service]\nExecStart=${exec}\n`);
    const manager = startTool(process.execPath, [BIN, 'run', '--log-level=warning', '-p', unitDir]);
    await until('sockunit run to listen', () => listeningPorts().has(port));
    rows.push(['sockunit run', await sample(port)]);
    await stopTool(manager);
  }
  const direct = stats(rows[0]?.[1] ?? []).p50;
  console.log(`\nWarm Accept=no (service already running), ${count} sequential connections (ms):\n`);
  console.log('| how | p50 | p90 | min | p50 ratio to direct |');
  console.log('|---|---|---|---|---|');
  for (const [how, values] of rows) {
    const s = stats(values);
    console.log(
      `| ${how} | ${s.p50.toFixed(3)} | ${s.p90.toFixed(3)} | ${s.min.toFixed(3)} | ${(s.p50 / direct).toFixed(2)} |`,
    );
  }
}

function memory(pid: number): { rssKiB: number; hwmKiB: number; fds: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kib = (key: string): number =>
    Number(new RegExp(`^${key}:\\s+(\\d+)`, 'm').exec(status)?.[1] ?? Number.NaN);
  return { rssKiB: kib('VmRSS'), hwmKiB: kib('VmHWM'), fds: readdirSync(`/proc/${pid}/fd`).length };
}

async function rss(dir: string): Promise<void> {
  const rows: string[] = [];
  for (const units of [1, 1000]) {
    const unitDir = join(dir, `rss-${units}`);
    mkdirSync(unitDir);
    const used = listeningPorts();
    const ports: number[] = [];
    // Below the ephemeral range (32768-60999), so no client connection takes one meanwhile.
    for (let p = 21000; p < 32000 && ports.length < units; p++) if (!used.has(p)) ports.push(p);
    ports.forEach((port, i) => {
      writeFileSync(join(unitDir, `u${i}.socket`), `[Socket]\nListenStream=127.0.0.1:${port}\n`);
      writeFileSync(join(unitDir, `u${i}.service`), '[Service]\nExecStart=/bin/true\n');
    });
    const t0 = performance.now();
    const manager = startTool(process.execPath, [BIN, 'run', '--log-level=warning', '-p', unitDir]);
    await until(
      `${units} listeners`,
      () => {
        const now = listeningPorts();
        return ports.every((p) => now.has(p));
      },
      60_000,
    );
    const ready = performance.now() - t0;
    await new Promise((r) => setTimeout(r, 1000)); // let start-up garbage be collected
    const m = memory(manager.pid as number);
    rows.push(
      `| ${units} | ${(m.rssKiB / 1024).toFixed(1)} | ${(m.hwmKiB / 1024).toFixed(1)} | ${m.fds} | ${ready.toFixed(0)} |`,
    );
    await stopTool(manager);
  }
  console.log('\n`sockunit run` memory with N Accept=no socket units listening:\n');
  console.log('| socket units | VmRSS MiB | VmHWM MiB | open fds | start to all listening, ms |');
  console.log('|---|---|---|---|---|');
  for (const r of rows) console.log(r);
}

async function main(): Promise<void> {
  const rounds = Number(process.argv[2] ?? 20);
  const warmCount = Number(process.argv[3] ?? 200);
  const dir = mkdtempSync(join(tmpdir(), 'sockunit-bench-activation-'));
  try {
    await cold(rounds, dir);
    await warm(warmCount, dir);
    await rss(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
