// PID 1's duty: processes whose parent died are re-parented to the init of their PID namespace,
// or to the nearest child subreaper, and stay zombies until it reaps them. When the manager is
// one of those, it reaps them as they come: on every SIGCHLD, until none is left, and on a slow
// tick in case /proc missed one. Its own children are left to their pidfd watchers, and the
// accept thread's spawns to it: their exit statuses are waited for (spawn.md trap 2).

import { mayInheritOrphans, reapOrphans } from '../sys/process.js';
import { acceptThreadMayOwn } from './accept/thread.js';
import type { Logger } from './log.js';

/** The backstop tick: /proc/PID/task/TID/children may miss a child that changes state while it
 * is read, and a SIGCHLD already handled will not come again for it. */
const TICK_MS = 1000;
/** Reaped per turn of the event loop; more wait for the next turn, which comes at once. */
const PER_TURN = 1024;

export interface OrphanReaper {
  stop(): void;
}

/**
 * Reap orphans while the manager runs, where orphans can reach it (PID 1 or a subreaper);
 * elsewhere nothing is started and nothing is spent. `ours(pid)` says whether the manager waits
 * for `pid` itself; it is asked at the moment of each decision.
 */
export function startOrphanReaper(log: Logger, ours: (pid: number) => boolean): OrphanReaper | undefined {
  if (!mayInheritOrphans()) return undefined;
  const owned = (pid: number) => ours(pid) || acceptThreadMayOwn(pid);
  let scheduled = false;
  let stopped = false;
  const pass = (): void => {
    scheduled = false;
    if (stopped) return;
    const reaped = reapOrphans(owned, PER_TURN);
    for (const exit of reaped) log.debug(`Reaped orphan ${exit.pid}.`);
    if (reaped.length >= PER_TURN) schedule();
  };
  // Signals that arrive together are one pass: each is a wake-up of its own otherwise.
  const schedule = (): void => {
    if (scheduled || stopped) return;
    scheduled = true;
    setImmediate(pass);
  };
  process.on('SIGCHLD', schedule);
  const tick = setInterval(schedule, TICK_MS);
  tick.unref();
  schedule(); // orphans that came before the handler
  return {
    stop() {
      stopped = true;
      clearInterval(tick);
      process.off('SIGCHLD', schedule);
    },
  };
}
