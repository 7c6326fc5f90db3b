// Two paths for real: plain TCP over one link vs sockunit's MPTCP over both, and fail-over when a
// link is cut mid-transfer, on the two-namespace bed of mptcp.md §8 (test/helpers/testnet.ts). The
// server is `sockunit run` with an MPTCP .socket unit activating a Node service through listen();
// the client is mptcp.connect (or net.connect for TCP) in the client namespace.
//
//   npx tsc -p tsconfig.test.json && node .test-build/bench/multipath.js [--reps 3] [--rate 20|R1,R2]
//       [--bytes 20000000] [--cut-at 3000]
//
// Peers with the same recipe (baselines.md): 1.91x one path, 91 % of 40 Mbit/s; fail-over gaps
// 0.26-1.09 s. Targets: >= 90 % of the physical limit, stall < 1 s, 0 bytes lost. Needs root.
// Every transfer is bounded (60 s); the bed is removed at exit and on Ctrl-C.

import { spawnSync } from 'node:child_process';
import { cpus, release } from 'node:os';
import { parseArgs } from 'node:util';
import type { ManagerProcess } from '../test/fixtures/manager/harness.js';
import {
  longestGapAfter,
  startBulkManager,
  type TransferResult,
  transfer,
} from '../test/fixtures/multipath/transfer.js';
import { Testnet, testnetUnavailable } from '../test/helpers/testnet.js';

// The peer: Debian's python3 on raw MPTCP sockets, no Node and no sockunit, over the same links in
// the same run, so the machine's own ceiling sits next to sockunit's figure.
const PYTHON = '/usr/bin/python3';
const PEER_PORT = 9090;
const PEER_SERVER = `
import os, socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM, 262)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", ${PEER_PORT})); s.listen(8)
print("ready", flush=True)
block = os.urandom(1 << 20)
while True:
    c, _ = s.accept()
    n = int(c.recv(64).split()[1])
    while n > 0:
        k = min(n, len(block)); c.sendall(block[:k]); n -= k
    c.close()
`;
const PEER_CLIENT = `
import socket, sys, time, json
host, n = sys.argv[1], int(sys.argv[2])
c = socket.socket(socket.AF_INET, socket.SOCK_STREAM, 262)
c.settimeout(60)
c.connect((host, ${PEER_PORT}))
t0 = time.monotonic(); c.sendall(b"GET %d\\n" % n); got = 0
while got < n:
    d = c.recv(1 << 20)
    if not d: break
    got += len(d)
t = time.monotonic() - t0
print(json.dumps({"bytes": got, "seconds": t, "mbit": got * 8 / t / 1e6}))
`;

interface Rep {
  peer: number;
  tcp: TransferResult;
  mptcp: TransferResult;
  failover: TransferResult;
  stallMs: number;
}

function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
}

async function failover(
  bed: Testnet,
  bytes: number,
  cutAfterMs: number,
): Promise<{ result: TransferResult; stallMs: number }> {
  let cutAt = 0;
  let timer: NodeJS.Timeout | undefined;
  try {
    const result = await transfer(bed, {
      host: bed.link(1).serverAddress,
      bytes,
      mode: 'mptcp',
      onStart: () => {
        timer = setTimeout(() => {
          cutAt = Date.now();
          bed.setLink(1, 'down');
        }, cutAfterMs);
      },
    });
    if (cutAt === 0)
      throw new Error(`the transfer ended before the cut at ${cutAfterMs} ms: use a larger --bytes`);
    return { result, stallMs: longestGapAfter(result, cutAt) };
  } finally {
    clearTimeout(timer);
    bed.setLink(1, 'up');
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      reps: { type: 'string', default: '3' },
      rate: { type: 'string', default: '20' },
      bytes: { type: 'string', default: '20000000' },
      'cut-at': { type: 'string', default: '3000' },
    },
  });
  const why = testnetUnavailable();
  if (why) {
    console.error(`bench/multipath: ${why}`);
    process.exitCode = 1;
    return;
  }
  const rates = values.rate.split(',').map(Number);
  const rate: [number, number] = [rates[0] ?? 20, rates[1] ?? rates[0] ?? 20];
  const reps = Number(values.reps);
  const bytes = Number(values.bytes);
  const cutAfterMs = Number(values['cut-at']);

  const bed = Testnet.create({ purpose: 'bench', rateMbit: rate });
  let manager: ManagerProcess | undefined;
  const peerServer = bed.spawnIn('server', PYTHON, ['-c', PEER_SERVER]);
  const peer = (): number => {
    const r = spawnSync(
      'ip',
      ['netns', 'exec', bed.client, PYTHON, '-c', PEER_CLIENT, bed.link(1).serverAddress, String(bytes)],
      {
        encoding: 'utf8',
        timeout: 70_000,
      },
    );
    const out = JSON.parse(r.stdout || '{}') as { bytes?: number; mbit?: number };
    if (out.bytes !== bytes || out.mbit === undefined)
      throw new Error(`the python3 MPTCP peer failed: ${r.stderr || r.stdout}`);
    return out.mbit;
  };
  const results: Rep[] = [];
  try {
    manager = await startBulkManager(bed);
    await new Promise((resolve) => peerServer.stdout?.once('data', resolve));
    console.log(
      `links ${rate[0]} + ${rate[1]} Mbit/s (tbf${bed.delayApplied ? ` + netem ${bed.delayMs} ms` : ''}), ${bytes} bytes server -> client, link 1 cut at ${cutAfterMs} ms, ${reps} repetitions`,
    );
    console.log(
      `machine: ${cpus().length} vCPU ${cpus()[0]?.model ?? '?'}, Linux ${release()}, Node ${process.version}`,
    );
    console.log('');
    console.log(
      '| rep | TCP 1 link Mbit/s | MPTCP 2 links Mbit/s | ratio | of limit | peer python3 MPTCP Mbit/s | fail-over total s | stall ms | bytes lost | sha256 |',
    );
    console.log('|---|---|---|---|---|---|---|---|---|---|');
    for (let i = 1; i <= reps; i++) {
      // Interleaved, so drift in the machine's load hits every variant alike.
      const tcp = await transfer(bed, { host: bed.link(1).serverAddress, bytes, mode: 'tcp' });
      const mp = await transfer(bed, { host: bed.link(1).serverAddress, bytes, mode: 'mptcp' });
      if (mp.half?.info?.subflowsTotal !== 2)
        throw new Error(`MPTCP run ${i} did not get two subflows: ${JSON.stringify(mp.half)}`);
      const peerMbit = peer();
      const { result: fo, stallMs } = await failover(bed, bytes, cutAfterMs);
      results.push({ peer: peerMbit, tcp, mptcp: mp, failover: fo, stallMs });
      const ok = [tcp, mp, fo].every((r) => r.sha256ok) ? 'ok' : 'MISMATCH';
      console.log(
        `| ${i} | ${tcp.goodputMbit.toFixed(1)} | ${mp.goodputMbit.toFixed(1)} | ${(mp.goodputMbit / tcp.goodputMbit).toFixed(2)}x | ` +
          `${((100 * mp.goodputMbit) / bed.totalRateMbit).toFixed(0)} % | ${peerMbit.toFixed(1)} | ${fo.seconds.toFixed(2)} | ${stallMs.toFixed(0)} | ${bytes - fo.bytes} | ${ok} |`,
      );
    }
    const tcp = median(results.map((r) => r.tcp.goodputMbit));
    const mp = median(results.map((r) => r.mptcp.goodputMbit));
    const stalls = results.map((r) => r.stallMs);
    console.log(
      `| median | ${tcp.toFixed(1)} | ${mp.toFixed(1)} | ${(mp / tcp).toFixed(2)}x | ${((100 * mp) / bed.totalRateMbit).toFixed(0)} % | ${median(results.map((r) => r.peer)).toFixed(1)} | ` +
        `${median(results.map((r) => r.failover.seconds)).toFixed(2)} | ${median(stalls).toFixed(0)} (${Math.min(...stalls).toFixed(0)}-${Math.max(...stalls).toFixed(0)}) | ` +
        `${results.reduce((n, r) => n + (bytes - r.failover.bytes), 0)} | |`,
    );
  } finally {
    if (manager) {
      await manager.stop('SIGTERM').catch(() => undefined);
      await manager.dispose();
    }
    bed.destroy();
  }
}

await main();
