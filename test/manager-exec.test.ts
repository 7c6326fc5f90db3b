// How `sockunit run` starts and stops a service process, checked from inside the service:
// User= privilege drop, UMask=, WorkingDirectory=, Environment=/EnvironmentFile=, systemd's clean
// environment (nothing of the manager's own leaks in), output captured as `unit[pid]: line`, and
// KillSignal=/TimeoutStopSec= (a service that ignores TERM is KILLed after the timeout).

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { kernelHasPidfdIds } from '../src/sys/listen-pid-helper.js';
import {
  BIN,
  connectTcp,
  exchange,
  freePort,
  managerSuite,
  processesWith,
  REPORT_PY,
  readReport,
  rootUnavailable,
  SYSTEM_PYTHON,
  waitUntil,
} from './fixtures/manager/harness.js';
import { statusOf } from './fixtures/manager/status.js';

describe('sockunit run: the service process', () => {
  const suite = managerSuite('exec', (dir) => {
    // The report service may run as nobody: it must read the script, and write its report in
    // out/. The unit directory itself stays root's: as root, a manager refuses unit files in a
    // directory another user may write.
    chmodSync(dir, 0o755);
    mkdirSync(join(dir, 'out'));
    chmodSync(join(dir, 'out'), 0o777);
    writeFileSync(join(dir, 'report.py'), REPORT_PY, { mode: 0o644 });
  });
  const start = (build: (dir: string) => Record<string, string>, env?: NodeJS.ProcessEnv) =>
    suite.start(build, env ? { env } : {});
  const { trigger } = suite;

  test('Environment=, EnvironmentFile=, UMask=, WorkingDirectory=, the clean environment, output capture', async () => {
    const port = await freePort();
    const m = await start(
      (dir) => {
        mkdirSync(join(dir, 'work'));
        writeFileSync(join(dir, 'env'), '# comment\nFROM_FILE=file value\nOVERRIDDEN=from-file\n');
        return {
          'env.socket': `[Socket]\nListenStream=127.0.0.1:${port}\n`,
          'env.service': [
            '[Service]',
            'Environment=PLAIN=1 "SPACED=a b" OVERRIDDEN=from-unit',
            `EnvironmentFile=${dir}/env`,
            `EnvironmentFile=-${dir}/missing-env`,
            'UMask=0027',
            `WorkingDirectory=${dir}/work`,
            `ExecStart=${SYSTEM_PYTHON} ${dir}/report.py ${dir}/env.json --stay`,
            '',
          ].join('\n'),
        };
      },
      { ...process.env, FOO_SECRET: 'must-not-leak', LANG: 'C.UTF-8' },
    );
    await trigger(port);
    const r = await readReport(`${m.dir}/env.json`);
    assert.equal(r.env.PLAIN, '1');
    assert.equal(r.env.SPACED, 'a b');
    assert.equal(r.env.FROM_FILE, 'file value');
    assert.equal(r.env.OVERRIDDEN, 'from-file', 'EnvironmentFile= wins over Environment=');
    assert.equal(r.umask, 0o027);
    assert.equal(r.cwd, `${m.dir}/work`);
    assert.equal(r.env.FOO_SECRET, undefined, "the manager's own environment does not reach the service");
    assert.equal(r.env.PATH, '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin');
    assert.equal(r.env.LANG, 'C.UTF-8');
    assert.deepEqual(
      Object.keys(r.env)
        .filter((k) => !['LC_CTYPE'].includes(k)) // python may set this itself (PEP 538)
        .sort(),
      [
        'FROM_FILE',
        'INVOCATION_ID',
        'LANG',
        'LISTEN_FDNAMES',
        'LISTEN_FDS',
        'LISTEN_PID',
        ...(kernelHasPidfdIds() ? ['LISTEN_PIDFDID'] : []), // systemd 259, on a kernel with pidfs
        'OVERRIDDEN',
        'PATH',
        'PLAIN',
        'SPACED',
        'SYSTEMD_EXEC_PID',
      ],
    );
    assert.match(r.env.INVOCATION_ID ?? '', /^[0-9a-f]{32}$/);
    assert.equal(r.env.SYSTEMD_EXEC_PID, String(r.pid), 'SYSTEMD_EXEC_PID is the service itself');
    const line = await m.waitFor(/^env\.service\[\d+\]: REPORT /);
    assert.equal(line.startsWith(`env.service[${r.pid}]: REPORT {"pid": ${r.pid}, "fds": 1}`), true, line);
  });

  test('User=nobody: the service runs with nobody’s uid, gid, USER, HOME and SHELL', async (t) => {
    const why = rootUnavailable();
    if (why) return t.skip(why);
    const port = await freePort();
    const m = await start((dir) => ({
      'drop.socket': `[Socket]\nListenStream=127.0.0.1:${port}\n`,
      'drop.service': `[Service]\nUser=nobody\nExecStart=${SYSTEM_PYTHON} ${dir}/report.py ${dir}/out/drop.json --stay\n`,
    }));
    await trigger(port);
    const r = await readReport(`${m.dir}/out/drop.json`);
    assert.equal(r.cwd, '/', 'without WorkingDirectory= a system service starts in /');
    assert.equal(r.uid, 65534);
    assert.equal(r.gid, 65534);
    assert.equal(r.env.USER, 'nobody');
    assert.equal(r.env.LOGNAME, 'nobody');
    assert.ok(r.env.HOME && r.env.SHELL, 'HOME and SHELL from the passwd entry');
    assert.equal(r.listen_pid, String(r.pid), 'the privilege drop keeps LISTEN_PID right');
    assert.equal(r.fds.length, 1, 'the fds survive the privilege drop');
  });

  test('ExecStartPre=/ExecStartPost=/ExecStop=/ExecStopPost= run in order, with MAINPID and SERVICE_RESULT/EXIT_*', async () => {
    const port = await freePort();
    const m = await start((dir) => ({
      'ctl.socket': `[Socket]\nListenStream=127.0.0.1:${port}\n`,
      'ctl.service': [
        '[Service]',
        `ExecStartPre=/bin/sh -c 'echo pre >> ${dir}/order'`,
        'ExecStartPre=-/bin/false',
        `ExecStartPre=/bin/sh -c 'echo "$$SYSTEMD_EXEC_PID $$$$" > ${dir}/exec-pid'`,
        "ExecStart=/bin/sh -c 'echo ready; exec sleep 30'",
        `ExecStartPost=/bin/sh -c 'echo post >> ${dir}/order'`,
        `ExecStop=/bin/sh -c 'echo "stop $$MAINPID" >> ${dir}/order'`,
        `ExecStopPost=/bin/sh -c 'echo "stop-post $$SERVICE_RESULT $$EXIT_CODE $$EXIT_STATUS" >> ${dir}/order'`,
        '',
      ].join('\n'),
    }));
    await trigger(port);
    const ready = await m.waitFor(/^ctl\.service\[\d+\]: ready$/);
    await m.waitFor(/^Started ctl\.service\.$/);
    const mainPid = /\[(\d+)\]/.exec(ready)?.[1];
    assert.ok(
      m.matching(/^ctl\.service: ExecStartPre=\/bin\/false exited, code=exited, status=1\/FAILURE$/)
        .length === 1,
      `a '-' command's failure is logged and excused:\n${m.log}`,
    );
    const { code } = await m.stop('SIGTERM');
    assert.equal(code, 0);
    const [execPid, self] = readFileSync(`${m.dir}/exec-pid`, 'utf8').trim().split(' ');
    assert.equal(execPid, self, "a control command's SYSTEMD_EXEC_PID is its own pid");
    assert.deepEqual(readFileSync(`${m.dir}/order`, 'utf8').trim().split('\n'), [
      'pre',
      'post',
      `stop ${mainPid}`,
      'stop-post success killed TERM',
    ]);
  });

  test('a failing ExecStartPre= fails the start; the main process never runs; the start limit ends the retries', async () => {
    const port = await freePort();
    const m = await start((dir) => ({
      'pre.socket': `[Socket]\nListenStream=127.0.0.1:${port}\n`,
      'pre.service': `[Service]\nExecStartPre=/bin/false\nExecStart=${SYSTEM_PYTHON} ${dir}/report.py ${dir}/pre.json\n`,
    }));
    await trigger(port);
    await m.waitFor(/^pre\.service: Failed with result 'exit-code'\.$/);
    await m.waitFor(/^pre\.socket: Failed with result 'service-start-limit-hit'\.$/, 15_000);
    assert.equal(existsSync(`${m.dir}/pre.json`), false, 'ExecStart= never ran');
    assert.equal(m.matching(/^Started pre\.service/).length, 0);
  });

  test("Restart=on-failure restarts a start that failed with 'resources', as systemd's service_shall_restart() does, until the start limit", async () => {
    const port = await freePort();
    const m = await start(() => ({
      'res.socket': `[Socket]\nListenStream=127.0.0.1:${port}\n`,
      'res.service': [
        '[Unit]',
        'StartLimitBurst=3',
        'StartLimitIntervalSec=1min',
        '[Service]',
        'Restart=on-failure',
        'RestartSec=20ms',
        'User=sockunit-no-such-user',
        'ExecStart=/bin/true',
        '',
      ].join('\n'),
    }));
    await trigger(port);
    await m.waitFor(/^res\.service: Failed with result 'start-limit-hit'\.$/, 10_000);
    // Three starts fail for resources (the user cannot be found); each is followed by a restart
    // job, and the fourth start is refused by StartLimitBurst=3.
    assert.equal(m.matching(/^res\.service: Scheduled restart job, restart in 20 ms\.$/).length, 3, m.log);
    assert.equal(m.matching(/^res\.service: Start request repeated too quickly\.$/).length, 1, m.log);
  });

  test("an ExecStartPre= that overruns TimeoutStartSec= is terminated and fails the start with 'timeout', '-' or not", async () => {
    const port = await freePort();
    const marker = `${80 + (process.pid % 1000) / 1000}`;
    const m = await start(() => ({
      'slowpre.socket': `[Socket]\nListenStream=127.0.0.1:${port}\n`,
      'slowpre.service': `[Unit]\nStartLimitBurst=1\n[Service]\nTimeoutStartSec=1s\nExecStartPre=-/bin/sleep ${marker}\nExecStart=/bin/true\n`,
    }));
    await trigger(port);
    await m.waitFor(/^slowpre\.service: ExecStartPre=\/bin\/sleep timed out\. Terminating\.$/);
    await m.waitFor(/^slowpre\.service: Failed with result 'timeout'\.$/);
    assert.deepEqual(processesWith(`sleep ${marker}`), [], 'the overrunning command was killed');
    assert.equal(m.matching(/^Started slowpre\.service/).length, 0);
  });

  test('Type=oneshot runs every ExecStart= in turn, then Finished', async () => {
    const port = await freePort();
    const m = await start((dir) => ({
      'one.socket': `[Socket]\nListenStream=127.0.0.1:${port}\n`,
      'one.service': `[Service]\nType=oneshot\nExecStart=${SYSTEM_PYTHON} ${dir}/report.py ${dir}/one.json --accept\nExecStart=/bin/echo second\n`,
    }));
    const c = await connectTcp(port);
    const r = await readReport(`${m.dir}/one.json`);
    c.destroy();
    assert.equal(r.listen_fds, '1', 'the first ExecStart= gets the fds');
    await m.waitFor(/^one\.service\[\d+\]: second$/);
    await m.waitFor(/^Finished one\.service\.$/);
    await m.waitFor(/^one\.service: Deactivated successfully\.$/);
  });

  test('Type=forking: the daemon left behind is followed (PIDFile=), stopped with the manager, and its end re-arms the socket', async () => {
    const port = await freePort();
    // Its own free port: port + 1 may be taken by anything on the machine.
    let briefPort = await freePort();
    while (briefPort === port) briefPort = await freePort();
    const marker = `${70 + (process.pid % 1000) / 1000}`;
    const m = await start((dir) => ({
      'fork.socket': `[Socket]\nListenStream=127.0.0.1:${port}\n`,
      // The daemon leaves the start command's session (setsid): only PIDFile= leads to it.
      'fork.service': `[Service]\nType=forking\nPIDFile=${dir}/fork.pid\nExecStart=/bin/sh -c 'setsid sleep ${marker} & echo $$! > ${dir}/fork.pid'\n`,
      'brief.socket': `[Socket]\nListenStream=127.0.0.1:${briefPort}\n`,
      // The daemon serves the pending connection, so its end leaves nothing to re-trigger on.
      'brief.service': `[Service]\nType=forking\nExecStart=/bin/sh -c '${SYSTEM_PYTHON} ${dir}/report.py ${dir}/brief.json --accept & exit 0'\n`,
    }));
    await trigger(port);
    await m.waitFor(/^Started fork\.service\.$/);
    const [daemon] = processesWith(`sleep ${marker}`);
    assert.ok(daemon, 'the daemon runs');
    assert.equal(readFileSync(`${m.dir}/fork.pid`, 'utf8').trim(), String(daemon));
    assert.equal(statusOf(m, 'fork.service').mainPid, daemon, "the manager's MainPID is PIDFile='s pid");

    // A daemon that ends on its own: the service goes dead, the socket listens again.
    assert.equal(await exchange(briefPort), 'hello\n');
    await m.waitFor(/^brief\.service: Deactivated successfully\.$/, 5000);
    assert.equal(await exchange(briefPort), 'hello\n', 'the socket listened again and started it again');
    // The daemon may answer before the manager has seen its parent exit and logged the start.
    await waitUntil('brief.service started twice', () =>
      m.matching(/^Started brief\.service\.$/).length === 2 ? true : undefined,
    );

    const { code } = await m.stop('SIGTERM');
    assert.equal(code, 0);
    assert.ok(m.matching(/^Stopped fork\.service\.$/).length === 1, m.log);
    assert.deepEqual(processesWith(`sleep ${marker}`), [], 'no daemon left behind');
  });

  test('an exit is reported at once, even while a child the process left behind holds its output open', async () => {
    const port = await freePort();
    const marker = `${60 + (process.pid % 1000) / 1000}`;
    const m = await start(() => ({
      'left.socket': `[Socket]\nListenStream=127.0.0.1:${port}\n`,
      'left.service': `[Service]\nExecStart=/bin/sh -c 'echo bye; sleep ${marker} & exit 7'\n`,
    }));
    try {
      await trigger(port);
      await m.waitFor(/^left\.service: Main process exited, code=exited, status=7\/NOTRUNNING$/);
      // Reported while the child that holds the output pipe is still there, not when it ends.
      assert.notDeepEqual(processesWith(`sleep ${marker}`), [], 'the child still runs');
      assert.ok(m.matching(/^left\.service\[\d+\]: bye$/).length >= 1, 'the last line is still logged');
    } finally {
      for (const pid of processesWith(`sleep ${marker}`)) process.kill(pid, 'SIGKILL');
    }
  });

  test('KillSignal= is what the service gets on stop', async () => {
    const port = await freePort();
    const m = await start(() => ({
      'usr1.socket': `[Socket]\nListenStream=127.0.0.1:${port}\n`,
      'usr1.service':
        '[Service]\nKillSignal=SIGUSR1\nExecStart=/bin/sh -c \'trap "echo got-usr1; exit 0" USR1; echo ready; while :; do sleep 0.1; done\'\n',
    }));
    await trigger(port);
    await m.waitFor(/^usr1\.service\[\d+\]: ready$/);
    const { code } = await m.stop('SIGTERM');
    assert.equal(code, 0);
    assert.ok(m.matching(/^usr1\.service\[\d+\]: got-usr1$/).length === 1, m.log);
    assert.ok(m.matching(/^Stopped usr1\.service\.$/).length === 1, m.log);
  });

  test('RestartKillSignal= on a restart; SendSIGHUP=yes adds SIGHUP after KillSignal= on a stop only', async () => {
    const port = await freePort();
    // Counts each signal it gets; a stop ends it once both TERM and HUP have come.
    const script =
      'trap "echo got-usr2; exit 0" USR2; trap "echo got-term; t=1" TERM; trap "echo got-hup; h=1" HUP; ' +
      'echo ready; while [ "$t$h" != 11 ]; do sleep 0.1; done';
    const m = await start(() => ({
      'sig.socket': `[Socket]\nListenStream=127.0.0.1:${port}\n`,
      'sig.service': `[Service]\nRestartKillSignal=SIGUSR2\nSendSIGHUP=yes\nExecStart=/bin/sh -c '${script}'\n`,
    }));
    await trigger(port);
    await m.waitFor(/^sig\.service\[\d+\]: ready$/);
    const restart = spawnSync(process.execPath, [BIN, 'restart', 'sig.service'], {
      env: { ...process.env, SOCKUNIT_CONTROL_SOCKET: m.controlSocket },
      encoding: 'utf8',
      timeout: 20_000,
    });
    assert.equal(restart.status, 0, `${restart.stdout}${restart.stderr}`);
    await waitUntil('the restarted service to be up', () =>
      m.matching(/^sig\.service\[\d+\]: ready$/).length === 2 ? true : undefined,
    );
    assert.equal(m.matching(/^sig\.service\[\d+\]: got-usr2$/).length, 1, m.log);
    assert.equal(
      m.matching(/^sig\.service\[\d+\]: got-(term|hup)$/).length,
      0,
      'a restart sends no TERM or HUP',
    );
    const { code } = await m.stop('SIGTERM');
    assert.equal(code, 0, m.log);
    assert.equal(m.matching(/^sig\.service\[\d+\]: got-term$/).length, 1, m.log);
    assert.equal(m.matching(/^sig\.service\[\d+\]: got-hup$/).length, 1, m.log);
    assert.equal(m.matching(/State 'stop-sigterm' timed out/).length, 0, m.log);
  });

  test("RuntimeMaxSec= stops a service that runs too long: ExecStop= runs, Result is 'timeout', Restart=on-failure applies", async () => {
    const port = await freePort();
    const m = await start(() => ({
      'brief.socket': `[Socket]\nListenStream=127.0.0.1:${port}\n`,
      'brief.service':
        "[Unit]\nStartLimitBurst=2\n[Service]\nRuntimeMaxSec=300ms\nRestart=on-failure\nRestartSec=0\nExecStart=/bin/sh -c 'echo up; exec sleep 60'\nExecStop=/bin/echo stop-ran\n",
    }));
    await trigger(port);
    await m.waitFor(/^brief\.service: Start request repeated too quickly\.$/, 20_000);
    assert.equal(
      m.matching(/^brief\.service: Service reached runtime time limit\. Stopping\.$/).length,
      2,
      m.log,
    );
    assert.equal(m.matching(/^brief\.service\[\d+\]: stop-ran$/).length, 2, m.log);
    assert.equal(m.matching(/^brief\.service: Scheduled restart job/).length, 2, m.log);
    assert.equal(statusOf(m, 'brief.service').activeState, 'failed');
  });

  test('ExecStop= runs when a started service ends well on its own (simple and oneshot), not after a failure', async () => {
    const port = await freePort();
    const unit = (exec: string, extra = '') =>
      `[Service]\n${extra}ExecStart=${exec}\nExecStop=/bin/echo stop-ran\nExecStopPost=/bin/echo stop-post-ran\n`;
    // Started by name, once each: a socket would start them again for the connection none of
    // them accepts, which waits in the backlog.
    const m = await start(() => ({
      'idle.socket': `[Socket]\nListenStream=127.0.0.1:${port}\n`,
      'idle.service': '[Service]\nExecStart=/bin/true\n',
      'ends.service': unit("/bin/sh -c 'exit 0'"),
      'once.service': unit('/bin/true', 'Type=oneshot\n'),
      'fails.service': unit("/bin/sh -c 'exit 3'"),
    }));
    spawnSync(process.execPath, [BIN, 'start', 'ends.service', 'once.service', 'fails.service'], {
      env: { ...process.env, SOCKUNIT_CONTROL_SOCKET: m.controlSocket },
      encoding: 'utf8',
      timeout: 20_000,
    });
    for (const name of ['ends', 'once', 'fails'])
      await m.waitFor(new RegExp(`^${name}\\.service\\[\\d+\\]: stop-post-ran$`));
    const stopRan = (name: string) =>
      m.matching(new RegExp(`^${name}\\.service\\[\\d+\\]: stop-ran$`)).length;
    assert.equal(stopRan('ends'), 1, m.log);
    assert.equal(stopRan('once'), 1, m.log);
    assert.equal(
      stopRan('fails'),
      0,
      'a failed service is not stopped with ExecStop= (systemd goes to stop-sigterm)',
    );
  });

  test('KillMode=none: the manager exits after its stop although the process it leaves holds the output pipe, and takes it along', async () => {
    const port = await freePort();
    const marker = `${62 + (process.pid % 1000) / 1000}`;
    const m = await start(() => ({
      'keep.socket': `[Socket]\nListenStream=127.0.0.1:${port}\n`,
      'keep.service': `[Service]\nKillMode=none\nExecStart=/bin/sh -c 'echo up; exec sleep ${marker}'\n`,
    }));
    try {
      await trigger(port);
      await m.waitFor(/^keep\.service\[\d+\]: up$/);
      // The stop leaves it running; the manager's own end takes it along (PR_SET_PDEATHSIG: a
      // manager that is gone leaves nothing running), and that end must come.
      const { code } = await m.stop('SIGTERM');
      assert.equal(code, 0, m.log);
      assert.equal(m.matching(/^Stopped keep\.service\.$/).length, 1, m.log);
      await waitUntil('the process KillMode=none left to end with the manager', () =>
        processesWith(`sleep ${marker}`).length === 0 ? true : undefined,
      );
    } finally {
      for (const pid of processesWith(`sleep ${marker}`)) process.kill(pid, 'SIGKILL');
    }
  });

  test('a service ignoring SIGTERM is KILLed after TimeoutStopSec=', async () => {
    const port = await freePort();
    const m = await start(() => ({
      'stubborn.socket': `[Socket]\nListenStream=127.0.0.1:${port}\n`,
      'stubborn.service':
        '[Service]\nTimeoutStopSec=1s\nExecStart=/bin/sh -c \'trap "" TERM; echo ready; while :; do sleep 0.1; done\'\n',
    }));
    await trigger(port);
    await m.waitFor(/^stubborn\.service\[\d+\]: ready$/);
    const { code } = await m.stop('SIGTERM');
    assert.equal(code, 0, m.log);
    assert.ok(
      m.matching(/^stubborn\.service: State 'stop-sigterm' timed out\. Killing\.$/).length === 1,
      m.log,
    );
    assert.ok(
      m.matching(/^stubborn\.service: Main process exited, code=killed, status=9\/KILL$/).length === 1,
      m.log,
    );
  });
});
