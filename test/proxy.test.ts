// `sockunit proxy` on the real kernel, run as users run it (the compiled CLI as a process): an
// MPTCP client through the proxy reaches an unmodified `python3 -m http.server`, and `ss -M`
// shows the front connection as MPTCP; MPTCP towards the target; half-close, resets and
// backpressure crossing the proxy; a refusing target; --connections-max; --exit-idle-time; host
// name and unix socket targets.

import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { lookup } from 'node:dns/promises';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import * as mptcp from '../src/mptcp/index.js';
import {
  BIN,
  connectTcp,
  freePort,
  managerSuite,
  SYSTEM_PYTHON,
  sleep,
  waitUntil,
} from './fixtures/manager/harness.js';
import { Netns, netnsUnavailable } from './fixtures/mptcp/netns.js';
import { once, portOf, proxySuite, readAll, ssUnavailable } from './fixtures/proxy/harness.js';

const scratch = mkdtempSync(join(tmpdir(), 'sockunit-proxy-'));
after(() => rmSync(scratch, { recursive: true, force: true }));

function pythonUnavailable(): string | undefined {
  if (process.env.CI || existsSync(SYSTEM_PYTHON)) return undefined;
  return `needs ${SYSTEM_PYTHON} for the unmodified http.server target: apt-get install python3`;
}

/** `python3 -m http.server` serving a directory with one file, unmodified; resolves with its
 * port once it listens. */
async function httpServer(
  suite: ReturnType<typeof proxySuite>,
  dir: string,
  file: string,
  text: string,
): Promise<number> {
  const site = join(scratch, dir);
  mkdirSync(site, { recursive: true });
  writeFileSync(join(site, file), text);
  const port = await freePort();
  const web = suite.track(
    spawn(SYSTEM_PYTHON, ['-m', 'http.server', String(port), '--bind', '127.0.0.1', '--directory', site], {
      stdio: 'ignore',
    }),
  );
  await waitUntil(
    'http.server to listen',
    () => {
      if (web.exitCode !== null) throw new Error(`python3 -m http.server exited with ${web.exitCode}`);
      return execFileSync('ss', ['-Hltn', `sport = :${port}`], { encoding: 'utf8' }).trim()
        ? true
        : undefined;
    },
    20_000,
  );
  return port;
}

/** The established MPTCP sockets (`ss -M`) whose local port is `port`. */
function ssMptcp(port: number): string[] {
  return execFileSync('ss', ['-HMn', 'state', 'established', `sport = :${port}`], { encoding: 'utf8' })
    .split('\n')
    .filter((l) => l.trim() !== '');
}

/** An MPTCP connection, resolved once established. */
async function connectMptcp(port: number): Promise<net.Socket> {
  const socket = mptcp.connect(port, '127.0.0.1');
  await once(socket, 'connect');
  return socket;
}

describe('sockunit proxy: MPTCP in front of an unchanged program', { timeout: 60_000 }, () => {
  const suite = proxySuite();

  test('an MPTCP client reaches python3 -m http.server through the proxy; ss -M shows the front connection as MPTCP', {
    skip: pythonUnavailable() ?? ssUnavailable(),
  }, async () => {
    const webPort = await httpServer(suite, 'site', 'hello.txt', 'hello through the proxy\n');
    const front = await freePort();
    const proxy = await suite.proxy([
      '--listen',
      `127.0.0.1:${front}`,
      '--protocol',
      'mptcp',
      `127.0.0.1:${webPort}`,
    ]);
    assert.match(
      proxy.log,
      new RegExp(`Listening on 127\\.0\\.0\\.1:${front} \\(MPTCP\\), proxying to 127\\.0\\.0\\.1:${webPort}`),
    );

    // A raw MPTCP connection held open half-way through its request: ss -M lists it.
    const held = await connectMptcp(front);
    assert.equal(mptcp.runsMptcp(held), true, 'the client-side socket runs MPTCP');
    held.write('GET /hello.txt HTTP/1.0\r\n');
    const rows = await waitUntil('ss -M to list the connection', () => {
      const r = ssMptcp(front);
      return r.length > 0 ? r : undefined;
    });
    assert.equal(rows.length, 1, rows.join('\n'));
    const reply = readAll(held);
    held.write('\r\n');
    const { data, end } = await reply;
    assert.equal(end, 'end');
    assert.match(data.toString(), /^HTTP\/1\.0 200 OK\r\n/);
    assert.match(data.toString(), /hello through the proxy\n$/);

    // And an HTTP client with sockunit's MPTCP agent, as an application would use it.
    const body = await new Promise<string>((resolve, reject) => {
      http
        .get({ host: '127.0.0.1', port: front, path: '/hello.txt', agent: new mptcp.Agent() }, (res) => {
          let text = '';
          res.on('data', (d) => {
            text += d;
          });
          res.on('end', () => resolve(`${res.statusCode} ${text}`));
        })
        .on('error', reject);
    });
    assert.equal(body, '200 hello through the proxy\n');
    assert.equal((await proxy.stop()).code, 0);
  });

  test('--upstream-protocol=mptcp: a plain TCP client reaches an MPTCP server over MPTCP', async () => {
    const seen: boolean[] = [];
    const target = mptcp.createServer((s) => {
      seen.push(mptcp.runsMptcp(s));
      s.pipe(s);
    });
    await new Promise<void>((resolve) => target.listen(0, '127.0.0.1', resolve));
    after(() => target.close());
    const front = await freePort();
    const proxy = await suite.proxy([
      '-l',
      `127.0.0.1:${front}`,
      '--upstream-protocol=mptcp',
      `127.0.0.1:${portOf(target)}`,
    ]);
    assert.match(proxy.log, /proxying to MPTCP 127\.0\.0\.1:/);
    const client = await connectTcp(front);
    assert.equal(mptcp.runsMptcp(client), false, 'the client side is plain TCP');
    const reply = readAll(client);
    client.end('ping');
    assert.deepEqual(await reply, { data: Buffer.from('ping'), end: 'end' });
    assert.deepEqual(seen, [true], 'the target saw an MPTCP connection');
    await proxy.stop();
  });
});

describe('sockunit proxy: the edges of a stream cross the proxy', { timeout: 60_000 }, () => {
  const suite = proxySuite();

  test('half-close: the client ends its request and still gets the answer; the target half-closes first and still reads', async () => {
    // The target answers after the client's FIN, as a reply-after-EOF protocol does.
    const target = await suite.server(
      (s) => {
        const chunks: Buffer[] = [];
        s.on('data', (d) => chunks.push(d));
        s.on('end', () => s.end(`got ${Buffer.concat(chunks).toString()}`));
      },
      { allowHalfOpen: true },
    );
    const front = await freePort();
    await suite.proxy(['--listen', `127.0.0.1:${front}`, `127.0.0.1:${portOf(target)}`]);
    const client = net.connect({ port: front, host: '127.0.0.1', allowHalfOpen: true });
    await once(client, 'connect');
    const reply = readAll(client);
    client.end('request');
    assert.deepEqual(await reply, { data: Buffer.from('got request'), end: 'end' });
    client.destroy();

    // The other way round: the target greets and half-closes, the client then sends.
    let received: Promise<string> = Promise.resolve('');
    const greeter = await suite.server(
      (s) => {
        s.end('hello');
        received = new Promise((resolve) => {
          let text = '';
          s.on('data', (d) => {
            text += d;
          });
          s.on('end', () => resolve(text));
        });
      },
      { allowHalfOpen: true },
    );
    const front2 = await freePort();
    await suite.proxy(['--listen', `127.0.0.1:${front2}`, `127.0.0.1:${portOf(greeter)}`]);
    const c2 = net.connect({ port: front2, host: '127.0.0.1', allowHalfOpen: true });
    const greeting = await readAll(c2);
    assert.deepEqual(greeting, { data: Buffer.from('hello'), end: 'end' });
    c2.end('after your FIN');
    assert.equal(await received, 'after your FIN');
    c2.destroy();
  });

  test('reset: a target that resets resets the client, and a client that resets resets the target', async () => {
    let mode: 'reset' | 'read' = 'reset';
    const target = await suite.server((s) => {
      if (mode === 'reset') s.once('data', () => s.resetAndDestroy());
    });
    const front = await freePort();
    await suite.proxy(['--listen', `127.0.0.1:${front}`, `127.0.0.1:${portOf(target)}`]);

    const client = await connectTcp(front);
    const seen = readAll(client);
    client.write('x');
    assert.equal((await seen).end, 'ECONNRESET', 'the target reset, so the client is reset');

    mode = 'read';
    const connected = once<net.Socket>(target, 'connection');
    const client2 = await connectTcp(front);
    const targetSide = await connected;
    const firstBytes = once<Buffer>(targetSide, 'data');
    const targetEnd = readAll(targetSide);
    client2.write('partial');
    assert.equal((await firstBytes).toString(), 'partial');
    client2.resetAndDestroy();
    assert.equal((await targetEnd).end, 'ECONNRESET', 'the client reset, so the target is reset');
  });

  test('backpressure: a target that does not read stops the client; nothing is lost when it reads again', async () => {
    let targetSocket: net.Socket | undefined;
    const target = await suite.server((s) => {
      s.pause();
      targetSocket = s;
    });
    const front = await freePort();
    await suite.proxy(['--listen', `127.0.0.1:${front}`, `127.0.0.1:${portOf(target)}`]);
    const client = await connectTcp(front);
    await waitUntil('the target to accept', () => targetSocket);
    // Write until the kernel takes no more: with the target not reading, the proxy must stop
    // reading too, or the client could write without end. Bounded at 512 MiB.
    const chunk = Buffer.alloc(1 << 20, 7);
    const hash = createHash('sha256');
    let written = 0;
    while (written < 512 * chunk.length) {
      const more = client.write(chunk);
      hash.update(chunk);
      written += chunk.length;
      if (!more) break;
    }
    assert.ok(written < 512 * chunk.length, 'the client was stopped by backpressure');
    // Node buffers what the kernel refused: wait until its socket holds bytes it cannot send.
    await waitUntil('the client to be held back', () => (client.writableLength > 0 ? true : undefined));
    const sent = hash.digest('hex');
    const got = createHash('sha256');
    let count = 0;
    const all = new Promise<void>((resolve) => {
      (targetSocket as net.Socket).on('data', (d: Buffer) => {
        got.update(d);
        count += d.length;
        if (count === written) resolve();
      });
    });
    (targetSocket as net.Socket).resume();
    await all;
    assert.equal(got.digest('hex'), sent, 'every byte arrived, in order');
    client.destroy();
  });
});

describe('sockunit proxy: a target that fails, limits, idle exit', { timeout: 90_000 }, () => {
  const suite = proxySuite();

  test('a refusing target: each client is reset, one log line per cause, and the proxy keeps serving', async () => {
    const targetPort = await freePort();
    const front = await freePort();
    const proxy = await suite.proxy(['--listen', `127.0.0.1:${front}`, `127.0.0.1:${targetPort}`]);
    const refusals = 5;
    for (let i = 0; i < refusals; i++) {
      // The reset may come before Node has seen the connect complete: read from the start.
      const client = net.connect(front, '127.0.0.1');
      assert.equal((await readAll(client)).end, 'ECONNRESET', 'refused by the target: reset');
    }
    // The target comes up: the same proxy serves the next client.
    const target = net.createServer((s) => s.end('up now'));
    await new Promise<void>((resolve) => target.listen(targetPort, '127.0.0.1', resolve));
    after(() => target.close());
    const client = await connectTcp(front);
    assert.deepEqual(await readAll(client), { data: Buffer.from('up now'), end: 'end' });
    assert.equal((await proxy.stop()).code, 0);
    // Every refusal is in the log, but not a line each: the first is logged, the rest are
    // counted in one summary line (the 10 s interval; the summary comes at exit at the latest).
    const lines = proxy.lines.filter((l) =>
      l.startsWith(`Failed to connect to 127.0.0.1:${targetPort}: ECONNREFUSED`),
    );
    const counted = lines
      .map((l) => Number(/\((\d+) more times? in the last/.exec(l)?.[1] ?? 1))
      .reduce((a, b) => a + b, 0);
    assert.equal(counted, refusals, lines.join('\n'));
    assert.ok(lines.length < refusals, `throttled: ${lines.join('\n')}`);
    assert.match(lines[0] as string, /; reset the client's connection\.$/);
  });

  test('an unreachable target: the client is closed (not reset), and the proxy says why', {
    skip: netnsUnavailable(),
  }, async () => {
    // A namespace of the test's own with only loopback: 10.9.9.9 has no route there.
    const ns = new Netns('proxy-unreach');
    try {
      const proxy = await suite.proxy(['--listen', '127.0.0.1:8080', '10.9.9.9:80'], undefined, [
        'ip',
        'netns',
        'exec',
        ns.name,
      ]);
      const ended = await ns.runNode(`
        import net from 'node:net';
        const s = net.connect(8080, '127.0.0.1');
        s.on('data', () => {});
        s.on('end', () => { console.log('end'); s.destroy(); });
        s.on('error', (e) => console.log(e.code));
      `);
      assert.equal(ended.trim(), 'end');
      await proxy.waitFor(
        /^Failed to connect to 10\.9\.9\.9:80: ENETUNREACH; closed the client's connection\.$/,
      );
      assert.equal((await proxy.stop()).code, 0);
    } finally {
      ns.delete();
    }
  });

  test('--connections-max: the connection over the limit waits in the backlog and is served when one ends', {
    skip: ssUnavailable(),
  }, async () => {
    const accepted: net.Socket[] = [];
    const target = await suite.server((s) => {
      accepted.push(s);
      s.pipe(s);
    });
    const front = await freePort();
    await suite.proxy(['-c', '1', '--listen', `127.0.0.1:${front}`, `127.0.0.1:${portOf(target)}`]);
    const first = await connectTcp(front);
    const firstEcho = once<Buffer>(first, 'data');
    first.write('one');
    assert.equal((await firstEcho).toString(), 'one');
    const second = await connectTcp(front); // the kernel completes the handshake: backlog
    second.write('two');
    // It waits in the listener's accept queue (ss -l: Recv-Q), not in the proxy.
    await waitUntil('the second connection to wait in the backlog', () => {
      const row = execFileSync('ss', ['-Hltn', `sport = :${front}`], { encoding: 'utf8' }).trim();
      return Number(row.split(/\s+/)[1]) === 1 ? true : undefined;
    });
    assert.equal(accepted.length, 1, 'the target saw one connection only');
    const secondEcho = once<Buffer>(second, 'data');
    first.destroy();
    assert.equal((await secondEcho).toString(), 'two', 'served once the first ended');
    assert.equal(accepted.length, 2);
    second.destroy();
  });

  test('--exit-idle-time: no exit while a connection lives; exit 0 once idle that long', async () => {
    const target = await suite.server((s) => s.pipe(s));
    const front = await freePort();
    const proxy = await suite.proxy([
      '--exit-idle-time=300ms',
      '--listen',
      `127.0.0.1:${front}`,
      `127.0.0.1:${portOf(target)}`,
    ]);
    const client = await connectTcp(front);
    // Held open well past the idle time: the proxy must still be there and relaying.
    await sleep(900);
    assert.equal(proxy.running, true);
    const echo = once<Buffer>(client, 'data');
    client.write('still here');
    assert.equal((await echo).toString(), 'still here');
    client.destroy();
    const { code } = await proxy.stop(null);
    assert.equal(code, 0);
    assert.match(proxy.log, /Exiting: no connection for the exit idle time\./);
  });

  test('targets: a host name looked up per connection, and a unix socket path', async () => {
    // The target listens where `localhost` resolves first here (127.0.0.1 or ::1).
    const { address } = await lookup('localhost');
    const named = net.createServer((s) => s.end('by name'));
    await new Promise<void>((resolve) => named.listen(0, address, resolve));
    after(() => named.close());
    const front = await freePort();
    await suite.proxy(['--listen', `127.0.0.1:${front}`, `localhost:${portOf(named)}`]);
    assert.deepEqual(await readAll(await connectTcp(front)), { data: Buffer.from('by name'), end: 'end' });

    const path = join(scratch, 'target.sock');
    const unixTarget = net.createServer((s) => s.end('by path'));
    await new Promise<void>((resolve) => unixTarget.listen(path, resolve));
    after(() => unixTarget.close());
    const front2 = await freePort();
    await suite.proxy(['--listen', `127.0.0.1:${front2}`, path]);
    assert.deepEqual(await readAll(await connectTcp(front2)), { data: Buffer.from('by path'), end: 'end' });
  });
});

describe('sockunit proxy as the service of a SocketProtocol=mptcp socket unit (sockunit run)', {
  timeout: 90_000,
}, () => {
  const suite = proxySuite();
  const { run } = managerSuite('proxy');

  test('an MPTCP client reaches the unchanged program; connections and metrics show both sides', {
    skip: pythonUnavailable() ?? ssUnavailable(),
  }, async () => {
    const webPort = await httpServer(suite, 'unit-site', 'index.html', 'served by web.service\n');
    const front = await freePort();
    const m = await run({
      units: {
        'web-mptcp.socket': `[Socket]\nListenStream=127.0.0.1:${front}\nSocketProtocol=mptcp\n`,
        'web-mptcp.service': `[Service]\nExecStart=${process.execPath} ${BIN} proxy 127.0.0.1:${webPort}\n`,
      },
      args: ['--metrics', '127.0.0.1:0'],
    });
    const metricsLine = await m.waitFor(/^Metrics: http:\/\/127\.0\.0\.1:\d+\/metrics$/);
    const metricsUrl = metricsLine.slice('Metrics: '.length);

    // The first connection starts the proxy, which takes the socket from LISTEN_FDS.
    const held = await connectMptcp(front);
    assert.equal(mptcp.runsMptcp(held), true);
    held.write('GET / HTTP/1.0\r\n');
    await waitUntil('the proxy to connect to web.service', () =>
      execFileSync('ss', ['-Htn', 'state', 'established', `dport = :${webPort}`], { encoding: 'utf8' }).trim()
        ? true
        : undefined,
    );
    const listed = spawnSync(
      process.execPath,
      [BIN, 'connections', 'web-mptcp', '--control-socket', m.controlSocket, '--json'],
      { encoding: 'utf8', timeout: 20_000 },
    );
    assert.equal(listed.status, 0, listed.stderr);
    const [unit] = JSON.parse(listed.stdout) as {
      connections: { protocol: string; local: string }[];
      upstream: { service: string; connections: { protocol: string; remote: string }[] };
    }[];
    assert.deepEqual(
      unit?.connections.map((c) => [c.protocol, c.local]),
      [['mptcp', `127.0.0.1:${front}`]],
      'the front side: the client, over MPTCP',
    );
    assert.equal(unit?.upstream.service, 'web-mptcp.service');
    assert.deepEqual(
      unit?.upstream.connections.map((c) => [c.protocol, c.remote]),
      [['tcp', `127.0.0.1:${webPort}`]],
      'the back side: the proxy to the program, over TCP',
    );
    const table = spawnSync(
      process.execPath,
      [BIN, 'connections', 'web-mptcp', '--control-socket', m.controlSocket],
      {
        encoding: 'utf8',
        timeout: 20_000,
      },
    );
    assert.match(table.stdout, /opened by web-mptcp\.service \(pid \d+\):\n/);
    const scraped = await (await fetch(metricsUrl, { signal: AbortSignal.timeout(10_000) })).text();
    assert.match(
      scraped,
      /^sockunit_service_upstream_connections\{unit="web-mptcp\.service",protocol="tcp"\} 1$/m,
    );
    assert.match(scraped, /^sockunit_socket_connections\{unit="web-mptcp\.socket",protocol="mptcp"\} 1$/m);

    const reply = readAll(held);
    held.write('\r\n');
    const { data } = await reply;
    assert.match(data.toString(), /^HTTP\/1\.0 200 OK\r\n[\s\S]*served by web\.service\n$/);
    assert.match(
      m.log,
      /web-mptcp\.service\[\d+\]: Serving 127\.0\.0\.1:\d+ \(MPTCP\), proxying to 127\.0\.0\.1:/,
    );
  });

  test('the three-unit pattern: the first connection starts web.service (Requires=, After=), then the proxy; stopping web.service stops the proxy (BindsTo=)', {
    skip: pythonUnavailable(),
  }, async () => {
    const webPort = await freePort();
    const front = await freePort();
    const site = mkdtempSync(join(tmpdir(), 'sockunit-proxy-site-'));
    writeFileSync(join(site, 'index.html'), 'served by a dependency\n');
    const m = await run({
      units: {
        'web-mptcp.socket': `[Socket]\nListenStream=127.0.0.1:${front}\nSocketProtocol=mptcp\n`,
        'web-mptcp.service': `[Unit]\nRequires=web.service\nAfter=web.service\nBindsTo=web.service\n[Service]\nExecStart=${process.execPath} ${BIN} proxy 127.0.0.1:${webPort}\n`,
        // Counts as started once it listens (ExecStartPost= waits for the port), so the proxy,
        // ordered after it, never meets a refused connect.
        'web.service': `[Service]\nExecStart=${SYSTEM_PYTHON} -m http.server ${webPort} --bind 127.0.0.1 --directory ${site}\nExecStartPost=/bin/sh -c 'until ss -Hltn "sport = :${webPort}" | grep -q .; do sleep 0.05; done'\n`,
      },
    });
    try {
      const client = await connectMptcp(front);
      client.write('GET / HTTP/1.0\r\n\r\n');
      const { data } = await readAll(client);
      assert.match(data.toString(), /^HTTP\/1\.0 200 OK\r\n[\s\S]*served by a dependency\n$/);
      const started = ['Started web.service.', 'Started web-mptcp.service.'].map((l) => m.lines.indexOf(l));
      assert.ok(started[0] !== undefined && started[0] >= 0 && started[0] < (started[1] ?? -1), m.log);
      const stop = spawnSync(
        process.execPath,
        [BIN, 'stop', 'web.service', '--control-socket', m.controlSocket],
        {
          encoding: 'utf8',
          timeout: 20_000,
        },
      );
      assert.equal(stop.status, 0, stop.stderr);
      await m.waitFor(/^Stopped web-mptcp\.service\.$/);
    } finally {
      rmSync(site, { recursive: true, force: true });
    }
  });
});
