// `sockunit run --metrics ADDR`: the endpoint scraped over HTTP and parsed by a real Prometheus
// text-format parser (parse-prometheus-text-format), its values checked against what the test
// did: Accept=yes connections, a service activation and stop, MPTCP and plain TCP connections
// from the kernel. Off by default; a bad address fails the run.

import assert from 'node:assert/strict';
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { callControl } from '../src/cli/control-client.js';
import {
  BIN,
  exchange,
  freePort,
  ManagerProcess,
  SYSTEM_PYTHON,
  ss,
  tempDir,
  waitUntil,
} from './fixtures/manager/harness.js';

interface MetricFamily {
  name: string;
  help: string;
  type: string;
  metrics: { value: string; labels?: Record<string, string> }[];
}
const parsePrometheus = createRequire(import.meta.url)('parse-prometheus-text-format') as (
  text: string,
) => MetricFamily[];

const SERVER_PY = `
import select, socket
s = socket.socket(fileno=3)
conns = []
while True:
    r, _, _ = select.select([s] + conns, [], [], 30)
    for x in r:
        if x is s:
            conns.append(s.accept()[0])
        elif not x.recv(100):
            conns.remove(x)
            x.close()
        else:
            x.send(b'ok')
`;

const CLIENT_PY = `
import socket, sys
c = socket.socket(socket.AF_INET, socket.SOCK_STREAM, int(sys.argv[2]))
c.connect(('127.0.0.1', int(sys.argv[1])))
c.send(b'x'); c.recv(10)
print('connected', flush=True)
sys.stdin.read()
`;

describe('sockunit run --metrics', () => {
  const dir = tempDir('metrics');
  const control = join(dir, 'control.sock');
  const clients: ChildProcess[] = [];
  let manager: ManagerProcess;
  let url: string;
  let mpPort: number;
  let echoPort: number;

  const scrape = async (): Promise<Map<string, MetricFamily>> => {
    const res = await fetch(url, { signal: AbortSignal.timeout(5000) });
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
    return new Map(parsePrometheus(await res.text()).map((f) => [f.name, f]));
  };
  const value = (
    families: Map<string, MetricFamily>,
    name: string,
    labels: Record<string, string>,
  ): number | undefined => {
    const f = families.get(name);
    const m = f?.metrics.find((x) => Object.entries(labels).every(([k, v]) => x.labels?.[k] === v));
    return m === undefined ? undefined : Number(m.value);
  };
  const connect = async (protocol: number) => {
    const c = spawn(SYSTEM_PYTHON, ['-c', CLIENT_PY, String(mpPort), String(protocol)], {
      stdio: ['pipe', 'pipe', 'inherit'],
    });
    clients.push(c);
    let out = '';
    c.stdout?.on('data', (d: Buffer) => {
      out += d.toString();
    });
    await waitUntil('client connected', () => (out.includes('connected') ? true : undefined), 8000);
  };

  before(async () => {
    mpPort = await freePort();
    echoPort = await freePort();
    writeFileSync(join(dir, 'server.py'), SERVER_PY);
    manager = await ManagerProcess.start({
      dir,
      units: {
        'web.socket': `[Socket]\nListenStream=127.0.0.1:${mpPort}\nSocketProtocol=mptcp\n`,
        'web.service': `[Service]\nExecStart=${SYSTEM_PYTHON} ${join(dir, 'server.py')}\n`,
        'echo.socket': `[Socket]\nListenStream=127.0.0.1:${echoPort}\nAccept=yes\n`,
        'echo@.service': '[Service]\nExecStart=/bin/cat\nStandardInput=socket\n',
      },
      args: ['--control-socket', control, '--metrics', '127.0.0.1:0'],
    });
    const line = await manager.waitFor(/^Metrics: http:\/\/127\.0\.0\.1:\d+\/metrics$/);
    url = line.slice('Metrics: '.length);
  });
  after(async () => {
    for (const c of clients) c.kill('SIGKILL');
    await manager.dispose();
  });

  test('every family parses, with HELP and TYPE; the values follow what happened', async () => {
    const before = await scrape();
    for (const name of [
      'sockunit_socket_accepted_total',
      'sockunit_socket_refused_total',
      'sockunit_socket_triggers_total',
      'sockunit_socket_connected',
      'sockunit_socket_connections',
      'sockunit_socket_mptcp_subflows',
      'sockunit_socket_mptcp_several_paths_connections',
      'sockunit_socket_not_live_sockets',
      'sockunit_service_starts_total',
      'sockunit_service_restarts_total',
      'sockunit_service_exits_total',
    ]) {
      const f = before.get(name);
      assert.ok(f, `${name} is exposed`);
      assert.ok(f.help.length > 0, `${name} has HELP`);
      assert.equal(f.type, name.endsWith('_total') ? 'COUNTER' : 'GAUGE');
    }
    assert.equal(value(before, 'sockunit_socket_accepted_total', { unit: 'echo.socket' }), 0);
    assert.equal(value(before, 'sockunit_service_starts_total', { unit: 'web.service' }), 0);

    assert.equal(await exchange(echoPort, 'a'), 'a');
    assert.equal(await exchange(echoPort, 'b'), 'b');
    await connect(262); // MPTCP: activates web.service
    await connect(6); // plain TCP on the MPTCP port: plain TCP, not a fallback
    // echo.socket's connections are counted from the accept thread's reports, which reach the
    // main thread in batches (at most one every 100 ms): wait for both instances' "Started" lines,
    // logged right after each is counted.
    await waitUntil('both connections counted', () =>
      manager.matching(/^Started echo@/).length >= 2 ? true : undefined,
    );
    const now = await scrape();
    assert.equal(value(now, 'sockunit_socket_accepted_total', { unit: 'echo.socket' }), 2);
    assert.equal(value(now, 'sockunit_socket_triggers_total', { unit: 'echo.socket' }), 2);
    assert.equal(value(now, 'sockunit_socket_triggers_total', { unit: 'web.socket' }), 1);
    assert.equal(value(now, 'sockunit_service_starts_total', { unit: 'web.service' }), 1);
    assert.equal(value(now, 'sockunit_socket_connections', { unit: 'web.socket', protocol: 'mptcp' }), 1);
    assert.equal(
      value(now, 'sockunit_socket_connections', { unit: 'web.socket', protocol: 'mptcp->tcp' }),
      0,
    );
    assert.equal(value(now, 'sockunit_socket_connections', { unit: 'web.socket', protocol: 'tcp' }), 1);
    assert.equal(value(now, 'sockunit_socket_mptcp_subflows', { unit: 'web.socket' }), 1);
    // One subflow: runs MPTCP, but not on several paths.
    assert.equal(value(now, 'sockunit_socket_mptcp_several_paths_connections', { unit: 'web.socket' }), 0);
    assert.equal(value(now, 'sockunit_socket_active', { unit: 'web.socket', state: 'running' }), 1);

    // A stop ends the main process with SIGTERM: one exit by that signal.
    for (const c of clients) c.kill('SIGKILL');
    await callControl(control, 'stop', { units: ['web.service'] });
    const stopped = await scrape();
    const exits = stopped.get('sockunit_service_exits_total')?.metrics ?? [];
    assert.deepEqual(
      exits.map((m) => [m.labels?.unit, m.labels?.code, Number(m.value)]),
      [['web.service', 'signal', 1]],
    );
    assert.match(exits[0]?.labels?.status ?? '', /^(SIG)?TERM$|^15$/);
  });

  test('other paths are 404; without --metrics nothing listens; a bad address fails the run', async () => {
    const res = await fetch(url.replace('/metrics', '/nope'), { signal: AbortSignal.timeout(5000) });
    assert.equal(res.status, 404);
    await res.text();
    const xPort = await freePort();
    const plain = await ManagerProcess.start({
      units: {
        'x.socket': `[Socket]\nListenStream=127.0.0.1:${xPort}\n`,
        'x.service': '[Service]\nExecStart=/bin/true\n',
      },
      args: ['--control-socket', join(dir, 'x.sock')],
    });
    // Every TCP listener the manager process holds: only its unit's port, no metrics endpoint.
    const listeners = ss('-Hltnp')
      .split('\n')
      .filter((l) => l.includes(`pid=${plain.pid},`))
      .map((l) => l.split(/\s+/)[3]);
    const log = plain.log;
    await plain.dispose();
    assert.deepEqual(
      listeners,
      [`127.0.0.1:${xPort}`],
      'without --metrics the manager listens on nothing else',
    );
    assert.doesNotMatch(log, /Metrics: http/, 'metrics are off by default');
    const bad = spawnSync(
      process.execPath,
      [BIN, 'run', dir, '--control-socket', join(dir, 'y.sock'), '--metrics', 'nonsense'],
      {
        encoding: 'utf8',
        timeout: 10_000,
      },
    );
    assert.equal(bad.status, 1);
    assert.match(bad.stderr, /--metrics "nonsense": expected HOST:PORT/);
  });
});
