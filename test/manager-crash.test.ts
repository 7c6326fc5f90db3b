// A manager killed with SIGKILL (as the OOM killer kills) leaves nothing running: every process
// it started is tied to it (PR_SET_PDEATHSIG through the exec helper), on the main thread and on
// the accept thread alike. A manager started again on the same units recovers cleanly: the
// ports are free, stale unix socket files and symlinks of its previous life are replaced, no
// unit fails, and every unit serves.

import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import {
  exchange,
  freePort,
  managerSuite,
  processesWith,
  SYSTEM_PYTHON,
  tempDir,
  waitUntil,
} from './fixtures/manager/harness.js';

/** Connects to a unix socket, collects everything until the peer closes, bounded. */
function exchangeUnix(path: string, ms = 5000): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ path });
    let data = '';
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no close from ${path} within ${ms} ms (got ${JSON.stringify(data)})`));
    }, ms);
    socket.on('data', (d: Buffer) => {
      data += d.toString('utf8');
    });
    socket.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    socket.on('close', () => {
      clearTimeout(timer);
      resolve(data);
    });
    socket.end();
  });
}

/** Opens a connection and resolves with the first line the server sends; the connection stays. */
function firstLine(connect: () => net.Socket, ms = 8000): Promise<{ line: string; socket: net.Socket }> {
  return new Promise((resolve, reject) => {
    const socket = connect();
    let data = '';
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no line within ${ms} ms (got ${JSON.stringify(data)})`));
    }, ms);
    socket.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    socket.on('data', (d: Buffer) => {
      data += d.toString('utf8');
      if (data.includes('\n')) {
        clearTimeout(timer);
        resolve({ line: data.slice(0, data.indexOf('\n')), socket });
      }
    });
  });
}

/** An Accept=no service: answers every connection on fd 3 with its first argument and closes
 * it; its second argument is a marker to find it by. */
const SERVE_PY = `import socket, sys
s = socket.socket(fileno=3)
while True:
    c, _ = s.accept()
    c.sendall(sys.argv[1].encode() + b"\\n")
    c.close()
`;

/** Each of the four units answers; the two Accept=yes instances are left running on the
 * connections returned. */
async function serveEveryUnit(
  dir: string,
  tcp: number,
  accept: number,
): Promise<{ line: string; socket: net.Socket }[]> {
  assert.equal(await exchange(tcp), 'web\n');
  assert.equal(await exchangeUnix(join(dir, 'plain.link')), 'plain\n');
  const held = [
    await firstLine(() => net.connect(accept, '127.0.0.1')),
    await firstLine(() => net.connect({ path: join(dir, 'local.sock') })),
  ];
  assert.deepEqual(
    held.map((h) => h.line),
    ['echo', 'local'],
  );
  return held;
}

describe('a manager killed with SIGKILL', () => {
  const suite = managerSuite('crash');

  test('leaves nothing running, and a new manager on the same units serves all of them', async () => {
    const dir = tempDir('crash');
    writeFileSync(join(dir, 'serve.py'), SERVE_PY);
    const serve = (reply: string, marker: string) =>
      `[Service]\nExecStart=${SYSTEM_PYTHON} ${dir}/serve.py ${reply} ${marker}\n`;
    const tcp = await freePort();
    const accept = await freePort();
    const tag = `${process.pid}${Date.now() % 100_000}`;
    // Every process of the manager carries one of these in its command line.
    const markers = [`web-${tag}`, `plain-${tag}`, `1${tag}.5`, `2${tag}.5`];
    const units = {
      'web.socket': `[Socket]\nListenStream=127.0.0.1:${tcp}\n`,
      'web.service': serve('web', markers[0] as string),
      'plain.socket': `[Socket]\nListenStream=${dir}/plain.sock\nSymlinks=${dir}/plain.link\n`,
      'plain.service': serve('plain', markers[1] as string),
      // Accept=yes on TCP: started from the accept thread.
      'echo.socket': `[Socket]\nListenStream=127.0.0.1:${accept}\nAccept=yes\n`,
      'echo@.service': `[Service]\nExecStart=/bin/sh -c 'echo echo; exec sleep ${markers[2]}'\nStandardInput=socket\n`,
      // Accept=yes on a unix socket: started from the main thread (its names carry credentials).
      'local.socket': `[Socket]\nListenStream=${dir}/local.sock\nAccept=yes\n`,
      'local@.service': `[Service]\nExecStart=/bin/sh -c 'echo local; exec sleep ${markers[3]}'\nStandardInput=socket\n`,
    };
    try {
      await crashAndRecover(dir, units, markers, tcp, accept);
    } finally {
      // Whatever failed, no process of the killed manager outlives the test.
      for (const m of markers) for (const pid of processesWith(m)) process.kill(pid, 'SIGKILL');
    }
  });

  async function crashAndRecover(
    dir: string,
    units: Record<string, string>,
    markers: string[],
    tcp: number,
    accept: number,
  ): Promise<void> {
    const first = await suite.run({ dir, units, args: ['--log-level=debug'] });
    await first.waitFor(/^echo\.socket: instances start on the accept thread\.$/, 10_000);
    // Bring every unit to life: two Accept=no services, two Accept=yes instances left running.
    const held = await serveEveryUnit(dir, tcp, accept);
    for (const m of markers) assert.equal(processesWith(m).length, 1, `${m} runs:\n${first.log}`);

    first.signal('SIGKILL');
    const { signal } = await first.stop(null);
    assert.equal(signal, 'SIGKILL');
    // Bounded by the event: every process of the manager ends with it.
    await waitUntil(
      'nothing of the killed manager running',
      () => (markers.every((m) => processesWith(m).length === 0) ? true : undefined),
      5000,
    );
    for (const h of held) h.socket.destroy();

    // The same units again, in the same directory: stale socket files and links are there.
    const second = await suite.run({ dir, units });
    assert.match(second.log, /4 of 4 socket units listening/);
    assert.equal(second.matching(/Failed|EADDRINUSE/).length, 0, second.log);
    for (const h of await serveEveryUnit(dir, tcp, accept)) h.socket.destroy();
  }
});
