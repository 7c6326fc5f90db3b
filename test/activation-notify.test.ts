// notify() against a real notify socket: a unix datagram socket with SO_PASSCRED, bound to a
// path or an abstract name, as systemd's is. The kernel's credentials prove who sent what.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readlinkSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import {
  fdStore,
  formatNotifyMessage,
  monotonicUsec,
  NOTIFY_MAX_BYTES,
  notify,
  notifyAddress,
  reloading,
} from '../src/activation/index.js';
import { AF_UNIX, SO_PASSCRED, SOCK_DGRAM, SOL_SOCKET } from '../src/sys/constants.js';
import { type ReceivedMessage, receiveMessage } from '../src/sys/msg.js';
import { waitReadable } from '../src/sys/poll.js';
import { bind, close, closeQuietly, type Fd, setsockoptInt, socket } from '../src/sys/socket.js';
import { SERVICE, spawnWithFds } from './fixtures/activation/harness.js';

// biome-ignore lint/suspicious/noExplicitAny: JSON reports from the child, checked field by field
type Report = Record<string, any>;

const dir = mkdtempSync(join(tmpdir(), 'sockunit-notify-'));
after(() => rmSync(dir, { recursive: true, force: true }));

interface Receiver {
  fd: Fd;
  address: string;
  /** The next datagram, waiting at most 5 s. */
  next(): ReceivedMessage;
  /** Every datagram already queued. */
  drain(): ReceivedMessage[];
}

const receivers: Fd[] = [];
after(() => {
  for (const fd of receivers) closeQuietly(fd);
});

function receiver(address: string): Receiver {
  const fd = socket(AF_UNIX, SOCK_DGRAM, 0);
  receivers.push(fd);
  setsockoptInt(fd, SOL_SOCKET, SO_PASSCRED, 1, 'SO_PASSCRED');
  bind(fd, { family: 'unix', path: address });
  return {
    fd,
    address,
    next() {
      assert.ok(waitReadable(fd, 5000), `no notify datagram on ${address} within 5 s`);
      const got = receiveMessage(fd, { maxBytes: NOTIFY_MAX_BYTES * 2, maxFds: 8 });
      assert.ok(got);
      return got;
    },
    drain() {
      const all: ReceivedMessage[] = [];
      for (let i = 0; i < 100; i++) {
        const got = receiveMessage(fd, { maxBytes: NOTIFY_MAX_BYTES * 2, maxFds: 8 });
        if (!got) break;
        all.push(got);
      }
      return all;
    },
  };
}

let abstractCounter = 0;
function abstractName(): string {
  return `@sockunit-test-notify-${process.pid}-${abstractCounter++}`;
}

test('the state helpers send systemd fields from a child, with its credentials', async () => {
  const r = receiver(join(dir, 'notify.sock'));
  const steps = [
    { helper: 'ready', args: ['serving'] },
    { helper: 'status', args: ['50% done'] },
    { helper: 'stopping' },
    { helper: 'errno', args: [-98] },
    { helper: 'mainPid', args: [4242] },
    { helper: 'watchdog' },
    { helper: 'watchdogTrigger' },
    { helper: 'extendTimeout', args: [5_000_000] },
    { helper: 'fdStoreRemove', args: ['db'] },
    { state: { X_CUSTOM: 'yes', READY: true, STOPPING: false } },
  ];
  const child = spawnWithFds([], ['notify', ...steps.map((s) => JSON.stringify(s))], {
    env: { NOTIFY_SOCKET: r.address },
  });
  const report: Report = await child.nextReport();
  await child.stop();
  assert.deepEqual(
    report.results,
    steps.map(() => ({ sent: true })),
  );
  const got = r.drain();
  assert.deepEqual(
    got.map((m) => m.data.toString()),
    [
      'READY=1\nSTATUS=serving',
      'STATUS=50% done',
      'STOPPING=1',
      'ERRNO=98',
      'MAINPID=4242',
      'WATCHDOG=1',
      'WATCHDOG=trigger',
      'EXTEND_TIMEOUT_USEC=5000000',
      'FDSTOREREMOVE=1\nFDNAME=db',
      'X_CUSTOM=yes\nREADY=1',
    ],
  );
  for (const m of got) {
    assert.equal(m.credentials?.pid, report.pid, 'the kernel attached the sender pid');
    assert.equal(m.credentials?.uid, process.getuid?.());
    assert.deepEqual(m.fds, []);
  }
});

test('an abstract NOTIFY_SOCKET (@name) works, and unsetEnvironment removes the variable', () => {
  const r = receiver(abstractName());
  const env: NodeJS.ProcessEnv = { NOTIFY_SOCKET: r.address };
  assert.equal(notify({ READY: true }, { env, unsetEnvironment: true }), true);
  assert.equal(env.NOTIFY_SOCKET, undefined);
  const m = r.next();
  assert.equal(m.data.toString(), 'READY=1');
  assert.equal(m.credentials?.pid, process.pid);
  assert.equal(notify({ READY: true }, { env }), false, 'after unsetting there is nobody to tell');
});

test('no NOTIFY_SOCKET: notify returns false, not an error', () => {
  assert.equal(notify('READY=1', { env: {} }), false);
  assert.equal(notify('READY=1', { env: { NOTIFY_SOCKET: '' } }), false);
});

test('FDSTORE=1 passes the fds by SCM_RIGHTS with FDNAME', async () => {
  const r = receiver(abstractName());
  const child = spawnWithFds([], ['notify', JSON.stringify({ fdStoreFile: SERVICE, name: 'source' })], {
    env: { NOTIFY_SOCKET: r.address },
  });
  const report: Report = await child.nextReport();
  await child.stop();
  assert.deepEqual(report.results, [{ sent: true }]);
  const m = r.next();
  try {
    assert.equal(m.data.toString(), 'FDSTORE=1\nFDNAME=source');
    assert.equal(m.fds.length, 1);
    assert.equal(
      readlinkSync(`/proc/self/fd/${m.fds[0]}`),
      SERVICE,
      'the received fd is the file the child opened',
    );
    assert.equal(m.credentials?.pid, report.pid);
  } finally {
    for (const fd of m.fds) close(fd);
  }
});

test('messages systemd would drop are refused before sending, with the reason', () => {
  const r = receiver(abstractName());
  const env = { NOTIFY_SOCKET: r.address };
  const refusals: Array<[unknown, RegExp]> = [
    [{ STATUS: 'x'.repeat(NOTIFY_MAX_BYTES) }, /over 4096 bytes/],
    [{ STATUS: 'two\nlines' }, /newline/],
    ['READY=1\0', /NUL byte/],
    ['', /empty/],
    [{ ready: true }, /field name "ready" is not valid/],
  ];
  for (const [state, reason] of refusals)
    assert.throws(() => notify(state as string, { env }), reason, JSON.stringify(state));
  assert.throws(() => fdStore([0], 'a:b'), /FDNAME="a:b" is not valid/);
  assert.throws(() => fdStore([], 'x'), /no fds given/);
  assert.deepEqual(r.drain(), [], 'nothing reached the socket');
  // The largest message systemd accepts still goes out whole.
  const largest = `STATUS=${'y'.repeat(NOTIFY_MAX_BYTES - 'STATUS='.length)}`;
  assert.equal(notify(largest, { env }), true);
  const m = r.next();
  assert.equal(m.data.length, NOTIFY_MAX_BYTES);
  assert.equal(m.truncated, false);
});

test('a malformed or dead NOTIFY_SOCKET is an error that names it', () => {
  assert.throws(
    () => notify('READY=1', { env: { NOTIFY_SOCKET: 'relative/path' } }),
    /neither an absolute path/,
  );
  assert.throws(() => notify('READY=1', { env: { NOTIFY_SOCKET: 'vsock:2:999' } }), /vsock/);
  assert.throws(
    () => notify('READY=1', { env: { NOTIFY_SOCKET: join(dir, 'nobody-here.sock') } }),
    (err: NodeJS.ErrnoException) => err.code === 'ENOENT' && err.syscall === 'sendmsg',
  );
  assert.deepEqual(notifyAddress('@x'), { family: 'unix', path: '@x' });
});

test('formatNotifyMessage: true is 1, false and undefined are left out, numbers and bigints in decimal', () => {
  assert.equal(
    formatNotifyMessage({
      READY: true,
      STOPPING: false,
      STATUS: undefined,
      MAINPID: 7,
      MONOTONIC_USEC: 10n ** 12n,
    }),
    'READY=1\nMAINPID=7\nMONOTONIC_USEC=1000000000000',
  );
});

test('reloading() sends RELOADING=1 with MONOTONIC_USEC on the CLOCK_MONOTONIC time line', () => {
  const r = receiver(abstractName());
  const before = monotonicUsec();
  const previous = process.env.NOTIFY_SOCKET;
  process.env.NOTIFY_SOCKET = r.address;
  try {
    assert.equal(reloading(), true);
  } finally {
    if (previous === undefined) delete process.env.NOTIFY_SOCKET;
    else process.env.NOTIFY_SOCKET = previous;
  }
  const after = monotonicUsec();
  const fields = Object.fromEntries(
    r
      .next()
      .data.toString()
      .split('\n')
      .map((l) => l.split('=')),
  );
  assert.equal(fields.RELOADING, '1');
  const sent = BigInt(fields.MONOTONIC_USEC);
  assert.ok(before <= sent && sent <= after);
});

test('monotonicUsec() is CLOCK_MONOTONIC (checked against clock_gettime in another process)', (t) => {
  const python = '/usr/bin/python3';
  const before = monotonicUsec();
  const out = spawnSync(
    python,
    ['-c', 'import time; print(time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000)'],
    {
      encoding: 'utf8',
    },
  );
  const after = monotonicUsec();
  if (out.status !== 0) return t.skip(`${python} is not usable here: ${out.stderr}`);
  const theirs = BigInt(out.stdout.trim());
  assert.ok(before <= theirs && theirs <= after, `${before} <= ${theirs} <= ${after}`);
});

// libsystemd's own sd_notify() (through ctypes, no python3-systemd needed) writes the same bytes
// we do, and the receiver sees the same kind of credentials.
test('libsystemd sd_notify and notify() produce the same datagram', async (t) => {
  const python = '/usr/bin/python3';
  const probe = spawnSync(python, ['-c', 'import ctypes; ctypes.CDLL("libsystemd.so.0")']);
  if (probe.status !== 0) return t.skip(`${python} cannot load libsystemd.so.0: ${probe.stderr}`);
  const r = receiver(abstractName());
  const text = 'READY=1\nSTATUS=up and running';
  const script = `import ctypes, sys; r = ctypes.CDLL('libsystemd.so.0').sd_notify(0, sys.argv[1].encode()); print('{"r": %d}' % r, flush=True)`;
  const theirs = spawnWithFds([], [], {
    env: { NOTIFY_SOCKET: r.address },
    command: [python, '-c', script, text],
  });
  const result: Report = await theirs.nextReport();
  await theirs.stop();
  assert.ok(result.r > 0, `sd_notify returned ${result.r}`);
  const fromLib = r.next();
  assert.equal(
    notify({ READY: true, STATUS: 'up and running' }, { env: { NOTIFY_SOCKET: r.address } }),
    true,
  );
  const fromUs = r.next();
  assert.equal(fromUs.data.toString(), fromLib.data.toString());
  assert.equal(fromLib.credentials?.pid, theirs.proc.pid);
  assert.equal(fromUs.credentials?.pid, process.pid);
  assert.deepEqual([fromLib.fds, fromUs.fds], [[], []]);
});

test('systemd-notify --ready --status reaches the same receiver our notify() uses', async (t) => {
  const tool = '/usr/bin/systemd-notify';
  const r = receiver(join(dir, 'systemd-notify.sock'));
  const out = spawnSync(tool, ['--ready', '--status=hello'], {
    env: { ...process.env, NOTIFY_SOCKET: r.address },
    encoding: 'utf8',
  });
  if (out.error) return t.skip(`${tool} is not runnable: ${out.error.message}`);
  const m = r.next();
  // systemd-notify puts READY=1 first and STATUS after, as notify({READY, STATUS}) does.
  assert.equal(m.data.toString(), formatNotifyMessage({ READY: true, STATUS: 'hello' }));
});
