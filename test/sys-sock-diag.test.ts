// listenBacklog() reads the backlog back from the kernel, for every kind of listener a manager
// passes: TCP (v4 and v6), MPTCP and unix stream.

import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import {
  AF_INET,
  AF_INET6,
  AF_UNIX,
  IPPROTO_MPTCP,
  IPPROTO_TCP,
  SOCK_DGRAM,
  SOCK_SEQPACKET,
  SOCK_STREAM,
} from '../src/sys/constants.js';
import { listenBacklog } from '../src/sys/sock-diag.js';
import { bind, close, type Fd, listen, socket } from '../src/sys/socket.js';

const dir = mkdtempSync(join(tmpdir(), 'sockunit-sock-diag-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const somaxconn = Number(readFileSync('/proc/sys/net/core/somaxconn', 'utf8'));

function withSocket(domain: number, type: number, protocol: number, use: (fd: Fd) => void): void {
  const fd = socket(domain, type, protocol);
  try {
    use(fd);
  } finally {
    close(fd);
  }
}

test('TCP listeners (IPv4 and IPv6): the backlog given to listen(), capped at somaxconn', () => {
  withSocket(AF_INET, SOCK_STREAM, IPPROTO_TCP, (fd) => {
    bind(fd, { family: 'inet', address: '127.0.0.1', port: 0 });
    listen(fd, 7);
    assert.equal(listenBacklog(fd), 7);
    listen(fd, 0x7fffffff);
    assert.equal(listenBacklog(fd), somaxconn);
  });
  withSocket(AF_INET6, SOCK_STREAM, IPPROTO_TCP, (fd) => {
    bind(fd, { family: 'inet6', address: '::1', port: 0 });
    listen(fd, 13);
    assert.equal(listenBacklog(fd), 13);
  });
});

test('MPTCP listener: found through its first subflow, which shares its inode', (t) => {
  let fd: Fd;
  try {
    fd = socket(AF_INET, SOCK_STREAM, IPPROTO_MPTCP);
  } catch (err) {
    return t.skip(`no MPTCP here: ${(err as Error).message}`);
  }
  try {
    bind(fd, { family: 'inet', address: '127.0.0.1', port: 0 });
    listen(fd, 9);
    assert.equal(listenBacklog(fd), 9);
  } finally {
    close(fd);
  }
});

test('unix stream and seqpacket listeners', () => {
  withSocket(AF_UNIX, SOCK_STREAM, 0, (fd) => {
    bind(fd, { family: 'unix', path: join(dir, 'stream.sock') });
    listen(fd, 11);
    assert.equal(listenBacklog(fd), 11);
  });
  withSocket(AF_UNIX, SOCK_SEQPACKET, 0, (fd) => {
    bind(fd, { family: 'unix', path: `@sockunit-test-diag-${process.pid}` });
    listen(fd, 5);
    assert.equal(listenBacklog(fd), 5);
  });
});

test('not a listener: undefined', () => {
  withSocket(AF_INET, SOCK_STREAM, IPPROTO_TCP, (fd) => {
    assert.equal(listenBacklog(fd), undefined);
  });
  withSocket(AF_INET, SOCK_DGRAM, 0, (fd) => {
    assert.equal(listenBacklog(fd), undefined);
  });
});
