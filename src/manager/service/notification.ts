// One sd_notify message as a service unit acts on it: the fields systemd's
// service_notify_message() reads, taken once into a typed record (so the state machine reads
// facts, not strings), and what FDSTORE=1 does with the fds that came with the message.

import { closeQuietly, type Fd } from '../../sys/socket.js';
import type { Logger } from '../log.js';
import { type FdStore, isValidFdName } from './fd-store.js';
import { parseUsec } from './notify-rules.js';

export interface Notification {
  /** MAINPID= as sent; the unit checks it (and logs a refusal in systemd's words). */
  mainPid?: string;
  ready: boolean;
  reloading: boolean;
  stopping: boolean;
  /** STATUS=: the new status text; '' clears it. */
  status?: string;
  /** ERRNO=, when it is a number. */
  errno?: number;
  /** EXTEND_TIMEOUT_USEC=, when positive. */
  extendTimeoutUsec?: number;
  /** WATCHDOG=1 pings; WATCHDOG=trigger fires the watchdog now. */
  watchdog?: 'ping' | 'trigger';
  /** WATCHDOG_USEC=: a new watchdog period, when positive. */
  watchdogUsec?: number;
  /** FDSTORE=1: keep the fds that came with the message. */
  fdStore: boolean;
  /** FDSTOREREMOVE=1: drop the stored fds named `fdName`. */
  fdStoreRemove: boolean;
  fdName?: string;
}

/** The fields of a parsed message (notify-socket.ts) as a Notification. */
export function readNotification(fields: ReadonlyMap<string, string>): Notification {
  const n: Notification = {
    ready: fields.get('READY') === '1',
    reloading: fields.get('RELOADING') === '1',
    stopping: fields.get('STOPPING') === '1',
    fdStore: fields.get('FDSTORE') === '1',
    fdStoreRemove: fields.get('FDSTOREREMOVE') === '1',
  };
  const mainPid = fields.get('MAINPID');
  if (mainPid !== undefined) n.mainPid = mainPid;
  const status = fields.get('STATUS');
  if (status !== undefined) n.status = status;
  const errno = fields.get('ERRNO');
  if (errno !== undefined && /^[0-9]{1,9}$/.test(errno)) n.errno = Number(errno);
  const extend = parseUsec(fields.get('EXTEND_TIMEOUT_USEC'));
  if (extend !== undefined) n.extendTimeoutUsec = extend;
  const watchdog = fields.get('WATCHDOG');
  if (watchdog === '1') n.watchdog = 'ping';
  else if (watchdog === 'trigger') n.watchdog = 'trigger';
  const period = parseUsec(fields.get('WATCHDOG_USEC'));
  if (period !== undefined) n.watchdogUsec = period;
  const fdName = fields.get('FDNAME');
  if (fdName !== undefined) n.fdName = fdName;
  return n;
}

/** MAINPID='s value as a pid the manager may follow, or undefined (not a number, 0 or 1). */
export function parseMainPid(text: string): number | undefined {
  const pid = /^[0-9]{1,10}$/.test(text) ? Number(text) : Number.NaN;
  return Number.isSafeInteger(pid) && pid > 1 ? pid : undefined;
}

/** FDSTORE=1 and FDSTOREREMOVE=1 for `unit`: stores the message's fds (or closes them, with the
 * reason), removes named ones, and closes fds that came without FDSTORE=1. Takes every fd. */
export function applyFdStore(n: Notification, fds: Fd[], store: FdStore, log: Logger, unit: string): void {
  if (n.fdStore) {
    const name = fdStoreName(n.fdName, log, unit);
    if (fds.length > 0) storeFds(fds.splice(0), name, store, log, unit);
  }
  if (n.fdStoreRemove) {
    if (n.fdName === undefined)
      log.warning(`${unit}: FDSTOREREMOVE=1 without FDNAME=; nothing removed.`, unit);
    else log.debug(`${unit}: Removed ${store.remove(n.fdName)} stored fd(s) named ${n.fdName}.`, unit);
  }
  if (fds.length > 0) {
    log.warning(`${unit}: Got ${fds.length} fd(s) without FDSTORE=1; closing them.`, unit);
    for (const fd of fds) closeQuietly(fd);
  }
}

/** FDNAME= for FDSTORE=1: an invalid name is ignored with a warning and the fds are stored under
 * the default name, as systemd does (FDNAME= is optional when storing). */
function fdStoreName(requested: string | undefined, log: Logger, unit: string): string {
  if (requested === undefined) return 'stored';
  if (isValidFdName(requested)) return requested;
  log.warning(`${unit}: FDNAME=${JSON.stringify(requested)} is not a valid fd name; using "stored".`, unit);
  return 'stored';
}

function storeFds(fds: Fd[], name: string, store: FdStore, log: Logger, unit: string): void {
  for (const fd of fds) {
    const outcome = store.add(fd, name);
    if (outcome === 'stored') log.debug(`${unit}: Stored fd ${fd} as ${name}.`, unit);
    else if (outcome === 'disabled')
      log.warning(
        `${unit}: FDSTORE=1 but FileDescriptorStoreMax=0; fd closed. Set FileDescriptorStoreMax= to keep fds.`,
        unit,
      );
    else if (outcome === 'full')
      log.warning(`${unit}: fd store full (FileDescriptorStoreMax=${store.max}); fd closed.`, unit);
  }
}
