// sys/inet-diag against real sockets: a TCP pair and an MPTCP pair (held by a python helper)
// are found with the right addresses and states, the kernel-side port filter returns exactly
// what filtering the full dump would, and an MPTCP socket's subflow carries its token.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import net from 'node:net';
import { test } from 'node:test';
import { decodeMptcpInfo } from '../src/mptcp/info.js';
import { CONNECTION_STATES, inetDiagDump, localPortFilter } from '../src/sys/inet-diag.js';
import { SYSTEM_PYTHON, waitUntil } from './fixtures/manager/harness.js';

const MPTCP_PAIR_PY = `
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM, 262)
s.bind(('127.0.0.1', 0)); s.listen()
c = socket.socket(socket.AF_INET, socket.SOCK_STREAM, 262)
c.connect(s.getsockname()); a, _ = s.accept()
c.send(b'x'); a.recv(1)
print(s.getsockname()[1], c.getsockname()[1], flush=True)
sys.stdin.read()
`;

test('a TCP connection is listed from both ends; the port filter equals filtering the full dump', async () => {
  const servers: net.Server[] = [];
  const clients: net.Socket[] = [];
  try {
    for (let i = 0; i < 3; i++) {
      const s = net.createServer(() => {}).listen(0, '127.0.0.1');
      await new Promise((r) => s.once('listening', r));
      servers.push(s);
    }
    const ports = servers.map((s) => (s.address() as net.AddressInfo).port);
    for (const port of ports) {
      const c = net.connect(port, '127.0.0.1');
      await new Promise((r) => c.once('connect', r));
      clients.push(c);
    }
    const all = inetDiagDump({ family: 'inet', protocol: 'tcp', states: CONNECTION_STATES });
    const first = clients[0] as net.Socket;
    const server = all.find((s) => s.local.port === ports[0] && s.remote.port === first.localPort);
    assert.ok(server, 'the accepted end');
    assert.equal(server.state, 1, 'ESTABLISHED');
    assert.deepEqual(server.local, { family: 'inet', address: '127.0.0.1', port: ports[0] });
    assert.equal(server.uid, process.getuid?.());
    assert.ok(server.info && server.info.length >= 100, 'tcp_info came with INET_DIAG_INFO');
    assert.ok(
      all.some((s) => s.local.port === first.localPort && s.remote.port === ports[0]),
      'the client end',
    );
    for (const sel of [[ports[0] as number], [ports[0] as number, ports[2] as number], ports]) {
      const filtered = inetDiagDump({
        family: 'inet',
        protocol: 'tcp',
        states: CONNECTION_STATES,
        localPorts: sel,
      });
      const inodes = (list: typeof all) => list.map((s) => s.inode).sort((a, b) => a - b);
      // Sockets may come and go on a busy host between the dumps: compare those of this test.
      const ours = (list: typeof all) => list.filter((s) => ports.includes(s.local.port));
      assert.deepEqual(inodes(ours(filtered)), inodes(ours(all).filter((s) => sel.includes(s.local.port))));
      assert.ok(
        filtered.every((s) => sel.includes(s.local.port)),
        'nothing else passes the filter',
      );
    }
  } finally {
    for (const c of clients) c.destroy();
    for (const s of servers) s.close();
  }
});

test('the bytecode is an OR of sport tests laid out as ss compiles it', () => {
  assert.deepEqual([...localPortFilter([80])], [11, 8, 12, 0, 0, 0, 80, 0]);
  const two = localPortFilter([80, 443]);
  assert.equal(two.length, 20);
  // S_EQ 80 (yes -> JMP, no -> next test), JMP to the end (accept), S_EQ 443 (no -> reject).
  assert.deepEqual([...two.subarray(8, 12)], [1, 4, 12, 0]);
  assert.equal(two.readUInt16LE(18), 443);
});

test('an MPTCP connection: the MPTCP dump has its mptcp_info, its TCP subflow the same token', async (t) => {
  const helper = spawn(SYSTEM_PYTHON, ['-c', MPTCP_PAIR_PY], { stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  helper.stdout.on('data', (d: Buffer) => {
    out += d.toString();
  });
  helper.stderr.on('data', (d: Buffer) => {
    err += d.toString();
  });
  try {
    const line = await waitUntil(
      'MPTCP pair',
      () => {
        if (/Errno 9[23]|Protocol not available|Protocol not supported/.test(err)) return 'none';
        return /^(\d+) (\d+)\n/.exec(out)?.[0];
      },
      8000,
    );
    if (line === 'none') {
      t.skip(`MPTCP is not available here: ${err.trim()}`);
      return;
    }
    const [listenPort, clientPort] = line.trim().split(' ').map(Number) as [number, number];
    const msks = inetDiagDump({
      family: 'inet',
      protocol: 'mptcp',
      states: CONNECTION_STATES,
      localPorts: [listenPort],
    });
    assert.equal(msks.length, 1, JSON.stringify(msks));
    const msk = msks[0];
    assert.ok(msk?.info);
    assert.equal(msk.remote.port, clientPort);
    const info = decodeMptcpInfo(msk.info);
    assert.equal(info.fallback, false);
    const subflows = inetDiagDump({
      family: 'inet',
      protocol: 'tcp',
      states: CONNECTION_STATES,
      localPorts: [listenPort],
    });
    const sf = subflows.find((s) => s.remote.port === clientPort);
    assert.equal(sf?.ulp, 'mptcp');
    assert.equal(sf?.subflow?.tokenLocal, info.token);
  } finally {
    helper.kill('SIGKILL');
  }
});
