// V8 settings of `sockunit run` while it starts, and V8's own once it listens: start-up is
// work V8's defaults handle badly, and a manager that ran it with them kept the cost afterwards.
//
// - The young generation. Start-up is a burst of objects that live on (compiled modules, parsed
//   units, sockets, state machines): scavenges find most of them alive, and V8 reads a high
//   survival rate as a reason to double the semi-spaces, up to 16 MiB each, which it does not
//   give back: the manager kept 27 MiB of young generation it no longer used (RSS 101 vs
//   74 MiB for 1,000 units). Their maximum is fixed when the heap is set up, so no flag lowers it
//   from inside the process; the growth factor is read at each growth, so it holds them at their
//   initial size.
// - TurboFan. Loading 1,000 units runs a few functions hot enough to be optimized, which costs
//   the compiler's CPU and pages in its ~4 MiB of machine code in the node binary, for a start
//   that ends before the optimized code pays back: without it, 784 vs 1074 ms of CPU and 65 vs
//   74 MiB for 1,000 units (one unit: no difference). Sparkplug, V8's baseline compiler, still
//   runs: without it the 1,000-unit start took ~110 ms more CPU for 0.4 MiB less.
//
// Both are released once run's listeners are open: under load (a burst of Accept=yes
// connections) the heap grows and hot code is optimized exactly as before.

import { setFlagsFromString } from 'node:v8';

/** V8's own factor (`--semi-space-growth-factor`, 2 in Node 20's V8 11.3; 0 crashes V8). */
const V8_DEFAULT_GROWTH_FACTOR = 2;

/** From here on, the semi-spaces keep their size (1 MiB each unless Node was told otherwise) and
 * nothing is optimized by TurboFan. */
export function holdStartupSettings(): void {
  setFlagsFromString('--semi-space-growth-factor=1');
  setFlagsFromString('--no-opt');
}

/** V8's own settings again. */
export function releaseStartupSettings(): void {
  setFlagsFromString(`--semi-space-growth-factor=${V8_DEFAULT_GROWTH_FACTOR}`);
  setFlagsFromString('--opt');
}
