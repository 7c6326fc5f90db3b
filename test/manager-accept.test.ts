// Accept=yes under `sockunit run`, against real connections and real instance processes: systemd
// 258 instance names, REMOTE_* variables, StandardInput=socket, MaxConnections= and
// MaxConnectionsPerSource= refusing the excess, the trigger limit failing the socket, and no fd
// leak over 1,000 connections.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import {
  BIN,
  connectTcp,
  exchange,
  freePort,
  managerSuite,
  sleep,
  tempDir,
  waitUntil,
} from './fixtures/manager/harness.js';
import { socketStatusOf } from './fixtures/manager/status.js';

/** Resolves when the peer closes (true) or after `ms` (false). */
function closedWithin(socket: net.Socket, ms: number): Promise<boolean> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), ms);
    socket.on('data', () => {});
    socket.on('error', () => {});
    socket.once('close', () => {
      clearTimeout(timer);
      resolve(true);
    });
  });
}

describe('sockunit run: Accept=yes', () => {
  const suite = managerSuite('accept');
  const start = (units: Record<string, string>) => suite.run({ units });

  test('instances are named prefix@N-COOKIE-LOCAL-REMOTE.service and get REMOTE_ADDR/REMOTE_PORT', async () => {
    const port = await freePort();
    const m = await start({
      'echo.socket': `[Socket]\nListenStream=127.0.0.1:${port}\nAccept=yes\n`,
      'echo@.service':
        '[Service]\nExecStart=/bin/sh -c \'echo "$$REMOTE_ADDR $$REMOTE_PORT $$LISTEN_FDS $$LISTEN_FDNAMES $$LISTEN_PID $$SO_COOKIE $$SYSTEMD_EXEC_PID $$$$" >&3\'\n',
    });
    for (const n of [0, 1]) {
      const socket = await connectTcp(port);
      const clientPort = socket.localPort as number;
      const reply = await new Promise<string>((resolve, reject) => {
        let data = '';
        const timer = setTimeout(() => reject(new Error(`no reply: ${m.log}`)), 5000);
        socket.on('data', (d: Buffer) => {
          data += d;
        });
        socket.on('close', () => {
          clearTimeout(timer);
          resolve(data);
        });
      });
      const [addr, rport, fds, names, listenPid, cookie, execPid, self] = reply.trim().split(' ');
      assert.equal(addr, '127.0.0.1');
      assert.equal(rport, String(clientPort));
      assert.equal(fds, '1');
      assert.equal(names, 'connection', "systemd's default name for an Accept=yes connection");
      assert.match(listenPid ?? '', /^\d+$/);
      assert.equal(listenPid, self, 'LISTEN_PID is the instance itself');
      assert.equal(execPid, self, 'SYSTEMD_EXEC_PID is the instance itself, as systemd sets it');
      const started = await m.waitFor(
        new RegExp(
          `^Started echo@${n}-${cookie}-127\\.0\\.0\\.1:${port}-127\\.0\\.0\\.1:${clientPort}\\.service\\.$`,
        ),
      );
      const pid = /\[(\d+)\]/.exec(started);
      assert.equal(pid, null, 'the Started line names the unit, nothing else');
    }
  });

  test('AF_UNIX instances are named N-COOKIE-PID_PIDFDINODE-UID (or N-COOKIE-PID-UID) and get SO_COOKIE', async () => {
    const dir = tempDir('unix-accept');
    const path = join(dir, 'u.sock');
    const m = await suite.run({
      dir,
      units: {
        'u.socket': `[Socket]\nListenStream=${path}\nAccept=yes\n`,
        'u@.service': '[Service]\nExecStart=/bin/sh -c \'echo "$${REMOTE_ADDR:-none} $$SO_COOKIE" >&3\'\n',
      },
    });
    const reply = await new Promise<string>((resolve, reject) => {
      const socket = net.connect(path);
      let data = '';
      const timer = setTimeout(() => reject(new Error(`no reply:\n${m.log}`)), 5000);
      socket.on('data', (d: Buffer) => {
        data += d;
      });
      socket.on('error', reject);
      socket.on('close', () => {
        clearTimeout(timer);
        resolve(data);
      });
    });
    const [remote, cookie] = reply.trim().split(' ');
    assert.equal(remote, 'none', 'an unnamed client has no REMOTE_ADDR');
    assert.match(cookie ?? '', /^\d+$/);
    const uid = process.getuid?.() ?? 0;
    const started = await m.waitFor(/^Started u@0-/);
    assert.match(
      started,
      new RegExp(`^Started u@0-${cookie}-${process.pid}(_\\d+)?-${uid}\\.service\\.$`),
      'the pid and uid of this test process, the cookie the service saw',
    );
  });

  test('an Accept=yes socket whose template does not load fails with resources', async () => {
    const port = await freePort();
    const m = await start({
      'orphan.socket': `[Socket]\nListenStream=127.0.0.1:${port}\nAccept=yes\n`,
      // No ExecStart=: bad-setting, found only when the first connection asks for an instance.
      'orphan@.service': '[Service]\nUser=nobody\n',
    });
    (await connectTcp(port)).destroy();
    await m.waitFor(/^orphan\.socket: Failed to queue service startup job .*orphan@\.service/);
    await m.waitFor(/^orphan\.socket: Failed with result 'resources'\.$/);
    await assert.rejects(connectTcp(port), { code: 'ECONNREFUSED' });
  });

  test('Restart= is not applied to an instance: its connection is gone', async () => {
    const port = await freePort();
    const m = await start({
      'again.socket': `[Socket]\nListenStream=127.0.0.1:${port}\nAccept=yes\n`,
      'again@.service':
        "[Service]\nRestart=always\nRestartSec=50ms\nExecStart=/bin/sh -c 'echo x >&3; exit 1'\n",
    });
    assert.equal(await exchange(port), 'x\n');
    await m.waitFor(/^again@0-.*: Restart=always not applied: /);
    await m.waitFor(/^again@0-.*: Failed with result 'exit-code'\.$/);
    await sleep(300);
    assert.equal(m.matching(/^Started again@0-/).length, 1, 'started once');
    assert.equal(await exchange(port), 'x\n', 'the socket still serves');
  });

  test('StandardInput=socket puts the connection on stdin and stdout', async () => {
    const port = await freePort();
    await start({
      'upper.socket': `[Socket]\nListenStream=127.0.0.1:${port}\nAccept=yes\n`,
      'upper@.service':
        '[Service]\nStandardInput=socket\nExecStart=/bin/sh -c \'read line; echo "got $$line fds=$${LISTEN_FDS:-none} exec=$$SYSTEMD_EXEC_PID self=$$$$"\'\n',
    });
    const reply = await exchange(port, 'ping\n');
    const m = /^got ping fds=none exec=(\d+) self=(\d+)\n$/.exec(reply);
    assert.ok(m, reply);
    assert.equal(m[1], m[2], 'SYSTEMD_EXEC_PID is the instance itself');
  });

  test('MaxConnections= refuses the excess at once, counted (status, metrics) and logged', async () => {
    const port = await freePort();
    const m = await suite.run({
      units: {
        'held.socket': `[Socket]\nListenStream=127.0.0.1:${port}\nAccept=yes\nMaxConnections=2\n`,
        'held@.service': "[Service]\nStandardInput=socket\nExecStart=/bin/sh -c 'read line'\n",
      },
      args: ['--metrics', '127.0.0.1:0'],
    });
    const metricsUrl = (await m.waitFor(/^Metrics: http:\/\/127\.0\.0\.1:\d+\/metrics$/)).slice(
      'Metrics: '.length,
    );
    const held = [await connectTcp(port), await connectTcp(port)];
    await waitUntil('two instances', () => (m.matching(/^Started held@/).length === 2 ? true : undefined));
    const excess = await connectTcp(port);
    assert.equal(await closedWithin(excess, 3000), true, 'the third connection is closed by the manager');
    await m.waitFor(/^held\.socket: Too many incoming connections \(2\), dropping connection\.$/);
    // The refusal is counted where users look: status (and the metrics read the same counter).
    assert.equal(socketStatusOf(m, 'held.socket').refused, 1, 'status counts the refused connection');
    const metrics = await (await fetch(metricsUrl, { signal: AbortSignal.timeout(5000) })).text();
    assert.match(metrics, /^sockunit_socket_refused_total\{unit="held\.socket"\} 1$/m, metrics);
    for (const s of held) s.end('bye\n');
    await waitUntil('instances gone', () =>
      m.matching(/^held@.*Deactivated successfully/).length === 2 ? true : undefined,
    );
    // Slots free again: a new connection gets an instance.
    const again = await connectTcp(port);
    await waitUntil('a third instance', () => (m.matching(/^Started held@/).length === 3 ? true : undefined));
    again.end('bye\n');
    assert.equal(m.matching(/Too many incoming connections/).length, 1);
  });

  test('MaxConnectionsPerSource= refuses a second connection from the same address only', async () => {
    const port = await freePort('0.0.0.0');
    const m = await start({
      'per.socket': `[Socket]\nListenStream=0.0.0.0:${port}\nAccept=yes\nMaxConnectionsPerSource=1\n`,
      'per@.service': "[Service]\nStandardInput=socket\nExecStart=/bin/sh -c 'read line'\n",
    });
    const first = await connectTcp(port);
    await m.waitFor(/^Started per@0-/);
    const second = await connectTcp(port);
    assert.equal(await closedWithin(second, 3000), true, 'same source: refused');
    await m.waitFor(/^per\.socket: Too many incoming connections \(1\) from source 127\.0\.0\.1/);
    assert.equal(socketStatusOf(m, 'per.socket').refused, 1, 'status counts the refused connection');
    const other = await connectTcp(port, '127.0.0.1', 3000, '127.0.0.2');
    await m.waitFor(/^Started per@\d+-\d+-127\.0\.0\.1:\d+-127\.0\.0\.2:\d+\.service\.$/);
    for (const s of [first, other]) s.end('bye\n');
  });

  test("the trigger limit fails the socket with 'trigger-limit-hit' and closes the port", async () => {
    const port = await freePort();
    const m = await start({
      'burst.socket': `[Socket]\nListenStream=127.0.0.1:${port}\nAccept=yes\nTriggerLimitIntervalSec=30s\nTriggerLimitBurst=3\n`,
      'burst@.service': '[Service]\nExecStart=/bin/true\n',
    });
    for (let i = 0; i < 3; i++) await exchange(port);
    const fourth = await connectTcp(port);
    await closedWithin(fourth, 3000);
    await m.waitFor(/^burst\.socket: Failed with result 'trigger-limit-hit'\.$/);
    await assert.rejects(connectTcp(port), { code: 'ECONNREFUSED' }, 'a failed socket no longer listens');
    assert.equal(m.matching(/^Started burst@/).length, 3);
    // The log and status say what happened and what brings the socket back.
    const hint =
      /^burst\.socket: More than 3 connections within 30s \(TriggerLimitBurst=3, TriggerLimitIntervalSec=30s\) closed the port; 'sockunit start burst\.socket' opens it again\. .*MaxConnections=/;
    await m.waitFor(hint);
    const control = ['--control-socket', m.controlSocket];
    const status = spawnSync(process.execPath, [BIN, 'status', 'burst.socket', ...control], {
      encoding: 'utf8',
      timeout: 10_000,
    });
    assert.equal(status.status, 3, status.stderr);
    assert.match(status.stdout, /Active: failed \(Result: trigger-limit-hit\)/);
    assert.match(status.stdout, /Hint: .*'sockunit start burst\.socket' opens it again/);
    const restart = spawnSync(process.execPath, [BIN, 'start', 'burst.socket', ...control], {
      encoding: 'utf8',
      timeout: 10_000,
    });
    assert.equal(restart.status, 0, restart.stderr);
    await exchange(port);
    await m.waitFor(/^Started burst@3-/);
  });

  test('the poll limit pauses watching for the rest of the window; the waiting connection is served after', async () => {
    const port = await freePort();
    const m = await start({
      'poll.socket': `[Socket]\nListenStream=127.0.0.1:${port}\nAccept=yes\nPollLimitIntervalSec=1s\nPollLimitBurst=2\n`,
      'poll@.service': "[Service]\nExecStart=/bin/sh -c 'echo x >&3'\n",
    });
    assert.equal(await exchange(port), 'x\n');
    assert.equal(await exchange(port), 'x\n');
    assert.equal(await exchange(port), 'x\n', 'the third connection waits, it is not refused');
    const notice = await m.waitFor(/^poll\.socket: Poll limit hit, pausing 127\.0\.0\.1:\d+ for \d+ ms\.$/);
    const pause = Number(/for (\d+) ms/.exec(notice)?.[1]);
    assert.ok(pause > 0 && pause <= 1000, notice);
    // The third instance starts only after the port was paused: it waited for the window to end.
    const third = await m.waitFor(/^Started poll@2-/);
    assert.ok(m.lines.indexOf(notice) < m.lines.indexOf(third), `paused, then served:\n${m.log}`);
    assert.equal(m.matching(/Failed with result/).length, 0, 'a poll limit never fails the socket');
  });

  test('no fd leak from starts that fail (StandardInput=file: missing)', async () => {
    const port = await freePort();
    const m = await start({
      'bad.socket': `[Socket]\nListenStream=127.0.0.1:${port}\nAccept=yes\n`,
      'bad@.service': '[Service]\nStandardInput=file:/nonexistent/sockunit-input\nExecStart=/bin/true\n',
    });
    const fdDir = `/proc/${m.pid}/fd`;
    await exchange(port);
    await m.waitFor(/^bad@0-.*Failed with result 'resources'/);
    await sleep(200);
    const before = readdirSync(fdDir).length;
    for (let i = 0; i < 20; i++) await exchange(port);
    await waitUntil('20 more failed starts', () =>
      m.matching(/^bad@.*Failed with result 'resources'/).length === 21 ? true : undefined,
    );
    await sleep(200);
    assert.equal(readdirSync(fdDir).length, before, 'each failed start closed what it opened');
  });

  test('no fd leak: the manager holds as many fds after 1,000 connections as before', async (t) => {
    const port = await freePort();
    const m = await start({
      'many.socket': `[Socket]\nListenStream=127.0.0.1:${port}\nAccept=yes\nTriggerLimitBurst=0\nPollLimitBurst=0\n`,
      'many@.service': "[Service]\nExecStart=/bin/sh -c 'echo x >&3'\n",
    });
    const fdDir = `/proc/${m.pid}/fd`;
    // Warm up (lazy handles, the watcher thread), then count.
    for (let i = 0; i < 5; i++) await exchange(port);
    await sleep(300);
    const before = readdirSync(fdDir).length;
    const began = Date.now();
    const deadline = began + 90_000;
    const total = 1000;
    const concurrency = 8;
    let done = 0;
    let next = 0;
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        while (next < total) {
          next++;
          assert.ok(Date.now() < deadline, `1,000 connections took more than 90 s (${done} done)`);
          assert.equal(await exchange(port), 'x\n');
          done++;
        }
      }),
    );
    assert.equal(done, total);
    const elapsed = Date.now() - began;
    const after = await waitUntil(
      'the manager to close every connection fd',
      () => {
        const n = readdirSync(fdDir).length;
        return n <= before ? n : undefined;
      },
      10_000,
    ).catch(() => readdirSync(fdDir).length);
    t.diagnostic(`${total} connections (8-way) in ${elapsed} ms; manager fds ${before} -> ${after}`);
    assert.equal(after, before, `fds before ${before}, after ${after}`);
  });
});
