// Checks a hand-assembled listing (src/sys/elf.ts) against objdump's decoding of its bytes, so
// the mnemonics written next to each instruction cannot drift from what the bytes really say.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type Assembled, assemble, type ListingLine } from '../../src/sys/elf.js';

export function which(command: string): string | undefined {
  const found = spawnSync('/bin/sh', ['-c', `command -v ${command}`], { encoding: 'utf8' });
  return found.status === 0 ? found.stdout.trim() : undefined;
}

// objdump prints relative targets as absolute addresses: `jb 0xd0`, `lea rsi,[rip+0xa9] # 0x12f`,
// `b.cc 0xe8 // b.lo`. Reduce both sides to "mnemonic operands" with targets as 0x<offset>.
function normaliseObjdump(text: string): string {
  return text
    .replace(/\[rip\+0x[0-9a-f]+\]\s*# 0x([0-9a-f]+)/, '[rip+0x$1]')
    .replace(/\s*(\/\/|#).*$/, '')
    .replace(/\s+/g, ' ')
    .trim();
}

function expectedText(line: { asm: string }, labels: ReadonlyMap<string, number>): string {
  return line.asm.replace(/\{(\w+)\}/, (_, name: string) => `0x${labels.get(name)!.toString(16)}`);
}

export function compareWithObjdump(
  dir: string,
  objdump: string,
  machine: string,
  listing: readonly ListingLine[],
  extra: string[],
) {
  const assembled: Assembled = assemble(listing);
  const file = join(dir, `code-${machine}.bin`);
  writeFileSync(file, assembled.bytes.subarray(0, assembled.codeLength));
  const dump = spawnSync(objdump, ['-D', '-b', 'binary', '-m', machine, ...extra, file], {
    encoding: 'utf8',
  });
  assert.equal(dump.status, 0, dump.stderr);
  const decoded = new Map<number, string>();
  for (const line of dump.stdout.split('\n')) {
    const match = /^\s*([0-9a-f]+):\t[0-9a-f ]+\t(.+)$/.exec(line);
    if (match) decoded.set(Number.parseInt(match[1]!, 16), normaliseObjdump(match[2]!));
  }
  assert.equal(
    decoded.size,
    assembled.instructions.length,
    'objdump decoded a different number of instructions',
  );
  for (const insn of assembled.instructions) {
    assert.equal(
      decoded.get(insn.offset),
      normaliseObjdump(expectedText(insn, assembled.labels)),
      `at 0x${insn.offset.toString(16)}`,
    );
  }
}

/** Skip with `why` on a developer's machine; in CI (.ci/run installs the tool) a missing tool is a
 * failure, so the hand-assembled helper is decoded and run on every CI run. */
export function skipOutsideCi(t: { skip(message: string): void }, why: string): void {
  if (process.env.CI) assert.fail(`${why} — .ci/run should have installed it`);
  t.skip(why);
}
