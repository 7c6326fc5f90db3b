import assert from 'node:assert/strict';
import { describe, it, test } from 'node:test';
import {
  connectionEnvironment,
  connectionInstance,
  remoteEnvironment,
  sourceKey,
} from '../src/manager/accept/instance-name.js';
import type { SockAddr } from '../src/sys/sockaddr.js';

test('instance names follow systemd 258: N-COOKIE-LOCAL-REMOTE', () => {
  const cases: [Parameters<typeof connectionInstance>[0], string][] = [
    [
      {
        counter: 0,
        cookie: 4097n,
        local: { family: 'inet', address: '10.0.0.1', port: 22 },
        remote: { family: 'inet', address: '10.0.0.9', port: 51234 },
      },
      '0-4097-10.0.0.1:22-10.0.0.9:51234',
    ],
    [
      {
        counter: 7,
        cookie: 12,
        local: { family: 'inet6', address: '::ffff:127.0.0.1', port: 80 },
        remote: { family: 'inet6', address: '::ffff:127.0.0.2', port: 4000 },
      },
      '7-12-127.0.0.1:80-127.0.0.2:4000',
    ],
    [
      {
        counter: 1,
        cookie: 5,
        local: { family: 'inet6', address: '2001:db8::1', port: 22 },
        remote: { family: 'inet6', address: '2001:db8::9', port: 51234 },
      },
      '1-5-2001:db8::1:22-2001:db8::9:51234',
    ],
    [
      {
        counter: 2,
        cookie: 9,
        local: { family: 'unix', path: '/run/x.sock' },
        remote: { family: 'unix', path: '' },
        unixPeer: { pid: 100, uid: 0, pidfdInode: 3000 },
      },
      '2-9-100_3000-0',
    ],
    [
      {
        counter: 3,
        cookie: 9,
        local: { family: 'unix', path: '/run/x.sock' },
        remote: { family: 'unix', path: '' },
        unixPeer: { pid: 100, uid: 1000 },
      },
      '3-9-100-1000',
    ],
    [
      { counter: 4, local: { family: 'unix', path: '@a' }, remote: { family: 'unix', path: '' } },
      '4-unknown',
    ],
    [
      {
        counter: 5,
        cookie: 1,
        local: { family: 'vsock', cid: 3, port: 1024 },
        remote: { family: 'vsock', cid: 2, port: 5000 },
      },
      '5-1-3:1024-2:5000',
    ],
  ];
  for (const [facts, name] of cases) assert.equal(connectionInstance(facts), name);
});

test('REMOTE_ADDR/REMOTE_PORT per family', () => {
  assert.deepEqual(remoteEnvironment({ family: 'inet6', address: '::ffff:1.2.3.4', port: 9 }), {
    REMOTE_ADDR: '1.2.3.4',
    REMOTE_PORT: '9',
  });
  assert.deepEqual(remoteEnvironment({ family: 'unix', path: '' }), {});
  assert.deepEqual(remoteEnvironment({ family: 'unix', path: '/run/c.sock' }), {
    REMOTE_ADDR: '/run/c.sock',
  });
  assert.deepEqual(remoteEnvironment({ family: 'vsock', cid: 2, port: 7 }), {
    REMOTE_ADDR: 'vsock:2',
    REMOTE_PORT: '7',
  });
});

describe('mutation-tested: instance names, REMOTE_*, SO_COOKIE and per-source counting', () => {
  it('IPv4-mapped IPv6 addresses print as IPv4 with every octet whole', () => {
    assert.equal(
      connectionInstance({
        counter: 0,
        local: { family: 'inet6', address: '::ffff:192.168.100.254', port: 443 },
        remote: { family: 'inet6', address: '::FFFF:10.200.30.123', port: 61000 },
      }),
      '0-192.168.100.254:443-10.200.30.123:61000',
    );
    assert.deepEqual(remoteEnvironment({ family: 'inet', address: '10.0.0.9', port: 51234 }), {
      REMOTE_ADDR: '10.0.0.9',
      REMOTE_PORT: '51234',
    });
  });

  it('a family without an endpoint form names the instance N-unknown', () => {
    const netlink: SockAddr = { family: 'netlink', pid: 0, groups: 0 };
    assert.equal(
      connectionInstance({ counter: 6, cookie: 3, local: netlink, remote: netlink }),
      '6-3-unknown',
    );
  });

  it('SO_COOKIE joins REMOTE_ADDR/REMOTE_PORT when the kernel gave one', () => {
    const remote: SockAddr = { family: 'inet', address: '10.0.0.9', port: 7 };
    assert.deepEqual(connectionEnvironment(remote, 4097n), {
      REMOTE_ADDR: '10.0.0.9',
      REMOTE_PORT: '7',
      SO_COOKIE: '4097',
    });
    assert.deepEqual(connectionEnvironment(remote, undefined), { REMOTE_ADDR: '10.0.0.9', REMOTE_PORT: '7' });
  });

  it('MaxConnectionsPerSource= counts per IP address (mapped IPv4 as IPv4) and per vsock CID', () => {
    assert.equal(sourceKey({ family: 'inet', address: '10.0.0.9', port: 1 }), '10.0.0.9');
    assert.equal(sourceKey({ family: 'inet6', address: '::ffff:10.0.0.9', port: 2 }), '10.0.0.9');
    assert.equal(sourceKey({ family: 'inet6', address: '2001:db8::ffff:1', port: 3 }), '2001:db8::ffff:1');
    assert.equal(sourceKey({ family: 'vsock', cid: 3, port: 4 }), 'vsock:3');
  });
});
