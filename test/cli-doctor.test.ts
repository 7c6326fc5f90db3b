// `sockunit doctor` in fresh network namespaces, where every fact is known: MPTCP disabled (exit 1,
// the sysctl fix), MPTCP on without endpoints (single-path explained, the endpoint command shown:
// advice, exit 0), a namespace set up for two paths (nothing wrong, exit 0), a manager's listener
// that runs as TCP (exit 1), plain TCP clients (a note), a manager of another network namespace
// (not reported as this one's), `--json`, and a missing iproute2.

import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { Writable } from 'node:stream';
import { after, describe, test } from 'node:test';
import { doctorCommand } from '../src/cli/doctor.js';
import { type DoctorReport, doctor, parseEndpoints, parseLimits } from '../src/mptcp/doctor.js';
import { BIN, ManagerProcess, SYSTEM_PYTHON, tempDir, waitUntil } from './fixtures/manager/harness.js';
import { Netns, netnsUnavailable } from './fixtures/mptcp/netns.js';

/** Where no manager listens, so a manager running elsewhere on the machine stays out of the report. */
const NO_MANAGER = '/nonexistent/sockunit-doctor-test/control.sock';

/** `sockunit doctor ARGS` inside a namespace: exit status and output. Without a
 * --control-socket of its own, it asks NO_MANAGER. */
function doctorIn(ns: Netns, ...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const control = args.includes('--control-socket') ? [] : ['--control-socket', NO_MANAGER];
  const r = spawnSync(
    'ip',
    ['netns', 'exec', ns.name, process.execPath, BIN, 'doctor', ...control, ...args],
    {
      encoding: 'utf8',
      timeout: 15_000,
    },
  );
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** The --json report doctor printed; fails with its stderr when it printed none. */
function parseReport(r: { status: number | null; stdout: string; stderr: string }): DoctorReport {
  assert.ok(
    r.stdout.startsWith('{'),
    `doctor exited ${r.status} without a JSON report: ${r.stderr}${r.stdout}`,
  );
  return JSON.parse(r.stdout) as DoctorReport;
}

function check(report: DoctorReport, id: string) {
  const c = report.checks.find((x) => x.id === id);
  assert.ok(c, `check ${id} in ${JSON.stringify(report.checks.map((x) => x.id))}`);
  return c;
}

/** Accepts every connection on fd 3 and holds it open. */
const HOLDING_SERVER_PY =
  'import socket; s = socket.socket(fileno=3); held = [s.accept() for _ in iter(int, 1)]';
/** A plain TCP client (no MPTCP) that holds its connection until stdin closes. */
const PLAIN_CLIENT_PY =
  'import socket, sys; c = socket.create_connection(("127.0.0.1", 8080)); print("connected", flush=True); sys.stdin.read()';

class Collect extends Writable {
  text = '';
  override _write(chunk: Buffer, _enc: BufferEncoding, done: () => void): void {
    this.text += chunk.toString();
    done();
  }
}

describe('sockunit doctor', () => {
  const why = netnsUnavailable();
  const namespaces: Netns[] = [];
  after(() => {
    for (const ns of namespaces) ns.delete();
  });
  const fresh = (purpose: string) => {
    const ns = new Netns(`doctor-${purpose}`);
    namespaces.push(ns);
    return ns;
  };
  /** A fresh namespace with two addressed interfaces, d1 (10.9.1.1) and d2 (10.9.2.1): veth
   * pairs, since this kernel has no dummy interfaces. */
  const twoInterfaces = (purpose: string) => {
    const ns = fresh(purpose);
    ns.ip('link', 'add', 'd1', 'type', 'veth', 'peer', 'name', 'p1');
    ns.ip('link', 'add', 'd2', 'type', 'veth', 'peer', 'name', 'p2');
    ns.ip('addr', 'add', '10.9.1.1/24', 'dev', 'd1');
    ns.ip('addr', 'add', '10.9.2.1/24', 'dev', 'd2');
    return ns;
  };
  /** A manager in `ns` with one MPTCP unit on 127.0.0.1:8080 whose service holds every
   * connection; `extra` lines go into its [Socket] section. */
  const mptcpManagerIn = (ns: Netns, extra = '') =>
    ManagerProcess.start({
      dir: tempDir('doctor'),
      wrapper: ['ip', 'netns', 'exec', ns.name],
      units: {
        'mp.socket': `[Socket]\nListenStream=127.0.0.1:8080\nSocketProtocol=mptcp\n${extra}`,
        'mp.service': `[Service]\nExecStart=${SYSTEM_PYTHON} -c "${HOLDING_SERVER_PY}"\n`,
      },
    });

  test('net.mptcp.enabled=0: the problem, the sysctl that fixes it, exit 1', (t) => {
    if (why) return t.skip(why);
    const ns = fresh('off');
    ns.exec('sysctl', '-qw', 'net.mptcp.enabled=0');
    const r = doctorIn(ns);
    assert.equal(r.status, 1, r.stdout + r.stderr);
    assert.match(r.stdout, /^PROBLEM\s+MPTCP enabled: net\.mptcp\.enabled is 0 in this network namespace/m);
    assert.match(r.stdout, /fix: sysctl -w net\.mptcp\.enabled=1$/m);
    assert.match(r.stdout, /socket\(AF_INET, SOCK_STREAM, IPPROTO_MPTCP\) fails with ENOPROTOOPT/);
    assert.match(
      r.stdout,
      new RegExp(`network namespace ${ns.name} \\(net:\\[\\d+\\]\\)`),
      'names the namespace',
    );
  });

  test('MPTCP on, no endpoints, one path: advice that connections stay single-path, with the endpoint command; exit 0', (t) => {
    if (why) return t.skip(why);
    const ns = fresh('noep');
    const r = doctorIn(ns);
    assert.equal(r.status, 0, `a single-homed host without endpoints is not broken:\n${r.stdout}${r.stderr}`);
    assert.match(r.stdout, /^ok\s+MPTCP enabled: net\.mptcp\.enabled = 1$/m);
    assert.match(
      r.stdout,
      /^note\s+MPTCP endpoints: none: MPTCP connections from this host stay single-path/m,
    );
    assert.match(r.stdout, /fix: ip mptcp endpoint add ADDR dev IFACE subflow$/m);
    assert.match(r.stdout, /^Nothing broken \(0 warnings, \d+ notes\)\.$/m);
  });

  test('no endpoints on a host with two interfaces: a warning naming each address, still exit 0', (t) => {
    if (why) return t.skip(why);
    const ns = twoInterfaces('twoif');
    // Paths are interfaces that are up (a link that is down carries nothing).
    for (const dev of ['d1', 'p1', 'd2', 'p2']) ns.ip('link', 'set', dev, 'up');
    const r = doctorIn(ns, '--json');
    const endpoints = check(parseReport(r), 'endpoints');
    assert.equal(endpoints.status, 'warning');
    assert.deepEqual(endpoints.fix, [
      'ip mptcp endpoint add 10.9.1.1 dev d1 subflow',
      'ip mptcp endpoint add 10.9.2.1 dev d2 subflow',
    ]);
    assert.equal(r.status, 0, 'a warning is advice: exit 1 is for what is broken');
  });

  test('--json parses; a namespace set up for two paths has nothing wrong (exit 0)', (t) => {
    if (why) return t.skip(why);
    const ns = twoInterfaces('ready');
    ns.ip('mptcp', 'endpoint', 'add', '10.9.2.1', 'dev', 'd2', 'subflow');
    ns.ip('mptcp', 'limits', 'set', 'subflows', '2', 'add_addr_accepted', '2');
    const r = doctorIn(ns, '--json');
    const report = parseReport(r);
    assert.equal(r.status, 0, r.stdout);
    assert.equal(report.ok, true);
    assert.match(report.netns, new RegExp(`^${ns.name} `));
    assert.equal(check(report, 'mptcp-enabled').status, 'ok');
    assert.equal(check(report, 'limits').message, 'subflows 2, add_addr_accepted 2');
    const endpoints = check(report, 'endpoints');
    assert.equal(endpoints.status, 'ok');
    assert.match(endpoints.message, /^10\.9\.2\.1 dev d2 subflow$/);
    // No manager answers: the running-manager check says it was not done, and why.
    const manager = check(report, 'manager-fallback');
    assert.equal(manager.status, 'skipped');
    assert.match(manager.message, /not checked: cannot connect to the control socket .*ENOENT/);
    // This VM has no SCTP module (EPROTONOSUPPORT); where it has, the probe reports it available.
    assert.ok(['ok', 'note'].includes(check(report, 'sctp').status));
  });

  test("no endpoints but add_addr_accepted > 0: a note that servers' announced addresses are still followed", (t) => {
    if (why) return t.skip(why);
    const ns = fresh('accept');
    ns.ip('mptcp', 'limits', 'set', 'subflows', '2', 'add_addr_accepted', '2');
    const r = doctorIn(ns, '--json');
    const report = parseReport(r);
    const endpoints = check(report, 'endpoints');
    assert.equal(endpoints.status, 'note');
    assert.match(endpoints.message, /follows up to 2 addresses a server announces/);
    assert.equal(r.status, 0, 'a note is not something wrong');
  });

  test("a running manager's MPTCP listener that fell back to TCP is a problem naming the unit, exit 1", async (t) => {
    if (why) return t.skip(why);
    const ns = fresh('fellback');
    ns.exec('sysctl', '-qw', 'net.mptcp.enabled=0');
    const manager = await mptcpManagerIn(ns, 'X-Sockunit-MPTCPFallback=yes\n');
    try {
      const r = doctorIn(ns, '--json', '--control-socket', manager.controlSocket);
      const report = parseReport(r);
      const fellBack = check(report, 'manager-fallback');
      assert.equal(fellBack.status, 'problem', JSON.stringify(fellBack));
      assert.match(fellBack.message, /^mp\.socket 127\.0\.0\.1:8080 runs as plain TCP: MPTCP was asked for/);
      assert.match(fellBack.fix?.[0] ?? '', /sysctl -w net\.mptcp\.enabled=1/);
      assert.equal(r.status, 1);
    } finally {
      await manager.dispose();
    }
  });

  test('a TCP unit upgraded with --mptcp-upgrade counts as an MPTCP listener of the running manager', async (t) => {
    if (why) return t.skip(why);
    const ns = fresh('upgraded');
    const manager = await ManagerProcess.start({
      dir: tempDir('doctor'),
      wrapper: ['ip', 'netns', 'exec', ns.name],
      args: ['--mptcp-upgrade'],
      units: {
        'plain.socket': '[Socket]\nListenStream=127.0.0.1:8080\n',
        'plain.service': `[Service]\nExecStart=${SYSTEM_PYTHON} -c "${HOLDING_SERVER_PY}"\n`,
      },
    });
    try {
      const report = parseReport(doctorIn(ns, '--json', '--control-socket', manager.controlSocket));
      const c = check(report, 'manager-fallback');
      assert.equal(c.status, 'ok', `${JSON.stringify(c)}\nmanager log:\n${manager.log}`);
      assert.match(c.message, /has 1 MPTCP listener, all running MPTCP/);
    } finally {
      await manager.dispose();
    }
  });

  test("a running manager's MPTCP listener that runs MPTCP is ok, with its connections counted", async (t) => {
    if (why) return t.skip(why);
    const ns = fresh('mgr-ok');
    const manager = await mptcpManagerIn(ns);
    try {
      const r = doctorIn(ns, '--json', '--control-socket', manager.controlSocket);
      const report = parseReport(r);
      const c = check(report, 'manager-fallback');
      assert.equal(c.status, 'ok', `${JSON.stringify(c)}\nmanager log:\n${manager.log}`);
      assert.equal(
        c.message,
        `the manager on ${manager.controlSocket} (pid ${manager.pid}) has 1 MPTCP listener, all running MPTCP; live connections on them: 0 mptcp (0 on several paths now), 0 mptcp->tcp, 0 tcp`,
      );
      assert.equal(r.status, 0);

      // A plain TCP client, held open: a note that says what the server cannot tell, never
      // "fell back".
      const client = spawn('ip', ['netns', 'exec', ns.name, SYSTEM_PYTHON, '-c', PLAIN_CLIENT_PY], {
        stdio: ['pipe', 'pipe', 'inherit'],
      });
      let out = '';
      client.stdout.on('data', (d: Buffer) => {
        out += d;
      });
      try {
        await waitUntil('plain client connected', () => (out.includes('connected') ? true : undefined));
        const held = parseReport(doctorIn(ns, '--json', '--control-socket', manager.controlSocket));
        const note = check(held, 'manager-fallback');
        assert.equal(note.status, 'note', JSON.stringify(note));
        assert.match(
          note.message,
          /1 client used plain TCP: it did not ask for MPTCP, or something on the path removed it \(the server cannot tell which\); check with a client known to use MPTCP\.$/,
        );
        assert.doesNotMatch(note.message, /middlebox|fell back/);
      } finally {
        client.kill('SIGKILL');
      }
    } finally {
      await manager.dispose();
    }
  });

  test("a manager in another network namespace is not reported as this namespace's", async (t) => {
    if (why) return t.skip(why);
    const theirs = fresh('mgr-there');
    const ours = fresh('doctor-here');
    const manager = await mptcpManagerIn(theirs);
    try {
      const r = doctorIn(ours, '--json', '--control-socket', manager.controlSocket);
      const c = check(parseReport(r), 'manager-fallback');
      assert.equal(c.status, 'skipped', JSON.stringify(c));
      assert.match(
        c.message,
        new RegExp(
          `^not checked: the manager on ${manager.controlSocket.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} \\(pid ${manager.pid}\\) runs in network namespace net:\\[\\d+\\], not in this one \\(net:\\[\\d+\\]\\)`,
        ),
      );
      // From its own namespace the same manager is reported.
      const same = check(
        parseReport(doctorIn(theirs, '--json', '--control-socket', manager.controlSocket)),
        'manager-fallback',
      );
      assert.equal(same.status, 'ok', JSON.stringify(same));
    } finally {
      await manager.dispose();
    }
  });

  test('more subflow endpoints than the limit allows is a warning with the limits command', (t) => {
    if (why) return t.skip(why);
    const ns = fresh('limit');
    for (const [i, dev] of ['e1', 'e2', 'e3'].entries()) {
      ns.ip('link', 'add', dev, 'type', 'veth', 'peer', 'name', `p${i}`);
      ns.ip('addr', 'add', `10.8.${i}.1/24`, 'dev', dev);
      ns.ip('mptcp', 'endpoint', 'add', `10.8.${i}.1`, 'dev', dev, 'subflow');
    }
    ns.ip('mptcp', 'limits', 'set', 'subflows', '1', 'add_addr_accepted', '0');
    const report = parseReport(doctorIn(ns, '--json'));
    const endpoints = check(report, 'endpoints');
    assert.equal(endpoints.status, 'warning');
    assert.match(endpoints.message, /3 subflow endpoints but the limit is 1 extra subflows/);
    assert.deepEqual(endpoints.fix, ['ip mptcp limits set subflows 3 add_addr_accepted 0']);
  });

  test('without iproute2 the limits and endpoints are reported as not checked, with the install command', async () => {
    const report = await doctor({ ipCommand: '/nonexistent/ip' });
    for (const id of ['limits', 'endpoints']) {
      const c = check(report, id);
      assert.equal(c.status, 'skipped');
      assert.match(c.message, /iproute2\) is not installed/);
      assert.match(c.fix?.[0] ?? '', /apt-get install iproute2/);
    }
  });

  test('in process: --help, a bad option, and the text report', async () => {
    const out = new Collect();
    const err = new Collect();
    assert.equal(await doctorCommand(['--help'], { stdout: out, stderr: err }), 0);
    assert.match(out.text, /^Usage: sockunit doctor \[--json\]/);
    assert.equal(await doctorCommand(['--bogus'], { stdout: out, stderr: err }), 2);
    assert.match(
      err.text,
      /^sockunit doctor: unknown option '--bogus'\nUsage: sockunit doctor \[--json\] \[--control-socket PATH\]\nRun 'sockunit help doctor' for every option\.\n$/,
    );
    const report = new Collect();
    const status = await doctorCommand([], { stdout: report, stderr: err });
    assert.ok(status === 0 || status === 1);
    assert.match(report.text, /^MPTCP in network namespace /);
    assert.match(
      report.text,
      status === 0
        ? /Nothing broken \(\d+ warnings?, \d+ notes?\)\.\n$/
        : /\d+ problems? \(\d+ warnings?, \d+ notes?\)\.\n$/,
    );
  });

  test('parsers: ip mptcp endpoint show and limits show', () => {
    assert.deepEqual(
      parseEndpoints('10.0.2.2 id 1 signal dev s2 \ndead:beef::1 port 80 id 2 subflow backup dev c2 \n'),
      [
        { address: '10.0.2.2', id: 1, dev: 's2', flags: ['signal'] },
        { address: 'dead:beef::1', port: 80, id: 2, dev: 'c2', flags: ['subflow', 'backup'] },
      ],
    );
    assert.deepEqual(parseLimits('add_addr_accepted 0 subflows 2 \n'), { subflows: 2, addAddrAccepted: 0 });
    assert.equal(parseLimits(''), undefined);
  });
});
