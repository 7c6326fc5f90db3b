// Who could have written a unit file (src/unit/file-trust.ts), on real files: systemd's warnings
// for executable, world-writable and (system manager) world-inaccessible files; a file, its
// directory, any directory above (unless sticky) or a symbolic link on the way that another user
// may change makes a manager running as root refuse the unit, with the reason and the fix;
// --allow-unsafe-unit-files runs it with a warning; `verify` says the same.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import {
  chmodSync,
  chownSync,
  lchownSync,
  mkdirSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { FileTrust, permissionWarnings } from '../src/unit/file-trust.js';
import { BIN, freePort, managerSuite, rootUnavailable, tempDir } from './fixtures/manager/harness.js';

const NOBODY = 65534;
const ROOT_ONLY = rootUnavailable();

const scratch: string[] = [];
after(() => {
  for (const d of scratch) rmSync(d, { recursive: true, force: true });
});

/** A fresh directory of root's (0755) under /tmp, removed after the tests. */
function rootDir(purpose: string): string {
  const dir = tempDir(purpose);
  chmodSync(dir, 0o755);
  scratch.push(dir);
  return dir;
}

function unitFile(dir: string, name = 'a.socket', mode = 0o644): string {
  const path = join(dir, name);
  writeFileSync(path, '[Socket]\nListenStream=127.0.0.1:1\n', { mode });
  chmodSync(path, mode);
  return path;
}

const rootPolicy = () => new FileTrust({ trustedUsers: [0], trustedGroups: [0], severity: 'error' });
const problemOf = (path: string) => rootPolicy().problem(path, statSync(path));

describe("systemd's permission warnings", () => {
  test('executable, world-writable and, for a system manager, world-inaccessible files', () => {
    const dir = rootDir('perm');
    const messages = (mode: number, system: boolean) =>
      permissionWarnings(
        unitFile(dir, `m${mode.toString(8)}.socket`, mode),
        statSync(join(dir, `m${mode.toString(8)}.socket`)),
        system,
      ).map((d) => d.message);
    assert.deepEqual(messages(0o644, true), []);
    assert.match(messages(0o666, false).join('\n'), /marked world-writable: .*chmod o-w .*Proceeding anyway/);
    assert.match(messages(0o755, false).join('\n'), /marked executable; .*chmod a-x/);
    assert.match(messages(0o600, true).join('\n'), /marked world-inaccessible/);
    assert.deepEqual(messages(0o600, false), [], 'not for verify or a user manager');
  });
});

describe('files and directories another user could modify', { skip: ROOT_ONLY }, () => {
  test("root's file in root's directory under sticky /tmp is safe", () => {
    assert.equal(problemOf(unitFile(rootDir('safe'))), undefined);
  });

  test('a file owned by another user, or writable by another group, is not', () => {
    const dir = rootDir('owner');
    const owned = unitFile(dir, 'owned.socket');
    chownSync(owned, NOBODY, 0);
    assert.match(problemOf(owned) ?? '', /the file .*owned\.socket is owned by uid 65534/);
    const group = unitFile(dir, 'group.socket', 0o664);
    chownSync(group, 0, NOBODY);
    assert.match(problemOf(group) ?? '', /the file .*group\.socket is writable by group 65534/);
    const world = unitFile(dir, 'world.socket', 0o666);
    assert.match(problemOf(world) ?? '', /is writable by every user/);
  });

  test('a unit directory others may write is unsafe, sticky or not; one above is safe only sticky', () => {
    const open = rootDir('open');
    chmodSync(open, 0o1777);
    assert.match(problemOf(unitFile(open)) ?? '', /the unit directory .* is writable by every user/);
    const above = rootDir('above');
    const units = join(above, 'units');
    mkdirSync(units, { mode: 0o755 });
    const file = unitFile(units);
    chmodSync(above, 0o777);
    assert.match(problemOf(file) ?? '', new RegExp(`the directory ${above} is writable by every user`));
    chmodSync(above, 0o1777);
    assert.equal(problemOf(file), undefined, 'a sticky directory above keeps others from replacing units/');
    chownSync(units, NOBODY, 0);
    assert.match(problemOf(file) ?? '', /the unit directory .*units is owned by uid 65534/);
  });

  test('a unit directory reached through a symbolic link another user owns, or a link into an open directory', () => {
    const base = rootDir('links');
    chmodSync(base, 0o1777); // as /tmp: anyone may add a link here
    const real = join(base, 'real');
    mkdirSync(real, { mode: 0o755 });
    unitFile(real);
    const link = join(base, 'link');
    symlinkSync(real, link);
    assert.equal(problemOf(join(link, 'a.socket')), undefined, "root's link to root's directory");
    lchownSync(link, NOBODY, NOBODY);
    assert.match(problemOf(join(link, 'a.socket')) ?? '', /the symbolic link .*link is owned by uid 65534/);
    // An alias in a safe directory that points into a directory anyone may write.
    const safe = rootDir('alias');
    const open = rootDir('alias-target');
    chmodSync(open, 0o777);
    unitFile(open, 'target.socket');
    symlinkSync(join(open, 'target.socket'), join(safe, 'alias.socket'));
    assert.match(
      problemOf(join(safe, 'alias.socket')) ?? '',
      /the unit directory .* is writable by every user/,
    );
  });
});

describe('sockunit run as root and verify', { skip: ROOT_ONLY }, () => {
  const suite = managerSuite('trust');

  const build = async (dir: string) => {
    const good = await freePort();
    const bad = await freePort();
    writeFileSync(join(dir, 'good.socket'), `[Socket]\nListenStream=127.0.0.1:${good}\n`);
    writeFileSync(join(dir, 'good.service'), '[Service]\nExecStart=/bin/true\n');
    writeFileSync(join(dir, 'bad.socket'), `[Socket]\nListenStream=127.0.0.1:${bad}\n`);
    writeFileSync(join(dir, 'bad.service'), '[Service]\nExecStart=/bin/true\n');
    chownSync(join(dir, 'bad.socket'), NOBODY, NOBODY);
    return { good, bad };
  };

  test('a unit file another user owns is refused, with the reason and the fix; the others run', async () => {
    const dir = rootDir('trust-run');
    await build(dir);
    const m = await suite.run({ dir, units: {} });
    await m.waitFor(
      /bad\.socket: refusing to run this unit as root: the file .*bad\.socket is owned by uid 65534, so that user could change what runs as root; make the file .* owned by root .*--allow-unsafe-unit-files/,
    );
    assert.match(m.log, /1 of 1 socket units listening/, m.log);
    assert.match(m.log, /Listening on good\.socket/);
    assert.doesNotMatch(m.log, /Listening on bad\.socket/);
  });

  test('--allow-unsafe-unit-files runs it, saying why it should not', async () => {
    const dir = rootDir('trust-allow');
    await build(dir);
    const m = await suite.run({ dir, units: {}, args: ['--allow-unsafe-unit-files'] });
    assert.match(m.log, /2 of 2 socket units listening/, m.log);
    assert.match(
      m.log,
      /bad\.socket: running this unit as root although the file .*bad\.socket is owned by uid 65534 \(--allow-unsafe-unit-files\)/,
    );
  });

  test('verify says the same: an error as root, a warning with the option', async () => {
    const dir = rootDir('trust-verify');
    await build(dir);
    const verify = (...extra: string[]) =>
      spawnSync(
        process.execPath,
        [BIN, 'verify', ...extra, join(dir, 'bad.socket'), join(dir, 'good.socket')],
        {
          encoding: 'utf8',
          timeout: 20_000,
        },
      );
    const refused = verify();
    assert.equal(refused.status, 1, refused.stdout + refused.stderr);
    assert.match(refused.stdout, /bad\.socket: refusing to run this unit as root: .*owned by uid 65534/);
    assert.doesNotMatch(refused.stdout, /good\.socket: refusing/);
    const allowed = verify('--allow-unsafe-unit-files');
    assert.equal(allowed.status, 0, allowed.stdout + allowed.stderr);
    assert.match(allowed.stdout, /bad\.socket: running this unit as root although/);
  });
});
