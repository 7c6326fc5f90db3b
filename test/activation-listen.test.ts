// listen(), rawFds() and friends in activated child processes: the Node objects they hand out
// serve on the manager's sockets, keep its backlog, and fall back when not activated.

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { AF_INET, AF_UNIX, IPPROTO_TCP, O_RDWR, SOCK_DGRAM, SOCK_STREAM } from '../src/sys/constants.js';
import { mkfifo, open } from '../src/sys/fs.js';
import { bind, close, type Fd, getsockname, listen, socket } from '../src/sys/socket.js';
import { freePort, httpGet, spawnWithFds } from './fixtures/activation/harness.js';

// biome-ignore lint/suspicious/noExplicitAny: JSON reports from the child, checked field by field
type Report = Record<string, any>;

const dir = mkdtempSync(join(tmpdir(), 'sockunit-listen-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function tcpListener(backlog = 64): { fd: Fd; port: number } {
  const fd = socket(AF_INET, SOCK_STREAM, IPPROTO_TCP);
  bind(fd, { family: 'inet', address: '127.0.0.1', port: 0 });
  listen(fd, backlog);
  const addr = getsockname(fd);
  return { fd, port: addr.family === 'inet' ? addr.port : 0 };
}

/** Whether a TCP listener is bound to `port` on this host (ss -ltn). */
function listeningOn(port: number): boolean {
  return execFileSync('ss', ['-ltnH', `sport = :${port}`], { encoding: 'utf8' }).trim() !== '';
}

/** The backlog of the TCP listener on `port`, as the kernel reports it (ss: Send-Q). */
function kernelBacklog(port: number): number {
  const line = execFileSync('ss', ['-ltnH', `sport = :${port}`], { encoding: 'utf8' }).trim();
  const sendQ = line.split(/\s+/)[2];
  assert.ok(sendQ, `ss shows no listener on port ${port}: '${line}'`);
  return Number(sendQ);
}

test("listen() keeps the manager's backlog unless one is given, never Node's 511", async () => {
  const somaxconn = Number(readFileSync('/proc/sys/net/core/somaxconn', 'utf8'));
  for (const [managers, given, expected] of [
    [3, undefined, 3],
    [0x7fffffff, undefined, somaxconn],
    [3, 8, 8],
  ] as const) {
    const listener = tcpListener(managers);
    const child = spawnWithFds(
      [listener.fd],
      given === undefined ? ['backlog'] : ['backlog', String(given)],
      {
        env: { LISTEN_FDS: '1', LISTEN_FDNAMES: 'web' },
      },
    );
    close(listener.fd);
    try {
      const report: Report = await child.nextReport();
      assert.equal(report.result.activated, true);
      assert.equal(report.result.listenFd.name, 'web');
      assert.equal(report.address.port, listener.port);
      assert.equal(kernelBacklog(listener.port), expected, `manager's ${managers}, option ${given}`);
      assert.equal(await httpGet({ port: listener.port, host: '127.0.0.1' }), `listen ${report.pid}`);
    } finally {
      await child.stop();
    }
  }
});

test('listen() with a fallback port serves there when the process was not activated', async () => {
  const port = await freePort();
  const child = spawnWithFds([], ['fallback', String(port)], { env: {} });
  try {
    const report: Report = await child.nextReport();
    assert.deepEqual(report.result, { activated: false, fallback: port });
    assert.equal(await httpGet({ port, host: '127.0.0.1' }), `listen ${report.pid}`);
  } finally {
    await child.stop();
  }
});

test('listen() without activation and without a fallback says what to do', async () => {
  const child = spawnWithFds([], ['no-fallback'], { env: {} });
  try {
    const report: Report = await child.nextReport();
    assert.match(report.error, /no activated stream listener \(no fds were passed\) and no fallback/);
  } finally {
    await child.stop();
  }
});

test('listen(server, NAME, { fallback }) takes the one passed listener whatever its name, and never opens the fallback beside it', async () => {
  const fallback = await freePort();
  // Passed without names (LISTEN_FDNAMES unset: 'unknown'), as `sockunit activate -l` or
  // systemd-socket-activate without --fdname pass it; then named after another unit.
  const envs: Record<string, string>[] = [
    { LISTEN_FDS: '1' },
    { LISTEN_FDS: '1', LISTEN_FDNAMES: 'other.socket' },
  ];
  for (const env of envs) {
    const listener = tcpListener();
    const child = spawnWithFds([listener.fd], ['named', 'http', String(fallback)], { env });
    close(listener.fd);
    try {
      const report: Report = await child.nextReport();
      assert.equal(report.error, undefined, report.error);
      assert.equal(report.result.activated, true);
      assert.equal(report.result.listenFd.name, env.LISTEN_FDNAMES ?? 'unknown');
      assert.equal(report.address.port, listener.port, 'serves on the passed socket');
      assert.equal(await httpGet({ port: listener.port, host: '127.0.0.1' }), `named ${report.pid}`);
      assert.equal(listeningOn(fallback), false, 'nothing listens on the fallback port');
    } finally {
      await child.stop();
    }
  }
});

test('listen(server, NAME, { fallback }) with several passed listeners, none named NAME, fails loudly and opens nothing', async () => {
  const fallback = await freePort();
  const a = tcpListener();
  const b = tcpListener();
  const child = spawnWithFds([a.fd, b.fd], ['named', 'http', String(fallback)], {
    env: { LISTEN_FDS: '2', LISTEN_FDNAMES: 'admin:metrics' },
  });
  close(a.fd);
  close(b.fd);
  try {
    const report: Report = await child.nextReport();
    assert.match(
      report.error,
      /no activated stream listener named 'http' \(passed: fd 3 'admin' .*, fd 4 'metrics'/,
    );
    assert.match(report.error, /FileDescriptorName=http in the unit, --fdname=http for sockunit activate/);
    assert.equal(report.address, null, 'the server listens nowhere');
    assert.equal(listeningOn(fallback), false, 'nothing listens on the fallback port');
  } finally {
    await child.stop();
  }
});

test('one listener cannot back two servers: the second listen() is refused', async () => {
  const listener = tcpListener();
  const child = spawnWithFds([listener.fd], ['adopt-twice'], { env: { LISTEN_FDS: '1' } });
  close(listener.fd);
  try {
    const report: Report = await child.nextReport();
    assert.match(report.error, /already backs another net\.Server/);
  } finally {
    await child.stop();
  }
});

test('two listeners with one name are taken in turn, and both serve', async () => {
  const a = tcpListener();
  const b = tcpListener();
  const child = spawnWithFds([a.fd, b.fd], [], { env: { LISTEN_FDS: '2', LISTEN_FDNAMES: 'web:web' } });
  close(a.fd);
  close(b.fd);
  try {
    const report: Report = await child.nextReport();
    assert.deepEqual(report.activated, [true, true]);
    assert.equal(await httpGet({ port: a.port, host: '127.0.0.1' }), `web ${report.pid}`);
    assert.equal(await httpGet({ port: b.port, host: '127.0.0.1' }), `web ${report.pid}`);
  } finally {
    await child.stop();
  }
});

test('rawFds() hands out what Node cannot adopt: unix datagram sockets and FIFOs, probed', async () => {
  const dgramFd = socket(AF_UNIX, SOCK_DGRAM, 0);
  bind(dgramFd, { family: 'unix', path: join(dir, 'raw.sock') });
  const fifoPath = join(dir, 'raw.fifo');
  mkfifo(fifoPath, 0o600);
  const fifoFd = open(fifoPath, O_RDWR); // O_RDWR: systemd opens ListenFIFO= so, and it never blocks
  const web = tcpListener();
  const child = spawnWithFds([dgramFd, fifoFd, web.fd], [], {
    env: { LISTEN_FDS: '3', LISTEN_FDNAMES: 'log:fifo:web' },
  });
  for (const fd of [dgramFd, fifoFd, web.fd]) close(fd);
  try {
    const report: Report = await child.nextReport();
    assert.deepEqual(report.rawFds, [3, 4]);
    const [log, fifo] = report.fds;
    assert.deepEqual([log.description.family, log.description.type], ['unix', 'datagram']);
    assert.deepEqual(log.description.local, { family: 'unix', path: join(dir, 'raw.sock') });
    assert.equal(fifo.description.kind, 'fifo');
    assert.equal(await httpGet({ port: web.port, host: '127.0.0.1' }), `web ${report.pid}`);
  } finally {
    await child.stop();
  }
});
