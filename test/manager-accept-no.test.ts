// Accept=no under `sockunit run`, with real services: LISTEN_PID is the service's own pid,
// LISTEN_FDNAMES, two socket units feeding one service in order, NonBlocking=, listening again
// after the service exits, Restart=on-failure, a missing binary, and broken units failing alone.

import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import {
  connectTcp,
  exchange,
  freePort,
  managerSuite,
  pythonSystemdUnavailable,
  REPORT_PY,
  type Report,
  readReport,
  SYSTEM_PYTHON,
  waitUntil,
} from './fixtures/manager/harness.js';

const AF_UNIX = 1;
const AF_INET = 2;

describe('sockunit run: Accept=no', () => {
  const { start } = managerSuite('accept-no', (dir) => writeFileSync(join(dir, 'report.py'), REPORT_PY));
  const report = (dir: string, name: string, ...flags: string[]) =>
    `${SYSTEM_PYTHON} ${dir}/report.py ${dir}/${name}.json ${flags.join(' ')}`;

  test('LISTEN_PID is the service pid; two sockets feed one service in order, with their names', async (t) => {
    const port = await freePort();
    const m = await start((dir) => ({
      'a.socket': `[Socket]\nListenStream=127.0.0.1:${port}\nService=shared.service\n`,
      'b.socket': `[Socket]\nListenStream=${dir}/b.sock\nListenDatagram=${dir}/b.dgram\nFileDescriptorName=bee\nService=shared.service\n`,
      'shared.service': `[Service]\nExecStart=${report(dir, 'shared', '--stay')}\n`,
    }));
    const c = await connectTcp(port);
    const r = await readReport(`${m.dir}/shared.json`);
    c.destroy();
    assert.equal(r.listen_pid, String(r.pid), 'LISTEN_PID is the pid of the service itself');
    const started = await m.waitFor(/^Started shared\.service\.$/);
    assert.ok(started);
    await t.test('libsystemd (python3-systemd) read the same fds', (st) => {
      const why = pythonSystemdUnavailable();
      if (why) return st.skip(why);
      assert.equal(r.via, 'libsystemd');
    });
    assert.equal(r.listen_fds, '3');
    assert.equal(r.fdnames, 'a.socket:bee:bee', 'FileDescriptorName= or the socket unit name');
    assert.deepEqual(
      r.fds.map((f) => [f.fd, f.name, f.family, f.nonblock]),
      [
        [3, 'a.socket', AF_INET, false],
        [4, 'bee', AF_UNIX, false],
        [5, 'bee', AF_UNIX, false],
      ],
      'a.socket before b.socket; O_NONBLOCK per the service NonBlocking= (no)',
    );
  });

  test('NonBlocking=yes on the service sets O_NONBLOCK on every passed fd', async () => {
    const port = await freePort();
    const m = await start((dir) => ({
      'nb.socket': `[Socket]\nListenStream=127.0.0.1:${port}\nListenStream=${dir}/nb.sock\n`,
      'nb.service': `[Service]\nNonBlocking=yes\nExecStart=${report(dir, 'nb', '--stay')}\n`,
    }));
    const c = await connectTcp(port);
    const r = await readReport(`${m.dir}/nb.json`);
    c.destroy();
    assert.deepEqual(
      r.fds.map((f) => f.nonblock),
      [true, true],
    );
  });

  test('the service exits -> the socket listens again, and a new connection starts it again', async () => {
    const port = await freePort();
    const m = await start((dir) => ({
      'once.socket': `[Socket]\nListenStream=127.0.0.1:${port}\n`,
      'once.service': `[Service]\nExecStart=${report(dir, 'once', '--accept')}\n`,
    }));
    assert.equal(await exchange(port), 'hello\n');
    const first = await readReport(`${m.dir}/once.json`);
    await m.waitFor(/^once\.service: Deactivated successfully\.$/);
    // As systemd: a clean exit of the main process is a debug line, so not in the info log.
    assert.equal(m.matching(/^once\.service: Main process exited/).length, 0, m.log);
    assert.equal(await exchange(port), 'hello\n');
    const second = await readReport(`${m.dir}/once.json`);
    assert.notEqual(first.pid, second.pid, 'a new process');
    assert.equal(m.matching(/^Started once\.service\.$/).length, 2);
    assert.equal(second.listen_pid, String(second.pid));
  });

  test('Restart=on-failure starts a failed service again, with the same fds', async () => {
    const port = await freePort();
    const m = await start((dir) => {
      const script = `${dir}/flaky.sh`;
      writeFileSync(
        script,
        // Each start records which socket its fd 3 is (`socket:[INODE]`) before the first one fails.
        `#!/bin/sh\nn=$(cat ${dir}/count 2>/dev/null || echo 0)\necho $((n+1)) > ${dir}/count\nreadlink /proc/$$/fd/3 > ${dir}/fd3.$n\n[ "$n" -ge 1 ] || { echo "first start fails"; exit 3; }\nexec ${report(dir, 'flaky', '--stay')}\n`,
        { mode: 0o755 },
      );
      return {
        'flaky.socket': `[Socket]\nListenStream=127.0.0.1:${port}\n`,
        'flaky.service': `[Service]\nExecStart=${script}\nRestart=on-failure\nRestartSec=100ms\n`,
      };
    });
    const c = await connectTcp(port);
    const r = await readReport(`${m.dir}/flaky.json`);
    c.destroy();
    await m.waitFor(/^flaky\.service\[\d+\]: first start fails$/);
    await m.waitFor(/^flaky\.service: Main process exited, code=exited, status=3\/NOTIMPLEMENTED$/);
    await m.waitFor(/^flaky\.service: Scheduled restart job, restart in 100 ms\.$/);
    assert.equal(r.listen_fds, '1');
    assert.equal(r.listen_pid, String(r.pid));
    const first = readFileSync(`${m.dir}/fd3.0`, 'utf8').trim();
    assert.match(first, /^socket:\[\d+\]$/);
    assert.equal(
      readFileSync(`${m.dir}/fd3.1`, 'utf8').trim(),
      first,
      'the restart gets the same listening socket',
    );
  });

  test('an automatic restart after a reload gets the re-opened sockets, not the closed ones', async () => {
    const port1 = await freePort();
    const port2 = await freePort();
    const m = await start((dir) => ({
      'moved.socket': `[Socket]\nListenStream=127.0.0.1:${port1}\n`,
      'moved.service': `[Service]\nExecStart=${report(dir, 'moved', '--accept')}\nRestart=always\nRestartSec=1500ms\n`,
    }));
    assert.equal(await exchange(port1), 'hello\n');
    const first = (await readReport(`${m.dir}/moved.json`)) as Report & { fds: { local?: string }[] };
    assert.match(first.fds[0]?.local ?? '', new RegExp(`${port1}\\)$`));
    await m.waitFor(/^moved\.service: Scheduled restart job/);
    // A unix port first: it takes the fd number the closed TCP port had, so a restart that
    // reused the old numbers would pass the wrong socket, and only one.
    writeFileSync(
      join(m.dir, 'moved.socket'),
      `[Socket]\nListenStream=${m.dir}/moved.sock\nListenStream=127.0.0.1:${port2}\n`,
    );
    const from = m.lines.length;
    m.signal('SIGHUP');
    await m.waitFor(/^Listening on moved\.socket \(TCP 127\.0\.0\.1:\d+\)\.$/, 5000, from);
    const second = (await readReport(`${m.dir}/moved.json`)) as Report & { fds: { local?: string }[] };
    assert.equal(second.fds.length, 2, 'both new ports');
    assert.match(second.fds[1]?.local ?? '', new RegExp(`${port2}\\)$`), 'the restart got the new port');
    assert.equal(second.fds[1]?.listening, 1);
    // The report service accepts on fd 3, now the unix port: it serves there.
    const reply = await new Promise<string>((resolve, reject) => {
      let data = '';
      const c = net.connect(`${m.dir}/moved.sock`);
      const timer = setTimeout(() => reject(new Error(`no reply:\n${m.log}`)), 5000);
      c.on('data', (d: Buffer) => {
        data += d;
      });
      c.on('error', reject);
      c.on('close', () => {
        clearTimeout(timer);
        resolve(data);
      });
    });
    assert.equal(reply, 'hello\n');
  });

  test('a missing binary leaves the socket listening and is retried on the next trigger, up to the limit', async () => {
    const port = await freePort();
    const other = await freePort();
    const m = await start((dir) => ({
      'ghost.socket': `[Socket]\nListenStream=127.0.0.1:${port}\n`,
      'ghost.service': `[Service]\nExecStart=${dir}/no-such-binary --flag\n`,
      'fine.socket': `[Socket]\nListenStream=127.0.0.1:${other}\n`,
      'fine.service': `[Service]\nExecStart=${report(dir, 'fine', '--accept')}\n`,
    }));
    const c = await connectTcp(port);
    c.destroy();
    const error = await m.waitFor(/^ghost\.service: .*no-such-binary/);
    assert.match(error, /Failed to locate executable .*no-such-binary: No such file or directory/, error);
    // The pending connection keeps the socket readable: every retry is a trigger, until a limit
    // fails the socket, exactly as systemd ends such a loop.
    const failed = await m.waitFor(
      /^ghost\.socket: Failed with result '(service-start-limit-hit|trigger-limit-hit)'\.$/,
      15_000,
    );
    assert.ok(failed);
    assert.ok(m.matching(/^ghost\.service: Failed with result/).length >= 2, `retried:\n${m.log}`);
    assert.equal(m.matching(/^Started ghost\.service/).length, 0, 'never reported as started');
    assert.equal(await exchange(other), 'hello\n', 'the other unit still serves');
  });

  test('a socket whose service does not load fails with resources on the first trigger, and a reload brings it back', async () => {
    const port = await freePort();
    const m = await start(() => ({
      'lone.socket': `[Socket]\nListenStream=127.0.0.1:${port}\n`,
    }));
    (await connectTcp(port)).destroy();
    await m.waitFor(/^lone\.socket: Failed to queue service startup job .*lone\.service did not load$/);
    await m.waitFor(/^lone\.socket: Failed with result 'resources'\.$/);
    assert.equal(m.matching(/Failed to queue service startup job/).length, 1, 'no re-trigger loop');
    await assert.rejects(connectTcp(port), { code: 'ECONNREFUSED' });
    writeFileSync(join(m.dir, 'report.py'), REPORT_PY);
    writeFileSync(join(m.dir, 'lone.service'), `[Service]\nExecStart=${report(m.dir, 'lone', '--accept')}\n`);
    const from = m.lines.length;
    m.signal('SIGHUP');
    await m.waitFor(/^Listening on lone\.socket/, 5000, from);
    assert.equal(await exchange(port), 'hello\n');
  });

  test('one broken unit (bad file, port in use) fails alone; the others serve', async () => {
    const held = net.createServer();
    const busy = await new Promise<number>((resolve) =>
      held.listen(0, '127.0.0.1', () => resolve((held.address() as net.AddressInfo).port)),
    );
    try {
      const good = await freePort();
      const m = await start((dir) => ({
        'bad.socket': '[Socket]\nListenStream=not-an-address:x:y\nBacklog=lots\n',
        'bad.service': '[Service]\nExecStart=/bin/true\n',
        'busy.socket': `[Socket]\nListenStream=127.0.0.1:${busy}\n`,
        'busy.service': '[Service]\nExecStart=/bin/true\n',
        'good.socket': `[Socket]\nListenStream=127.0.0.1:${good}\n`,
        'good.service': `[Service]\nExecStart=${report(dir, 'good', '--accept')}\n`,
      }));
      assert.equal(await exchange(good), 'hello\n');
      assert.ok(m.matching(/^bad\.socket: unit is bad-setting/).length === 1, m.log);
      const inUse = m.matching(/^busy\.socket: Failed to create listening socket/);
      assert.equal(inUse.length, 1, m.log);
      assert.match(inUse[0] as string, /EADDRINUSE/);
      await m.waitFor(/^busy\.socket: Failed with result 'resources'\.$/);
      await m.waitFor(/^sockunit: 1 of 2 socket units listening\.$/);
      await waitUntil('good.service done', () =>
        m.matching(/^good\.service: Deactivated/).length === 1 ? true : undefined,
      );
    } finally {
      held.close();
    }
  });
});
