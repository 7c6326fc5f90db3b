import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { O_CLOEXEC, O_CREAT, O_NONBLOCK, O_RDONLY, O_RDWR } from '../src/sys/constants.js';
import {
  chmod,
  chown,
  fchmod,
  fchown,
  fstat,
  getPipeSize,
  lchown,
  mkfifo,
  mqGetAttributes,
  mqOpen,
  mqUnlink,
  open,
  setPipeSize,
  umask,
  unlink,
  withUmask,
} from '../src/sys/fs.js';
import { close, socket } from '../src/sys/socket.js';

const dir = mkdtempSync(join(tmpdir(), 'sockunit-sys-fs-'));
after(() => rmSync(dir, { recursive: true, force: true }));

test('mkfifo creates a FIFO whose mode follows the umask', () => {
  const path = join(dir, 'fifo');
  withUmask(0o022, () => mkfifo(path, 0o666));
  const st = statSync(path);
  assert.ok(st.isFIFO());
  assert.equal(st.mode & 0o777, 0o644);
});

test('withUmask restores the previous umask, also when fn throws', () => {
  const before = umask(0o027);
  umask(before);
  assert.throws(() =>
    withUmask(0o077, () => {
      throw new Error('inside');
    }),
  );
  assert.equal(umask(before), before);
});

test('open + fstat: a FIFO, a char device, a regular file, a socket', () => {
  const fifo = join(dir, 'fifo2');
  mkfifo(fifo, 0o600);
  const fd = open(fifo, O_RDWR | O_NONBLOCK | O_CLOEXEC);
  const st = fstat(fd);
  assert.equal(st.type, 'fifo');
  assert.equal(st.uid, process.getuid?.());
  close(fd);

  const nullFd = open('/dev/null', O_RDONLY | O_CLOEXEC);
  assert.equal(fstat(nullFd).type, 'char');
  close(nullFd);

  const file = join(dir, 'file');
  const fileFd = open(file, O_CREAT | O_RDWR | O_CLOEXEC, 0o640);
  const fileSt = fstat(fileFd);
  assert.equal(fileSt.type, 'file');
  assert.equal(fileSt.size, 0n);
  assert.equal(fileSt.ino, BigInt(statSync(file).ino));
  close(fileFd);

  const sock = socket(1, 1, 0);
  assert.equal(fstat(sock).type, 'socket');
  close(sock);
});

test('open of a missing path throws ENOENT naming the path', () => {
  const path = join(dir, 'missing');
  assert.throws(() => open(path, O_RDONLY), { code: 'ENOENT', syscall: 'open', path });
});

test('mkfifo on an existing path throws EEXIST', () => {
  const path = join(dir, 'exists');
  writeFileSync(path, '');
  assert.throws(() => mkfifo(path, 0o600), { code: 'EEXIST', syscall: 'mkfifo', path });
});

test('chmod and fchmod set exact permission bits', () => {
  const path = join(dir, 'modes');
  writeFileSync(path, '');
  chmod(path, 0o604);
  assert.equal(statSync(path).mode & 0o777, 0o604);
  const fd = open(path, O_RDONLY | O_CLOEXEC);
  fchmod(fd, 0o640);
  close(fd);
  assert.equal(statSync(path).mode & 0o777, 0o640);
  assert.throws(() => chmod(join(dir, 'nope'), 0o600), { code: 'ENOENT' });
  assert.throws(() => fchmod(-1, 0o600), { code: 'EBADF', syscall: 'fchmod' });
});

test('chown, fchown, lchown change owners (root only)', (t) => {
  if (process.getuid?.() !== 0) return t.skip('needs root to give files away; run as root or in CI');
  const path = join(dir, 'owned');
  writeFileSync(path, '');
  chown(path, 1234, 2345);
  assert.deepEqual([statSync(path).uid, statSync(path).gid], [1234, 2345]);
  chown(path, undefined, 3456); // undefined keeps the uid
  assert.deepEqual([statSync(path).uid, statSync(path).gid], [1234, 3456]);
  const fd = open(path, O_RDONLY | O_CLOEXEC);
  fchown(fd, 4567, undefined);
  close(fd);
  assert.deepEqual([statSync(path).uid, statSync(path).gid], [4567, 3456]);
  lchown(path, 0, 0);
  assert.equal(statSync(path).uid, 0);
  assert.throws(() => chown(join(dir, 'nope'), 0, 0), { code: 'ENOENT', syscall: 'chown' });
});

test('unlink removes the node, and a second unlink throws ENOENT', () => {
  const path = join(dir, 'gone');
  writeFileSync(path, '');
  unlink(path);
  assert.throws(() => statSync(path), { code: 'ENOENT' });
  assert.throws(() => unlink(path), { code: 'ENOENT', syscall: 'unlink', path });
});

test('F_SETPIPE_SZ rounds up to pages and F_GETPIPE_SZ reads it back', () => {
  const path = join(dir, 'pipe-size');
  mkfifo(path, 0o600);
  const fd = open(path, O_RDWR | O_NONBLOCK | O_CLOEXEC);
  const set = setPipeSize(fd, 100_000);
  assert.ok(set >= 100_000, `kernel set ${set}`);
  assert.equal(getPipeSize(fd), set);
  assert.throws(() => setPipeSize(fd, -1), { code: 'EINVAL' });
  close(fd);
});

test('mq_open creates a queue with the given limits; mq_unlink removes it', () => {
  const name = `/sockunit-test-${process.pid}-sys`;
  try {
    const fd = mqOpen(name, O_RDONLY | O_CREAT | O_NONBLOCK | O_CLOEXEC, 0o600, {
      maxMessages: 7,
      messageSize: 123,
    });
    const attr = mqGetAttributes(fd);
    assert.equal(attr.maxMessages, 7);
    assert.equal(attr.messageSize, 123);
    assert.equal(attr.currentMessages, 0);
    assert.equal(fstat(fd).permissions, 0o600);
    close(fd);
  } finally {
    mqUnlink(name);
  }
  assert.throws(() => mqOpen(name, O_RDONLY, 0), { code: 'ENOENT', syscall: 'mq_open' });
  assert.throws(() => mqUnlink(name), { code: 'ENOENT', syscall: 'mq_unlink' });
});

test('mq_open with an invalid limit throws EINVAL with a hint naming the limits', () => {
  const name = `/sockunit-test-${process.pid}-big`;
  assert.throws(
    () => mqOpen(name, O_RDONLY | O_CREAT | O_CLOEXEC, 0o600, { maxMessages: -1, messageSize: 1 }),
    (err: Error & { code?: string }) => err.code === 'EINVAL' && /msg_max/.test(err.message),
  );
});

test('mq_getattr on another kind of descriptor fails with EBADF', () => {
  const fd = open('/dev/null', O_RDONLY | O_CLOEXEC);
  assert.throws(() => mqGetAttributes(fd), { code: 'EBADF', syscall: 'mq_getattr' });
  close(fd);
});
