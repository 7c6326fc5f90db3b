import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  applyEnvironment,
  isValidEnvironmentName,
  parseEnvironmentAssignments,
  parseEnvironmentFile,
} from '../src/unit/environment.js';

describe('parseEnvironmentAssignments', () => {
  const cases: [string, [string, string][], string[]][] = [
    [
      'A=1 B=2',
      [
        ['A', '1'],
        ['B', '2'],
      ],
      [],
    ],
    [
      '"A=x y" B=\'z w\'',
      [
        ['A', 'x y'],
        ['B', 'z w'],
      ],
      [],
    ],
    ['A=a\\nb', [['A', 'a\nb']], []],
    [
      'A= B==',
      [
        ['A', ''],
        ['B', '='],
      ],
      [],
    ],
    ['A=$HOME', [['A', '$HOME']], []],
    ['noequals A=1', [['A', '1']], ["'noequals' has no '='; expected NAME=value"]],
    [
      '1A=x B-C=y _ok=z',
      [['_ok', 'z']],
      [
        "'1A' is not a valid variable name; expected letters, digits and '_', not starting with a digit",
        "'B-C' is not a valid variable name; expected letters, digits and '_', not starting with a digit",
      ],
    ],
  ];
  for (const [value, assignments, warnings] of cases) {
    it(value, () => {
      const parsed = parseEnvironmentAssignments(value);
      assert.deepEqual(parsed.assignments, assignments);
      assert.deepEqual(parsed.warnings, warnings);
    });
  }
  it('later assignments win', () => {
    assert.deepEqual(
      applyEnvironment({ A: '0', Z: 'z' }, [
        ['A', '1'],
        ['A', '2'],
      ]),
      { A: '2', Z: 'z' },
    );
  });
});

describe('parseEnvironmentFile', () => {
  it('reads comments, quotes, escapes and continuations', () => {
    const text = [
      '# comment',
      '; also a comment',
      '',
      'PLAIN=value  ',
      '  SPACED = x y ',
      "SINGLE='a \\n $b'",
      'DOUBLE="q \\" \\\\ \\$ \\n"',
      'CONT=first \\',
      'second',
      'export EXPORTED=1',
      'ESC=a\\ b',
      'EMPTY=',
      'bad-name=1',
      'NOEQUALS',
      'LAST=end',
    ].join('\n');
    const parsed = parseEnvironmentFile(text);
    assert.deepEqual(parsed.assignments, [
      ['PLAIN', 'value'],
      ['SPACED', 'x y'],
      ['SINGLE', 'a \\n $b'],
      ['DOUBLE', 'q " \\ $ \\n'],
      ['CONT', 'first second'],
      ['EXPORTED', '1'],
      ['ESC', 'a b'],
      ['EMPTY', ''],
      ['LAST', 'end'],
    ]);
    assert.deepEqual(parsed.warnings, [
      {
        line: 13,
        message:
          "'bad-name' is not a valid variable name; expected letters, digits and '_', not starting with a digit",
      },
      { line: 14, message: "'NOEQUALS' has no '='; expected NAME=value" },
    ]);
  });
  it('keeps newlines inside quotes and counts lines across them', () => {
    const parsed = parseEnvironmentFile('A="one\ntwo"\nbad name=1\n');
    assert.deepEqual(parsed.assignments, [['A', 'one\ntwo']]);
    assert.equal(parsed.warnings[0]?.line, 3);
  });
  it('skips a byte-order mark and handles a missing final newline', () => {
    assert.deepEqual(parseEnvironmentFile('\uFEFFA=1').assignments, [['A', '1']]);
  });
});

describe('mutation-tested: EnvironmentFile= and Environment= as systemd reads them, rule by rule', () => {
  it('reads one file that uses every rule, and counts lines across continuations and quotes', () => {
    const text = [
      '\uFEFF\t \rA=1',
      'export\tB=2',
      'export  C=3',
      "D='multi",
      "line'",
      'F="x\\',
      'y"',
      'G=a b  \t',
      'H="a\\$b\\`c\\\\d\\"e"',
      'I="a\\nb"',
      'K=a\\',
      'b',
      '#c',
      ';c2',
      '  nv  ',
      "S='a",
      "b'",
      '1bad=x',
      'L=\\ x',
      '',
    ].join('\n');
    assert.deepEqual(parseEnvironmentFile(text), {
      assignments: [
        ['A', '1'],
        ['B', '2'],
        ['C', '3'],
        ['D', 'multi\nline'],
        ['F', 'xy'],
        ['G', 'a b'],
        ['H', 'a$b`c\\d"e'],
        ['I', 'a\\nb'],
        ['K', 'ab'],
        ['S', 'a\nb'],
        ['L', ' x'],
      ],
      warnings: [
        { line: 15, message: "'nv' has no '='; expected NAME=value" },
        {
          line: 18,
          message:
            "'1bad' is not a valid variable name; expected letters, digits and '_', not starting with a digit",
        },
      ],
    });
  });

  it('Environment= unquotes and unescapes its items, and drops the invalid ones with a warning each', () => {
    assert.deepEqual(parseEnvironmentAssignments('A=1 "B=two words" =x noeq C=\\x41'), {
      assignments: [
        ['A', '1'],
        ['B', 'two words'],
        ['C', 'A'],
      ],
      warnings: [
        "'' is not a valid variable name; expected letters, digits and '_', not starting with a digit",
        "'noeq' has no '='; expected NAME=value",
      ],
    });
    assert.equal(isValidEnvironmentName('_a1'), true);
    assert.equal(isValidEnvironmentName('1a'), false);
  });
});
