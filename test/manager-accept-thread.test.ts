// Accept=yes through the accept thread (manager/accept/thread.ts): an instance it spawns must
// start exactly as one the main thread spawns (SOCKUNIT_ACCEPT_THREAD=0), against the same real
// service reporting what it got; units the plan cannot cover must keep the main thread's path;
// output is captured; a stop ends the instances it started.

import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import {
  connectTcp,
  exchange,
  freePort,
  type ManagerProcess,
  managerSuite,
  processesWith,
  REPORT_PY,
  readReport,
  SYSTEM_PYTHON,
  waitUntil,
} from './fixtures/manager/harness.js';

/** Connect, let the report service answer by closing, return the client's port. */
async function oneConnection(port: number): Promise<number> {
  const socket = await connectTcp(port);
  const clientPort = socket.localPort as number;
  await new Promise<void>((resolve) => {
    socket.on('data', () => {});
    socket.on('error', () => resolve());
    socket.on('close', () => resolve());
  });
  return clientPort;
}

describe('sockunit run: the accept thread', () => {
  const { start } = managerSuite('accept-thread', (dir) => writeFileSync(join(dir, 'report.py'), REPORT_PY));

  const reportUnits = (port: number) => (dir: string) => ({
    'rep.socket': `[Socket]\nListenStream=127.0.0.1:${port}\nAccept=yes\n`,
    'rep@.service': `[Service]\nExecStart=${SYSTEM_PYTHON} ${dir}/report.py ${dir}/out.json\nEnvironment=GREETING=hi\n`,
  });

  async function instanceReport(m: ManagerProcess, port: number) {
    const clientPort = await oneConnection(port);
    const report = await readReport(join(m.dir, 'out.json'));
    const started = await m.waitFor(/^Started rep@0-\d+-127\.0\.0\.1:\d+-127\.0\.0\.1:\d+\.service\.$/);
    return { clientPort, report, started };
  }

  test('an instance starts as on the main thread: fds, LISTEN_PID, environment, name', async () => {
    const threadPort = await freePort();
    const mainPort = await freePort();
    const onThread = await start(reportUnits(threadPort), { args: ['--log-level=debug'] });
    const onMain = await start(reportUnits(mainPort), {
      args: ['--log-level=debug'],
      env: { ...process.env, SOCKUNIT_ACCEPT_THREAD: '0' },
    });
    await onThread.waitFor(/^rep\.socket: instances start on the accept thread\.$/);
    await onMain.waitFor(/^rep\.socket: instances start on the main thread \(SOCKUNIT_ACCEPT_THREAD=0\)\.$/);

    const a = await instanceReport(onThread, threadPort);
    const b = await instanceReport(onMain, mainPort);
    for (const [{ report, clientPort }, what] of [
      [a, 'accept thread'],
      [b, 'main thread'],
    ] as const) {
      assert.equal(report.listen_pid, String(report.pid), `${what}: LISTEN_PID is the service's pid`);
      assert.equal(report.listen_fds, '1', what);
      assert.equal(report.fdnames, 'connection', what);
      assert.equal(report.fds.length, 1, `${what}: ${JSON.stringify(report.fds)}`);
      assert.equal(report.env.REMOTE_ADDR, '127.0.0.1', what);
      assert.equal(report.env.REMOTE_PORT, String(clientPort), what);
      assert.match(report.env.INVOCATION_ID ?? '', /^[0-9a-f]{32}$/, what);
      assert.match(report.env.SO_COOKIE ?? '', /^\d+$/, what);
      assert.equal(report.env.GREETING, 'hi', what);
      assert.equal(report.cwd, '/', what);
    }
    const keys = (r: typeof a.report) => Object.keys(r.env).sort();
    assert.deepEqual(keys(a.report), keys(b.report), 'the same variables on both paths');
    const same = ['PATH', 'LANG', 'LISTEN_FDS', 'LISTEN_FDNAMES', 'GREETING'];
    for (const k of same) assert.equal(a.report.env[k], b.report.env[k], k);
    assert.deepEqual(
      a.report.fds.map(({ family, type, protocol, listening }) => ({ family, type, protocol, listening })),
      b.report.fds.map(({ family, type, protocol, listening }) => ({ family, type, protocol, listening })),
    );
    assert.equal(a.report.umask, b.report.umask);
    await onThread.waitFor(/^rep@0-.*Deactivated successfully\.$/);
  });

  test('what the plan cannot cover keeps the main thread, and still works', async () => {
    const port = await freePort();
    const m = await start(
      () => ({
        'var.socket': `[Socket]\nListenStream=127.0.0.1:${port}\nAccept=yes\n`,
        'var@.service': '[Service]\nStandardInput=socket\nExecStart=/bin/echo $REMOTE_ADDR\n',
      }),
      { args: ['--log-level=debug'] },
    );
    await m.waitFor(/^var\.socket: instances start on the main thread \(\$VAR in the command line\)\.$/);
    assert.equal(await exchange(port), '127.0.0.1\n', '$REMOTE_ADDR expanded per connection');
  });

  test('MaxConnectionsPerSource= on the thread: a second connection from a source is refused, and its slot comes back when the first ends', async () => {
    const port = await freePort();
    const m = await start(
      () => ({
        'per.socket': `[Socket]\nListenStream=127.0.0.1:${port}\nAccept=yes\nMaxConnectionsPerSource=1\n`,
        'per@.service': "[Service]\nStandardInput=socket\nExecStart=/bin/sh -c 'read line; echo got'\n",
      }),
      { args: ['--log-level=debug'] },
    );
    await m.waitFor(/^per\.socket: instances start on the accept thread\.$/);
    const first = await connectTcp(port);
    await m.waitFor(/^Started per@0-/);
    const second = await connectTcp(port);
    const closed = await new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => resolve(false), 3000);
      second.on('error', () => {});
      second.on('data', () => {});
      second.once('close', () => {
        clearTimeout(timer);
        resolve(true);
      });
    });
    assert.equal(closed, true, 'the second connection from 127.0.0.1 is closed at once');
    await m.waitFor(
      /^per\.socket: Too many incoming connections \(1\) from source 127\.0\.0\.1, dropping connection\.$/,
    );
    first.end('bye\n');
    await m.waitFor(/^per@0-.*Deactivated successfully\.$/);
    assert.equal(await exchange(port, 'again\n'), 'got\n', 'the slot is free again');
  });

  test('service output lands in the log as unit[pid]: line', async () => {
    const port = await freePort();
    const m = await start(
      (dir) => {
        const script = join(dir, 'talk.sh');
        writeFileSync(script, '#!/bin/sh\necho "to the log"\necho "to stderr" >&2\necho reply >&3\n', {
          mode: 0o755,
        });
        return {
          'talk.socket': `[Socket]\nListenStream=127.0.0.1:${port}\nAccept=yes\n`,
          'talk@.service': `[Service]\nExecStart=${script}\n`,
        };
      },
      { args: ['--log-level=debug'] },
    );
    await m.waitFor(/^talk\.socket: instances start on the accept thread\.$/);
    assert.equal(await exchange(port), 'reply\n');
    await m.waitFor(/^talk@0-[^[]+\[\d+\]: to the log$/);
    await m.waitFor(/^talk@0-[^[]+\[\d+\]: to stderr$/);
  });

  test('an instance that leaves a process holding its output: its exit is reported at once, and the thread keeps accepting', async () => {
    const port = await freePort();
    const marker = `${61 + (process.pid % 1000) / 1000}`;
    const m = await start(
      () => ({
        'left.socket': `[Socket]\nListenStream=127.0.0.1:${port}\nAccept=yes\n`,
        // The last line and the exit come together: the log's readiness and the pidfd's in one
        // wake-up of the thread (a blocking read of the drained log then hung the thread).
        'left@.service': `[Service]\nExecStart=/bin/sh -c 'sleep ${marker} & echo bye; exit 0'\n`,
      }),
      { args: ['--log-level=debug'] },
    );
    try {
      await m.waitFor(/^left\.socket: instances start on the accept thread\.$/);
      for (let i = 1; i <= 3; i++) {
        (await connectTcp(port)).destroy();
        await waitUntil(`instance ${i} to end while its child holds the output`, () =>
          m.matching(/^left@.*\.service: Deactivated successfully\.$/).length >= i ? true : undefined,
        );
      }
      assert.ok(processesWith(`sleep ${marker}`).length >= 3, 'the children still run');
      assert.equal(m.matching(/^left@.*\.service\[\d+\]: bye$/).length, 3, m.log);
    } finally {
      for (const pid of processesWith(`sleep ${marker}`)) process.kill(pid, 'SIGKILL');
    }
  });

  test("the orphan reaper never takes an accept-thread instance's exit status (3 s of 8-way load)", async (t) => {
    const port = await freePort();
    const m = await start(() => ({
      'quick.socket': `[Socket]\nListenStream=127.0.0.1:${port}\nAccept=yes\nTriggerLimitBurst=0\nPollLimitBurst=0\n`,
      'quick@.service': '[Service]\nExecStart=/bin/cat\nStandardInput=socket\n',
    }));
    // The reaper runs once a second: spawns and exits must straddle several of its runs.
    const deadline = Date.now() + 3000;
    let done = 0;
    await Promise.all(
      Array.from({ length: 8 }, async () => {
        for (let i = 0; i < 2000 && Date.now() < deadline; i++) {
          assert.equal(await exchange(port, 'x\n'), 'x\n');
          done++;
        }
      }),
    );
    await waitUntil(
      'every instance to be reaped by its owner',
      () => (m.matching(/^quick@.*Deactivated successfully\.$/).length === done ? true : undefined),
      10_000,
    );
    t.diagnostic(`${done} connections`);
    assert.ok(done > 50, `load ran (${done})`);
    assert.deepEqual(m.matching(/exit status lost/), [], 'no status was taken by the reaper');
    assert.equal(m.running, true);
  });

  test('a stop ends the instances the thread started, and the port is closed', async () => {
    const port = await freePort();
    const marker = `sockunit-accept-thread-${process.pid}-${Date.now()}`;
    const m = await start((dir) => {
      const script = join(dir, marker);
      writeFileSync(script, '#!/bin/sh\nsleep 60\n', { mode: 0o755 });
      return {
        'hold.socket': `[Socket]\nListenStream=127.0.0.1:${port}\nAccept=yes\n`,
        'hold@.service': `[Service]\nExecStart=${script}\n`,
      };
    });
    const clients = [await connectTcp(port), await connectTcp(port)];
    await waitUntil('two instances', () => (m.matching(/^Started hold@/).length === 2 ? true : undefined));
    assert.equal(processesWith(marker).length, 2);
    await m.stop();
    assert.deepEqual(processesWith(marker), [], 'no instance outlives the manager');
    await assert.rejects(connectTcp(port), { code: 'ECONNREFUSED' });
    for (const c of clients) c.destroy();
  });
});
