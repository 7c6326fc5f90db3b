// Bundles the `sockunit` command into BUILD/bundle/, after tsc has compiled BUILD: the command
// table (cli/main.js) and each command's module graph (cli/run.js, cli/status.js, …), one file
// each. Why: Node 20's ES module loader pays per module (URL resolution, file open/stat/read on
// the thread pool, a compile and a link each), and `sockunit run` loads ~150 of sockunit's
// modules: importing its graph took ~120 ms of CPU as separate files and ~60 ms bundled
// (bench/README.md, start-up). Each command is built on its own, so that it is one file rather
// than a share of chunks common to several commands (27 files for `run` in one build with
// splitting); main.js still imports a command only when it is run, so `sockunit verify` does not
// load the manager. A command's own lazy imports (`--metrics`' module) stay lazy chunks. koffi (a
// native addon) and prom-client (loaded only with --metrics) stay packages. The library entry
// points (index.js, mptcp/, activation/) and the worker threads' files are not bundled: they keep
// tsc's output.
//
// Usage: node scripts/bundle.mjs BUILD   (BUILD: dist, or .test-build/src)

import { readFile } from 'node:fs/promises';
import { dirname, relative, resolve } from 'node:path';
import { build } from 'esbuild';

const root = resolve(process.argv[2] ?? 'dist');
const outdir = resolve(root, 'bundle');
const cliDir = resolve(root, 'cli');

/** Each module keeps its own `import.meta.url` (its file in BUILD, not the bundle's): the modules
 * find their neighbours by it — the worker threads' files, package.json. */
function ownImportMetaUrl(source, path) {
  const fromBundle = relative(outdir, path);
  return source.replaceAll('import.meta.url', `new URL(${JSON.stringify(fromBundle)}, import.meta.url).href`);
}

/** Non-ASCII characters (in comments, messages, a regular expression) as `\u` escapes, which
 * mean the same in strings, templates and regular expressions: one such character anywhere in a
 * file makes V8 hold the whole file's text as a two-byte string, and V8 keeps a module's text for
 * as long as its functions may be compiled (run's bundle: 1.3 MiB instead of 0.65). */
function asciiOnly(source) {
  return source.replace(/[^\x00-\x7f]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

const moduleText = {
  name: 'module-text',
  setup(b) {
    b.onLoad({ filter: /\.js$/ }, async (args) => ({
      contents: asciiOnly(ownImportMetaUrl(await readFile(args.path, 'utf8'), args.path)),
      loader: 'js',
    }));
  },
};

/** `import('./run.js')` in cli/ (main.js's command table; proxy.js's main.js) stays an import,
 * of the bundle of that name beside this one. */
const commandsApart = {
  name: 'commands-apart',
  setup(b) {
    b.onResolve({ filter: /^\.\/[\w-]+\.js$/ }, (args) =>
      args.kind === 'dynamic-import' && dirname(args.importer) === cliDir
        ? { path: args.path, external: true }
        : undefined,
    );
  },
};

const mainSource = await readFile(resolve(cliDir, 'main.js'), 'utf8');
const commands = [...new Set([...mainSource.matchAll(/import\('\.\/([\w-]+)\.js'\)/g)].map((m) => m[1]))];
for (const name of ['main', ...commands])
  await build({
    entryPoints: [resolve(cliDir, `${name}.js`)],
    outdir,
    bundle: true,
    splitting: true,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    external: ['koffi', 'prom-client'],
    sourcemap: true,
    logLevel: 'warning',
    plugins: [commandsApart, moduleText],
  });
