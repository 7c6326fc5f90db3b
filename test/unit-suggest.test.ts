// "Did you mean …?": edit distance with swaps, and the names close enough to suggest.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SOCKET_TABLE } from '../src/unit/key-table.js';
import { closestNames, didYouMean, editDistance } from '../src/unit/suggest.js';

test('edit distance: insertions, deletions, replacements and a swap of neighbours cost one each', () => {
  assert.equal(editDistance('Accept', 'Accept'), 0);
  assert.equal(editDistance('Acept', 'Accept'), 1);
  assert.equal(editDistance('Acecpt', 'Accept'), 1, 'swap');
  assert.equal(editDistance('accept', 'Accept'), 1, 'case counts, as in systemd');
  assert.equal(editDistance('Backlogg', 'Backlog'), 1);
  assert.equal(editDistance('', 'abc'), 3);
});

test('the [Socket] keys one or two edits away, ties together, nothing for a word far from all', () => {
  const keys = [...(SOCKET_TABLE.index.get('Socket')?.keys() ?? [])];
  assert.deepEqual(closestNames('Acept', keys), ['Accept']);
  assert.deepEqual(closestNames('ListenStrem', keys), ['ListenStream']);
  assert.deepEqual(closestNames('NoSuchThingAtAll', keys), []);
  assert.deepEqual(
    closestNames('ab', ['ab', 'ac', 'xy']),
    ['ac'],
    'a short word: one edit at most, itself excluded',
  );
  assert.equal(didYouMean('--jsn', ['--json', '--help']), 'did you mean --json?');
  assert.equal(
    didYouMean('Typ', ['Type', 'Tap'], (k) => `${k}=`),
    'did you mean Type= or Tap=?',
  );
  assert.equal(didYouMean('zzzz', ['Type']), '');
});
