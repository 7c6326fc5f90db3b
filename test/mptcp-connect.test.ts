// mptcp.connect(): real MPTCP sockets on loopback, checked with the kernel's own TCP_IS_MPTCP on
// both ends; Node-shaped errors; the host-name path with several addresses.

import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import type { LookupAddress } from 'node:dns';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import * as mptcp from '../src/mptcp/index.js';
import { handleFd } from '../src/mptcp/multipath.js';
import { SO_KEEPALIVE, SOL_SOCKET, SOL_TCP, TCP_NODELAY } from '../src/sys/constants.js';
import { getsockoptInt } from '../src/sys/socket.js';

interface Accepted {
  socket: net.Socket;
  multipath: boolean;
}

/** An MPTCP echo server that records each accepted socket and whether it ran MPTCP. */
function echoServer(): { server: net.Server; accepted: Accepted[] } {
  const accepted: Accepted[] = [];
  const server = mptcp.createServer((socket) => {
    accepted.push({ socket, multipath: mptcp.isMultipath(socket) });
    socket.on('error', () => {});
    socket.pipe(socket);
  });
  return { server, accepted };
}

function listening(server: net.Server, ...args: unknown[]): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    (server.listen as (...a: unknown[]) => void)(...args, () =>
      resolve((server.address() as net.AddressInfo).port),
    );
  });
}

function connected(socket: net.Socket): Promise<void> {
  return new Promise((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
}

function errorOf(socket: net.Socket): Promise<NodeJS.ErrnoException & { address?: string; port?: number }> {
  return new Promise((resolve) => socket.once('error', resolve));
}

/** Send `data` and collect the same number of bytes back. Bounded by a timer. */
function echo(socket: net.Socket, data: Buffer, ms = 20_000): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let got = 0;
    const timer = setTimeout(
      () => reject(new Error(`echo of ${data.length} bytes: only ${got} after ${ms} ms`)),
      ms,
    );
    socket.on('data', (chunk: Buffer) => {
      chunks.push(chunk);
      got += chunk.length;
      if (got >= data.length) {
        clearTimeout(timer);
        resolve(Buffer.concat(chunks));
      }
    });
    socket.once('error', reject);
    socket.write(data);
  });
}

describe('mptcp.connect', { timeout: 60_000 }, () => {
  const { server, accepted } = echoServer();
  let port = 0;
  before(async () => {
    port = await listening(server, 0);
  });
  after(() => new Promise<void>((resolve) => server.close(() => resolve())));

  for (const host of ['127.0.0.1', '::1', 'localhost']) {
    test(`both ends run MPTCP (${host})`, async () => {
      const before = accepted.length;
      const socket = mptcp.connect(port, host);
      assert.ok(socket instanceof net.Socket, 'connect returns a net.Socket synchronously');
      await connected(socket);
      assert.equal(mptcp.isMultipath(socket), true, 'client side TCP_IS_MPTCP');
      const back = await echo(socket, Buffer.from('ping'));
      assert.equal(back.toString(), 'ping');
      assert.equal(accepted.length, before + 1);
      assert.equal(accepted.at(-1)?.multipath, true, 'server side TCP_IS_MPTCP');
      assert.equal(mptcp.protocolOf(socket), 'mptcp');
      assert.equal(mptcp.protocolOf(accepted.at(-1)?.socket), 'mptcp');
      assert.equal(mptcp.fallbackReason(socket), undefined);
      socket.destroy();
    });
  }

  test('64 MiB echoed intact over MPTCP (sha256)', async () => {
    const socket = mptcp.connect({ port, host: '127.0.0.1' });
    await connected(socket);
    const data = randomBytes(64 * 1024 * 1024);
    const back = await echo(socket, data, 60_000);
    assert.equal(back.length, data.length);
    assert.equal(
      createHash('sha256').update(back).digest('hex'),
      createHash('sha256').update(data).digest('hex'),
    );
    assert.equal(mptcp.isMultipath(socket), true);
    socket.destroy();
  });

  test('writes and data listeners before a host name resolves keep MPTCP (no ENOTCONN trap)', async () => {
    const socket = mptcp.connect(port, 'localhost');
    const received = new Promise<string>((resolve) =>
      socket.once('data', (d: Buffer) => resolve(d.toString())),
    );
    socket.write('early'); // queued while connecting, as net.connect queues it
    assert.equal(socket.connecting, true);
    assert.equal(await received, 'early');
    assert.equal(mptcp.isMultipath(socket), true);
    socket.destroy();
  });

  test('several addresses are tried in order on the same MPTCP socket', async () => {
    const { server: v4only, accepted: v4accepted } = echoServer();
    const v4port = await listening(v4only, 0, '127.0.0.1');
    try {
      // ::1 refuses (nothing listens there), so the second address must be used.
      const lookup = (_host: string, _opts: unknown, cb: (e: null, a: LookupAddress[]) => void) =>
        cb(null, [
          { address: '::1', family: 6 },
          { address: '127.0.0.1', family: 4 },
        ]);
      const failed: string[] = [];
      const socket = mptcp.connect({ port: v4port, host: 'two.example', lookup: lookup as never });
      socket.on('connectionAttemptFailed', (address: string) => failed.push(address));
      await connected(socket);
      assert.deepEqual(failed, ['::1']);
      assert.equal(socket.remoteAddress, '127.0.0.1');
      assert.equal(mptcp.isMultipath(socket), true);
      await echo(socket, Buffer.from('x'));
      assert.equal(v4accepted[0]?.multipath, true);
      socket.destroy();
    } finally {
      v4only.close();
    }
  });

  test('a host name resolving to IPv6 gets an AF_INET6 MPTCP socket under the same handle', async () => {
    // Asynchronous, like dns.lookup: a synchronous lookup emits 'lookup' inside connect(), before
    // a listener can be attached (as with net.connect).
    const lookup = (_host: string, _opts: unknown, cb: (e: null, a: LookupAddress[]) => void) =>
      setImmediate(() => cb(null, [{ address: '::1', family: 6 }]));
    const socket = mptcp.connect({ port, host: 'six.example', lookup: lookup as never });
    const fdBefore = handleFd(socket);
    const looked = new Promise<unknown[]>((resolve) =>
      socket.once('lookup', (...a: unknown[]) => resolve(a)),
    );
    await connected(socket);
    assert.deepEqual(await looked, [null, '::1', 6, 'six.example']);
    assert.equal(handleFd(socket), fdBefore, 'same fd number, new socket behind it');
    assert.equal(socket.remoteFamily, 'IPv6');
    assert.equal(mptcp.isMultipath(socket), true);
    assert.equal((await echo(socket, Buffer.from('v6'))).toString(), 'v6');
    socket.destroy();
  });

  test('lookup event and DNS failure as net.connect reports them', async () => {
    const socket = mptcp.connect({ port, host: 'no-such-host.invalid' });
    const err = await errorOf(socket);
    assert.equal(err.code, 'ENOTFOUND');
  });

  test('a refused port gives ECONNREFUSED shaped like net.connect', async () => {
    const closed = mptcp.createServer();
    const freePort = await listening(closed, 0, '127.0.0.1');
    await new Promise((r) => closed.close(r));
    const ours = await errorOf(mptcp.connect(freePort, '127.0.0.1'));
    const nodes = await errorOf(net.connect(freePort, '127.0.0.1'));
    for (const key of ['message', 'code', 'errno', 'syscall', 'address', 'port'] as const)
      assert.equal(ours[key], nodes[key], key);
    assert.equal(ours.code, 'ECONNREFUSED');
    assert.equal(ours.syscall, 'connect');
  });

  test('a refused connect is not retried as plain TCP', async () => {
    const closed = mptcp.createServer();
    const freePort = await listening(closed, 0, '127.0.0.1');
    await new Promise((r) => closed.close(r));
    const socket = mptcp.connect(freePort, '127.0.0.1');
    const attempts: string[] = [];
    socket.on('connectionAttempt', (a: string) => attempts.push(a));
    await errorOf(socket);
    await new Promise((r) => setTimeout(r, 50));
    assert.deepEqual(attempts, ['127.0.0.1']);
    assert.equal(socket.destroyed, true);
  });

  test('localAddress is bound, timeout arms socket.setTimeout', async () => {
    const before = accepted.length;
    const socket = mptcp.connect({ port, host: '127.0.0.1', localAddress: '127.0.0.2', timeout: 80 });
    await connected(socket);
    assert.equal(socket.localAddress, '127.0.0.2');
    assert.equal(socket.timeout, 80);
    await new Promise((resolve) => socket.once('timeout', resolve));
    // The dual-stack listener sees the IPv4 client as a v4-mapped address, as a Node one would.
    assert.match(accepted[before]?.socket.remoteAddress ?? '', /^(::ffff:)?127\.0\.0\.2$/);
    assert.equal(mptcp.isMultipath(socket), true);
    socket.destroy();
  });

  test('noDelay and keepAlive options reach the MPTCP socket, as with net.connect', async () => {
    const socket = mptcp.connect({ port, host: 'localhost', noDelay: true, keepAlive: true });
    await connected(socket);
    const fd = handleFd(socket)!;
    assert.equal(getsockoptInt(fd, SOL_TCP, TCP_NODELAY), 1);
    assert.equal(getsockoptInt(fd, SOL_SOCKET, SO_KEEPALIVE), 1);
    assert.equal(mptcp.isMultipath(socket), true);
    socket.destroy();
  });

  test('a localAddress restricts a host name to addresses of its family', async () => {
    const lookup = (_host: string, _opts: unknown, cb: (e: null, a: LookupAddress[]) => void) =>
      cb(null, [
        { address: '::1', family: 6 },
        { address: '127.0.0.1', family: 4 },
      ]);
    const socket = mptcp.connect({
      port,
      host: 'both.example',
      localAddress: '127.0.0.3',
      lookup: lookup as never,
    });
    await connected(socket);
    assert.equal(socket.remoteAddress, '127.0.0.1');
    assert.equal(socket.localAddress, '127.0.0.3');
    socket.destroy();
  });

  test('a unix path goes to net.connect unchanged', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sockunit-mptcp-'));
    const path = join(dir, 'c.sock');
    const server = net.createServer((s) => s.end('over unix'));
    await new Promise<void>((r) => server.listen(path, () => r()));
    try {
      const reply = await new Promise<string>((resolve, reject) =>
        mptcp
          .connect(path)
          .on('data', (d: Buffer) => resolve(d.toString()))
          .on('error', reject),
      );
      assert.equal(reply, 'over unix');
    } finally {
      server.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('bad ports throw synchronously like net.connect', () => {
    assert.throws(() => mptcp.connect(70000, '127.0.0.1'), { code: 'ERR_SOCKET_BAD_PORT' });
    assert.throws(() => mptcp.connect(70000, 'localhost'), { code: 'ERR_SOCKET_BAD_PORT' });
    assert.throws(() => mptcp.connect({ host: '127.0.0.1' } as never), { code: 'ERR_MISSING_ARGS' });
  });
});

describe('mixing MPTCP and plain TCP', { timeout: 20_000 }, () => {
  test('plain TCP client to an MPTCP server: works, both ends report false', async () => {
    const { server, accepted } = echoServer();
    const port = await listening(server, 0, '127.0.0.1');
    try {
      const socket = net.connect(port, '127.0.0.1');
      await connected(socket);
      assert.equal((await echo(socket, Buffer.from('plain'))).toString(), 'plain');
      assert.equal(mptcp.isMultipath(socket), false);
      assert.equal(accepted[0]?.multipath, false);
      assert.equal(mptcp.info(accepted[0]!.socket), undefined);
      // Plain TCP on both ends, never "fell back": the client never asked for MPTCP, and the
      // MPTCP listener handed over a plain TCP socket (SO_PROTOCOL 6).
      assert.equal(mptcp.protocolOf(socket), 'tcp');
      assert.equal(mptcp.protocolOf(accepted[0]!.socket), 'tcp');
      socket.destroy();
    } finally {
      server.close();
    }
  });

  test('MPTCP client to a plain TCP server: works, reports false (kernel fell back)', async () => {
    const plainSides: boolean[] = [];
    const server = net.createServer((s) => {
      plainSides.push(mptcp.isMultipath(s));
      s.pipe(s);
    });
    const port = await listening(server, 0, '127.0.0.1');
    try {
      const socket = mptcp.connect(port, '127.0.0.1');
      await connected(socket);
      assert.equal((await echo(socket, Buffer.from('fb'))).toString(), 'fb');
      assert.equal(mptcp.isMultipath(socket), false, 'SO_PROTOCOL stays 262, TCP_IS_MPTCP says 0');
      assert.equal(mptcp.runsMptcp(socket), false);
      // A client socket that asked for MPTCP and got TCP: it fell back.
      assert.equal(mptcp.protocolOf(socket), 'mptcp->tcp');
      assert.deepEqual(plainSides, [false]);
      assert.equal(mptcp.info(socket), undefined);
      socket.destroy();
    } finally {
      server.close();
    }
  });
});
