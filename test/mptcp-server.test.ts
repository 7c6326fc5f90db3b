// mptcp.createServer / listen / patchServer: Node's listen() argument forms on an MPTCP socket,
// the backlog kept, dual-stack defaults, Node-shaped errors, and http.createServer on MPTCP.

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import * as mptcp from '../src/mptcp/index.js';

function listening(server: net.Server, ...args: unknown[]): Promise<net.AddressInfo> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.once('listening', () => resolve(server.address() as net.AddressInfo));
    (server.listen as (...a: unknown[]) => void)(...args);
  });
}

function close(server: net.Server): Promise<void> {
  return new Promise((resolve) => server.close(() => resolve()));
}

function errorOf(server: net.Server): Promise<NodeJS.ErrnoException & { address?: string; port?: number }> {
  return new Promise((resolve) => server.once('error', resolve));
}

/** Connect with MPTCP, exchange a byte, and report whether both ends ran MPTCP. */
async function probe(
  server: net.Server,
  host: string,
  port: number,
): Promise<{ client: boolean; server: boolean }> {
  const serverSide = new Promise<boolean>((resolve) =>
    server.once('connection', (s: net.Socket) => resolve(mptcp.isMultipath(s))),
  );
  const socket = mptcp.connect(port, host);
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  const client = mptcp.isMultipath(socket);
  socket.destroy();
  return { client, server: await serverSide };
}

/** The listen backlog the kernel holds for a listening port (ss shows it as Send-Q). */
function kernelBacklog(port: number): number {
  const line =
    execFileSync('ss', ['-Hltn', `sport = :${port}`], { encoding: 'utf8' })
      .trim()
      .split('\n')[0] ?? '';
  return Number(line.split(/\s+/)[2]);
}

describe('mptcp.createServer().listen()', { timeout: 30_000 }, () => {
  test('listen(port, host, backlog, cb): MPTCP listener, backlog kept (not Node 511)', async () => {
    const server = mptcp.createServer();
    let called = false;
    const address = await listening(server, 0, '127.0.0.1', 17, () => {
      called = true;
    });
    assert.equal(called, true);
    assert.equal(address.address, '127.0.0.1');
    assert.equal(mptcp.isMultipath(server), true, 'the listening socket is IPPROTO_MPTCP');
    assert.equal(kernelBacklog(address.port), 17);
    assert.deepEqual(await probe(server, '127.0.0.1', address.port), { client: true, server: true });
    await close(server);
  });

  test('listen() without host: dual-stack :: serving IPv4 and IPv6 MPTCP clients', async () => {
    const server = mptcp.createServer();
    const address = await listening(server, 0);
    assert.equal(address.address, '::');
    assert.equal(kernelBacklog(address.port), 511);
    assert.deepEqual(await probe(server, '127.0.0.1', address.port), { client: true, server: true });
    assert.deepEqual(await probe(server, '::1', address.port), { client: true, server: true });
    await close(server);
  });

  test('listen(cb) and listen({port, host, backlog}) forms', async () => {
    const a = mptcp.createServer();
    await new Promise<void>((resolve) => a.listen(() => resolve()));
    assert.equal(mptcp.isMultipath(a), true);
    await close(a);
    const b = mptcp.createServer();
    const address = await listening(b, { port: 0, host: '::1', backlog: 9 });
    assert.equal(address.address, '::1');
    assert.equal(kernelBacklog(address.port), 9);
    assert.deepEqual(await probe(b, '::1', address.port), { client: true, server: true });
    await close(b);
  });

  test('ipv6Only: true refuses IPv4 clients', async () => {
    const server = mptcp.createServer();
    const { port } = await listening(server, { port: 0, host: '::', ipv6Only: true });
    const refused = await new Promise<NodeJS.ErrnoException>((resolve) =>
      mptcp.connect(port, '127.0.0.1').once('error', resolve),
    );
    assert.equal(refused.code, 'ECONNREFUSED');
    assert.deepEqual(await probe(server, '::1', port), { client: true, server: true });
    await close(server);
  });

  test('a host name is resolved like Node does (first address)', async () => {
    const server = mptcp.createServer();
    const address = await listening(server, 0, 'localhost');
    assert.ok(['127.0.0.1', '::1'].includes(address.address), address.address);
    assert.equal(mptcp.isMultipath(server), true);
    await close(server);
  });

  test('EADDRINUSE arrives as an error event shaped like net.Server', async () => {
    const first = mptcp.createServer();
    const { port } = await listening(first, 0, '127.0.0.1');
    const ours = mptcp.createServer();
    const ourError = errorOf(ours);
    ours.listen(port, '127.0.0.1');
    const nodes = net.createServer();
    const nodeError = errorOf(nodes);
    nodes.listen(port, '127.0.0.1');
    const [a, b] = await Promise.all([ourError, nodeError]);
    for (const key of ['message', 'code', 'errno', 'syscall', 'address', 'port'] as const)
      assert.equal(a[key], b[key], key);
    assert.equal(a.code, 'EADDRINUSE');
    assert.equal(ours.listening, false);
    await close(first);
  });

  test('bad port throws synchronously, second listen() throws ERR_SERVER_ALREADY_LISTEN', async () => {
    const server = mptcp.createServer();
    assert.throws(() => server.listen(70000), { code: 'ERR_SOCKET_BAD_PORT' });
    await listening(server, 0, '127.0.0.1');
    assert.throws(() => server.listen(0), { code: 'ERR_SERVER_ALREADY_LISTEN' });
    await close(server);
  });

  test('a unix path goes to Node unchanged (MPTCP is IP-only)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sockunit-mptcp-'));
    try {
      const path = join(dir, 's.sock');
      const server = mptcp.createServer((s) => s.end('unix'));
      await listening(server, path);
      const reply = await new Promise<string>((resolve, reject) => {
        const c = net.connect(path);
        c.on('data', (d: Buffer) => resolve(d.toString()));
        c.on('error', reject);
      });
      assert.equal(reply, 'unix');
      await close(server);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('reusePort: two MPTCP listeners share a port (SO_REUSEPORT, which Node 20 lacks)', async () => {
    const a = mptcp.createServer();
    const { port } = await listening(a, { port: 0, host: '127.0.0.1', reusePort: true });
    const b = mptcp.createServer();
    const second = await listening(b, { port, host: '127.0.0.1', reusePort: true });
    assert.equal(second.port, port);
    assert.equal(mptcp.isMultipath(b), true);
    await Promise.all([close(a), close(b)]);
  });

  test('signal: aborting closes the MPTCP listener, as with net', async () => {
    const controller = new AbortController();
    const server = mptcp.createServer();
    await listening(server, { port: 0, host: '127.0.0.1', signal: controller.signal });
    const closed = new Promise((resolve) => server.once('close', resolve));
    controller.abort();
    await closed;
    assert.equal(server.listening, false);
  });

  test('close() and listen() again works (the fd is Node-owned after adoption)', async () => {
    const server = mptcp.createServer();
    const { port } = await listening(server, 0, '127.0.0.1');
    await close(server);
    const again = await listening(server, port, '127.0.0.1');
    assert.equal(again.port, port);
    assert.equal(mptcp.isMultipath(server), true);
    await close(server);
  });
});

describe('http over MPTCP', { timeout: 30_000 }, () => {
  test('http.createServer + mptcp.listen; GET through mptcp.Agent arrives over MPTCP', async () => {
    const seen: boolean[] = [];
    const server = http.createServer((req, res) => {
      seen.push(mptcp.isMultipath(req.socket));
      res.end(`hello ${req.url}`);
    });
    await new Promise<void>((resolve) => mptcp.listen(server, 0, '127.0.0.1', () => resolve()));
    assert.equal(mptcp.isMultipath(server), true);
    const { port } = server.address() as net.AddressInfo;
    const agent = new mptcp.Agent({ keepAlive: true });
    try {
      for (const path of ['/a', '/b']) {
        const { body, clientMultipath } = await new Promise<{ body: string; clientMultipath: boolean }>(
          (resolve, reject) => {
            http
              .get({ host: 'localhost', port, path, agent }, (res) => {
                const clientMultipath = mptcp.isMultipath(res.socket);
                let body = '';
                res.setEncoding('utf8');
                res.on('data', (d: string) => {
                  body += d;
                });
                res.on('end', () => resolve({ body, clientMultipath }));
              })
              .on('error', reject);
          },
        );
        assert.equal(body, `hello ${path}`);
        assert.equal(clientMultipath, true);
      }
      assert.deepEqual(seen, [true, true]);
    } finally {
      agent.destroy();
      server.closeAllConnections();
      await close(server);
    }
  });

  test('patchServer() makes an existing http.Server listen with MPTCP via its own listen()', async () => {
    const server = mptcp.patchServer(http.createServer((_req, res) => res.end('ok')));
    const { port } = await listening(server, 0, '::1');
    const sides = await probe(server, '::1', port);
    assert.deepEqual(sides, { client: true, server: true });
    server.closeAllConnections();
    await close(server);
  });
});
