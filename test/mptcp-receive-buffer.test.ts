// The fixed receive buffer of sockunit's MPTCP connections (src/mptcp/receive-buffer.ts), read back
// from the kernel: an accepted MPTCP connection or an MPTCP client that receives bulk data gets
// SO_RCVBUF (the kernel reports twice the request); short connections, and plain TCP connections
// accepted by the same MPTCP listener, keep the kernel's autotuning; SOCKUNIT_MPTCP_RCVBUF chooses
// the size or turns it off. Each case runs in a child
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
const MiB = 1024 * 1024;
const rcvbuf = (s) => sys.getsockoptInt(s._handle.fd, 1, 8);
const seen = {};
// The server reads what a client sends; 'd' asks for 1 MiB back, anything else is echoed.
const server = mptcp.createServer((s) => {
  let n = 0; let first = '';
  s.on('data', (d) => { if (n === 0) first = d.toString('latin1', 0, 1); n += d.length; });
  s.on('end', () => {
    seen['accepted ' + (mptcp.isMultipath(s) ? 'mptcp ' : 'tcp ') + (n >= MiB ? 'bulk' : 'short')] = rcvbuf(s);
    s.end(first === 'd' ? Buffer.alloc(MiB) : first);
  });
});
await new Promise((r) => server.listen(0, '127.0.0.1', r));
const port = server.address().port;
const cases = [
  ['mptcp', Buffer.alloc(MiB, 1)], ['tcp', Buffer.alloc(MiB, 1)], ['mptcp', 'd'], ['mptcp', 'x'],
];
for (const [kind, send] of cases) {
  const c = kind === 'mptcp' ? mptcp.connect(port, '127.0.0.1') : net.connect(port, '127.0.0.1');
  let got = 0;
  c.on('data', (d) => { got += d.length; });
  await new Promise((r, j) => {
    c.once('error', j);
    c.once('connect', () => c.end(send));
    c.once('end', () => { seen['client ' + kind + ' ' + (got >= MiB ? 'bulk' : 'short')] = rcvbuf(c); r(); });
  });
  c.destroy();
}
server.close();
console.log(JSON.stringify(seen));`;

type Seen = Record<string, number>;

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
  const initial = defaultRcvbuf();

  test('an MPTCP connection gets the fixed buffer once it carries bulk data; plain TCP and short connections keep autotuning', () => {
    const { seen } = run();
    const wanted = Math.min(4 * 1024 * 1024, rmemMax);
    // Distribution default rmem_max (208 KiB) is too small to help: then nothing is set.
    if (wanted >= 1024 * 1024) {
      assert.equal(seen['accepted mptcp bulk'], 2 * wanted, 'an upload into an MPTCP listener');
      assert.equal(seen['client mptcp bulk'], 2 * wanted, 'a download by an MPTCP client');
    } else {
      assert.notEqual(seen['accepted mptcp bulk'], 2 * wanted);
    }
    // The kernel's autotuning moves these as it likes: they are just never the fixed size.
    assert.notEqual(seen['accepted tcp bulk'], 2 * wanted, 'a plain client of the same listener');
    // Short connections never reach their first 64 KiB read.
    assert.equal(seen['accepted mptcp short'], initial);
    assert.equal(seen['client mptcp short'], initial);
    assert.equal(seen['client tcp short'], initial);
  });

  test('SOCKUNIT_MPTCP_RCVBUF=0 keeps the kernel autotuning; a number of bytes sets that size', () => {
    const auto = run({ SOCKUNIT_MPTCP_RCVBUF: '0' }).seen;
    const fixed = 2 * Math.min(4 * 1024 * 1024, rmemMax);
    assert.notEqual(auto['accepted mptcp bulk'], fixed);
    assert.notEqual(auto['client mptcp bulk'], fixed);
    const sized = run({ SOCKUNIT_MPTCP_RCVBUF: String(512 * 1024) }).seen;
    assert.equal(sized['accepted mptcp bulk'], Math.min(512 * 1024, rmemMax) * 2);
    assert.equal(sized['client mptcp bulk'], Math.min(512 * 1024, rmemMax) * 2);
  });

  test('a value that is not a number of bytes is a warning, and the default applies', () => {
    const { seen, stderr } = run({ SOCKUNIT_MPTCP_RCVBUF: 'lots' });
    assert.match(stderr, /SOCKUNIT_MPTCP_RCVBUF=lots is not a number of bytes/);
    assert.equal(seen['accepted mptcp bulk'], run().seen['accepted mptcp bulk']);
  });
});
