// sys/mptcp-info.ts on real sockets: the structures of an MPTCP connection, and the errors each
// call gives on sockets that are not MPTCP (mptcp.md §4 matrix) or not sockets at all.

import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, describe, test } from 'node:test';
import { AF_INET, IPPROTO_MPTCP, SOCK_STREAM } from '../src/sys/constants.js';
import {
  fullInfoBytes,
  mptcpInfoBytes,
  mptcpInfoProbe,
  subflowAddrsBytes,
  subflowTcpInfoBytes,
} from '../src/sys/mptcp-info.js';
import { close, socket } from '../src/sys/socket.js';

const calls = {
  mptcpInfoBytes,
  mptcpInfoProbe,
  subflowAddrsBytes,
  subflowTcpInfoBytes,
  fullInfoBytes,
};

describe('sys/mptcp-info', { timeout: 20_000 }, () => {
  let server: net.Server;
  let plainClient: net.Socket;
  before(async () => {
    server = net.createServer((s) => s.on('data', () => {}));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    plainClient = net.connect((server.address() as net.AddressInfo).port, '127.0.0.1');
    await new Promise((r) => plainClient.once('connect', r));
  });
  after(() => {
    plainClient.destroy();
    server.close();
  });

  test('an unconnected MPTCP socket: MPTCP_INFO succeeds with zeros, no subflows', () => {
    const fd = socket(AF_INET, SOCK_STREAM, IPPROTO_MPTCP);
    try {
      const info = mptcpInfoBytes(fd);
      assert.ok(info.length >= 40);
      assert.equal(info.readUInt32LE(12), 0, 'no token before connect');
      mptcpInfoProbe(fd);
      assert.equal(subflowAddrsBytes(fd).count, 0);
      assert.equal(fullInfoBytes(fd).count, 0);
    } finally {
      close(fd);
    }
  });

  for (const [name, call] of Object.entries(calls)) {
    test(`${name} on a plain TCP socket throws EOPNOTSUPP (Node's ENOTSUP) with the option named`, () => {
      const fd = (plainClient as unknown as { _handle: { fd: number } })._handle.fd;
      assert.throws(
        () => call(fd),
        (err: NodeJS.ErrnoException) =>
          err.code === 'ENOTSUP' && err.syscall === 'getsockopt' && /MPTCP_/.test(err.message),
      );
    });

    test(`${name} on a closed fd throws EBADF`, () => {
      const fd = socket(AF_INET, SOCK_STREAM, IPPROTO_MPTCP);
      close(fd);
      assert.throws(() => call(fd), { code: 'EBADF', syscall: 'getsockopt' });
    });
  }
});
