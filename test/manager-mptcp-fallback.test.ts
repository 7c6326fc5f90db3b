// MPTCP where the kernel has none, for real: `sockunit run` inside a network namespace with
// net.mptcp.enabled=0. By default the MPTCP unit fails, saying why and how to fix it, while the
// other units serve; with --mptcp-fallback or X-Sockunit-MPTCPFallback=yes it listens as TCP and
// says MPTCP->TCP.

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { managerSuite, REPORT_PY, readReport, SYSTEM_PYTHON, tempDir } from './fixtures/manager/harness.js';
import { Netns, netnsUnavailable } from './fixtures/mptcp/netns.js';

const IPPROTO_TCP = 6;

describe('sockunit run where MPTCP is disabled (net.mptcp.enabled=0 in a netns)', () => {
  const why = netnsUnavailable();
  let ns: Netns | undefined;
  const suite = managerSuite('nomptcp');
  after(() => ns?.delete());

  const run = async (fallbackKey: boolean, args: string[]) => {
    // One manager at a time: they all bind the same ports inside the one namespace.
    await suite.disposeAll();
    if (!ns) {
      ns = new Netns('run-nomptcp');
      ns.exec('sysctl', '-qw', 'net.mptcp.enabled=0');
    }
    const dir = tempDir('nomptcp');
    writeFileSync(join(dir, 'report.py'), REPORT_PY);
    return suite.run({
      dir,
      wrapper: ['ip', 'netns', 'exec', ns.name],
      args,
      units: {
        'mp.socket': `[Socket]\nListenStream=127.0.0.1:8080\nSocketProtocol=mptcp\n${fallbackKey ? 'X-Sockunit-MPTCPFallback=yes\n' : ''}`,
        'mp.service': `[Service]\nExecStart=${SYSTEM_PYTHON} ${dir}/report.py ${dir}/mp.json --accept\n`,
        'plain.socket': '[Socket]\nListenStream=127.0.0.1:8081\n',
        'plain.service': `[Service]\nExecStart=${SYSTEM_PYTHON} ${dir}/report.py ${dir}/plain.json --accept\n`,
      },
    });
  };

  /** A client inside the namespace: connect, read the greeting, bounded. */
  const fetchInside = (port: number): string => {
    if (!ns) throw new Error('no namespace');
    return execFileSync(
      'ip',
      [
        'netns',
        'exec',
        ns.name,
        SYSTEM_PYTHON,
        '-c',
        `import socket; s = socket.create_connection(("127.0.0.1", ${port}), timeout=5); print(s.recv(100).decode(), end="")`,
      ],
      { encoding: 'utf8', timeout: 10_000 },
    );
  };

  test('by default the MPTCP unit fails with the cause and the fix; the other unit serves', async (t) => {
    if (why) return t.skip(why);
    const m = await run(false, []);
    const failure = await m.waitFor(/^mp\.socket: Failed to create listening socket/);
    assert.match(failure, /ENOPROTOOPT/, failure);
    assert.match(failure, /sysctl -w net\.mptcp\.enabled=1/, 'the message names the fix');
    await m.waitFor(/^mp\.socket: Failed with result 'resources'\.$/);
    await m.waitFor(/^sockunit: 1 of 2 socket units listening\.$/);
    assert.equal(fetchInside(8081), 'hello\n', 'plain.socket serves');
    assert.equal(m.matching(/MPTCP->TCP/).length, 0);
  });

  for (const [label, key, args] of [
    ['--mptcp-fallback', false, ['--mptcp-fallback']],
    ['X-Sockunit-MPTCPFallback=yes', true, []],
  ] as const) {
    test(`${label}: the port listens as TCP and says MPTCP->TCP`, async (t) => {
      if (why) return t.skip(why);
      const m = await run(key, [...args]);
      await m.waitFor(/^Listening on mp\.socket \(MPTCP->TCP 127\.0\.0\.1:8080\)\.$/);
      const warning = m.matching(/^mp\.socket: MPTCP is not available/);
      assert.equal(warning.length, 1, m.log);
      assert.match(warning[0] as string, /mptcp->tcp/);
      await m.waitFor(/^sockunit: 2 of 2 socket units listening\.$/);
      assert.equal(fetchInside(8080), 'hello\n');
      const r = await readReport(`${m.dir}/mp.json`);
      assert.deepEqual(
        r.fds.map((f) => f.protocol),
        [IPPROTO_TCP],
      );
      const { code } = await m.stop('SIGTERM');
      assert.equal(code, 0);
    });
  }
});
