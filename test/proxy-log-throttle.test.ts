// One log line per cause per interval: the first occurrence at once, the rest counted and
// reported when the interval ends. Time is passed in, so nothing here waits.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { LogThrottle } from '../src/proxy/log-throttle.js';

describe('proxy log throttle', () => {
  test('a burst of one cause is one line, then one summary line per interval', () => {
    const lines: string[] = [];
    const log = new LogThrottle(10_000, (m) => lines.push(m));
    for (let t = 0; t < 5; t++) log.report('refused', `refused #${t}`, t);
    assert.deepEqual(lines, ['refused #0']);
    assert.equal(log.flush(5_000), 10_000, 'the window closes 10 s after the first line');
    assert.deepEqual(lines, ['refused #0']);
    log.flush(10_000);
    assert.deepEqual(lines, ['refused #0', 'refused #4 (4 more times in the last 10s)']);
    // Still happening: counted in the next window; a quiet window ends the cause.
    log.report('refused', 'refused #5', 12_000);
    log.flush(20_000);
    assert.equal(lines.at(-1), 'refused #5 (1 more time in the last 10s)');
    assert.equal(log.flush(30_000), Number.POSITIVE_INFINITY, 'nothing open after a quiet window');
    log.report('refused', 'refused again', 31_000);
    assert.equal(lines.at(-1), 'refused again', 'logged at once after a quiet window');
  });

  test('causes are counted apart', () => {
    const lines: string[] = [];
    const log = new LogThrottle(1000, (m) => lines.push(m));
    log.report('a', 'A', 0);
    log.report('b', 'B', 1);
    log.report('a', 'A', 2);
    assert.deepEqual(lines, ['A', 'B']);
    log.flush(1001);
    assert.deepEqual(lines, ['A', 'B', 'A (1 more time in the last 1s)']);
  });
});
