// Where sockunit used plain TCP instead of MPTCP, it says so: a 'fallback' event on the server or
// socket, and `fallbackReason()` for code that looks later.

import type { EventEmitter } from 'node:events';
import type { Availability } from './probe.js';

const fellBack = new WeakMap<object, Availability>();

/** Record that `target` (a net.Server or net.Socket) runs plain TCP, and emit 'fallback' with the
 * reason on the next tick so listeners attached right after creation see it. */
export function markFallback(target: EventEmitter, why: Availability): void {
  fellBack.set(target, why);
  process.nextTick(() => target.emit('fallback', why));
}

/** Why a server or socket that sockunit created runs plain TCP, or undefined when it asked the
 * kernel for MPTCP. (Whether the connection *ended up* running MPTCP is `runsMptcp()`'s answer.) */
export function fallbackReason(target: object): Availability | undefined {
  const why = fellBack.get(target);
  return why ? { ...why } : undefined;
}
