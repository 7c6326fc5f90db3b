// biome-ignore-all lint/suspicious/noTemplateCurlyInString: ${VAR} is the systemd syntax under test, not a JS placeholder.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  type ExecCommand,
  execLineIgnoresErrors,
  expandCommandVariables,
  formatExecCommand,
  parseExecLine,
} from '../src/unit/exec-command.js';
import { ValueError } from '../src/unit/values.js';

function command(fields: Partial<ExecCommand>): ExecCommand {
  return {
    path: '',
    argv: [],
    ignoreFailure: false,
    argv0FromLine: false,
    noEnvironmentExpansion: false,
    fullPrivileges: false,
    noSetCredentials: false,
    viaShell: false,
    ...fields,
  };
}

const good: [string, ExecCommand[]][] = [
  ['/bin/echo hello', [command({ path: '/bin/echo', argv: ['/bin/echo', 'hello'] })]],
  ['echo hello', [command({ path: 'echo', argv: ['echo', 'hello'] })]],
  ['-/bin/false', [command({ path: '/bin/false', argv: ['/bin/false'], ignoreFailure: true })]],
  [
    '@/bin/sh sh-name -c x',
    [command({ path: '/bin/sh', argv: ['sh-name', '-c', 'x'], argv0FromLine: true })],
  ],
  [
    '-@:/bin/sh name',
    [
      command({
        path: '/bin/sh',
        argv: ['name'],
        ignoreFailure: true,
        argv0FromLine: true,
        noEnvironmentExpansion: true,
      }),
    ],
  ],
  [
    ':-+/bin/true',
    [
      command({
        path: '/bin/true',
        argv: ['/bin/true'],
        ignoreFailure: true,
        noEnvironmentExpansion: true,
        fullPrivileges: true,
      }),
    ],
  ],
  ['!/bin/id', [command({ path: '/bin/id', argv: ['/bin/id'], noSetCredentials: true })]],
  ['|echo $HOME', [command({ path: 'echo', argv: ['echo', '$HOME'], viaShell: true })]],
  [
    `/bin/echo "a b" 'c d' e\\tf`,
    [command({ path: '/bin/echo', argv: ['/bin/echo', 'a b', 'c d', 'e\tf'] })],
  ],
  ['/bin/echo a\\x41', [command({ path: '/bin/echo', argv: ['/bin/echo', 'aA'] })]],
  [
    '/bin/echo a ; /bin/echo b',
    [
      command({ path: '/bin/echo', argv: ['/bin/echo', 'a'] }),
      command({ path: '/bin/echo', argv: ['/bin/echo', 'b'] }),
    ],
  ],
  ['/bin/echo a \\; b', [command({ path: '/bin/echo', argv: ['/bin/echo', 'a', ';', 'b'] })]],
  ['/bin/echo "a ; b"', [command({ path: '/bin/echo', argv: ['/bin/echo', 'a ; b'] })]],
  ['/bin/echo a;b', [command({ path: '/bin/echo', argv: ['/bin/echo', 'a;b'] })]],
];

const bad: [string, string][] = [
  [
    'bin/echo x',
    "executable path 'bin/echo' is relative; expected an absolute path or a bare program name (looked up in /usr/local/sbin, /usr/local/bin, /usr/sbin, /usr/bin)",
  ],
  ['+!/bin/true', "the '+' and '!' prefixes exclude each other; expected one of them"],
  ['-', 'the command line has no executable; expected an absolute path or a program name'],
  ['@/bin/sh', "the '@' prefix needs the argv[0] word after the executable; expected @PATH ARGV0 ARGS…"],
  [
    '/usr/../bin/x',
    "executable path '/usr/../bin/x' is not normalized; expected a path without '.', '..' or '//'",
  ],
  ['/bin/echo "unclosed', `'/bin/echo "unclosed' has an unbalanced " quote; expected a closing "`],
  ['/bin/a ; ; /bin/b', 'empty command after ";"; expected a command on each side'],
];

describe('parseExecLine', () => {
  for (const [line, commands] of good) {
    it(line, () => {
      assert.deepEqual(parseExecLine(line).commands, commands);
    });
  }
  for (const [line, message] of bad) {
    it(`refuses ${line}`, () => {
      assert.throws(
        () => parseExecLine(line),
        (e: unknown) => e instanceof ValueError && e.message === message,
      );
    });
  }
  it("ignores the removed '!!' prefix with a notice", () => {
    const parsed = parseExecLine('!!/bin/true');
    assert.deepEqual(parsed.commands, [command({ path: '/bin/true', argv: ['/bin/true'] })]);
    assert.deepEqual(parsed.notices, [
      "the '!!' prefix was removed in systemd 258 and is ignored; use '!' or drop it",
    ]);
  });
  it("a lone '|' starts the shell", () => {
    assert.deepEqual(parseExecLine('|').commands, [command({ viaShell: true })]);
  });
  it("knows when a line's errors only warn", () => {
    assert.equal(execLineIgnoresErrors('-bin/x'), true);
    assert.equal(execLineIgnoresErrors('@-/bin/x'), true);
    assert.equal(execLineIgnoresErrors('bin/x -a'), false);
  });
});

describe('expandCommandVariables', () => {
  const env = { ONE: 'one', TWO: 'a b  "c d"', EMPTY: '' };
  const expand = (line: string): string[] =>
    expandCommandVariables(parseExecLine(line).commands[0]!, env).argv;

  it('splits a word that is exactly $VAR, quotes respected', () => {
    assert.deepEqual(expand('/bin/x $TWO'), ['/bin/x', 'a', 'b', 'c d']);
  });
  it('keeps ${VAR} inside a word as one argument', () => {
    assert.deepEqual(expand('/bin/x pre${TWO}post'), ['/bin/x', 'prea b  "c d"post']);
    assert.deepEqual(expand('/bin/x ${ONE}'), ['/bin/x', 'one']);
  });
  it('gives no argument for an unset or empty $VAR, and empty text for ${UNSET}', () => {
    assert.deepEqual(expand('/bin/x $NOPE $EMPTY y${NOPE}z'), ['/bin/x', 'yz']);
  });
  it('turns $$ into $ and leaves other $ alone', () => {
    assert.deepEqual(expand('/bin/x $$ONE $5 ${bad-name} $'), ['/bin/x', '$ONE', '$5', '${bad-name}', '$']);
  });
  it('never expands the executable or argv[0]', () => {
    assert.deepEqual(expand('@/bin/x $ONE $ONE'), ['$ONE', 'one']);
  });
  it('leaves a ":" command alone', () => {
    assert.deepEqual(expand(':/bin/x $ONE'), ['/bin/x', '$ONE']);
  });
});

describe('formatExecCommand', () => {
  it('writes prefixes and quotes words that need it', () => {
    assert.equal(formatExecCommand(parseExecLine('-@/bin/sh sh "a b"').commands[0]!), '-@/bin/sh sh "a b"');
    assert.equal(formatExecCommand(parseExecLine('/bin/echo x').commands[0]!), '/bin/echo x');
  });
});

describe('mutation-tested: ; only as a word of its own, prefixes, and executable paths', () => {
  const argvs = (value: string) => parseExecLine(value).commands.map((c) => c.argv);

  it('a ; separates commands only standing alone, unquoted and unescaped', () => {
    assert.deepEqual(argvs('/bin/a ";" ; /bin/b'), [['/bin/a', ';'], ['/bin/b']]);
    assert.deepEqual(argvs('/bin/echo \\; ; /bin/b'), [['/bin/echo', ';'], ['/bin/b']]);
    assert.deepEqual(argvs("/bin/a 'x ; y' ; /bin/b"), [['/bin/a', 'x ; y'], ['/bin/b']]);
    assert.deepEqual(argvs('/bin/a "q\\" ; still" ; /bin/b'), [['/bin/a', 'q" ; still'], ['/bin/b']]);
    assert.deepEqual(argvs('/bin/a\t;\t/bin/b'), [['/bin/a'], ['/bin/b']]);
    assert.deepEqual(argvs('/bin/a x; /bin/b'), [['/bin/a', 'x;', '/bin/b']]);
    assert.deepEqual(argvs('/bin/a ;x'), [['/bin/a', ';x']]);
    assert.deepEqual(argvs('/bin/a \\"; /bin/b'), [['/bin/a', '";', '/bin/b']]);
  });

  it("'!' skips credentials; '!!' (gone in systemd 258) is ignored with a notice", () => {
    const one = parseExecLine('!/bin/x');
    assert.equal(one.commands[0]?.noSetCredentials, true);
    assert.deepEqual(one.notices, []);
    const two = parseExecLine('!!/bin/x');
    assert.equal(two.commands[0]?.noSetCredentials, false);
    assert.equal(two.notices.length, 1);
  });

  it("a leading '-' anywhere in the prefix makes errors of the line warnings", () => {
    for (const v of ['-/bin/x', '@-/bin/x x', '  -/bin/x', '+-x'])
      assert.equal(execLineIgnoresErrors(v), true, v);
    for (const v of ['/bin/-x', '/bin/x -y', '', '@/bin/x x'])
      assert.equal(execLineIgnoresErrors(v), false, v);
  });

  it("an absolute executable must be normalized: no '.', '..', '//' or trailing '/'", () => {
    for (const p of ['/usr/./x', '/usr/../x', '/usr//x', '/usr/bin/', '/usr/bin/.', '/usr/bin/..'])
      assert.throws(() => parseExecLine(p), ValueError, p);
    for (const p of ['/usr/bin/x.', '/usr/.hidden/x', '/a..b/x'])
      assert.equal(parseExecLine(p).commands[0]?.path, p);
  });
});
