import assert from 'node:assert/strict';
import { test } from 'node:test';
import { OutputLines } from '../src/manager/exec/output-lines.js';

test('OutputLines: lines across reads, UTF-8 split inside a character, empty lines, no newline at the end', () => {
  const lines = new OutputLines();
  const euro = Buffer.from('€'); // three bytes
  assert.deepEqual(lines.push(Buffer.from('one\ntw')), ['one']);
  assert.deepEqual(lines.push(Buffer.concat([Buffer.from('o '), euro.subarray(0, 1)])), []);
  assert.deepEqual(lines.push(Buffer.concat([euro.subarray(1), Buffer.from('\n\nlast')])), ['two €', '']);
  assert.deepEqual(lines.end(), ['last']);
  assert.deepEqual(lines.end(), [], 'nothing twice');
  assert.deepEqual(new OutputLines().end(), [], 'no output, no line');
});
