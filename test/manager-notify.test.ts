// `sockunit run` as the other end of sd_notify, against libsystemd's own clients: Debian's
// python3-systemd (systemd.daemon.notify -> sd_notify) and the systemd-notify command. Type=notify
// counts as started only at READY=1 and fails after TimeoutStartSec= without it; STATUS= shows in
// `sockunit status`; garbage, oversize and foreign messages are refused, logged, and change nothing.

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import {
  BIN,
  freePort,
  managerSuite,
  pythonSystemdUnavailable,
  SYSTEM_PYTHON,
  waitUntil,
} from './fixtures/manager/harness.js';
import { statusOf } from './fixtures/manager/status.js';

const SYSTEMD_NOTIFY = '/usr/bin/systemd-notify';

/** Sends one datagram to the manager's notify socket from a process of our own (python's
 * socket module: Node has no unix datagram sockets). Its pid belongs to no service. */
function sendDatagram(address: string, payload: string): number {
  const script = [
    'import socket, sys, os',
    'addr = sys.argv[1]',
    "addr = '\\0' + addr[1:] if addr.startswith('@') else addr",
    's = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)',
    'data = bytes.fromhex(sys.argv[2])',
    's.sendto(data, addr)',
    'print(os.getpid())',
  ].join('\n');
  const out = execFileSync(
    SYSTEM_PYTHON,
    ['-c', script, address, Buffer.from(payload, 'latin1').toString('hex')],
    {
      encoding: 'utf8',
      timeout: 10_000,
    },
  );
  return Number(out.trim());
}

describe('sockunit run: Type=notify with libsystemd clients', () => {
  const { start, trigger } = managerSuite('notify');

  test('python3-systemd: "Started" only after READY=1; STATUS= in sockunit status; NOTIFY_SOCKET given', async (t) => {
    const why = pythonSystemdUnavailable();
    if (why) return t.skip(why);
    const port = await freePort();
    const m = await start((dir) => {
      writeFileSync(
        join(dir, 'svc.py'),
        [
          'import os, time, systemd.daemon as d',
          'print("notify-socket", os.environ.get("NOTIFY_SOCKET"), flush=True)',
          'd.notify("STATUS=warming up")',
          'time.sleep(0.8)',
          'print("sending-ready", flush=True)',
          'd.notify("READY=1\\nSTATUS=serving 42 clients")',
          'time.sleep(60)',
        ].join('\n'),
      );
      return {
        'ready.socket': `[Socket]\nListenStream=127.0.0.1:${port}\n`,
        'ready.service': `[Service]\nType=notify\nExecStart=${SYSTEM_PYTHON} ${dir}/svc.py\n`,
      };
    });
    await trigger(port);
    const socketLine = await m.waitFor(/^ready\.service\[\d+\]: notify-socket /);
    assert.match(
      socketLine,
      /notify-socket @sockunit\/notify\/\d+$/,
      'NOTIFY_SOCKET is the abstract per-manager socket',
    );
    await m.waitFor(/^Started ready\.service\.$/, 8000);
    const readyAt = m.lines.findIndex((l) => /^ready\.service\[\d+\]: sending-ready$/.test(l));
    const startedAt = m.lines.indexOf('Started ready.service.');
    assert.ok(readyAt >= 0 && readyAt < startedAt, `"Started" comes after READY=1 is sent:\n${m.log}`);
    const s = statusOf(m, 'ready.service');
    assert.equal(s.activeState, 'active');
    assert.equal(s.subState, 'running');
    assert.equal(s.statusText, 'serving 42 clients');
  });

  test('python3-systemd: a Type=notify service that never sends READY=1 fails after TimeoutStartSec=', async (t) => {
    const why = pythonSystemdUnavailable();
    if (why) return t.skip(why);
    const port = await freePort();
    const m = await start((dir) => {
      writeFileSync(
        join(dir, 'mute.py'),
        'import time, systemd.daemon as d\nd.notify("STATUS=still loading")\ntime.sleep(60)\n',
      );
      return {
        'mute.socket': `[Socket]\nListenStream=127.0.0.1:${port}\n`,
        'mute.service': `[Service]\nType=notify\nTimeoutStartSec=1\nExecStart=${SYSTEM_PYTHON} ${dir}/mute.py\n`,
      };
    });
    await trigger(port);
    await m.waitFor(/^mute\.service: Start operation timed out\. Terminating\.$/);
    await m.waitFor(/^mute\.service: Failed with result 'timeout'\.$/);
    assert.equal(m.matching(/^Started mute\.service/).length, 0, 'never counted as started');
    // The queued trigger connection starts it again (as systemd would): whatever it is doing
    // now, it is not active.
    assert.notEqual(statusOf(m, 'mute.service').activeState, 'active');
    assert.ok(m.running, 'the manager keeps running');
  });

  test('systemd-notify --no-block --ready --status= from a shell service (NotifyAccess=all)', async (t) => {
    if (!existsSync(SYSTEMD_NOTIFY) && !process.env.CI)
      return t.skip(`${SYSTEMD_NOTIFY} is missing; apt-get install systemd`);
    const port = await freePort();
    const m = await start(() => ({
      'shell.socket': `[Socket]\nListenStream=127.0.0.1:${port}\n`,
      'shell.service': [
        '[Service]',
        'Type=notify',
        'NotifyAccess=all',
        'TimeoutStartSec=5',
        // The systemd-notify child is not the main process: NotifyAccess=all lets the session in.
        `ExecStart=/bin/sh -c 'sleep 0.3; ${SYSTEMD_NOTIFY} --no-block --ready --status="ready from sh"; echo notified; exec sleep 60'`,
        '',
      ].join('\n'),
    }));
    await trigger(port);
    await m.waitFor(/^Started shell\.service\.$/, 8000);
    const s = statusOf(m, 'shell.service');
    assert.equal(s.subState, 'running');
    assert.equal(s.statusText, 'ready from sh');
  });

  test('bad input: oversize, NUL and foreign-pid datagrams are refused and logged; NotifyAccess=main refuses a child; the manager keeps running', async (t) => {
    const why = pythonSystemdUnavailable();
    if (why) return t.skip(why);
    const port = await freePort();
    const m = await start((dir) => {
      writeFileSync(
        join(dir, 'main.py'),
        [
          'import subprocess, sys, time, systemd.daemon as d',
          'd.notify("READY=1\\nSTATUS=main says hello")',
          // A child of the main process: a different pid, refused under NotifyAccess=main.
          // It stays alive a moment: a sender that is gone cannot be traced to a service (systemd has
          // the same limit; that is what systemd-notify's barrier is for).
          `subprocess.run([sys.executable, "-c", "import time, systemd.daemon as d; d.notify('STATUS=child took over'); time.sleep(1)"])`,
          'print("child-sent", flush=True)',
          'time.sleep(60)',
        ].join('\n'),
      );
      return {
        'guard.socket': `[Socket]\nListenStream=127.0.0.1:${port}\n`,
        'guard.service': `[Service]\nType=notify\nExecStart=${SYSTEM_PYTHON} ${dir}/main.py\n`,
      };
    });
    await trigger(port);
    await m.waitFor(/^Started guard\.service\.$/, 8000);
    await m.waitFor(/^guard\.service\[\d+\]: child-sent$/);
    const mainPid = statusOf(m, 'guard.service').mainPid;
    const refusedChild = await m.waitFor(
      /^guard\.service: Got notification message from PID \d+, but reception only permitted for main PID \d+$/,
    );
    assert.ok(refusedChild.endsWith(`main PID ${mainPid}`), refusedChild);

    const address = `@sockunit/notify/${m.pid}`;
    sendDatagram(address, `STATUS=${'x'.repeat(5000)}`);
    await m.waitFor(/^Got notification message larger than 4096 bytes from PID \d+, ignoring\.$/);
    sendDatagram(address, 'STATUS=evil\0READY=1');
    await m.waitFor(/^Got notification message with an embedded NUL byte from PID \d+, ignoring\.$/);
    const foreign = sendDatagram(address, 'READY=1\nSTATUS=not yours');
    await m.waitFor(new RegExp(`^Cannot find unit for notify message of PID ${foreign}, ignoring\\.$`));
    sendDatagram(address, '\xff\xfe garbage without equals sign\n=\n==');
    // Datagrams are handled in order: once a later one is answered, the garbage has been read.
    const barrier = sendDatagram(address, 'STATUS=barrier');
    await m.waitFor(new RegExp(`^Cannot find unit for notify message of PID ${barrier}, ignoring\\.$`));
    assert.ok(m.running, 'the manager is still running');
    const s = statusOf(m, 'guard.service');
    assert.equal(s.statusText, 'main says hello', 'no refused message changed the status');
    assert.equal(s.mainPid, mainPid);
    assert.equal(s.subState, 'running');
    // And the socket still works for the service it belongs to.
    await waitUntil('status line', () =>
      statusOf(m, 'guard.service').subState === 'running' ? true : undefined,
    );
  });

  test('EXTEND_TIMEOUT_USEC= pushes TimeoutStartSec= out; MAINPID= hands the service to a forked process', async (t) => {
    const why = pythonSystemdUnavailable();
    if (why) return t.skip(why);
    const port = await freePort();
    const m = await start((dir) => {
      writeFileSync(
        join(dir, 'slow.py'),
        [
          'import subprocess, time, systemd.daemon as d',
          'd.notify("EXTEND_TIMEOUT_USEC=4000000")',
          'time.sleep(1.8)',
          // The process that will serve: started in our session, then named the main one.
          'child = subprocess.Popen(["/bin/sleep", "60"])',
          'print("child", child.pid, flush=True)',
          'd.notify(f"MAINPID={child.pid}\\nREADY=1\\nSTATUS=handed over")',
          'time.sleep(0.5)',
        ].join('\n'),
      );
      return {
        'slow.socket': `[Socket]\nListenStream=127.0.0.1:${port}\n`,
        'slow.service': `[Service]\nType=notify\nTimeoutStartSec=1\nExecStart=${SYSTEM_PYTHON} ${dir}/slow.py\n`,
      };
    });
    await trigger(port);
    const childLine = await m.waitFor(/^slow\.service\[\d+\]: child \d+$/, 8000);
    const child = Number(childLine.split(' ').pop());
    const first = Number(/\[(\d+)\]/.exec(childLine)?.[1]);
    await m.waitFor(/^Started slow\.service\.$/, 5000);
    assert.equal(m.matching(/timed out/).length, 0, `extended past TimeoutStartSec=1:\n${m.log}`);
    await m.waitFor(new RegExp(`^slow\\.service: Main PID changed to ${child} \\(MAINPID=\\)\\.$`));
    // The first process exits half a second later; the manager reaps it (its /proc entry goes).
    await waitUntil('the first main process reaped', () => (existsSync(`/proc/${first}`) ? undefined : true));
    const s = statusOf(m, 'slow.service');
    assert.equal(s.subState, 'running', 'the exit of the old main process ends nothing');
    assert.equal(s.mainPid, child);
    assert.equal(m.matching(/^slow\.service: Main process exited/).length, 0, m.log);
  });

  test('Type=notify-reload: reload sends SIGHUP and waits for RELOADING=1 … READY=1', async (t) => {
    const why = pythonSystemdUnavailable();
    if (why) return t.skip(why);
    const port = await freePort();
    const m = await start((dir) => {
      writeFileSync(
        join(dir, 'reload.py'),
        [
          'import signal, time, systemd.daemon as d',
          'generation = 1',
          'def on_hup(sig, frame):',
          '    global generation',
          '    d.notify(f"RELOADING=1\\nMONOTONIC_USEC={time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000}")',
          '    time.sleep(0.3)',
          '    generation += 1',
          '    d.notify(f"READY=1\\nSTATUS=generation {generation}")',
          'signal.signal(signal.SIGHUP, on_hup)',
          'd.notify("READY=1\\nSTATUS=generation 1")',
          'while True: time.sleep(1)',
        ].join('\n'),
      );
      return {
        'rl.socket': `[Socket]\nListenStream=127.0.0.1:${port}\n`,
        'rl.service': `[Service]\nType=notify-reload\nExecStart=${SYSTEM_PYTHON} ${dir}/reload.py\n`,
      };
    });
    await trigger(port);
    await m.waitFor(/^Started rl\.service\.$/, 8000);
    const pid = statusOf(m, 'rl.service').mainPid;
    const out = execFileSync(process.execPath, [BIN, 'reload', 'rl.service'], {
      env: { ...process.env, SOCKUNIT_CONTROL_SOCKET: join(m.controlDir ?? '', 'control.sock') },
      encoding: 'utf8',
      timeout: 10_000,
    });
    // execFileSync held our event loop: the manager's lines are read only now.
    await m.waitFor(/^Reloading rl\.service\.\.\.$/);
    await m.waitFor(/^Reloaded rl\.service\.$/);
    assert.equal(out, '');
    const s = statusOf(m, 'rl.service');
    assert.equal(s.statusText, 'generation 2');
    assert.equal(s.subState, 'running');
    assert.equal(s.mainPid, pid, 'reloaded in place');
  });

  test('NotifyAccess=none: no NOTIFY_SOCKET in the environment', async () => {
    const port = await freePort();
    const m = await start(() => ({
      'plain.socket': `[Socket]\nListenStream=127.0.0.1:${port}\n`,
      'plain.service': `[Service]\nExecStart=/bin/sh -c 'echo "socket=[$NOTIFY_SOCKET]"; exec sleep 60'\n`,
    }));
    await trigger(port);
    await m.waitFor(/^plain\.service\[\d+\]: socket=\[\]$/);
  });
});
