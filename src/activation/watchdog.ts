// sd_watchdog_enabled(3) and a keep-alive timer. With WatchdogSec= the manager passes
// WATCHDOG_USEC (the period) and WATCHDOG_PID (who must ping); a service that stops sending
// WATCHDOG=1 within the period is killed.

import { notify } from './notify.js';

export interface WatchdogOptions {
  /** Read the variables from here instead of `process.env`. */
  env?: NodeJS.ProcessEnv;
  /** Remove WATCHDOG_USEC and WATCHDOG_PID, so children do not think they are watched. */
  unsetEnvironment?: boolean;
}

const DECIMAL = /^[0-9]+$/;

function parsePositive(name: string, value: string): number {
  const n = DECIMAL.test(value) ? Number(value) : Number.NaN;
  if (!Number.isSafeInteger(n) || n <= 0)
    throw new Error(
      `${name}=${JSON.stringify(value)} is not a positive decimal number; the manager set a malformed environment`,
    );
  return n;
}

/**
 * The watchdog period in microseconds when the manager watches this process, else 0 (no
 * WATCHDOG_USEC, or WATCHDOG_PID names another process; WATCHDOG_PID is checked only when set).
 * Throws for a malformed value, as libsystemd returns -EINVAL.
 */
export function watchdogEnabled(options: WatchdogOptions = {}): number {
  const env = options.env ?? process.env;
  const usecText = env.WATCHDOG_USEC;
  const pidText = env.WATCHDOG_PID;
  if (options.unsetEnvironment) {
    delete env.WATCHDOG_USEC;
    delete env.WATCHDOG_PID;
  }
  if (usecText === undefined) return 0;
  const usec = parsePositive('WATCHDOG_USEC', usecText);
  if (pidText !== undefined && parsePositive('WATCHDOG_PID', pidText) !== process.pid) return 0;
  return usec;
}

export interface StartWatchdogOptions extends WatchdogOptions {
  /** Called when a ping cannot be sent. Default: process.emitWarning. */
  onError?: (err: unknown) => void;
}

export interface WatchdogTimer {
  /** The manager's period, in microseconds; pings go out every half of it. */
  intervalUsec: number;
  stop(): void;
}

/** Ping WATCHDOG=1 now and then every half period, on an unref'd timer (it never keeps the
 * process alive). Returns undefined when the manager does not watch this process. */
export function startWatchdog(options: StartWatchdogOptions = {}): WatchdogTimer | undefined {
  const intervalUsec = watchdogEnabled(options);
  if (intervalUsec === 0) return undefined;
  const env = options.env;
  const onError =
    options.onError ??
    ((err: unknown) =>
      process.emitWarning(`sockunit: watchdog ping failed: ${String(err)}`, 'WatchdogWarning'));
  const ping = () => {
    try {
      notify({ WATCHDOG: true }, env ? { env } : {});
    } catch (err) {
      onError(err);
    }
  };
  ping();
  const timer = setInterval(ping, Math.max(1, Math.floor(intervalUsec / 2000)));
  timer.unref();
  return { intervalUsec, stop: () => clearInterval(timer) };
}
