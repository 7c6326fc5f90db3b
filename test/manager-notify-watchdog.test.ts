// WatchdogSec= under `sockunit run`, with libsystemd's client (python3-systemd) pinging: a service
// that keeps sending WATCHDOG=1 keeps running; one that stops is killed with WatchdogSignal=
// (SIGABRT), fails with Result `watchdog` and is started again by Restart=on-watchdog;
// WATCHDOG=trigger acts as an expiry at once.

import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import {
  freePort,
  managerSuite,
  pythonSystemdUnavailable,
  SYSTEM_PYTHON,
} from './fixtures/manager/harness.js';
import { statusOf } from './fixtures/manager/status.js';

/** A Type=notify service that pings at half the period for `pings` times (forever when -1) on
 * the runs listed, counting its runs in a file. */
function pingerScript(dir: string): string {
  const path = join(dir, 'pinger.py');
  writeFileSync(
    path,
    [
      'import os, sys, time, systemd.daemon as d',
      'runs_file, pings_first_run = sys.argv[1], int(sys.argv[2])',
      'runs = int(open(runs_file).read()) + 1 if os.path.exists(runs_file) else 1',
      'open(runs_file, "w").write(str(runs))',
      'usec = int(os.environ["WATCHDOG_USEC"])',
      'print("watchdog", usec, os.environ.get("WATCHDOG_PID", "unset"), "run", runs, flush=True)',
      'print("exec pid", os.environ.get("SYSTEMD_EXEC_PID", "unset"), flush=True)',
      'd.notify("READY=1")',
      'pings = pings_first_run if runs == 1 else -1',
      'deadline = time.monotonic() + 30',
      'while time.monotonic() < deadline:',
      '    if pings == 0:',
      '        print("stopped pinging", flush=True)',
      '        time.sleep(30)',
      '    d.notify("WATCHDOG=1")',
      '    sent = (pings_first_run if runs == 1 else -1) - pings + 1',
      '    if sent in (1, 6): print("pinged", sent, flush=True)',
      '    pings -= 1',
      '    time.sleep(usec / 2e6)',
    ].join('\n'),
  );
  return path;
}

describe('sockunit run: WatchdogSec=', () => {
  const { start, trigger } = managerSuite('watchdog');

  test('a service that pings keeps running; WATCHDOG_USEC given, WATCHDOG_PID and SYSTEMD_EXEC_PID are its own pid', async (t) => {
    const why = pythonSystemdUnavailable();
    if (why) return t.skip(why);
    const port = await freePort();
    const m = await start((dir) => ({
      'alive.socket': `[Socket]\nListenStream=127.0.0.1:${port}\n`,
      'alive.service': `[Service]\nType=notify\nWatchdogSec=600ms\nExecStart=${SYSTEM_PYTHON} ${pingerScript(dir)} ${dir}/runs -1\n`,
    }));
    await trigger(port);
    const line = await m.waitFor(/^alive\.service\[\d+\]: watchdog /);
    const pid = /\[(\d+)\]/.exec(line)?.[1];
    assert.equal(line, `alive.service[${pid}]: watchdog 600000 ${pid} run 1`, 'WATCHDOG_PID is the main pid');
    await m.waitFor(new RegExp(`^alive\\.service\\[${pid}\\]: exec pid ${pid}$`));
    await m.waitFor(/^Started alive\.service\.$/);
    // Six pings, two every period: five periods passed, each reset by a ping.
    await m.waitFor(new RegExp(`^alive\\.service\\[${pid}\\]: pinged 6$`), 10_000);
    const s = statusOf(m, 'alive.service');
    assert.equal(s.subState, 'running');
    assert.equal(s.mainPid, Number(pid), 'the same process, never killed');
    assert.equal(m.matching(/Watchdog timeout/).length, 0, m.log);
  });

  test('a service that stops pinging is killed with SIGABRT (Result watchdog) and restarted by Restart=on-watchdog', async (t) => {
    const why = pythonSystemdUnavailable();
    if (why) return t.skip(why);
    const port = await freePort();
    const m = await start((dir) => ({
      'hang.socket': `[Socket]\nListenStream=127.0.0.1:${port}\n`,
      'hang.service': [
        '[Service]',
        'Type=notify',
        'WatchdogSec=1',
        'Restart=on-watchdog',
        'RestartSec=100ms',
        `ExecStart=${SYSTEM_PYTHON} ${pingerScript(dir)} ${dir}/runs 3`,
        '',
      ].join('\n'),
    }));
    await trigger(port);
    const first = await m.waitFor(/^hang\.service\[\d+\]: stopped pinging$/, 8000);
    const firstPid = Number(/\[(\d+)\]/.exec(first)?.[1]);
    await m.waitFor(/^hang\.service: Watchdog timeout \(limit 1s\)!$/, 5000);
    await m.waitFor(new RegExp(`^hang\\.service: Killing process ${firstPid} with signal SIGABRT\\.$`));
    await m.waitFor(/^hang\.service: Main process exited, code=(killed|dumped), status=6\/ABRT$/);
    await m.waitFor(/^hang\.service: Scheduled restart job/);
    const second = await m.waitFor(/^hang\.service\[(\d+)\]: watchdog 1000000 \1 run 2$/, 8000);
    const secondPid = Number(/\[(\d+)\]/.exec(second)?.[1]);
    assert.notEqual(secondPid, firstPid);
    assert.equal(m.matching(/^Started hang\.service\.$/).length >= 1, true);
    await m.waitFor(/^Started hang\.service\.$/, 5000, m.lines.indexOf(second));
    assert.equal(readFileSync(join(m.dir, 'runs'), 'utf8'), '2');
    const s = statusOf(m, 'hang.service');
    assert.equal(s.subState, 'running');
    assert.equal(s.mainPid, secondPid);
  });

  test('WATCHDOG=trigger acts as an expiry: killed with WatchdogSignal=, Result watchdog, no restart with Restart=no', async (t) => {
    const why = pythonSystemdUnavailable();
    if (why) return t.skip(why);
    const port = await freePort();
    const m = await start((dir) => {
      writeFileSync(
        join(dir, 'trigger.py'),
        'import time, systemd.daemon as d\nd.notify("READY=1\\nSTATUS=about to give up")\ntime.sleep(0.3)\nd.notify("WATCHDOG=trigger")\ntime.sleep(30)\n',
      );
      return {
        'trig.socket': `[Socket]\nListenStream=127.0.0.1:${port}\n`,
        // No WatchdogSec=: the trigger works without a watchdog period, as in systemd.
        'trig.service': `[Service]\nType=notify\nWatchdogSignal=SIGTERM\nExecStart=${SYSTEM_PYTHON} ${dir}/trigger.py\n`,
      };
    });
    await trigger(port);
    await m.waitFor(/^trig\.service: Watchdog request \(last status: about to give up\)!$/, 5000);
    await m.waitFor(/^trig\.service: Killing process \d+ with signal SIGTERM\.$/);
    await m.waitFor(/^trig\.service: Failed with result 'watchdog'\.$/, 5000);
    assert.equal(m.matching(/Scheduled restart job/).length, 0);
  });
});
