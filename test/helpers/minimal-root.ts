// A minimal root directory for RootDirectory= tests: a few of the host's programs copied with the
// shared libraries ldd(1) names for them, at the same paths, and nothing else. No package is
// needed (ldd is in libc-bin, essential on Debian).

import { execFileSync } from 'node:child_process';
import {
  chmodSync,
  copyFileSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readlinkSync,
  realpathSync,
  symlinkSync,
} from 'node:fs';
import { basename, dirname, join } from 'node:path';

function librariesOf(program: string): string[] {
  const out = execFileSync('ldd', [program], { encoding: 'utf8' });
  const libs: string[] = [];
  for (const line of out.split('\n')) {
    // "libc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x…)" or "/lib64/ld-linux-x86-64.so.2 (0x…)"
    const m = /(?:=>\s*)?(\/\S+)\s+\(0x/.exec(line);
    if (m) libs.push(m[1] as string);
  }
  return libs;
}

/** Copied where it really is: /bin/sh is /usr/bin/sh on a merged-/usr system, whose /bin, /lib…
 * links the root gets too. */
function copyInto(root: string, path: string, mode: number): void {
  const real = realpathSync(path);
  // /bin/sh → /usr/bin/sh (the directory's link) → dash: a copy under both names.
  for (const name of new Set([real, join(realpathSync(dirname(path)), basename(path))])) {
    const target = join(root, name);
    mkdirSync(dirname(target), { recursive: true });
    copyFileSync(real, target);
    chmodSync(target, mode);
  }
}

function mergedUsrLinks(root: string): void {
  for (const top of ['bin', 'sbin', 'lib', 'lib64']) {
    try {
      if (lstatSync(`/${top}`).isSymbolicLink()) symlinkSync(readlinkSync(`/${top}`), join(root, top));
    } catch {}
  }
}

/** A new directory under `parent` holding `programs` (absolute host paths) and their libraries;
 * `dirs` are made empty inside it. */
export function makeMinimalRoot(
  parent: string,
  programs: readonly string[],
  dirs: readonly string[] = [],
): string {
  const root = mkdtempSync(join(parent, 'sockunit-root-'));
  chmodSync(root, 0o755);
  mergedUsrLinks(root);
  const libs = new Set<string>();
  for (const program of programs) {
    copyInto(root, program, 0o755);
    for (const lib of librariesOf(program)) libs.add(lib);
  }
  for (const lib of libs) copyInto(root, lib, 0o755);
  for (const dir of dirs) mkdirSync(join(root, dir), { recursive: true });
  return root;
}
