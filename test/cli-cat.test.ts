import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

const BIN = fileURLToPath(new URL('../src/cli/bin.js', import.meta.url));
const FIXTURES = fileURLToPath(new URL('../../test/fixtures/units', import.meta.url));

function sockunit(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', timeout: 30_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('sockunit cat', () => {
  it('prints the fragment and its drop-ins, each headed by its path', () => {
    const r = sockunit('cat', '--unit-path', FIXTURES, 'web.socket');
    assert.equal(r.status, 0, r.stderr);
    const files = [
      'web.socket',
      'web.socket.d/10-tuning.conf',
      'web.socket.d/20-limits.conf',
      'socket.d/50-all-sockets.conf',
    ].map((f) => join(FIXTURES, f));
    assert.equal(r.stdout, files.map((f) => `# ${f}\n${readFileSync(f, 'utf8')}`).join('\n'));
  });

  it('takes a path, and says when nothing is found', () => {
    assert.equal(sockunit('cat', join(FIXTURES, 'echo.socket')).status, 0);
    // -p/--unit-path names directories that must exist: a typo is said, not searched in vain.
    const typo = sockunit('cat', '-p', '/nonexistent', join(FIXTURES, 'echo.socket'));
    assert.equal(typo.status, 2);
    assert.match(typo.stderr, /^sockunit cat: --unit-path \/nonexistent: the directory does not exist\n/);
    const r = sockunit('cat', '-p', FIXTURES, 'missing.socket');
    assert.equal(r.status, 1);
    assert.equal(r.stderr, `sockunit cat: no files found for missing.socket; searched ${FIXTURES}\n`);
  });
});
