// The control protocol's request checks and the default socket path, without a manager.

import assert from 'node:assert/strict';
import { describe, it, test } from 'node:test';
import {
  CONTROL_PROTOCOL_VERSION,
  ControlError,
  defaultControlSocketPath,
  errorResponse,
  okResponse,
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

describe('mutation-tested: the request checks one by one, and the reply shapes', () => {
  const refused = (line: string, message: RegExp) =>
    assert.throws(
      () => parseControlRequest(line),
      (err: unknown) =>
        err instanceof ControlError &&
        err.name === 'ControlError' &&
        err.code === 'EBADREQUEST' &&
        message.test(err.message),
      line,
    );

  it('only a JSON object is a request: not a number, a string or an array', () => {
    for (const line of ['5', '"status"', '[{"v":1,"id":1,"method":"status"}]'])
      refused(line, /must be a JSON object/);
  });

  it('an unknown method is answered with the list of methods', () => {
    refused(
      '{"v":1,"id":1,"method":"reboot"}',
      /unknown method "reboot"; expected one of status, list-sockets, list-units, start, stop, restart, reload, daemon-reload, connections, logs, is-system-running$/,
    );
  });

  it('every method that acts on units needs one; the others do not', () => {
    for (const method of ['start', 'stop', 'restart', 'reload', 'connections', 'logs'])
      refused(
        `{"v":1,"id":1,"method":"${method}","units":[]}`,
        new RegExp(`^${method} needs at least one unit`),
      );
    for (const method of ['status', 'list-sockets', 'list-units', 'daemon-reload', 'is-system-running'])
      assert.equal(parseControlRequest(`{"v":1,"id":1,"method":"${method}"}`).method, method);
  });

  it('every unit name must be a string of 1 to 255 characters (systemd: UNIT_NAME_MAX is 256 with the NUL)', () => {
    const longest = `${'a'.repeat(247)}.service`;
    assert.equal(longest.length, 255);
    assert.deepEqual(parseControlRequest(`{"v":1,"id":1,"method":"start","units":["${longest}"]}`).units, [
      longest,
    ]);
    for (const units of [`["a${longest}"]`, '["a.service",""]', '["a.service",5]', '"a.service"'])
      refused(`{"v":1,"id":1,"method":"start","units":${units}}`, /"units" must be an array of unit names/);
  });

  it('replies carry the version and echo the id', () => {
    assert.deepEqual(okResponse(3, { units: [] }), { v: 1, id: 3, ok: true, result: { units: [] } });
    assert.deepEqual(errorResponse(4, 'ENOUNIT', 'no such unit'), {
      v: 1,
      id: 4,
      ok: false,
      error: { code: 'ENOUNIT', message: 'no such unit' },
    });
  });

  it('without a uid the effective uid chooses the default path', () => {
    assert.equal(defaultControlSocketPath({}), defaultControlSocketPath({}, process.geteuid?.() ?? 0));
  });
});
