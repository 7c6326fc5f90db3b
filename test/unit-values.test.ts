import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  formatTimespan,
  isValidUserOrGroupName,
  parseBoolean,
  parseInteger,
  parseMode,
  parseSignal,
  parseSize,
  parseTimespan,
  parseUnsigned,
  parseUserName,
  ValueError,
} from '../src/unit/values.js';

/** Asserts that `fn` throws a ValueError with exactly `message`. */
function throwsValueError(fn: () => unknown, message: string): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof ValueError, `expected a ValueError, got ${String(e)}`);
    assert.equal(e.message, message);
    return true;
  });
}

const S = 1_000_000;

describe('parseBoolean', () => {
  it('accepts every spelling systemd accepts, in any case', () => {
    for (const s of ['1', 'yes', 'y', 'true', 't', 'on', 'YES', 'True', 'ON'])
      assert.equal(parseBoolean(s), true, s);
    for (const s of ['0', 'no', 'n', 'false', 'f', 'off', 'NO', 'False', 'Off']) {
      assert.equal(parseBoolean(s), false, s);
    }
  });
  it('refuses anything else with what is expected', () => {
    for (const s of ['', 'yess', '2', ' yes', 'enable']) {
      throwsValueError(
        () => parseBoolean(s),
        `'${s}' is not a boolean; expected yes/no, true/false, on/off or 1/0`,
      );
    }
  });
});

describe('parseTimespan', () => {
  const good: [string, number][] = [
    ['5', 5 * S],
    ['5s', 5 * S],
    ['1min 30s', 90 * S],
    ['1h30m', 5400 * S],
    ['2min 200ms', 120.2 * S],
    ['500ms', 500_000],
    ['1.5s', 1.5 * S],
    ['0.57s', 570_000],
    ['.5s', 500_000],
    ['  3 sec ', 3 * S],
    ['10us', 10],
    ['10µs', 10],
    ['10μs', 10],
    ['2 usec', 2],
    ['1d', 86_400 * S],
    ['1w', 604_800 * S],
    ['1M', 2_629_800 * S],
    ['1month', 2_629_800 * S],
    ['1y', 31_557_600 * S],
    ['2 hours 1 minute', 7260 * S],
    ['5 5', 10 * S],
    ['+4s', 4 * S],
    ['0', 0],
    ['infinity', Number.POSITIVE_INFINITY],
    [' infinity ', Number.POSITIVE_INFINITY],
  ];
  for (const [input, usec] of good) {
    it(`'${input}' is ${usec}us`, () => assert.equal(parseTimespan(input), usec));
  }
  it('uses the default unit for bare numbers', () => {
    assert.equal(parseTimespan('5', { defaultUnit: 'ms' }), 5000);
    assert.equal(parseTimespan('5', { defaultUnit: 'us' }), 5);
    assert.equal(parseTimespan('5s', { defaultUnit: 'us' }), 5 * S);
  });
  const notATimespan = (s: string): string =>
    `'${s}' is not a time span; expected e.g. 5s, 1min 30s, 500ms or infinity`;
  const bad: [string, string][] = [
    ['', notATimespan('')],
    ['   ', notATimespan('   ')],
    ['5 parsecs', notATimespan('5 parsecs')],
    ['5x', notATimespan('5x')],
    ['12.34.56', notATimespan('12.34.56')],
    ['.', notATimespan('.')],
    ['s', notATimespan('s')],
    ['infinity 5s', notATimespan('infinity 5s')],
    ['5s infinity', notATimespan('5s infinity')],
    ['-1', "'-1' is a negative time span; expected a time of 0 or more, e.g. 5s"],
    ['5s -1s', "'5s -1s' is a negative time span; expected a time of 0 or more, e.g. 5s"],
    ['999999999y', "'999999999y' is too long a time span; expected at most 9007199254740991us"],
  ];
  for (const [input, message] of bad) {
    it(`refuses '${input}'`, () => throwsValueError(() => parseTimespan(input), message));
  }
});

describe('formatTimespan', () => {
  const table: [number, string][] = [
    [0, '0'],
    [Number.POSITIVE_INFINITY, 'infinity'],
    [90 * S, '1min 30s'],
    [5400 * S, '1h 30min'],
    [500_000, '500ms'],
    [1_500_000, '1.500000s'],
    [1_500, '1.500ms'],
    [1_000_001, '1.000001s'],
    [10, '10us'],
    [86_400 * S + 1, '1d 1us'],
    [31_557_600 * S, '1y'],
  ];
  for (const [usec, text] of table) {
    it(`${usec}us prints as '${text}' and parses back`, () => {
      assert.equal(formatTimespan(usec), text);
      assert.equal(parseTimespan(text), usec);
    });
  }
  it('refuses negative and NaN', () => {
    throwsValueError(
      () => formatTimespan(-1),
      '-1 is not a time span in microseconds; expected a number of 0 or more',
    );
    throwsValueError(
      () => formatTimespan(Number.NaN),
      'NaN is not a time span in microseconds; expected a number of 0 or more',
    );
  });
});

describe('parseSize', () => {
  const good: [string, number][] = [
    ['0', 0],
    ['512', 512],
    ['512B', 512],
    ['64K', 65_536],
    ['64 K', 65_536],
    ['1.5M', 1_572_864],
    ['8G', 8 * 1024 ** 3],
    ['1T', 1024 ** 4],
    ['1P', 1024 ** 5],
    ['1G 512M', 1024 ** 3 + 512 * 1024 ** 2],
    ['1K 5', 1029],
    ['10.M', 10 * 1024 ** 2],
  ];
  for (const [input, bytes] of good)
    it(`'${input}' is ${bytes} bytes`, () => assert.equal(parseSize(input), bytes));
  const notASize = (s: string): string =>
    `'${s}' is not a size; expected a number of bytes with an optional K, M, G, T, P or E suffix`;
  const bad: [string, string][] = [
    ['', notASize('')],
    ['x', notASize('x')],
    ['5k', notASize('5k')],
    ['5 5', notASize('5 5')],
    ['1K 1M', notASize('1K 1M')],
    ['1KB', notASize('1KB')],
    ['.5K', notASize('.5K')],
    ['-1', "'-1' is a negative size; expected 0 or more bytes, e.g. 64K"],
    ['16E', "'16E' is too large a size; expected at most 9007199254740991 bytes"],
  ];
  for (const [input, message] of bad)
    it(`refuses '${input}'`, () => throwsValueError(() => parseSize(input), message));
});

describe('parseMode', () => {
  it('reads octal', () => {
    assert.equal(parseMode('0644'), 0o644);
    assert.equal(parseMode('755'), 0o755);
    assert.equal(parseMode('07777'), 0o7777);
    assert.equal(parseMode('0'), 0);
  });
  const bad: [string, string][] = [
    ['0888', "'0888' is not a file mode; expected an octal number such as 0644"],
    ['', "'' is not a file mode; expected an octal number such as 0644"],
    ['0o644', "'0o644' is not a file mode; expected an octal number such as 0644"],
    ['010000', "'010000' is too large a file mode; expected an octal number of at most 07777"],
  ];
  for (const [input, message] of bad)
    it(`refuses '${input}'`, () => throwsValueError(() => parseMode(input), message));
});

describe('parseUnsigned and parseInteger', () => {
  it('reads decimal numbers within bounds', () => {
    assert.equal(parseUnsigned('0'), 0);
    assert.equal(parseUnsigned('4294967295'), 4_294_967_295);
    assert.equal(parseUnsigned('+7'), 7);
    assert.equal(parseUnsigned('128', { max: 128 }), 128);
    assert.equal(parseInteger('-5'), -5);
    assert.equal(parseInteger('12', { min: 10, max: 20 }), 12);
  });
  const bad: [() => unknown, string][] = [
    [() => parseUnsigned('-1'), "'-1' is not an unsigned number; expected a decimal number of 0 or more"],
    [() => parseUnsigned('0x10'), "'0x10' is not an unsigned number; expected a decimal number of 0 or more"],
    [() => parseUnsigned(''), "'' is not an unsigned number; expected a decimal number of 0 or more"],
    [
      () => parseUnsigned('4294967296'),
      "'4294967296' is too large; expected a number between 0 and 4294967295",
    ],
    [() => parseUnsigned('129', { max: 128 }), "'129' is too large; expected a number between 0 and 128"],
    [() => parseInteger('1.5'), "'1.5' is not an integer; expected a decimal number such as 10 or -5"],
    [
      () => parseInteger('9', { min: 10, max: 20 }),
      "'9' is out of range; expected a number between 10 and 20",
    ],
  ];
  for (const [fn, message] of bad) it(`refuses with '${message}'`, () => throwsValueError(fn, message));
});

describe('parseSignal', () => {
  const good: [string, string, number][] = [
    ['TERM', 'SIGTERM', 15],
    ['SIGTERM', 'SIGTERM', 15],
    ['15', 'SIGTERM', 15],
    ['SIGKILL', 'SIGKILL', 9],
    ['HUP', 'SIGHUP', 1],
    ['SIGIOT', 'SIGABRT', 6],
    ['RTMIN', 'SIGRTMIN', 34],
    ['RTMIN+3', 'SIGRTMIN+3', 37],
    ['SIGRTMAX-1', 'SIGRTMIN+29', 63],
    ['40', 'SIGRTMIN+6', 40],
  ];
  for (const [input, name, number] of good) {
    it(`'${input}' is ${name} (${number})`, () => assert.deepEqual(parseSignal(input), { name, number }));
  }
  for (const input of ['', 'TERMINATE', 'sigterm', '0', '65', 'RTMIN-1', 'RTMAX+1', 'RTMIN+31', 'SIG']) {
    it(`refuses '${input}'`, () =>
      throwsValueError(
        () => parseSignal(input),
        `'${input}' is not a signal; expected a name such as SIGTERM, TERM or RTMIN+1, or a number 1-64`,
      ));
  }
});

describe('user and group names', () => {
  it('accepts what systemd accepts in relaxed mode, and numeric ids', () => {
    for (const s of ['www-data', 'nobody', 'user.name', 'Müller', 'a b', '_x', 'x$']) {
      assert.equal(parseUserName(s), s);
      assert.equal(isValidUserOrGroupName(s), true, s);
    }
    for (const s of ['0', '1000', '4294967294']) assert.equal(parseUserName(s), s);
  });
  it('applies the strict rule on request', () => {
    assert.equal(isValidUserOrGroupName('www-data', { strict: true }), true);
    assert.equal(isValidUserOrGroupName('machine$', { strict: true }), true);
    for (const s of ['Müller', 'a b', 'user.name', '1abc', 'x'.repeat(32)]) {
      assert.equal(isValidUserOrGroupName(s, { strict: true }), false, s);
    }
  });
  const badName = (s: string): string =>
    `'${s}' is not a valid user or group name; expected a name such as www-data (no ':', '/', control characters or leading '-') or a numeric id`;
  for (const s of ['', '.', '..', '-x', 'a:b', 'a/b', 'tab\there', ' lead', 'trail ']) {
    it(`refuses name '${JSON.stringify(s)}'`, () => throwsValueError(() => parseUserName(s), badName(s)));
  }
  for (const s of ['65535', '4294967295', '99999999999']) {
    it(`refuses id ${s}`, () =>
      throwsValueError(
        () => parseUserName(s),
        `'${s}' is not a valid user or group id; expected 0-4294967294, except 65535`,
      ));
  }
});

describe('mutation-tested: every time unit systemd spells, and the edges of each range', () => {
  const SEC = 1_000_000;
  const units: [string, number][] = [
    ['seconds', SEC],
    ['second', SEC],
    ['sec', SEC],
    ['s', SEC],
    ['minutes', 60 * SEC],
    ['minute', 60 * SEC],
    ['min', 60 * SEC],
    ['m', 60 * SEC],
    ['months', 2_629_800 * SEC],
    ['month', 2_629_800 * SEC],
    ['M', 2_629_800 * SEC],
    ['msec', 1000],
    ['ms', 1000],
    ['hours', 3600 * SEC],
    ['hour', 3600 * SEC],
    ['hr', 3600 * SEC],
    ['h', 3600 * SEC],
    ['days', 86_400 * SEC],
    ['day', 86_400 * SEC],
    ['d', 86_400 * SEC],
    ['weeks', 604_800 * SEC],
    ['week', 604_800 * SEC],
    ['w', 604_800 * SEC],
    ['years', 31_557_600 * SEC],
    ['year', 31_557_600 * SEC],
    ['y', 31_557_600 * SEC],
    ['usec', 1],
    ['us', 1],
    ['\u03bcs', 1],
    ['\u00b5s', 1],
  ];
  for (const [unit, usec] of units)
    it(`2${unit} is ${2 * usec}us`, () => assert.equal(parseTimespan(`2${unit}`), 2 * usec));

  it('formatTimespan names months and weeks as systemctl show does', () => {
    assert.equal(formatTimespan(2_629_800 * SEC), '1month');
    assert.equal(formatTimespan(604_800 * SEC + SEC), '1w 1s');
    assert.equal(formatTimespan(90 * SEC), '1min 30s');
  });

  it('parseSize takes trailing blanks, and each unit once, largest first', () => {
    assert.equal(parseSize('64K '), 65_536);
    throwsValueError(
      () => parseSize('1K 1K'),
      "'1K 1K' is not a size; expected a number of bytes with an optional K, M, G, T, P or E suffix",
    );
    throwsValueError(
      () => parseSize('1-'),
      "'1-' is not a size; expected a number of bytes with an optional K, M, G, T, P or E suffix",
    );
    throwsValueError(() => parseSize(' -1'), "' -1' is a negative size; expected 0 or more bytes, e.g. 64K");
  });

  it('parseInteger keeps both ends of its range', () => {
    assert.equal(parseInteger('2147483647'), 2_147_483_647);
    assert.equal(parseInteger('-2147483648'), -2_147_483_648);
    assert.equal(parseInteger('10', { min: 10, max: 20 }), 10);
    assert.equal(parseInteger('20', { min: 10, max: 20 }), 20);
    for (const s of ['2147483648', '-2147483649'])
      throwsValueError(
        () => parseInteger(s),
        `'${s}' is out of range; expected a number between -2147483648 and 2147483647`,
      );
    throwsValueError(
      () => parseInteger('21', { min: 10, max: 20 }),
      "'21' is out of range; expected a number between 10 and 20",
    );
  });

  it('signal numbers 1 to 64: unnamed ones (32, 33) print as numbers, 64 is SIGRTMIN+30', () => {
    assert.deepEqual(parseSignal('1'), { name: 'SIGHUP', number: 1 });
    assert.deepEqual(parseSignal('32'), { name: '32', number: 32 });
    assert.deepEqual(parseSignal('64'), { name: 'SIGRTMIN+30', number: 64 });
    assert.deepEqual(parseSignal('RTMAX'), { name: 'SIGRTMIN+30', number: 64 });
    assert.deepEqual(parseSignal('RTMIN+30'), { name: 'SIGRTMIN+30', number: 64 });
    assert.deepEqual(parseSignal('RTMIN+12'), { name: 'SIGRTMIN+12', number: 46 });
    for (const s of ['15x', 'RTMAX-31', 'RTMIN+3 ', 'xRTMIN', 'RTMIN+123'])
      throwsValueError(
        () => parseSignal(s),
        `'${s}' is not a signal; expected a name such as SIGTERM, TERM or RTMIN+1, or a number 1-64`,
      );
  });

  it('a ValueError says it is one', () => {
    assert.equal(new ValueError('x').name, 'ValueError');
  });
});

describe('mutation-tested: user and group names at their edges', () => {
  it('strict names are at most 31 characters; relaxed ones at most 255', () => {
    assert.equal(isValidUserOrGroupName('x'.repeat(31), { strict: true }), true);
    assert.equal(isValidUserOrGroupName('x'.repeat(255)), true);
    assert.equal(isValidUserOrGroupName('x'.repeat(256)), false);
  });

  it('only a name of digits alone is a number, not one that starts or ends with digits', () => {
    for (const s of ['123abc', 'abc123', '1a2']) assert.equal(isValidUserOrGroupName(s), true, s);
    for (const s of ['12', '7']) assert.equal(isValidUserOrGroupName(s), false, s);
  });

  it('a lone UTF-16 surrogate is not a name; a pair (one character) is', () => {
    assert.equal(isValidUserOrGroupName('a\uD800b'), false);
    assert.equal(isValidUserOrGroupName('a\uDC00'), false);
    assert.equal(isValidUserOrGroupName('\uDC00\uD800'), false);
    assert.equal(isValidUserOrGroupName('smile\u{1F600}'), true);
  });
});
