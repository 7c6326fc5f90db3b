// `sockunit run --mptcp-upgrade` on the real kernel: unit files that say plain TCP get MPTCP
// listeners (the kernel's socket diagnostics list them as MPTCP, the service receives an
// IPPROTO_MPTCP fd, an MPTCP client runs MPTCP end to end and a plain client is served as before),
// except where MPTCP would cost the unit an option — IPTTL=, which MPTCP sockets refuse, or the
// service's own TCP_MD5SIG/kTLS — or where the kernel has no MPTCP: those ports stay TCP, with one
// line that says which port and why, and list-sockets/status show which ports were upgraded.

import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import type { SocketRow } from '../src/manager/control/snapshot.js';
import {
  BIN,
  freePort,
  type ManagerProcess,
  managerSuite,
  REPORT_PY,
  readReport,
  SYSTEM_PYTHON,
  ss,
  tempDir,
} from './fixtures/manager/harness.js';
import { Netns, netnsUnavailable } from './fixtures/mptcp/netns.js';

const IPPROTO_TCP = 6;
const IPPROTO_MPTCP = 262;

/** `sockunit CMD --json` (or the table without --json) against this manager's control socket. */
function control(m: ManagerProcess, ...args: string[]): string {
  const r = spawnSync(process.execPath, [BIN, ...args], {
    env: { ...process.env, SOCKUNIT_CONTROL_SOCKET: m.controlSocket },
    encoding: 'utf8',
    timeout: 10_000,
  });
  return r.stdout;
}

function listSockets(m: ManagerProcess): SocketRow[] {
  return JSON.parse(control(m, 'list-sockets', '--json')) as SocketRow[];
}

/** Connect with the given protocol (6 or 262), read the service's greeting, and say whether the
 * kernel ran the connection as MPTCP (TCP_IS_MPTCP), from python3: a client that is not ours. */
function greet(port: number, protocol: number, wrapper: string[] = []): { text: string; mptcp: boolean } {
  const code = `import socket, json
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM, ${protocol}); s.settimeout(5)
s.connect(("127.0.0.1", ${port})); text = s.recv(100).decode()
try: mptcp = s.getsockopt(socket.IPPROTO_TCP, 43) == 1
except OSError: mptcp = False
print(json.dumps({"text": text, "mptcp": mptcp}))`;
  const [cmd, ...args] = [...wrapper, SYSTEM_PYTHON, '-c', code];
  return JSON.parse(execFileSync(cmd as string, args, { encoding: 'utf8', timeout: 10_000 })) as {
    text: string;
    mptcp: boolean;
  };
}

/** Listening sockets on `port` that the kernel lists as MPTCP (`ss -M`). */
function mptcpListeners(port: number): string {
  return ss('-H', '-M', '-l', '-n', `sport = :${port}`).trim();
}

describe('sockunit run --mptcp-upgrade', () => {
  const suite = managerSuite('upgrade');

  const units = async (dir: string) => {
    writeFileSync(join(dir, 'report.py'), REPORT_PY);
    const ports = { web: await freePort(), ttl: await freePort(), bgp: await freePort() };
    const service = (name: string) =>
      `[Service]\nExecStart=${SYSTEM_PYTHON} ${dir}/report.py ${dir}/${name}.json --accept\n`;
    return {
      ports,
      files: {
        'web.socket': `[Socket]\nListenStream=127.0.0.1:${ports.web}\n`,
        'web.service': service('web'),
        'ttl.socket': `[Socket]\nListenStream=127.0.0.1:${ports.ttl}\nIPTTL=64\n`,
        'ttl.service': service('ttl'),
        'bgp.socket': `[Socket]\nListenStream=127.0.0.1:${ports.bgp}\nX-Sockunit-ServiceSocketOptions=TCP_MD5SIG kTLS\n`,
        'bgp.service': service('bgp'),
        'local.socket': `[Socket]\nListenStream=${dir}/local.sock\n`,
        'local.service': service('local'),
      },
    };
  };

  /** A manager over the units above with `arg`, once web.socket listens upgraded. */
  const upgraded = async (purpose: string, arg: string) => {
    const dir = tempDir(purpose);
    const { ports, files } = await units(dir);
    const m = await suite.run({ dir, units: files, args: [arg] });
    await m.waitFor(
      new RegExp(`^Listening on web\\.socket \\(TCP->MPTCP 127\\.0\\.0\\.1:${ports.web}\\)\\.$`),
    );
    return { dir, ports, m };
  };

  test('every TCP port opens as MPTCP, serves MPTCP and plain clients; refused options keep TCP with a line', async () => {
    const { dir, ports, m } = await upgraded('upgrade', '--mptcp-upgrade');
    assert.notEqual(mptcpListeners(ports.web), '', `ss -M lists the upgraded listener on ${ports.web}`);

    // IPTTL=: the kernel refuses IP_TTL on MPTCP sockets, so the port keeps the option and TCP.
    const ttlLine = m.matching(/^ttl\.socket: --mptcp-upgrade: /);
    assert.equal(ttlLine.length, 1, m.lines.join('\n'));
    assert.match(
      ttlLine[0] as string,
      new RegExp(
        `TCP 127\\.0\\.0\\.1:${ports.ttl} stays TCP: MPTCP sockets refuse IPTTL= \\(IP_TTL: EOPNOTSUPP\\)`,
      ),
    );
    assert.equal(mptcpListeners(ports.ttl), '', 'the IPTTL= port is not MPTCP');
    assert.equal(m.matching(/^ttl\.socket: IPTTL=/).length, 0, 'IPTTL= was applied, not refused');

    // The service's own options, as the unit declares them: TCP-MD5 and kTLS.
    const bgpLine = m.matching(/^bgp\.socket: --mptcp-upgrade: /);
    assert.equal(bgpLine.length, 1, m.lines.join('\n'));
    assert.match(
      bgpLine[0] as string,
      /stays TCP: MPTCP sockets refuse TCP_MD5SIG \(ENOPROTOOPT\), kTLS \(TCP_ULP "tls": E/,
    );
    assert.equal(mptcpListeners(ports.bgp), '');

    // A unix port is not TCP: untouched, no line.
    assert.equal(m.matching(/^local\.socket: --mptcp-upgrade/).length, 0);
    await m.waitFor(/^Listening on local\.socket \(Stream /);

    const rows = listSockets(m);
    const row = (unit: string) => rows.find((r) => r.unit === unit);
    assert.equal(row('web.socket')?.protocol, 'tcp->mptcp');
    assert.equal(row('web.socket')?.notUpgraded, undefined);
    assert.equal(row('ttl.socket')?.protocol, 'tcp');
    assert.match(row('ttl.socket')?.notUpgraded ?? '', /IPTTL=/);
    assert.equal(row('bgp.socket')?.protocol, 'tcp');
    assert.match(row('bgp.socket')?.notUpgraded ?? '', /TCP_MD5SIG/);
    assert.equal(row('local.socket')?.protocol, 'unix');
    const table = control(m, 'list-sockets');
    assert.match(table, new RegExp(`127\\.0\\.0\\.1:${ports.web}\\s+Stream\\s+tcp->mptcp\\s+web\\.socket`));
    const status = control(m, 'status', 'ttl.socket');
    assert.match(status, /\(Stream, tcp; not upgraded to MPTCP: MPTCP sockets refuse IPTTL=/);

    // The service gets an MPTCP listener; an MPTCP client runs MPTCP end to end.
    const reply = greet(ports.web, IPPROTO_MPTCP);
    assert.deepEqual(reply, { text: 'hello\n', mptcp: true });
    const report = await readReport(join(dir, 'web.json'));
    assert.deepEqual(
      report.fds.map((f) => f.protocol),
      [IPPROTO_MPTCP],
    );
    // The kept ports hand their service a TCP listener.
    assert.deepEqual(greet(ports.ttl, IPPROTO_MPTCP), { text: 'hello\n', mptcp: false });
    assert.deepEqual(
      (await readReport(join(dir, 'ttl.json'))).fds.map((f) => f.protocol),
      [IPPROTO_TCP],
    );
    const { code } = await m.stop('SIGTERM');
    assert.equal(code, 0);
  });

  test('a plain TCP client is served by an upgraded port as before', async () => {
    const { dir, ports, m } = await upgraded('upgrade-plain', '--mptcp-upgrade');
    assert.deepEqual(greet(ports.web, IPPROTO_TCP), { text: 'hello\n', mptcp: false });
    assert.equal((await readReport(join(dir, 'web.json'))).fds[0]?.protocol, IPPROTO_MPTCP);
    await m.stop('SIGTERM');
  });

  test('--mptcp-upgrade=UNIT upgrades only the units named, and warns about a name not loaded', async () => {
    const { m } = await upgraded('upgrade-named', '--mptcp-upgrade=web,nosuch.socket');
    await m.waitFor(/^Listening on ttl\.socket \(TCP /);
    const warning = m.matching(/^--mptcp-upgrade=nosuch\.socket: no socket unit of that name is loaded/);
    assert.equal(warning.length, 1, m.lines.join('\n'));
    const rows = listSockets(m);
    assert.equal(rows.find((r) => r.unit === 'web.socket')?.protocol, 'tcp->mptcp');
    assert.equal(rows.find((r) => r.unit === 'ttl.socket')?.protocol, 'tcp');
    assert.equal(
      rows.find((r) => r.unit === 'ttl.socket')?.notUpgraded,
      undefined,
      'not asked, so no reason',
    );
    assert.equal(m.matching(/--mptcp-upgrade: /).length, 0, 'no "stays TCP" line for units not named');
    await m.stop('SIGTERM');
  });

  test('a name that is not a socket unit is a usage error', () => {
    const r = spawnSync(
      process.execPath,
      [BIN, 'run', '--mptcp-upgrade=web.service', tempDir('upgrade-bad')],
      {
        encoding: 'utf8',
        timeout: 10_000,
      },
    );
    assert.equal(r.status, 2);
    assert.match(r.stderr, /--mptcp-upgrade=web\.service: expected socket unit names/);
  });

  test('verify names a bad X-Sockunit-ServiceSocketOptions= value with file:line and the known names', () => {
    const dir = tempDir('upgrade-verify');
    const file = join(dir, 'x.socket');
    writeFileSync(file, '[Socket]\nListenStream=8080\nX-Sockunit-ServiceSocketOptions=TCP_MD5SIG TCP_FOO\n');
    const r = spawnSync(process.execPath, [BIN, 'verify', file], { encoding: 'utf8', timeout: 10_000 });
    const out = r.stdout + r.stderr;
    assert.match(
      out,
      new RegExp(`${file}:3: X-Sockunit-ServiceSocketOptions=TCP_MD5SIG TCP_FOO: .*'TCP_FOO'`),
    );
    assert.match(out, /TCP_MD5SIG, kTLS/);
  });
});

describe('sockunit run --mptcp-upgrade where the kernel has no MPTCP (net.mptcp.enabled=0 in a netns)', () => {
  const why = netnsUnavailable();
  let ns: Netns | undefined;
  const suite = managerSuite('upgrade-nomptcp');
  after(() => ns?.delete());

  test('the port stays TCP, says why, and serves', async (t) => {
    if (why) return t.skip(why);
    ns = new Netns('upgrade-nomptcp');
    ns.exec('sysctl', '-qw', 'net.mptcp.enabled=0');
    const dir = tempDir('upgrade-nomptcp');
    writeFileSync(join(dir, 'report.py'), REPORT_PY);
    const m = await suite.run({
      dir,
      wrapper: ['ip', 'netns', 'exec', ns.name],
      args: ['--mptcp-upgrade'],
      units: {
        'web.socket': '[Socket]\nListenStream=127.0.0.1:8080\n',
        'web.service': `[Service]\nExecStart=${SYSTEM_PYTHON} ${dir}/report.py ${dir}/web.json --accept\n`,
      },
    });
    const line = m.matching(/^web\.socket: --mptcp-upgrade: /);
    assert.equal(line.length, 1, m.lines.join('\n'));
    assert.match(
      line[0] as string,
      /TCP 127\.0\.0\.1:8080 stays TCP: MPTCP is not available \(.*ENOPROTOOPT/,
    );
    await m.waitFor(/^Listening on web\.socket \(TCP 127\.0\.0\.1:8080\)\.$/);
    assert.deepEqual(greet(8080, IPPROTO_TCP, ['ip', 'netns', 'exec', ns.name]), {
      text: 'hello\n',
      mptcp: false,
    });
    assert.equal((await readReport(join(dir, 'web.json'))).fds[0]?.protocol, IPPROTO_TCP);
    await m.stop('SIGTERM');
  });
});
