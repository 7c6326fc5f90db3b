import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { formatListen, type ListenDirective, type ListenKey, parseListen } from '../src/unit/listen.js';
import { ValueError } from '../src/unit/values.js';

const good: [ListenKey, string, ListenDirective][] = [
  ['ListenStream', '8080', { kind: 'stream', address: { family: 'any', port: 8080 } }],
  [
    'ListenStream',
    '127.0.0.1:80',
    { kind: 'stream', address: { family: 'inet', address: '127.0.0.1', port: 80 } },
  ],
  [
    'ListenDatagram',
    '0.0.0.0:53',
    { kind: 'datagram', address: { family: 'inet', address: '0.0.0.0', port: 53 } },
  ],
  ['ListenStream', '[::]:443', { kind: 'stream', address: { family: 'inet6', address: '::', port: 443 } }],
  [
    'ListenStream',
    '[::1]:65535',
    { kind: 'stream', address: { family: 'inet6', address: '::1', port: 65535 } },
  ],
  [
    'ListenStream',
    '[fe80::1]:80%eth0',
    { kind: 'stream', address: { family: 'inet6', address: 'fe80::1', port: 80, scope: 'eth0' } },
  ],
  [
    'ListenStream',
    '[fe80::1]:80%2',
    { kind: 'stream', address: { family: 'inet6', address: 'fe80::1', port: 80, scope: '2' } },
  ],
  ['ListenStream', '/run/foo.sock', { kind: 'stream', address: { family: 'unix', path: '/run/foo.sock' } }],
  ['ListenStream', '@foo', { kind: 'stream', address: { family: 'unix', path: '@foo' } }],
  ['ListenSequentialPacket', '@seq', { kind: 'seqpacket', address: { family: 'unix', path: '@seq' } }],
  [
    'ListenSequentialPacket',
    '/run/seq',
    { kind: 'seqpacket', address: { family: 'unix', path: '/run/seq' } },
  ],
  ['ListenStream', 'vsock:2:1234', { kind: 'stream', address: { family: 'vsock', cid: 2, port: 1234 } }],
  ['ListenStream', 'vsock::1234', { kind: 'stream', address: { family: 'vsock', port: 1234 } }],
  [
    'ListenNetlink',
    'kobject-uevent 1',
    { kind: 'netlink', family: 'kobject-uevent', protocol: 15, group: 1 },
  ],
  ['ListenNetlink', 'route', { kind: 'netlink', family: 'route', protocol: 0, group: 0 }],
  ['ListenNetlink', '31 7', { kind: 'netlink', family: '31', protocol: 31, group: 7 }],
  ['ListenFIFO', '/run/initctl', { kind: 'fifo', path: '/run/initctl' }],
  ['ListenSpecial', '/proc/kmsg', { kind: 'special', path: '/proc/kmsg' }],
  ['ListenMessageQueue', '/queue', { kind: 'mqueue', name: '/queue' }],
  ['ListenUSBFunction', '/run/usb/ffs', { kind: 'usb-function', path: '/run/usb/ffs' }],
];

const bad: [ListenKey, string, string][] = [
  ['ListenStream', '0', 'port 0 is out of range; expected 1 to 65535'],
  ['ListenStream', '65536', 'port 65536 is out of range; expected 1 to 65535'],
  ['ListenStream', '127.0.0.1:', "'127.0.0.1:' has no port; expected a port from 1 to 65535"],
  ['ListenStream', '127.0.0.1:http', "port 'http' is not a number; expected 1 to 65535"],
  [
    'ListenStream',
    'localhost:80',
    "'localhost' is not an IPv4 address (host names are not resolved); expected A.B.C.D:PORT or [IPV6]:PORT",
  ],
  ['ListenStream', '::1:80', 'IPv6 addresses need brackets; expected [IPV6]:PORT'],
  [
    'ListenStream',
    '[fe80::1%eth0]:80',
    'the interface goes after the port, not inside the brackets; expected [IPV6]:PORT%%IFACE (written %% in a unit file)',
  ],
  ['ListenStream', '[::1]', 'IPv6 address has no port; expected [IPV6]:PORT'],
  ['ListenStream', '[::1:80', 'IPv6 address has no closing bracket; expected [IPV6]:PORT'],
  ['ListenStream', '[1.2.3.4]:80', "'1.2.3.4' is not an IPv6 address; expected [IPV6]:PORT"],
  [
    'ListenStream',
    '[fe80::1]:80%this-name-is-too-long',
    "'this-name-is-too-long' is not a valid interface name; expected at most 15 characters, no '/', ':' or blanks",
  ],
  [
    'ListenStream',
    '1.2.3.4:80%eth0',
    'an interface scope is only meaningful for IPv6; expected A.B.C.D:PORT',
  ],
  [
    'ListenStream',
    'run/foo.sock',
    'not a port, path or address; expected PORT, A.B.C.D:PORT, [IPV6]:PORT, /path, @name or vsock:CID:PORT',
  ],
  [
    'ListenStream',
    `/${'x'.repeat(107)}`,
    'unix socket path is 108 bytes long; expected at most 107 bytes (sun_path)',
  ],
  ['ListenStream', '@', 'abstract socket name is empty; expected @name'],
  ['ListenStream', 'vsock:1234', 'vsock address has no port; expected vsock:CID:PORT (CID may be empty)'],
  ['ListenStream', 'vsock:x:1', "vsock CID 'x' is not a number; expected an integer from 0 to 4294967295"],
  [
    'ListenSequentialPacket',
    '127.0.0.1:80',
    'sequential-packet sockets exist only for unix sockets here; expected /path or @name',
  ],
  ['ListenFIFO', 'run/fifo', 'path is not absolute; expected a path starting with /'],
  ['ListenSpecial', 'dev/null', 'path is not absolute; expected a path starting with /'],
  [
    'ListenNetlink',
    'nosuch 1',
    "unknown netlink family 'nosuch'; expected one of route, firewall, inet-diag, nflog, xfrm, selinux, iscsi, audit, fib-lookup, connector, netfilter, ip6-fw, dnrtmsg, kobject-uevent, generic, scsitransport, ecryptfs, rdma or a number below 32",
  ],
  ['ListenNetlink', 'route 1 2', "unexpected '2'; expected FAMILY [GROUP]"],
  ['ListenNetlink', 'route x', "netlink group 'x' is not a number; expected an integer from 0 to 4294967295"],
  [
    'ListenMessageQueue',
    'queue',
    'message queue name must be / followed by a name without further slashes; expected /name',
  ],
  [
    'ListenMessageQueue',
    '/a/b',
    'message queue name must be / followed by a name without further slashes; expected /name',
  ],
];

describe('parseListen', () => {
  for (const [key, value, directive] of good) {
    it(`${key}=${value}`, () => {
      const parsed = parseListen(key, value);
      assert.deepEqual(parsed.directive, directive);
      assert.deepEqual(parsed.notices, []);
    });
  }

  for (const [key, value, message] of bad) {
    it(`refuses ${key}=${value.slice(0, 40)}`, () => {
      assert.throws(
        () => parseListen(key, value),
        (e: unknown) => e instanceof ValueError && e.message === message,
      );
    });
  }

  it('rewrites /var/run/ to /run/ with a notice, for sockets and FIFOs', () => {
    const s = parseListen('ListenStream', '/var/run/foo.sock');
    assert.deepEqual(s.directive, { kind: 'stream', address: { family: 'unix', path: '/run/foo.sock' } });
    assert.deepEqual(s.notices, [
      'legacy path /var/run/foo.sock rewritten to /run/foo.sock; update the unit file',
    ]);
    const f = parseListen('ListenFIFO', '/var/run/initctl');
    assert.deepEqual(f.directive, { kind: 'fifo', path: '/run/initctl' });
    assert.equal(f.notices.length, 1);
  });

  it('accepts a unix path of exactly 107 bytes', () => {
    const path = `/${'x'.repeat(106)}`;
    assert.deepEqual(parseListen('ListenStream', path).directive, {
      kind: 'stream',
      address: { family: 'unix', path },
    });
  });
});

describe('formatListen', () => {
  it('writes addresses as systemctl list-sockets does, and they parse back', () => {
    for (const [key, value, directive] of good) {
      const text = formatListen(directive);
      if (directive.kind !== 'netlink') assert.deepEqual(parseListen(key, text).directive, directive);
      if (key === 'ListenStream' && value.startsWith('[')) assert.equal(text, value);
    }
    assert.equal(formatListen({ kind: 'netlink', family: 'route', protocol: 0, group: 0 }), 'route 0');
    assert.equal(formatListen({ kind: 'stream', address: { family: 'vsock', port: 5 } }), 'vsock::5');
  });
});

describe('mutation-tested: the edges of each address form', () => {
  const accepts = (key: ListenKey, value: string) =>
    assert.doesNotThrow(() => parseListen(key, value), value);
  const refuses = (key: ListenKey, value: string) =>
    assert.throws(() => parseListen(key, value), ValueError, `${key}=${value}`);

  it('interface scopes: a name of 1-15 characters without / : or blanks, not . or ..; an index above 0', () => {
    for (const scope of ['eth0', 'abcdefghijklmno', '12', '2a', 'br-lan.1'])
      accepts('ListenStream', `[fe80::1]:80%${scope}`);
    for (const scope of ['', 'abcdefghijklmnop', '0', '00', '.', '..', 'a/b', 'a:b', 'a b'])
      refuses('ListenStream', `[fe80::1]:80%${scope}`);
  });

  it('vsock: CID and port are 32-bit numbers; the prefix must start the value', () => {
    accepts('ListenStream', 'vsock:2:4294967295');
    accepts('ListenStream', 'vsock-stream::1024');
    for (const v of ['vsock:2:4294967296', 'vsock:2:12a', 'vsock:2:a12', 'vsock:x2:1', 'xvsock:2:1'])
      refuses('ListenStream', v);
  });

  it('unix names: a path or an abstract name of at most 107 bytes, no NUL', () => {
    accepts('ListenStream', `/${'p'.repeat(106)}`);
    accepts('ListenStream', `@${'a'.repeat(107)}`);
    refuses('ListenStream', `/${'p'.repeat(107)}`);
    refuses('ListenStream', `@${'a'.repeat(108)}`);
    refuses('ListenStream', `@${'é'.repeat(54)}`);
    refuses('ListenStream', '/run/a\0b');
    refuses('ListenFIFO', '/run/a\0b');
    refuses('ListenStream', '[::1:80');
  });

  it('netlink: a family name or a number below 32, an optional group, blanks between', () => {
    assert.deepEqual(parseListen('ListenNetlink', '  route   5 ').directive, {
      kind: 'netlink',
      family: 'route',
      protocol: 0,
      group: 5,
    });
    accepts('ListenNetlink', '31');
    for (const v of ['', '   ', '32', '3x', 'x3']) refuses('ListenNetlink', v);
  });

  it('message queues: / and a name of 1-255 characters', () => {
    accepts('ListenMessageQueue', '/q');
    accepts('ListenMessageQueue', `/${'q'.repeat(255)}`);
    for (const v of ['/', `/${'q'.repeat(256)}`, 'q/']) refuses('ListenMessageQueue', v);
  });
});
