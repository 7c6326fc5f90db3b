// Bundles the `sockunit` command (cli/main.js and, through its on-demand imports, each command's
// module graph) into BUILD/bundle/, after tsc has compiled BUILD. Why: Node 20's ES module loader
// pays per module (URL resolution, file open/stat/read on the thread pool, a compile and a link
// each), and `sockunit run` loads ~150 of sockunit's modules: importing its graph took ~120 ms of
// CPU as separate files and ~60 ms as one bundle (bench/README.md, start-up). Every command stays
// a chunk of its own (esbuild's splitting keeps `import()` lazy), so `sockunit verify` still does
// not load the manager. koffi (a native addon) and prom-client (loaded only with --metrics) stay
// packages. The library entry points (index.js, mptcp/, activation/) and the worker threads'
// files are not bundled: they keep tsc's output.
//
// Usage: node scripts/bundle.mjs BUILD   (BUILD: dist, or .test-build/src)

import { relative, resolve } from 'node:path';
import { build } from 'esbuild';

const root = resolve(process.argv[2] ?? 'dist');
const outdir = resolve(root, 'bundle');

/** Each module keeps its own `import.meta.url` (its file in BUILD, not the bundle's): the modules
 * find their neighbours by it — the worker threads' files, package.json. */
const ownImportMetaUrl = {
  name: 'own-import-meta-url',
  setup(b) {
    b.onLoad({ filter: /\.js$/ }, async (args) => {
      const { readFile } = await import('node:fs/promises');
      const source = await readFile(args.path, 'utf8');
      if (!source.includes('import.meta.url')) return { contents: source, loader: 'js' };
      const fromBundle = relative(outdir, args.path);
      return {
        contents: source.replaceAll(
          'import.meta.url',
          `new URL(${JSON.stringify(fromBundle)}, import.meta.url).href`,
        ),
        loader: 'js',
      };
    });
  },
};

await build({
  entryPoints: [resolve(root, 'cli/main.js')],
  outdir,
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  external: ['koffi', 'prom-client'],
  sourcemap: true,
  logLevel: 'warning',
  plugins: [ownImportMetaUrl],
});
