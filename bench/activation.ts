// What the service side costs: listenFds() cold and cached (in a child given N listeners at
// fd 3..), listenBacklog() (one sock_diag round trip), and notify() (one datagram).
// Run: npx tsc -p tsconfig.test.json && node .test-build/bench/activation.js [rounds]

import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { notify } from '../src/activation/notify.js';
import {
  AF_INET,
  AF_UNIX,
  IPPROTO_TCP,
  SO_PASSCRED,
  SOCK_DGRAM,
  SOCK_STREAM,
  SOL_SOCKET,
} from '../src/sys/constants.js';
import { receiveMessage } from '../src/sys/msg.js';
import { listenBacklog } from '../src/sys/sock-diag.js';
import { bind, close, type Fd, listen, setsockoptInt, socket } from '../src/sys/socket.js';

const rounds = Number(process.argv[2] ?? 2000);
const library = fileURLToPath(new URL('../src/activation/index.js', import.meta.url));

function percentiles(samples: number[]): string {
  const sorted = [...samples].sort((a, b) => a - b);
  const at = (p: number) => sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] ?? Number.NaN;
  return `| ${at(0.5).toFixed(1)} | ${at(0.9).toFixed(1)} | ${at(0.99).toFixed(1)} |`;
}

function time(fn: () => void): number {
  const start = process.hrtime.bigint();
  fn();
  return Number(process.hrtime.bigint() - start) / 1000;
}

function tcpListener(): Fd {
  const fd = socket(AF_INET, SOCK_STREAM, IPPROTO_TCP);
  bind(fd, { family: 'inet', address: '127.0.0.1', port: 0 });
  listen(fd, 128);
  return fd;
}

// The child measures its own first and second listenFds() call and prints them.
const childScript = `
const { listenFds } = await import(${JSON.stringify(library)});
const t0 = process.hrtime.bigint(); const fds = listenFds(); const t1 = process.hrtime.bigint(); listenFds();
const t2 = process.hrtime.bigint();
console.log(JSON.stringify({ n: fds.length, cold: Number(t1 - t0) / 1000, cached: Number(t2 - t1) / 1000 }));
`;

async function listenFdsCost(n: number): Promise<{ cold: number; cached: number }> {
  const fds = Array.from({ length: n }, tcpListener);
  const child = spawn(
    '/bin/sh',
    [
      '-c',
      'LISTEN_PID=$$; export LISTEN_PID; exec "$0" "$@"',
      process.execPath,
      '--input-type=module',
      '-e',
      childScript,
    ],
    { stdio: ['ignore', 'pipe', 'inherit', ...fds], env: { ...process.env, LISTEN_FDS: String(n) } },
  );
  for (const fd of fds) close(fd);
  let out = '';
  child.stdout?.setEncoding('utf8').on('data', (c: string) => {
    out += c;
  });
  await new Promise((resolve) => child.once('exit', resolve));
  return JSON.parse(out);
}

console.log('| measurement | p50 µs | p90 µs | p99 µs |');
console.log('|---|---|---|---|');
for (const n of [1, 4, 16]) {
  const runs = [];
  for (let i = 0; i < 15; i++) runs.push(await listenFdsCost(n));
  console.log(
    `| listenFds() first call, ${n} TCP listener(s) (15 children) ${percentiles(runs.map((r) => r.cold))}`,
  );
  console.log(`| listenFds() cached call, ${n} listener(s) ${percentiles(runs.map((r) => r.cached))}`);
}

const listener = tcpListener();
const backlogSamples = Array.from({ length: Math.min(rounds, 500) }, () =>
  time(() => listenBacklog(listener)),
);
console.log(`| listenBacklog() TCP (dump of this namespace's listeners) ${percentiles(backlogSamples)}`);
close(listener);

const receiver = socket(AF_UNIX, SOCK_DGRAM, 0);
setsockoptInt(receiver, SOL_SOCKET, SO_PASSCRED, 1);
const address = `@sockunit-bench-notify-${process.pid}`;
bind(receiver, { family: 'unix', path: address });
const env = { NOTIFY_SOCKET: address };
const notifySamples: number[] = [];
for (let i = 0; i < rounds; i++) {
  notifySamples.push(time(() => notify({ WATCHDOG: true }, { env })));
  receiveMessage(receiver, { maxBytes: 4096 });
}
console.log(
  `| notify({WATCHDOG: true}) to an abstract socket (${rounds} rounds) ${percentiles(notifySamples)}`,
);
close(receiver);
