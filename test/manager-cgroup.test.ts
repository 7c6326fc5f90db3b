// Services in cgroups under `sockunit run`, on the real kernel: each service and each Accept=yes
// instance in a cgroup of its own, made before its first process; KillMode= acting on the whole
// cgroup, so a double-forked daemon that left its session dies with its service; status showing
// tasks, memory, CPU and processes; a manager that restarts after SIGKILL ending what its previous
// life left; the process-group fallback. Runs as root where a writable cgroup v2 hierarchy exists
// (skipped with the reason elsewhere, failed in CI). Every cgroup a manager or test makes is removed.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import {
  availableControllers,
  cgroupDir,
  childCgroups,
  isPopulated,
  processesIn,
  unifiedMounts,
} from '../src/sys/cgroup.js';
import {
  BIN,
  exchange,
  freePort,
  type ManagerProcess,
  managerSuite,
  tempDir,
  waitUntil,
} from './fixtures/manager/harness.js';
import { removeTree, skipWithoutCgroups } from './helpers/cgroup.js';

let daemons = 0;

/** A daemon that forks, leaves the session and ignores SIGTERM, writing its pid to
 * `dir/marker.pid`; its parent stays (or exits). The daemon's command line is `sleep SECONDS`
 * with SECONDS unique to the call, so logs and listings name it. */
function daemonScript(
  dir: string,
  marker: string,
  parent: 'stays' | 'exits',
): { path: string; command: string; pid: () => Promise<number> } {
  const path = join(dir, `${marker}.sh`);
  const command = `sleep ${1000 + (process.pid % 1000) / 1000}${++daemons}`;
  writeFileSync(
    path,
    [
      '#!/bin/sh',
      `setsid sh -c 'trap "" TERM; echo $$ > ${dir}/${marker}.pid; exec ${command}' &`,
      parent === 'stays' ? 'exec sleep 1000' : 'exit 0',
      '',
    ].join('\n'),
  );
  chmodSync(path, 0o755);
  const pid = () =>
    waitUntil(`${marker}.pid`, () => {
      try {
        return Number(readFileSync(join(dir, `${marker}.pid`), 'latin1').trim()) || undefined;
      } catch {
        return undefined;
      }
    });
  return { path, command, pid };
}

const literal = (s: string): string => s.replace(/[.*+?^${}()|[\]\\@]/g, '\\$&');

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** A zombie is gone for our purposes: it no longer runs, only waits for its parent. */
function running(pid: number): boolean {
  if (!alive(pid)) return false;
  try {
    return !/^State:\s+Z/m.test(readFileSync(`/proc/${pid}/status`, 'latin1'));
  } catch {
    return false;
  }
}

function cgroupPathOf(pid: number): string {
  const line = readFileSync(`/proc/${pid}/cgroup`, 'latin1')
    .split('\n')
    .find((l) => l.startsWith('0::'));
  return line?.slice(3) ?? '';
}

/** The manager's subtree, from its start-up line. */
async function treeOf(m: ManagerProcess): Promise<{ path: string; dir: string }> {
  const line = await m.waitFor(/Services run in cgroups under /);
  const path = /under (\S+) \(/.exec(line)?.[1] ?? '';
  const h = unifiedMounts()[0]!;
  return { path, dir: cgroupDir(h, path)! };
}

function ctl(
  m: ManagerProcess,
  ...args: string[]
): { status: number | null; stdout: string; stderr: string } {
  return spawnSync(process.execPath, [BIN, ...args, '--control-socket', m.controlSocket], {
    encoding: 'utf8',
    timeout: 20_000,
  });
}

const socketUnit = (port: number, accept = false) =>
  `[Socket]\nListenStream=127.0.0.1:${port}\n${accept ? 'Accept=yes\n' : ''}`;

/** A socket unit for the manager to run; the services under test are started by name, so no
 * connection is left pending to start them again once they stop. */
async function idleSocket(): Promise<Record<string, string>> {
  return { 'idle.socket': socketUnit(await freePort()), 'idle.service': '[Service]\nExecStart=/bin/true\n' };
}

function start(m: ManagerProcess, unit: string): void {
  const r = ctl(m, 'start', unit);
  assert.equal(r.status, 0, r.stdout + r.stderr);
}

describe('services in cgroups', () => {
  const suite = managerSuite('cgroup');

  test('KillMode=control-group: a setsid grandchild that ignores SIGTERM dies with its service at stop; status shows tasks, memory, CPU and the processes', async (t) => {
    if (skipWithoutCgroups(t)) return;
    const dir = tempDir('cgroup-daemon');
    const daemon = daemonScript(dir, 'cgkill', 'stays');
    const idle = await idleSocket();
    const m = await suite.start(() => ({
      ...idle,
      'web.service': `[Service]\nExecStart=${daemon.path}\nTimeoutStopSec=2\n`,
    }));
    const tree = await treeOf(m);
    start(m, 'web.service');
    const grandchild = await daemon.pid();
    await waitUntil('the daemon runs its command', () =>
      readFileSync(`/proc/${grandchild}/cmdline`, 'latin1').startsWith('sleep') ? true : undefined,
    );
    assert.equal(cgroupPathOf(grandchild), `${tree.path}/web.service`, 'born inside the service cgroup');

    const text = ctl(m, 'status', 'web.service');
    assert.equal(text.status, 0, text.stderr);
    assert.match(text.stdout, /^ {6}Tasks: 2\b/m);
    assert.match(text.stdout, /^ {5}Memory: \d+(\.\d)?[BKMG]/m);
    assert.match(text.stdout, /^ {8}CPU: \d/m);
    assert.match(text.stdout, new RegExp(`^ {5}CGroup: ${literal(tree.path)}/web\\.service$`, 'm'));
    assert.match(text.stdout, new RegExp(`[├└]─${grandchild} ${literal(daemon.command)}$`, 'm'));
    const json = JSON.parse(ctl(m, 'status', '--json', 'web.service').stdout) as [
      {
        cgroup: {
          tasks: number;
          memoryBytes: number;
          memorySource: string;
          cpuUsec: number;
          processes: { pid: number }[];
        };
      },
    ];
    const c = json[0].cgroup;
    assert.equal(c.tasks, 2);
    assert.ok(c.memoryBytes > 0);
    assert.equal(c.memorySource, availableControllers(tree.dir).has('memory') ? 'cgroup' : 'pss');
    assert.ok(c.cpuUsec >= 0);
    assert.equal(c.processes.map((p) => p.pid).includes(grandchild), true);

    const stop = ctl(m, 'stop', 'web.service');
    assert.equal(stop.status, 0, stop.stderr);
    assert.equal(running(grandchild), false, 'gone when stop returns');
    await m.waitFor(
      new RegExp(
        `web\\.service: Killing process ${grandchild} \\(${literal(daemon.command)}\\) with signal SIGKILL\\.`,
      ),
    );
    assert.equal(existsSync(`${tree.dir}/web.service`), false, 'the empty cgroup removed');
  });

  test('what a main process leaves behind is ended when it exits (control-group), left running with KillMode=process', async (t) => {
    if (skipWithoutCgroups(t)) return;
    const dir = tempDir('cgroup-leftover');
    const killed = daemonScript(dir, 'leftkill', 'exits');
    const kept = daemonScript(dir, 'leftkeep', 'exits');
    const idle = await idleSocket();
    const m = await suite.start(() => ({
      ...idle,
      'a.service': `[Service]\nExecStart=${killed.path}\nTimeoutStopSec=1\n`,
      'b.service': `[Service]\nExecStart=${kept.path}\nKillMode=process\n`,
    }));
    const tree = await treeOf(m);
    start(m, 'a.service');
    start(m, 'b.service');
    const [a, b] = [await killed.pid(), await kept.pid()];
    await m.waitFor(/^a\.service: Deactivated successfully\.$/, 15_000);
    assert.equal(running(a), false, 'ended before the service went dead');
    await m.waitFor(/^b\.service: Deactivated successfully\.$/);
    assert.equal(running(b), true, 'KillMode=process leaves it');
    assert.deepEqual(processesIn(`${tree.dir}/b.service`), [b], 'still in its cgroup');
    // The test ends it (it holds the service's log pipe, which would keep the manager waiting).
    process.kill(b, 'SIGKILL');
    await waitUntil('b.service’s cgroup empty', () =>
      isPopulated(`${tree.dir}/b.service`) ? undefined : true,
    );
  });

  test('KillMode=mixed: KillSignal= to the main process only, then SIGKILL to what is left', async (t) => {
    if (skipWithoutCgroups(t)) return;
    const dir = tempDir('cgroup-mixed');
    const daemon = daemonScript(dir, 'mixed', 'stays');
    const idle = await idleSocket();
    const m = await suite.start(() => ({
      ...idle,
      'm.service': `[Service]\nExecStart=${daemon.path}\nKillMode=mixed\nTimeoutStopSec=30\n`,
    }));
    start(m, 'm.service');
    const grandchild = await daemon.pid();
    assert.equal(ctl(m, 'stop', 'm.service').status, 0);
    // Well inside TimeoutStopSec=30: SIGKILL follows the main process's end at once.
    assert.equal(running(grandchild), false);
    await m.waitFor(new RegExp(`m\\.service: Killing process ${grandchild} \\(.*\\) with signal SIGKILL`));
    const named = (signal: string) =>
      m.matching(new RegExp(`m\\.service: Killing process ${grandchild} \\(.*\\) with signal ${signal}`))
        .length;
    assert.equal(named('SIGTERM'), 0, 'the rest got no SIGTERM');
    assert.equal(named('SIGKILL'), 1);
  });

  test('Type=forking: a daemon that left the start command’s session is followed by its cgroup and stopped', async (t) => {
    if (skipWithoutCgroups(t)) return;
    const dir = tempDir('cgroup-forking');
    const daemon = daemonScript(dir, 'forking', 'exits');
    const idle = await idleSocket();
    const m = await suite.start(() => ({
      ...idle,
      'f.service': `[Service]\nType=forking\nExecStart=${daemon.path}\nTimeoutStopSec=1\n`,
    }));
    start(m, 'f.service');
    const pid = await daemon.pid();
    const status = JSON.parse(ctl(m, 'status', '--json', 'f.service').stdout) as [
      { activeState: string; mainPid: number },
    ];
    assert.equal(status[0].activeState, 'active', 'the daemon keeps the service up');
    assert.equal(status[0].mainPid, pid, 'the only process left is the main one');
    assert.equal(ctl(m, 'stop', 'f.service').status, 0);
    assert.equal(running(pid), false);
  });

  test('NotifyAccess=all: READY=1 from a process that left the session is the service’s, by its cgroup', async (t) => {
    if (skipWithoutCgroups(t)) return;
    const dir = tempDir('cgroup-notify');
    const ready = join(dir, 'ready.py');
    writeFileSync(
      ready,
      [
        'import os, socket, time',
        "addr = os.environ['NOTIFY_SOCKET']",
        "addr = '\\0' + addr[1:] if addr.startswith('@') else addr",
        's = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)',
        "s.sendto(b'READY=1', addr)",
        'time.sleep(1000)',
        '',
      ].join('\n'),
    );
    const idle = await idleSocket();
    const m = await suite.start(() => ({
      ...idle,
      'n.service': `[Service]\nType=notify\nNotifyAccess=all\nTimeoutStartSec=20\nExecStart=/bin/sh -c 'setsid /usr/bin/python3 ${ready} & exec sleep 1000'\n`,
    }));
    start(m, 'n.service');
    assert.equal(m.matching(/reception only permitted/).length, 0, m.log);
    await m.waitFor(/^Started n\.service\.$/);
  });

  test('Accept=yes: each instance in a cgroup of its own, on the accept thread’s path and on the main thread’s; removed when it ends', async (t) => {
    if (skipWithoutCgroups(t)) return;
    for (const thread of [true, false]) {
      const port = await freePort();
      const dir = tempDir('cgroup-accept');
      const m = await suite.start(
        () => ({
          'e.socket': socketUnit(port, true),
          'e@.service': `[Service]\nExecStart=/bin/sh -c 'grep ^0:: /proc/self/cgroup; read x'\nStandardInput=socket\n`,
        }),
        { env: { ...process.env, SOCKUNIT_ACCEPT_THREAD: thread ? '1' : '0' } },
      );
      const tree = await treeOf(m);
      const [one, two] = await Promise.all([
        exchange(port, '', '127.0.0.1', 10_000),
        exchange(port, '', '127.0.0.1', 10_000),
      ]);
      for (const reply of [one, two]) {
        // The accept thread names the cgroup by the connection's cookie (it starts the instance
        // before the main thread numbers it); the main thread by the unit's name.
        const name = thread ? /^e@\d+\.service$/ : /^e@\d+-\d+-127\.0\.0\.1:\d+-127\.0\.0\.1:\d+\.service$/;
        assert.ok(reply.startsWith(`0::${tree.path}/`), reply);
        assert.match(reply.trim().slice(`0::${tree.path}/`.length), name);
      }
      assert.notEqual(one, two, 'one cgroup each');
      await waitUntil(
        'the instances’ cgroups removed',
        () => (childCgroups(tree.dir).filter((c) => c.startsWith('e@')).length === 0 ? true : undefined),
        10_000,
      );
      await suite.disposeAll();
      void dir;
    }
  });

  test('ExecStartPre= and the main process share the service’s cgroup', async (t) => {
    if (skipWithoutCgroups(t)) return;
    const port = await freePort();
    const dir = tempDir('cgroup-pre');
    const out = join(dir, 'pre');
    const m = await suite.start(() => ({
      'p.socket': socketUnit(port),
      'p.service': `[Service]\nExecStartPre=/bin/sh -c 'grep ^0:: /proc/self/cgroup > ${out}'\nExecStart=/bin/sleep 1000\n`,
    }));
    const tree = await treeOf(m);
    await suite.trigger(port);
    await m.waitFor(/Started p\.service\./);
    assert.equal(readFileSync(out, 'latin1'), `0::${tree.path}/p.service\n`);
  });

  test('resource settings: applied where the controller is available, reported at load at their line where not', async (t) => {
    if (skipWithoutCgroups(t)) return;
    const port = await freePort();
    const m = await suite.start(() => ({
      'r.socket': socketUnit(port),
      'r.service': '[Service]\nExecStart=/bin/sleep 1000\nMemoryMax=64M\nTasksMax=32\nCPUWeight=50\n',
    }));
    const tree = await treeOf(m);
    await suite.trigger(port);
    await m.waitFor(/Started r\.service\./);
    const available = availableControllers(tree.dir);
    const cg = `${tree.dir}/r.service`;
    const checks: [string, string, string, string][] = [
      ['memory', 'MemoryMax=64M', 'memory.max', String(64 * 1024 * 1024)],
      ['pids', 'TasksMax=32', 'pids.max', '32'],
      ['cpu', 'CPUWeight=50', 'cpu.weight', '50'],
    ];
    for (const [controller, line, file, value] of checks) {
      if (available.has(controller))
        assert.equal(readFileSync(`${cg}/${file}`, 'latin1').trim(), value, line);
      else
        assert.equal(
          m.matching(
            new RegExp(
              `r\\.service:\\d+: ${line}: not enforced by sockunit on this machine \\(.*${controller}`,
            ),
          ).length,
          1,
          `${line} reported as not enforced:\n${m.log}`,
        );
    }
  });

  test('a manager killed with SIGKILL: the next one on the same control socket ends what its services left, then serves', async (t) => {
    if (skipWithoutCgroups(t)) return;
    const port = await freePort();
    const dir = tempDir('cgroup-crash');
    const daemon = daemonScript(dir, 'crash', 'stays');
    const units = {
      'c.socket': socketUnit(port),
      'c.service': `[Service]\nExecStart=${daemon.path}\n`,
    };
    const first = await suite.start(() => units);
    const tree = await treeOf(first);
    await suite.trigger(port);
    const grandchild = await daemon.pid();
    await first.stop('SIGKILL');
    assert.equal(running(grandchild), true, 'SIGKILL left the service running');
    assert.ok(isPopulated(`${tree.dir}/c.service`));
    try {
      const second = await suite.run({
        units,
        dir: first.dir,
        args: ['--control-socket', first.controlSocket],
      });
      await second.waitFor(/Found c\.service of a previous manager still running in .*c\.service \(pid /);
      assert.equal(running(grandchild), false, 'ended before the new manager listens');
      assert.equal((await treeOf(second)).path, tree.path, 'the same subtree');
      await suite.trigger(port);
      await second.waitFor(/Started c\.service\./);
    } finally {
      await suite.disposeAll();
      await removeTree(tree.dir);
    }
  });

  test('a second live manager on the same control socket is refused before it touches anything', async (t) => {
    if (skipWithoutCgroups(t)) return;
    const port = await freePort();
    const first = await suite.start(() => ({
      'x.socket': socketUnit(port),
      'x.service': '[Service]\nExecStart=/bin/true\n',
    }));
    const second = spawnSync(
      process.execPath,
      [BIN, 'run', first.dir, '--control-socket', first.controlSocket],
      { encoding: 'utf8', timeout: 20_000 },
    );
    assert.equal(second.status, 1);
    assert.match(second.stderr, new RegExp(`another sockunit manager \\(pid ${first.pid}\\) runs in /`));
    assert.equal(first.running, true);
  });

  test('--cgroup=PATH: services under the cgroup given; --cgroup=no: process groups and one notice', async (t) => {
    if (skipWithoutCgroups(t)) return;
    const h = unifiedMounts()[0]!;
    const given = `/sockunit-test-given-${process.pid}`;
    const port = await freePort();
    const dir = tempDir('cgroup-given');
    const out = join(dir, 'cg');
    try {
      const m = await suite.start(
        () => ({
          'g.socket': socketUnit(port),
          'g.service': `[Service]\nExecStart=/bin/sh -c 'grep ^0:: /proc/self/cgroup > ${out}; exec sleep 1000'\n`,
        }),
        { args: [`--cgroup=${given}`] },
      );
      assert.equal((await treeOf(m)).path, given);
      await suite.trigger(port);
      // The shell makes the file before grep writes the line: wait for the whole line.
      const line = await waitUntil('the service wrote its cgroup', () => {
        const text = existsSync(out) ? readFileSync(out, 'latin1') : '';
        return text.endsWith('\n') ? text : undefined;
      });
      assert.equal(line, `0::${given}/g.service\n`);
      assert.equal(cgroupPathOf(m.pid), `${given}/manager.scope`);
      await suite.disposeAll();
    } finally {
      await removeTree(cgroupDir(h, given)!);
    }

    const dir2 = tempDir('cgroup-none');
    const daemon = daemonScript(dir2, 'nocg', 'stays');
    const idle = await idleSocket();
    const m2 = await suite.start(
      () => ({ ...idle, 'n.service': `[Service]\nExecStart=${daemon.path}\nMemoryMax=1G\n` }),
      { args: ['--cgroup=no'] },
    );
    assert.equal(
      m2.matching(/^No cgroups for services: --cgroup=no\. Services are grouped by session/).length,
      1,
    );
    start(m2, 'n.service');
    await m2.waitFor(
      /MemoryMax=1G: not enforced by sockunit on this machine \(services run without cgroups here/,
    );
    const status = JSON.parse(ctl(m2, 'status', '--json', 'n.service').stdout) as [{ cgroup: unknown }];
    assert.equal(status[0].cgroup, null);
    assert.equal(cgroupPathOf(m2.pid), cgroupPathOf(process.pid), 'the manager stayed where it was started');
    // Without cgroups the setsid'd grandchild escapes the process group: it outlives the stop,
    // which is exactly what cgroups fix. The test ends it.
    const grandchild = await daemon.pid();
    assert.equal(ctl(m2, 'stop', 'n.service').status, 0);
    assert.equal(running(grandchild), true);
    process.kill(grandchild, 'SIGKILL');
  });

  test('metrics: tasks, memory and CPU seconds of each service’s cgroup', async (t) => {
    if (skipWithoutCgroups(t)) return;
    const metricsPort = await freePort();
    const idle = await idleSocket();
    const m = await suite.start(
      () => ({ ...idle, 'w.service': "[Service]\nExecStart=/bin/sh -c 'sleep 1000 & exec sleep 1000'\n" }),
      { args: ['--metrics', `127.0.0.1:${metricsPort}`] },
    );
    start(m, 'w.service');
    const tree = await treeOf(m);
    await waitUntil('both processes in the cgroup', () =>
      processesIn(`${tree.dir}/w.service`).length === 2 ? true : undefined,
    );
    const text = await new Promise<string>((resolve, reject) => {
      http
        .get({ host: '127.0.0.1', port: metricsPort, path: '/metrics' }, (res) => {
          let body = '';
          res.on('data', (d: Buffer) => {
            body += d.toString();
          });
          res.on('end', () => resolve(body));
        })
        .on('error', reject);
    });
    assert.match(text, /^sockunit_service_tasks\{unit="w\.service"\} 2$/m);
    const source = availableControllers(tree.dir).has('memory') ? 'cgroup' : 'pss';
    assert.match(
      text,
      new RegExp(`^sockunit_service_memory_bytes\\{unit="w\\.service",source="${source}"\\} [1-9]\\d*$`, 'm'),
    );
    assert.match(text, /^sockunit_service_cpu_seconds_total\{unit="w\.service"\} \d/m);
    assert.doesNotMatch(
      text,
      /sockunit_service_tasks\{unit="idle\.service"\}/,
      'a service that ran and ended has no cgroup',
    );
  });

  test('the manager leaves no cgroup behind after SIGTERM', async (t) => {
    if (skipWithoutCgroups(t)) return;
    const port = await freePort();
    const m = await suite.start(() => ({
      'z.socket': socketUnit(port),
      'z.service': '[Service]\nExecStart=/bin/sleep 1000\n',
    }));
    const tree = await treeOf(m);
    await suite.trigger(port);
    await m.waitFor(/Started z\.service\./);
    assert.ok(existsSync(`${tree.dir}/z.service`));
    assert.equal((await m.stop()).code, 0);
    assert.equal(existsSync(tree.dir), false, `${tree.dir} removed`);
  });
});
