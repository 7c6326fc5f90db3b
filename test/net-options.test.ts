import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { after, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { applyConnectionOptions, type OpenedSocket, openSocket } from '../src/net/open.js';
import type { SocketOptions, SocketSpec } from '../src/net/spec.js';
import {
  IP_FREEBIND,
  IP_PKTINFO,
  IP_TOS,
  IP_TRANSPARENT,
  IP_TTL,
  IPPROTO_IPV6,
  IPV6_FREEBIND,
  IPV6_RECVPKTINFO,
  IPV6_TRANSPARENT,
  IPV6_UNICAST_HOPS,
  IPV6_V6ONLY,
  NETLINK_PKTINFO,
  SO_BINDTODEVICE,
  SO_BROADCAST,
  SO_KEEPALIVE,
  SO_MARK,
  SO_PASSCRED,
  SO_PASSPIDFD,
  SO_PASSRIGHTS,
  SO_PASSSEC,
  SO_PRIORITY,
  SO_RCVBUF,
  SO_REUSEADDR,
  SO_REUSEPORT,
  SO_SNDBUF,
  SO_TIMESTAMP,
  SO_TIMESTAMPNS,
  SOL_IP,
  SOL_NETLINK,
  SOL_SOCKET,
  SOL_TCP,
  TCP_CONGESTION,
  TCP_DEFER_ACCEPT,
  TCP_IS_MPTCP,
  TCP_KEEPCNT,
  TCP_KEEPIDLE,
  TCP_KEEPINTVL,
  TCP_NODELAY,
} from '../src/sys/constants.js';
import { accept, close, type Fd, getsockopt, getsockoptInt, setsockoptInt } from '../src/sys/socket.js';

const opened: Fd[] = [];
after(() => {
  for (const fd of opened) close(fd);
});

const isRoot = process.getuid?.() === 0;

function open(spec: SocketSpec): OpenedSocket {
  const s = openSocket(spec);
  opened.push(s.fd);
  return s;
}

function ip(
  family: 'inet' | 'inet6',
  type: 'stream' | 'datagram',
  protocol: 'tcp' | 'udp' | 'mptcp' | undefined,
  options: SocketOptions,
): SocketSpec {
  const address = family === 'inet' ? '127.0.0.1' : '::1';
  return {
    kind: 'socket',
    family,
    type,
    protocol,
    address: { family, address, port: 0 },
    options,
  } as SocketSpec;
}

const int = (fd: Fd, level: number, name: number): number => getsockoptInt(fd, level, name);
const str = (fd: Fd, level: number, name: number): string => {
  const b = getsockopt(fd, level, name, 32);
  const end = b.indexOf(0);
  return b.toString('latin1', 0, end === -1 ? b.length : end);
};

const tcpOptions: SocketOptions = {
  reusePort: true,
  freeBind: true,
  transparent: true,
  keepAlive: true,
  keepAliveTimeSec: 123,
  keepAliveIntervalSec: 45,
  keepAliveProbes: 6,
  noDelay: true,
  deferAcceptSec: 7,
  priority: 5,
  mark: 42,
  ipTOS: 0x10,
  ipTTL: 33,
  receiveBuffer: 65536,
  sendBuffer: 65536,
  tcpCongestion: 'reno',
  timestamping: 'ns',
};

test('TCP over IPv4: every option is on the fd, read back with getsockopt', (t) => {
  if (!isRoot) return t.skip('Mark= and Transparent= need CAP_NET_ADMIN; run as root or in CI');
  const s = open(ip('inet', 'stream', 'tcp', tcpOptions));
  assert.deepEqual(s.warnings, []);
  const fd = s.fd;
  assert.equal(int(fd, SOL_SOCKET, SO_REUSEADDR), 1, 'systemd always sets SO_REUSEADDR');
  assert.equal(int(fd, SOL_SOCKET, SO_REUSEPORT), 1);
  assert.equal(int(fd, SOL_IP, IP_FREEBIND), 1);
  assert.equal(int(fd, SOL_IP, IP_TRANSPARENT), 1);
  assert.equal(int(fd, SOL_SOCKET, SO_KEEPALIVE), 1);
  assert.equal(int(fd, SOL_TCP, TCP_KEEPIDLE), 123);
  assert.equal(int(fd, SOL_TCP, TCP_KEEPINTVL), 45);
  assert.equal(int(fd, SOL_TCP, TCP_KEEPCNT), 6);
  assert.equal(int(fd, SOL_TCP, TCP_NODELAY), 1);
  assert.equal(int(fd, SOL_TCP, TCP_DEFER_ACCEPT), 7);
  // IP_TOS 0x10 alone would rewrite the priority to 6; Priority= must survive IPTOS=.
  assert.equal(int(fd, SOL_SOCKET, SO_PRIORITY), 5);
  assert.equal(int(fd, SOL_SOCKET, SO_MARK), 42);
  assert.equal(int(fd, SOL_IP, IP_TOS), 0x10);
  assert.equal(int(fd, SOL_IP, IP_TTL), 33);
  assert.equal(int(fd, SOL_SOCKET, SO_RCVBUF), 131072, 'the kernel doubles the request');
  assert.equal(int(fd, SOL_SOCKET, SO_SNDBUF), 131072);
  assert.equal(str(fd, SOL_TCP, TCP_CONGESTION), 'reno');
  assert.equal(int(fd, SOL_SOCKET, SO_TIMESTAMPNS), 1);
});

test('TCP over IPv6: BindIPv6Only, IPV6_* variants of FreeBind/Transparent/IPTTL', (t) => {
  if (!isRoot) return t.skip('Transparent= needs CAP_NET_ADMIN; run as root or in CI');
  const only = open(
    ip('inet6', 'stream', 'tcp', { bindIPv6Only: 'ipv6-only', freeBind: true, transparent: true, ipTTL: 17 }),
  );
  assert.deepEqual(only.warnings, []);
  assert.equal(int(only.fd, IPPROTO_IPV6, IPV6_V6ONLY), 1);
  assert.equal(int(only.fd, IPPROTO_IPV6, IPV6_FREEBIND), 1);
  assert.equal(int(only.fd, IPPROTO_IPV6, IPV6_TRANSPARENT), 1);
  assert.equal(int(only.fd, IPPROTO_IPV6, IPV6_UNICAST_HOPS), 17);
  // Binding a specific IPv6 address sets V6ONLY in the kernel anyway; `both` matters for `::`.
  const both = open({
    kind: 'socket',
    family: 'inet6',
    type: 'stream',
    address: { family: 'inet6', address: '::', port: 0 },
    options: { bindIPv6Only: 'both' },
  });
  assert.equal(int(both.fd, IPPROTO_IPV6, IPV6_V6ONLY), 0);
});

test('MPTCP: supported options apply; IPTTL= and PassPacketInfo= come back as named EOPNOTSUPP warnings', () => {
  const s = open(
    ip('inet', 'stream', 'mptcp', {
      keepAlive: true,
      keepAliveTimeSec: 100,
      noDelay: true,
      ipTOS: 0x08,
      priority: 3,
      receiveBuffer: 65536,
      ipTTL: 20,
      passPacketInfo: true,
    }),
  );
  const byOption = new Map(s.warnings.map((w) => [w.option, w]));
  assert.deepEqual([...byOption.keys()].sort(), ['IPTTL=', 'PassPacketInfo=']);
  const ttl = byOption.get('IPTTL=')!;
  assert.equal(ttl.sockopt, 'IP_TTL');
  // errno 95: Node names it ENOTSUP, the kernel docs EOPNOTSUPP (same number on Linux).
  assert.equal(ttl.error.errno, -95);
  assert.match(ttl.message, /IPTTL=20.*IP_TTL.*mptcp.*EOPNOTSUPP/);
  assert.equal(byOption.get('PassPacketInfo=')!.sockopt, 'IP_PKTINFO');
  assert.equal(byOption.get('PassPacketInfo=')!.error.errno, -95);
  assert.equal(int(s.fd, SOL_SOCKET, SO_KEEPALIVE), 1);
  assert.equal(int(s.fd, SOL_IP, IP_TOS), 0x08);
  assert.equal(int(s.fd, SOL_SOCKET, SO_PRIORITY), 3);
  assert.equal(int(s.fd, SOL_SOCKET, SO_RCVBUF), 131072);
});

test('UDP over IPv4: Broadcast, PassPacketInfo (IP_PKTINFO), Timestamping=us, ReuseAddr default', () => {
  const s = open(
    ip('inet', 'datagram', undefined, { broadcast: true, passPacketInfo: true, timestamping: 'us' }),
  );
  assert.deepEqual(s.warnings, []);
  assert.equal(int(s.fd, SOL_SOCKET, SO_BROADCAST), 1);
  assert.equal(int(s.fd, SOL_IP, IP_PKTINFO), 1);
  assert.equal(int(s.fd, SOL_SOCKET, SO_TIMESTAMP), 1);
  assert.equal(int(s.fd, SOL_SOCKET, SO_REUSEADDR), 1);
});

test('UDP over IPv6: PassPacketInfo uses IPV6_RECVPKTINFO; ReuseAddr can be turned off', () => {
  const s = open(ip('inet6', 'datagram', 'udp', { passPacketInfo: true, reuseAddr: false }));
  assert.deepEqual(s.warnings, []);
  assert.equal(int(s.fd, IPPROTO_IPV6, IPV6_RECVPKTINFO), 1);
  assert.equal(int(s.fd, SOL_SOCKET, SO_REUSEADDR), 0);
});

test('TCP options on UDP are refused by the kernel and reported by key, not thrown', () => {
  const s = open(
    ip('inet', 'datagram', 'udp', { noDelay: true, keepAliveTimeSec: 10, tcpCongestion: 'reno' }),
  );
  assert.deepEqual(
    s.warnings.map((w) => `${w.option} ${w.sockopt} ${w.error.code}`),
    [
      'KeepAliveTimeSec= TCP_KEEPIDLE ENOPROTOOPT',
      'NoDelay= TCP_NODELAY ENOPROTOOPT',
      'TCPCongestion= TCP_CONGESTION ENOPROTOOPT',
    ],
  );
});

test('unix datagram: PassCredentials, PassSecurity, PassPIDFD, AcceptFileDescriptors=no', () => {
  const s = open({
    kind: 'socket',
    family: 'unix',
    type: 'datagram',
    address: { family: 'unix', path: `@sockunit-test-${process.pid}-options` },
    options: { passCredentials: true, passSecurity: true, passPIDFD: true, acceptFileDescriptors: false },
  });
  assert.deepEqual(s.warnings, []);
  assert.equal(int(s.fd, SOL_SOCKET, SO_PASSCRED), 1);
  assert.equal(int(s.fd, SOL_SOCKET, SO_PASSSEC), 1);
  assert.equal(int(s.fd, SOL_SOCKET, SO_PASSPIDFD), 1);
  assert.equal(int(s.fd, SOL_SOCKET, SO_PASSRIGHTS), 0);
  assert.equal(int(s.fd, SOL_SOCKET, SO_REUSEADDR), 1, 'systemd sets SO_REUSEADDR on unix sockets too');
});

test('PassPacketInfo= on a unix socket is a warning naming both IP variants', () => {
  const s = open({
    kind: 'socket',
    family: 'unix',
    type: 'stream',
    address: { family: 'unix', path: `@sockunit-test-${process.pid}-pktinfo` },
    options: { passPacketInfo: true },
  });
  assert.equal(s.warnings.length, 1);
  assert.equal(s.warnings[0]?.option, 'PassPacketInfo=');
  assert.equal(s.warnings[0]?.error.code, 'EAFNOSUPPORT');
  assert.match(s.warnings[0]?.sockopt ?? '', /IP_PKTINFO\/IPV6_RECVPKTINFO/);
});

test('netlink: PassPacketInfo uses NETLINK_PKTINFO', () => {
  const s = open({ kind: 'netlink', family: 'route', group: 0, options: { passPacketInfo: true } });
  assert.deepEqual(s.warnings, []);
  assert.equal(int(s.fd, SOL_NETLINK, NETLINK_PKTINFO), 1);
});

test('BindToDevice=lo binds the socket; an unknown device fails the port naming the option', (t) => {
  if (!isRoot) return t.skip('SO_BINDTODEVICE needs CAP_NET_RAW; run as root or in CI');
  const s = open(ip('inet', 'stream', 'tcp', { bindToDevice: 'lo' }));
  assert.equal(str(s.fd, SOL_SOCKET, SO_BINDTODEVICE), 'lo');
  assert.throws(
    () => openSocket(ip('inet', 'stream', 'tcp', { bindToDevice: 'nosuchdev0' })),
    (err: Error & { code?: string }) => err.code === 'ENODEV' && /BindToDevice=nosuchdev0/.test(err.message),
  );
});

test('buffers above rmem_max/wmem_max are forced when privileged', (t) => {
  if (!isRoot) return t.skip('SO_RCVBUFFORCE needs CAP_NET_ADMIN; run as root or in CI');
  const rmemMax = Number(readFileSync('/proc/sys/net/core/rmem_max', 'utf8'));
  const wmemMax = Number(readFileSync('/proc/sys/net/core/wmem_max', 'utf8'));
  const want = Math.max(rmemMax, wmemMax) * 2;
  const s = open(ip('inet', 'datagram', 'udp', { receiveBuffer: want, sendBuffer: want }));
  assert.deepEqual(s.warnings, []);
  assert.equal(int(s.fd, SOL_SOCKET, SO_RCVBUF), want * 2);
  assert.equal(int(s.fd, SOL_SOCKET, SO_SNDBUF), want * 2);
});

/** Accept one connection from a Node client on a non-blocking listener (bounded wait). */
async function acceptOne(listener: Fd, port: number, host: string): Promise<{ fd: Fd; close(): void }> {
  const client = connect(port, host);
  client.on('error', () => {});
  for (let i = 0; i < 200; i++) {
    const a = accept(listener);
    if (a) return { fd: a.fd, close: () => client.destroy() };
    await sleep(5);
  }
  client.destroy();
  throw new Error(`no connection arrived on ${host}:${port} within 1 s`);
}

test('applyConnectionOptions re-applies the after-listen set on an accepted TCP connection', async () => {
  const spec = ip('inet', 'stream', 'tcp', {
    noDelay: true,
    keepAlive: true,
    keepAliveProbes: 4,
    ipTOS: 0x04,
  });
  const s = open(spec);
  const conn = await acceptOne(s.fd, (s.address as { port: number }).port, '127.0.0.1');
  try {
    setsockoptInt(conn.fd, SOL_TCP, TCP_NODELAY, 0); // inherited from the listener; clear it to see it re-applied
    assert.deepEqual(applyConnectionOptions(conn.fd, spec), []);
    assert.equal(int(conn.fd, SOL_TCP, TCP_NODELAY), 1);
    assert.equal(int(conn.fd, SOL_SOCKET, SO_KEEPALIVE), 1);
    assert.equal(int(conn.fd, SOL_TCP, TCP_KEEPCNT), 4);
    assert.equal(int(conn.fd, SOL_IP, IP_TOS), 0x04);
  } finally {
    close(conn.fd);
    conn.close();
  }
});

test('applyConnectionOptions on an accepted connection of an MPTCP listener never throws', async () => {
  const spec = ip('inet', 'stream', 'mptcp', { noDelay: true, ipTTL: 9, mark: 7 });
  const s = open(spec);
  const conn = await acceptOne(s.fd, (s.address as { port: number }).port, '127.0.0.1');
  try {
    // A plain Node client: the kernel hands back a plain TCP socket, which takes IP_TTL.
    assert.equal(int(conn.fd, SOL_TCP, TCP_IS_MPTCP), 0);
    const warnings = applyConnectionOptions(conn.fd, spec);
    assert.ok(Array.isArray(warnings));
    assert.equal(int(conn.fd, SOL_TCP, TCP_NODELAY), 1);
    assert.equal(int(conn.fd, SOL_SOCKET, SO_MARK), 7);
  } finally {
    close(conn.fd);
    conn.close();
  }
});
