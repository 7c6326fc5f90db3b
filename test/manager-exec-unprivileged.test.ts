// A manager running as an unprivileged user (here: nobody, through setpriv): it says at load time
// what of a unit it cannot apply — another user, a limit above its own hard limit (clamped, as
// systemd clamps it), a lower nice level or oom_score_adj, capability sets — and runs the rest;
// `sockunit verify`, run as that user, says the same. Its directories are the $XDG_* ones, the
// same that %t, %S and %d expand to. Checked from outside the service (/proc, stat).

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { parseProcLimits } from '../src/manager/exec/manager-powers.js';
import {
  BIN,
  connectTcp,
  freePort,
  managerSuite,
  rootUnavailable,
  tempDir,
  waitUntil,
} from './fixtures/manager/harness.js';
import { openOutDir } from './fixtures/manager/out-dir.js';
import { procFacts } from './fixtures/manager/proc.js';

const NOBODY = 65534;

describe('sockunit run as an unprivileged user', () => {
  const suite = managerSuite('exec-unpriv', openOutDir);

  test('reports at load what it cannot apply, clamps the limit, runs the rest under $XDG_*', async (t) => {
    const why = rootUnavailable();
    if (why) return t.skip(why);
    const setpriv = ['/usr/bin/setpriv', '/bin/setpriv'].find((p) => existsSync(p));
    if (!setpriv) {
      if (process.env.CI) assert.fail('setpriv (util-linux) is missing');
      return t.skip('setpriv (util-linux) is not installed');
    }
    const home = tempDir('unpriv-home');
    chmodSync(home, 0o755);
    const runtime = join(home, 'runtime');
    mkdirSync(runtime, { mode: 0o700 });
    chownSync(home, NOBODY, NOBODY);
    chownSync(runtime, NOBODY, NOBODY);
    const hard = parseProcLimits(readFileSync('/proc/self/limits', 'utf8')).NOFILE.hard;
    const port = await freePort();
    const env = {
      PATH: '/usr/bin:/bin',
      HOME: home,
      XDG_RUNTIME_DIR: runtime,
      XDG_STATE_HOME: join(home, 'state'),
    };
    const units = (dir: string) => ({
      'u.socket': `[Socket]\nListenStream=127.0.0.1:${port}\n`,
      'u.service': [
        '[Service]',
        'User=root',
        `LimitNOFILE=100:${hard + 1}`,
        'OOMScoreAdjust=-100',
        'CapabilityBoundingSet=CAP_CHOWN',
        'RuntimeDirectory=rt',
        'StateDirectory=st',
        'SetCredential=token:from the unit',
        `ExecStart=/bin/sh -c 'echo "%t %S %d $$RUNTIME_DIRECTORY $$STATE_DIRECTORY $$CREDENTIALS_DIRECTORY" > ${dir}/out/seen; cat "$$CREDENTIALS_DIRECTORY/token" > ${dir}/out/token; echo $$$$ > ${dir}/out/pid; exec sleep 30'`,
        '',
      ].join('\n'),
    });
    const m = await suite.start(units, {
      env,
      wrapper: [setpriv, `--reuid=${NOBODY}`, `--regid=${NOBODY}`, '--clear-groups', '--'],
      uid: NOBODY,
    });
    // Said when the unit is loaded, at the lines of the keys.
    const said = (key: string, text: RegExp) =>
      assert.ok(
        m.lines.some((l) => l.includes(`u.service:`) && l.includes(`${key}=`) && text.test(l)),
        `${key}= reported:\n${m.log}`,
      );
    said(
      'User',
      /does not run as root \(uid 65534\) and cannot switch users and groups; the processes run as uid 65534/,
    );
    said('LimitNOFILE', new RegExp(`the service gets 100:${hard}, as systemd clamps it`));
    said('OOMScoreAdjust', /needs CAP_SYS_RESOURCE; left at/);
    said('CapabilityBoundingSet', /needs CAP_SETPCAP, which the manager \(uid 65534\) lacks; left out/);
    (await connectTcp(port)).destroy();
    // The pid is written last: once it is there, so are the others.
    const pid = await waitUntil('the service ran', () =>
      existsSync(join(m.dir, 'out', 'pid'))
        ? Number(readFileSync(join(m.dir, 'out', 'pid'), 'utf8')) || undefined
        : undefined,
    ).catch((err: Error) => {
      throw new Error(`${err.message}\n${m.log}`);
    });
    const seen = readFileSync(join(m.dir, 'out', 'seen'), 'utf8').trim();
    const d = join(runtime, 'credentials', 'u.service');
    assert.equal(seen, `${runtime} ${join(home, 'state')} ${d} ${runtime}/rt ${join(home, 'state')}/st ${d}`);
    assert.equal(readFileSync(join(m.dir, 'out', 'token'), 'utf8'), 'from the unit');
    assert.equal(statSync(`${runtime}/rt`).uid, NOBODY);
    const p = procFacts(pid);
    assert.equal(p.uid, NOBODY);
    assert.deepEqual(p.limits.NOFILE, { soft: 100, hard });

    // verify, run as the same user, says it too.
    const verify = spawnSync(
      setpriv,
      [
        `--reuid=${NOBODY}`,
        `--regid=${NOBODY}`,
        '--clear-groups',
        '--',
        process.execPath,
        BIN,
        'verify',
        join(m.dir, 'u.service'),
      ],
      { encoding: 'utf8', env },
    );
    assert.match(verify.stdout, /u\.service:2: User=root: the manager does not run as root/);
    assert.match(verify.stdout, /u\.service:3: LimitNOFILE=.*: above what this manager may grant/);
  });
});
