// The control socket of a running `sockunit run`: created 0600, peers checked with SO_PEERCRED
// (a stranger is refused by the file mode, and with a world-writable socket by the credential
// check), bad requests answered with errors on a connection that stays usable, 100 concurrent
// `status` calls while connections flow, and the socket file removed on shutdown.

import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, rmSync, statSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { callControl } from '../src/cli/control-client.js';
import type { UnitStatus } from '../src/manager/control/snapshot.js';
import {
  BIN,
  connectTcp,
  exchange,
  freePort,
  managerSuite,
  rootUnavailable,
  SYSTEM_PYTHON,
  tempDir,
  waitUntil,
} from './fixtures/manager/harness.js';

const NOBODY = ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups'];

/** Send raw lines on one connection and collect `count` reply lines, bounded in time. */
function rawExchange(
  path: string,
  payload: string,
  count: number,
  ms = 5000,
): Promise<Record<string, unknown>[]> {
  return new Promise((resolve, reject) => {
    const conn = net.createConnection({ path });
    let buffered = '';
    const replies: Record<string, unknown>[] = [];
    const timer = setTimeout(() => {
      conn.destroy();
      reject(new Error(`only ${replies.length} of ${count} replies within ${ms} ms: ${buffered}`));
    }, ms);
    conn.setEncoding('utf8');
    conn.on('connect', () => conn.write(payload));
    conn.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    conn.on('data', (d: string) => {
      buffered += d;
      for (let nl = buffered.indexOf('\n'); nl >= 0; nl = buffered.indexOf('\n')) {
        replies.push(JSON.parse(buffered.slice(0, nl)) as Record<string, unknown>);
        buffered = buffered.slice(nl + 1);
      }
      if (replies.length >= count) {
        clearTimeout(timer);
        conn.destroy();
        resolve(replies);
      }
    });
  });
}

describe('control socket', () => {
  const suite = managerSuite('control');

  const startManager = async (extra: string[] = []) => {
    const dir = tempDir('control');
    // Reachable by a stranger (so the socket's own mode is what decides), as a real /run dir is.
    chmodSync(dir, 0o755);
    const port = await freePort();
    const control = join(dir, 'control.sock');
    const m = await suite.run({
      dir,
      units: {
        'echo.socket': `[Socket]\nListenStream=127.0.0.1:${port}\nAccept=yes\n`,
        'echo@.service': '[Service]\nExecStart=/bin/cat\nStandardInput=socket\n',
      },
      args: ['--control-socket', control, ...extra],
    });
    return { m, control, port };
  };

  test('the socket is 0600 and owned by the manager; it is removed on SIGTERM', async () => {
    const { m, control } = await startManager();
    const st = statSync(control);
    assert.ok(st.isSocket());
    assert.equal(st.mode & 0o777, 0o600);
    assert.equal(st.uid, process.getuid?.());
    assert.match(m.log, new RegExp(`Control socket: ${control.replace(/[.]/g, '\\.')}`));
    const { code } = await m.stop('SIGTERM');
    assert.equal(code, 0);
    assert.equal(existsSync(control), false, 'the socket file is gone');
  });

  test('bad requests get error replies, the connection stays usable, the manager lives', async () => {
    const { m, control } = await startManager();
    const lines = [
      'not json',
      '[1,2]',
      JSON.stringify({ v: 99, id: 2, method: 'status' }),
      JSON.stringify({ v: 1, id: 3, method: 'format-disk' }),
      JSON.stringify({ v: 1, id: 4, method: 'stop' }),
      JSON.stringify({ v: 1, id: 5, method: 'status', units: [42] }),
      JSON.stringify({ v: 1, id: 6, method: 'stop', units: ['no-such.socket'] }),
      JSON.stringify({ v: 1, id: 7, method: 'status', units: ['echo.socket'] }),
    ];
    const replies = await rawExchange(control, `${lines.join('\n')}\n`, lines.length);
    const byId = (id: number) => replies.find((r) => r.id === id);
    const errorOf = (r: Record<string, unknown> | undefined) =>
      (r?.error ?? { code: 'none', message: 'no error' }) as { code: string; message: string };
    assert.equal(replies.filter((r) => r.ok === false).length, 7, JSON.stringify(replies));
    assert.match(errorOf(replies[0]).message, /not JSON/);
    assert.match(errorOf(byId(2)).message, /protocol version 99 is not supported/);
    assert.match(errorOf(byId(3)).message, /unknown method "format-disk"/);
    assert.match(errorOf(byId(4)).message, /stop needs at least one unit/);
    assert.equal(errorOf(byId(6)).code, 'ENOUNIT');
    const ok = byId(7);
    assert.equal(ok?.ok, true, JSON.stringify(ok));
    assert.equal(((ok?.result ?? []) as UnitStatus[])[0]?.unit, 'echo.socket');
    // An oversized line closes that connection only.
    await assert.rejects(
      rawExchange(control, 'x'.repeat(70_000), 2, 2000),
      /only 1 of 2 replies|ECONNRESET|EPIPE/,
    );
    assert.ok(m.running);
    const status = (await callControl(control, 'status', { units: ['echo.socket'] })) as UnitStatus[];
    assert.equal(status[0]?.activeState, 'active');
  });

  test('nobody is refused: by the file mode (EACCES), and with mode 0666 by SO_PEERCRED', {
    skip: rootUnavailable(),
  }, async () => {
    const private0600 = await startManager();
    const denied = spawnSync(
      NOBODY[0] as string,
      [...NOBODY.slice(1), process.execPath, BIN, 'status', '--control-socket', private0600.control],
      {
        encoding: 'utf8',
        timeout: 10_000,
      },
    );
    assert.equal(denied.status, 1, denied.stderr);
    assert.match(denied.stderr, /cannot connect to the control socket .*: EACCES; permission denied/);

    const open0666 = await startManager(['--control-socket-mode', '0666']);
    assert.equal(statSync(open0666.control).mode & 0o777, 0o666);
    const refused = spawnSync(
      NOBODY[0] as string,
      [
        ...NOBODY.slice(1),
        process.execPath,
        BIN,
        'stop',
        'echo.socket',
        '--control-socket',
        open0666.control,
      ],
      {
        encoding: 'utf8',
        timeout: 10_000,
      },
    );
    assert.equal(refused.status, 1, refused.stderr);
    assert.match(refused.stderr, /Access denied: uid 65534 \(pid \d+\) may not control this manager/);
    await open0666.m.waitFor(/Refused control connection from uid 65534/);
    // Nothing happened: the socket still listens.
    const status = (await callControl(open0666.control, 'status', {
      units: ['echo.socket'],
    })) as UnitStatus[];
    assert.equal(status[0]?.subState, 'listening');
    // Root (the manager's own user here) is let in on the same socket.
    assert.ok(Array.isArray(await callControl(open0666.control, 'list-units')));
  });

  test('a refused peer that never hangs up does not hold the manager: SIGTERM still stops it', {
    skip: rootUnavailable(),
  }, async () => {
    const { m, control, port } = await startManager(['--control-socket-mode', '0666']);
    // A running instance, so "stopped" also means its service was stopped.
    const held = await connectTcp(port);
    await m.waitFor(/^Started echo@0-/, 10_000);
    // nobody connects and then only sleeps: it never reads the refusal and never closes.
    const stranger = spawn(
      NOBODY[0] as string,
      [
        ...NOBODY.slice(1),
        SYSTEM_PYTHON,
        '-c',
        'import socket,sys,time\ns=socket.socket(socket.AF_UNIX)\ns.connect(sys.argv[1])\nprint("connected",flush=True)\ntime.sleep(60)',
        control,
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    try {
      await m.waitFor(/Refused control connection from uid 65534/);
      const { code } = await m.stop('SIGTERM');
      assert.equal(code, 0, m.log);
      await m.waitFor(/^sockunit: stopped\.$/);
      assert.match(m.log, /Stopped echo@0-/);
      assert.equal(stranger.exitCode, null, 'the stranger was still connected when the manager stopped');
    } finally {
      held.destroy();
      stranger.kill('SIGKILL');
    }
  });

  test('100 concurrent status calls while connections flow: every one answered, counters consistent', async () => {
    const { m, control, port } = await startManager();
    let flowing = true;
    let exchanged = 0;
    const flow = (async () => {
      // Bounded: at most 200 connections or until the status storm is over.
      for (let i = 0; i < 200 && flowing; i++) {
        assert.equal(await exchange(port, `ping-${i}`), `ping-${i}`);
        exchanged++;
      }
    })();
    await waitUntil('first connection', () => (exchanged > 0 ? true : undefined), 5000);
    const results = await Promise.all(
      Array.from(
        { length: 100 },
        () => callControl(control, 'status', { units: ['echo.socket'] }) as Promise<UnitStatus[]>,
      ),
    );
    flowing = false;
    await flow;
    assert.equal(results.length, 100);
    const accepted = results.map((r) => {
      const s = r[0];
      assert.ok(s && s.kind === 'socket');
      assert.equal(s.activeState, 'active');
      return s.accepted;
    });
    // Each reply is a consistent snapshot: counts only grow, never past what was exchanged.
    assert.ok(Math.max(...accepted) <= exchanged + 1);
    // The accept thread reports to the main thread in batches (at most one every 100 ms): wait for
    // the event that counts a connection — its instance's "Started" line, logged right after the
    // count — for every connection, then the count is exact.
    await waitUntil(
      'every connection counted',
      () => (m.matching(/^Started echo@/).length >= exchanged ? true : undefined),
      10_000,
    );
    const r = (await callControl(control, 'status', { units: ['echo.socket'] })) as UnitStatus[];
    const finalCount = r[0]?.kind === 'socket' ? r[0].accepted : undefined;
    assert.equal(finalCount, exchanged);
    assert.ok(m.running);
  });

  test('a control socket directory another user may write is refused', async () => {
    const unitDir = tempDir('control-open-dir-units');
    const port = await freePort();
    writeFileSync(join(unitDir, 'o.socket'), `[Socket]\nListenStream=127.0.0.1:${port}\n`);
    writeFileSync(join(unitDir, 'o.service'), '[Service]\nExecStart=/bin/true\n');
    const open = tempDir('control-open');
    chmodSync(open, 0o777);
    try {
      const refused = spawnSync(
        process.execPath,
        [BIN, 'run', unitDir, '--control-socket', join(open, 'c.sock')],
        {
          encoding: 'utf8',
          timeout: 10_000,
        },
      );
      assert.equal(refused.status, 1, refused.stderr);
      assert.match(
        refused.stderr,
        /control socket's directory .* mode 777: another user could replace the socket/,
      );
    } finally {
      rmSync(open, { recursive: true, force: true });
      rmSync(unitDir, { recursive: true, force: true });
    }
  });

  test('a second manager on the same control socket path refuses to start', async () => {
    const { control } = await startManager();
    const second = spawnSync(
      process.execPath,
      [BIN, 'run', '--control-socket', control, join(control, '..')],
      {
        encoding: 'utf8',
        timeout: 10_000,
        input: '',
      },
    );
    assert.equal(second.status, 1, second.stderr);
    assert.match(second.stderr, /another process answers on the control socket/);
  });
});
