import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ValueError } from '../src/unit/values.js';
import { quoteWord, splitWords, unescapeC } from '../src/unit/words.js';

function throwsValueError(fn: () => unknown, message: string): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof ValueError, `expected a ValueError, got ${String(e)}`);
    assert.equal(e.message, message);
    return true;
  });
}

const EXPECTED_ESCAPES = String.raw`\a \b \f \n \r \t \v \\ \" \' \s \xHH \nnn \uXXXX or \UXXXXXXXX`;
const C = { unquote: true, cunescape: true } as const;
const CR = { unquote: true, cunescape: true, relax: true } as const;

describe('unescapeC', () => {
  const good: [string, string][] = [
    ['plain', 'plain'],
    [String.raw`\a\b\f\n\r\t\v`, '\x07\b\f\n\r\t\v'],
    [String.raw`\\ \" \' \s`, `\\ " '  `],
    [String.raw`\x41\x7e`, 'A~'],
    [String.raw`\101\040`, 'A '],
    [String.raw`\u00e9\U0001F600`, 'é😀'],
    [String.raw`\xc3\xa9`, 'é'],
  ];
  for (const [input, output] of good) it(`${input}`, () => assert.equal(unescapeC(input), output));

  const invalid = (seq: string, s: string): string =>
    `invalid escape sequence '${seq}' in '${s}'; expected one of ${EXPECTED_ESCAPES}`;
  const bad: [string, string][] = [
    [String.raw`a\q`, invalid('\\q', String.raw`a\q`)],
    [String.raw`\x4`, invalid('\\x', String.raw`\x4`)],
    [String.raw`\x00`, invalid('\\x', String.raw`\x00`)],
    [String.raw`\000`, invalid('\\0', String.raw`\000`)],
    [String.raw`\8`, invalid('\\8', String.raw`\8`)],
    [String.raw`\477`, invalid('\\4', String.raw`\477`)],
    [String.raw`\uD800`, invalid('\\u', String.raw`\uD800`)],
    [String.raw`\U00110000`, invalid('\\U', String.raw`\U00110000`)],
    [String.raw`\u12`, invalid('\\u', String.raw`\u12`)],
    ['end\\', "'end\\' ends with a lone backslash; expected an escape such as \\\\"],
    [
      String.raw`\xff`,
      String.raw`escape sequences in '\xff' produce bytes that are not UTF-8; expected text`,
    ],
  ];
  for (const [input, message] of bad)
    it(`refuses ${input}`, () => throwsValueError(() => unescapeC(input), message));
});

describe('splitWords', () => {
  const good: [string, typeof C | typeof CR | { unquote: boolean; cunescape: boolean }, string[]][] = [
    ['a b  c', C, ['a', 'b', 'c']],
    ['  lead and trail \t', C, ['lead', 'and', 'trail']],
    ['', C, []],
    ['   ', C, []],
    ['"a b" c', C, ['a b', 'c']],
    [`c'd e'f`, C, ['cd ef']],
    [`"it's"`, C, ["it's"]],
    [`'say "hi"'`, C, ['say "hi"']],
    ['""', C, ['']],
    ["'' x", C, ['', 'x']],
    [String.raw`"a\tb"`, C, ['a\tb']],
    [String.raw`\x41\101`, C, ['AA']],
    [String.raw`"a\"b"`, C, ['a"b']],
    [String.raw`a\q`, CR, [String.raw`a\q`]],
    ['a\\', CR, ['a\\']],
    [String.raw`a\ b`, CR, [String.raw`a\ b`]],
    [String.raw`a\qb c`, { unquote: true, cunescape: false }, ['aqb', 'c']],
    [`"a b"`, { unquote: false, cunescape: false }, ['"a', 'b"']],
  ];
  for (const [input, options, words] of good) {
    it(`${JSON.stringify(input)} ${JSON.stringify(options)}`, () =>
      assert.deepEqual(splitWords(input, options), words));
  }

  const bad: [string, typeof C | typeof CR, string][] = [
    ['"abc', C, `'"abc' has an unbalanced " quote; expected a closing "`],
    [`a 'b c`, C, `'a 'b c' has an unbalanced ' quote; expected a closing '`],
    [`"abc`, CR, `'"abc' has an unbalanced " quote; expected a closing "`],
    [`"abc\\`, CR, `'"abc\\' has an unbalanced " quote; expected a closing "`],
    [String.raw`a\q`, C, `invalid escape sequence '\\q' in 'a\\q'; expected one of ${EXPECTED_ESCAPES}`],
    ['a\\', C, "'a\\' ends with a lone backslash; expected an escape such as \\\\"],
  ];
  for (const [input, options, message] of bad) {
    it(`refuses ${JSON.stringify(input)}`, () => throwsValueError(() => splitWords(input, options), message));
  }
});

describe('quoteWord', () => {
  const table: [string, string][] = [
    ['plain', 'plain'],
    ['/usr/bin/env', '/usr/bin/env'],
    ['', '""'],
    ['a b', '"a b"'],
    ['x"y', String.raw`"x\"y"`],
    ["it's", `"it's"`],
    ['back\\slash', String.raw`"back\\slash"`],
    ['tab\there\n', String.raw`"tab\there\n"`],
    ['bell\x07', String.raw`"bell\x07"`],
    ['é ü', '"é ü"'],
  ];
  for (const [word, quoted] of table) {
    it(`${JSON.stringify(word)} -> ${quoted}, and splits back to itself`, () => {
      assert.equal(quoteWord(word), quoted);
      assert.deepEqual(splitWords(quoted, C), [word]);
    });
  }
});

describe('mutation-tested: escapes as systemd cunescape() decodes them', () => {
  it('text after an escape, and bytes before text, keep their order', () => {
    assert.equal(unescapeC(String.raw`a\tb`), 'a\tb');
    assert.equal(unescapeC(String.raw`\xc3\xa9b`), 'éb');
    assert.equal(unescapeC(String.raw`\xc3\xa9-\xe2\x82\xac`), 'é-€');
    assert.equal(unescapeC(String.raw`\303\251\x41`), 'éA');
  });

  it('a UTF-8 byte-order mark made of escapes is kept, as the bytes it is', () => {
    assert.equal(unescapeC(String.raw`\xef\xbb\xbfx`), '\uFEFFx');
  });

  it('\\u and \\U give characters only: not NUL, surrogates, U+FDD0..U+FDEF or U+xFFFE/U+xFFFF', () => {
    const invalid = (seq: string, s: string): string =>
      `invalid escape sequence '${seq}' in '${s}'; expected one of ${EXPECTED_ESCAPES}`;
    for (const s of [
      String.raw`\u0000`,
      String.raw`\udfff`,
      String.raw`\ufdd0`,
      String.raw`\ufdef`,
      String.raw`\ufffe`,
      String.raw`\uffff`,
      String.raw`\U0001fffe`,
      String.raw`\U0010ffff`,
    ])
      throwsValueError(() => unescapeC(s), invalid(s.slice(0, 2), s));
    assert.equal(
      unescapeC(String.raw`\ud7ff\ufdcf\ufdf0\U0001fffd\ue000`),
      '\ud7ff\ufdcf\ufdf0\u{1fffd}\ue000',
    );
  });

  it('\\u and \\U take exactly 4 and 8 hex digits, with no other character among them', () => {
    for (const s of [String.raw`\uz123`, String.raw`\u12z3`, String.raw`\U0001F60z`])
      throwsValueError(
        () => unescapeC(s),
        `invalid escape sequence '${s.slice(0, 2)}' in '${s}'; expected one of ${EXPECTED_ESCAPES}`,
      );
    assert.equal(unescapeC(String.raw`\u00e9f`), 'éf');
  });
});

describe('mutation-tested: quoteWord writes every control character as an escape', () => {
  for (const [word, quoted] of [
    ['a\rb', String.raw`"a\rb"`],
    ['a\x01b', String.raw`"a\x01b"`],
    ['a\x7fb', String.raw`"a\x7fb"`],
    ['a\x1fb', String.raw`"a\x1fb"`],
  ] as const)
    it(`${JSON.stringify(word)} -> ${quoted}`, () => {
      assert.equal(quoteWord(word), quoted);
      assert.deepEqual(splitWords(quoted, C), [word]);
    });
});
