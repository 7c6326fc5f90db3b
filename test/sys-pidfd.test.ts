// pidfdInodeId(): the LISTEN_PIDFDID value, unique per process on pidfs kernels.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { test } from 'node:test';
import { pidfdInodeId } from '../src/sys/pidfd.js';

test('pidfdInodeId is stable for one process and differs between processes', async (t) => {
  const own = pidfdInodeId(process.pid);
  if (own === undefined) return t.skip('this kernel has no pidfs (Linux < 6.9): pidfd inodes are not unique');
  assert.equal(pidfdInodeId(process.pid), own, 'every pidfd of a process has the same inode');
  const child = spawn('/bin/sleep', ['5'], { stdio: 'ignore' });
  try {
    const theirs = pidfdInodeId(child.pid as number);
    assert.ok(theirs !== undefined && theirs !== own);
  } finally {
    child.kill('SIGKILL');
  }
});

test('pidfdInodeId of a pid that does not exist is undefined', () => {
  // pid_max is at most 2^22 on Linux: this pid cannot exist.
  assert.equal(pidfdInodeId(2 ** 22 + 1), undefined);
});
