// sockunit as a service of another manager (systemd, podman --sdnotify=container, another
// sockunit): what it tells that manager over sd_notify — READY=1 once every listener is open (or
// the boot target is reached), STATUS= with a one-line summary, RELOADING=1 … READY=1 around a
// SIGHUP reload, STOPPING=1 at shutdown, WATCHDOG=1 while WATCHDOG_USEC asks for it.

import { type NotifyFields, notify } from '../../activation/notify.js';
import { startWatchdog, type WatchdogTimer } from '../../activation/watchdog.js';
import type { Logger } from '../log.js';
import type { Manager } from '../manager.js';
import { systemSummary } from '../system-state.js';

/** The variables an outer manager sets for sockunit itself. */
const OUTER_VARIABLES = ['NOTIFY_SOCKET', 'WATCHDOG_USEC', 'WATCHDOG_PID'] as const;

export class OuterManager {
  private readonly env: NodeJS.ProcessEnv;
  private readonly log: Logger;
  private watchdog: WatchdogTimer | undefined;
  /** Sending failed once (the outer manager is gone): said once, not at every message. */
  private failed = false;

  /** Takes NOTIFY_SOCKET, WATCHDOG_USEC and WATCHDOG_PID out of `env` (they are sockunit's, not
   * its services' to inherit: PassEnvironment= must not hand them on). */
  constructor(log: Logger, env: NodeJS.ProcessEnv = process.env) {
    this.log = log;
    this.env = {};
    for (const name of OUTER_VARIABLES) {
      if (env[name] !== undefined) this.env[name] = env[name];
      delete env[name];
    }
  }

  /** Whether an outer manager listens (NOTIFY_SOCKET was set). */
  get present(): boolean {
    return Boolean(this.env.NOTIFY_SOCKET);
  }

  /** Every listener is open (or the target is reached): READY=1 with the summary; from now on
   * WATCHDOG=1 every half WATCHDOG_USEC, when asked for. */
  ready(manager: Manager): void {
    this.send({ READY: true, STATUS: systemSummary(manager.systemReport()) });
    if (this.watchdog || !this.env.WATCHDOG_USEC) return;
    try {
      this.watchdog = startWatchdog({ env: this.env, onError: (err) => this.sendFailed(err) });
    } catch (err) {
      this.log.warning(`Not pinging the outer manager's watchdog: ${(err as Error).message}`);
    }
  }

  /** A SIGHUP reload begins: RELOADING=1 with the monotonic time (systemd 253+ needs it for
   * Type=notify-reload). */
  reloading(): void {
    const usec = process.hrtime.bigint() / 1000n;
    this.send({ RELOADING: true, MONOTONIC_USEC: usec, STATUS: 'Reloading.' });
  }

  /** The reload is over: READY=1 and the summary again. */
  reloaded(manager: Manager): void {
    this.send({ READY: true, STATUS: systemSummary(manager.systemReport()) });
  }

  /** Shutdown begins; the watchdog stops with it (a slow stop is TimeoutStopSec='s to judge). */
  stopping(): void {
    this.watchdog?.stop();
    this.watchdog = undefined;
    this.send({ STOPPING: true, STATUS: 'Stopping.' });
  }

  private send(fields: NotifyFields): void {
    if (!this.present) return;
    try {
      notify(fields, { env: this.env });
    } catch (err) {
      this.sendFailed(err);
    }
  }

  private sendFailed(err: unknown): void {
    if (this.failed) return;
    this.failed = true;
    this.log.warning(
      `Could not notify the manager that started sockunit (NOTIFY_SOCKET=${this.env.NOTIFY_SOCKET}): ${(err as Error).message}`,
    );
  }
}
