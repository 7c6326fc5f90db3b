// The operator commands against a running `sockunit run`: list-sockets, list-units, status,
// start/stop/restart/reload, daemon-reload and logs [-f], each in its human form (parsed back
// column by column) and with --json, and the exit codes systemctl uses.

import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { formatStatus } from '../src/cli/status.js';
import type {
  ServiceStatus,
  SocketRow,
  SocketStatus,
  UnitRow,
  UnitStatus,
} from '../src/manager/control/snapshot.js';
import type { OperationResult } from '../src/manager/control/unit-control.js';
import {
  BIN,
  connectTcp,
  exchange,
  freePort,
  ManagerProcess,
  rootUnavailable,
  SYSTEM_PYTHON,
  ss,
  tempDir,
  waitUntil,
} from './fixtures/manager/harness.js';

/** The inode of the socket listening on 127.0.0.1:`port`, from `ss -e`. */
function listenerInode(port: number): string | undefined {
  return /\bino:(\d+)/.exec(ss('-Hltne', `sport = :${port}`))?.[1];
}

// Accepts and closes every connection, so no queued connection re-triggers it after a stop
// (systemd would start it again at once, socket-units.md §4.2 trap 6).
const WEB_PY = `
import socket
s = socket.socket(fileno=3)
print('hello-from-web', flush=True)
while True:
    s.accept()[0].close()
`;

interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
}

/** Rows of a systemctl-like table: columns are separated by two or more spaces. */
function parseTable(text: string): Record<string, string>[] {
  const lines = text.split('\n');
  const header = (lines[0] ?? '').split(/\s{2,}/);
  const rows: Record<string, string>[] = [];
  for (const line of lines.slice(1)) {
    if (line.trim() === '') break;
    const cells = line.split(/\s{2,}/);
    rows.push(Object.fromEntries(header.map((h, i) => [h, cells[i] ?? ''])));
  }
  return rows;
}

describe('sockunit status, list-*, start/stop/…, logs', () => {
  let manager: ManagerProcess;
  let control: string;
  let mpPort: number;
  let tcpPort: number;
  const dir = tempDir('cli-status');

  const cli = (...args: string[]): Run => {
    const r = spawnSync(process.execPath, [BIN, ...args, '--control-socket', control], {
      encoding: 'utf8',
      timeout: 15_000,
    });
    return { status: r.status, stdout: r.stdout, stderr: r.stderr };
  };
  const json = <T>(...args: string[]): T => {
    const r = cli(...args, '--json');
    // status exits 3 when a unit is not active; the JSON is printed all the same.
    assert.ok(
      r.status === 0 || (args[0] === 'status' && r.status === 3),
      `${args.join(' ')}: ${r.status} ${r.stderr}`,
    );
    return JSON.parse(r.stdout) as T;
  };

  before(async () => {
    mpPort = await freePort();
    tcpPort = await freePort();
    control = join(dir, 'control.sock');
    writeFileSync(join(dir, 'web.py'), WEB_PY);
    manager = await ManagerProcess.start({
      dir,
      units: {
        'web.socket': `[Unit]\nDescription=Web socket\nDocumentation=man:web(8) https://example.org/web\n[Socket]\nListenStream=127.0.0.1:${mpPort}\nSocketProtocol=mptcp\n`,
        'web.service': `[Unit]\nDescription=Web server\n[Service]\nExecStart=${SYSTEM_PYTHON} ${join(dir, 'web.py')}\n`,
        'echo.socket': `[Socket]\nListenStream=127.0.0.1:${tcpPort}\nListenStream=${join(dir, 'echo.sock')}\nAccept=yes\n`,
        'echo@.service': '[Service]\nExecStart=/bin/cat\nStandardInput=socket\n',
        'bad.socket': '[Socket]\nListenStream=not-an-address:x\n',
      },
      args: ['--control-socket', control],
    });
  });
  after(async () => {
    await manager.dispose();
  });

  test('list-sockets: LISTEN TYPE PROTOCOL UNIT ACTIVATES, the same rows as --json', () => {
    const human = cli('list-sockets');
    assert.equal(human.status, 0, human.stderr);
    const rows = parseTable(human.stdout);
    assert.deepEqual(Object.keys(rows[0] ?? {}), ['LISTEN', 'TYPE', 'PROTOCOL', 'UNIT', 'ACTIVATES']);
    assert.match(human.stdout, /\n\n3 sockets listed\.\n$/);
    const records = json<SocketRow[]>('list-sockets');
    assert.deepEqual(
      rows,
      records.map((r) => ({
        LISTEN: r.listen,
        TYPE: r.type,
        PROTOCOL: r.protocol,
        UNIT: r.unit,
        ACTIVATES: r.activates,
      })),
    );
    // systemctl's order: addresses, then paths.
    assert.deepEqual(
      records.map((r) => [r.listen, r.type, r.protocol, r.unit, r.activates]),
      [
        ...[
          [`127.0.0.1:${tcpPort}`, 'Stream', 'tcp', 'echo.socket', '-'],
          [`127.0.0.1:${mpPort}`, 'Stream', 'mptcp', 'web.socket', 'web.service'],
        ].sort((a, b) => String(a[0]).localeCompare(String(b[0]))),
        [join(dir, 'echo.sock'), 'Stream', 'unix', 'echo.socket', '-'],
      ],
    );
    const bare = cli('list-sockets', '--no-legend');
    assert.equal(bare.stdout.split('\n').filter(Boolean).length, 3);
  });

  test('list-units: every unit with load/active/sub, a broken one included', () => {
    const human = cli('list-units');
    assert.equal(human.status, 0, human.stderr);
    const rows = parseTable(human.stdout);
    const records = json<UnitRow[]>('list-units');
    assert.deepEqual(
      rows.map((r) => [r.UNIT, r.LOAD, r.ACTIVE, r.SUB]),
      records.map((r) => [r.unit, r.load, r.active, r.sub]),
    );
    const by = new Map(records.map((r) => [r.unit, r]));
    assert.deepEqual(by.get('web.socket'), {
      unit: 'web.socket',
      load: 'loaded',
      active: 'active',
      sub: 'listening',
      job: '',
      description: 'Web socket',
    });
    assert.equal(by.get('web.service')?.sub, 'dead');
    assert.equal(by.get('bad.socket')?.load, 'bad-setting');
    assert.equal(by.get('bad.socket')?.active, 'inactive');
  });

  test('status: socket and service as systemctl shows them; --json carries the same facts', async () => {
    // Activate web.service and pass two connections through echo.socket.
    (await connectTcp(mpPort)).destroy();
    assert.equal(await exchange(tcpPort, 'one'), 'one');
    assert.equal(await exchange(tcpPort, 'two'), 'two');
    await manager.waitFor(/hello-from-web/);
    const [web] = json<ServiceStatus[]>('status', 'web.service');
    assert.ok(web);
    assert.equal(web.subState, 'running');
    assert.equal(typeof web.mainPid, 'number');
    assert.deepEqual(web.triggeredBy, ['web.socket']);
    assert.equal(web.starts, 1);
    assert.ok(web.logs.some((l) => l.message === 'hello-from-web'));
    const human = cli('status', 'web');
    assert.equal(human.status, 0, human.stderr);
    assert.match(human.stdout, /^● web\.service - Web server\n/);
    assert.match(
      human.stdout,
      /\n {5}Active: active \(running\) since \w{3} \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC; \d+s ago\n/,
    );
    assert.match(human.stdout, /\nTriggeredBy: ● web\.socket\n/);
    assert.match(human.stdout, new RegExp(`\\n {3}Main PID: ${web.mainPid}\\n`));
    assert.match(human.stdout, /\n {3}FD Store: 0 \(limit: 0\)\n/);
    assert.match(human.stdout, new RegExp(`web\\.service\\[${web.mainPid}\\]: hello-from-web\\n`));

    const [echo] = json<SocketStatus[]>('status', 'echo.socket');
    assert.equal(echo?.accepted, 2);
    assert.equal(echo?.triggerCount, 2);
    const echoHuman = cli('status', 'echo.socket');
    assert.match(echoHuman.stdout, /^● echo\.socket\n/);
    assert.match(echoHuman.stdout, /\n {5}Active: active \(listening\) since /);
    assert.match(
      echoHuman.stdout,
      new RegExp(
        `\\n {5}Listen: 127\\.0\\.0\\.1:${tcpPort} \\(Stream, tcp\\)\\n {13}\\S+echo\\.sock \\(Stream, unix\\)\\n`,
      ),
    );
    assert.match(echoHuman.stdout, /\n {3}Accepted: 2; Connected: \d\n/);
    const webSocket = cli('status', 'web.socket');
    assert.match(webSocket.stdout, /\n {5}Active: active \(running\) since /);
    assert.match(
      webSocket.stdout,
      /\n {3}Triggers: ● web\.service\n {7}Docs: man:web\(8\)\n {13}https:\/\/example\.org\/web\n/,
    );
    assert.match(webSocket.stdout, /\nActivations: 1\n/);
    // The live connections on its port, counted as `sockunit connections` counts them: web.py
    // closed the one it got, so none is live (a TIME-WAIT left behind is counted apart).
    assert.match(
      webSocket.stdout,
      /\nConnections: 0 live connections: 0 mptcp \(0 on several paths now, 0 subflows\), 0 mptcp->tcp, 0 tcp(; \d+ not live \(TIME-WAIT, SYN-RECV or CLOSE\), not counted)?\n/,
    );

    // Everything, and the exit codes: 3 when some unit is not active, 4 for an unknown unit.
    const all = cli('status');
    assert.equal(all.status, 3, 'bad.socket is inactive');
    assert.match(all.stdout, /^○ bad\.socket\n {5}Loaded: bad-setting \(Reason: /);
    const everything = json<UnitStatus[]>('status').map((s) => s.unit);
    assert.deepEqual(everything, ['bad.socket', 'echo.socket', 'web.service', 'web.socket']);
    const unknown = cli('status', 'nope.socket');
    assert.equal(unknown.status, 4);
    assert.match(unknown.stderr, /Unit nope\.socket not found on this manager's unit path/);
  });

  test('status text of STATUS=, exits and a failed unit render as systemctl words them', () => {
    const text = formatStatus({
      unit: 'x.service',
      kind: 'service',
      description: '',
      documentation: [],
      loadState: 'loaded',
      activeState: 'failed',
      subState: 'failed',
      result: 'exit-code',
      since: new Date(Date.now() - 65_000).toISOString(),
      triggeredBy: [],
      mainPid: null,
      lastExit: 'code=exited, status=1/FAILURE',
      statusText: 'Serving 3 clients',
      fdStore: { count: 0, limit: 4, names: [] },
      starts: 5,
      restarts: 4,
      exits: { 'status=1': 5 },
      logs: [],
    });
    assert.match(text, /^× x\.service\n/);
    assert.match(text, /Active: failed \(Result: exit-code\) since .*; 1min 5s ago\n/);
    assert.match(text, /\n {5}Status: "Serving 3 clients"\n/);
    assert.match(text, /\n {2}Last exit: code=exited, status=1\/FAILURE\n/);
    assert.match(text, /\n {6}Exits: status=1 x5\n/);
    assert.match(text, /\n {3}FD Store: 0 \(limit: 4\)\n/);
  });

  test('stop/start a socket closes and re-opens its listeners; start/stop a service passes its socket', async () => {
    // web.service holds web.socket's listener: stop it first, the socket listens again.
    assert.equal(cli('stop', 'web.service').status, 0);
    const [afterStop] = json<SocketStatus[]>('status', 'web.socket');
    assert.equal(afterStop?.subState, 'listening');
    assert.equal(json<ServiceStatus[]>('status', 'web.service')[0]?.subState, 'dead');

    const stopped = json<OperationResult[]>('stop', 'web.socket');
    assert.deepEqual(stopped, [
      { unit: 'web.socket', operation: 'stop', activeState: 'inactive', subState: 'dead' },
    ]);
    await assert.rejects(connectTcp(mpPort), /ECONNREFUSED/);
    assert.ok(!json<SocketRow[]>('list-sockets').some((r) => r.unit === 'web.socket'));

    assert.equal(cli('start', 'web.socket').status, 0);
    assert.equal(json<SocketStatus[]>('status', 'web.socket')[0]?.subState, 'listening');
    (await connectTcp(mpPort)).destroy();
    await waitUntil('web.service started by traffic', () =>
      json<ServiceStatus[]>('status', 'web.service')[0]?.subState === 'running' ? true : undefined,
    );
    assert.equal(cli('stop', 'web.service').status, 0);

    // An explicit start: the service gets the socket's fd and the socket stops watching.
    const started = json<OperationResult[]>('start', 'web.service');
    assert.equal(started[0]?.subState, 'running');
    assert.equal(json<SocketStatus[]>('status', 'web.socket')[0]?.subState, 'running');
    const pid = json<ServiceStatus[]>('status', 'web.service')[0]?.mainPid;
    assert.ok(pid);
    const fds = execFileSync('ls', ['-l', `/proc/${pid}/fd`], { encoding: 'utf8' });
    assert.match(fds, / 3 -> socket:\[\d+\]/, 'the listener is fd 3 of the service');

    // restart: a new main pid; a socket restart re-opens its port.
    assert.equal(cli('restart', 'web').status, 0);
    const again = json<ServiceStatus[]>('status', 'web.service')[0];
    assert.equal(again?.subState, 'running');
    assert.notEqual(again?.mainPid, pid);
    assert.equal(cli('restart', 'echo.socket').status, 0);
    assert.equal(await exchange(tcpPort, 'three'), 'three');

    // reload: not applicable without ExecReload=, exit 1, nothing changes.
    const reload = cli('reload', 'web.service');
    assert.equal(reload.status, 1);
    assert.match(reload.stderr, /Job type reload is not applicable for unit web\.service/);
    const none = cli('start');
    assert.equal(none.status, 2);
    assert.match(none.stderr, /no unit given/);
  });

  test('daemon-reload picks up a new unit and keeps existing listeners', async () => {
    // The same listening socket before and after (its inode), not one closed and opened again.
    const inodeBefore = listenerInode(tcpPort);
    assert.ok(inodeBefore, `ss shows the listener on ${tcpPort}`);
    const port = await freePort();
    writeFileSync(join(dir, 'late.socket'), `[Socket]\nListenStream=127.0.0.1:${port}\n`);
    writeFileSync(join(dir, 'late.service'), '[Service]\nExecStart=/bin/true\n');
    const result = json<{ sockets: number; broken: string[] }>('daemon-reload');
    assert.equal(result.sockets, 3, 'web, echo and late; bad.socket did not load');
    assert.deepEqual(result.broken, ['bad.socket']);
    assert.ok(json<SocketRow[]>('list-sockets').some((r) => r.unit === 'late.socket'));
    assert.equal(await exchange(tcpPort, 'four'), 'four');
    assert.equal(listenerInode(tcpPort), inodeBefore, 'the listener was kept, not re-opened');
  });

  test('logs prints the unit’s records; logs -f follows until SIGTERM', async () => {
    const logs = cli('logs', 'web.service');
    assert.equal(logs.status, 0, logs.stderr);
    assert.match(logs.stdout, /web\.service\[\d+\]: hello-from-web\n/);
    const records = cli('logs', 'web', '--json')
      .stdout.trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { unit: string; message: string });
    assert.ok(records.every((r) => r.unit === 'web.service'));
    assert.ok(records.some((r) => r.message === 'hello-from-web'));

    const follower = spawn(
      process.execPath,
      [BIN, 'logs', '-f', 'echo.socket', '--control-socket', control],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let out = '';
    follower.stdout.on('data', (d: Buffer) => {
      out += d.toString();
    });
    const exited = new Promise<number | null>((resolve) => follower.on('exit', (code) => resolve(code)));
    try {
      await waitUntil(
        'recent records',
        () => (out.includes('Listening on echo.socket') ? true : undefined),
        5000,
      );
      // A new record for echo.socket: stop and start it.
      assert.equal(cli('restart', 'echo.socket').status, 0);
      await waitUntil(
        'followed record',
        () => (out.split('Listening on echo.socket').length > 2 ? true : undefined),
        5000,
      );
    } finally {
      follower.kill('SIGTERM');
    }
    assert.equal(await exited, 0);
  });

  test('SOCKUNIT_CONTROL_SOCKET is used when --control-socket is not given', () => {
    const r = spawnSync(process.execPath, [BIN, 'list-units', '--json'], {
      encoding: 'utf8',
      timeout: 10_000,
      env: { ...process.env, SOCKUNIT_CONTROL_SOCKET: control },
    });
    assert.equal(r.status, 0, r.stderr);
    assert.ok((JSON.parse(r.stdout) as UnitRow[]).some((u) => u.unit === 'web.socket'));
  });

  test('no manager: a clear error naming the path, exit 1', () => {
    const r = spawnSync(
      process.execPath,
      [BIN, 'list-units', '--control-socket', join(dir, 'nothing.sock')],
      {
        encoding: 'utf8',
      },
    );
    assert.equal(r.status, 1);
    assert.match(
      r.stderr,
      /cannot connect to the control socket .*nothing\.sock: ENOENT; is a manager running\?/,
    );
  });
});

describe('status after a start limit', () => {
  test("a service refused by its start limit shows Result: start-limit-hit, the result the log names (as systemd's)", async () => {
    const dir = tempDir('cli-status-limit');
    const control = join(dir, 'control.sock');
    const port = await freePort();
    const m = await ManagerProcess.start({
      dir,
      units: {
        'limit.socket': `[Socket]\nListenStream=127.0.0.1:${port}\n`,
        'limit.service': '[Unit]\nStartLimitBurst=1\n[Service]\nExecStart=/bin/false\n',
      },
      args: ['--control-socket', control],
    });
    try {
      (await connectTcp(port)).destroy();
      await m.waitFor(/^limit\.service: Failed with result 'exit-code'\.$/);
      // The socket listens again, and the first connection, never accepted by /bin/false, is
      // still in its backlog: it asks for the second start at once, or ours does. Either hits
      // the limit, which closes the port — so ours may meet a reset or a refusal: both are fine.
      await connectTcp(port).then(
        (s) => s.destroy(),
        () => undefined,
      );
      await m.waitFor(/^limit\.service: Failed with result 'start-limit-hit'\.$/);
      await m.waitFor(/^limit\.socket: Failed with result 'service-start-limit-hit'\.$/);
      const status = (unit: string) =>
        spawnSync(process.execPath, [BIN, 'status', unit, '--control-socket', control], { encoding: 'utf8' });
      const service = status('limit.service');
      assert.equal(service.status, 3, 'a failed unit is not active');
      assert.match(service.stdout, /\n {5}Active: failed \(Result: start-limit-hit\) since /);
      const socket = status('limit.socket');
      assert.match(socket.stdout, /\n {5}Active: failed \(Result: service-start-limit-hit\) since /);
      const json = spawnSync(
        process.execPath,
        [BIN, 'status', 'limit.service', '--json', '--control-socket', control],
        { encoding: 'utf8' },
      );
      assert.equal((JSON.parse(json.stdout) as ServiceStatus[])[0]?.result, 'start-limit-hit');
    } finally {
      await m.dispose();
    }
  });
});

describe('list-sockets shows mptcp->tcp where MPTCP fell back', { skip: rootUnavailable() }, () => {
  const ns = `su-ls-${process.pid}-${randomBytes(3).toString('hex')}`;
  before(() => {
    execFileSync('ip', ['netns', 'add', ns]);
    execFileSync('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
    execFileSync('ip', ['netns', 'exec', ns, 'sysctl', '-qw', 'net.mptcp.enabled=0']);
  });
  after(() => {
    spawnSync('ip', ['netns', 'del', ns]);
  });

  test('an MPTCP unit allowed to fall back lists as mptcp->tcp', async () => {
    const dir = tempDir('cli-status-fallback');
    const control = join(dir, 'control.sock');
    const m = await ManagerProcess.start({
      dir,
      units: {
        'fb.socket':
          '[Socket]\nListenStream=127.0.0.1:7000\nSocketProtocol=mptcp\nX-Sockunit-MPTCPFallback=yes\n',
        'fb.service': '[Service]\nExecStart=/bin/true\n',
      },
      wrapper: ['ip', 'netns', 'exec', ns],
      args: ['--control-socket', control],
    });
    try {
      const r = spawnSync(process.execPath, [BIN, 'list-sockets', '--control-socket', control], {
        encoding: 'utf8',
      });
      assert.equal(r.status, 0, r.stderr);
      assert.deepEqual(parseTable(r.stdout), [
        {
          LISTEN: '127.0.0.1:7000',
          TYPE: 'Stream',
          PROTOCOL: 'mptcp->tcp',
          UNIT: 'fb.socket',
          ACTIVATES: 'fb.service',
        },
      ]);
      const s = spawnSync(process.execPath, [BIN, 'status', 'fb.socket', '--control-socket', control], {
        encoding: 'utf8',
      });
      assert.match(s.stdout, /Listen: 127\.0\.0\.1:7000 \(Stream, mptcp->tcp\)/);
    } finally {
      await m.dispose();
    }
  });
});
