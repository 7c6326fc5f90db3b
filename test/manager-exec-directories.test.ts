// What a unit gets on disk from `sockunit run`, checked with stat from outside: the five
// *Directory= kinds under /run, /var/lib, /var/cache, /var/log and /etc, owned by User=, with
// their *Mode=, symlinks and $*_DIRECTORY; runtime directories removed at stop per
// RuntimeDirectoryPreserve=; a file in the way fails the start with 238/STATE_DIRECTORY; the
// credentials directory (LoadCredential=, SetCredential=, ImportCredential= from the manager's own
// $CREDENTIALS_DIRECTORY) readable only by the service's user, read-only, gone at stop; and
// DynamicUser=: a uid of systemd's range, StateDirectory= under a root-only private/ with the
// symlink at the usual place, the same uid again after a restart.

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import {
  existsSync,
  lstatSync,
  mkdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import {
  BIN,
  freePort,
  type ManagerProcess,
  managerSuite,
  rootUnavailable,
  waitUntil,
} from './fixtures/manager/harness.js';
import { openOutDir } from './fixtures/manager/out-dir.js';

const NOBODY = 65534;
const tag = `sockunit-test-${process.pid}`;
const made: string[] = [];
after(() => {
  for (const p of made) rmSync(p, { recursive: true, force: true });
});

/** A path this test creates outside its temp directory, removed at the end. */
function owned(path: string): string {
  made.push(path);
  return path;
}

function sockunit(m: ManagerProcess, ...args: string[]): string {
  return execFileSync(process.execPath, [BIN, ...args, '--control-socket', m.controlSocket], {
    encoding: 'utf8',
  });
}

function readWhenThere(path: string): Promise<string> {
  return waitUntil(`${path}`, () => (existsSync(path) ? readFileSync(path, 'utf8') || undefined : undefined));
}

/** Keeps `sockunit run` up for units started by hand: it needs one socket unit to run. */
async function withIdleSocket(units: Record<string, string>): Promise<Record<string, string>> {
  const port = await freePort();
  return {
    ...units,
    'idle.socket': `[Socket]\nListenStream=127.0.0.1:${port}\n`,
    'idle.service': '[Service]\nExecStart=/bin/true\n',
  };
}

function envOf(text: string): Record<string, string> {
  return Object.fromEntries(
    text
      .split('\n')
      .filter((l) => l.includes('='))
      .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
  );
}

describe('sockunit run: RuntimeDirectory=, StateDirectory=, CacheDirectory=, LogsDirectory=, ConfigurationDirectory=', () => {
  const suite = managerSuite('exec-dirs', openOutDir);

  test('created owned by User= with their modes, exported, a symlink item; the runtime one removed at stop', async (t) => {
    const why = rootUnavailable();
    if (why) return t.skip(why);
    const name = `${tag}-dirs`;
    for (const root of ['/run', '/var/lib', '/var/cache', '/var/log', '/etc']) owned(join(root, name));
    owned(`/run/${name}-link`);
    const idle = await withIdleSocket({});
    const m = await suite.start((dir) => ({
      ...idle,
      'dirs.service': [
        '[Service]',
        'Type=oneshot',
        'RemainAfterExit=yes',
        'User=nobody',
        `RuntimeDirectory=${name}/sub:${name}-link`,
        `StateDirectory=${name}`,
        'StateDirectoryMode=0750',
        `CacheDirectory=${name}`,
        `LogsDirectory=${name}`,
        `ConfigurationDirectory=${name}`,
        'ConfigurationDirectoryMode=0755',
        `ExecStart=/bin/sh -c 'env > ${dir}/out/env; touch "$$STATE_DIRECTORY/written"'`,
        '',
      ].join('\n'),
    }));
    sockunit(m, 'start', 'dirs.service');
    const env = envOf(await readWhenThere(join(m.dir, 'out', 'env')));
    assert.equal(env.RUNTIME_DIRECTORY, `/run/${name}/sub`);
    assert.equal(env.STATE_DIRECTORY, `/var/lib/${name}`);
    assert.equal(env.CACHE_DIRECTORY, `/var/cache/${name}`);
    assert.equal(env.LOGS_DIRECTORY, `/var/log/${name}`);
    assert.equal(env.CONFIGURATION_DIRECTORY, `/etc/${name}`);
    const st = (p: string) => statSync(p);
    assert.equal(st(`/run/${name}/sub`).uid, NOBODY);
    assert.equal(st(`/run/${name}/sub`).mode & 0o7777, 0o755);
    assert.equal(st(`/run/${name}`).uid, 0, 'parents are root 0755');
    assert.equal(st(`/var/lib/${name}`).mode & 0o7777, 0o750);
    assert.equal(st(`/var/lib/${name}`).uid, NOBODY);
    assert.equal(st(`/var/lib/${name}/written`).uid, NOBODY, 'the service could write to it');
    assert.equal(st(`/var/cache/${name}`).uid, NOBODY);
    assert.equal(st(`/var/log/${name}`).uid, NOBODY);
    assert.equal(st(`/etc/${name}`).uid, NOBODY, 'a new configuration directory is the user’s too');
    assert.equal(readlinkSync(`/run/${name}-link`), `${name}/sub`);
    sockunit(m, 'stop', 'dirs.service');
    await waitUntil('runtime directory removed', () => (existsSync(`/run/${name}/sub`) ? undefined : true));
    assert.equal(existsSync(`/run/${name}-link`), false, 'and its symlink');
    assert.equal(existsSync(`/var/lib/${name}/written`), true, 'StateDirectory= stays');
  });

  test('RuntimeDirectoryPreserve=restart keeps it across an automatic restart; no: a fresh one each run', async (t) => {
    const why = rootUnavailable();
    if (why) return t.skip(why);
    const runs: Record<string, string> = {};
    for (const preserve of ['restart', 'no']) {
      const name = `${tag}-keep-${preserve}`;
      owned(`/run/${name}`);
      const idle = await withIdleSocket({});
      const m = await suite.start((dir) => ({
        ...idle,
        'keep.service': [
          '[Service]',
          `RuntimeDirectory=${name}`,
          `RuntimeDirectoryPreserve=${preserve}`,
          'Restart=on-failure',
          'RestartSec=50ms',
          // First run: marks the directory and fails; second run: says whether the mark survived.
          `ExecStart=/bin/sh -c 'if [ -e ${dir}/out/ran ]; then ls "$$RUNTIME_DIRECTORY" > ${dir}/out/seen; mv ${dir}/out/seen ${dir}/out/second; exec sleep 30; fi; touch ${dir}/out/ran "$$RUNTIME_DIRECTORY/mark"; exit 1'`,
          '',
        ].join('\n'),
      }));
      sockunit(m, 'start', 'keep.service');
      runs[preserve] = await waitUntil('the second run', () =>
        existsSync(join(m.dir, 'out', 'second'))
          ? readFileSync(join(m.dir, 'out', 'second'), 'utf8').trim()
          : undefined,
      );
      sockunit(m, 'stop', 'keep.service');
      await m.waitFor(/^Stopped keep\.service\./);
      await waitUntil('removed at stop', () => (existsSync(`/run/${name}`) ? undefined : true));
    }
    assert.equal(runs.restart, 'mark');
    assert.equal(runs.no, '');
  });

  test('RuntimeDirectoryPreserve=yes keeps it after the stop', async (t) => {
    const why = rootUnavailable();
    if (why) return t.skip(why);
    const name = owned(`/run/${tag}-preserved`);
    const idle = await withIdleSocket({});
    const m = await suite.start(() => ({
      ...idle,
      'pres.service': `[Service]\nRuntimeDirectory=${name.slice(5)}\nRuntimeDirectoryPreserve=yes\nExecStart=/bin/sleep 30\n`,
    }));
    sockunit(m, 'start', 'pres.service');
    await waitUntil('created', () => (existsSync(name) ? true : undefined));
    sockunit(m, 'stop', 'pres.service');
    await m.waitFor(/^Stopped pres\.service\./);
    assert.equal(statSync(name).isDirectory(), true);
  });

  test('a file where the directory should be: 238/STATE_DIRECTORY, naming the key and the fix', async (t) => {
    const why = rootUnavailable();
    if (why) return t.skip(why);
    const name = `${tag}-file`;
    writeFileSync(owned(`/var/lib/${name}`), 'not a directory\n');
    const idle = await withIdleSocket({});
    const m = await suite.start(() => ({
      ...idle,
      'file.service': `[Service]\nStateDirectory=${name}\nExecStart=/bin/sleep 30\n`,
    }));
    try {
      sockunit(m, 'start', 'file.service');
    } catch {}
    await m.waitFor(/^file\.service: Main process exited, code=exited, status=238\/STATE_DIRECTORY$/);
    await m.waitFor(/^file\.service: Failed with result 'exit-code'\.$/);
    assert.match(
      m.log,
      new RegExp(
        `StateDirectory=${name}: cannot set up /var/lib/${name}: /var/lib/${name} exists and is not a directory; remove or rename what is in the way, or choose another name in StateDirectory=`,
      ),
    );
    assert.equal(readFileSync(`/var/lib/${name}`, 'utf8'), 'not a directory\n', 'the file is left alone');
  });
});

describe('sockunit run: LoadCredential=, SetCredential=, ImportCredential=', () => {
  const suite = managerSuite('exec-creds', openOutDir);

  test('a private, read-only $CREDENTIALS_DIRECTORY for the service’s user; gone at stop', async (t) => {
    const why = rootUnavailable();
    if (why) return t.skip(why);
    const theirs = `/tmp/${tag}-manager-creds`;
    mkdirSync(owned(theirs), { recursive: true });
    writeFileSync(join(theirs, 'db.password'), 'from the manager\n');
    writeFileSync(join(theirs, 'db.user'), 'admin\n');
    writeFileSync(join(theirs, 'other'), 'not imported\n');
    const idle = await withIdleSocket({});
    const m = await suite.start(
      (dir) => {
        writeFileSync(join(dir, 'token'), 'secret file\n', { mode: 0o600 });
        writeFileSync(
          join(dir, 'show.sh'),
          [
            'cd "$CREDENTIALS_DIRECTORY" || exit 1',
            // seen is renamed into place last: once it is there, so are where and touch.
            `touch new 2> ${dir}/out/touch`,
            `echo "$CREDENTIALS_DIRECTORY" > ${dir}/out/where`,
            `for f in *; do printf '%s=%s\\n' "$f" "$(tr '\\n' '|' < "$f")"; done > ${dir}/out/seen.tmp`,
            `mv ${dir}/out/seen.tmp ${dir}/out/seen`,
            'exec sleep 30',
            '',
          ].join('\n'),
          { mode: 0o644 },
        );
        mkdirSync(join(dir, 'certs/sub'), { recursive: true });
        writeFileSync(join(dir, 'certs/a.pem'), 'A\n');
        writeFileSync(join(dir, 'certs/sub/b.pem'), 'B\n');
        return {
          ...idle,
          'cred.service': [
            '[Service]',
            'User=nobody',
            `LoadCredential=token:${dir}/token`,
            `LoadCredential=certs:${dir}/certs`,
            `LoadCredential=fallback:${dir}/missing`,
            'SetCredential=fallback:default\\x20value',
            'SetCredential=literal:a\\nb',
            'ImportCredential=db.*:imported.',
            `ExecStart=/bin/sh ${dir}/show.sh`,
            '',
          ].join('\n'),
        };
      },
      { env: { ...process.env, CREDENTIALS_DIRECTORY: theirs } },
    );
    sockunit(m, 'start', 'cred.service');
    const seen = await readWhenThere(join(m.dir, 'out', 'seen'));
    assert.deepEqual(seen.trim().split('\n'), [
      'certs_a.pem=A|',
      'certs_sub_b.pem=B|',
      'fallback=default value',
      'imported.password=from the manager|',
      'imported.user=admin|',
      'literal=a|b',
      'token=secret file|',
    ]);
    const where = (await readWhenThere(join(m.dir, 'out', 'where'))).trim();
    assert.equal(where, '/run/credentials/cred.service', 'what %d expands to');
    const dir = statSync(where);
    assert.equal(dir.uid, NOBODY);
    assert.equal(dir.mode & 0o7777, 0o500);
    const token = statSync(join(where, 'token'));
    assert.equal(token.uid, NOBODY);
    assert.equal(token.mode & 0o7777, 0o400);
    assert.match(
      readFileSync(join(m.dir, 'out', 'touch'), 'utf8'),
      /Read-only file system|Permission denied/,
    );
    const mount = readFileSync('/proc/self/mountinfo', 'utf8')
      .split('\n')
      .find((l) => l.split(' ')[4] === where);
    assert.match(mount ?? '', /\sro,/, 'bound read-only');
    sockunit(m, 'stop', 'cred.service');
    await m.waitFor(/^Stopped cred\.service\./);
    await waitUntil('credentials removed', () => (existsSync(where) ? undefined : true));
  });

  test('a LoadCredential= file that is missing, with no SetCredential= default: 243/CREDENTIALS', async (t) => {
    const why = rootUnavailable();
    if (why) return t.skip(why);
    const idle = await withIdleSocket({});
    const m = await suite.start((dir) => ({
      ...idle,
      'nocred.service': `[Service]\nLoadCredential=key:${dir}/missing.key\nExecStart=/bin/sleep 30\n`,
    }));
    try {
      sockunit(m, 'start', 'nocred.service');
    } catch {}
    await m.waitFor(/^nocred\.service: Main process exited, code=exited, status=243\/CREDENTIALS$/);
    assert.match(
      m.log,
      /LoadCredential=key:.*missing\.key: ENOENT: no such file or directory.*; fix the path or give a default with SetCredential=ID:VALUE/,
    );
  });
});

describe('sockunit run: DynamicUser=', () => {
  const suite = managerSuite('exec-dynamic', openOutDir);

  test('a uid of systemd’s range, its StateDirectory= under a root-only private/, the same uid after a restart', async (t) => {
    const why = rootUnavailable();
    if (why) return t.skip(why);
    const unit = `sockunit-dyn-${process.pid}`;
    owned(`/var/lib/${unit}`);
    owned(`/var/lib/private/${unit}`);
    const idle = await withIdleSocket({});
    const m = await suite.start((dir) => ({
      ...idle,
      [`${unit}.service`]: [
        '[Service]',
        'DynamicUser=yes',
        `StateDirectory=${unit}`,
        // Reports go to its state directory: DynamicUser= implies a private /tmp (where the test's
        // directory is) and a read-only system (systemd's unit_patch_contexts()).
        `ExecStart=/bin/sh -c 'cd "$$STATE_DIRECTORY"; grep NoNewPrivs /proc/self/status > nnp; grep " / / " /proc/self/mountinfo > root; test -e ${dir}/out && echo visible > tmp || echo private > tmp; id -u >> uids; exec sleep 30'`,
        '',
      ].join('\n'),
    }));
    sockunit(m, 'start', `${unit}.service`);
    const uids = await readWhenThere(`/var/lib/private/${unit}/uids`);
    const uid = Number(uids.trim());
    assert.ok(uid >= 61184 && uid <= 65519, `uid ${uid} in 61184-65519`);
    assert.equal(lstatSync(`/var/lib/${unit}`).isSymbolicLink(), true);
    assert.equal(readlinkSync(`/var/lib/${unit}`), `private/${unit}`);
    const priv = statSync('/var/lib/private');
    assert.equal(priv.uid, 0);
    assert.equal(priv.mode & 0o7777, 0o700, 'nobody else can enter private/');
    assert.equal(statSync(`/var/lib/private/${unit}`).uid, uid);
    const state = `/var/lib/private/${unit}`;
    assert.match(
      readFileSync(join(state, 'nnp'), 'utf8'),
      /NoNewPrivs:\s+1/,
      'DynamicUser= implies NoNewPrivileges=',
    );
    // The topmost mount on / (mountinfo's sixth field: its options).
    const root = readFileSync(join(state, 'root'), 'utf8').trim().split('\n').pop()?.split(' ')[5] ?? '';
    assert.match(root, /^ro\b/, 'and ProtectSystem=strict: / is read-only');
    assert.equal(
      readFileSync(join(state, 'tmp'), 'utf8'),
      'private\n',
      'and PrivateTmp=: the host /tmp is not there',
    );
    sockunit(m, 'restart', `${unit}.service`);
    const again = await waitUntil('second run', () => {
      const lines = readFileSync(`/var/lib/private/${unit}/uids`, 'utf8').trim().split('\n');
      return lines.length >= 2 ? lines : undefined;
    });
    assert.deepEqual(again, [String(uid), String(uid)], 'the same uid: the state stays its own');
  });
});
