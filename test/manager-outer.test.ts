// sockunit under another manager: what it tells that manager over sd_notify (checked by a
// python receiver on a real unix datagram socket, and by sockunit itself supervising sockunit as
// a Type=notify-reload service), the listening fds it takes from systemd-socket-activate, and the
// health it reports (/healthz, /readyz, is-system-running).

import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, readlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import {
  BIN,
  connectTcp,
  exchange,
  freePort,
  managerSuite,
  SYSTEM_PYTHON,
  tempDir,
  waitUntil,
} from './fixtures/manager/harness.js';
import { statusOf } from './fixtures/manager/status.js';

/** Receives sd_notify datagrams on PATH and prints each as a JSON line. On READY=1 it connects to
 * PORT at once and says whether the port accepted: READY must come only once it does. */
const RECEIVER_PY = String.raw`
import json, socket, sys
path, port = sys.argv[1], int(sys.argv[2])
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(path)
print(json.dumps({"bound": True}), flush=True)
while True:
    text = s.recv(4096).decode()
    fields = dict(l.split("=", 1) for l in text.split("\n") if "=" in l)
    if fields.get("READY") == "1":
        c = socket.socket()
        try:
            c.connect(("127.0.0.1", port)); fields["_port"] = "accepts"
        except OSError as e:
            fields["_port"] = "refused: %s" % e
        c.close()
    print(json.dumps(fields), flush=True)
`;

function sockunit(control: string, ...args: string[]): { code: number; out: string } {
  const r = spawnSync(process.execPath, [BIN, ...args, '--control-socket', control], {
    encoding: 'utf8',
    timeout: 20_000,
  });
  return { code: r.status ?? -1, out: `${r.stdout}${r.stderr}` };
}

describe('sockunit under another manager', () => {
  const suite = managerSuite('outer');

  test('sd_notify to the outer manager: READY=1 once the port accepts, RELOADING=1 … READY=1 around SIGHUP, WATCHDOG=1, STOPPING=1; none of it reaches the services', async (t) => {
    const port = await freePort();
    const metricsPort = await freePort();
    const dir = tempDir('outer-notify');
    t.after(() => receiver.kill('SIGKILL'));
    writeFileSync(join(dir, 'receiver.py'), RECEIVER_PY);
    const notifyPath = join(dir, 'notify.sock');
    const receiver = spawn(SYSTEM_PYTHON, [join(dir, 'receiver.py'), notifyPath, String(port)], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const messages: Record<string, string>[] = [];
    let partial = '';
    receiver.stdout?.on('data', (d: Buffer) => {
      partial += d.toString();
      const lines = partial.split('\n');
      partial = lines.pop() ?? '';
      for (const l of lines) messages.push(JSON.parse(l));
    });
    await waitUntil('the receiver to bind', () => (messages.length > 0 ? true : undefined));
    messages.shift();
    const env = { ...process.env, NOTIFY_SOCKET: notifyPath, WATCHDOG_USEC: '400000' };
    const m = await suite.start(
      () => ({
        'web.socket': `[Socket]\nListenStream=127.0.0.1:${port}\n`,
        // Asks for the outer manager's variables: it must not get them.
        'web.service': `[Service]\nPassEnvironment=NOTIFY_SOCKET WATCHDOG_USEC WATCHDOG_PID\nExecStart=/bin/sh -c 'echo "env:$NOTIFY_SOCKET:$WATCHDOG_USEC:$WATCHDOG_PID"; exec sleep 60'\n`,
      }),
      { env, args: ['--metrics', `127.0.0.1:${metricsPort}`] },
    );
    const ready = await waitUntil('READY=1', () => messages.find((f) => f.READY === '1'));
    assert.equal(ready._port, 'accepts', 'READY=1 came before the port accepted connections');
    assert.equal(ready.STATUS, '1 of 1 socket units listening');
    const health = await fetch(`http://127.0.0.1:${metricsPort}/readyz`);
    assert.equal(health.status, 200);

    await waitUntil('two WATCHDOG=1 pings', () =>
      messages.filter((f) => f.WATCHDOG === '1').length >= 2 ? true : undefined,
    );

    m.signal('SIGHUP');
    await waitUntil('READY=1 after the reload', () =>
      messages.filter((f) => f.READY === '1').length === 2 ? true : undefined,
    );
    const reloading = messages.findIndex((f) => f.RELOADING === '1');
    const secondReady = messages.findLastIndex((f) => f.READY === '1');
    assert.ok(reloading > 0 && reloading < secondReady, JSON.stringify(messages));
    assert.match(messages[reloading]?.MONOTONIC_USEC ?? '', /^\d+$/);

    (await connectTcp(port)).destroy();
    await m.waitFor(/^web\.service\[\d+\]: env:/);
    assert.equal(m.matching(/^web\.service\[\d+\]: env:::$/).length, 1, m.log);

    const { code } = await m.stop('SIGTERM');
    assert.equal(code, 0, m.log);
    await waitUntil('STOPPING=1', () => messages.find((f) => f.STOPPING === '1'));
    assert.equal(messages.at(-1)?.STOPPING, '1', 'STOPPING=1 is the last word');
  });

  test('sockunit supervises sockunit as Type=notify-reload: active after READY=1, a reload waits for RELOADING=1 … READY=1', async () => {
    const innerPort = await freePort();
    const inner = tempDir('outer-inner');
    writeFileSync(join(inner, 'echo.socket'), `[Socket]\nListenStream=127.0.0.1:${innerPort}\nAccept=yes\n`);
    writeFileSync(join(inner, 'echo@.service'), '[Service]\nExecStart=/bin/cat\nStandardInput=socket\n');
    const innerControl = join(inner, 'control.sock');
    const m = await suite.start(
      () => ({
        'multi-user.target': '[Unit]\nDescription=Multi-User System\nWants=inner.service\n',
        'inner.service': `[Service]\nType=notify-reload\nWatchdogSec=5s\nKillMode=mixed\nExecStart=${process.execPath} ${BIN} run ${inner} --control-socket ${innerControl}\n`,
      }),
      { args: ['--target', 'multi-user.target'], ready: /socket units listening\.$/ },
    );
    await m.waitFor(/^Reached target Multi-User System \(multi-user\.target\)\.$/, 15_000);
    assert.equal(statusOf(m, 'inner.service').subState, 'running');
    assert.equal(await exchange(innerPort, 'through\n'), 'through\n');
    const reload = sockunit(m.controlSocket, 'reload', 'inner.service');
    assert.equal(reload.code, 0, reload.out);
    await m.waitFor(/^inner\.service\[\d+\]: Reloading\.$/);
    assert.equal(statusOf(m, 'inner.service').subState, 'running');
    assert.equal(sockunit(innerControl, 'is-system-running').out, 'running\n');
    const { code } = await m.stop('SIGTERM');
    assert.equal(code, 0, m.log);
    // KillMode=mixed: SIGTERM to the inner manager alone, which stops its own services first.
    assert.equal(m.matching(/^inner\.service\[\d+\]: sockunit: stopped\.$/).length, 1, m.log);
    assert.equal(m.matching(/^Stopped inner\.service\.$/).length, 1, m.log);
    assert.equal(
      m.matching(/inner\.service: (State 'stop-sigterm' timed out|Main process exited, code=killed)/).length,
      0,
      m.log,
    );
  });

  test('systemd-socket-activate -l … -- sockunit run: each fd goes to the unit that names it; an MPTCP unit given TCP says so; an unclaimed fd is closed', async () => {
    const [echoPort, mptcpPort, strayPort] = [await freePort(), await freePort(), await freePort()];
    const m = await suite.start(
      (dir) => {
        mkdirSync(join(dir, 'out'));
        return {
          'echo.socket': `[Socket]\nListenStream=127.0.0.1:${echoPort}\nAccept=yes\n`,
          'echo@.service': '[Service]\nExecStart=/bin/cat\nStandardInput=socket\n',
          'mp.socket': `[Socket]\nListenStream=127.0.0.1:${mptcpPort}\nSocketProtocol=mptcp\n`,
          // Says which socket it got: the inode of its fd 3.
          'mp.service': `[Service]\nExecStart=/bin/sh -c 'readlink /proc/self/fd/3 > ${dir}/out/fd3; exec sleep 60'\n`,
        };
      },
      {
        wrapper: [
          'systemd-socket-activate',
          '-l',
          `127.0.0.1:${echoPort}`,
          '-l',
          `127.0.0.1:${mptcpPort}`,
          '-l',
          `127.0.0.1:${strayPort}`,
          '--',
        ],
        // systemd-socket-activate execs sockunit on the first connection.
        ready: /^Listening on 127\.0\.0\.1:\d+ as 5\.$/,
      },
    );
    assert.equal(await exchange(echoPort, 'first\n'), 'first\n', 'the connection that woke it is served');
    await m.waitFor(/socket units listening\.$/);
    assert.equal(m.matching(/Failed to create listening socket|EADDRINUSE/).length, 0, m.log);
    assert.equal(
      m.matching(/^echo\.socket: TCP 127\.0\.0\.1:\d+ is fd 3 from the manager that started sockunit/).length,
      1,
      m.log,
    );
    assert.equal(
      m.matching(/^mp\.socket: the unit asks for MPTCP but the inherited fd 4 is tcp/).length,
      1,
      m.log,
    );
    assert.equal(
      m.matching(/^fd 5 \(unknown: a listening inet stream tcp socket\) .* matches no socket unit/).length,
      1,
      m.log,
    );
    // The listener the service gets is the one sockunit was given: same socket inode.
    const given = readlinkSync(`/proc/${m.pid}/fd/4`);
    (await connectTcp(mptcpPort)).destroy();
    const got = await waitUntil('mp.service to report its fd 3', () => {
      try {
        return readFileSync(join(m.dir, 'out', 'fd3'), 'utf8').trim() || undefined;
      } catch {
        return undefined;
      }
    });
    assert.equal(got, given);
    const mp = statusOf(m, 'mp.socket') as unknown as { listen: { protocol: string }[] };
    assert.equal(mp.listen[0]?.protocol, 'mptcp->tcp');
    await assert.rejects(connectTcp(strayPort), /ECONNREFUSED/, 'the unclaimed fd was closed');
  });

  test('/healthz and /readyz, is-system-running: 503 and "starting" while the boot target is not reached, then 200 and running; degraded when a unit failed', async () => {
    const metricsPort = await freePort();
    const m = await suite.start(
      (dir) => ({
        'multi-user.target': '[Unit]\nDescription=Multi-User System\nWants=slow.service broken.service\n',
        // Holds the boot until the test creates the file.
        'slow.service': `[Service]\nType=oneshot\nExecStart=/bin/sh -c 'while [ ! -e ${dir}/go ]; do sleep 0.05; done'\n`,
        'broken.service': '[Service]\nExecStart=/bin/false\n',
      }),
      {
        args: ['--target', 'multi-user.target', '--metrics', `127.0.0.1:${metricsPort}`],
        ready: /^Metrics: /,
      },
    );
    const base = `http://127.0.0.1:${metricsPort}`;
    assert.equal((await fetch(`${base}/healthz`)).status, 200);
    const early = await fetch(`${base}/readyz`);
    assert.equal(early.status, 503);
    assert.match(await early.text(), /^not ready: the manager is starting\n$/);
    assert.equal(sockunit(m.controlSocket, 'is-system-running').out, 'starting\n');
    writeFileSync(join(m.dir, 'go'), '');
    await m.waitFor(/^Reached target Multi-User System \(multi-user\.target\)\.$/, 15_000);
    await m.waitFor(/^broken\.service: Failed with result 'exit-code'\.$/);
    const late = await fetch(`${base}/readyz`);
    assert.equal(late.status, 200, await late.text());
    const state = sockunit(m.controlSocket, 'is-system-running');
    assert.deepEqual(state, { code: 1, out: 'degraded\n' });
    const json = JSON.parse(sockunit(m.controlSocket, 'is-system-running', '--json').out) as {
      failed: string[];
    };
    assert.deepEqual(json.failed, ['broken.service']);
  });

  test('is-system-running with no manager answering: offline, exit 1', () => {
    const r = sockunit(join(tempDir('outer-none'), 'control.sock'), 'is-system-running');
    assert.deepEqual(r, { code: 1, out: 'offline\n' });
  });
});
