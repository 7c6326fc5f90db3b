import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  escapeUnitNamePart,
  instanceName,
  isInstanceName,
  isTemplateName,
  isValidUnitName,
  parseUnitName,
  templateOf,
  unescapePath,
  unescapeUnitNamePart,
  unitType,
  withUnitType,
} from '../src/unit/names.js';
import { ValueError } from '../src/unit/values.js';

function throwsValueError(fn: () => unknown, message: string): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof ValueError, `expected a ValueError, got ${String(e)}`);
    assert.equal(e.message, message);
    return true;
  });
}

const EXPECTED_NAME =
  'expected PREFIX.TYPE, PREFIX@.TYPE or PREFIX@INSTANCE.TYPE with TYPE one of service, socket, device, mount, automount, swap, target, path, timer, slice, scope (use escapeUnitNamePart for other characters)';

describe('unit names', () => {
  const good: [string, ReturnType<typeof parseUnitName>][] = [
    ['foo.socket', { name: 'foo.socket', prefix: 'foo', template: false, type: 'socket' }],
    ['foo@.service', { name: 'foo@.service', prefix: 'foo', template: true, type: 'service' }],
    [
      'foo@bar.service',
      { name: 'foo@bar.service', prefix: 'foo', instance: 'bar', template: false, type: 'service' },
    ],
    [
      'sshd@3-127.0.0.1:22-127.0.0.1:5000.service',
      {
        name: 'sshd@3-127.0.0.1:22-127.0.0.1:5000.service',
        prefix: 'sshd',
        instance: '3-127.0.0.1:22-127.0.0.1:5000',
        template: false,
        type: 'service',
      },
    ],
    ['a@b@c.socket', { name: 'a@b@c.socket', prefix: 'a', instance: 'b@c', template: false, type: 'socket' }],
    ['dev-sda1.device', { name: 'dev-sda1.device', prefix: 'dev-sda1', template: false, type: 'device' }],
    ['a.b.c.target', { name: 'a.b.c.target', prefix: 'a.b.c', template: false, type: 'target' }],
    [
      'run-x\\x2dy.mount',
      { name: 'run-x\\x2dy.mount', prefix: 'run-x\\x2dy', template: false, type: 'mount' },
    ],
  ];
  for (const [name, parsed] of good) {
    it(`parses ${name}`, () => {
      assert.equal(isValidUnitName(name), true);
      assert.deepEqual(parseUnitName(name), parsed);
      assert.equal(unitType(name), parsed.type);
    });
  }

  const bad: [string, string][] = [
    ['', 'the name is empty'],
    ['foo', 'the name has no type suffix'],
    ['foo.bar', "'.bar' is not a unit type"],
    ['foo.Socket', "'.Socket' is not a unit type"],
    ['@foo.socket', "the name starts with '@'"],
    ['.socket', 'the name has nothing before the type suffix'],
    ['fo o.socket', "'fo o' contains characters other than A-Z a-z 0-9 : _ . - \\"],
    ['föo.socket', "'föo' contains characters other than A-Z a-z 0-9 : _ . - \\"],
    ['foo@b/r.socket', "instance 'b/r' contains characters other than A-Z a-z 0-9 : _ . - \\ @"],
    [`${'x'.repeat(250)}.socket`, 'the name is longer than 255 characters'],
  ];
  for (const [name, problem] of bad) {
    it(`refuses ${JSON.stringify(name.length > 40 ? `${name.slice(0, 20)}…` : name)}`, () => {
      assert.equal(isValidUnitName(name), false);
      throwsValueError(
        () => parseUnitName(name),
        `'${name}' is not a valid unit name: ${problem}; ${EXPECTED_NAME}`,
      );
    });
  }

  it('accepts exactly 255 characters', () => {
    const name = `${'x'.repeat(248)}.socket`;
    assert.equal(name.length, 255);
    assert.equal(isValidUnitName(name), true);
  });

  it('knows templates and instances', () => {
    assert.equal(isTemplateName('foo@.socket'), true);
    assert.equal(isTemplateName('foo@x.socket'), false);
    assert.equal(isInstanceName('foo@x.socket'), true);
    assert.equal(isInstanceName('foo.socket'), false);
    assert.equal(isInstanceName('not a name'), false);
    assert.equal(templateOf('foo@bar.socket'), 'foo@.socket');
    assert.equal(instanceName('foo@.service', '3-1.2.3.4:80'), 'foo@3-1.2.3.4:80.service');
    assert.equal(withUnitType('foo@bar.socket', 'service'), 'foo@bar.service');
  });

  it('refuses wrong template/instance input', () => {
    throwsValueError(
      () => templateOf('foo.socket'),
      "'foo.socket' is not an instance name; expected PREFIX@INSTANCE.TYPE such as foo@bar.service",
    );
    throwsValueError(
      () => templateOf('foo@.socket'),
      "'foo@.socket' is not an instance name; expected PREFIX@INSTANCE.TYPE such as foo@bar.service",
    );
    throwsValueError(
      () => instanceName('foo.service', 'x'),
      "'foo.service' is not a template name; expected PREFIX@.TYPE such as foo@.service",
    );
    const badInstance = (i: string): string =>
      `'${i}' is not a valid instance for foo@.service; expected 1 or more of A-Z a-z 0-9 : _ . - \\ @ (escape it with escapeUnitNamePart) and a name of at most 255 characters`;
    throwsValueError(() => instanceName('foo@.service', ''), badInstance(''));
    throwsValueError(() => instanceName('foo@.service', 'a b'), badInstance('a b'));
  });
});

describe('systemd-escape', () => {
  const strings: [string, string][] = [
    ['foo', 'foo'],
    ['/foo/bar', '-foo-bar'],
    ['a-b', 'a\\x2db'],
    ['a\\b', 'a\\x5cb'],
    ['.hidden', '\\x2ehidden'],
    ['a.b', 'a.b'],
    ['a b', 'a\\x20b'],
    ['é', '\\xc3\\xa9'],
    ['x:y_z', 'x:y_z'],
    ['', ''],
  ];
  for (const [input, escaped] of strings) {
    it(`escapes ${JSON.stringify(input)} as ${escaped}, and back`, () => {
      assert.equal(escapeUnitNamePart(input), escaped);
      assert.equal(unescapeUnitNamePart(escaped), input);
    });
  }

  // systemd-escape --path --unescape (what %I and %f do with an instance).
  const paths: [string, string][] = [
    ['run-foo', '/run/foo'],
    ['-', '/'],
    ['foo-bar-baz', '/foo/bar/baz'],
    ['dev-sda\\x2d1', '/dev/sda-1'],
    ['srv-my\\x20site', '/srv/my site'],
  ];
  for (const [escaped, path] of paths) {
    it(`path ${escaped} -> ${path}`, () => {
      assert.equal(unescapePath(escaped), path);
    });
  }

  const bad: [() => unknown, string][] = [
    [() => unescapePath(''), 'escaped path is empty; expected e.g. run-foo or -'],
    [
      () => unescapePath('foo--bar'),
      "'foo--bar' unescapes to 'foo//bar', which is not a normalized path; expected no leading, trailing or doubled '-' and no '.' or '..' parts",
    ],
    [
      () => unescapePath('foo-'),
      "'foo-' unescapes to 'foo/', which is not a normalized path; expected no leading, trailing or doubled '-' and no '.' or '..' parts",
    ],
    [
      () => unescapePath('a-..-b'),
      "'a-..-b' unescapes to 'a/../b', which is not a normalized path; expected no leading, trailing or doubled '-' and no '.' or '..' parts",
    ],
    [
      () => unescapeUnitNamePart('a\\q'),
      "'a\\q' has an invalid escape '\\q' at position 1; expected \\xHH (two hex digits)",
    ],
    [
      () => unescapeUnitNamePart('a\\x2'),
      "'a\\x2' has an invalid escape '\\x2' at position 1; expected \\xHH (two hex digits)",
    ],
    [
      () => unescapeUnitNamePart('\\xff'),
      "'\\xff' unescapes to bytes that are not UTF-8; expected escapes of UTF-8 text",
    ],
  ];
  for (const [fn, message] of bad) it(`refuses: ${message}`, () => throwsValueError(fn, message));
});

describe('mutation-tested: instances, systemd-escape bytes and path unescaping', () => {
  it('an instance must be made of the allowed characters, and the name at most 255 long', () => {
    assert.throws(() => instanceName('foo@.service', 'a/b'), ValueError);
    const longest = 'i'.repeat(255 - 'foo@.service'.length);
    assert.equal(instanceName('foo@.service', longest).length, 255);
    assert.throws(() => instanceName('foo@.service', `${longest}i`), ValueError);
  });

  it('systemd-escape writes every UTF-8 byte of other characters as \\xHH', () => {
    assert.equal(escapeUnitNamePart('é/€'), '\\xc3\\xa9-\\xe2\\x82\\xac');
    assert.equal(unescapeUnitNamePart('\\xc3\\xa9-\\xe2\\x82\\xac'), 'é/€');
  });

  it('an escaped byte-order mark unescapes to the character, not to nothing', () => {
    assert.equal(unescapeUnitNamePart('\\xef\\xbb\\xbfa'), '\uFEFFa');
  });

  it('a path must come out normalized: no empty, . or .. parts', () => {
    for (const s of ['run--foo', 'run-', 'a-\\x2e\\x2e-b', 'a-\\x2e-b'])
      assert.throws(() => unescapePath(s), ValueError, s);
    assert.equal(unescapePath('run-\\x2efoo'), '/run/.foo');
  });
});
