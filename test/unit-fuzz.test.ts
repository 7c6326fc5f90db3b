// Fuzzing the unit-file readers with random and mutated text, bounded in time (about 5 s in all)
// and seeded, so a failure names the seed and input that reproduce it.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { formatDiagnostic } from '../src/unit/diagnostic.js';
import { SERVICE_TABLE, SOCKET_TABLE } from '../src/unit/key-table.js';
import { typeUnit } from '../src/unit/load-unit.js';
import {
  escapeUnitNamePart,
  isValidUnitName,
  parseUnitName,
  unescapeUnitNamePart,
} from '../src/unit/names.js';
import { expandSpecifiers, type SpecifierContext, specifierContext } from '../src/unit/specifiers.js';
import { parseUnitText } from '../src/unit/syntax.js';
import {
  formatTimespan,
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
import { quoteWord, splitWords, unescapeC } from '../src/unit/words.js';
import { countLines } from './helpers/unit-lines.js';

const SEED = Number(process.env.SOCKUNIT_FUZZ_SEED ?? 0x5eed);

/** mulberry32: small, fast, good enough to drive a fuzzer reproducibly. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

class Gen {
  readonly random: () => number;
  constructor(random: () => number) {
    this.random = random;
  }
  int(n: number): number {
    return Math.floor(this.random() * n);
  }
  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)]!;
  }
  chance(p: number): boolean {
    return this.random() < p;
  }
  /** A string drawn mostly from characters that mean something to the parsers. */
  text(maxLength: number): string {
    const alphabet = [
      ...'abcXYZ019 \t=[]#;\\"\'%@-.:/$&{}\n\r',
      '\0',
      '\ufeff',
      'é',
      '😀',
      '\ud800',
      '\\x41',
      '\\u00e9',
      '%n',
      '%i',
      '%%',
      '%z',
      'infinity',
      'min',
      'ms',
      'K',
      'SIG',
      'RTMIN+',
    ];
    let s = '';
    const n = this.int(maxLength + 1);
    for (let i = 0; i < n; i++) s += this.pick(alphabet);
    return s;
  }
}

const SECTIONS = ['Unit', 'Socket', 'Service', 'Install', 'X-Mine', ''];
const KEYS = ['ListenStream', 'Accept', 'ExecStart', 'Description', 'Environment', 'Sockets', 'X-Key', ''];

function unitLine(g: Gen): string {
  switch (g.int(9)) {
    case 0:
      return `[${g.pick(SECTIONS)}]`;
    case 1:
      return `${g.pick(['#', ';', '  #'])}${g.text(20)}`;
    case 2:
      return '';
    case 3:
      return `${g.pick(KEYS)}=${g.text(30)}\\`;
    case 4:
      return g.text(40);
    case 5:
      return `[${g.text(8)}]${g.chance(0.3) ? g.text(3) : ''}`;
    default:
      return `${g.chance(0.1) ? ' ' : ''}${g.pick(KEYS)}${g.pick(['=', ' = ', '=='])}${g.text(30)}`;
  }
}

function randomUnit(g: Gen): string {
  const lines: string[] = [];
  const n = g.int(30);
  for (let i = 0; i < n; i++) lines.push(unitLine(g));
  const eol = g.pick(['\n', '\n', '\r\n', '\r']);
  return (g.chance(0.1) ? '\ufeff' : '') + lines.join(eol) + (g.chance(0.7) ? eol : '');
}

const CORPUS = [
  '[Unit]\nDescription=Echo server\n\n[Socket]\nListenStream=127.0.0.1:7\nListenStream=[::1]:7\nAccept=yes\n\n[Install]\nWantedBy=sockets.target\n',
  '[Service]\nExecStart=/usr/bin/env "A=b c" \\\n   sh -c \'echo $A\'\nEnvironment=X=1 "Y=2 3"\n# comment\n; other\n',
  '[Socket]\nListenStream=%t/app.sock\nListenDatagram=@abstract\nListenNetlink=kobject-uevent 1\nSocketProtocol=mptcp\nBindIPv6Only=ipv6-only\n',
];

function mutate(g: Gen, bytes: Buffer): Buffer {
  const out = Buffer.from(bytes);
  const edits = 1 + g.int(6);
  let current: Buffer = out;
  for (let e = 0; e < edits; e++) {
    const at = g.int(current.length + 1);
    switch (g.int(5)) {
      case 0: // flip a byte
        if (current.length > 0) current[Math.min(at, current.length - 1)] = g.int(256);
        break;
      case 1: // insert interesting text
        current = Buffer.concat([current.subarray(0, at), Buffer.from(g.text(12)), current.subarray(at)]);
        break;
      case 2: // delete a chunk
        current = Buffer.concat([current.subarray(0, at), current.subarray(at + g.int(16))]);
        break;
      case 3: // duplicate a chunk
        current = Buffer.concat([
          current.subarray(0, at),
          current.subarray(at, at + g.int(40)),
          current.subarray(at),
        ]);
        break;
      default: // insert a backslash-newline or a bare newline
        current = Buffer.concat([
          current.subarray(0, at),
          Buffer.from(g.pick(['\\\n', '\n', '\\', '\r\n', '['])),
          current.subarray(at),
        ]);
    }
  }
  return current;
}

/** The properties every parse must have, whatever the input. */
function checkParse(input: string | Buffer, label: string): void {
  const lines = countLines(input);
  let r: ReturnType<typeof parseUnitText>;
  try {
    r = parseUnitText(input, 'fuzz.socket');
  } catch (e) {
    assert.fail(`${label}: parseUnitText threw ${String(e)} for ${JSON.stringify(String(input))}`);
  }
  for (const d of r.diagnostics) {
    assert.ok(
      d.line >= 1 && d.line <= lines,
      `${label}: diagnostic line ${d.line} not in 1..${lines}: ${d.message}`,
    );
    assert.ok(
      d.message.includes('; expected') || d.message.includes('expected'),
      `${label}: message without expectation`,
    );
  }
  for (const e of r.entries) {
    assert.ok(e.line >= 1 && e.line <= lines, `${label}: entry line ${e.line} not in 1..${lines}`);
    assert.ok(
      r.sections.some((s) => s.name === e.section),
      `${label}: entry in unlisted section ${e.section}`,
    );
    assert.equal(e.key, e.key.replace(/^[ \t\n\r]+|[ \t\n\r]+$/g, ''), `${label}: key not trimmed`);
    assert.notEqual(e.key, '');
  }
  assert.equal(
    r.fatal,
    r.diagnostics.some((d) => d.severity === 'error'),
    `${label}: fatal must match errors`,
  );
}

/** Runs `fn` for rounds 0..n-1, a fixed count (the same inputs on every machine, however
 * loaded: the seed decides the inputs, never the clock). */
function rounds(n: number, fn: (round: number) => void): void {
  for (let round = 0; round < n; round++) fn(round);
}

/** Calls a value parser; anything thrown other than ValueError is a bug. */
function onlyValueErrors<T>(name: string, input: string, fn: () => T): T | undefined {
  try {
    return fn();
  } catch (e) {
    if (e instanceof ValueError) {
      assert.ok(e.message.length > 0);
      return undefined;
    }
    assert.fail(`${name}(${JSON.stringify(input)}) threw ${String(e)} instead of a ValueError`);
  }
}

describe('fuzz', { timeout: 30_000 }, () => {
  it('parseUnitText on random unit text never throws and cites real lines', (t) => {
    const g = new Gen(prng(SEED));
    rounds(10_000, (i) => {
      const text = randomUnit(g);
      checkParse(text, `seed ${SEED} round ${i} (string)`);
      checkParse(Buffer.from(text), `seed ${SEED} round ${i} (bytes)`);
    });
    t.diagnostic('10,000 random units');
  });

  it('parseUnitText on mutated real units never throws and cites real lines', (t) => {
    const g = new Gen(prng(SEED + 1));
    rounds(20_000, (i) => {
      const input = mutate(g, Buffer.from(g.pick(CORPUS)));
      checkParse(input, `seed ${SEED + 1} round ${i}`);
    });
    t.diagnostic('20,000 mutated units');
  });

  it('value, word, name and specifier parsers return or throw ValueError only', (t) => {
    const g = new Gen(prng(SEED + 2));
    const ctx: SpecifierContext = specifierContext('fuzz-a@b.socket', '/etc/systemd/system/fuzz-a@.socket');
    rounds(4_000, () => {
      const s = g.text(16);
      onlyValueErrors('parseBoolean', s, () => parseBoolean(s));
      const usec = onlyValueErrors('parseTimespan', s, () => parseTimespan(s));
      if (usec !== undefined) {
        assert.ok(usec >= 0);
        assert.equal(
          parseTimespan(formatTimespan(usec)),
          usec,
          `timespan ${JSON.stringify(s)} does not round-trip`,
        );
      }
      const size = onlyValueErrors('parseSize', s, () => parseSize(s));
      if (size !== undefined) assert.ok(Number.isSafeInteger(size) && size >= 0);
      onlyValueErrors('parseMode', s, () => parseMode(s));
      onlyValueErrors('parseUnsigned', s, () => parseUnsigned(s));
      onlyValueErrors('parseInteger', s, () => parseInteger(s));
      onlyValueErrors('parseSignal', s, () => parseSignal(s));
      onlyValueErrors('parseUserName', s, () => parseUserName(s));
      onlyValueErrors('unescapeC', s, () => unescapeC(s));
      onlyValueErrors('expandSpecifiers', s, () => expandSpecifiers(s, ctx));
      onlyValueErrors('unescapeUnitNamePart', s, () => unescapeUnitNamePart(s));
      if (isValidUnitName(s)) onlyValueErrors('parseUnitName', s, () => parseUnitName(s));
      for (const options of [
        { unquote: true, cunescape: true },
        { unquote: true, cunescape: true, relax: true },
        { unquote: true, cunescape: false },
      ]) {
        const words = onlyValueErrors('splitWords', s, () => splitWords(s, options));
        if (words !== undefined) for (const w of words) assert.equal(typeof w, 'string');
      }
      // Printing a word and reading it back gives the word (NUL cannot be escaped, as in systemd).
      const word = s.replaceAll('\0', '').replace(/[\ud800-\udfff]/g, '');
      assert.deepEqual(splitWords(quoteWord(word), { unquote: true, cunescape: true }), [word]);
      // Escaping for a unit name and back is the identity.
      assert.equal(unescapeUnitNamePart(escapeUnitNamePart(word)), word);
    });
    t.diagnostic('4,000 random strings through every parser');
  });

  it('a huge joined line fails at 1 MiB instead of hanging', () => {
    // Quadratic joining would copy ~10^11 bytes here and take minutes (the CI run's time limit
    // catches that); linear takes well under a second. No clock is read: bench/units.ts times
    // parsing.
    const r = parseUnitText(`[Socket]\nA=${'x\\\n'.repeat(600_000)}`, 'big.socket');
    assert.equal(r.fatal, true);
    assert.equal(
      r.diagnostics[0]?.line,
      524_289,
      'the error names the line where the joined line passes 1 MiB',
    );
  });
});

describe('typeUnit under random input', () => {
  // Deterministic, so a failure can be replayed: mulberry32.
  function random(seed: number): () => number {
    let a = seed;
    return () => {
      a = (a + 0x6d2b79f5) | 0;
      let t = Math.imul(a ^ (a >>> 15), 1 | a);
      t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
      return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    };
  }
  const sections = ['Unit', 'Socket', 'Service', 'Install', 'X-Extra', 'Bogus'];
  const keys = [...SOCKET_TABLE.keys, ...SERVICE_TABLE.keys].map((k) => k.name);
  const values = [
    '',
    '1',
    '0',
    'yes',
    '8080',
    '[::1]:80%%lo',
    '/run/x.sock',
    '@abs',
    '-/bin/true a "b c"',
    '%n %i %Z %',
    'A=1 "B=2 3"',
    '5min 3s',
    'infinity',
    '\\x41\\',
    '"unbalanced',
    'mptcp',
    'kobject-uevent 1',
  ];

  it('never throws and every diagnostic points at a real line (400 units)', (t) => {
    const next = random(20261125);
    const pick = <T>(list: readonly T[]): T => list[Math.floor(next() * list.length)] as T;
    for (let units = 0; units < 400; units++) {
      const lines: string[] = [];
      const count = Math.floor(next() * 20);
      for (let i = 0; i < count; i++) {
        const r = next();
        if (r < 0.15) lines.push(`[${pick(sections)}]`);
        else if (r < 0.2)
          lines.push(
            pick([
              '# c',
              '',
              '  ',
              '[Bad]x',
              'novalue',
              '=x',
              'K=a\\',
              String.fromCharCode(Math.floor(next() * 128)),
            ]),
          );
        else {
          let v = pick(values);
          if (next() < 0.3)
            v = v.slice(0, Math.floor(next() * v.length)) + String.fromCharCode(32 + Math.floor(next() * 95));
          lines.push(`${pick(keys)}=${v}`);
        }
      }
      const name = next() < 0.5 ? 'f@x.socket' : 'f.service';
      const file = `/fuzz/${name}`;
      const text = lines.join('\n');
      // \r and NUL end lines too (systemd's read_line), so count as the parser does.
      const lineCount = countLines(text);
      const parsed = parseUnitText(text, file);
      const typed = typeUnit(name, [{ path: file, entries: parsed.entries }], {
        sections: parsed.sections.map((s) => ({ file, name: s.name, line: s.line })),
      });
      for (const d of [...parsed.diagnostics, ...typed.diagnostics]) {
        assert.equal(d.file, file);
        assert.ok(
          d.line >= 0 && d.line <= lineCount,
          `line ${d.line} of ${lineCount}: ${formatDiagnostic(d)}`,
        );
      }
    }
    t.diagnostic('400 random units');
  });
});
