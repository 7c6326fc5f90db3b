import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { formatDiagnostic } from '../src/unit/diagnostic.js';
import { parseUnitText } from '../src/unit/syntax.js';
import { countLines } from './helpers/unit-lines.js';

const F = 'test.socket';

/** Entries as `Section/Key=value@line`, compact enough for table rows. */
function entriesOf(text: string | Uint8Array): string[] {
  return parseUnitText(text, F).entries.map((e) => `${e.section}/${e.key}=${e.value}@${e.line}`);
}

function diagnosticsOf(text: string | Uint8Array): string[] {
  return parseUnitText(text, F).diagnostics.map((d) => `${d.severity} ${formatDiagnostic(d)}`);
}

describe('parseUnitText: assignments', () => {
  const table: [string, string, string[]][] = [
    ['plain', '[Socket]\nListenStream=80\n', ['Socket/ListenStream=80@2']],
    ['blanks around = and at ends', '[Socket]\n  ListenStream \t=  80  \n', ['Socket/ListenStream=80@2']],
    ['only the first = splits', '[Service]\nEnvironment=A=1 B=2\n', ['Service/Environment=A=1 B=2@2']],
    ['no inline comments', '[Socket]\nListenStream=80 # web\n', ['Socket/ListenStream=80 # web@2']],
    ['comments with # and ;', '# top\n[Socket]\n; semi\n  # indented\nA=1\n', ['Socket/A=1@5']],
    [
      'repeated keys all kept, in order',
      '[Socket]\nA=1\nA=\nA=2\n',
      ['Socket/A=1@2', 'Socket/A=@3', 'Socket/A=2@4'],
    ],
    ['empty value', '[Socket]\nA=\n', ['Socket/A=@2']],
    ['keys keep their case', '[Socket]\nlistenstream=1\n', ['Socket/listenstream=1@2']],
    [
      'sections switch',
      '[Unit]\nA=1\n[Socket]\nA=2\n[Unit]\nB=3',
      ['Unit/A=1@2', 'Socket/A=2@4', 'Unit/B=3@6'],
    ],
    ['BOM skipped', '\ufeff[Socket]\nA=1\n', ['Socket/A=1@2']],
    ['CRLF line ends', '[Socket]\r\nA=1\r\nB=2\r\n', ['Socket/A=1@2', 'Socket/B=2@3']],
    ['lone CR line ends', '[Socket]\rA=1\rB=2', ['Socket/A=1@2', 'Socket/B=2@3']],
    ['NUL ends a line', '[Socket]\nA=1\0B=2\n', ['Socket/A=1@2', 'Socket/B=2@3']],
    ['X- sections are kept for the key table', '[X-Mine]\nFoo=bar\n', ['X-Mine/Foo=bar@2']],
    ['an empty section name is a section (unknown to the key table)', '[]\nA=1\n', ['/A=1@2']],
  ];
  for (const [name, text, entries] of table) {
    it(name, () => {
      assert.deepEqual(entriesOf(text), entries);
      assert.deepEqual(diagnosticsOf(text), []);
    });
  }

  it('lists section headers with their lines, repeats included', () => {
    const r = parseUnitText('[Unit]\n\n[Socket]\nA=1\n[Unit]\n', F);
    assert.deepEqual(r.sections, [
      { name: 'Unit', line: 1 },
      { name: 'Socket', line: 3 },
      { name: 'Unit', line: 5 },
    ]);
    assert.equal(r.fatal, false);
  });
});

describe('parseUnitText: continuation lines', () => {
  const table: [string, string, string[]][] = [
    [
      'backslash becomes a blank',
      '[Service]\nExecStart=/bin/echo a \\\n  b\n',
      ['Service/ExecStart=/bin/echo a    b@3'],
    ],
    ['no blank before the backslash', '[Service]\nA=x\\\ny\n', ['Service/A=x y@3']],
    ['comment lines inside are skipped', '[Service]\nA=1 \\\n# c\n; d\n  2\n', ['Service/A=1    2@5']],
    ['a blank line ends it', '[Service]\nA=1 \\\n\nB=2\n', ['Service/A=1@3', 'Service/B=2@4']],
    [
      'blank after the backslash: no join',
      '[Service]\nA=1 \\ \nB=2\n',
      ['Service/A=1 \\@2', 'Service/B=2@3'],
    ],
    [
      'escaped backslash at the end: no join',
      '[Service]\nA=1\\\\\nB=2\n',
      ['Service/A=1\\\\@2', 'Service/B=2@3'],
    ],
    ['three backslashes: join', '[Service]\nA=1\\\\\\\nB=2\n', ['Service/A=1\\\\ B=2@3']],
    ['open at EOF is parsed', '[Service]\nA=1 \\\n2 \\', ['Service/A=1  2@3']],
    ['open at EOF after a comment cites the last line', '[Service]\nA=1 \\\n# end\n', ['Service/A=1@3']],
    ['a header can be continued', '[Ser\\\nvice]\nA=1\n', ['Ser vice/A=1@3']],
  ];
  for (const [name, text, entries] of table) {
    it(name, () => {
      assert.deepEqual(entriesOf(text), entries);
      assert.deepEqual(diagnosticsOf(text), []);
    });
  }
});

describe('parseUnitText: warnings (line dropped, parsing goes on)', () => {
  const table: [string, string, string[], string[]][] = [
    [
      'assignment before any section',
      'A=1\n[Socket]\nB=2\n',
      [
        'warning test.socket:1: assignment outside of any section, ignoring it; expected it below a header such as [Socket]',
      ],
      ['Socket/B=2@3'],
    ],
    [
      "missing '='",
      '[Socket]\nListenStream 80\nB=2\n',
      ["warning test.socket:2: line 'ListenStream 80' has no '=', ignoring it; expected Key=value"],
      ['Socket/B=2@3'],
    ],
    [
      "line starting with '='",
      '[Socket]\n=80\n  = 80\n',
      [
        "warning test.socket:2: assignment '=80' has no key before '=', ignoring it; expected Key=value",
        "warning test.socket:3: assignment '= 80' has no key before '=', ignoring it; expected Key=value",
      ],
      [],
    ],
    [
      'warning on a continued line cites its last line',
      '[Socket]\nfoo \\\nbar\n',
      ["warning test.socket:3: line 'foo  bar' has no '=', ignoring it; expected Key=value"],
      [],
    ],
  ];
  for (const [name, text, diagnostics, entries] of table) {
    it(name, () => {
      assert.deepEqual(diagnosticsOf(text), diagnostics);
      assert.deepEqual(entriesOf(text), entries);
      assert.equal(parseUnitText(text, F).fatal, false);
    });
  }
});

describe('parseUnitText: fatal errors (the file cannot be used)', () => {
  const bytes = (...parts: (string | number[])[]): Uint8Array =>
    Buffer.concat(parts.map((p) => (typeof p === 'string' ? Buffer.from(p) : Buffer.from(p))));
  const table: [string, string | Uint8Array, string][] = [
    [
      'text after the header',
      '[Socket]x\nA=1\n',
      "error test.socket:1: invalid section header '[Socket]x'; expected [Name] alone on its line",
    ],
    [
      'unclosed header',
      '[Socket\n',
      "error test.socket:1: invalid section header '[Socket'; expected [Name] alone on its line",
    ],
    [
      'lone bracket',
      '[Unit]\n[\n',
      "error test.socket:2: invalid section header '['; expected [Name] alone on its line",
    ],
    [
      'quote in section name',
      '[So"cket]\n',
      "error test.socket:1: invalid section name 'So\"cket' in header '[So\"cket]'; expected a name without control characters, quotes or backslashes, such as [Socket]",
    ],
    [
      'invalid UTF-8 in a value',
      bytes('[Socket]\nA=', [0xff, 0xfe], '\n'),
      'error test.socket:2: line is not valid UTF-8; expected UTF-8 text (convert the file, e.g. with iconv)',
    ],
    [
      'invalid UTF-8 in a continued value cites the last line',
      bytes('[Socket]\nA=', [0xc3], ' \\\nb\n'),
      'error test.socket:3: line is not valid UTF-8; expected UTF-8 text (convert the file, e.g. with iconv)',
    ],
    [
      'over-long line',
      `[Socket]\nA=${'x'.repeat(1024 * 1024)}\n`,
      'error test.socket:2: line is longer than 1 MiB; expected shorter values (split the unit)',
    ],
    [
      'over-long continued line',
      `[Socket]\nA=${'x'.repeat(600 * 1024)}\\\n${'y'.repeat(600 * 1024)}\n`,
      'error test.socket:3: continued line is longer than 1 MiB; expected shorter values (split the unit)',
    ],
  ];
  for (const [name, text, diagnostic] of table) {
    it(name, () => {
      const r = parseUnitText(text, F);
      assert.equal(r.fatal, true);
      assert.deepEqual(diagnosticsOf(text), [diagnostic]);
    });
  }

  it('invalid UTF-8 in a comment is fine (systemd skips comments before checking)', () => {
    const text = bytes('# caf', [0xe9], '\n[Socket]\nA=1\n');
    const r = parseUnitText(text, F);
    assert.equal(r.fatal, false);
    assert.deepEqual(entriesOf(text), ['Socket/A=1@3']);
  });

  it('a line of exactly 1 MiB is accepted', () => {
    const value = 'x'.repeat(1024 * 1024 - 2);
    const r = parseUnitText(`[Socket]\nA=${value}\n`, F);
    assert.equal(r.fatal, false);
    assert.equal(r.entries[0]?.value.length, value.length);
  });

  it('a lone surrogate in string input counts as not UTF-8', () => {
    const r = parseUnitText('[Socket]\nA=\ud800\n', F);
    assert.equal(r.fatal, true);
  });

  it('parsing stops at the first fatal error', () => {
    const r = parseUnitText('[Socket]\nA=1\n[Bad\nB=2\n[Worse\n', F);
    assert.deepEqual(
      r.entries.map((e) => e.key),
      ['A'],
    );
    assert.equal(r.diagnostics.length, 1);
  });
});

describe('countLines (the test oracle)', () => {
  it('counts the lines parseUnitText numbers', () => {
    assert.equal(countLines(''), 0);
    assert.equal(countLines('a'), 1);
    assert.equal(countLines('a\n'), 1);
    assert.equal(countLines('a\n\n'), 2);
    assert.equal(countLines('a\r\nb\rc\0d'), 4);
    assert.equal(countLines(Buffer.from([0x61, 0x0a, 0xff, 0x0a])), 2);
  });
});

describe('mutation-tested: line breaks and UTF-8 in bytes and in strings', () => {
  const NOT_UTF8 =
    'error test.socket:2: line is not valid UTF-8; expected UTF-8 text (convert the file, e.g. with iconv)';

  it('bytes with a non-UTF-8 comment: CRLF, CR and NUL still end lines, with or without a last line break', () => {
    for (const end of ['', '\n']) {
      const bytes = Buffer.concat([
        Buffer.from('[Socket]\r\n#'),
        Buffer.from([0xff]),
        Buffer.from(` comment\r\nA=1\rB=2\0C=3${end}`),
      ]);
      assert.deepEqual(entriesOf(bytes), ['Socket/A=1@3', 'Socket/B=2@4', 'Socket/C=3@5']);
      assert.deepEqual(diagnosticsOf(bytes), []);
    }
  });

  it('a byte-order mark in bytes is skipped like one in text', () => {
    assert.deepEqual(entriesOf(Buffer.from('\ufeff[Socket]\nA=1\n')), ['Socket/A=1@2']);
  });

  it('in a string, a lone surrogate is invalid UTF-8 in an assignment, harmless in a comment; a pair is a character', () => {
    assert.deepEqual(entriesOf('[Socket]\n# \uD800\nA=1\nB=\uD83D\uDE00\n'), [
      'Socket/A=1@3',
      'Socket/B=\u{1F600}@4',
    ]);
    assert.deepEqual(diagnosticsOf('[Socket]\n# \uD800\nA=1\n'), []);
    for (const text of ['[Socket]\nA=\uDC00x\n', '[Socket]\nA=x\uD800\n', '[Socket]\nA=\uDC00\uD800\n']) {
      assert.deepEqual(diagnosticsOf(text), [NOT_UTF8], JSON.stringify(text));
      assert.equal(parseUnitText(text, F).fatal, true);
    }
  });

  it('an even number of trailing backslashes does not continue the line; an odd one does', () => {
    assert.deepEqual(entriesOf('[Socket]\nA=1\\\\\nB=2\n'), ['Socket/A=1\\\\@2', 'Socket/B=2@3']);
    assert.deepEqual(entriesOf('[Socket]\nA=1\\\\\\\nB=2\n').length, 1);
  });
});
