// sd_notify(3): tell the manager about our state with one datagram of `VAR=value` lines to
// $NOTIFY_SOCKET. The manager identifies us by the credentials the kernel attaches on its own
// (the receiving socket has SO_PASSCRED), so nothing but the text and any fds is sent.

import { AF_UNIX, SOCK_DGRAM } from '../sys/constants.js';
import { sendMessage } from '../sys/msg.js';
import type { UnixAddr } from '../sys/sockaddr.js';
import { closeQuietly, type Fd, socket } from '../sys/socket.js';

/** Fields and values: `true` becomes `1`, `false` and `undefined` leave the field out. */
export type NotifyFields = Record<string, string | number | bigint | boolean | undefined>;

export interface NotifyOptions {
  /** Descriptors to pass with the message (SCM_RIGHTS), for `FDSTORE=1` and `MAINPIDFD=1`. */
  fds?: readonly Fd[];
  /** Remove NOTIFY_SOCKET from `env` after sending, so child processes cannot talk to the
   * manager in our name (systemd PR #27297). Default false: later notify() calls need it. */
  unsetEnvironment?: boolean;
  /** Read NOTIFY_SOCKET from here instead of `process.env`. */
  env?: NodeJS.ProcessEnv;
}

/** The largest datagram systemd reads (PIPE_BUF); it drops longer ones whole. */
export const NOTIFY_MAX_BYTES = 4096;

/** Where NOTIFY_SOCKET points: a unix socket path or `@abstract` name. */
export function notifyAddress(value: string): UnixAddr {
  if (value.startsWith('/') || (value.startsWith('@') && value.length > 1))
    return { family: 'unix', path: value };
  if (value.startsWith('vsock'))
    throw new Error(
      `NOTIFY_SOCKET=${value}: vsock notify sockets are not supported by sockunit yet; use a unix socket path or @name`,
    );
  throw new Error(
    `NOTIFY_SOCKET=${JSON.stringify(value)} is neither an absolute path nor an @abstract name; the manager set a malformed environment`,
  );
}

const FIELD_NAME = /^[A-Z][A-Z0-9_]*$/;

/** The datagram text for `state`: a string is sent as is; fields become `NAME=value` lines. */
export function formatNotifyMessage(state: NotifyFields | string): string {
  if (typeof state === 'string') return state;
  const lines: string[] = [];
  for (const [name, raw] of Object.entries(state)) {
    if (raw === undefined || raw === false) continue;
    if (!FIELD_NAME.test(name))
      throw new TypeError(
        `notify: field name ${JSON.stringify(name)} is not valid; systemd's fields are upper case (READY, STATUS, X_MINE)`,
      );
    const value = raw === true ? '1' : String(raw);
    if (value.includes('\n'))
      throw new TypeError(
        `notify: ${name}= contains a newline, which would start another field; send one line`,
      );
    lines.push(`${name}=${value}`);
  }
  return lines.join('\n');
}

/**
 * Send `state` to the manager. Returns false when there is no NOTIFY_SOCKET (not started by a
 * manager that listens, or a child it does not talk to): not an error, as in libsystemd.
 * Returns true once the kernel took the datagram.
 *
 * Throws a TypeError for a message systemd would drop (NUL byte, more than 4096 bytes, empty)
 * and a Node-shaped SystemError when sending fails (ENOENT, ECONNREFUSED: the manager is gone).
 */
export function notify(state: NotifyFields | string, options: NotifyOptions = {}): boolean {
  const env = options.env ?? process.env;
  const target = env.NOTIFY_SOCKET;
  if (options.unsetEnvironment) delete env.NOTIFY_SOCKET;
  if (target === undefined || target === '') return false;
  const message = Buffer.from(formatNotifyMessage(state), 'utf8');
  checkMessage(message);
  const address = notifyAddress(target);
  // Blocking, like libsystemd: a manager always drains its notify socket, and a READY=1 that
  // failed with EAGAIN would be worse than a short wait.
  const fd = socket(AF_UNIX, SOCK_DGRAM, 0);
  try {
    sendMessage(fd, message, { to: address, fds: options.fds ? [...options.fds] : [] });
  } finally {
    closeQuietly(fd);
  }
  return true;
}

function checkMessage(message: Buffer): void {
  if (message.length === 0) throw new TypeError('notify: the message is empty; send at least one field');
  if (message.includes(0))
    throw new TypeError('notify: the message contains a NUL byte, which systemd rejects');
  if (message.length > NOTIFY_MAX_BYTES)
    throw new TypeError(
      `notify: the message is ${message.length} bytes; systemd drops datagrams over ${NOTIFY_MAX_BYTES} bytes, shorten STATUS=`,
    );
}

/** CLOCK_MONOTONIC in microseconds. process.hrtime reads CLOCK_MONOTONIC on Linux (libuv's
 * uv_hrtime), the clock systemd compares MONOTONIC_USEC with; the tests check it. */
export function monotonicUsec(): bigint {
  return process.hrtime.bigint() / 1000n;
}

/** READY=1: start-up finished (Type=notify), or a reload finished. */
export function ready(status?: string): boolean {
  return notify({ READY: true, STATUS: status });
}

/** RELOADING=1 with MONOTONIC_USEC (required by Type=notify-reload); send ready() when done. */
export function reloading(status?: string): boolean {
  return notify({ RELOADING: true, MONOTONIC_USEC: monotonicUsec(), STATUS: status });
}

/** STOPPING=1: shutdown has begun. */
export function stopping(status?: string): boolean {
  return notify({ STOPPING: true, STATUS: status });
}

/** STATUS=: one line shown by `status`. */
export function status(text: string): boolean {
  return notify({ STATUS: text });
}

/** ERRNO=: why the service failed. Accepts Node's negative errno (err.errno) too. */
export function errno(value: number): boolean {
  return notify({ ERRNO: Math.abs(value) });
}

/** MAINPID=: another process is now the main process. */
export function mainPid(pid: number): boolean {
  return notify({ MAINPID: pid });
}

/** WATCHDOG=1: keep-alive ping (see watchdog.ts for the timer). */
export function watchdog(): boolean {
  return notify({ WATCHDOG: true });
}

/** WATCHDOG=trigger: ask the manager to act as if the watchdog had expired. */
export function watchdogTrigger(): boolean {
  return notify({ WATCHDOG: 'trigger' });
}

/** EXTEND_TIMEOUT_USEC=: give the current start, runtime or stop timeout `usec` more from now. */
export function extendTimeout(usec: number | bigint): boolean {
  return notify({ EXTEND_TIMEOUT_USEC: usec });
}

// FileDescriptorName= rules (fdname_is_valid): at most 255 printable ASCII characters, no ':'
// (the separator of LISTEN_FDNAMES). systemd silently drops fds with an invalid name.
const FD_NAME = /^[\x20-\x39\x3b-\x7e]{1,255}$/;

function checkFdName(name: string): void {
  if (!FD_NAME.test(name))
    throw new TypeError(
      `notify: FDNAME=${JSON.stringify(name)} is not valid; use 1-255 printable ASCII characters without ':'`,
    );
}

/** FDSTORE=1: keep `fds` in the manager's fd store under `name`; they come back in LISTEN_FDS on
 * the next start (needs FileDescriptorStoreMax= > 0). Ours stay open. */
export function fdStore(fds: readonly Fd[], name: string): boolean {
  if (fds.length === 0) throw new TypeError('fdStore: no fds given; pass at least one');
  checkFdName(name);
  return notify({ FDSTORE: true, FDNAME: name }, { fds });
}

/** FDSTOREREMOVE=1: drop the stored fds called `name`. */
export function fdStoreRemove(name: string): boolean {
  checkFdName(name);
  return notify({ FDSTOREREMOVE: true, FDNAME: name });
}
