import assert from 'node:assert/strict';
import { spawn as nodeSpawn, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { receiveMessage, socketPair } from '../src/sys/msg.js';
import { waitReadable } from '../src/sys/poll.js';
import {
  childPids,
  describeExit,
  exitStatusName,
  kill,
  mayInheritOrphans,
  onExit,
  pidfdOpen,
  reapOrphans,
  signalName,
  signalNumber,
  waitPidfd,
} from '../src/sys/process.js';
import { close } from '../src/sys/socket.js';
import { spawnProcess } from '../src/sys/spawn.js';
import { isCloseOnExec } from './helpers/fd-flags.js';

function start(script: string): { pid: number; pidfd: number } {
  return spawnProcess({ file: '/bin/sh', argv: ['sh', '-c', script], env: { PATH: '/usr/bin:/bin' } });
}

function state(pid: number): string | undefined {
  try {
    // Field 3 of /proc/PID/stat, after the parenthesised command name.
    return readFileSync(`/proc/${pid}/stat`, 'latin1').split(') ')[1]?.[0];
  } catch {
    return undefined;
  }
}

/** Busy-waits (bounded) without turning the event loop, so libuv cannot reap anything meanwhile. */
function waitUntilZombie(pid: number, ms = 3000): void {
  const deadline = Date.now() + ms;
  while (state(pid) !== 'Z') {
    if (Date.now() > deadline)
      throw new Error(`pid ${pid} did not exit within ${ms} ms (state ${state(pid)})`);
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 2);
  }
}

test('signal names and numbers', () => {
  assert.equal(signalNumber('TERM'), 15);
  assert.equal(signalNumber('SIGKILL'), 9);
  assert.equal(signalNumber('hup'), 1);
  assert.equal(signalNumber(10), 10);
  assert.equal(signalName(15), 'TERM');
  assert.throws(() => signalNumber('NOPE'), /unknown signal 'NOPE'/);
  assert.throws(() => signalNumber(65), RangeError);
});

test('describeExit speaks like systemd ("code=…, status=N/NAME", n/a when unnamed)', () => {
  assert.equal(describeExit({ pid: 1, code: 'exited', status: 0 }), 'code=exited, status=0/SUCCESS');
  assert.equal(describeExit({ pid: 1, code: 'exited', status: 1 }), 'code=exited, status=1/FAILURE');
  assert.equal(describeExit({ pid: 1, code: 'exited', status: 3 }), 'code=exited, status=3/NOTIMPLEMENTED');
  assert.equal(describeExit({ pid: 1, code: 'exited', status: 64 }), 'code=exited, status=64/USAGE');
  assert.equal(describeExit({ pid: 1, code: 'exited', status: 203 }), 'code=exited, status=203/EXEC');
  assert.equal(describeExit({ pid: 1, code: 'exited', status: 231 }), 'code=exited, status=231/APPARMOR');
  assert.equal(describeExit({ pid: 1, code: 'exited', status: 255 }), 'code=exited, status=255/EXCEPTION');
  assert.equal(describeExit({ pid: 1, code: 'exited', status: 42 }), 'code=exited, status=42/n/a');
  assert.equal(
    describeExit({ pid: 1, code: 'killed', status: 15, signal: 'TERM' }),
    'code=killed, status=15/TERM',
  );
  assert.equal(
    describeExit({ pid: 1, code: 'dumped', status: 11, signal: 'SEGV' }),
    'code=dumped, status=11/SEGV',
  );
  assert.equal(exitStatusName(78), 'CONFIG');
  assert.equal(exitStatusName(8), undefined);
});

test('waitPidfd is undefined while the child runs; kill TERM; then it reports the signal', async () => {
  const child = start('exec sleep 30');
  try {
    assert.ok(isCloseOnExec(child.pidfd), 'pidfds are close-on-exec');
    assert.equal(waitPidfd(child.pidfd), undefined);
    kill(child.pid, 'TERM');
    const exit = await onExit(child.pid, child.pidfd);
    assert.deepEqual(exit, { pid: child.pid, code: 'killed', status: 15, signal: 'TERM' });
    assert.equal(describeExit(exit), 'code=killed, status=15/TERM');
    assert.equal(state(child.pid), undefined, 'reaped: no zombie left');
  } catch (err) {
    kill(child.pid, 'KILL');
    throw err;
  }
});

test('onExit reports exit codes and opens its own pidfd when given only a pid', async () => {
  const child = start('exit 3');
  close(child.pidfd);
  const exit = await onExit(child.pid);
  assert.deepEqual(exit, { pid: child.pid, code: 'exited', status: 3 });
  assert.equal(describeExit(exit), 'code=exited, status=3/NOTIMPLEMENTED');
});

test('a core dump is reported as dumped or killed by SEGV', async () => {
  const child = start('kill -SEGV $$');
  const exit = await onExit(child.pid, child.pidfd);
  assert.ok(exit.code === 'dumped' || exit.code === 'killed', exit.code);
  assert.equal(exit.signal, 'SEGV');
});

test('error paths: pidfd_open ESRCH, waitid ECHILD on a non-child, kill ESRCH', () => {
  const nobody = 4_000_000; // above pid_max's largest possible value (4194304) minus headroom
  assert.throws(() => pidfdOpen(nobody + 190_000), { code: 'ESRCH', syscall: 'pidfd_open' });
  const self = pidfdOpen(process.pid);
  try {
    assert.throws(
      () => waitPidfd(self),
      (err: NodeJS.ErrnoException) =>
        err.code === 'ECHILD' && /not a child of this process/.test(err.message),
    );
  } finally {
    close(self);
  }
  assert.throws(() => kill(nobody + 190_000, 0), { code: 'ESRCH', syscall: 'kill' });
  const [a, b] = socketPair();
  close(a);
  close(b);
  assert.throws(() => waitPidfd(a), { code: 'EBADF', syscall: 'waitid' });
  assert.throws(() => waitPidfd(-1), { code: 'EINVAL', syscall: 'waitid' });
});

test('reapOrphans leaves excluded pids and child_process children alone, reaps the rest', async () => {
  const managed = start('exit 4'); // the manager waits for this one through its pidfd
  const orphan = start('exit 5'); // stands in for a re-parented orphan nobody waits for
  const nodeChild = nodeSpawn('/bin/sh', ['-c', 'exit 6'], { stdio: 'ignore' });
  const nodeExit = new Promise<number | null>((res) => nodeChild.on('exit', (code) => res(code)));
  const nodePid = nodeChild.pid;
  assert.ok(nodePid);
  // All three are zombies before the event loop turns again, so libuv cannot have reaped
  // nodeChild yet: if reapOrphans took its status, its 'exit' event would never come.
  for (const pid of [managed.pid, orphan.pid, nodePid]) waitUntilZombie(pid);
  assert.ok(childPids().includes(orphan.pid));
  const reaped = reapOrphans(new Set([managed.pid, nodePid]));
  assert.deepEqual(reaped, [{ pid: orphan.pid, code: 'exited', status: 5 }]);
  assert.equal(state(nodePid), 'Z', 'child_process child still waits for libuv');
  assert.deepEqual(waitPidfd(managed.pidfd), { pid: managed.pid, code: 'exited', status: 4 });
  close(managed.pidfd);
  close(orphan.pidfd);
  assert.equal(await nodeExit, 6, "child_process still got its child's exit status");
  assert.deepEqual(reapOrphans(new Set()), [], 'nothing left');
});

test('reapOrphans with a predicate asks it per pid, at the moment of each decision', () => {
  const kept = start('exit 7');
  const orphan = start('exit 8');
  for (const pid of [kept.pid, orphan.pid]) waitUntilZombie(pid);
  const asked: number[] = [];
  const reaped = reapOrphans((pid) => {
    asked.push(pid);
    return pid === kept.pid;
  });
  assert.deepEqual(reaped, [{ pid: orphan.pid, code: 'exited', status: 8 }]);
  assert.ok(asked.includes(kept.pid), 'the kept pid was asked about');
  assert.deepEqual(
    waitPidfd(kept.pidfd),
    { pid: kept.pid, code: 'exited', status: 7 },
    'its status is still there',
  );
  close(kept.pidfd);
  close(orphan.pidfd);
});

test('onExit rejects: ESRCH for no such pid, ECHILD for a process that is not our child', async () => {
  await assert.rejects(onExit(4_190_000), { code: 'ESRCH', syscall: 'pidfd_open' });
  // A grandchild: our child starts it in the background and exits, so we are not its parent.
  const [readEnd, writeEnd] = socketPair('stream');
  try {
    const parent = spawnProcess({
      file: '/bin/sh',
      argv: ['sh', '-c', 'sleep 0.2 & echo $!'],
      env: { PATH: '/usr/bin:/bin' },
      stdout: writeEnd,
    });
    close(writeEnd);
    await onExit(parent.pid, parent.pidfd);
    assert.ok(waitReadable(readEnd, 2000));
    const grandchild = Number(receiveMessage(readEnd, { maxBytes: 32 })?.data.toString().trim());
    assert.ok(grandchild > 1, `grandchild pid ${grandchild}`);
    await assert.rejects(onExit(grandchild), (err: NodeJS.ErrnoException) => err.code === 'ECHILD');
  } finally {
    close(readEnd);
  }
});

test('mayInheritOrphans: false for an ordinary process, true for a child subreaper', () => {
  assert.equal(process.pid === 1, false, 'the test runner is not PID 1');
  assert.equal(mayInheritOrphans(), false);
  // A process that made itself a subreaper (prctl PR_SET_CHILD_SUBREAPER, kept across execve)
  // before exec'ing node: the same call there says true.
  const probe = `import('${new URL('../src/sys/process.js', import.meta.url).href}').then((m) => console.log(m.mayInheritOrphans()))`;
  const r = spawnSync(
    '/usr/bin/python3',
    [
      '-c',
      'import ctypes, os, sys; assert ctypes.CDLL(None, use_errno=True).prctl(36, 1, 0, 0, 0) == 0; os.execv(sys.argv[1], sys.argv[1:])',
      process.execPath,
      '--input-type=module',
      '-e',
      probe,
    ],
    { encoding: 'utf8', timeout: 20_000 },
  );
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout.trim(), 'true');
});
