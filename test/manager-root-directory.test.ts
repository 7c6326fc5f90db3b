// RootDirectory= and MountAPIVFS= (manager/exec/root-directory.ts), checked from inside real
// services chrooted into a minimal root the test makes (a few host programs and their
// libraries): the service sees only that tree, its executable and working directory are looked
// up inside it, BindReadOnlyPaths= and `+` paths land inside it, /proc works with MountAPIVFS=
// (yes by default with RootDirectory=) and is empty without, a `+` command runs in the root without
// the rest of the sandbox, the activated socket still serves
// on the accept thread's path, and a program missing from the root fails the start saying so.

import assert from 'node:assert/strict';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { exchange, freePort, managerSuite } from './fixtures/manager/harness.js';
import { makeMinimalRoot } from './helpers/minimal-root.js';
import { serviceResults, skipWithoutRoot } from './helpers/service-results.js';

const skip = skipWithoutRoot('chroot and mount namespaces need root');
const results = serviceResults;

const PROGRAMS = ['/bin/sh', '/bin/ls', '/bin/cat', '/bin/touch'];

describe('sockunit run: RootDirectory= and MountAPIVFS=', () => {
  const suite = managerSuite('rootdir');
  const made: string[] = [];
  after(() => {
    for (const d of made) rmSync(d, { recursive: true, force: true });
  });
  // Under /run, not /tmp: the roots must not be inside another test's private /tmp.
  const newRoot = (dirs: string[] = []) => {
    const root = makeMinimalRoot('/run', PROGRAMS, dirs);
    made.push(root);
    return root;
  };
  const hostDir = (prefix: string) => {
    const d = mkdtempSync(join('/run', prefix));
    made.push(d);
    return d;
  };

  test('the service sees only its root: executable, WorkingDirectory=, BindReadOnlyPaths=, + paths, /proc', async (t) => {
    if (skip(t)) return;
    const root = newRoot(['work', 'ro', 'rw']);
    writeFileSync(join(root, 'work', 'inside'), 'in the root\n');
    const shared = hostDir('sockunit-test-bind-');
    writeFileSync(join(shared, 'file'), 'bound from the host\n');
    const port = await freePort();
    const check = [
      // Unquoted, the listing is one line of words.
      'echo R top=$(ls /)',
      'echo "R pwd=$(pwd)"',
      'echo "R inside=$(cat inside)"',
      'echo "R bound=$(cat /data/file)"',
      'touch /data/x 2>/dev/null && echo R data=writable || echo R data=read-only',
      'touch /ro/x 2>/dev/null && echo R ro=writable || echo R ro=read-only',
      'touch /rw/x 2>/dev/null && echo R rw=writable || echo R rw=read-only',
      'test -e /etc/passwd && echo R hostEtc=visible || echo R hostEtc=hidden',
      'echo "R self=$(cat /proc/self/comm)"',
      'test -e /sys/kernel && echo R sys=mounted || echo R sys=missing',
      'test -c /dev/null && echo R devNull=yes || echo R devNull=no',
      'echo "R run=[$(ls -A /run)]"',
      'echo R done=1',
    ].join('; ');
    const m = await suite.start(() => ({
      'jail.socket': `[Socket]\nListenStream=127.0.0.1:${port}\n`,
      'jail.service': [
        '[Service]',
        'Type=oneshot',
        `RootDirectory=${root}`,
        'WorkingDirectory=/work',
        `BindReadOnlyPaths=${shared}:/data`,
        'ReadOnlyPaths=+/ro',
        'ProtectSystem=strict',
        'ReadWritePaths=+/rw',
        // `+`: no sandbox, but the root all the same (as systemd's EXEC_APPLY_CHROOT).
        "ExecStartPre=+/bin/sh -c 'test -e /etc/passwd && echo R preEtc=visible || echo R preEtc=hidden; touch /work/from-pre && echo R preWrite=yes'",
        `ExecStart=/bin/sh -c '${check}'`,
        '',
      ].join('\n'),
    }));
    await suite.trigger(port);
    await m.waitFor(/jail\.service\[\d+\]: R done=1/, 10_000);
    const r = results(m.log, 'jail.service');
    const top = (r.get('top') ?? '').split(/\s+/).sort();
    // The root's own entries, with the mount points made in it (data, proc, sys, dev, run).
    assert.deepEqual(top, readdirSync(root).sort(), `only the root's tree:\n${m.log}`);
    for (const d of ['data', 'proc', 'sys', 'dev', 'run']) assert.ok(top.includes(d), d);
    for (const d of ['etc', 'home', 'tmp', 'root']) assert.ok(!top.includes(d), d);
    assert.equal(r.get('pwd'), '/work', 'WorkingDirectory= inside the root');
    assert.equal(r.get('preEtc'), 'hidden', 'a + command runs inside the root too');
    assert.equal(r.get('preWrite'), 'yes', 'without ProtectSystem=strict');
    assert.ok(existsSync(join(root, 'work', 'from-pre')));
    assert.equal(r.get('inside'), 'in the root');
    assert.equal(r.get('bound'), 'bound from the host', 'BindReadOnlyPaths= source from the host');
    assert.equal(r.get('data'), 'read-only');
    assert.equal(r.get('ro'), 'read-only', 'ReadOnlyPaths=+/ro is inside the root');
    assert.equal(r.get('rw'), 'writable', 'ReadWritePaths=+/rw stays writable under strict');
    assert.equal(r.get('hostEtc'), 'hidden', "the host's /etc is not there");
    assert.equal(r.get('self'), 'cat', '/proc is mounted (MountAPIVFS= is yes by default)');
    assert.equal(r.get('sys'), 'mounted');
    assert.equal(r.get('devNull'), 'yes', "the host's /dev is bound");
    assert.equal(r.get('run'), '[]', '/run is an empty tmpfs');
    assert.ok(existsSync(join(root, 'rw', 'x')), 'the write reached the root directory');
    assert.ok(!existsSync(join(root, 'ro', 'x')));
    assert.ok(!existsSync(join(shared, 'x')));
    // Nothing of the service's mounts shows on the host.
    assert.ok(!readFileSync('/proc/self/mountinfo', 'utf8').includes(`${root}/proc`));
  });

  test('MountAPIVFS=no: a chroot alone, /proc is the root’s empty directory', async (t) => {
    if (skip(t)) return;
    const root = newRoot(['proc']);
    const port = await freePort();
    const m = await suite.start(() => ({
      'bare.socket': `[Socket]\nListenStream=127.0.0.1:${port}\n`,
      'bare.service': [
        '[Service]',
        'Type=oneshot',
        `RootDirectory=${root}`,
        'MountAPIVFS=no',
        'ExecStart=/bin/sh -c \'echo "R proc=[$(ls /proc)]"; test -e /etc && echo R etc=visible || echo R etc=hidden; echo R done=1\'',
        '',
      ].join('\n'),
    }));
    await suite.trigger(port);
    await m.waitFor(/bare\.service\[\d+\]: R done=1/, 10_000);
    const r = results(m.log, 'bare.service');
    assert.equal(r.get('proc'), '[]', `no /proc mounted:\n${m.log}`);
    assert.equal(r.get('etc'), 'hidden');
  });

  test('Accept=yes on the accept thread, User=nobody: the instance runs in the root and serves its connection', async (t) => {
    if (skip(t)) return;
    const root = newRoot();
    const port = await freePort();
    const m = await suite.start(
      () => ({
        'cell.socket': `[Socket]\nListenStream=127.0.0.1:${port}\nAccept=yes\n`,
        'cell@.service': [
          '[Service]',
          `RootDirectory=${root}`,
          'StandardInput=socket',
          // The user change happens inside the root, between the two plans.
          'User=nobody',
          'ExecStart=/bin/sh -c \'echo R top=$$(ls /); echo "R self=$$(cat /proc/self/comm)"; while read k v rest; do [ "$$k" = Uid: ] && echo R uid=$$v; done < /proc/self/status; echo R served=yes\'',
          '',
        ].join('\n'),
      }),
      { args: ['--log-level=debug'] },
    );
    await m.waitFor(/^cell\.socket: instances start on the accept thread\.$/);
    const reply = await exchange(port);
    const r = results(reply);
    assert.equal(r.get('served'), 'yes', `the activated connection is served:\n${reply}\n${m.log}`);
    assert.equal(r.get('self'), 'cat');
    assert.equal(r.get('uid'), '65534', 'User= applied inside the root');
    assert.ok(!(r.get('top') ?? '').includes('etc'), `only the root's tree: ${r.get('top')}`);
  });

  test('an executable missing from the root fails the start, naming RootDirectory=', async (t) => {
    if (skip(t)) return;
    const root = newRoot();
    mkdirSync(join(root, 'usr', 'bin'), { recursive: true });
    const port = await freePort();
    const m = await suite.start(() => ({
      'lost.socket': `[Socket]\nListenStream=127.0.0.1:${port}\n`,
      'lost.service': ['[Service]', `RootDirectory=${root}`, 'ExecStart=/usr/bin/env true', ''].join('\n'),
    }));
    await suite.trigger(port);
    await m.waitFor(/Failed to locate executable \/usr\/bin\/env inside RootDirectory=/, 10_000);
  });
});
