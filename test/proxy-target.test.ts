// The TARGET argument of `sockunit proxy`, read as systemd-socket-proxyd reads it.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { fixedAddress, formatTarget, parseTarget } from '../src/proxy/target.js';

describe('proxy target', () => {
  test('HOST:PORT with an IP literal is an address, parsed once', () => {
    assert.deepEqual(parseTarget('127.0.0.1:8080'), {
      kind: 'ip',
      host: '127.0.0.1',
      port: 8080,
      family: 'inet',
    });
    assert.deepEqual(fixedAddress(parseTarget('127.0.0.1:8080')), {
      family: 'inet',
      address: '127.0.0.1',
      port: 8080,
    });
    // IPv6: bracketed, or split at the last colon as systemd-socket-proxyd splits it.
    assert.deepEqual(parseTarget('[::1]:8080'), { kind: 'ip', host: '::1', port: 8080, family: 'inet6' });
    assert.deepEqual(parseTarget('::1:8080'), { kind: 'ip', host: '::1', port: 8080, family: 'inet6' });
    assert.equal(formatTarget(parseTarget('::1:8080')), '[::1]:8080');
  });

  test('a host name is looked up per connection; no port means 80', () => {
    const t = parseTarget('localhost');
    assert.deepEqual(t, { kind: 'host', host: 'localhost', port: 80 });
    assert.equal(fixedAddress(t), undefined);
    assert.equal(formatTarget(t), 'localhost:80');
  });

  test('a path starting with / or @ is a unix socket', () => {
    assert.deepEqual(fixedAddress(parseTarget('/run/app.sock')), { family: 'unix', path: '/run/app.sock' });
    assert.deepEqual(fixedAddress(parseTarget('@app')), { family: 'unix', path: '@app' });
  });

  test('bad targets say what is wrong and what is expected', () => {
    assert.throws(() => parseTarget(''), /the target is empty; expected HOST:PORT/);
    assert.throws(
      () => parseTarget('localhost:http'),
      /'http' is not a port; expected HOST:PORT with a port number/,
    );
    assert.throws(() => parseTarget('127.0.0.1:0'), /'0' is not a port/);
    assert.throws(() => parseTarget('127.0.0.1:70000'), /'70000' is not a port/);
    assert.throws(() => parseTarget(':8080'), /the host is missing/);
    assert.throws(() => parseTarget(`/${'x'.repeat(200)}`), /is 201 bytes; at most 107 fit/);
  });
});
