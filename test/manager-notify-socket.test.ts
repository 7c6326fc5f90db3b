import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, openSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it, test } from 'node:test';
import { promisify } from 'node:util';
import { FdStore, isValidFdName } from '../src/manager/service/fd-store.js';
import {
  type NotifyMessage,
  type NotifyRejection,
  NotifySocket,
  parseNotifyText,
} from '../src/manager/service/notify-socket.js';
import { AF_UNIX, SOCK_DGRAM } from '../src/sys/constants.js';
import { sendMessage } from '../src/sys/msg.js';
import { closeQuietly, isOpen, socket } from '../src/sys/socket.js';

const run = promisify(execFile);
const dir = mkdtempSync(join(tmpdir(), 'sockunit-notify-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function collector(address: string) {
  const messages: NotifyMessage[] = [];
  const rejections: { reason: NotifyRejection; pid: number | undefined }[] = [];
  const waiters: (() => void)[] = [];
  const wake = () => {
    for (const w of waiters.splice(0)) w();
  };
  const sock = new NotifySocket(address, {
    message: (m) => {
      messages.push(m);
      wake();
    },
    rejected: (reason, sender) => {
      rejections.push({ reason, pid: sender?.pid });
      wake();
    },
  });
  sock.open();
  const until = async (done: () => boolean, ms = 5000) => {
    const deadline = Date.now() + ms;
    while (!done()) {
      if (Date.now() > deadline) throw new Error('timed out waiting for a notify datagram');
      await new Promise<void>((r) => {
        waiters.push(r);
        setTimeout(r, 50);
      });
    }
  };
  return { sock, messages, rejections, until };
}

test('parseNotifyText: newline-separated fields, last value wins, lines without = ignored', () => {
  const f = parseNotifyText('READY=1\nSTATUS=a=b\ngarbage\nSTATUS=second\n');
  assert.deepEqual(
    [...f],
    [
      ['READY', '1'],
      ['STATUS', 'second'],
    ],
  );
});

/** Skip outside CI with `why`; in CI (.ci/run installs every peer) a missing peer is a failure. */
function peerMissing(t: { skip(message: string): void }, why: string): void {
  if (process.env.CI) assert.fail(`${why}; .ci/run installs it`);
  t.skip(why);
}

test('libsystemd (python3-systemd) reaches the manager with the sender pid', async (t) => {
  const python = '/usr/bin/python3';
  const hasPySystemd =
    existsSync(python) &&
    (await run(python, ['-c', 'import systemd.daemon']).then(
      () => true,
      () => false,
    ));
  if (!hasPySystemd)
    return peerMissing(t, 'python3-systemd is not installed (apt-get install python3-systemd)');
  const path = join(dir, 'notify.sock');
  const c = collector(path);
  t.after(() => c.sock.close());
  const { stdout } = await run(
    python,
    [
      '-c',
      'import os; from systemd import daemon; print(os.getpid(), flush=True); daemon.notify("READY=1\\nSTATUS=from libsystemd")',
    ],
    { env: { NOTIFY_SOCKET: path } },
  );
  await c.until(() => c.messages.length >= 1);
  const m = c.messages[0]!;
  assert.equal(m.fields.get('READY'), '1');
  assert.equal(m.fields.get('STATUS'), 'from libsystemd');
  assert.equal(m.sender.pid, Number(stdout.trim()));
});

test("systemd's own systemd-notify reaches the manager", async (t) => {
  if (!existsSync('/usr/bin/systemd-notify') && !existsSync('/bin/systemd-notify'))
    return peerMissing(t, 'systemd-notify is not installed (apt-get install systemd)');
  const path = join(dir, 'notify-tool.sock');
  const c = collector(path);
  t.after(() => c.sock.close());
  await run('systemd-notify', ['--no-block', '--status=via systemd-notify'], {
    env: { NOTIFY_SOCKET: path },
  });
  await c.until(() => c.messages.length >= 1);
  assert.equal(c.messages.at(-1)!.fields.get('STATUS'), 'via systemd-notify');
});

test('oversize and NUL-bearing datagrams are rejected, and the socket keeps working', async (t) => {
  const path = `@sockunit-test-notify-${process.pid}`;
  const c = collector(path);
  t.after(() => c.sock.close());
  const fd = socket(AF_UNIX, SOCK_DGRAM, 0);
  t.after(() => closeQuietly(fd));
  const to = { family: 'unix', path } as const;
  sendMessage(fd, Buffer.alloc(5000, 0x41), { to });
  sendMessage(fd, Buffer.from('READY=1\0X=1'), { to });
  sendMessage(fd, Buffer.from(`STATUS=${'x'.repeat(4096 - 7)}`), { to }); // exactly 4096 bytes: accepted
  sendMessage(fd, Buffer.from('STATUS=still alive'), { to });
  await c.until(() => c.rejections.length >= 2 && c.messages.length >= 2);
  assert.deepEqual(
    c.rejections.map((r) => r.reason),
    ['too-large', 'embedded-nul'],
  );
  assert.equal(c.rejections[0]!.pid, process.pid);
  assert.equal(c.messages[0]!.fields.get('STATUS')!.length, 4089);
  assert.equal(c.messages[1]!.fields.get('STATUS'), 'still alive');
});

test('FDSTORE=1 fds arrive and the fd store keeps, names, de-duplicates, limits and removes them', async (t) => {
  const path = join(dir, 'fdstore.sock');
  const c = collector(path);
  t.after(() => c.sock.close());
  const fd = socket(AF_UNIX, SOCK_DGRAM, 0);
  t.after(() => closeQuietly(fd));
  const file = openSync(join(dir, 'kept'), 'w');
  sendMessage(fd, Buffer.from('FDSTORE=1\nFDNAME=db'), { to: { family: 'unix', path }, fds: [file, file] });
  await c.until(() => c.messages.length >= 1);
  const m = c.messages[0]!;
  assert.equal(m.fds.length, 2);
  const store = new FdStore(2);
  assert.equal(store.add(m.fds[0]!, m.fields.get('FDNAME')), 'stored');
  assert.equal(store.add(m.fds[1]!, 'db'), 'duplicate'); // the same open file twice
  assert.equal(isOpen(m.fds[1]!), false, 'a refused fd is closed');
  const other = socket(AF_UNIX, SOCK_DGRAM, 0);
  const third = socket(AF_UNIX, SOCK_DGRAM, 0);
  assert.equal(store.add(other), 'stored');
  assert.equal(store.add(third, 'x'), 'full');
  assert.deepEqual(
    store.list().map((s) => s.name),
    ['db', 'stored'],
  );
  assert.equal(store.add(socket(AF_UNIX, SOCK_DGRAM, 0), 'bad:name'), 'bad-name');
  assert.equal(store.remove('db'), 1);
  assert.equal(isOpen(m.fds[0]!), false);
  store.clear();
  assert.equal(store.size, 0);
  assert.equal(new FdStore(0).add(socket(AF_UNIX, SOCK_DGRAM, 0)), 'disabled');
  assert.equal(isValidFdName('a'.repeat(256)), false);
  assert.equal(isValidFdName('http'), true);
});

describe('mutation-tested: the socket file and the size limit', () => {
  it('a line that starts with = has no name and is ignored', () => {
    assert.deepEqual([...parseNotifyText('=1\nREADY=1')], [['READY', '1']]);
  });

  it('a path socket creates its directory, replaces a stale file, and removes its file on close', async () => {
    const path = join(dir, 'new-subdir', 'notify');
    const first = collector(path);
    assert.ok(existsSync(path), 'open creates the directory and binds the file');
    first.sock.close();
    assert.equal(existsSync(path), false, 'close removes the socket file');
    writeFileSync(path, 'stale');
    const c = collector(path);
    const fd = socket(AF_UNIX, SOCK_DGRAM, 0);
    try {
      sendMessage(fd, Buffer.from('READY=1'), { to: { family: 'unix', path } });
      await c.until(() => c.messages.length >= 1);
      assert.equal(c.messages[0]!.fields.get('READY'), '1');
    } finally {
      closeQuietly(fd);
      c.sock.close();
    }
    assert.equal(existsSync(path), false);
  });

  it('a datagram of 4097 bytes, one over the limit, is rejected', async (t) => {
    const path = `@sockunit-test-notify-limit-${process.pid}`;
    const c = collector(path);
    t.after(() => c.sock.close());
    const fd = socket(AF_UNIX, SOCK_DGRAM, 0);
    t.after(() => closeQuietly(fd));
    sendMessage(fd, Buffer.from(`STATUS=${'x'.repeat(4097 - 7)}`), { to: { family: 'unix', path } });
    await c.until(() => c.rejections.length >= 1);
    assert.deepEqual(c.rejections, [{ reason: 'too-large', pid: process.pid }]);
  });

  it('closing a socket that was never opened does nothing', () => {
    const sock = new NotifySocket(join(dir, 'never-opened'), { message: () => {}, rejected: () => {} });
    sock.close();
    sock.drain();
  });
});
