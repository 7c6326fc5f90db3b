// [Service] and [Unit] keys under `sockunit run`, each shown by what real processes do or see:
// which processes a stop reaches (KillMode=, FinalKillSignal=, SendSIGKILL=, TimeoutSec=,
// TimeoutAbortSec= after a watchdog), what stays up (RemainAfterExit=), which fds arrive
// (Sockets=), what survives a stop (FileDescriptorStorePreserve=), which signal a reload sends
// (ReloadSignal=), when Restart= is overridden (RestartPreventExitStatus=/RestartForceExitStatus=),
// the start limit's old spelling, the environment and identity a process gets (PassEnvironment=,
// UnsetEnvironment=, Group=), where its output goes (StandardOutput=/StandardError=), and the
// [Unit] keys DefaultDependencies=, RefuseManualStop=, and the old spellings BindTo=,
// PropagateReloadTo=, PropagateReloadFrom= beside ReloadPropagatedFrom=.

import assert from 'node:assert/strict';
import { existsSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { control, controlAsync } from './fixtures/manager/control.js';
import {
  type ManagerProcess,
  managerSuite,
  rootUnavailable,
  SYSTEM_PYTHON,
  waitUntil,
} from './fixtures/manager/harness.js';
import { statusesOf, statusOf } from './fixtures/manager/status.js';
import { foreignGroup } from './helpers/groups.js';
import { readIfPresent as read } from './helpers/read-if-present.js';

/** Running (not gone, not a zombie waiting for its reaper). */
function alive(pid: number): boolean {
  const stat = read(`/proc/${pid}/stat`);
  return stat !== undefined && !/^\d+ \(.*\) Z /s.test(stat);
}

/** Every process of the session `sid` (each service leads its own session), by pid. */
function sessionMembers(sid: number): number[] {
  const out: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    // Fields after the command's closing parenthesis: state ppid pgrp session …
    const rest = read(`/proc/${name}/stat`)?.split(') ').pop()?.split(' ');
    if (rest && Number(rest[3]) === sid) out.push(Number(name));
  }
  return out;
}

/** Waits for a pid file a script wrote, and returns the pid. */
async function pidFrom(path: string): Promise<number> {
  return Number(await waitUntil(path, () => read(path)?.trim() || undefined, 10_000));
}

/** A main process and a child in its process group; each appends the signals it is sent to
 * PREFIX.main / PREFIX.child and writes its pid to PREFIX.main.pid / PREFIX.child.pid. Both wait
 * on a sleep (`wait` returns at once for a trapped signal); the sleeps die or survive with them. */
const FAMILY_SH = `p=$1
sh -c 'trap "echo TERM >> $0.child; exit 0" TERM; sleep 30 & echo $$ > $0.child.pid; wait' "$p" &
trap 'echo TERM >> "$p.main"; exit 0' TERM
sleep 30 &
echo $$ > "$p.main.pid"
wait
`;

/** Ignores SIGTERM and SIGABRT (its sleep too), records SIGQUIT in PREFIX.got and exits on it. */
const STUBBORN_SH = `trap '' TERM ABRT
trap 'echo QUIT >> "$1.got"; exit 0' QUIT
sleep 30 &
echo $$ > "$1.main.pid"
wait
`;

describe('sockunit run: how a stop reaches processes', () => {
  /** Services' sessions left running on purpose (KillMode=process/none, SendSIGKILL=no). Ended
   * before the managers are (this hook is registered first): a manager does not exit while a
   * process it left behind still holds its output pipe. */
  const leftovers: number[] = [];
  after(() => {
    for (const sid of leftovers)
      for (const pid of sessionMembers(sid))
        try {
          process.kill(pid, 'SIGKILL');
        } catch {}
  });
  const suite = managerSuite('killmode');

  test('KillMode= control-group/process/mixed/none, FinalKillSignal= after TimeoutSec=, SendSIGKILL=no', async () => {
    const family = (dir: string, mode: string) =>
      `[Service]\nKillMode=${mode}\nExecStart=/bin/sh ${dir}/family.sh ${dir}/${mode}\n`;
    const m = await suite.start((dir) => {
      writeFileSync(join(dir, 'family.sh'), FAMILY_SH);
      writeFileSync(join(dir, 'stubborn.sh'), STUBBORN_SH);
      const units: Record<string, string> = {
        'x.socket': `[Socket]\nListenStream=${dir}/x.sock\n`,
        'x.service': '[Service]\nExecStart=/bin/true\n',
        'final.service': `[Service]\nTimeoutSec=500ms\nFinalKillSignal=SIGQUIT\nExecStart=/bin/sh ${dir}/stubborn.sh ${dir}/final\n`,
        'nokill.service': `[Service]\nTimeoutStopSec=500ms\nSendSIGKILL=no\nExecStart=/bin/sh ${dir}/stubborn.sh ${dir}/nokill\n`,
        'kill.target': `[Unit]\nWants=km-control-group.service km-process.service km-mixed.service km-none.service final.service nokill.service\n`,
      };
      for (const mode of ['control-group', 'process', 'mixed', 'none'])
        units[`km-${mode}.service`] = family(dir, mode);
      return units;
    });
    const started = await controlAsync(m, 'start', 'kill.target');
    assert.equal(started.code, 0, started.out);
    const p = (file: string) => join(m.dir, file);
    const pids: Record<string, { main: number; child?: number }> = {};
    for (const mode of ['control-group', 'process', 'mixed', 'none'])
      pids[mode] = {
        main: await pidFrom(p(`${mode}.main.pid`)),
        child: await pidFrom(p(`${mode}.child.pid`)),
      };
    for (const name of ['final', 'nokill']) pids[name] = { main: await pidFrom(p(`${name}.main.pid`)) };
    leftovers.push(...Object.values(pids).map((x) => x.main));

    // Side by side: final and nokill each wait out their stop timeout.
    const units = ['km-control-group', 'km-process', 'km-mixed', 'km-none', 'final', 'nokill'];
    const stops = await Promise.all(units.map((u) => controlAsync(m, 'stop', `${u}.service`)));
    for (const [i, s] of stops.entries()) assert.equal(s.code, 0, `stop ${units[i]}: ${s.out}\n${m.log}`);

    // control-group: SIGTERM to every process of the service.
    const cg = pids['control-group'] as { main: number; child: number };
    assert.equal(read(p('control-group.main')), 'TERM\n');
    await waitUntil('the control-group child got SIGTERM and ended', () =>
      read(p('control-group.child')) === 'TERM\n' && !alive(cg.child) ? true : undefined,
    );
    // process: SIGTERM to the main process only; its child is left running.
    const pr = pids.process as { main: number; child: number };
    assert.equal(read(p('process.main')), 'TERM\n');
    assert.equal(alive(pr.child), true, 'KillMode=process leaves the child running');
    assert.equal(read(p('process.child')), undefined, 'and sends it nothing');
    // mixed: SIGTERM to the main process, then SIGKILL to what is left of the service.
    const mx = pids.mixed as { main: number; child: number };
    assert.equal(read(p('mixed.main')), 'TERM\n');
    await waitUntil(`the mixed child was killed\n${m.log}`, () => (alive(mx.child) ? undefined : true));
    assert.equal(read(p('mixed.child')), undefined, 'SIGKILL, never SIGTERM');
    // none: no signal at all; the stop does not wait for the processes, which keep running.
    const no = pids.none as { main: number; child: number };
    assert.deepEqual([alive(no.main), alive(no.child)], [true, true], 'KillMode=none kills nothing');
    assert.deepEqual([read(p('none.main')), read(p('none.child'))], [undefined, undefined]);
    // TimeoutSec= bounds the stop; then FinalKillSignal= (SIGQUIT here) instead of SIGKILL.
    await m.waitFor(/^final\.service: State 'stop-sigterm' timed out\. Killing\.$/);
    assert.equal(read(p('final.got')), 'QUIT\n', 'the final signal was SIGQUIT');
    // SendSIGKILL=no: the timed-out stop gives up instead of killing; the process lives on.
    await m.waitFor(/^nokill\.service: State 'stop-sigterm' timed out\. Skipping SIGKILL\.$/);
    assert.equal(alive(pids.nokill?.main ?? 0), true, 'SendSIGKILL=no killed nothing');
    assert.equal(read(p('nokill.got')), undefined);
    const s = statusesOf(m, ['km-none.service', 'final.service', 'nokill.service']);
    assert.deepEqual(
      [...s.values()].map((x) => [x.unit, x.activeState, x.result]),
      [
        ['km-none.service', 'inactive', 'success'],
        ['final.service', 'failed', 'timeout'],
        ['nokill.service', 'failed', 'timeout'],
      ],
    );
  });

  test('TimeoutAbortSec= bounds the wait after the watchdog’s SIGABRT, not TimeoutStopSec=', async () => {
    const m = await suite.start((dir) => {
      writeFileSync(join(dir, 'stubborn.sh'), STUBBORN_SH);
      return {
        'x.socket': `[Socket]\nListenStream=${dir}/x.sock\n`,
        'x.service': '[Service]\nExecStart=/bin/true\n',
        // A watchdog nobody pings; SIGABRT is ignored, and TimeoutStopSec= is the default 90 s.
        'abort.service': `[Service]\nWatchdogSec=300ms\nTimeoutAbortSec=300ms\nExecStart=/bin/sh ${dir}/stubborn.sh ${dir}/abort\n`,
      };
    });
    const started = await controlAsync(m, 'start', 'abort.service');
    assert.equal(started.code, 0, started.out);
    leftovers.push(await pidFrom(join(m.dir, 'abort.main.pid')));
    await m.waitFor(/^abort\.service: Watchdog timeout \(limit 0\.300s\)!$/, 10_000);
    await m.waitFor(/^abort\.service: Main process exited, code=killed, status=9\/KILL$/, 10_000);
    await m.waitFor(/^abort\.service: Failed with result 'watchdog'\.$/);
  });
});

/** Speaks sd_notify on NOTIFY_SOCKET (abstract or path) without python3-systemd. */
const NOTIFY_PY = String.raw`
import array, os, signal, socket, time
addr = os.environ["NOTIFY_SOCKET"]
addr = "\0" + addr[1:] if addr.startswith("@") else addr
sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
def notify(text):
    sock.sendto(text.encode(), addr)
`;

/** Type=notify-reload: reloads on SIGUSR2 (and dies on SIGHUP, python's default). */
const RELOADABLE_PY = `${NOTIFY_PY}
def reload(signum, frame):
    print("reloading on", signal.Signals(signum).name, flush=True)
    notify("RELOADING=1\\nMONOTONIC_USEC=%d" % (time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000))
    notify("READY=1")
signal.signal(signal.SIGUSR2, reload)
notify("READY=1")
while True:
    time.sleep(60)
`;

/** Says which stored fds it got back; stores a pipe named "kept" when it got none. */
const STORE_PY = `${NOTIFY_PY}
names = os.environ.get("LISTEN_FDNAMES", "") if os.environ.get("LISTEN_PID") == str(os.getpid()) else ""
print("names", names or "-", flush=True)
if "kept" not in names.split(":"):
    r, w = os.pipe()
    # socket.send_fds() ignores its address before python 3.12: sendmsg() with SCM_RIGHTS.
    sock.sendmsg([b"FDSTORE=1\\nFDNAME=kept"], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", [r]))], 0, addr)
notify("READY=1")
while True:
    time.sleep(60)
`;

/** A service that logs `NAME up` and sleeps; `unit`/`service` lines go in their sections. */
function sleeper(name: string, unit = '', service = ''): string {
  return `[Unit]\n${unit}[Service]\n${service}ExecStart=/bin/sh -c 'echo ${name} up; exec sleep 60'\n`;
}

/** Prints one line on stdout and one on stderr. */
const twoLines = (name: string) => `ExecStart=/bin/sh -c 'echo out-${name}; echo err-${name} >&2'\n`;

describe('sockunit run: service lifecycle keys', () => {
  const suite = managerSuite('servicekeys');
  const privileged = rootUnavailable();
  const group = privileged ? undefined : foreignGroup();
  let m: ManagerProcess;
  const p = (file: string) => join(m.dir, file);
  const ok = (...args: string[]) => {
    const r = control(m, ...args);
    assert.equal(r.code, 0, `sockunit ${args.join(' ')}: ${r.out}\n${m.log}`);
  };

  before(async () => {
    m = await suite.start(
      (dir) => {
        writeFileSync(join(dir, 'reloadable.py'), RELOADABLE_PY);
        writeFileSync(join(dir, 'store.py'), STORE_PY);
        writeFileSync(join(dir, 'file.log'), `${'#'.repeat(40)}\n`);
        writeFileSync(join(dir, 'append.log'), 'old\n');
        writeFileSync(join(dir, 'truncate.log'), `${'#'.repeat(40)}\n`);
        return {
          'x.socket': `[Socket]\nListenStream=${dir}/x.sock\n`,
          'x.service': '[Service]\nExecStart=/bin/true\n',
          'remain-oneshot.service': `[Service]\nType=oneshot\nRemainAfterExit=yes\nExecStart=/bin/true\nExecStop=/bin/touch ${dir}/remain.stop\nExecStopPost=/bin/touch ${dir}/remain.stoppost\n`,
          'remain-simple.service': '[Service]\nRemainAfterExit=yes\nExecStart=/bin/true\n',
          'alpha.socket': `[Socket]\nListenStream=${dir}/alpha.sock\n`,
          'alpha.service': sleeper('alpha'),
          'beta.socket': `[Socket]\nListenStream=${dir}/beta.sock\n`,
          'beta.service': sleeper('beta'),
          'multi.service': `[Service]\nSockets=beta.socket alpha.socket\nExecStart=/bin/sh -c 'echo "fds $LISTEN_FDS $LISTEN_FDNAMES"; exec sleep 60'\n`,
          'store.service': `[Service]\nType=notify\nFileDescriptorStoreMax=1\nFileDescriptorStorePreserve=yes\nExecStart=${SYSTEM_PYTHON} ${dir}/store.py\n`,
          'sig.service': `[Service]\nType=notify-reload\nReloadSignal=SIGUSR2\nExecStart=${SYSTEM_PYTHON} ${dir}/reloadable.py\n`,
          'prevent.service': `[Service]\nRestart=always\nRestartSec=100ms\nRestartPreventExitStatus=3\nExecStart=/bin/sh -c 'echo run >> ${dir}/prevent.runs; exit 3'\n`,
          'force.service': `[Service]\nRestart=no\nRestartSec=100ms\nRestartForceExitStatus=4\nExecStart=/bin/sh -c 'echo run >> ${dir}/force.runs; test -e ${dir}/force.again && exit 0; touch ${dir}/force.again; exit 4'\n`,
          'limit-unit.service':
            '[Unit]\nStartLimitInterval=0\nStartLimitBurst=1\n[Service]\nType=oneshot\nExecStart=/bin/true\n',
          'limit-service.service':
            '[Unit]\nStartLimitBurst=1\n[Service]\nStartLimitInterval=0\nType=oneshot\nExecStart=/bin/true\n',
          'env.service': `[Service]\nType=oneshot\nPassEnvironment=SOCKUNIT_KEYTEST_PASSED SOCKUNIT_KEYTEST_ABSENT\nEnvironment=DROPPED=1 KEPT=1\nUnsetEnvironment=DROPPED KEPT=2\nExecStart=/bin/sh -c 'env > ${dir}/env.out'\n`,
          ...(group
            ? {
                'group.service': `[Service]\nType=oneshot\nGroup=${group.name}\nExecStart=/bin/sh -c 'echo "$(id -u) $(id -g)" > ${dir}/group.out'\n`,
              }
            : {}),
          // stderr follows stdout (systemd's StandardError=inherit) into the same open file.
          'so-file.service': `[Service]\nType=oneshot\nStandardOutput=file:${dir}/file.log\n${twoLines('file')}`,
          'so-append.service': `[Service]\nType=oneshot\nStandardOutput=append:${dir}/append.log\nStandardError=inherit\n${twoLines('append')}`,
          'so-truncate.service': `[Service]\nType=oneshot\nStandardOutput=truncate:${dir}/truncate.log\n${twoLines('truncate')}`,
          'so-null.service': `[Service]\nType=oneshot\nStandardOutput=null\nStandardError=file:${dir}/null-err.log\n${twoLines('null')}`,
          'so-errnull.service': `[Service]\nType=oneshot\nStandardError=null\n${twoLines('errnull')}`,
          'so.target':
            '[Unit]\nWants=so-file.service so-append.service so-truncate.service so-null.service so-errnull.service\n',
          'gate.service': `[Service]\nType=oneshot\nExecStart=/bin/sh -c 'while [ ! -e ${dir}/gate.open ]; do sleep 0.05; done'\n`,
          'quick.target': '[Unit]\nDefaultDependencies=no\nWants=gate.service\n',
          'base.service': sleeper('base'),
          'bound.service': sleeper(
            'bound',
            'BindTo=base.service\nAfter=base.service\nRefuseManualStop=yes\n',
          ),
          'front.service': sleeper(
            'front',
            'PropagateReloadTo=back1.service\n',
            `ExecReload=/bin/touch ${dir}/front.reloaded\n`,
          ),
          'back1.service': sleeper('back1', '', `ExecReload=/bin/touch ${dir}/back1.reloaded\n`),
          'back2.service': sleeper(
            'back2',
            'ReloadPropagatedFrom=front.service\n',
            `ExecReload=/bin/touch ${dir}/back2.reloaded\n`,
          ),
          'back3.service': sleeper(
            'back3',
            'PropagateReloadFrom=front.service\n',
            `ExecReload=/bin/touch ${dir}/back3.reloaded\n`,
          ),
        };
      },
      { env: { ...process.env, SOCKUNIT_KEYTEST_PASSED: 'yes', SOCKUNIT_KEYTEST_OTHER: 'no' } },
    );
  });

  test('RemainAfterExit=yes: a oneshot and a simple service stay active (exited); stopping runs ExecStop=, ExecStopPost=', async () => {
    ok('start', 'remain-oneshot.service', 'remain-simple.service');
    await waitUntil(
      'both exited and still active',
      () => {
        const s = statusesOf(m, ['remain-oneshot.service', 'remain-simple.service']);
        return [...s.values()].every((x) => x.activeState === 'active' && x.subState === 'exited')
          ? true
          : undefined;
      },
      10_000,
    );
    assert.deepEqual([existsSync(p('remain.stop')), existsSync(p('remain.stoppost'))], [false, false]);
    ok('stop', 'remain-oneshot.service', 'remain-simple.service');
    assert.deepEqual([existsSync(p('remain.stop')), existsSync(p('remain.stoppost'))], [true, true]);
    const s = statusesOf(m, ['remain-oneshot.service', 'remain-simple.service']);
    assert.deepEqual(
      [...s.values()].map((x) => x.activeState),
      ['inactive', 'inactive'],
    );
  });

  test('Sockets= passes the named socket units’ fds to a service they do not trigger', async () => {
    ok('start', 'multi.service');
    const line = await m.waitFor(/^multi\.service\[\d+\]: fds /);
    const [, count, names] = /: fds (\S+) (\S+)$/.exec(line) ?? [];
    assert.equal(count, '2', line);
    assert.deepEqual(names?.split(':').sort(), ['alpha.socket', 'beta.socket']);
  });

  test('FileDescriptorStorePreserve=yes keeps the stored fd across a stop and a start', async () => {
    ok('start', 'store.service');
    await m.waitFor(/^store\.service\[\d+\]: names -$/);
    ok('stop', 'store.service');
    assert.equal(statusOf(m, 'store.service').fdStore.count, 1, 'kept while the service is down');
    ok('start', 'store.service');
    await m.waitFor(/^store\.service\[\d+\]: names kept$/);
    assert.deepEqual(m.matching(/^store\.service: Releasing/), []);
  });

  test('ReloadSignal=SIGUSR2: a Type=notify-reload reload sends it', async () => {
    ok('start', 'sig.service');
    ok('reload', 'sig.service');
    await m.waitFor(/^sig\.service\[\d+\]: reloading on SIGUSR2$/);
    assert.equal(statusOf(m, 'sig.service').subState, 'running');
  });

  test('RestartPreventExitStatus= stops Restart=always; RestartForceExitStatus= restarts despite Restart=no', async () => {
    ok('start', 'prevent.service');
    ok('start', 'force.service');
    await m.waitFor(/^prevent\.service: Failed with result 'exit-code'\.$/);
    assert.equal(read(p('prevent.runs')), 'run\n');
    await m.waitFor(/^force\.service: Scheduled restart job/);
    await waitUntil(
      'force.service ran twice and ended well',
      () =>
        read(p('force.runs')) === 'run\nrun\n' && statusOf(m, 'force.service').activeState === 'inactive'
          ? true
          : undefined,
      10_000,
    );
    assert.deepEqual(m.matching(/^prevent\.service: Scheduled restart/), []);
  });

  test('StartLimitInterval= ([Unit] and its old [Service] place): 0 turns the start limit off', async () => {
    for (const unit of ['limit-unit.service', 'limit-service.service']) {
      ok('start', unit);
      ok('start', unit); // StartLimitBurst=1 would refuse this one within the default 10 s
      await waitUntil(`${unit} finished twice`, () =>
        m.lines.filter((l) => l === `Finished ${unit}.`).length === 2 ? true : undefined,
      );
    }
  });

  test('PassEnvironment= passes the manager’s variables named; UnsetEnvironment= removes names and exact assignments', () => {
    ok('start', 'env.service');
    const env = new Set((read(p('env.out')) ?? '').trim().split('\n'));
    assert.ok(env.has('SOCKUNIT_KEYTEST_PASSED=yes'), [...env].join('\n'));
    assert.ok(env.has('KEPT=1'), 'KEPT=2 does not match KEPT=1');
    for (const name of ['SOCKUNIT_KEYTEST_OTHER', 'SOCKUNIT_KEYTEST_ABSENT', 'DROPPED'])
      assert.equal(
        [...env].some((l) => l.startsWith(`${name}=`)),
        false,
        name,
      );
  });

  test('Group= runs the process with that group (and the same user)', (t) => {
    if (privileged) return t.skip(privileged);
    ok('start', 'group.service');
    assert.equal(read(p('group.out')), `${process.getuid?.() ?? 0} ${group?.gid}\n`);
  });

  test('StandardOutput=file:/append:/truncate:/null, StandardError=inherit/file:/null', async () => {
    ok('start', 'so.target'); // reached once the five oneshots have run
    // file: writes from the start without truncating; stderr shares stdout's open file.
    assert.equal(read(p('file.log')), `out-file\nerr-file\n${'#'.repeat(22)}\n`);
    assert.equal(read(p('append.log')), 'old\nout-append\nerr-append\n');
    assert.equal(read(p('truncate.log')), 'out-truncate\nerr-truncate\n');
    assert.equal(read(p('null-err.log')), 'err-null\n');
    await m.waitFor(/^so-errnull\.service\[\d+\]: out-errnull$/);
    assert.deepEqual(m.matching(/: (out|err)-(file|append|truncate|null)$|err-errnull/), []);
  });

  test('DefaultDependencies=no: a target is not ordered after the units it wants', async () => {
    const start = controlAsync(m, 'start', 'quick.target');
    await m.waitFor(/^Reached target quick\.target\.$/, 10_000);
    assert.equal(statusOf(m, 'gate.service').activeState, 'activating', 'gate.service is still running');
    writeFileSync(p('gate.open'), '');
    assert.equal((await start).code, 0);
    await m.waitFor(/^Finished gate\.service\.$/);
  });

  test('RefuseManualStop= refuses `sockunit stop`; BindTo= starts the unit with its base and stops it with it', () => {
    ok('start', 'bound.service');
    assert.equal(statusOf(m, 'base.service').activeState, 'active', 'BindTo= pulled base.service in');
    const refused = control(m, 'stop', 'bound.service');
    assert.equal(refused.code, 1);
    assert.match(
      refused.out,
      /may be requested by dependency only \(it is configured to refuse manual stop\)/,
    );
    assert.equal(statusOf(m, 'bound.service').activeState, 'active');
    ok('stop', 'base.service');
    assert.equal(statusOf(m, 'bound.service').activeState, 'inactive', 'stopped with base.service');
  });

  test('PropagateReloadTo=, ReloadPropagatedFrom=, PropagateReloadFrom=: a reload of front reloads all three', () => {
    ok('start', 'front.service', 'back1.service', 'back2.service', 'back3.service');
    ok('reload', 'front.service');
    assert.deepEqual(
      ['front', 'back1', 'back2', 'back3'].map((n) => [n, existsSync(p(`${n}.reloaded`))]),
      [
        ['front', true],
        ['back1', true],
        ['back2', true],
        ['back3', true],
      ],
    );
  });
});
