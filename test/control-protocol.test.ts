// The control protocol's request checks and the default socket path, without a manager.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  CONTROL_PROTOCOL_VERSION,
  ControlError,
  defaultControlSocketPath,
  parseControlRequest,
} from '../src/manager/control/protocol.js';

test('a well-formed request is returned typed; unknown fields are dropped', () => {
  const r = parseControlRequest('{"v":1,"id":7,"method":"logs","units":["a.service"],"follow":true,"x":1}');
  assert.deepEqual(r, {
    v: CONTROL_PROTOCOL_VERSION,
    id: 7,
    method: 'logs',
    units: ['a.service'],
    follow: true,
  });
  assert.deepEqual(parseControlRequest('{"v":1,"id":1,"method":"status"}'), {
    v: 1,
    id: 1,
    method: 'status',
  });
});

test('every malformed request is a ControlError EBADREQUEST saying what is wrong', () => {
  const cases: [string, RegExp][] = [
    ['{', /not JSON/],
    ['null', /must be a JSON object/],
    ['{"id":1,"method":"status"}', /protocol version undefined is not supported; this manager speaks v1/],
    ['{"v":1,"method":"status"}', /"id" must be an integer/],
    ['{"v":1,"id":1.5,"method":"status"}', /"id" must be an integer/],
    ['{"v":1,"id":1,"method":"__proto__"}', /unknown method/],
    ['{"v":1,"id":1,"method":"start"}', /start needs at least one unit/],
    ['{"v":1,"id":1,"method":"start","units":[""]}', /"units" must be an array of unit names/],
    ['{"v":1,"id":1,"method":"logs","units":["a"],"follow":"yes"}', /"follow" must be true or false/],
  ];
  for (const [line, message] of cases) {
    assert.throws(
      () => parseControlRequest(line),
      (err: unknown) =>
        err instanceof ControlError && err.code === 'EBADREQUEST' && message.test(err.message),
      line,
    );
  }
});

test('default path: $SOCKUNIT_CONTROL_SOCKET, /run for root, $XDG_RUNTIME_DIR, /tmp', () => {
  assert.equal(defaultControlSocketPath({ SOCKUNIT_CONTROL_SOCKET: '/x/c.sock' }, 0), '/x/c.sock');
  assert.equal(defaultControlSocketPath({}, 0), '/run/sockunit/control.sock');
  assert.equal(
    defaultControlSocketPath({ XDG_RUNTIME_DIR: '/run/user/1000' }, 1000),
    '/run/user/1000/sockunit/control.sock',
  );
  assert.equal(defaultControlSocketPath({}, 1000), '/tmp/sockunit-1000/control.sock');
});
