// Node's own modules that only some paths of the manager need, loaded on first use instead of
// at start. node:crypto (hashes for helper, plan and long cgroup names, INVOCATION_ID) is needed
// once a service starts; loaded at start it added ~1.3 MiB to the RSS of every `sockunit run`,
// whose target after start is 52 MiB (bench/README.md, start-up). node:worker_threads is needed
// by the accept thread, only where a unit has Accept=yes (~0.4 MiB). require() is synchronous, so
// no caller turns async; after the first call it is a cache lookup. (node:child_process is no
// candidate: Node's net loads it with cluster at the first listen().)

import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

export function crypto(): typeof import('node:crypto') {
  return require('node:crypto') as typeof import('node:crypto');
}

export function workerThreads(): typeof import('node:worker_threads') {
  return require('node:worker_threads') as typeof import('node:worker_threads');
}
