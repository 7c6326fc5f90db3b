// sys/dup.ts: replacing the socket behind an fd number, and its error path.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  AF_INET,
  AF_INET6,
  IPPROTO_MPTCP,
  SO_DOMAIN,
  SOCK_STREAM,
  SOL_SOCKET,
} from '../src/sys/constants.js';
import { replaceFd } from '../src/sys/dup.js';
import { close, getsockoptInt, socket } from '../src/sys/socket.js';
import { isCloseOnExec } from './helpers/fd-flags.js';

test('replaceFd puts another socket behind the same fd number, close-on-exec', () => {
  const target = socket(AF_INET, SOCK_STREAM, IPPROTO_MPTCP);
  const source = socket(AF_INET6, SOCK_STREAM, IPPROTO_MPTCP);
  try {
    replaceFd(target, source);
    assert.equal(getsockoptInt(target, SOL_SOCKET, SO_DOMAIN), AF_INET6);
    assert.equal(isCloseOnExec(target), true);
    replaceFd(target, target); // a no-op, not EINVAL as dup3 would give
  } finally {
    close(source);
    close(target);
  }
});

test('replaceFd from a closed fd throws EBADF from dup3', () => {
  const target = socket(AF_INET, SOCK_STREAM, IPPROTO_MPTCP);
  const closed = socket(AF_INET, SOCK_STREAM, IPPROTO_MPTCP);
  close(closed);
  try {
    assert.throws(() => replaceFd(target, closed), { code: 'EBADF', syscall: 'dup3' });
    assert.equal(getsockoptInt(target, SOL_SOCKET, SO_DOMAIN), AF_INET, 'target untouched');
  } finally {
    close(target);
  }
});
