import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import {
  AF_INET,
  AF_INET6,
  AF_NETLINK,
  AF_UNIX,
  AF_VSOCK,
  IPPROTO_MPTCP,
  IPPROTO_SCTP,
  IPPROTO_TCP,
  NETLINK_ROUTE,
  SOCK_DGRAM,
  SOCK_NONBLOCK,
  SOCK_RAW,
  SOCK_STREAM,
  SOL_SOCKET,
  SOL_TCP,
  TCP_NODELAY,
} from '../src/sys/constants.js';
import { errnoName, hasCode, type SystemError, systemError } from '../src/sys/errors.js';
import { socketPair } from '../src/sys/msg.js';

import {
  decodeSockAddr,
  encodeSockAddr,
  formatSockAddr,
  interfaceIndex,
  interfaceName,
  type SockAddr,
} from '../src/sys/sockaddr.js';
import {
  accept,
  bind,
  close,
  connect,
  getpeername,
  getsockname,
  getsockoptInt,
  isOpen,
  listen,
  setCloseOnExec,
  setNonBlocking,
  setsockoptInt,
  shutdown,
  socket,
  socketKind,
} from '../src/sys/socket.js';
import { isCloseOnExec, isNonBlocking, socketError, waitWritable } from './helpers/fd-flags.js';

function port(addr: SockAddr): number {
  assert.ok(addr.family === 'inet' || addr.family === 'inet6');
  return addr.port;
}

/** A TCP port on 127.0.0.1 with nothing listening (bound, then closed). */
function closedPort(): number {
  const fd = socket(AF_INET, SOCK_STREAM, IPPROTO_TCP);
  bind(fd, { family: 'inet', address: '127.0.0.1', port: 0 });
  const p = port(getsockname(fd));
  close(fd);
  return p;
}

async function nodeListenError(
  p: number,
): Promise<NodeJS.ErrnoException & { address?: string; port?: number }> {
  const server = net.createServer();
  return new Promise((resolve) => {
    server.once('error', resolve);
    server.listen(p, '127.0.0.1', () => {
      server.close();
      resolve(new Error('listened') as NodeJS.ErrnoException);
    });
  });
}

test('EADDRINUSE on bind is shaped like Node’s own error', async () => {
  const first = socket(AF_INET, SOCK_STREAM, IPPROTO_MPTCP);
  const second = socket(AF_INET, SOCK_STREAM, IPPROTO_MPTCP);
  try {
    bind(first, { family: 'inet', address: '127.0.0.1', port: 0 });
    listen(first, 4);
    const p = port(getsockname(first));
    let ours: SystemError | undefined;
    try {
      bind(second, { family: 'inet', address: '127.0.0.1', port: p });
    } catch (err) {
      ours = err as SystemError;
    }
    assert.ok(ours instanceof Error);
    const node = await nodeListenError(p);
    assert.equal(node.code, 'EADDRINUSE', 'precondition: Node sees the port in use too');
    assert.equal(ours.code, node.code);
    assert.equal(ours.errno, node.errno);
    assert.equal(ours.errno, -98);
    assert.equal(ours.syscall, 'bind');
    assert.equal(ours.address, node.address);
    assert.equal(ours.port, node.port);
    assert.equal(ours.message, `bind EADDRINUSE 127.0.0.1:${p}`);
  } finally {
    close(first);
    close(second);
  }
});

test('EBADF on close of a closed fd', () => {
  const [a, b] = socketPair();
  close(a);
  close(b);
  assert.throws(() => close(a), { code: 'EBADF', errno: -9, syscall: 'close' });
  assert.equal(isOpen(a), false);
});

test('ECONNREFUSED on connect carries the address and port', () => {
  const p = closedPort();
  const fd = socket(AF_INET, SOCK_STREAM, IPPROTO_MPTCP);
  try {
    assert.throws(() => connect(fd, { family: 'inet', address: '127.0.0.1', port: p }), {
      code: 'ECONNREFUSED',
      errno: -111,
      syscall: 'connect',
      address: '127.0.0.1',
      port: p,
    });
  } finally {
    close(fd);
  }
});

test('non-blocking connect: EINPROGRESS, then SO_ERROR says refused', () => {
  const p = closedPort();
  const fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, IPPROTO_TCP);
  try {
    try {
      connect(fd, { family: 'inet', address: '127.0.0.1', port: p });
    } catch (err) {
      // Loopback may refuse at once or report EINPROGRESS; both are correct kernels.
      assert.ok(hasCode(err, 'EINPROGRESS', 'ECONNREFUSED'), String(err));
      if (hasCode(err, 'EINPROGRESS')) {
        assert.ok(waitWritable(fd, 2000));
        assert.equal(errnoName(socketError(fd)), 'ECONNREFUSED');
      }
    }
    assert.equal(socketError(fd), 0, 'SO_ERROR is cleared by reading it');
  } finally {
    close(fd);
  }
});

test('EAFNOSUPPORT / EINVAL for an address of the other family', () => {
  const fd = socket(AF_INET, SOCK_STREAM, IPPROTO_TCP);
  try {
    assert.throws(
      () => connect(fd, { family: 'inet6', address: '::1', port: 9 }),
      (err: SystemError) =>
        ['EAFNOSUPPORT', 'EINVAL'].includes(err.code) && err.address === '::1' && err.port === 9,
    );
  } finally {
    close(fd);
  }
});

test('SCTP: EPROTONOSUPPORT where the kernel has none, with Node’s error shape', (t) => {
  let fd: number | undefined;
  try {
    fd = socket(AF_INET, SOCK_STREAM, IPPROTO_SCTP);
  } catch (err) {
    assert.ok(hasCode(err, 'EPROTONOSUPPORT'), String(err));
    assert.equal((err as SystemError).errno, -93);
    assert.equal((err as SystemError).syscall, 'socket');
    return;
  }
  close(fd);
  t.skip('this kernel has SCTP: the EPROTONOSUPPORT path cannot be exercised here');
});

test('listen on a datagram socket, accept on a non-listener, getpeername/shutdown unconnected', () => {
  const udp = socket(AF_INET, SOCK_DGRAM, 0);
  const tcp = socket(AF_INET, SOCK_STREAM, IPPROTO_TCP);
  try {
    // EOPNOTSUPP and ENOTSUP are the same number on Linux; libuv, hence Node, names it ENOTSUP.
    assert.throws(() => listen(udp, 1), { code: 'ENOTSUP', errno: -95, syscall: 'listen' });
    assert.throws(() => accept(tcp), { code: 'EINVAL', syscall: 'accept' });
    assert.throws(() => getpeername(tcp), { code: 'ENOTCONN', syscall: 'getpeername' });
    assert.throws(() => shutdown(tcp, 2), { code: 'ENOTCONN', syscall: 'shutdown' });
  } finally {
    close(udp);
    close(tcp);
  }
});

test('setsockopt/getsockopt errors name the option', () => {
  const udp = socket(AF_INET, SOCK_DGRAM, 0);
  try {
    assert.throws(
      () => setsockoptInt(udp, SOL_TCP, TCP_NODELAY, 1, 'TCP_NODELAY'),
      (err: SystemError) =>
        err.code === 'ENOPROTOOPT' && err.syscall === 'setsockopt' && /TCP_NODELAY/.test(err.message),
    );
    assert.throws(() => getsockoptInt(udp, SOL_SOCKET, 9999, 'BOGUS'), /getsockopt ENOPROTOOPT \(BOGUS\)/);
  } finally {
    close(udp);
  }
  assert.throws(() => getsockoptInt(udp, SOL_SOCKET, 3, 'SO_TYPE'), { code: 'EBADF', syscall: 'getsockopt' });
});

test('accept: undefined when nothing is pending on a non-blocking listener; the peer when one is', () => {
  const listener = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, IPPROTO_MPTCP);
  const client = socket(AF_INET, SOCK_STREAM, IPPROTO_MPTCP);
  try {
    bind(listener, { family: 'inet', address: '127.0.0.1', port: 0 });
    listen(listener, 4);
    assert.equal(accept(listener), undefined);
    connect(client, getsockname(listener));
    const conn = accept(listener, SOCK_NONBLOCK);
    assert.ok(conn);
    assert.deepEqual(conn.peer, getsockname(client));
    assert.equal(isCloseOnExec(conn.fd), true);
    assert.equal(isNonBlocking(conn.fd), true);
    close(conn.fd);
  } finally {
    close(client);
    close(listener);
  }
});

test('socketKind says what the kernel says: MPTCP listener, unix datagram', () => {
  const fd = socket(AF_INET6, SOCK_STREAM, IPPROTO_MPTCP);
  const [a, b] = socketPair('datagram');
  try {
    bind(fd, { family: 'inet6', address: '::1', port: 0 });
    listen(fd, 4);
    assert.deepEqual(socketKind(fd), {
      domain: AF_INET6,
      type: SOCK_STREAM,
      protocol: IPPROTO_MPTCP,
      listening: true,
    });
    assert.deepEqual(socketKind(a), { domain: AF_UNIX, type: SOCK_DGRAM, protocol: 0, listening: false });
  } finally {
    close(fd);
    close(a);
    close(b);
  }
});

test('O_NONBLOCK and FD_CLOEXEC toggles', () => {
  const [a, b] = socketPair();
  try {
    assert.equal(isCloseOnExec(a), true, 'every FFI socket is created close-on-exec');
    setCloseOnExec(a, false);
    assert.equal(isCloseOnExec(a), false);
    setCloseOnExec(a, true);
    assert.equal(isCloseOnExec(a), true);
    assert.equal(isNonBlocking(a), false);
    setNonBlocking(a, true);
    assert.equal(isNonBlocking(a), true);
    assert.equal(isNonBlocking(b), false, 'the other end is a different file description');
    setNonBlocking(a, false);
    assert.equal(isNonBlocking(a), false);
  } finally {
    close(a);
    close(b);
  }
  assert.throws(() => setNonBlocking(a, true), { code: 'EBADF', syscall: 'fcntl' });
});

// ---- sockaddr ---------------------------------------------------------------------------------

function roundTrip(addr: SockAddr): SockAddr {
  const raw = encodeSockAddr(addr);
  return decodeSockAddr(raw, raw.length);
}

test('inet: encode/decode round trip, and the kernel agrees', () => {
  const addr: SockAddr = { family: 'inet', address: '192.0.2.7', port: 8080 };
  assert.deepEqual(roundTrip(addr), addr);
  const raw = encodeSockAddr(addr);
  assert.equal(raw.length, 16);
  assert.equal(raw.readUInt16BE(2), 8080, 'port in network order');
  const fd = socket(AF_INET, SOCK_DGRAM, 0);
  try {
    bind(fd, { family: 'inet', address: '127.0.0.1', port: 0 });
    const bound = getsockname(fd);
    assert.equal(bound.family, 'inet');
    assert.equal(formatSockAddr(bound), `127.0.0.1:${port(bound)}`);
  } finally {
    close(fd);
  }
});

test('inet6 with flowinfo and scope id round-trips; formatted with the interface name', () => {
  const lo = interfaceIndex('lo');
  assert.ok(lo, 'loopback interface exists');
  assert.equal(interfaceName(lo), 'lo');
  const addr: SockAddr = { family: 'inet6', address: 'fe80::1', port: 443, flowinfo: 5, scopeId: lo };
  assert.deepEqual(roundTrip(addr), addr);
  assert.equal(formatSockAddr(addr), '[fe80::1]:443%lo');
  assert.deepEqual(roundTrip({ family: 'inet6', address: '::ffff:127.0.0.1', port: 1 }), {
    family: 'inet6',
    address: '::ffff:127.0.0.1',
    port: 1,
  });
  const fd = socket(AF_INET6, SOCK_STREAM, IPPROTO_TCP);
  try {
    bind(fd, { family: 'inet6', address: '::1', port: 0 });
    const bound = getsockname(fd);
    assert.deepEqual(bound, { family: 'inet6', address: '::1', port: port(bound) });
  } finally {
    close(fd);
  }
});

test('unix: path, @abstract and unnamed addresses, as the kernel reports them', () => {
  const dir = mkdtempSync(join(tmpdir(), 'sockunit-sa-'));
  const path = join(dir, 'sock');
  const named = socket(AF_UNIX, SOCK_STREAM, 0);
  const abstract = socket(AF_UNIX, SOCK_DGRAM, 0);
  const [a, b] = socketPair();
  try {
    bind(named, { family: 'unix', path });
    assert.deepEqual(getsockname(named), { family: 'unix', path });
    const name = `@sockunit-sa-${process.pid}`;
    bind(abstract, { family: 'unix', path: name });
    assert.deepEqual(getsockname(abstract), { family: 'unix', path: name });
    assert.equal(
      encodeSockAddr({ family: 'unix', path: name }).length,
      2 + 1 + name.length - 1,
      'no terminator',
    );
    assert.deepEqual(getsockname(a), { family: 'unix', path: '' });
    assert.equal(formatSockAddr(getsockname(a)), '(unnamed)');
    for (const p of [path, name, ''])
      assert.deepEqual(roundTrip({ family: 'unix', path: p }), { family: 'unix', path: p });
    assert.throws(() => bind(named, { family: 'unix', path: join(dir, 'other') }), {
      code: 'EINVAL',
      syscall: 'bind',
    });
    const taken = socket(AF_UNIX, SOCK_STREAM, 0);
    try {
      assert.throws(() => bind(taken, { family: 'unix', path }), {
        code: 'EADDRINUSE',
        syscall: 'bind',
        address: path,
      });
    } finally {
      close(taken);
    }
  } finally {
    close(named);
    close(abstract);
    close(a);
    close(b);
    rmSync(dir, { recursive: true });
  }
});

test('a unix path too long for sun_path gives a clear error before any syscall', () => {
  const long = `/tmp/${'x'.repeat(120)}`;
  assert.throws(
    () => encodeSockAddr({ family: 'unix', path: long }),
    (err: TypeError & { code?: string }) =>
      err instanceof TypeError &&
      err.code === 'ERR_INVALID_ADDRESS' &&
      err.message.includes('125 bytes') &&
      err.message.includes('at most 107'),
  );
  assert.throws(() => encodeSockAddr({ family: 'unix', path: `@${'y'.repeat(108)}` }), /name .* at most 107/);
  assert.doesNotThrow(() => encodeSockAddr({ family: 'unix', path: `/${'z'.repeat(106)}` }), '107 bytes fit');
  assert.throws(() => encodeSockAddr({ family: 'unix', path: '/tmp/a\0b' }), /NUL/);
  const fd = socket(AF_UNIX, SOCK_STREAM, 0);
  try {
    assert.throws(() => bind(fd, { family: 'unix', path: long }), { code: 'ERR_INVALID_ADDRESS' });
  } finally {
    close(fd);
  }
});

test('invalid IP literals, ports and families are refused with ERR_INVALID_ADDRESS', () => {
  assert.throws(() => encodeSockAddr({ family: 'inet', address: '1.2.3', port: 1 }), {
    code: 'ERR_INVALID_ADDRESS',
    message: "'1.2.3' is not an IPv4 address",
  });
  assert.throws(
    () => encodeSockAddr({ family: 'inet6', address: '127.0.0.1', port: 1 }),
    /not an IPv6 address/,
  );
  assert.throws(() => encodeSockAddr({ family: 'inet', address: '127.0.0.1', port: 65536 }), /out of range/);
  assert.throws(() => encodeSockAddr({ family: 'inet', address: '127.0.0.1', port: -1 }), /out of range/);
  const weird = Buffer.alloc(16);
  weird.writeUInt16LE(99, 0);
  assert.throws(() => decodeSockAddr(weird), /unsupported address family 99/);
});

test('vsock: encode/decode round trip; a real socket where the kernel has vsock', (t) => {
  const addr: SockAddr = { family: 'vsock', cid: 3, port: 1024 };
  assert.deepEqual(roundTrip(addr), addr);
  assert.equal(formatSockAddr(addr), 'vsock:3:1024');
  assert.deepEqual(roundTrip({ family: 'vsock', cid: 0xffffffff, port: 0xffffffff }), {
    family: 'vsock',
    cid: 0xffffffff,
    port: 0xffffffff,
  });
  let fd: number;
  try {
    fd = socket(AF_VSOCK, SOCK_STREAM, 0);
  } catch (err) {
    assert.ok(hasCode(err, 'EAFNOSUPPORT'), String(err));
    t.skip('no vsock in this kernel (EAFNOSUPPORT): only the codec was tested');
    return;
  }
  try {
    try {
      bind(fd, { family: 'vsock', cid: 0xffffffff, port: 0xffffffff });
    } catch (err) {
      // A kernel with the vsock family but no transport (no hypervisor device) has no address to
      // bind: EADDRNOTAVAIL (or ENODEV on older kernels). Anything else is a real failure.
      if (!hasCode(err, 'EADDRNOTAVAIL', 'ENODEV')) throw err;
      assert.equal((err as SystemError).syscall, 'bind');
      t.skip(`vsock has no transport here (${(err as SystemError).code}): only the codec was tested`);
      return;
    }
    const bound = getsockname(fd);
    assert.equal(bound.family, 'vsock');
    assert.equal(bound.family === 'vsock' && bound.cid, 0xffffffff, 'bound to VMADDR_CID_ANY');
    assert.ok(bound.family === 'vsock' && bound.port !== 0xffffffff, 'the kernel picked a port');
  } finally {
    close(fd);
  }
});

test('netlink: the kernel assigns our port id; the codec round-trips', () => {
  assert.deepEqual(roundTrip({ family: 'netlink', pid: 1234, groups: 5 }), {
    family: 'netlink',
    pid: 1234,
    groups: 5,
  });
  const fd = socket(AF_NETLINK, SOCK_RAW, NETLINK_ROUTE);
  try {
    bind(fd, { family: 'netlink', pid: 0, groups: 0 });
    const bound = getsockname(fd);
    assert.equal(bound.family, 'netlink');
    assert.ok(bound.family === 'netlink' && bound.pid !== 0, 'kernel assigned a port id');
  } finally {
    close(fd);
  }
});

test('errors.ts: names, message shape, hasCode', () => {
  assert.equal(errnoName(98), 'EADDRINUSE');
  assert.equal(errnoName(-111), 'ECONNREFUSED');
  assert.equal(errnoName(10), 'ECHILD', 'errnos libuv does not know are named too');
  assert.equal(errnoName(8), 'ENOEXEC');
  const err = systemError('connect', 111, { address: '::1', port: 80, hint: 'is the service running?' });
  assert.equal(err.message, 'connect ECONNREFUSED ::1:80 (is the service running?)');
  assert.equal(err.errno, -111);
  assert.equal(systemError('unlink', 2, { path: '/x' }).message, 'unlink ENOENT /x');
  assert.equal(hasCode(err, 'EAGAIN', 'ECONNREFUSED'), true);
  assert.equal(hasCode(new Error('x'), 'ECONNREFUSED'), false);
  assert.equal(hasCode(null, 'ECONNREFUSED'), false);
});

test('socket() with an unknown family fails with EAFNOSUPPORT', () => {
  assert.throws(() => socket(45, SOCK_STREAM, 0), { code: 'EAFNOSUPPORT', syscall: 'socket' });
});

test('the inet constants match what the kernel reports for sockets of each family', () => {
  const fd = socket(AF_INET, SOCK_DGRAM, 0);
  try {
    assert.equal(socketKind(fd).domain, AF_INET);
  } finally {
    close(fd);
  }
});
