import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { openSync } from 'node:fs';
import { after, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { AF_INET, IPPROTO_MPTCP, SOCK_STREAM } from '../src/sys/constants.js';
import { receiveMessage, sendMessage, socketPair } from '../src/sys/msg.js';
import { waitReadable } from '../src/sys/poll.js';
import { accept, bind, close, connect, getsockname, isOpen, listen, socket } from '../src/sys/socket.js';
import {
  createEpollPoolWatcher,
  createEpollWorkerWatcher,
  createUvPollWatcher,
  type ReadyEvent,
  type Watcher,
  watchReadable,
} from '../src/sys/watch.js';

const TIMEOUT_MS = 2000;

function mptcpListener(): number {
  const fd = socket(AF_INET, SOCK_STREAM, IPPROTO_MPTCP);
  bind(fd, { family: 'inet', address: '127.0.0.1', port: 0 });
  listen(fd, 16);
  return fd;
}

function connectTo(listener: number): number {
  const fd = socket(AF_INET, SOCK_STREAM, IPPROTO_MPTCP);
  connect(fd, getsockname(listener));
  return fd;
}

/** Resolves with the next event, or rejects after `ms`. */
function nextEvent(ms = TIMEOUT_MS): {
  callback: (ev: ReadyEvent) => void;
  event: Promise<ReadyEvent>;
  count: () => number;
} {
  let resolve: (ev: ReadyEvent) => void = () => {};
  let calls = 0;
  const event = new Promise<ReadyEvent>((res, rej) => {
    resolve = res;
    setTimeout(() => rej(new Error(`no readiness callback within ${ms} ms`)), ms).unref();
  });
  return {
    callback: (ev) => {
      calls++;
      resolve(ev);
    },
    event,
    count: () => calls,
  };
}

const epollWorker = createEpollWorkerWatcher();
const epollPool = createEpollPoolWatcher();
after(() => {
  epollWorker.shutdown();
  epollPool.shutdown();
});

for (const watcher of [epollPool, epollWorker, createUvPollWatcher()] as Watcher[]) {
  describe(`watcher ${watcher.kind}`, () => {
    test('a pending connection makes an MPTCP listener readable, and nothing is accepted', async () => {
      const listener = mptcpListener();
      const waiter = nextEvent();
      const watch = watcher.watchReadable(listener, waiter.callback);
      const client = connectTo(listener);
      try {
        const ev = await waiter.event;
        assert.deepEqual(ev, { fd: listener, readable: true, hangup: false });
        assert.equal(waitReadable(listener, 0), true, 'the connection is still pending');
        const conn = accept(listener);
        assert.ok(conn, 'the pending connection is still there to accept');
        close(conn.fd);
      } finally {
        watch.close();
        close(client);
      }
      assert.equal(isOpen(listener), false, 'close() through the API closed the fd');
    });

    test('a pending datagram makes a datagram socket readable', async () => {
      const [a, b] = socketPair('datagram');
      const waiter = nextEvent();
      const watch = watcher.watchReadable(b, waiter.callback);
      try {
        await sleep(20);
        assert.equal(waiter.count(), 0, 'not readable before anything was sent');
        sendMessage(a, Buffer.from('hello'));
        const ev = await waiter.event;
        assert.equal(ev.readable, true);
        assert.equal(receiveMessage(b, { maxBytes: 16 })?.data.toString(), 'hello', 'data untouched');
      } finally {
        watch.close();
        close(a);
      }
    });

    test('one callback per arming; stop() holds it back; rearm() fires again while still ready', async () => {
      const listener = mptcpListener();
      let calls = 0;
      let last: (() => void) | undefined;
      const fired = (): Promise<void> =>
        new Promise((res) => {
          last = res;
        });
      const watch = watcher.watchReadable(listener, () => {
        calls++;
        last?.();
      });
      const clients: number[] = [];
      try {
        watch.stop();
        clients.push(connectTo(listener));
        await sleep(50);
        assert.equal(calls, 0, 'stopped: no callback although a connection waits');
        let next = fired();
        watch.rearm();
        await Promise.race([next, sleep(TIMEOUT_MS, undefined, { ref: false })]);
        assert.equal(calls, 1);
        await sleep(50);
        assert.equal(calls, 1, 'level-triggered readiness does not spin: one callback per arming');
        next = fired();
        watch.rearm();
        await Promise.race([next, sleep(TIMEOUT_MS, undefined, { ref: false })]);
        assert.equal(calls, 2, 'rearmed while the connection still waits: fires again');
        next = fired();
        watch.rearm();
        watch.rearm(); // idempotent while armed
        await Promise.race([next, sleep(TIMEOUT_MS, undefined, { ref: false })]);
        await sleep(30);
        assert.equal(calls, 3, 'a second rearm() while armed adds no callback');
      } finally {
        watch.close();
        for (const fd of clients) close(fd);
      }
    });

    test('release() stops watching and leaves the fd open; the fd can be watched again', async () => {
      const [a, b] = socketPair('datagram');
      const first = watcher.watchReadable(b, () => assert.fail('released watch must not fire'));
      first.release();
      assert.ok(isOpen(b));
      const waiter = nextEvent();
      const second = watcher.watchReadable(b, waiter.callback);
      sendMessage(a, Buffer.from('x'));
      try {
        assert.equal((await waiter.event).fd, b);
      } finally {
        second.close();
        close(a);
      }
      assert.throws(() => second.rearm(), { code: 'ERR_WATCH_CLOSED' });
    });

    test('the peer hanging up is reported', async () => {
      const [a, b] = socketPair('stream');
      const waiter = nextEvent();
      const watch = watcher.watchReadable(b, waiter.callback);
      close(a);
      try {
        const ev = await waiter.event;
        assert.equal(ev.hangup || ev.readable, true);
      } finally {
        watch.close();
      }
    });

    // Only the epoll watchers are tried in-process: a guard regression in uv-poll would abort the
    // runner, so its invalid fds are tried in a child below.
    if (watcher.kind !== 'uv-poll')
      test('invalid fds throw an Error in this process: closed, regular file, already watched, /dev/null', () => {
        const [a, b] = socketPair('datagram');
        close(a);
        close(b);
        assert.throws(() => watcher.watchReadable(a, () => {}), { code: 'EBADF' });
        const file = openSync('/etc/hostname', 'r');
        assert.throws(
          () => watcher.watchReadable(file, () => {}),
          (err: Error & { code?: string }) => {
            return err.code === 'EPERM' && /regular file/.test(err.message);
          },
        );
        close(file);
        const devNull = openSync('/dev/null', 'r');
        assert.throws(() => watcher.watchReadable(devNull, () => {}), { code: 'EPERM' });
        close(devNull);
        const [c, d] = socketPair('datagram');
        const watch = watchReadable(c, () => {});
        assert.throws(() => watcher.watchReadable(c, () => {}), { code: 'EEXIST' });
        watch.close();
        close(d);
      });
  });
}

// The abort-prone cases run in a child: if a guard regresses, libuv aborts the child (exit 134)
// and this test fails, instead of the whole runner dying.
const childScript = `
import net from 'node:net';
import { openSync } from 'node:fs';
const { createUvPollWatcher, createEpollWorkerWatcher } = await import(process.env.WATCH_MODULE);
const { socket, close } = await import(process.env.SOCKET_MODULE);
const results = {};
const watchers = { 'uv-poll': createUvPollWatcher(), 'epoll-worker': createEpollWorkerWatcher() };
const server = net.createServer();
await new Promise((r) => server.listen(0, '127.0.0.1', r));
await new Promise((r) => setTimeout(r, 20)); // let libuv add the listener to its epoll set
for (const [kind, w] of Object.entries(watchers)) {
  const cases = {
    closed: () => { const fd = socket(1, 1, 0); close(fd); return fd; },
    regularFile: () => openSync('/etc/hostname', 'r'),
    devNull: () => openSync('/dev/null', 'r'),
    alreadyWatched: () => { const fd = socket(1, 2, 0); w.watchReadable(fd, () => {}); return fd; },
    nodeHandle: () => server._handle.fd,
  };
  for (const [name, make] of Object.entries(cases)) {
    if (name === 'nodeHandle' && kind === 'epoll-worker') continue;
    try { w.watchReadable(make(), () => {}); results[kind + ':' + name] = 'armed'; }
    catch (err) { results[kind + ':' + name] = err.code; }
  }
}
process.stdout.write(JSON.stringify(results));
server.close();
for (const w of Object.values(watchers)) w.shutdown?.();
process.exit(0);
`;

test('abort-prone fds give Errors, not a dead process (run in a child)', () => {
  const res = spawnSync(process.execPath, ['--input-type=module', '-e', childScript], {
    env: {
      ...process.env,
      WATCH_MODULE: new URL('../src/sys/watch.js', import.meta.url).href,
      SOCKET_MODULE: new URL('../src/sys/socket.js', import.meta.url).href,
    },
    encoding: 'utf8',
    timeout: 20_000,
  });
  assert.equal(res.signal, null, `child died of ${res.signal}: ${res.stderr}`);
  assert.equal(res.status, 0, `child exited ${res.status}: ${res.stderr.slice(0, 2000)}`);
  const results = JSON.parse(res.stdout) as Record<string, string>;
  assert.deepEqual(results, {
    'uv-poll:closed': 'EBADF',
    'uv-poll:regularFile': 'EPERM',
    'uv-poll:devNull': 'EPERM',
    'uv-poll:alreadyWatched': 'EEXIST',
    'uv-poll:nodeHandle': 'EBUSY',
    'epoll-worker:closed': 'EBADF',
    'epoll-worker:regularFile': 'EPERM',
    'epoll-worker:devNull': 'EPERM',
    'epoll-worker:alreadyWatched': 'EEXIST',
  });
});

const gcScript = `
const { createUvPollWatcher } = await import(process.env.WATCH_MODULE);
const { socket, bind, listen, connect, getsockname, close } = await import(process.env.SOCKET_MODULE);
const l = socket(2, 1, 262);
bind(l, { family: 'inet', address: '127.0.0.1', port: 0 });
listen(l, 8);
let fired = false;
// The Watch object is dropped on purpose: only the watcher's registry keeps the handle alive.
createUvPollWatcher().watchReadable(l, () => { fired = true; });
for (let i = 0; i < 5; i++) { globalThis.gc(); await new Promise((r) => setTimeout(r, 10)); }
const c = socket(2, 1, 262);
connect(c, getsockname(l));
const deadline = Date.now() + 2000;
while (!fired && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
process.stdout.write(fired ? 'fired' : 'lost');
process.exit(0);
`;

test('a uv-poll watch survives garbage collection when the caller drops the Watch object', () => {
  const res = spawnSync(process.execPath, ['--expose-gc', '--input-type=module', '-e', gcScript], {
    env: {
      ...process.env,
      WATCH_MODULE: new URL('../src/sys/watch.js', import.meta.url).href,
      SOCKET_MODULE: new URL('../src/sys/socket.js', import.meta.url).href,
    },
    encoding: 'utf8',
    timeout: 20_000,
  });
  assert.equal(res.status, 0, res.stderr);
  assert.equal(res.stdout, 'fired');
});
