// The receive buffer of sockunit's MPTCP connections (src/mptcp/receive-buffer.ts), read back from
// the kernel: by default every connection keeps the kernel's autotuning; with SOCKUNIT_MPTCP_RCVBUF
// an accepted MPTCP connection or an MPTCP client that receives bulk data gets that SO_RCVBUF (the
// kernel reports twice the request), while short connections, and plain TCP connections accepted
// by the same MPTCP listener, keep autotuning. Each case runs in a child process: the size is
// decided once per process.

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

  const FOUR_MIB = 4 * 1024 * 1024;
  const fixed = 2 * Math.min(FOUR_MIB, rmemMax);

  test('by default every connection keeps the kernel autotuning', () => {
    const { seen } = run({ SOCKUNIT_MPTCP_RCVBUF: '' });
    for (const [what, size] of Object.entries(seen)) assert.notEqual(size, fixed, what);
    assert.equal(seen['accepted mptcp short'], initial);
    assert.equal(seen['client mptcp short'], initial);
  });

  test('SOCKUNIT_MPTCP_RCVBUF=BYTES: an MPTCP connection gets that buffer once it carries bulk data; plain TCP and short connections keep autotuning', () => {
    const { seen } = run({ SOCKUNIT_MPTCP_RCVBUF: String(FOUR_MIB) });
    assert.equal(seen['accepted mptcp bulk'], fixed, 'an upload into an MPTCP listener');
    assert.equal(seen['client mptcp bulk'], fixed, 'a download by an MPTCP client');
    // The kernel's autotuning moves these as it likes: they are just never the fixed size.
    assert.notEqual(seen['accepted tcp bulk'], fixed, 'a plain client of the same listener');
    // Short connections never reach their first 64 KiB read.
    assert.equal(seen['accepted mptcp short'], initial);
    assert.equal(seen['client mptcp short'], initial);
    assert.equal(seen['client tcp short'], initial);
    const sized = run({ SOCKUNIT_MPTCP_RCVBUF: String(512 * 1024) }).seen;
    assert.equal(sized['accepted mptcp bulk'], Math.min(512 * 1024, rmemMax) * 2);
    assert.equal(sized['client mptcp bulk'], Math.min(512 * 1024, rmemMax) * 2);
    const auto = run({ SOCKUNIT_MPTCP_RCVBUF: '0' }).seen;
    assert.notEqual(auto['accepted mptcp bulk'], fixed, '0 keeps autotuning');
  });

  test('a value that is not a number of bytes is a warning, and autotuning stays', () => {
    const { seen, stderr } = run({ SOCKUNIT_MPTCP_RCVBUF: 'lots' });
    assert.match(stderr, /SOCKUNIT_MPTCP_RCVBUF=lots is not a number of bytes/);
    assert.notEqual(seen['accepted mptcp bulk'], fixed);
  });
});
