// The young generation of the sockunit process's V8 heap while it starts. Start-up is a burst of
// objects that live on (compiled modules, parsed units, sockets, state machines): scavenges find
// most of them alive, and V8 reads a high survival rate as a reason to double the semi-spaces,
// up to 16 MiB each. Nothing allocates like that after start, and V8 does not shrink them again:
// the manager kept 32 MiB of young generation it no longer used (RSS 101 MiB for 1,000 units,
// 74 MiB with `--max-semi-space-size=1`; bench/README.md, start-up). The semi-spaces' maximum is
// fixed when the heap is set up, so a flag cannot lower it from inside the process; the growth
// factor is read at each growth, so it can hold them at their initial size while starting.
// Released once the listeners are open, so that under load (a burst of Accept=yes connections)
// the heap grows exactly as before.

import { setFlagsFromString } from 'node:v8';

/** V8's own factor (`--semi-space-growth-factor`, 2 in Node 20's V8 11.3; 0 crashes V8). */
const V8_DEFAULT_GROWTH_FACTOR = 2;

/** From here on, the semi-spaces keep their size (1 MiB each unless Node was told otherwise). */
export function holdYoungGeneration(): void {
  setFlagsFromString('--semi-space-growth-factor=1');
}

/** V8's own growth again. */
export function releaseYoungGeneration(): void {
  setFlagsFromString(`--semi-space-growth-factor=${V8_DEFAULT_GROWTH_FACTOR}`);
}
