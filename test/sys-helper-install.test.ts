// The helpers' installer (sys/helper-install.ts), for its shared variant: the sandbox helper and
// its plans live in a directory everyone may read and search (a service that has dropped to
// User= reads its second plan) but only the manager's user may write. The private variant is
// checked through the LISTEN_PID helper (sys-listen-pid-helper.test.ts).

import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { installFile, installHelperImage } from '../src/sys/helper-install.js';
import { sandboxHelperImage } from '../src/sys/syscall-plan.js';

const dir = mkdtempSync(join(tmpdir(), 'sockunit-helper-install-'));
after(() => rmSync(dir, { recursive: true, force: true }));

test('a shared directory is made 0755; a file in it keeps its mode and is replaced when it differs', () => {
  const shared = join(dir, 'shared');
  const path = installFile(shared, 'plan-a', Buffer.from('steps'), 0o644, 'shared');
  assert.equal(statSync(shared).mode & 0o7777, 0o755);
  assert.equal(statSync(path).mode & 0o7777, 0o644);
  const first = statSync(path).ino;
  assert.equal(installFile(shared, 'plan-a', Buffer.from('steps'), 0o644, 'shared'), path);
  assert.equal(statSync(path).ino, first, 'an identical file is left as it is');
  writeFileSync(path, 'tampered');
  installFile(shared, 'plan-a', Buffer.from('steps'), 0o644, 'shared');
  assert.equal(readFileSync(path, 'utf8'), 'steps');
  assert.notEqual(statSync(path).ino, first, 'a different file is replaced, not rewritten in place');
});

test('a helper installed shared is a 0755 program with the listed bytes', (t) => {
  const image = sandboxHelperImage();
  if (!image) return t.skip(`no sandbox helper for ${process.arch}`);
  const path = installHelperImage(join(dir, 'programs'), 'sandbox-test', image, 'shared');
  assert.equal(statSync(path).mode & 0o7777, 0o755);
  assert.deepEqual(new Uint8Array(readFileSync(path)), image);
});

test('a shared directory others can write to is refused, saying so', () => {
  const open = join(dir, 'open');
  mkdirSync(open);
  chmodSync(open, 0o777);
  assert.throws(
    () => installFile(open, 'plan-b', Buffer.from('steps'), 0o644, 'shared'),
    /is not a directory only uid \d+ can write \(owner uid \d+, mode 777\); remove it/,
  );
});
