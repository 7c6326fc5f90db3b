import assert from 'node:assert/strict';
import { test } from 'node:test';
import { AF_INET, IPPROTO_MPTCP, SOCK_STREAM } from '../src/sys/constants.js';
import { sendMessage, socketPair } from '../src/sys/msg.js';
import { POLLHUP, POLLIN, POLLNVAL, POLLOUT, poll, waitReadable } from '../src/sys/poll.js';
import { bind, close, connect, getsockname, listen, socket } from '../src/sys/socket.js';
import { waitWritable } from './helpers/fd-flags.js';

test('poll with nothing ready returns zero revents when the timeout passes', () => {
  const [a, b] = socketPair();
  try {
    assert.deepEqual(poll([{ fd: a, events: POLLIN }], 50), [0]);
    assert.equal(waitReadable(a, 0), false, 'a zero timeout returns at once: still nothing to read');
  } finally {
    close(a);
    close(b);
  }
});

test('poll reports each fd in request order: readable, writable, hung up, invalid', () => {
  const [a, b] = socketPair();
  const [c, d] = socketPair();
  const [e, f] = socketPair();
  close(f);
  close(d);
  try {
    sendMessage(b, Buffer.from('x'));
    const revents = poll(
      [
        { fd: e, events: POLLIN },
        { fd: a, events: POLLIN },
        { fd: b, events: POLLOUT },
        { fd: d, events: POLLIN },
      ],
      1000,
    );
    assert.ok((revents[0] ?? 0) & POLLHUP, `hang-up: revents ${revents[0]}`);
    assert.equal(revents[1], POLLIN);
    assert.equal(revents[2], POLLOUT);
    assert.equal(revents[3], POLLNVAL);
  } finally {
    close(a);
    close(b);
    close(c);
    close(e);
  }
});

test('waitReadable sees a pending connection on an MPTCP listener without accepting it', () => {
  const listener = socket(AF_INET, SOCK_STREAM, IPPROTO_MPTCP);
  const client = socket(AF_INET, SOCK_STREAM, IPPROTO_MPTCP);
  try {
    bind(listener, { family: 'inet', address: '127.0.0.1', port: 0 });
    listen(listener, 8);
    assert.equal(waitReadable(listener, 0), false);
    connect(client, getsockname(listener));
    assert.equal(waitReadable(listener, 1000), true);
    assert.equal(waitReadable(listener, 0), true, 'still pending: nothing accepted it');
    assert.equal(waitWritable(client, 1000), true);
  } finally {
    close(client);
    close(listener);
  }
});

test('waitReadable on a closed fd throws EBADF naming the fd', () => {
  const [a, b] = socketPair();
  close(a);
  close(b);
  assert.throws(
    () => waitReadable(a, 0),
    (err: NodeJS.ErrnoException) => err.code === 'EBADF' && err.message.includes(`fd ${a}`),
  );
});
