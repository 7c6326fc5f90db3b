// sys/relay.ts on the real kernel: splice(2) moves bytes socket -> pipe -> socket for TCP and for
// MPTCP (both ends MPTCP, checked with TCP_IS_MPTCP), end of file and EAGAIN come back as numbers,
// a non-blocking connect reports refusal through connectResult, and closeWithReset resets.

import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import net from 'node:net';
import { describe, test } from 'node:test';
import * as mptcp from '../src/mptcp/index.js';
import { AF_INET, IPPROTO_MPTCP, IPPROTO_TCP, SOCK_STREAM, TCP_IS_MPTCP } from '../src/sys/constants.js';
import { epollBuffer, epollCreate, epollCtl, epollWaitCount } from '../src/sys/epoll.js';
import {
  acceptConnection,
  closePipe,
  closeWithReset,
  connectAddress,
  connectResult,
  connectStream,
  EAGAIN,
  ECONNREFUSED,
  openPipe,
  shutdownWrite,
  spliceSome,
} from '../src/sys/relay.js';
import {
  bind,
  closeQuietly,
  type Fd,
  getsockname,
  getsockoptInt,
  listen,
  setNonBlocking,
  socket,
} from '../src/sys/socket.js';
import { freePort } from './fixtures/manager/harness.js';
import { once, readAll } from './fixtures/proxy/harness.js';

/** A listener of ours (fd) on 127.0.0.1 with `protocol`, and its port. */
function listener(protocol: number): { fd: Fd; port: number } {
  const fd = socket(AF_INET, SOCK_STREAM, protocol);
  bind(fd, { family: 'inet', address: '127.0.0.1', port: 0 });
  listen(fd, 16);
  setNonBlocking(fd, true); // as the proxy's listeners are: accept must not block
  const addr = getsockname(fd);
  return { fd, port: addr.family === 'inet' ? addr.port : 0 };
}

/** Wait (bounded, in epoll) until `fd` is readable or writable. */
function waitFor(fd: Fd, events: number): void {
  const epfd = epollCreate();
  try {
    epollCtl(epfd, 1, fd, events, 1);
    assert.equal(epollWaitCount(epfd, epollBuffer(1), 10_000), 1, `fd ${fd} never became ready`);
  } finally {
    closeQuietly(epfd);
  }
}

/** A connected pair: `client` (a Node socket, MPTCP when asked) and `server` (our fd). */
async function pair(useMptcp: boolean): Promise<{ client: net.Socket; server: Fd; listenFd: Fd }> {
  const l = listener(useMptcp ? IPPROTO_MPTCP : IPPROTO_TCP);
  const client = useMptcp ? mptcp.connect(l.port, '127.0.0.1') : net.connect(l.port, '127.0.0.1');
  await once(client, 'connect');
  waitFor(l.fd, 1);
  const server = acceptConnection(l.fd);
  assert.ok(server >= 0, `accept: errno ${-server}`);
  return { client, server, listenFd: l.fd };
}

describe('sys/relay: splice through a pipe', { timeout: 30_000 }, () => {
  for (const useMptcp of [false, true]) {
    const name = useMptcp ? 'MPTCP' : 'TCP';
    test(`${name}: 1 MiB in, through a pipe, and back out to the sender; EOF is 0`, async () => {
      const { client, server, listenFd } = await pair(useMptcp);
      if (useMptcp) {
        assert.equal(getsockoptInt(server, IPPROTO_TCP, TCP_IS_MPTCP), 1, 'the accepted socket runs MPTCP');
        assert.equal(mptcp.isMultipath(client), true);
      }
      const pipe = openPipe(256 * 1024);
      assert.ok(pipe.size >= 64 * 1024);
      const data = randomBytes(1 << 20);
      const echoed = readAll(client);
      client.end(data);
      // Relay what arrives straight back (the sender reads it), until end of file. The client is
      // on this thread's event loop: give it a turn whenever nothing moved.
      let ended = false;
      let buffered = 0;
      for (let idle = 0; !ended || buffered > 0; ) {
        let moved = false;
        if (!ended && buffered < pipe.size) {
          const n = spliceSome(server, pipe.write, pipe.size - buffered);
          if (n === 0) ended = true;
          else if (n > 0) buffered += n;
          else assert.equal(n, -EAGAIN);
          moved = n >= 0;
        }
        if (buffered > 0) {
          const n = spliceSome(pipe.read, server, buffered);
          if (n > 0) buffered -= n;
          else assert.equal(n, -EAGAIN);
          moved ||= n > 0;
        }
        idle = moved ? 0 : idle + 1;
        assert.ok(idle < 10_000, 'the relay made no progress for 10000 turns');
        if (!moved) await new Promise((r) => setTimeout(r, 1));
      }
      assert.equal(shutdownWrite(server), 0);
      const { data: back, end } = await echoed;
      assert.equal(end, 'end');
      assert.ok(
        back.equals(data),
        `${back.length} bytes came back of ${data.length}, equal: ${back.equals(data)}`,
      );
      assert.equal(spliceSome(server, pipe.write, 4096), 0, 'end of file stays 0');
      closePipe(pipe);
      closeQuietly(server);
      closeQuietly(listenFd);
      client.destroy();
    });
  }

  test('nothing to read is -EAGAIN; accept with nothing pending is -EAGAIN', async () => {
    const { client, server, listenFd } = await pair(false);
    const pipe = openPipe(64 * 1024);
    assert.equal(spliceSome(server, pipe.write, 4096), -EAGAIN);
    assert.equal(acceptConnection(listenFd), -EAGAIN);
    closePipe(pipe);
    closeQuietly(server);
    closeQuietly(listenFd);
    client.destroy();
  });

  test('connectStream: refused asynchronously (connectResult) or at once; closeWithReset resets the peer', async () => {
    const port = await freePort();
    const r = connectStream(connectAddress({ family: 'inet', address: '127.0.0.1', port }), 0);
    if (typeof r === 'number') {
      assert.equal(-r, ECONNREFUSED);
    } else {
      if (r.inProgress) waitFor(r.fd, 4);
      assert.equal(connectResult(r.fd), ECONNREFUSED);
      closeQuietly(r.fd);
    }
    const { client, server, listenFd } = await pair(false);
    const seen = readAll(client);
    closeWithReset(server);
    assert.equal((await seen).end, 'ECONNRESET');
    closeQuietly(listenFd);
  });
});
