// Keys `sockunit run` used to accept without a word and not act on, found by running systemd's
// execution tests under it: ExecCondition= (1-254 skips the start, 255 or a signal fails it),
// StandardInput=data with StandardInputText=/StandardInputData=, ExecSearchPath=, and the
// specifier rule that keeps a word expanding to nothing as an empty argument.

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { BIN, freePort, type ManagerProcess, managerSuite, waitUntil } from './fixtures/manager/harness.js';
import { statusOf } from './fixtures/manager/status.js';

function sockunit(m: ManagerProcess, ...args: string[]): string {
  try {
    return execFileSync(process.execPath, [BIN, ...args, '--control-socket', m.controlSocket], {
      encoding: 'utf8',
    });
  } catch (err) {
    return String((err as { stdout?: string }).stdout ?? '');
  }
}

async function idleSocket(): Promise<Record<string, string>> {
  const port = await freePort();
  return {
    'idle.socket': `[Socket]\nListenStream=127.0.0.1:${port}\n`,
    'idle.service': '[Service]\nExecStart=/bin/true\n',
  };
}

describe('sockunit run: ExecCondition=', () => {
  const suite = managerSuite('exec-condition');

  test('exit 1-254 skips the start: not failed, result exec-condition, the rest never runs', async () => {
    const idle = await idleSocket();
    const m = await suite.start((dir) => ({
      ...idle,
      'cond.service': [
        '[Service]',
        'ExecCondition=/bin/sh -c "exit 1"',
        `ExecStartPre=/bin/touch ${dir}/pre-ran`,
        `ExecStart=/bin/touch ${dir}/main-ran`,
        `ExecStopPost=/bin/sh -c 'echo "$$SERVICE_RESULT" > ${dir}/stop-post'`,
        '',
      ].join('\n'),
    }));
    sockunit(m, 'start', 'cond.service');
    await m.waitFor(/^cond\.service: Skipped due to 'exec-condition'\.$/);
    assert.match(m.log, /cond\.service: ExecCondition=\/bin\/sh exited, code=exited, status=1\/FAILURE/);
    assert.match(
      m.log,
      /cond\.service: start condition unmet \(ExecCondition=\/bin\/sh\); the start is skipped\./,
    );
    const s = statusOf(m, 'cond.service');
    assert.equal(s.activeState, 'inactive');
    assert.equal(s.result, 'exec-condition');
    assert.equal(existsSync(join(m.dir, 'pre-ran')), false);
    assert.equal(existsSync(join(m.dir, 'main-ran')), false);
    assert.equal(readFileSync(join(m.dir, 'stop-post'), 'utf8'), 'exec-condition\n');
  });

  test('exit 0 goes on; exit 255 fails the start', async () => {
    const idle = await idleSocket();
    const m = await suite.start((dir) => ({
      ...idle,
      'met.service': `[Service]\nExecCondition=/bin/true\nExecStart=/bin/sh -c 'touch ${dir}/main-ran; exec sleep 30'\n`,
      'broken.service': '[Service]\nExecCondition=/bin/sh -c "exit 255"\nExecStart=/bin/sleep 30\n',
    }));
    sockunit(m, 'start', 'met.service');
    await waitUntil('the main process ran', () => (existsSync(join(m.dir, 'main-ran')) ? true : undefined));
    sockunit(m, 'start', 'broken.service');
    await m.waitFor(/^broken\.service: Failed with result 'exit-code'\.$/);
    assert.equal(statusOf(m, 'broken.service').activeState, 'failed');
  });
});

describe('sockunit run: StandardInput=data, ExecSearchPath=, empty words', () => {
  const suite = managerSuite('exec-keys');

  test('StandardInputText= and StandardInputData= are the service’s stdin, in order', async () => {
    const idle = await idleSocket();
    const m = await suite.start((dir) => ({
      ...idle,
      'data.service': [
        '[Service]',
        'Type=oneshot',
        'StandardInput=data',
        'StandardInputText=first line',
        `StandardInputData=${Buffer.from('binary\x01\n').toString('base64')}`,
        'StandardInputText=last \\x41',
        `ExecStart=/bin/sh -c 'cat > ${dir}/stdin'`,
        '',
      ].join('\n'),
    }));
    sockunit(m, 'start', 'data.service');
    await m.waitFor(/^Finished data\.service\.$/);
    assert.equal(readFileSync(join(m.dir, 'stdin'), 'latin1'), 'first line\nbinary\x01\nlast A\n');
  });

  test('ExecSearchPath= finds a bare name and is the default $PATH', async () => {
    const idle = await idleSocket();
    const m = await suite.start((dir) => {
      mkdirSync(join(dir, 'bin'));
      writeFileSync(join(dir, 'bin', 'hello-sockunit'), `#!/bin/sh\necho "$PATH" > ${dir}/path\n`);
      chmodSync(join(dir, 'bin', 'hello-sockunit'), 0o755);
      return {
        ...idle,
        'search.service': `[Service]\nType=oneshot\nExecSearchPath=${dir}/bin:/usr/bin:/bin\nExecStart=hello-sockunit\n`,
      };
    });
    sockunit(m, 'start', 'search.service');
    await m.waitFor(/^Finished search\.service\.$/);
    assert.equal(readFileSync(join(m.dir, 'path'), 'utf8'), `${m.dir}/bin:/usr/bin:/bin\n`);
  });

  test('ExecStart=test %i = "" succeeds in a unit that is no instance (the empty word stays)', async () => {
    const idle = await idleSocket();
    const m = await suite.start(() => ({
      ...idle,
      'empty.service': '[Service]\nType=oneshot\nExecStart=/usr/bin/test %i = ""\n',
    }));
    sockunit(m, 'start', 'empty.service');
    await m.waitFor(/^Finished empty\.service\.$/);
    assert.equal(statusOf(m, 'empty.service').result, 'success');
  });
});
