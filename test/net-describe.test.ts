import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { describeSocket, type SocketDescription } from '../src/net/describe.js';
import { type OpenedSocket, openSocket } from '../src/net/open.js';
import type { SocketSpec } from '../src/net/spec.js';
import { AF_INET, IPPROTO_MPTCP, O_CLOEXEC, O_RDONLY, SOCK_STREAM } from '../src/sys/constants.js';
import { mqUnlink, open as openFile } from '../src/sys/fs.js';
import { accept, close, connect, type Fd, socket } from '../src/sys/socket.js';

const dir = mkdtempSync(join(tmpdir(), 'sockunit-net-describe-'));
const fds: Fd[] = [];
const mqName = `/sockunit-test-${process.pid}-describe`;
after(() => {
  for (const fd of fds) close(fd);
  rmSync(dir, { recursive: true, force: true });
  try {
    mqUnlink(mqName);
  } catch {
    // not created: the test that makes it failed first
  }
});

function open(spec: SocketSpec): OpenedSocket {
  const s = openSocket(spec);
  fds.push(s.fd);
  return s;
}

function asSocket(d: ReturnType<typeof describeSocket>): SocketDescription {
  assert.equal(d.kind, 'socket');
  return d as SocketDescription;
}

const loopback = { family: 'inet', address: '127.0.0.1', port: 0 } as const;

test('an MPTCP listener says mptcp, listening, with its resolved address', () => {
  const s = open({ kind: 'socket', family: 'inet', type: 'stream', protocol: 'mptcp', address: loopback });
  const d = asSocket(describeSocket(s.fd));
  assert.deepEqual(d, {
    kind: 'socket',
    family: 'inet',
    type: 'stream',
    protocol: 'mptcp',
    protocolNumber: 262,
    listening: true,
    local: s.address,
  });
});

test('both ends of an MPTCP connection say mptcp and name their peer', () => {
  const listener = open({
    kind: 'socket',
    family: 'inet',
    type: 'stream',
    protocol: 'mptcp',
    address: loopback,
  });
  const client = socket(AF_INET, SOCK_STREAM, IPPROTO_MPTCP);
  fds.push(client);
  connect(client, listener.address!); // blocking: loopback completes from the backlog
  const server = accept(listener.fd);
  assert.ok(server, 'the connection is queued');
  fds.push(server.fd);
  const c = asSocket(describeSocket(client));
  const sv = asSocket(describeSocket(server.fd));
  assert.equal(c.protocol, 'mptcp');
  assert.equal(sv.protocol, 'mptcp');
  assert.equal(c.listening, false);
  assert.deepEqual(c.peer, listener.address);
  assert.deepEqual(sv.local, listener.address);
  assert.deepEqual(sv.peer, c.local);
});

test('TCP over IPv6, UDP, UDP-Lite', () => {
  const cases = [
    { family: 'inet6', type: 'stream', protocol: 'tcp', name: 'tcp', n: 6 },
    { family: 'inet', type: 'datagram', protocol: undefined, name: 'udp', n: 17 },
    { family: 'inet6', type: 'datagram', protocol: 'udplite', name: 'udplite', n: 136 },
  ] as const;
  for (const c of cases) {
    const address = c.family === 'inet' ? loopback : ({ family: 'inet6', address: '::1', port: 0 } as const);
    const s = open({ kind: 'socket', family: c.family, type: c.type, protocol: c.protocol, address });
    const d = asSocket(describeSocket(s.fd));
    assert.equal(d.family, c.family);
    assert.equal(d.type, c.type);
    assert.equal(d.protocol, c.name);
    assert.equal(d.protocolNumber, c.n);
    assert.equal(d.listening, c.type === 'stream');
    assert.deepEqual(d.local, s.address);
    assert.equal(d.peer, undefined);
  }
});

test('unix seqpacket on a path and datagram in the abstract namespace', () => {
  const path = join(dir, 'seq.sock');
  const seq = open({ kind: 'socket', family: 'unix', type: 'seqpacket', address: { family: 'unix', path } });
  const d = asSocket(describeSocket(seq.fd));
  assert.equal(d.family, 'unix');
  assert.equal(d.type, 'seqpacket');
  assert.equal(d.protocol, undefined);
  assert.equal(d.listening, true);
  assert.deepEqual(d.local, { family: 'unix', path });
  const name = `@sockunit-test-${process.pid}-describe`;
  const dgram = open({
    kind: 'socket',
    family: 'unix',
    type: 'datagram',
    address: { family: 'unix', path: name },
  });
  assert.deepEqual(asSocket(describeSocket(dgram.fd)).local, { family: 'unix', path: name });
});

test('netlink route socket names its family', () => {
  const s = open({ kind: 'netlink', family: 'kobject-uevent', group: 0 });
  const d = asSocket(describeSocket(s.fd));
  assert.equal(d.family, 'netlink');
  assert.equal(d.type, 'raw');
  assert.equal(d.protocol, 'kobject-uevent');
  assert.equal(d.protocolNumber, 15);
});

test('FIFO, special file, message queue, regular file', () => {
  const fifo = open({
    kind: 'fifo',
    path: join(dir, 'fifo'),
    options: { socketMode: 0o600, pipeSize: 131072 },
  });
  assert.deepEqual(describeSocket(fifo.fd), {
    kind: 'fifo',
    fileType: 'fifo',
    permissions: 0o600,
    uid: process.getuid?.(),
    gid: process.getgid?.(),
    pipeSize: 131072,
  });
  const special = open({ kind: 'special', path: '/dev/null', writable: false });
  const sd = describeSocket(special.fd);
  assert.equal(sd.kind, 'special');
  assert.equal((sd as { fileType: string }).fileType, 'char');
  const mq = open({ kind: 'mqueue', name: mqName, maxMessages: 5, messageSize: 64 });
  const md = describeSocket(mq.fd);
  assert.equal(md.kind, 'mqueue');
  assert.deepEqual((md as { messageQueue?: unknown }).messageQueue, { maxMessages: 5, messageSize: 64 });
  const file = openFile(import.meta.filename ?? '/etc/hostname', O_RDONLY | O_CLOEXEC);
  fds.push(file);
  assert.deepEqual(
    { kind: describeSocket(file).kind, type: (describeSocket(file) as { fileType: string }).fileType },
    { kind: 'special', type: 'file' },
  );
});

test('a closed fd throws EBADF', () => {
  const s = openSocket({ kind: 'socket', family: 'inet', type: 'datagram', address: loopback });
  close(s.fd);
  assert.throws(() => describeSocket(s.fd), { code: 'EBADF', syscall: 'fstat' });
});
