import assert from 'node:assert/strict';
import { readlinkSync } from 'node:fs';
import { test } from 'node:test';
import { AF_UNIX, SO_PASSCRED, SOCK_DGRAM, SOL_SOCKET } from '../src/sys/constants.js';
import { receiveMessage, sendMessage, socketPair } from '../src/sys/msg.js';
import { bind, close, getsockname, setsockoptInt, socket } from '../src/sys/socket.js';
import { isCloseOnExec } from './helpers/fd-flags.js';

function fdTarget(fd: number): string {
  return readlinkSync(`/proc/self/fd/${fd}`);
}

test('socketPair gives two connected close-on-exec ends of the requested type', () => {
  for (const type of ['stream', 'datagram', 'seqpacket'] as const) {
    const [a, b] = socketPair(type);
    try {
      assert.ok(isCloseOnExec(a) && isCloseOnExec(b));
      assert.equal(sendMessage(a, Buffer.from('ping')), 4);
      const got = receiveMessage(b, { maxBytes: 16 });
      assert.equal(got?.data.toString(), 'ping');
      assert.equal(got?.truncated, false);
    } finally {
      close(a);
      close(b);
    }
  }
});

test('receiveMessage returns undefined when nothing is queued', () => {
  const [a, b] = socketPair('datagram');
  try {
    assert.equal(receiveMessage(b, { maxBytes: 16 }), undefined);
  } finally {
    close(a);
    close(b);
  }
});

test('SCM_RIGHTS passes fds that refer to the same files and arrive close-on-exec', () => {
  const [a, b] = socketPair('stream');
  const [p1, p2] = socketPair('datagram');
  const [q1, q2] = socketPair('stream');
  try {
    sendMessage(a, Buffer.from('fds'), { fds: [p1, q1] });
    const got = receiveMessage(b, { maxBytes: 16, maxFds: 4 });
    assert.ok(got);
    assert.equal(got.data.toString(), 'fds');
    assert.equal(got.fds.length, 2);
    const [r1, r2] = got.fds as [number, number];
    assert.notEqual(r1, p1);
    assert.equal(fdTarget(r1), fdTarget(p1), 'received fd is the same socket (same inode)');
    assert.equal(fdTarget(r2), fdTarget(q1));
    assert.ok(isCloseOnExec(r1) && isCloseOnExec(r2), 'MSG_CMSG_CLOEXEC applied');
    // The passed fd really works: data written through it arrives at the peer of the original.
    sendMessage(r1, Buffer.from('via passed fd'));
    assert.equal(receiveMessage(p2, { maxBytes: 64 })?.data.toString(), 'via passed fd');
    close(r1);
    close(r2);
  } finally {
    for (const fd of [a, b, p1, p2, q1, q2]) close(fd);
  }
});

test('fds beyond maxFds are discarded by the kernel and reported as controlTruncated', () => {
  const [a, b] = socketPair('datagram');
  const [p1, p2] = socketPair('stream');
  try {
    sendMessage(a, Buffer.from('x'), { fds: [p1, p2, p1] });
    const got = receiveMessage(b, { maxBytes: 4, maxFds: 1 });
    assert.ok(got);
    assert.ok(got.fds.length <= 1);
    assert.equal(got.controlTruncated, true);
    for (const fd of got.fds) close(fd);
  } finally {
    for (const fd of [a, b, p1, p2]) close(fd);
  }
});

test('a datagram longer than maxBytes is cut and flagged truncated', () => {
  const [a, b] = socketPair('datagram');
  try {
    sendMessage(a, Buffer.alloc(100, 7));
    const got = receiveMessage(b, { maxBytes: 10 });
    assert.equal(got?.data.length, 10);
    assert.equal(got?.truncated, true);
  } finally {
    close(a);
    close(b);
  }
});

test('SO_PASSCRED on a unix datagram socket yields the sender pid/uid/gid and its address', () => {
  const name = `@sockunit-test-msg-${process.pid}`;
  const server = socket(AF_UNIX, SOCK_DGRAM, 0);
  const client = socket(AF_UNIX, SOCK_DGRAM, 0);
  try {
    setsockoptInt(server, SOL_SOCKET, SO_PASSCRED, 1, 'SO_PASSCRED');
    bind(server, { family: 'unix', path: name });
    assert.deepEqual(getsockname(server), { family: 'unix', path: name });
    // systemd's notify socket receives exactly this: text, no explicit credentials from the sender.
    sendMessage(client, Buffer.from('READY=1\nSTATUS=ok'), { to: { family: 'unix', path: name } });
    const got = receiveMessage(server, { maxBytes: 4096, maxFds: 8 });
    assert.ok(got);
    assert.equal(got.data.toString(), 'READY=1\nSTATUS=ok');
    assert.deepEqual(got.credentials, { pid: process.pid, uid: process.getuid?.(), gid: process.getgid?.() });
    assert.equal(got.from, undefined, 'an unbound sender has no address');
    bind(client, { family: 'unix', path: `${name}-client` });
    sendMessage(client, Buffer.from('WATCHDOG=1'), { to: { family: 'unix', path: name } });
    assert.deepEqual(receiveMessage(server, { maxBytes: 64 })?.from, {
      family: 'unix',
      path: `${name}-client`,
    });
  } finally {
    close(server);
    close(client);
  }
});

test('explicit credentials are carried; root may state another pid, the kernel refuses it to others', () => {
  const [a, b] = socketPair('datagram');
  try {
    setsockoptInt(b, SOL_SOCKET, SO_PASSCRED, 1, 'SO_PASSCRED');
    const uid = process.getuid?.() ?? 0;
    const gid = process.getgid?.() ?? 0;
    sendMessage(a, Buffer.from('c'), { credentials: { pid: process.pid, uid, gid } });
    assert.equal(receiveMessage(b, { maxBytes: 4 })?.credentials?.pid, process.pid);
    // Another process's pid (our parent's: it exists in this PID namespace): CAP_SYS_ADMIN may
    // state it (as systemd-notify --pid= does), anyone else gets EPERM from the kernel.
    const other = process.ppid;
    if (uid === 0) {
      sendMessage(a, Buffer.from('d'), { credentials: { pid: other, uid: 0, gid: 0 } });
      assert.equal(receiveMessage(b, { maxBytes: 4 })?.credentials?.pid, other);
    } else {
      assert.throws(() => sendMessage(a, Buffer.from('d'), { credentials: { pid: other, uid, gid } }), {
        code: 'EPERM',
      });
    }
  } finally {
    close(a);
    close(b);
  }
});

test('sendMessage to a missing unix address throws ENOENT/ECONNREFUSED with the address', () => {
  const client = socket(AF_UNIX, SOCK_DGRAM, 0);
  try {
    assert.throws(
      () =>
        sendMessage(client, Buffer.from('x'), {
          to: { family: 'unix', path: `/tmp/none-${process.pid}.sock` },
        }),
      (err: NodeJS.ErrnoException & { address?: string }) =>
        ['ENOENT', 'ECONNREFUSED'].includes(err.code ?? '') &&
        err.syscall === 'sendmsg' &&
        err.address === `/tmp/none-${process.pid}.sock`,
    );
  } finally {
    close(client);
  }
});

test('sendMessage on a closed fd throws EBADF', () => {
  const [a, b] = socketPair();
  close(a);
  close(b);
  assert.throws(() => sendMessage(a, Buffer.from('x')), { code: 'EBADF', syscall: 'sendmsg' });
  assert.throws(() => receiveMessage(b, { maxBytes: 1 }), { code: 'EBADF', syscall: 'recvmsg' });
});
