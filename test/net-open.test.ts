import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { type OpenedSocket, openSocket } from '../src/net/open.js';
import type { SocketOptions, SocketSpec } from '../src/net/spec.js';
import { VMADDR_CID_ANY, VMADDR_PORT_ANY } from '../src/sys/constants.js';
import { hasCode } from '../src/sys/errors.js';
import { fstat, getPipeSize, mqGetAttributes, mqUnlink } from '../src/sys/fs.js';
import type { SockAddr } from '../src/sys/sockaddr.js';
import { close, socketKind } from '../src/sys/socket.js';
import { isCloseOnExec, isNonBlocking } from './helpers/fd-flags.js';

const dir = mkdtempSync(join(tmpdir(), 'sockunit-net-open-'));
const opened: OpenedSocket[] = [];
after(() => {
  for (const s of opened) close(s.fd);
  rmSync(dir, { recursive: true, force: true });
});

function open(spec: SocketSpec): OpenedSocket {
  const s = openSocket(spec);
  opened.push(s);
  return s;
}

const isRoot = process.getuid?.() === 0;
const v4 = (port = 0): SockAddr => ({ family: 'inet', address: '127.0.0.1', port });
const v6 = (port = 0): SockAddr => ({ family: 'inet6', address: '::1', port });
const unix = (path: string): SockAddr => ({ family: 'unix', path });

function ipSpec(
  family: 'inet' | 'inet6',
  type: 'stream' | 'datagram',
  protocol?: 'tcp' | 'udp' | 'udplite' | 'mptcp' | 'sctp',
  options: SocketOptions = {},
): SocketSpec {
  return { kind: 'socket', family, type, protocol, address: family === 'inet' ? v4() : v6(), options };
}

const ipCases = [
  { family: 'inet', type: 'stream', protocol: undefined, number: 6, listening: true },
  { family: 'inet', type: 'stream', protocol: 'tcp', number: 6, listening: true },
  { family: 'inet6', type: 'stream', protocol: 'tcp', number: 6, listening: true },
  { family: 'inet', type: 'stream', protocol: 'mptcp', number: 262, listening: true },
  { family: 'inet6', type: 'stream', protocol: 'mptcp', number: 262, listening: true },
  { family: 'inet', type: 'datagram', protocol: undefined, number: 17, listening: false },
  { family: 'inet6', type: 'datagram', protocol: 'udp', number: 17, listening: false },
  { family: 'inet', type: 'datagram', protocol: 'udplite', number: 136, listening: false },
  { family: 'inet6', type: 'datagram', protocol: 'udplite', number: 136, listening: false },
] as const;

for (const c of ipCases) {
  test(`opens ${c.protocol ?? 'default'} ${c.type} on ${c.family}: the kernel agrees and the port is resolved`, () => {
    const s = open(ipSpec(c.family, c.type, c.protocol));
    const kind = socketKind(s.fd);
    assert.equal(kind.protocol, c.number);
    assert.equal(kind.listening, c.listening);
    assert.ok(isNonBlocking(s.fd), 'systemd opens every socket non-blocking');
    assert.ok(isCloseOnExec(s.fd), 'and close-on-exec');
    assert.equal(s.address?.family, c.family);
    assert.ok(
      s.address && 'port' in s.address && s.address.port > 0,
      `port 0 resolved: ${JSON.stringify(s.address)}`,
    );
    assert.deepEqual(s.warnings, []);
  });
}

test('the default stream listener accepts real connections', async () => {
  const s = open(ipSpec('inet', 'stream', 'mptcp'));
  const port = (s.address as { port: number }).port;
  const { connect } = await import('node:net');
  await new Promise<void>((resolve, reject) => {
    const c = connect(port, '127.0.0.1', () => {
      c.destroy();
      resolve();
    });
    c.on('error', reject);
  });
});

test('SCTP: opens where the kernel has it, else the error says to modprobe sctp', (t) => {
  try {
    const s = open(ipSpec('inet', 'stream', 'sctp'));
    assert.equal(socketKind(s.fd).protocol, 132);
  } catch (err) {
    if (!hasCode(err, 'EPROTONOSUPPORT')) throw err;
    assert.match(err.message, /modprobe sctp/);
    assert.equal(err.syscall, 'socket');
    assert.equal(err.address, '127.0.0.1');
    t.skip(`SCTP not available on this kernel (EPROTONOSUPPORT): ${err.message}`);
  }
});

for (const type of ['stream', 'datagram', 'seqpacket'] as const) {
  test(`unix ${type} on a path: node created with SocketMode 0666 by default`, () => {
    const path = join(dir, `u-${type}.sock`);
    const s = open({ kind: 'socket', family: 'unix', type, address: unix(path) });
    const st = statSync(path);
    assert.ok(st.isSocket());
    assert.equal(st.mode & 0o777, 0o666);
    assert.deepEqual(s.address, unix(path));
    assert.equal(socketKind(s.fd).listening, type !== 'datagram');
  });

  test(`unix ${type} in the abstract namespace`, () => {
    const name = `@sockunit-test-${process.pid}-${type}`;
    const s = open({ kind: 'socket', family: 'unix', type, address: unix(name) });
    assert.deepEqual(s.address, unix(name));
    assert.ok(readFileSync('/proc/net/unix', 'utf8').includes(name), 'listed in /proc/net/unix');
  });
}

test('unix path: SocketMode, SocketUser/Group and DirectoryMode for created parents', (t) => {
  if (!isRoot) return t.skip('chown to another user needs root; run as root or in CI');
  const parent = join(dir, 'made', 'for', 'us');
  const path = join(parent, 'owned.sock');
  open({
    kind: 'socket',
    family: 'unix',
    type: 'stream',
    address: unix(path),
    options: { socketMode: 0o640, socketUser: 4321, socketGroup: 4322, directoryMode: 0o750 },
  });
  const st = statSync(path);
  assert.equal(st.mode & 0o777, 0o640);
  assert.deepEqual([st.uid, st.gid], [4321, 4322]);
  assert.equal(statSync(parent).mode & 0o777, 0o750);
  assert.equal(statSync(join(dir, 'made')).mode & 0o777, 0o750);
  assert.equal(statSync(dir).mode & 0o777, 0o700, 'existing directories keep their mode');
});

test('a stale unix socket node is replaced; a regular file at the path is not', () => {
  const path = join(dir, 'stale.sock');
  const first = openSocket({ kind: 'socket', family: 'unix', type: 'stream', address: unix(path) });
  close(first.fd); // the node stays behind, as after a crash
  assert.ok(existsSync(path));
  const second = open({ kind: 'socket', family: 'unix', type: 'stream', address: unix(path) });
  assert.ok(socketKind(second.fd).listening);

  const file = join(dir, 'precious');
  writeFileSync(file, 'keep me');
  assert.throws(
    () => openSocket({ kind: 'socket', family: 'unix', type: 'stream', address: unix(file) }),
    (err: Error & { code?: string }) => err.code === 'EADDRINUSE' && /not a socket/.test(err.message),
  );
  assert.equal(readFileSync(file, 'utf8'), 'keep me');
});

test('port in use: EADDRINUSE names the address, port and protocol', () => {
  const s = open(ipSpec('inet', 'stream', 'tcp', { reuseAddr: true }));
  const port = (s.address as { port: number }).port;
  assert.throws(
    () =>
      openSocket({ kind: 'socket', family: 'inet', type: 'stream', protocol: 'mptcp', address: v4(port) }),
    (err: Error & { code?: string; address?: string; port?: number; syscall?: string }) => {
      assert.equal(err.code, 'EADDRINUSE');
      assert.equal(err.syscall, 'bind');
      assert.equal(err.address, '127.0.0.1');
      assert.equal(err.port, port);
      assert.match(err.message, new RegExp(`127\\.0\\.0\\.1:${port}`));
      assert.match(err.message, /mptcp stream socket/);
      return true;
    },
  );
});

test('MPTCP on a unix socket fails at socket() and says why', () => {
  assert.throws(
    () =>
      openSocket({
        kind: 'socket',
        family: 'unix',
        type: 'stream',
        protocol: 'mptcp',
        address: unix(join(dir, 'x')),
      }),
    (err: Error & { code?: string }) =>
      err.code === 'EPROTONOSUPPORT' && /MPTCP runs only over inet/.test(err.message),
  );
  assert.ok(!existsSync(join(dir, 'x')));
});

test('a spec whose family disagrees with its address is refused before any syscall', () => {
  assert.throws(
    () => openSocket({ kind: 'socket', family: 'inet6', type: 'stream', address: v4() }),
    TypeError,
  );
});

test('MPTCP disabled in a network namespace: ENOPROTOOPT with the sysctl fix', (t) => {
  if (!isRoot) return t.skip('creating a network namespace needs root; run as root or in CI');
  const ns = `sockunit-test-${process.pid}`;
  const moduleUrl = new URL('../src/net/open.js', import.meta.url).href;
  execFileSync('ip', ['netns', 'add', ns]);
  try {
    execFileSync('ip', ['netns', 'exec', ns, 'sysctl', '-qw', 'net.mptcp.enabled=0']);
    const script = `
      const { openSocket } = await import(${JSON.stringify(moduleUrl)});
      try {
        openSocket({ kind: 'socket', family: 'inet', type: 'stream', protocol: 'mptcp',
                     address: { family: 'inet', address: '127.0.0.1', port: 0 } });
        console.log(JSON.stringify({ opened: true }));
      } catch (err) {
        console.log(JSON.stringify({ code: err.code, syscall: err.syscall, message: err.message }));
      }`;
    const out = execFileSync(
      'ip',
      ['netns', 'exec', ns, process.execPath, '--input-type=module', '-e', script],
      {
        encoding: 'utf8',
        timeout: 20_000,
      },
    );
    const result = JSON.parse(out.trim());
    assert.equal(result.code, 'ENOPROTOOPT');
    assert.equal(result.syscall, 'socket');
    assert.match(result.message, /sysctl -w net\.mptcp\.enabled=1/);
  } finally {
    execFileSync('ip', ['netns', 'del', ns]);
  }
});

test('FIFO: created with SocketMode, opened read-write, PipeSize applied', () => {
  const path = join(dir, 'fifos', 'f');
  const s = open({ kind: 'fifo', path, options: { socketMode: 0o620, pipeSize: 256 * 1024 } });
  const st = fstat(s.fd);
  assert.equal(st.type, 'fifo');
  assert.equal(st.permissions, 0o620);
  assert.equal(getPipeSize(s.fd), 256 * 1024);
  assert.ok(isNonBlocking(s.fd));
  assert.equal(s.address, undefined);
  assert.deepEqual(s.warnings, []);
});

test('FIFO: an existing FIFO with another mode fails with EEXIST', () => {
  const path = join(dir, 'fifo-mode');
  close(openSocket({ kind: 'fifo', path, options: { socketMode: 0o600 } }).fd);
  const again = open({ kind: 'fifo', path, options: { socketMode: 0o600 } });
  assert.equal(fstat(again.fd).type, 'fifo');
  assert.throws(
    () => openSocket({ kind: 'fifo', path, options: { socketMode: 0o644 } }),
    (err: Error & { code?: string }) => err.code === 'EEXIST' && /mode is 600/.test(err.message),
  );
});

test('special files: /dev/null read-only and writable; a directory is refused', () => {
  const ro = open({ kind: 'special', path: '/dev/null', writable: false });
  assert.equal(fstat(ro.fd).type, 'char');
  const rw = open({ kind: 'special', path: '/dev/null', writable: true });
  assert.equal(fstat(rw.fd).type, 'char');
  const file = join(dir, 'special-file');
  writeFileSync(file, 'x');
  assert.equal(fstat(open({ kind: 'special', path: file, writable: false }).fd).type, 'file');
  assert.throws(() => openSocket({ kind: 'special', path: dir, writable: false }), { code: 'EEXIST' });
  assert.throws(() => openSocket({ kind: 'special', path: join(dir, 'none'), writable: false }), {
    code: 'ENOENT',
    path: join(dir, 'none'),
  });
});

test('netlink route socket bound to a multicast group', () => {
  const s = open({ kind: 'netlink', family: 'route', group: 1 });
  const kind = socketKind(s.fd);
  assert.equal(kind.domain, 16);
  assert.equal(kind.protocol, 0);
  assert.equal(s.address?.family, 'netlink');
  assert.equal((s.address as { groups: number }).groups, 1);
  assert.ok((s.address as { pid: number }).pid !== 0, 'the kernel assigned a port id');
});

test('message queue: created with limits and mode, cleaned up', () => {
  const name = `/sockunit-test-${process.pid}`;
  try {
    const s = openSocket({
      kind: 'mqueue',
      name,
      maxMessages: 5,
      messageSize: 256,
      options: { socketMode: 0o600 },
    });
    try {
      const attr = mqGetAttributes(s.fd);
      assert.equal(attr.maxMessages, 5);
      assert.equal(attr.messageSize, 256);
      assert.equal(fstat(s.fd).permissions, 0o600);
    } finally {
      close(s.fd);
    }
  } finally {
    mqUnlink(name);
  }
});

test('vsock stream socket, where the kernel allows AF_VSOCK', (t) => {
  try {
    const s = open({
      kind: 'socket',
      family: 'vsock',
      type: 'stream',
      address: { family: 'vsock', cid: VMADDR_CID_ANY, port: VMADDR_PORT_ANY },
    });
    assert.equal(socketKind(s.fd).domain, 40);
    assert.equal(s.address?.family, 'vsock');
    assert.notEqual((s.address as { port: number }).port, VMADDR_PORT_ANY, 'the kernel picked a port');
  } catch (err) {
    if (!hasCode(err, 'EAFNOSUPPORT', 'ENODEV', 'EADDRNOTAVAIL', 'ESOCKTNOSUPPORT')) throw err;
    t.skip(`AF_VSOCK not usable here: ${err.message}`);
  }
});
