// Dependencies, ordering, conditions, targets and the boot mode of `sockunit run`, on real
// processes: what systemd.unit(5) promises for Requires=/Wants=/After=/BindsTo=/PartOf=/
// Conflicts=/Upholds=/OnFailure=/OnSuccess=/StopWhenUnneeded=/PropagatesReloadTo=, Condition*=
// and Assert*=, checked through the manager's log (the order of its lines), files the services
// write, `status` and `list-units`.

import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { BIN, connectTcp, freePort, managerSuite, tempDir, waitUntil } from './fixtures/manager/harness.js';
import { type ServiceStatusJson, statusOf } from './fixtures/manager/status.js';

function sockunit(m: { controlSocket: string }, ...args: string[]): { code: number; out: string } {
  const r = spawnSync(process.execPath, [BIN, ...args], {
    env: { ...process.env, SOCKUNIT_CONTROL_SOCKET: m.controlSocket },
    encoding: 'utf8',
    timeout: 20_000,
  });
  return { code: r.status ?? -1, out: `${r.stdout}${r.stderr}` };
}

/** A service that logs `NAME up`, writes its pid to DIR/NAME.pid and sleeps (bounded). */
function sleeper(dir: string, name: string, unit = '', extra = ''): string {
  return `[Unit]\n${unit}[Service]\n${extra}ExecStart=/bin/sh -c 'echo ${name} up; echo $$$$ > ${dir}/${name}.pid; exec sleep 60'\n`;
}

describe('sockunit run: dependencies and ordering', () => {
  const suite = managerSuite('jobs');

  test('a socket-activated service that Requires= and is After= a oneshot: the oneshot runs first', async () => {
    const port = await freePort();
    const m = await suite.start((dir) => ({
      'a.socket': `[Socket]\nListenStream=127.0.0.1:${port}\n`,
      'a.service': `[Unit]\nRequires=b.service\nAfter=b.service\n[Service]\nExecStart=/bin/sh -c 'test -e ${dir}/b-ran && echo saw-b; exec sleep 60'\n`,
      'b.service': `[Service]\nType=oneshot\nExecStart=/bin/sh -c 'sleep 0.2; touch ${dir}/b-ran'\n`,
    }));
    (await connectTcp(port)).destroy();
    await m.waitFor(/^a\.service\[\d+\]: saw-b$/);
    const finished = m.lines.indexOf('Finished b.service.');
    const started = m.lines.indexOf('Started a.service.');
    assert.ok(finished >= 0 && finished < started, `b finished before a started:\n${m.log}`);
  });

  test('ConditionPathExists= that fails skips a socket-activated service; status says which', async () => {
    const port = await freePort();
    const m = await suite.start(() => ({
      'c.socket': `[Socket]\nListenStream=127.0.0.1:${port}\n`,
      'c.service': '[Unit]\nConditionPathExists=/nonexistent/sockunit\n[Service]\nExecStart=/bin/sleep 60\n',
    }));
    (await connectTcp(port)).destroy();
    await m.waitFor(
      /^c\.service was skipped because of an unmet condition check \(ConditionPathExists=\/nonexistent\/sockunit\)\.$/,
    );
    const s = statusOf(m, 'c.service') as ServiceStatusJson & { condition: { kind: string; failed: string } };
    assert.equal(s.activeState, 'inactive');
    assert.deepEqual(
      { kind: s.condition.kind, failed: s.condition.failed },
      { kind: 'condition', failed: 'ConditionPathExists=/nonexistent/sockunit' },
    );
    const human = sockunit(m, 'status', 'c.service');
    assert.match(human.out, /\n {2}Condition: start condition unmet at /);
    assert.match(human.out, /└─ ConditionPathExists=\/nonexistent\/sockunit was not met\n/);
    assert.equal(m.matching(/^Started c\.service/).length, 0);
  });

  test('an Assert*= that fails fails the start; a condition that holds lets it start', async () => {
    const m = await suite.start((dir) => ({
      'x.socket': `[Socket]\nListenStream=${dir}/x.sock\n`,
      'x.service': '[Service]\nExecStart=/bin/true\n',
    }));
    const dir = m.dir;
    writeFileSync(
      join(dir, 'asserted.service'),
      '[Unit]\nAssertPathExists=/nonexistent/sockunit\n[Service]\nExecStart=/bin/sleep 60\n',
    );
    writeFileSync(
      join(dir, 'fine.service'),
      `[Unit]\nConditionPathIsDirectory=/proc\nConditionKernelCommandLine=!sockunit.never\nConditionUser=${process.getuid?.() ?? 0}\n[Service]\nExecStart=/bin/sleep 60\n`,
    );
    const r = sockunit(m, 'start', 'asserted.service');
    assert.notEqual(r.code, 0);
    assert.match(r.out, /Job for asserted\.service failed/);
    await m.waitFor(
      /^Assertion failed for asserted\.service \(AssertPathExists=\/nonexistent\/sockunit\)\.$/,
    );
    assert.equal(sockunit(m, 'start', 'fine.service').code, 0);
    await m.waitFor(/^Started fine\.service\.$/);
  });

  test('a chain ordered with After= starts in order and stops in reverse', async () => {
    const m = await suite.start((dir) => ({
      'x.socket': `[Socket]\nListenStream=${dir}/x.sock\n`,
      'x.service': '[Service]\nExecStart=/bin/true\n',
      'one.service': sleeper(dir, 'one'),
      'two.service': sleeper(dir, 'two', 'Wants=one.service\nAfter=one.service\n'),
      'three.service': sleeper(dir, 'three', 'Requires=two.service\nAfter=two.service\n'),
    }));
    assert.equal(sockunit(m, 'start', 'three').code, 0);
    await m.waitFor(/^Started three\.service\.$/);
    const started = ['one', 'two', 'three'].map((n) => m.lines.indexOf(`Started ${n}.service.`));
    assert.ok(
      started.every((i, k) => i >= 0 && (k === 0 || started[k - 1]! < i)),
      `start order:\n${m.log}`,
    );
    const { code } = await m.stop('SIGTERM');
    assert.equal(code, 0);
    const stopped = ['three', 'two', 'one'].map((n) => m.lines.indexOf(`Stopped ${n}.service.`));
    assert.ok(
      stopped.every((i, k) => i >= 0 && (k === 0 || stopped[k - 1]! < i)),
      `stop order:\n${m.log}`,
    );
  });

  test('a Type=notify dependency counts as started only at READY=1', async () => {
    const m = await suite.start((dir) => {
      writeFileSync(
        join(dir, 'ready.py'),
        'import socket, os, time\ntime.sleep(0.3)\nprint("sending READY", flush=True)\ns = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)\naddr = os.environ["NOTIFY_SOCKET"]\ns.sendto(b"READY=1", "\\0" + addr[1:] if addr.startswith("@") else addr)\ntime.sleep(60)\n',
      );
      return {
        'x.socket': `[Socket]\nListenStream=${dir}/x.sock\n`,
        'x.service': '[Service]\nExecStart=/bin/true\n',
        'slow.service': `[Service]\nType=notify\nExecStart=/usr/bin/python3 ${dir}/ready.py\n`,
        'after.service': sleeper(dir, 'after', 'Requires=slow.service\nAfter=slow.service\n'),
      };
    });
    assert.equal(sockunit(m, 'start', 'after.service').code, 0);
    await m.waitFor(/^Started after\.service\.$/);
    const ready = m.lines.findIndex((l) => /^slow\.service\[\d+\]: sending READY$/.test(l));
    const after = m.lines.indexOf('Started after.service.');
    assert.ok(ready >= 0 && ready < after, `after.service waited for READY=1:\n${m.log}`);
  });

  test('a missing Requires= unit fails the start with the reason; the other units keep working', async () => {
    const port = await freePort();
    const m = await suite.start((dir) => ({
      'ok.socket': `[Socket]\nListenStream=127.0.0.1:${port}\n`,
      'ok.service': sleeper(dir, 'ok'),
      'needy.service': sleeper(dir, 'needy', 'Requires=missing-sockunit.service\n'),
    }));
    const r = sockunit(m, 'start', 'needy.service');
    assert.equal(r.code, 1);
    assert.match(
      r.out,
      /Failed to start needy\.service: Unit missing-sockunit\.service not found \(Requires= of needy\.service\)\./,
    );
    (await connectTcp(port)).destroy();
    await m.waitFor(/^ok\.service\[\d+\]: ok up$/);
  });

  test('Requisite= refuses to start while the unit is inactive; Conflicts= stops the other unit', async () => {
    const m = await suite.start((dir) => ({
      'x.socket': `[Socket]\nListenStream=${dir}/x.sock\n`,
      'x.service': '[Service]\nExecStart=/bin/true\n',
      'base.service': sleeper(dir, 'base'),
      'req.service': sleeper(dir, 'req', 'Requisite=base.service\n'),
      'rival.service': sleeper(dir, 'rival', 'Conflicts=base.service\n'),
    }));
    const refused = sockunit(m, 'start', 'req.service');
    assert.equal(refused.code, 1);
    assert.match(refused.out, /req\.service has Requisite=base\.service, and base\.service is not active/);
    assert.equal(sockunit(m, 'start', 'base.service').code, 0);
    assert.equal(sockunit(m, 'start', 'req.service').code, 0, 'now base is active');
    assert.equal(sockunit(m, 'start', 'rival.service').code, 0);
    assert.equal(statusOf(m, 'base.service').activeState, 'inactive', 'rival stopped base (Conflicts=)');
  });

  test('stopping a unit stops what Requires= it and what is PartOf= it; BindsTo= follows a unit that dies', async () => {
    const m = await suite.start((dir) => ({
      'x.socket': `[Socket]\nListenStream=${dir}/x.sock\n`,
      'x.service': '[Service]\nExecStart=/bin/true\n',
      'db.service': sleeper(dir, 'db'),
      'app.service': sleeper(dir, 'app', 'Requires=db.service\nAfter=db.service\n'),
      'part.service': sleeper(dir, 'part', 'PartOf=db.service\n'),
      'bound.service': sleeper(dir, 'bound', 'BindsTo=db.service\nAfter=db.service\n'),
    }));
    for (const u of ['app', 'part', 'bound']) assert.equal(sockunit(m, 'start', u).code, 0, u);
    assert.equal(sockunit(m, 'stop', 'db.service').code, 0);
    for (const u of ['app', 'part', 'bound', 'db'])
      assert.equal(statusOf(m, `${u}.service`).activeState, 'inactive', `${u} stopped with db`);
    // BindsTo=: the bound unit follows db when db's process dies on its own.
    assert.equal(sockunit(m, 'start', 'bound.service').code, 0);
    const db = Number(readFileSync(join(m.dir, 'db.pid'), 'utf8'));
    process.kill(db, 'SIGKILL');
    await waitUntil('bound.service stopped after db died', () =>
      statusOf(m, 'bound.service').activeState === 'inactive' ? true : undefined,
    );
  });

  test('OnFailure= starts a unit when one fails; OnSuccess= when one ends well; Upholds= restarts', async () => {
    const m = await suite.start((dir) => ({
      'x.socket': `[Socket]\nListenStream=${dir}/x.sock\n`,
      'x.service': '[Service]\nExecStart=/bin/true\n',
      'bad.service': '[Unit]\nOnFailure=alarm.service\n[Service]\nExecStart=/bin/false\n',
      'good.service': '[Unit]\nOnSuccess=report.service\n[Service]\nType=oneshot\nExecStart=/bin/true\n',
      'alarm.service': `[Service]\nType=oneshot\nExecStart=/bin/touch ${dir}/alarm\n`,
      'report.service': `[Service]\nType=oneshot\nExecStart=/bin/touch ${dir}/report\n`,
      'keeper.service': sleeper(dir, 'keeper', 'Upholds=kept.service\n'),
      'kept.service': sleeper(dir, 'kept'),
    }));
    sockunit(m, 'start', 'bad.service');
    await waitUntil('alarm.service ran', () => (existsSync(join(m.dir, 'alarm')) ? true : undefined));
    assert.equal(sockunit(m, 'start', 'good.service').code, 0);
    await waitUntil('report.service ran', () => (existsSync(join(m.dir, 'report')) ? true : undefined));
    assert.equal(existsSync(join(m.dir, 'alarm')), true);
    assert.equal(sockunit(m, 'start', 'keeper.service').code, 0);
    await m.waitFor(/^kept\.service\[\d+\]: kept up$/);
    const first = Number(readFileSync(join(m.dir, 'kept.pid'), 'utf8'));
    process.kill(first, 'SIGKILL');
    await waitUntil('kept.service started again by Upholds=', () => {
      const s = statusOf(m, 'kept.service');
      return s.activeState === 'active' && s.mainPid !== first ? true : undefined;
    });
  });

  test('StopWhenUnneeded= stops a unit once nothing active needs it', async () => {
    const m = await suite.start((dir) => ({
      'x.socket': `[Socket]\nListenStream=${dir}/x.sock\n`,
      'x.service': '[Service]\nExecStart=/bin/true\n',
      'helper.service': sleeper(dir, 'helper', 'StopWhenUnneeded=yes\n'),
      'user.service': sleeper(dir, 'user', 'Wants=helper.service\n'),
    }));
    assert.equal(sockunit(m, 'start', 'user.service').code, 0);
    await waitUntil('helper up', () =>
      statusOf(m, 'helper.service').activeState === 'active' ? true : undefined,
    );
    assert.equal(sockunit(m, 'stop', 'user.service').code, 0);
    await m.waitFor(/^helper\.service: Unit not needed anymore\. Stopping\.$/);
    await waitUntil('helper stopped', () =>
      statusOf(m, 'helper.service').activeState === 'inactive' ? true : undefined,
    );
  });

  test('ExecReload= runs on reload, and PropagatesReloadTo= reloads the other unit', async () => {
    const m = await suite.start((dir) => ({
      'x.socket': `[Socket]\nListenStream=${dir}/x.sock\n`,
      'x.service': '[Service]\nExecStart=/bin/true\n',
      'front.service': sleeper(
        dir,
        'front',
        'PropagatesReloadTo=back.service\n',
        `ExecReload=/bin/sh -c 'echo reload $$MAINPID >> ${dir}/front.reloads'\n`,
      ),
      'back.service': sleeper(dir, 'back', '', `ExecReload=/bin/touch ${dir}/back.reloaded\n`),
    }));
    assert.equal(sockunit(m, 'start', 'front.service').code, 0);
    assert.equal(sockunit(m, 'start', 'back.service').code, 0);
    assert.equal(sockunit(m, 'reload', 'front.service').code, 0);
    const pid = readFileSync(join(m.dir, 'front.pid'), 'utf8').trim();
    assert.equal(readFileSync(join(m.dir, 'front.reloads'), 'utf8'), `reload ${pid}\n`);
    assert.equal(existsSync(join(m.dir, 'back.reloaded')), true, 'PropagatesReloadTo= reloaded back.service');
    await m.waitFor(/^Reloaded front\.service\.$/);
  });

  test('RefuseManualStart= refuses sockunit start, a dependency still starts it', async () => {
    const m = await suite.start((dir) => ({
      'x.socket': `[Socket]\nListenStream=${dir}/x.sock\n`,
      'x.service': '[Service]\nExecStart=/bin/true\n',
      'inner.service': sleeper(dir, 'inner', 'RefuseManualStart=yes\n'),
      'outer.service': sleeper(dir, 'outer', 'Requires=inner.service\n'),
    }));
    const refused = sockunit(m, 'start', 'inner.service');
    assert.equal(refused.code, 1);
    assert.match(refused.out, /may be requested by dependency only/);
    assert.equal(sockunit(m, 'start', 'outer.service').code, 0);
    assert.equal(statusOf(m, 'inner.service').activeState, 'active');
  });

  test('an ordering cycle is broken by dropping a wanted job, loudly', async () => {
    const m = await suite.start((dir) => ({
      'x.socket': `[Socket]\nListenStream=${dir}/x.sock\n`,
      'x.service': '[Service]\nExecStart=/bin/true\n',
      'p.service': sleeper(dir, 'p', 'Wants=q.service\nAfter=q.service\n'),
      'q.service': sleeper(dir, 'q', 'After=p.service\n'),
    }));
    assert.equal(sockunit(m, 'start', 'p.service').code, 0);
    await m.waitFor(
      /^Found ordering cycle p\.service\/start -> q\.service\/start; job q\.service\/start deleted to break it/,
    );
    assert.equal(statusOf(m, 'q.service').activeState, 'inactive');
  });

  test('list-units shows the job of a unit that is starting', async () => {
    const m = await suite.start((dir) => ({
      'x.socket': `[Socket]\nListenStream=${dir}/x.sock\n`,
      'x.service': '[Service]\nExecStart=/bin/true\n',
      'slowpre.service': `[Service]\nExecStartPre=/bin/sh -c 'while [ ! -e ${dir}/go ]; do sleep 0.05; done'\nExecStart=/bin/sleep 60\n`,
    }));
    const starting = spawn(process.execPath, [BIN, 'start', 'slowpre.service'], {
      env: { ...process.env, SOCKUNIT_CONTROL_SOCKET: m.controlSocket },
      stdio: 'ignore',
    });
    const done = new Promise<number | null>((resolve) => starting.on('exit', (code) => resolve(code)));
    const row = await waitUntil('a start job listed', () => {
      const rows = JSON.parse(sockunit(m, 'list-units', '--json').out) as { unit: string; job: string }[];
      const r = rows.find((x) => x.unit === 'slowpre.service');
      return r?.job === 'start' ? r : undefined;
    });
    assert.equal(row.job, 'start');
    assert.match(
      sockunit(m, 'list-units').out,
      /^slowpre\.service +loaded +activating +start-pre +start\s*$/m,
    );
    writeFileSync(join(m.dir, 'go'), '');
    await m.waitFor(/^Started slowpre\.service\.$/);
    assert.equal(await done, 0, 'the start command returns once the unit is up');
  });
});

describe('sockunit run --target (boot mode) and sockunit enable', () => {
  const suite = managerSuite('boot');

  test('enable makes the [Install] links; --target boots them: sockets listen before services start', async () => {
    const port = await freePort();
    const m = await suite.start(
      (dir) => {
        const units = {
          'web.socket': `[Unit]\nDescription=Web\n[Socket]\nListenStream=127.0.0.1:${port}\n[Install]\nWantedBy=sockets.target\n`,
          'web.service': `[Unit]\nRequires=backend.service\nAfter=backend.service\n[Service]\nExecStart=/bin/sh -c 'echo web up; exec sleep 60'\n`,
          'backend.service': `[Unit]\nDescription=Backend\n[Service]\nExecStart=/bin/sh -c 'echo backend up; exec sleep 60'\n[Install]\nWantedBy=multi-user.target\n`,
          'multi-user.target': '[Unit]\nDescription=Multi-User System\nWants=sockets.target\n',
          'sockets.target': '[Unit]\nDescription=Sockets\n',
        };
        for (const [name, text] of Object.entries(units)) writeFileSync(join(dir, name), text);
        const enabled = spawnSync(
          process.execPath,
          [BIN, 'enable', '-p', dir, 'web.socket', 'backend.service'],
          {
            encoding: 'utf8',
          },
        );
        assert.equal(enabled.status, 0, enabled.stderr);
        assert.match(
          enabled.stdout,
          new RegExp(`Created symlink ${dir}/sockets\\.target\\.wants/web\\.socket → ${dir}/web\\.socket\\.`),
        );
        return {};
      },
      { args: ['--target', 'multi-user.target'] },
    );
    await m.waitFor(/^Reached target Multi-User System \(multi-user\.target\)\.$/);
    const listening = m.lines.indexOf(`Listening on web.socket (TCP 127.0.0.1:${port}).`);
    const backend = m.lines.indexOf('Started Backend (backend.service).');
    assert.ok(listening >= 0 && listening < backend, `sockets first:\n${m.log}`);
    const rows = JSON.parse(sockunit(m, 'list-units', '--json').out) as { unit: string; active: string }[];
    assert.deepEqual(
      rows.filter((r) => r.unit.endsWith('.target')).map((r) => [r.unit, r.active]),
      [
        ['multi-user.target', 'active'],
        ['sockets.target', 'active'],
      ],
    );
    (await connectTcp(port)).destroy();
    await m.waitFor(/^web\.service\[\d+\]: web up$/);
  });

  test('enable/disable/is-enabled as systemctl: templates with DefaultInstance=, Alias=, Also=, static units', () => {
    const dir = tempDir('enable');
    writeFileSync(
      join(dir, 'getty@.service'),
      '[Service]\nExecStart=/bin/true\n[Install]\nWantedBy=multi-user.target\nDefaultInstance=tty1\nAlias=console@.service\n',
    );
    writeFileSync(
      join(dir, 'main.service'),
      '[Service]\nExecStart=/bin/true\n[Install]\nRequiredBy=multi-user.target\nAlso=helper.service\n',
    );
    writeFileSync(
      join(dir, 'helper.service'),
      '[Service]\nExecStart=/bin/true\n[Install]\nUpheldBy=main.service\n',
    );
    writeFileSync(join(dir, 'static.service'), '[Service]\nExecStart=/bin/true\n');
    const run = (...args: string[]) =>
      spawnSync(process.execPath, [BIN, ...args, '-p', dir], { encoding: 'utf8' });
    assert.equal(run('enable', 'getty@.service').status, 0);
    assert.equal(run('enable', 'main.service').status, 0);
    const link = (p: string) => execFileSync('readlink', [join(dir, p)], { encoding: 'utf8' }).trim();
    assert.equal(link('multi-user.target.wants/getty@tty1.service'), join(dir, 'getty@.service'));
    // A template aliases a template (systemd.unit(5) Alias=).
    assert.equal(link('console@.service'), join(dir, 'getty@.service'));
    assert.equal(link('multi-user.target.requires/main.service'), join(dir, 'main.service'));
    assert.equal(
      link('main.service.upholds/helper.service'),
      join(dir, 'helper.service'),
      'Also= enabled helper',
    );
    const states = run('is-enabled', 'main.service', 'helper.service', 'static.service');
    assert.deepEqual(states.stdout.trim().split('\n'), ['enabled', 'enabled', 'static']);
    assert.equal(states.status, 0);
    const refused = run('enable', 'static.service');
    assert.equal(refused.status, 1);
    assert.match(refused.stderr, /has no installation config/);
    assert.equal(run('disable', 'main.service').status, 0);
    assert.equal(
      existsSync(join(dir, 'multi-user.target.requires')),
      false,
      'the emptied .requires/ is gone',
    );
    assert.equal(
      existsSync(join(dir, 'main.service.upholds/helper.service')),
      false,
      'Also= disabled helper',
    );
    const after = run('is-enabled', 'main.service');
    assert.equal(after.stdout.trim(), 'disabled');
    assert.equal(after.status, 1);
    symlinkSync('/dev/null', join(dir, 'masked.service'));
    assert.equal(run('is-enabled', 'masked.service').stdout.trim(), 'masked');
  });
});
