#!/usr/bin/env node
// The executable behind `sockunit`: run the command table with the real streams.
import { existsSync } from 'node:fs';
import { holdStartupSettings } from './v8-startup.js';

// Before the command's modules load: they are most of what a start allocates. `run` only, which
// gives V8 its defaults back once its listeners are open (v8-startup.ts); `proxy` and `activate`
// also run long, but their hot paths (the proxy's relay) work from the first connection on, and
// the other commands are short.
if (process.argv[2] === 'run') holdStartupSettings();

// The command table and each command's modules bundled (scripts/bundle.mjs, run by the build):
// Node 20 loads `run`'s graph as one file in about half the CPU of its ~150 separate modules.
// A build by tsc alone has no bundle, and runs the same modules as separate files.
const bundle = new URL('../bundle/main.js', import.meta.url);
const { main } = (await import(existsSync(bundle) ? bundle.href : './main.js')) as typeof import('./main.js');

main(process.argv.slice(2), { stdout: process.stdout, stderr: process.stderr }).then(
  (code) => {
    process.exitCode = code;
    // The command is done. What still holds the event loop is left over, not work: for `run`,
    // the output pipe or exit watch of a process a stop leaves running (KillMode=none or
    // process, SendSIGKILL=no), which systemd leaves running too. Exit without waiting for it;
    // unref'd, so a process that has nothing left exits at once, as before.
    setTimeout(() => process.exit(code), 100).unref();
  },
  (err: unknown) => {
    process.stderr.write(`sockunit: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exitCode = 1;
  },
);
