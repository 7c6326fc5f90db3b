// The fixed receive buffer of sockunit's MPTCP connections (src/mptcp/receive-buffer.ts), read back
// from the kernel: accepted MPTCP connections and MPTCP clients get SO_RCVBUF (the kernel reports
// twice the request), plain TCP connections accepted by the same MPTCP listener keep the kernel's
// autotuning, and SOCKUNIT_MPTCP_RCVBUF chooses the size or turns it off. Each case runs in a child
// process: the size is decided once per process.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import { builtModule } from './fixtures/mptcp/netns.js';

const SCRIPT = `
import net from 'node:net';
const mptcp = await import(${JSON.stringify(builtModule('mptcp/index.js'))});
const sys = await import(${JSON.stringify(builtModule('sys/socket.js'))});
const rcvbuf = (s) => sys.getsockoptInt(s._handle.fd, 1, 8);
const seen = {};
const server = mptcp.createServer((s) => {
  seen[mptcp.isMultipath(s) ? 'acceptedMptcp' : 'acceptedTcp'] = rcvbuf(s);
  s.destroy();
});
await new Promise((r) => server.listen(0, '127.0.0.1', r));
const port = server.address().port;
for (const [name, make] of [['clientMptcp', () => mptcp.connect(port, '127.0.0.1')], ['clientTcp', () => net.connect(port, '127.0.0.1')]]) {
  const c = make();
  await new Promise((r, j) => { c.once('connect', () => { seen[name] = rcvbuf(c); c.on('close', r); }); c.once('error', j); });
}
server.close();
console.log(JSON.stringify(seen));`;

interface Seen {
  acceptedMptcp: number;
  acceptedTcp: number;
  clientMptcp: number;
  clientTcp: number;
}

function run(env: NodeJS.ProcessEnv = {}): { seen: Seen; stderr: string } {
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', SCRIPT], {
    env: { ...process.env, ...env },
    encoding: 'utf8',
    timeout: 15_000,
  });
  assert.equal(r.status, 0, r.stderr);
  return { seen: JSON.parse(r.stdout) as Seen, stderr: r.stderr };
}

/** The kernel's initial receive buffer of a new TCP socket (net.ipv4.tcp_rmem's middle value). */
function defaultRcvbuf(): number {
  return Number(readFileSync('/proc/sys/net/ipv4/tcp_rmem', 'utf8').trim().split(/\s+/)[1]);
}

describe('the receive buffer of MPTCP connections', { timeout: 60_000 }, () => {
  const rmemMax = Number(readFileSync('/proc/sys/net/core/rmem_max', 'utf8').trim());

  test('MPTCP connections get a fixed buffer where rmem_max allows; plain TCP keeps autotuning', () => {
    const { seen } = run();
    const expected = Math.min(4 * 1024 * 1024, rmemMax);
    if (expected >= 1024 * 1024) {
      assert.equal(seen.acceptedMptcp, 2 * expected, 'accepted MPTCP connection');
      assert.equal(seen.clientMptcp, 2 * expected, 'MPTCP client');
    } else {
      // Distribution default (208 KiB): too small to help, so nothing is set.
      assert.equal(seen.acceptedMptcp, defaultRcvbuf());
      assert.equal(seen.clientMptcp, defaultRcvbuf());
    }
    assert.equal(seen.acceptedTcp, defaultRcvbuf(), 'a plain client of the MPTCP listener');
    assert.equal(seen.clientTcp, defaultRcvbuf());
  });

  test('SOCKUNIT_MPTCP_RCVBUF=0 keeps the kernel autotuning; a number of bytes sets that size', () => {
    const auto = run({ SOCKUNIT_MPTCP_RCVBUF: '0' }).seen;
    assert.equal(auto.acceptedMptcp, defaultRcvbuf());
    assert.equal(auto.clientMptcp, defaultRcvbuf());
    const sized = run({ SOCKUNIT_MPTCP_RCVBUF: String(512 * 1024) }).seen;
    assert.equal(sized.acceptedMptcp, Math.min(512 * 1024, rmemMax) * 2);
    assert.equal(sized.acceptedTcp, defaultRcvbuf());
  });

  test('a value that is not a number of bytes is a warning, and the default applies', () => {
    const { seen, stderr } = run({ SOCKUNIT_MPTCP_RCVBUF: 'lots' });
    assert.match(stderr, /SOCKUNIT_MPTCP_RCVBUF=lots is not a number of bytes/);
    assert.equal(seen.acceptedMptcp, run().seen.acceptedMptcp);
  });
});
