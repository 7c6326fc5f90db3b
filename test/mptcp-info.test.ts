// mptcp.info() and mptcp.subflows(): the kernel's figures for real connections, read through
// MPTCP_INFO, MPTCP_FULL_INFO and MPTCP_SUBFLOW_ADDRS + MPTCP_TCPINFO.

import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import net from 'node:net';
import { describe, test } from 'node:test';
import * as mptcp from '../src/mptcp/index.js';
import { handleFd } from '../src/mptcp/multipath.js';
import { fullInfoBytes, subflowAddrsBytes, subflowTcpInfoBytes } from '../src/sys/mptcp-info.js';
import { builtModule, Netns, netnsUnavailable } from './fixtures/mptcp/netns.js';

interface Pair {
  server: net.Server;
  client: net.Socket;
  accepted: net.Socket;
  close(): Promise<void>;
}

/** An MPTCP echo connection on loopback: server, client and the server's accepted socket. */
async function pair(host: string): Promise<Pair> {
  let accept!: (s: net.Socket) => void;
  const acceptedP = new Promise<net.Socket>((resolve) => {
    accept = resolve;
  });
  const server = mptcp.createServer((s) => {
    s.pipe(s);
    accept(s);
  });
  await new Promise<void>((resolve) => server.listen(0, host, () => resolve()));
  const client = mptcp.connect((server.address() as net.AddressInfo).port, host);
  await new Promise<void>((resolve, reject) => {
    client.once('connect', resolve);
    client.once('error', reject);
  });
  const accepted = await acceptedP;
  return {
    server,
    client,
    accepted,
    close: () =>
      new Promise<void>((resolve) => {
        client.destroy();
        accepted.destroy();
        server.close(() => resolve());
      }),
  };
}

function echoBytes(socket: net.Socket, data: Buffer): Promise<void> {
  return new Promise((resolve, reject) => {
    let got = 0;
    const timer = setTimeout(
      () => reject(new Error(`echo: ${got} of ${data.length} bytes after 10 s`)),
      10_000,
    );
    const onData = (chunk: Buffer) => {
      got += chunk.length;
      if (got >= data.length) {
        clearTimeout(timer);
        socket.off('data', onData);
        resolve();
      }
    };
    socket.on('data', onData);
    socket.write(data);
  });
}

describe('mptcp.info', { timeout: 30_000 }, () => {
  test('byte counters match what was sent and received, on both ends', async () => {
    const p = await pair('127.0.0.1');
    try {
      const sent = randomBytes(3 * 1024 * 1024 + 17);
      await echoBytes(p.client, sent);
      const client = mptcp.info(p.client);
      const server = mptcp.info(p.accepted);
      assert.ok(client && server);
      assert.equal(client.length, 96, 'Linux 6.10+ returns the whole 96-byte struct');
      assert.equal(client.bytesSent, sent.length);
      assert.equal(client.bytesReceived, sent.length);
      assert.equal(server.bytesReceived, sent.length);
      assert.equal(server.bytesSent, sent.length);
      assert.ok((client.bytesAcked ?? 0) <= sent.length);
      assert.equal(client.fallback, false);
      assert.equal(client.remoteKeyReceived, true);
      assert.equal(client.subflowsTotal, 1);
      assert.equal(client.subflows, 0, 'extra subflows: none on plain loopback');
      assert.equal(client.token === 0, false);
    } finally {
      await p.close();
    }
  });

  test('undefined for a plain TCP socket', async () => {
    const server = net.createServer((s) => s.end());
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    const socket = net.connect((server.address() as net.AddressInfo).port, '127.0.0.1');
    await new Promise((r) => socket.once('connect', r));
    assert.equal(mptcp.info(socket), undefined);
    assert.deepEqual(mptcp.subflows(socket), []);
    socket.destroy();
    server.close();
  });
});

describe('mptcp.subflows', { timeout: 30_000 }, () => {
  for (const host of ['127.0.0.1', '::1']) {
    test(`one subflow with the connection's addresses on loopback (${host})`, async () => {
      const p = await pair(host);
      try {
        await echoBytes(p.client, Buffer.alloc(4096, 1));
        const [first, ...rest] = mptcp.subflows(p.client);
        assert.equal(rest.length, 0);
        assert.ok(first);
        assert.equal(first.source, 'MPTCP_FULL_INFO');
        assert.equal(first.id, 1);
        assert.deepEqual(first.local, {
          address: p.client.localAddress,
          family: p.client.localFamily,
          port: p.client.localPort,
        });
        assert.deepEqual(first.remote, {
          address: p.client.remoteAddress,
          family: p.client.remoteFamily,
          port: p.client.remotePort,
        });
        assert.equal(first.tcp?.state, 'ESTABLISHED');
        // One subflow: runs MPTCP, but does not use several paths now.
        assert.equal(mptcp.runsMptcp(p.client), true);
        assert.equal(mptcp.usesSeveralPaths(p.client), false);
        assert.ok((first.tcp?.rttUs ?? 0) > 0);
        assert.equal(first.tcp?.bytesSent, 4096);
        assert.equal(first.tcp?.bytesReceived, 4096);
        // The server side sees the same subflow mirrored.
        const [serverSide] = mptcp.subflows(p.accepted);
        assert.deepEqual(serverSide?.local, first.remote);
        assert.deepEqual(serverSide?.remote, first.local);
      } finally {
        await p.close();
      }
    });
  }

  test('MPTCP_SUBFLOW_ADDRS + MPTCP_TCPINFO agree with MPTCP_FULL_INFO', async () => {
    const p = await pair('127.0.0.1');
    try {
      await echoBytes(p.client, Buffer.alloc(1000));
      const fd = handleFd(p.client)!;
      const full = fullInfoBytes(fd);
      const addrs = subflowAddrsBytes(fd);
      const tcp = subflowTcpInfoBytes(fd);
      assert.equal(full.count, 1);
      assert.equal(addrs.count, 1);
      assert.equal(tcp.count, 1);
      assert.equal(addrs.elementSize, 256);
      assert.ok(tcp.elementSize >= 232, `kernel tcp_info is ${tcp.elementSize} bytes`);
      // Same addresses: FULL_INFO's subflow_info carries mptcp_subflow_addrs at offset 8.
      assert.deepEqual(full.subflowInfo[0]?.subarray(8, 8 + 256), addrs.elements[0]);
      assert.equal(full.tcpInfo[0]?.readUInt8(0), tcp.elements[0]?.readUInt8(0));
    } finally {
      await p.close();
    }
  });

  test('two subflows (ids 1 and 2) when the path manager adds one (network namespace)', async (t) => {
    const why = netnsUnavailable();
    if (why) return t.skip(why);
    const ns = new Netns('subflows');
    try {
      // A second loopback address as a "subflow" endpoint: every connection from 127.0.0.1 gets
      // a second subflow from 127.0.0.2 once the MPTCP handshake is complete.
      ns.ip('addr', 'add', '127.0.0.2/8', 'dev', 'lo');
      ns.ip('mptcp', 'limits', 'set', 'subflows', '2', 'add_addr_accepted', '2');
      ns.ip('mptcp', 'endpoint', 'add', '127.0.0.2', 'dev', 'lo', 'subflow');
      const out = await ns.runNode(`
        import * as mptcp from ${JSON.stringify(builtModule('mptcp/index.js'))};
        const server = mptcp.createServer((s) => s.pipe(s));
        server.listen(0, '127.0.0.1', () => {
          const c = mptcp.connect(server.address().port, '127.0.0.1', () => c.write('x'.repeat(1000)));
          c.once('data', () => {
            // Bounded wait for the join: up to 2 s in 20 ms steps.
            let tries = 0;
            const poll = setInterval(() => {
              const list = mptcp.subflows(c);
              if (list.length >= 2 || ++tries > 100) {
                clearInterval(poll);
                console.log(JSON.stringify({ list, total: mptcp.info(c).subflowsTotal, extra: mptcp.info(c).subflows,
                  runs: mptcp.runsMptcp(c), several: mptcp.usesSeveralPaths(c), protocol: mptcp.protocolOf(c) }));
                c.destroy();
                server.close();
              }
            }, 20);
          });
        });`);
      const { list, total, extra, runs, several, protocol } = JSON.parse(out) as {
        list: mptcp.Subflow[];
        total: number;
        extra: number;
        runs: boolean;
        several: boolean;
        protocol: string;
      };
      assert.equal(total, 2);
      // The two facts, named apart: it runs MPTCP, and it uses several paths now.
      assert.equal(runs, true);
      assert.equal(several, true);
      assert.equal(protocol, 'mptcp');
      assert.equal(extra, 1, 'mptcpi_subflows counts only the additional subflow');
      assert.deepEqual(
        list.map((s) => [s.id, s.local?.address, s.remote?.address, s.tcp?.state]),
        [
          [1, '127.0.0.1', '127.0.0.1', 'ESTABLISHED'],
          [2, '127.0.0.2', '127.0.0.1', 'ESTABLISHED'],
        ],
      );
      assert.equal(list[0]?.remote?.port, list[1]?.remote?.port);
    } finally {
      ns.delete();
    }
  });
});

test('isMultipath answers false, not a TypeError, for no socket at all (res.socket after a keep-alive response)', () => {
  assert.equal(mptcp.isMultipath(null), false);
  assert.equal(mptcp.isMultipath(undefined), false);
  assert.equal(mptcp.runsMptcp(null), false);
  assert.equal(mptcp.protocolOf(null), undefined);
});
