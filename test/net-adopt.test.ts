import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import type dgram from 'node:dgram';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { adoptDatagram, adoptServer, adoptSocket, defaultBacklog } from '../src/net/adopt.js';
import { type OpenedSocket, openSocket } from '../src/net/open.js';
import type { SocketSpec } from '../src/net/spec.js';
import {
  AF_INET,
  IPPROTO_MPTCP,
  SO_REUSEADDR,
  SOCK_STREAM,
  SOL_SOCKET,
  SOL_TCP,
  TCP_IS_MPTCP,
} from '../src/sys/constants.js';
import { close, connect, getsockoptInt, socket } from '../src/sys/socket.js';

const dir = mkdtempSync(join(tmpdir(), 'sockunit-net-adopt-'));
const cleanups: (() => void)[] = [];
after(() => {
  for (const c of cleanups.reverse()) c();
  rmSync(dir, { recursive: true, force: true });
});

function open(spec: SocketSpec): OpenedSocket {
  return openSocket(spec);
}

const port = (s: OpenedSocket): number => (s.address as { port: number }).port;
const handleFd = (s: net.Socket): number => (s as unknown as { _handle: { fd: number } })._handle.fd;

/** The listen backlog the kernel holds for a TCP listener: ss's Send-Q column. */
function kernelBacklog(listenPort: number): number {
  const out = execFileSync('ss', ['-ltnH', `sport = :${listenPort}`], { encoding: 'utf8', timeout: 5000 });
  const fields = out.trim().split(/\s+/);
  assert.ok(fields.length >= 4, `ss shows the listener on port ${listenPort}: '${out}'`);
  return Number(fields[2]);
}

async function closeServer(server: net.Server): Promise<void> {
  await new Promise<void>((resolve) => server.close(() => resolve()));
}

test('adoptServer keeps the backlog from the spec (ss Send-Q), where listen({fd, backlog}) would not', async () => {
  const s = open({
    kind: 'socket',
    family: 'inet',
    type: 'stream',
    protocol: 'tcp',
    address: { family: 'inet', address: '127.0.0.1', port: 0 },
    options: { backlog: 37 },
  });
  assert.equal(kernelBacklog(port(s)), 37, 'openSocket listened with Backlog=37');
  const server = await adoptServer(s.fd, { backlog: 37 });
  assert.equal(kernelBacklog(port(s)), 37, 'still 37 after Node took the fd');
  await closeServer(server);

  // The trap the positional form avoids: Node resets the kernel's backlog to 511.
  const t = open({
    kind: 'socket',
    family: 'inet',
    type: 'stream',
    address: { family: 'inet', address: '127.0.0.1', port: 0 },
    options: { backlog: 37 },
  });
  const naive = net.createServer();
  await new Promise<void>((resolve) => naive.listen({ fd: t.fd, backlog: 37 }, resolve));
  assert.equal(kernelBacklog(port(t)), 511);
  await closeServer(naive);
});

test('adoptServer without a backlog uses systemd default (somaxconn), not 511', async () => {
  const s = open({
    kind: 'socket',
    family: 'inet',
    type: 'stream',
    address: { family: 'inet', address: '127.0.0.1', port: 0 },
  });
  assert.equal(kernelBacklog(port(s)), defaultBacklog());
  const server = await adoptServer(s.fd);
  assert.equal(kernelBacklog(port(s)), defaultBacklog());
  assert.notEqual(defaultBacklog(), 511);
  await closeServer(server);
});

test('MPTCP end to end: adopted server and adopted client both run MPTCP and echo data', async () => {
  const s = open({
    kind: 'socket',
    family: 'inet',
    type: 'stream',
    protocol: 'mptcp',
    address: { family: 'inet', address: '127.0.0.1', port: 0 },
    options: { backlog: 64 },
  });
  const serverSide: number[] = [];
  const server = net.createServer((conn) => {
    serverSide.push(getsockoptInt(handleFd(conn), SOL_TCP, TCP_IS_MPTCP));
    conn.pipe(conn);
  });
  assert.equal(await adoptServer(s.fd, { backlog: 64, server }), server);
  assert.deepEqual(server.address(), { address: '127.0.0.1', family: 'IPv4', port: port(s) });

  const fd = socket(AF_INET, SOCK_STREAM, IPPROTO_MPTCP);
  connect(fd, s.address!); // blocking connect on loopback: done before Node sees the fd
  const client = adoptSocket(fd);
  assert.equal(getsockoptInt(fd, SOL_TCP, TCP_IS_MPTCP), 1, 'client side is MPTCP');
  const payload = Buffer.alloc(1 << 20, 'sockunit');
  const chunks: Buffer[] = [];
  client.on('data', (c: Buffer) => chunks.push(c));
  client.end(payload);
  await once(client, 'end');
  assert.ok(Buffer.concat(chunks).equals(payload), '1 MiB echoed intact');
  assert.deepEqual(serverSide, [1], 'server side is MPTCP');
  client.destroy();
  await closeServer(server);
});

test('an http.Server adopts an MPTCP listener', async () => {
  const s = open({
    kind: 'socket',
    family: 'inet6',
    type: 'stream',
    protocol: 'mptcp',
    address: { family: 'inet6', address: '::1', port: 0 },
  });
  const server = http.createServer((_req, res) => res.end('over mptcp'));
  await adoptServer(s.fd, { server });
  const body = await new Promise<string>((resolve, reject) => {
    http
      .get({ host: '::1', port: port(s), path: '/', agent: false }, (res) => {
        let text = '';
        res.on('data', (c) => {
          text += c;
        });
        res.on('end', () => resolve(text));
      })
      .on('error', reject);
  });
  assert.equal(body, 'over mptcp');
  await closeServer(server);
});

test('unix stream listener: adopted server, net.connect by path', async () => {
  const path = join(dir, 'adopt.sock');
  const s = open({ kind: 'socket', family: 'unix', type: 'stream', address: { family: 'unix', path } });
  const server = net.createServer((c) => c.end('hello'));
  await adoptServer(s.fd, { server });
  const c = net.connect(path);
  const [data] = await once(c, 'data');
  assert.equal(String(data), 'hello');
  c.destroy();
  await closeServer(server);
});

test('adoptServer with a callback', async () => {
  const s = open({
    kind: 'socket',
    family: 'inet',
    type: 'stream',
    address: { family: 'inet', address: '127.0.0.1', port: 0 },
  });
  const server = await new Promise<net.Server>((resolve, reject) =>
    adoptServer(s.fd, {}, (err, srv) => (err ? reject(err) : resolve(srv!))),
  );
  assert.ok(server.listening);
  await closeServer(server);
});

test('refusals: a datagram fd to adoptServer, a listener or unconnected fd to adoptSocket', async () => {
  const udp = open({
    kind: 'socket',
    family: 'inet',
    type: 'datagram',
    address: { family: 'inet', address: '127.0.0.1', port: 0 },
  });
  cleanups.push(() => close(udp.fd));
  await assert.rejects(adoptServer(udp.fd), {
    code: 'ERR_INVALID_FD_TYPE',
    message: /inet datagram udp socket/,
  });
  const listener = open({
    kind: 'socket',
    family: 'inet',
    type: 'stream',
    address: { family: 'inet', address: '127.0.0.1', port: 0 },
  });
  cleanups.push(() => close(listener.fd));
  assert.throws(() => adoptSocket(listener.fd), { code: 'ERR_INVALID_FD_TYPE', message: /adoptServer/ });
  const unconnected = socket(AF_INET, SOCK_STREAM, IPPROTO_MPTCP);
  cleanups.push(() => close(unconnected));
  assert.throws(() => adoptSocket(unconnected), { code: 'ERR_INVALID_FD_TYPE', message: /connect it first/ });
  await assert.rejects(adoptDatagram(listener.fd), { code: 'ERR_INVALID_FD_TYPE' });
});

test('unix datagram and seqpacket fds are refused with advice to use the raw fd', async () => {
  for (const type of ['datagram', 'seqpacket'] as const) {
    const s = open({
      kind: 'socket',
      family: 'unix',
      type,
      address: { family: 'unix', path: `@sockunit-test-${process.pid}-adopt-${type}` },
    });
    cleanups.push(() => close(s.fd));
    await assert.rejects(adoptDatagram(s.fd), { code: 'ERR_INVALID_FD_TYPE', message: /raw fd/ });
    await assert.rejects(adoptServer(s.fd), { code: 'ERR_INVALID_FD_TYPE', message: /raw fd/ });
  }
});

async function exchange(a: dgram.Socket, b: dgram.Socket, text: string): Promise<string> {
  const received = once(b, 'message');
  const to = b.address();
  a.send(text, to.port, to.address);
  const [msg] = await received;
  return String(msg);
}

for (const c of [
  { family: 'inet', protocol: 'udp', address: '127.0.0.1', type: 'udp4' },
  { family: 'inet6', protocol: 'udp', address: '::1', type: 'udp6' },
  { family: 'inet', protocol: 'udplite', address: '127.0.0.1', type: 'udp4' },
  { family: 'inet6', protocol: 'udplite', address: '::1', type: 'udp6' },
] as const) {
  test(`adoptDatagram: ${c.protocol} over ${c.family} becomes a ${c.type} dgram.Socket that talks`, async () => {
    const spec = {
      kind: 'socket',
      family: c.family,
      type: 'datagram',
      protocol: c.protocol,
      address: { family: c.family, address: c.address, port: 0 },
      options: { reuseAddr: false },
    } as SocketSpec;
    const a = open(spec);
    const b = open(spec);
    assert.equal(getsockoptInt(a.fd, SOL_SOCKET, SO_REUSEADDR), 0);
    const da = await adoptDatagram(a.fd);
    const db = await adoptDatagram(b.fd);
    assert.equal(da.address().family, c.type === 'udp6' ? 'IPv6' : 'IPv4');
    assert.equal(da.address().port, port(a));
    assert.equal(getsockoptInt(a.fd, SOL_SOCKET, SO_REUSEADDR), 1, 'libuv sets SO_REUSEADDR on adoption');
    assert.equal(await exchange(da, db, `ping ${c.protocol}`), `ping ${c.protocol}`);
    assert.equal(await exchange(db, da, 'pong'), 'pong');
    da.close();
    db.close();
  });
}
