// `sockunit doctor` in fresh network namespaces, where every fact is known: MPTCP disabled (exit 1,
// the sysctl fix), MPTCP on without endpoints (single-path explained, the endpoint command shown),
// a namespace set up for two paths (nothing wrong, exit 0), `--json`, and a missing iproute2.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { Writable } from 'node:stream';
import { after, describe, test } from 'node:test';
import { doctorCommand } from '../src/cli/doctor.js';
import { type DoctorReport, doctor, parseEndpoints, parseLimits } from '../src/mptcp/doctor.js';
import { BIN, ManagerProcess, tempDir } from './fixtures/manager/harness.js';
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

  test('MPTCP on, no endpoints: explains that connections stay single-path and shows the endpoint command', (t) => {
    if (why) return t.skip(why);
    const ns = fresh('noep');
    const r = doctorIn(ns);
    assert.equal(r.status, 1, r.stdout + r.stderr);
    assert.match(r.stdout, /^ok\s+MPTCP enabled: net\.mptcp\.enabled = 1$/m);
    assert.match(
      r.stdout,
      /^WARNING\s+MPTCP endpoints: none: MPTCP connections from this host stay single-path/m,
    );
    assert.match(r.stdout, /fix: ip mptcp endpoint add ADDR dev IFACE subflow$/m);
    assert.match(r.stdout, /1 warning\.$/m);
  });

  test('--json parses; a namespace set up for two paths has nothing wrong (exit 0)', (t) => {
    if (why) return t.skip(why);
    const ns = fresh('ready');
    // veth pairs: this kernel has no dummy interfaces.
    ns.ip('link', 'add', 'd1', 'type', 'veth', 'peer', 'name', 'p1');
    ns.ip('link', 'add', 'd2', 'type', 'veth', 'peer', 'name', 'p2');
    ns.ip('addr', 'add', '10.9.1.1/24', 'dev', 'd1');
    ns.ip('addr', 'add', '10.9.2.1/24', 'dev', 'd2');
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

  test("a running manager's MPTCP listener that fell back to TCP is a warning naming the unit", async (t) => {
    if (why) return t.skip(why);
    const ns = fresh('fellback');
    ns.exec('sysctl', '-qw', 'net.mptcp.enabled=0');
    const dir = tempDir('doctor');
    const manager = await ManagerProcess.start({
      dir,
      wrapper: ['ip', 'netns', 'exec', ns.name],
      units: {
        'mp.socket':
          '[Socket]\nListenStream=127.0.0.1:8080\nSocketProtocol=mptcp\nX-Sockunit-MPTCPFallback=yes\n',
        'mp.service': '[Service]\nExecStart=/bin/true\n',
      },
    });
    try {
      const r = doctorIn(ns, '--json', '--control-socket', manager.controlSocket);
      const report = parseReport(r);
      const fellBack = check(report, 'manager-fallback');
      assert.equal(fellBack.status, 'warning', JSON.stringify(fellBack));
      assert.match(fellBack.message, /^mp\.socket 127\.0\.0\.1:8080 runs as plain TCP: MPTCP was asked for/);
      assert.match(fellBack.fix?.[0] ?? '', /sysctl -w net\.mptcp\.enabled=1/);
      assert.equal(r.status, 1);
    } finally {
      await manager.dispose();
    }
  });

  test("a running manager's MPTCP listener that runs MPTCP is ok, with its connections counted", async (t) => {
    if (why) return t.skip(why);
    const ns = fresh('mgr-ok');
    const dir = tempDir('doctor');
    const manager = await ManagerProcess.start({
      dir,
      wrapper: ['ip', 'netns', 'exec', ns.name],
      units: {
        'mp.socket': '[Socket]\nListenStream=127.0.0.1:8080\nSocketProtocol=mptcp\n',
        'mp.service': '[Service]\nExecStart=/bin/true\n',
      },
    });
    try {
      const r = doctorIn(ns, '--json', '--control-socket', manager.controlSocket);
      const report = parseReport(r);
      const c = check(report, 'manager-fallback');
      assert.equal(c.status, 'ok', `${JSON.stringify(c)}\nmanager log:\n${manager.log}`);
      assert.match(
        c.message,
        new RegExp(
          `^1 MPTCP listeners on ${manager.controlSocket}, none fell back; connections now: 0 MPTCP`,
        ),
      );
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
    assert.match(err.text, /sockunit doctor: Unknown option '--bogus'/);
    const report = new Collect();
    const status = await doctorCommand([], { stdout: report, stderr: err });
    assert.ok(status === 0 || status === 1);
    assert.match(report.text, /^MPTCP in network namespace /);
    assert.match(
      report.text,
      status === 0 ? /Nothing wrong found\.\n$/ : /\d+ problems?, \d+ warnings?\.\n$/,
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
