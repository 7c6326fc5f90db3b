import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  classifyExit,
  type RestartPolicy,
  type ServiceResult,
  shouldRestart,
} from '../src/manager/service/restart-policy.js';

// systemd's service_shall_restart() (src/core/service.c), result by result: which Restart= values
// restart. systemd.service(5)'s table shows the common rows; the source also restarts after
// `resources`, `protocol`, `start-limit-hit` and `oom-kill` under always/on-failure/on-abnormal
// (on-abnormal excludes only success, exit-code and exec-condition), and never after a skipped
// condition.
const expected: Record<ServiceResult, RestartPolicy[]> = {
  success: ['always', 'on-success'],
  'exit-code': ['always', 'on-failure'],
  signal: ['always', 'on-failure', 'on-abnormal', 'on-abort'],
  'core-dump': ['always', 'on-failure', 'on-abnormal', 'on-abort'],
  timeout: ['always', 'on-failure', 'on-abnormal'],
  watchdog: ['always', 'on-failure', 'on-abnormal', 'on-watchdog'],
  resources: ['always', 'on-failure', 'on-abnormal'],
  protocol: ['always', 'on-failure', 'on-abnormal'],
  'start-limit-hit': ['always', 'on-failure', 'on-abnormal'],
  'oom-kill': ['always', 'on-failure', 'on-abnormal'],
  'exec-condition': [],
};
const policies: RestartPolicy[] = [
  'no',
  'always',
  'on-success',
  'on-failure',
  'on-abnormal',
  'on-abort',
  'on-watchdog',
];

test("Restart= table matches systemd's service_shall_restart()", () => {
  for (const [result, restarting] of Object.entries(expected) as [ServiceResult, RestartPolicy[]][]) {
    for (const policy of policies) {
      assert.equal(
        shouldRestart({ policy }, { result }),
        restarting.includes(policy),
        `${policy} after ${result}`,
      );
    }
  }
});

test('a requested stop never restarts; Prevent/Force exit status override the policy', () => {
  assert.equal(shouldRestart({ policy: 'always' }, { result: 'success', requestedStop: true }), false);
  assert.equal(
    shouldRestart({ policy: 'always', preventExitStatus: new Set([3]) }, { result: 'exit-code', status: 3 }),
    false,
  );
  assert.equal(
    shouldRestart({ policy: 'no', forceExitStatus: new Set(['KILL']) }, { result: 'signal', signal: 'KILL' }),
    true,
  );
});

test('clean exits: status 0, HUP/INT/TERM/PIPE except for oneshot, SuccessExitStatus=', () => {
  assert.equal(classifyExit({ status: 0 }), 'success');
  assert.equal(classifyExit({ status: 1 }), 'exit-code');
  assert.equal(classifyExit({ status: 75 }, { successExitStatus: new Set([75]) }), 'success');
  assert.equal(classifyExit({ signal: 'TERM' }), 'success');
  assert.equal(classifyExit({ signal: 'TERM' }, { oneshot: true }), 'signal');
  assert.equal(classifyExit({ signal: 'KILL' }), 'signal');
  assert.equal(classifyExit({ signal: 'SEGV', dumped: true }), 'core-dump');
});
