// The npm package as `npm pack` would publish it (dry run, no scripts): the LICENSE its
// package.json declares, source maps whose sources are shipped, and README links that resolve
// inside the package.

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { test } from 'node:test';

const root = join(import.meta.dirname, '..', '..');

/** The paths `npm pack` would put in the tarball, relative to the package root. */
function packedFiles(): Set<string> {
  const out = execFileSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], {
    cwd: root,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'ignore'],
    timeout: 60_000,
  });
  const [pack] = JSON.parse(out) as { files: { path: string }[] }[];
  assert.ok(pack, out);
  return new Set(pack.files.map((f) => f.path));
}

test('the package ships LICENSE (MIT, as package.json says), its sources for the maps, and what the README links to', () => {
  assert.ok(existsSync(join(root, 'dist', 'index.js')), 'dist/ is built (npm test builds it first)');
  const files = packedFiles();

  const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { license: string };
  assert.equal(pkg.license, 'MIT');
  assert.ok(files.has('LICENSE'), 'LICENSE is packed');
  assert.match(readFileSync(join(root, 'LICENSE'), 'utf8'), /^MIT License\n/);

  // Every source map points at files that are in the package.
  const maps = [...files].filter((f) => f.endsWith('.js.map'));
  assert.ok(maps.length > 10, `source maps packed: ${maps.length}`);
  for (const map of maps) {
    const { sources } = JSON.parse(readFileSync(join(root, map), 'utf8')) as { sources: string[] };
    for (const source of sources) {
      const shipped = relative(root, resolve(root, dirname(map), source));
      assert.ok(files.has(shipped), `${map} points at ${shipped}, which is not in the package`);
    }
  }

  // Every relative link of the README resolves inside the package (a directory by its files).
  const readme = readFileSync(join(root, 'README.md'), 'utf8');
  const links = [...readme.matchAll(/\]\(([^)#\s]+)(?:#[^)]*)?\)/g)]
    .map((m) => m[1] as string)
    .filter((l) => !/^[a-z]+:/.test(l));
  assert.ok(links.length >= 4, `README links: ${links.join(', ')}`);
  for (const link of links) {
    const path = link.replace(/\/$/, '');
    assert.ok(
      files.has(path) || [...files].some((f) => f.startsWith(`${path}/`)),
      `README links to ${link}, which is not in the package`,
    );
  }
});
