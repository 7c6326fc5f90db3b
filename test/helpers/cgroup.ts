// A cgroup of the test's own under the unified hierarchy, for tests that need one: made with a
// name unique to the run, and always removed (its processes killed first) by `remove()`, which a
// test calls in a finally / after hook. Needs root and a writable cgroup v2 hierarchy: outside CI
// the test is skipped with the reason; in CI (CI set) their absence fails it.

import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import {
  cgroupDir,
  childCgroups,
  type Hierarchy,
  isPopulated,
  isWritable,
  removeCgroup,
  signalCgroup,
  unifiedMounts,
  waitUntilEmpty,
} from '../../src/sys/cgroup.js';

export interface TestCgroup {
  hierarchy: Hierarchy;
  /** Its path in the hierarchy (`/sockunit-test-…`). */
  path: string;
  dir: string;
  /** Kill what runs in it (and below), then remove it and every child cgroup. */
  remove(): Promise<void>;
}

/** Why this machine cannot give a test a cgroup, or undefined when it can. */
export function cgroupUnavailable(): string | undefined {
  if (process.geteuid?.() !== 0) return 'needs root to make cgroups';
  const h = unifiedMounts()[0];
  if (!h) return 'no cgroup v2 hierarchy is mounted';
  const root = cgroupDir(h, h.root);
  if (!root || !isWritable(root)) return `the cgroup v2 hierarchy at ${h.mountPoint} is not writable`;
  return undefined;
}

/** Skip the test with the reason outside CI; fail it in CI, where the machine must allow it. */
export function skipWithoutCgroups(t: { skip(message: string): void }): boolean {
  const why = cgroupUnavailable();
  if (why === undefined) return false;
  if (process.env.CI) assert.fail(`${why} (CI must run the cgroup tests as root)`);
  t.skip(why);
  return true;
}

/** Removes `dir` and everything below it, deepest first, killing what runs there. */
export async function removeTree(dir: string): Promise<void> {
  for (const child of childCgroups(dir)) await removeTree(`${dir}/${child}`);
  signalCgroup(dir, 9);
  await waitUntilEmpty(dir, 5000);
  removeCgroup(dir);
}

/** Removes a manager's cgroup subtree at `path` (in the hierarchy) and what runs there, if it
 * exists and no live manager sits in it (a manager started again on the same control socket
 * took it over). */
export async function removeCgroupPath(path: string): Promise<void> {
  const h = unifiedMounts()[0];
  const dir = h ? cgroupDir(h, path) : undefined;
  if (!dir || !existsSync(dir) || isPopulated(`${dir}/manager.scope`)) return;
  await removeTree(dir);
}

/** A fresh cgroup directly under the hierarchy's root. */
export function makeTestCgroup(prefix = 'sockunit-test'): TestCgroup {
  const hierarchy = unifiedMounts()[0];
  assert.ok(hierarchy, 'no cgroup v2 hierarchy');
  const root = hierarchy.root === '/' ? '' : hierarchy.root;
  const path = `${root}/${prefix}-${process.pid}-${randomBytes(4).toString('hex')}`;
  const dir = cgroupDir(hierarchy, path);
  assert.ok(dir);
  return { hierarchy, path, dir, remove: () => removeTree(dir) };
}
