// The fd store under `sockunit run`, with a Node service using our own library: a connected client
// socket handed over with FDSTORE=1 survives the service's crash and comes back by name in
// LISTEN_FDS after the unit's own socket; the restarted process answers the same client on it.
// And a zero-downtime restart: a client loop keeps sending requests while the service is
// restarted, and every request is answered (the listener stays open in the manager; connections
// wait in its backlog).

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import {
  BIN,
  connectTcp,
  freePort,
  type ManagerProcess,
  managerSuite,
  sleep,
  tempDir,
  waitUntil,
} from './fixtures/manager/harness.js';
import { statusOf } from './fixtures/manager/status.js';

/** The library as built next to this test (tsconfig.test.json), as a service would import it. */
const LIBRARY = fileURLToPath(new URL('../src/activation/index.js', import.meta.url));

const STORE_SERVICE = `
import net from 'node:net';
import { fdStore, listen, listenFds, ready } from ${JSON.stringify(LIBRARY)};

const passed = listenFds();
console.log('names', passed.map((f) => f.name).join(','));
const client = passed.find((f) => f.name === 'client');
if (client) {
  // The connection the previous process stored: same client, new process.
  const sock = new net.Socket({ fd: client.fd, readable: true, writable: true });
  sock.write('second ' + process.pid + '\\n');
  sock.on('data', (d) => sock.write('echo ' + process.pid + ' ' + d));
  sock.on('error', () => {});
}
const server = net.createServer((c) => {
  c.once('data', () => {
    c.write('first ' + process.pid + '\\n', () => {
      fdStore([c._handle.fd], 'client');
      console.log('stored', c._handle.fd);
      // Crash at once: the manager reads the message before it handles the exit.
      process.exit(3);
    });
  });
});
await listen(server, 'web');
ready();
`;

const ECHO_SERVICE = `
import net from 'node:net';
import { listen, ready, stopping } from ${JSON.stringify(LIBRARY)};

const server = net.createServer((c) => {
  c.on('error', () => {});
  c.once('data', (d) => c.end('ok ' + String(d).trim() + ' ' + process.pid + '\\n'));
});
await listen(server, 'echo');
ready();
process.on('SIGTERM', () => {
  stopping();
  // Stop accepting (the manager's listener keeps queueing), finish what was accepted, then exit.
  server.close(() => process.exit(0));
});
`;

/** Reads lines from a socket, one await at a time. */
function lineReader(sock: net.Socket): (ms?: number) => Promise<string> {
  let buffer = '';
  const waiting: (() => void)[] = [];
  sock.on('data', (d: Buffer) => {
    buffer += d.toString();
    for (const w of waiting.splice(0)) w();
  });
  return async (ms = 8000) => {
    const deadline = Date.now() + ms;
    while (!buffer.includes('\n')) {
      if (Date.now() > deadline) throw new Error(`no line within ${ms} ms (have ${JSON.stringify(buffer)})`);
      await new Promise<void>((resolve) => {
        waiting.push(resolve);
        setTimeout(resolve, 100);
      });
    }
    const nl = buffer.indexOf('\n');
    const line = buffer.slice(0, nl);
    buffer = buffer.slice(nl + 1);
    return line;
  };
}

function sockunit(m: ManagerProcess, ...args: string[]): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [BIN, ...args],
      {
        env: { ...process.env, SOCKUNIT_CONTROL_SOCKET: join(m.controlDir ?? '', 'control.sock') },
        timeout: 15_000,
      },
      (err, stdout, stderr) =>
        resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, out: stdout + stderr }),
    );
  });
}

/** One request on a fresh connection: 'ok', 'refused' (ECONNREFUSED) or 'lost' (anything else). */
function request(port: number, n: number): Promise<{ outcome: 'ok' | 'refused' | 'lost'; pid?: number }> {
  return new Promise((resolve) => {
    const sock = net.connect(port, '127.0.0.1');
    let reply = '';
    const timer = setTimeout(() => finish('lost'), 10_000);
    const finish = (outcome: 'ok' | 'refused' | 'lost', pid?: number) => {
      clearTimeout(timer);
      sock.destroy();
      resolve(pid !== undefined ? { outcome, pid } : { outcome });
    };
    sock.on('connect', () => sock.write(`${n}\n`));
    sock.on('data', (d) => {
      reply += d.toString();
      const m = /^ok (\d+) (\d+)\n$/.exec(reply);
      if (m) finish(Number(m[1]) === n ? 'ok' : 'lost', Number(m[2]));
    });
    sock.on('error', (err: NodeJS.ErrnoException) =>
      finish(err.code === 'ECONNREFUSED' ? 'refused' : 'lost'),
    );
    sock.on('close', () => finish('lost'));
  });
}

describe('sockunit run: the fd store', () => {
  const suite = managerSuite('fdstore');

  test('a stored client connection survives a crash and the restarted service answers it by name', async () => {
    const port = await freePort();
    const dir = tempDir('fdstore');
    writeFileSync(join(dir, 'store.mjs'), STORE_SERVICE);
    const m = await suite.run({
      dir,
      units: {
        'keep.socket': `[Socket]\nListenStream=127.0.0.1:${port}\nFileDescriptorName=web\n`,
        'keep.service': [
          '[Service]',
          'Type=notify',
          'FileDescriptorStoreMax=4',
          'Restart=on-failure',
          'RestartSec=100ms',
          `ExecStart=${process.execPath} ${dir}/store.mjs`,
          '',
        ].join('\n'),
      },
    });
    const client = await connectTcp(port);
    const read = lineReader(client);
    client.write('hello\n');
    const first = await read();
    assert.match(first, /^first \d+$/);
    const second = await read(10_000);
    assert.match(second, /^second \d+$/);
    assert.notEqual(second.split(' ')[1], first.split(' ')[1], 'answered by a new process');
    client.write('again\n');
    assert.equal(await read(), `echo ${second.split(' ')[1]} again`);
    await m.waitFor(/^keep\.service: Main process exited, code=exited, status=3\/NOTIMPLEMENTED$/);
    await m.waitFor(/^keep\.service\[\d+\]: names web,client$/);
    const s = statusOf(m, 'keep.service');
    assert.equal(s.subState, 'running');
    assert.deepEqual(
      s.fdStore,
      { count: 1, limit: 4, names: ['client'] },
      'the store keeps the fd after handing it back',
    );
    client.destroy();
  });

  test('FDSTOREREMOVE=1 drops by name; FileDescriptorStoreMax= caps the store; a restart keeps it, a stop releases it', async () => {
    const port = await freePort();
    const dir = tempDir('fdstore-names');
    writeFileSync(
      join(dir, 'names.mjs'),
      `
import { openSync } from 'node:fs';
import { fdStore, fdStoreRemove, notify, ready } from ${JSON.stringify(LIBRARY)};
// Distinct files: the store drops a second fd for an inode it already holds.
let n = 0;
const open = () => openSync(${JSON.stringify(dir)} + '/f' + ++n, 'w');
if (!process.env.LISTEN_FDNAMES?.includes('keep')) {
  fdStore([open()], 'gone');
  fdStore([open()], 'keep');
  fdStore([open(), open()], 'extra'); // one over FileDescriptorStoreMax=3
  fdStoreRemove('gone');
}
notify({ READY: 1, STATUS: 'names ' + process.env.LISTEN_FDNAMES + ' fdstore ' + process.env.FDSTORE });
setInterval(() => {}, 1000);
`,
    );
    const m = await suite.run({
      dir,
      units: {
        'names.socket': `[Socket]\nListenStream=127.0.0.1:${port}\n`,
        'names.service': `[Service]\nType=notify\nFileDescriptorStoreMax=3\nExecStart=${process.execPath} ${dir}/names.mjs\n`,
      },
    });
    (await connectTcp(port)).destroy();
    await m.waitFor(/^Started names\.service\.$/);
    await m.waitFor(/^names\.service: fd store full \(FileDescriptorStoreMax=3\); fd closed\.$/);
    const first = await waitUntil('store settled', () => {
      const s = statusOf(m, 'names.service');
      return s.fdStore.count === 2 ? s : undefined;
    });
    assert.deepEqual(first.fdStore, { count: 2, limit: 3, names: ['keep', 'extra'] });
    assert.equal(first.statusText, 'names names.socket fdstore 3');
    const restart = await sockunit(m, 'restart', 'names.service');
    assert.equal(restart.code, 0, restart.out);
    const after = statusOf(m, 'names.service');
    assert.equal(
      after.statusText,
      'names names.socket:keep:extra fdstore 3',
      'stored fds come back after the socket',
    );
    assert.equal(after.fdStore.count, 2);
    // The socket goes too: the connection that started the service was never accepted (this
    // service does not serve), so a listening socket would start the service again at once.
    const stop = await sockunit(m, 'stop', 'names.socket', 'names.service');
    assert.equal(stop.code, 0, stop.out);
    await m.waitFor(/^names\.service: Releasing 2 stored file descriptor\(s\)\.$/);
    assert.equal(statusOf(m, 'names.service').fdStore.count, 0);
  });

  test('zero-downtime restart: 200 requests over ~5 s across 3 restarts, none refused, none lost', async (t) => {
    const port = await freePort();
    const dir = tempDir('zerodown');
    writeFileSync(join(dir, 'echo.mjs'), ECHO_SERVICE);
    const m = await suite.run({
      dir,
      units: {
        'zd.socket': `[Socket]\nListenStream=127.0.0.1:${port}\nFileDescriptorName=echo\nBacklog=512\n`,
        'zd.service': `[Service]\nType=notify\nExecStart=${process.execPath} ${dir}/echo.mjs\n`,
      },
    });
    const counts = { ok: 0, refused: 0, lost: 0 };
    const pids = new Set<number>();
    let restart: Promise<{ code: number; out: string }> | undefined;
    // Each restart is fired while requests keep coming; the next one only once it has finished,
    // so every run of the service (four in all) answers requests.
    const settle = async () => {
      if (!restart) return;
      const r = await restart;
      assert.equal(r.code, 0, r.out);
      restart = undefined;
    };
    const t0 = Date.now();
    for (let i = 0; i < 200; i++) {
      if (i === 40 || i === 100 || i === 160) {
        await settle();
        restart = sockunit(m, 'restart', 'zd.service');
      }
      if (i === 190) await settle();
      const r = await request(port, i);
      counts[r.outcome]++;
      if (r.pid !== undefined) pids.add(r.pid);
      await sleep(25);
    }
    await settle();
    const elapsed = Date.now() - t0;
    t.diagnostic(
      `${counts.ok} ok, ${counts.refused} refused, ${counts.lost} lost in ${elapsed} ms; ${pids.size} processes answered`,
    );
    assert.deepEqual(counts, { ok: 200, refused: 0, lost: 0 }, `over ${elapsed} ms:\n${m.log}`);
    assert.equal(
      pids.size,
      4,
      `answered by ${pids.size} processes: the first and one after each of 3 restarts`,
    );
  });
});
