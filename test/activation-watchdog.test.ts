// watchdogEnabled() reads the manager's WATCHDOG_USEC/WATCHDOG_PID; startWatchdog() pings at
// half the period on a timer that never keeps the process alive.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { startWatchdog, watchdogEnabled } from '../src/activation/index.js';
import { AF_UNIX, SO_PASSCRED, SOCK_DGRAM, SOL_SOCKET } from '../src/sys/constants.js';
import { receiveMessage } from '../src/sys/msg.js';
import { bind, closeQuietly, type Fd, setsockoptInt, socket } from '../src/sys/socket.js';
import { spawnWithFds } from './fixtures/activation/harness.js';

function notifySocket(): { fd: Fd; address: string } {
  const fd = socket(AF_UNIX, SOCK_DGRAM, 0);
  setsockoptInt(fd, SOL_SOCKET, SO_PASSCRED, 1, 'SO_PASSCRED');
  const address = `@sockunit-test-watchdog-${process.pid}-${Math.random().toString(36).slice(2)}`;
  bind(fd, { family: 'unix', path: address });
  return { fd, address };
}

function drain(fd: Fd): Array<{ text: string; pid: number | undefined }> {
  const all: Array<{ text: string; pid: number | undefined }> = [];
  for (let i = 0; i < 1000; i++) {
    const m = receiveMessage(fd, { maxBytes: 4096 });
    if (!m) break;
    all.push({ text: m.data.toString(), pid: m.credentials?.pid });
  }
  return all;
}

test('watchdogEnabled: the period when watched, 0 when not ours or not set', () => {
  assert.equal(watchdogEnabled({ env: {} }), 0);
  assert.equal(watchdogEnabled({ env: { WATCHDOG_USEC: '2000000' } }), 2_000_000);
  assert.equal(
    watchdogEnabled({ env: { WATCHDOG_USEC: '2000000', WATCHDOG_PID: String(process.pid) } }),
    2_000_000,
  );
  assert.equal(watchdogEnabled({ env: { WATCHDOG_USEC: '2000000', WATCHDOG_PID: '1' } }), 0);
  const env: NodeJS.ProcessEnv = { WATCHDOG_USEC: '5', WATCHDOG_PID: String(process.pid) };
  assert.equal(watchdogEnabled({ env, unsetEnvironment: true }), 5);
  assert.deepEqual(env, {});
});

test('watchdogEnabled: malformed values are errors naming the variable', () => {
  for (const env of [
    { WATCHDOG_USEC: 'soon' },
    { WATCHDOG_USEC: '0' },
    { WATCHDOG_USEC: '10', WATCHDOG_PID: 'x' },
  ])
    assert.throws(() => watchdogEnabled({ env }), /WATCHDOG_(USEC|PID)=".*" is not a positive decimal/);
});

test('startWatchdog pings at once and then every half period until stopped', async () => {
  const receiver = notifySocket();
  try {
    const env = { WATCHDOG_USEC: '100000', NOTIFY_SOCKET: receiver.address };
    const timer = startWatchdog({ env });
    assert.ok(timer);
    assert.equal(timer.intervalUsec, 100_000);
    // Wait for the event — four pings (the first at once, then one every half period) — not for
    // a time: on a loaded machine the timer may lag, never the count.
    const pings: Array<{ text: string; pid: number | undefined }> = [];
    // The pings come from a timer of this very process: wait without blocking its event loop.
    for (let i = 0; i < 500 && pings.length < 4; i++) {
      await new Promise((r) => setTimeout(r, 20));
      pings.push(...drain(receiver.fd));
    }
    timer.stop();
    assert.ok(pings.length >= 4, `${pings.length} pings`);
    assert.ok(pings.every((p) => p.text === 'WATCHDOG=1' && p.pid === process.pid));
    drain(receiver.fd);
    // Three half periods after stop(): a timer still running would have pinged by then.
    await new Promise((r) => setTimeout(r, 150));
    assert.deepEqual(drain(receiver.fd), [], 'no pings after stop()');
  } finally {
    closeQuietly(receiver.fd);
  }
});

test('startWatchdog returns undefined when not watched, and reports failed pings', () => {
  assert.equal(startWatchdog({ env: {} }), undefined);
  const errors: unknown[] = [];
  const timer = startWatchdog({
    env: { WATCHDOG_USEC: '60000000', NOTIFY_SOCKET: '/nonexistent/sockunit-notify' },
    onError: (err) => errors.push(err),
  });
  timer?.stop();
  assert.equal(errors.length, 1);
  assert.equal((errors[0] as NodeJS.ErrnoException).code, 'ENOENT');
});

test('the watchdog timer does not keep a service alive', async () => {
  const receiver = notifySocket();
  try {
    const child = spawnWithFds([], ['watchdog'], {
      env: { WATCHDOG_USEC: '1000000', NOTIFY_SOCKET: receiver.address },
    });
    const report = await child.nextReport();
    assert.equal(report.intervalUsec, 1_000_000);
    assert.deepEqual(report.errors, []);
    const exit = await Promise.race([
      new Promise((resolve) => child.proc.once('exit', (code) => resolve(code))),
      new Promise((resolve) => setTimeout(() => resolve('still running after 5 s'), 5000).unref()),
    ]);
    if (exit === 'still running after 5 s') await child.stop();
    assert.equal(exit, 0, 'the service exited on its own with the watchdog running');
    assert.deepEqual(drain(receiver.fd), [{ text: 'WATCHDOG=1', pid: report.pid }]);
  } finally {
    closeQuietly(receiver.fd);
  }
});
