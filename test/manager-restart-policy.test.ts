import assert from 'node:assert/strict';
import { describe, it, test } from 'node:test';
import {
  classifyExit,
  type RestartPolicy,
  restartsAfter,
  resultOfExit,
  type ServiceResult,
  shouldRestart,
} from '../src/manager/service/restart-policy.js';
import type { ExitStatus } from '../src/sys/process.js';
import { typeUnit } from '../src/unit/load-unit.js';
import type { ServiceSection, ServiceUnitConfig } from '../src/unit/service-config.js';
import { specifierContext } from '../src/unit/specifiers.js';
import { parseUnitText } from '../src/unit/syntax.js';

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

describe('mutation-tested: exit classification and the exit-status lists, as systemd reads them', () => {
  it('HUP, INT, TERM and PIPE each end a daemon cleanly (is_clean_exit, EXIT_CLEAN_DAEMON)', () => {
    for (const signal of ['HUP', 'INT', 'TERM', 'PIPE']) {
      assert.equal(classifyExit({ signal }), 'success', signal);
      assert.equal(classifyExit({ signal }, { oneshot: true }), 'signal', `oneshot ${signal}`);
    }
    assert.equal(classifyExit({ signal: 'USR1' }), 'signal');
  });

  it('a signal in SuccessExitStatus= is a clean end, for a oneshot too', () => {
    const success = new Set<number | string>(['USR1']);
    assert.equal(classifyExit({ signal: 'USR1' }, { successExitStatus: success }), 'success');
    assert.equal(classifyExit({ signal: 'USR1' }, { oneshot: true, successExitStatus: success }), 'success');
    assert.equal(classifyExit({ signal: 'USR2' }, { successExitStatus: success }), 'signal');
  });

  it('a core dump is never clean, even of a signal SuccessExitStatus= lists (CLD_DUMPED)', () => {
    const success = new Set<number | string>(['ABRT']);
    assert.equal(classifyExit({ signal: 'ABRT', dumped: true }, { successExitStatus: success }), 'core-dump');
    assert.equal(classifyExit({ signal: 'ABRT' }, { successExitStatus: success }), 'success');
  });

  it('RestartForceExitStatus= needs a status or signal to match; without one the policy decides', () => {
    const force = new Set<number | string>(['KILL', 3]);
    assert.equal(shouldRestart({ policy: 'no', forceExitStatus: force }, { result: 'timeout' }), false);
    assert.equal(
      shouldRestart({ policy: 'no', forceExitStatus: force }, { result: 'exit-code', status: 3 }),
      true,
    );
    assert.equal(
      shouldRestart({ policy: 'no', forceExitStatus: force }, { result: 'exit-code', status: 4 }),
      false,
    );
  });

  it('without Prevent/Force lists an exit status goes by the policy alone', () => {
    assert.equal(shouldRestart({ policy: 'on-failure' }, { result: 'exit-code', status: 1 }), true);
    assert.equal(shouldRestart({ policy: 'on-success' }, { result: 'exit-code', status: 1 }), false);
    assert.equal(shouldRestart({ policy: 'on-abort' }, { result: 'signal', signal: 'KILL' }), true);
  });
});

describe("mutation-tested: a unit file's Restart= settings applied to real exit statuses", () => {
  function service(lines: string): ServiceSection {
    const name = 'r.service';
    const file = `/fixture/${name}`;
    const parsed = parseUnitText(`[Service]\nExecStart=/bin/true\n${lines}`, file);
    const typed = typeUnit(name, [{ path: file, entries: parsed.entries }], {
      sections: parsed.sections.map((s) => ({ file, name: s.name, line: s.line })),
      specifiers: specifierContext(name, file, 'system'),
    });
    assert.deepEqual(typed.diagnostics, []);
    return (typed.config as ServiceUnitConfig).service;
  }
  const exited = (status: number): ExitStatus => ({ pid: 100, code: 'exited', status });
  const killed = (signal: string, number: number, code: 'killed' | 'dumped' = 'killed'): ExitStatus => ({
    pid: 100,
    code,
    status: number,
    signal,
  });

  it('resultOfExit: no exit (a oneshot whose commands all succeeded) is success', () => {
    assert.equal(resultOfExit(undefined, service('')), 'success');
  });

  it('resultOfExit: statuses, signals and dumps, under SuccessExitStatus= with SIG names', () => {
    const s = service('SuccessExitStatus=75 SIGUSR1\n');
    assert.equal(resultOfExit(exited(0), s), 'success');
    assert.equal(resultOfExit(exited(75), s), 'success');
    assert.equal(resultOfExit(exited(1), s), 'exit-code');
    // A signal number equal to a listed status is still a signal (USR2 is 12, not 75).
    assert.equal(resultOfExit(killed('USR1', 10), s), 'success');
    assert.equal(resultOfExit(killed('USR2', 12), s), 'signal');
    assert.equal(resultOfExit(killed('TERM', 15), s), 'success');
    assert.equal(resultOfExit(killed('SEGV', 11, 'dumped'), s), 'core-dump');
    assert.equal(resultOfExit(exited(15), service('SuccessExitStatus=SIGTERM\n')), 'exit-code');
  });

  it('resultOfExit: a oneshot killed by SIGTERM failed (EXIT_CLEAN_COMMAND)', () => {
    assert.equal(resultOfExit(killed('TERM', 15), service('Type=oneshot\n')), 'signal');
    assert.equal(resultOfExit(killed('TERM', 15), service('Type=simple\n')), 'success');
  });

  it('restartsAfter: Prevent/Force lists match the status of an exit and the signal of a kill', () => {
    const s = service(
      'Restart=on-failure\nRestartPreventExitStatus=3 SIGUSR1\nRestartForceExitStatus=SIGHUP 0\n',
    );
    assert.equal(restartsAfter(s, 'exit-code', exited(3), false), false);
    assert.equal(restartsAfter(s, 'exit-code', exited(4), false), true);
    assert.equal(restartsAfter(s, 'signal', killed('USR1', 10), false), false);
    assert.equal(restartsAfter(s, 'success', killed('HUP', 1), false), true);
    assert.equal(restartsAfter(s, 'success', exited(0), false), true);
    // Signal 3 (QUIT) is not status 3: the kill restarts, the exit would not.
    assert.equal(restartsAfter(s, 'core-dump', killed('QUIT', 3, 'dumped'), false), true);
    assert.equal(restartsAfter(s, 'exit-code', exited(4), true), false);
  });

  it('restartsAfter: a run whose main process never ran goes by the result alone', () => {
    const s = service('Restart=on-failure\nRestartForceExitStatus=0\n');
    assert.equal(restartsAfter(s, 'resources', undefined, false), true);
    assert.equal(restartsAfter(s, 'success', undefined, false), false);
    assert.equal(restartsAfter(service('Restart=no\n'), 'resources', undefined, false), false);
  });
});
