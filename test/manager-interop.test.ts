// Interop with libsystemd itself: a service that reads its fds with sd_listen_fds_with_names
// (Debian's python3-systemd) gets the same fds, names, families and protocols from `sockunit run`
// as from systemd's own `systemd-socket-activate`.

import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import {
  connectTcp,
  freePort,
  ManagerProcess,
  pythonSystemdUnavailable,
  REPORT_PY,
  type Report,
  readReport,
  SYSTEM_PYTHON,
  tempDir,
  waitUntil,
} from './fixtures/manager/harness.js';

const SSA = '/usr/bin/systemd-socket-activate';

/** What must agree between the two activators: everything but pids and addresses. */
function comparable(r: Report) {
  return {
    via: r.via,
    listenPidIsOwnPid: r.listen_pid === String(r.pid),
    listenFds: r.listen_fds,
    fdnames: r.fdnames,
    fds: r.fds.map((f) => ({
      fd: f.fd,
      name: f.name,
      kind: f.kind,
      family: f.family,
      type: f.type,
      protocol: f.protocol,
      listening: f.listening,
    })),
  };
}

describe('interop with libsystemd (python3-systemd)', () => {
  const dir = tempDir('interop');
  const cleanups: (() => Promise<void> | void)[] = [];
  after(async () => {
    for (const c of cleanups) await c();
    rmSync(dir, { recursive: true, force: true });
  });

  test('sd_listen_fds_with_names reports the same under sockunit run and systemd-socket-activate', async (t) => {
    const why = pythonSystemdUnavailable();
    if (why) return t.skip(why);
    if (!existsSync(SSA) && !process.env.CI) return t.skip(`${SSA} is missing; apt-get install systemd`);
    writeFileSync(join(dir, 'report.py'), REPORT_PY);

    // sockunit run: a TCP and a unix stream port, named.
    const port1 = await freePort();
    const unitDir = join(dir, 'units');
    mkdirSync(unitDir);
    const manager = await ManagerProcess.start({
      dir: unitDir,
      units: {
        'web.socket': `[Socket]\nListenStream=127.0.0.1:${port1}\nListenStream=${dir}/a.sock\nFileDescriptorName=web\n`,
        'web.service': `[Service]\nExecStart=${SYSTEM_PYTHON} ${dir}/report.py ${dir}/sockunit.json --accept\n`,
      },
    });
    cleanups.push(() => manager.dispose());
    const c1 = await connectTcp(port1);
    const ours = await readReport(`${dir}/sockunit.json`);
    c1.destroy();

    // systemd-socket-activate: the same two ports, the same names, the same service.
    const port2 = await freePort();
    const ssa: ChildProcess = spawn(
      SSA,
      [
        '-l',
        `127.0.0.1:${port2}`,
        '-l',
        `${dir}/b.sock`,
        '--fdname=web:web',
        SYSTEM_PYTHON,
        `${dir}/report.py`,
        `${dir}/ssa.json`,
        '--accept',
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let ssaLog = '';
    ssa.stderr?.on('data', (d: Buffer) => {
      ssaLog += d;
    });
    cleanups.push(() => {
      if (ssa.exitCode === null) ssa.kill('SIGKILL');
    });
    await waitUntil(`systemd-socket-activate listening (${ssaLog})`, () =>
      /Listening on/.test(ssaLog) || existsSync(`${dir}/b.sock`) ? true : undefined,
    );
    const c2 = await connectTcp(port2);
    const theirs = await readReport(`${dir}/ssa.json`);
    c2.destroy();

    assert.equal(ours.via, 'libsystemd');
    assert.deepEqual(comparable(ours), comparable(theirs));
    assert.deepEqual(comparable(ours).fdnames, 'web:web');
    assert.equal(ours.fds.length, 2);
  });
});
