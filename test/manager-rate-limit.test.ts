import assert from 'node:assert/strict';
import { test } from 'node:test';
import { RateLimit } from '../src/manager/rate-limit.js';

test('allows burst events per interval, then refuses until the window passes', () => {
  let now = 0;
  const limit = new RateLimit(2_000_000, 3, () => now);
  assert.deepEqual([limit.test(), limit.test(), limit.test(), limit.test()], [true, true, true, false]);
  now = 1_000_000;
  assert.equal(limit.test(), false);
  assert.equal(limit.remainingUsec(), 1_000_000);
  now = 2_000_001;
  assert.equal(limit.test(), true);
});

test('interval or burst 0 disables the limit, as in systemd', () => {
  const off = new RateLimit(0, 1, () => 0);
  for (let i = 0; i < 100; i++) assert.equal(off.test(), true);
  const off2 = new RateLimit(1_000_000, 0, () => 0);
  assert.equal(off2.enabled, false);
  assert.equal(off2.test(), true);
});
