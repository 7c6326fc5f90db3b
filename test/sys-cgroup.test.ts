import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import {
  availableControllers,
  cgroupDir,
  cgroupFigures,
  cgroupOf,
  createCgroup,
  enableControllers,
  isPopulated,
  moveProcess,
  processesIn,
  removeCgroup,
  signalCgroup,
  unifiedMounts,
  waitUntilEmpty,
} from '../src/sys/cgroup.js';
import { onExit } from '../src/sys/process.js';
import { spawnProcess } from '../src/sys/spawn.js';
import { makeTestCgroup, skipWithoutCgroups } from './helpers/cgroup.js';

const MOUNTINFO = [
  '31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755',
  '35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory',
  '41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw',
  '90 80 0:38 /machine.slice/c1 /mnt/my\\040cgroups rw - cgroup2 cgroup2 rw',
].join('\n');

test('unifiedMounts: the cgroup2 mounts, the conventional place first, escapes undone', () => {
  assert.deepEqual(unifiedMounts(MOUNTINFO), [
    { mountPoint: '/sys/fs/cgroup/unified', root: '/' },
    { mountPoint: '/mnt/my cgroups', root: '/machine.slice/c1' },
  ]);
  assert.deepEqual(unifiedMounts('41 31 0:38 / /sys/fs/cgroup rw - cgroup cgroup rw,cpu'), []);
});

test('cgroupDir: a path below the mounted root maps into the mount; one outside does not', () => {
  const h = { mountPoint: '/mnt/c', root: '/machine.slice/c1' };
  assert.equal(cgroupDir(h, '/machine.slice/c1'), '/mnt/c');
  assert.equal(cgroupDir(h, '/machine.slice/c1/web.service'), '/mnt/c/web.service');
  assert.equal(cgroupDir(h, '/machine.slice/c10'), undefined);
  assert.equal(cgroupDir(h, '/'), undefined);
  assert.equal(cgroupDir({ mountPoint: '/sys/fs/cgroup', root: '/' }, '/a/b'), '/sys/fs/cgroup/a/b');
  assert.equal(cgroupDir({ mountPoint: '/sys/fs/cgroup', root: '/' }, '/'), '/sys/fs/cgroup');
});

test('cgroupOf: the 0:: line of /proc/PID/cgroup; undefined for a process that is gone', () => {
  const line = readFileSync('/proc/self/cgroup', 'latin1')
    .split('\n')
    .find((l) => l.startsWith('0::'));
  assert.equal(cgroupOf(), line?.slice(3));
  assert.equal(cgroupOf(2 ** 22 + 1), undefined); // above any pid_max
});

test('a cgroup: processes in it, populated, not removable while populated; signals reach a setsid grandchild; cgroup.kill ends what ignores SIGTERM', async (t) => {
  if (skipWithoutCgroups(t)) return;
  const cg = makeTestCgroup();
  try {
    createCgroup(cg.dir);
    createCgroup(cg.dir); // again: fine
    assert.equal(isPopulated(cg.dir), false);
    const child = spawnProcess({
      file: '/bin/sh',
      // The grandchild leaves the session and ignores SIGTERM; its parent waits for it.
      argv: ['sh', '-c', 'setsid sh -c \'trap "" TERM; exec sleep 1000\' & wait'],
      env: {},
      setsid: true,
      cgroup: cg.dir,
    });
    const exit = onExit(child.pid, child.pidfd);
    await waitFor(() => processesIn(cg.dir).some((pid) => comm(pid) === 'sleep'), 'the sleep in the cgroup');
    assert.equal(isPopulated(cg.dir), true);
    assert.equal(removeCgroup(cg.dir), false, 'a populated cgroup stays');
    const grandchild = processesIn(cg.dir).find((pid) => pid !== child.pid && comm(pid) === 'sleep');
    assert.ok(grandchild, `the sleep is in the cgroup: ${processesIn(cg.dir).map(comm).join(', ')}`);
    assert.notEqual(sessionOf(grandchild), child.pid, 'the grandchild left the session');

    const there = processesIn(cg.dir).length;
    assert.equal(signalCgroup(cg.dir, 15), there);
    await exit; // the shell took SIGTERM
    assert.deepEqual(processesIn(cg.dir), [grandchild], 'the grandchild ignores SIGTERM');
    assert.equal(await waitUntilEmpty(cg.dir, 100), false, 'still populated after the wait');

    signalCgroup(cg.dir, 9);
    assert.equal(await waitUntilEmpty(cg.dir, 10_000), true);
    assert.equal(removeCgroup(cg.dir), true);
    assert.equal(removeCgroup(cg.dir), true, 'a cgroup that is gone counts as removed');
    assert.equal(signalCgroup(cg.dir, 9), 0);
  } finally {
    await cg.remove();
  }
});

test('cgroupFigures: tasks and CPU from any cgroup; memory only with the memory controller', async (t) => {
  if (skipWithoutCgroups(t)) return;
  const cg = makeTestCgroup();
  try {
    createCgroup(cg.dir);
    const child = spawnProcess({
      file: '/bin/sh',
      argv: ['sh', '-c', 'i=0; while [ $i -lt 20000 ]; do i=$((i+1)); done; exec sleep 1000'],
      env: {},
      cgroup: cg.dir,
    });
    const exit = onExit(child.pid, child.pidfd);
    await waitFor(() => comm(child.pid) === 'sleep', 'the loop is done');
    const figures = cgroupFigures(cg.dir);
    assert.equal(figures.tasks, 1);
    assert.ok((figures.cpuUsec ?? 0) > 0, `cpu.stat usage_usec: ${figures.cpuUsec}`);
    const hasMemory = availableControllers(cg.dir).has('memory');
    assert.equal(figures.memoryBytes !== undefined, hasMemory);
    signalCgroup(cg.dir, 9);
    await exit;
  } finally {
    await cg.remove();
  }
});

test('enableControllers: refused (EBUSY) while the cgroup holds a process, granted once it sits in a leaf', async (t) => {
  if (skipWithoutCgroups(t)) return;
  const h = unifiedMounts()[0]!;
  const free = [...availableControllers(cgroupDir(h, h.root)!)];
  if (free.length === 0) {
    // Every controller is bound to cgroup v1 here (a hybrid machine): nothing can be enabled.
    t.skip('no controller is available to cgroup v2 on this machine');
    return;
  }
  const cg = makeTestCgroup();
  try {
    createCgroup(cg.dir);
    const parentControl = `${cgroupDir(h, h.root)}/cgroup.subtree_control`;
    const enabledAtRoot = readFileSync(parentControl, 'latin1').split(/\s+/);
    const name = free.find((c) => enabledAtRoot.includes(c)) ?? free[0]!;
    if (!enabledAtRoot.includes(name)) {
      t.skip(
        `the root does not hand ${name} down (its subtree_control), and the test does not change the root`,
      );
      return;
    }
    const child = spawnProcess({ file: '/bin/sleep', argv: ['sleep', '1000'], env: {}, cgroup: cg.dir });
    const exit = onExit(child.pid, child.pidfd);
    const refused = enableControllers(cg.dir, [name]);
    assert.equal(refused.length, 1);
    assert.match(refused[0]!.error.message, /EBUSY|busy/i);
    createCgroup(`${cg.dir}/leaf`);
    moveProcess(`${cg.dir}/leaf`, child.pid);
    assert.deepEqual(enableControllers(cg.dir, [name]), []);
    assert.ok(availableControllers(`${cg.dir}/leaf`).has(name));
    signalCgroup(cg.dir, 9);
    await exit;
  } finally {
    await cg.remove();
  }
});

function comm(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/comm`, 'latin1').trim();
  } catch {
    return '?';
  }
}

function sessionOf(pid: number): number {
  // /proc/PID/stat: pid (comm) state ppid pgrp session …
  const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
  return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[3]);
}

async function waitFor(ok: () => boolean, what: string, limitMs = 10_000): Promise<void> {
  const until = Date.now() + limitMs;
  while (!ok()) {
    if (Date.now() > until) assert.fail(`timed out waiting for: ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}
