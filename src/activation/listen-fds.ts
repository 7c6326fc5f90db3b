// sd_listen_fds_with_names(3), the receiving half of socket activation, for Node.
//
// Differences from libsystemd, all deliberate (node-and-ecosystem.md §1.2, §1.11):
// - The answer is computed once per process and cached, errors included: a second module that
//   asks gets the same fds, instead of the empty list go-systemd gives once the environment is
//   unset (go-systemd #286, #384).
// - `LISTEN_FDS` naming more fds than were passed is an error, not a silent wrong answer
//   (go-systemd #405). In Node the numbers after the last passed fd belong to Node's own event
//   loop, so "is it open" is not enough; see `nodeOwnFd`.
// - Each fd comes with a description probed from the kernel (net/describe.ts), because the order
//   of fds from several socket units is not guaranteed (go-systemd #251).

import { readlinkSync } from 'node:fs';
import { describeSocket, type FdDescription } from '../net/describe.js';
import { pidfdInodeId } from '../sys/pidfd.js';
import { type Fd, isOpen, setCloseOnExec } from '../sys/socket.js';

/** The first passed fd (SD_LISTEN_FDS_START); the rest follow contiguously. */
export const LISTEN_FDS_START = 3;

/** The variables of the fd-passing contract, removed together when the environment is unset. */
export const LISTEN_ENVIRONMENT = ['LISTEN_PID', 'LISTEN_PIDFDID', 'LISTEN_FDS', 'LISTEN_FDNAMES'] as const;

/** One fd passed by the manager. */
export interface ListenFd {
  fd: Fd;
  /** From `LISTEN_FDNAMES` (`FileDescriptorName=`, `--fdname=`); `unknown` when none were given. */
  name: string;
  /** What the kernel says the fd is: family, type, protocol (`mptcp` included), listening,
   * local and peer address; or FIFO, special file, message queue. */
  description: FdDescription;
}

export interface ListenFdsOptions {
  /** Remove the LISTEN_* variables from `env` so child processes do not take our fds for theirs.
   * Default true: a child that inherits LISTEN_FDS but not the fds (they are close-on-exec now)
   * would otherwise fail or, worse, adopt unrelated fds. Removing them is safe because the
   * answer is cached. */
  unsetEnvironment?: boolean;
  /** Read (and unset) these variables instead of `process.env`. The answer is cached only for
   * `process.env`. */
  env?: NodeJS.ProcessEnv;
}

/** Why the passed fds could not be taken. `code` says which rule was broken. */
export class ListenFdsError extends Error {
  readonly code:
    | 'ERR_LISTEN_PID_INVALID'
    | 'ERR_LISTEN_FDS_INVALID'
    | 'ERR_LISTEN_FDS_MISSING'
    | 'ERR_LISTEN_FDNAMES';
  constructor(code: ListenFdsError['code'], message: string) {
    super(message);
    this.name = 'ListenFdsError';
    this.code = code;
  }
}

type Answer = { fds: readonly ListenFd[] } | { error: ListenFdsError };
let cached: Answer | undefined;

/**
 * The fds this process was activated with (systemd, `systemd-socket-activate`, `sockunit`),
 * in fd order, each with its name and a probed description.
 *
 * - No `LISTEN_PID`, or one that is not `process.pid`, or a `LISTEN_PIDFDID` that differs from
 *   our own pidfd's inode (checked only when our kernel can tell): `[]`, the fds are not ours.
 * - No `LISTEN_FDS`: `[]`.
 * - Throws `ListenFdsError` for a malformed `LISTEN_PID`/`LISTEN_PIDFDID`/`LISTEN_FDS` (not a
 *   positive decimal), for `LISTEN_FDS` naming fds that were not passed, and when
 *   `LISTEN_FDNAMES` has a different number of names than there are fds (as libsystemd does).
 *
 * The fds are marked close-on-exec. The result, or the error, is cached: every later call
 * returns the same array (or throws the same error), whatever the environment says by then.
 */
export function listenFds(options: ListenFdsOptions = {}): readonly ListenFd[] {
  const env = options.env ?? process.env;
  const useCache = env === process.env;
  let answer = useCache ? cached : undefined;
  if (!answer) {
    answer = compute(env);
    if (useCache) cached = answer;
  }
  if (options.unsetEnvironment ?? true) for (const name of LISTEN_ENVIRONMENT) delete env[name];
  if ('error' in answer) throw answer.error;
  return answer.fds;
}

/** Forget the cached answer. For tests and for programs that re-exec themselves in place. */
export function resetListenFdsCache(): void {
  cached = undefined;
}

function compute(env: NodeJS.ProcessEnv): Answer {
  try {
    return { fds: Object.freeze(readListenFds(env)) };
  } catch (err) {
    if (err instanceof ListenFdsError) return { error: err };
    throw err;
  }
}

const DECIMAL = /^[0-9]+$/;

function parsePositive(name: string, value: string, code: ListenFdsError['code']): number {
  const n = DECIMAL.test(value) ? Number(value) : Number.NaN;
  if (!Number.isSafeInteger(n) || n <= 0)
    throw new ListenFdsError(
      code,
      `${name}=${JSON.stringify(value)} is not a positive decimal number; the process that started this one set a malformed environment`,
    );
  return n;
}

const U64_MAX = 2n ** 64n - 1n;

// A 64-bit inode id: past Number's 2^53, so read as a BigInt, not through parsePositive.
function parsePidfdId(text: string): bigint {
  const id = DECIMAL.test(text) ? BigInt(text) : 0n;
  if (id <= 0n || id > U64_MAX)
    throw new ListenFdsError(
      'ERR_LISTEN_PID_INVALID',
      `LISTEN_PIDFDID=${JSON.stringify(text)} is not a positive 64-bit decimal number; the process that started this one set a malformed environment`,
    );
  return id;
}

function readListenFds(env: NodeJS.ProcessEnv): ListenFd[] {
  const pidText = env.LISTEN_PID;
  if (pidText === undefined) return [];
  if (parsePositive('LISTEN_PID', pidText, 'ERR_LISTEN_PID_INVALID') !== process.pid) return [];
  const pidfdText = env.LISTEN_PIDFDID;
  if (pidfdText !== undefined) {
    const id = parsePidfdId(pidfdText);
    const own = pidfdInodeId(process.pid);
    if (own !== undefined && own !== id) return [];
  }
  const countText = env.LISTEN_FDS;
  if (countText === undefined) return [];
  const count = parsePositive('LISTEN_FDS', countText, 'ERR_LISTEN_FDS_INVALID');
  const fds = Array.from({ length: count }, (_, i) => LISTEN_FDS_START + i);
  for (const fd of fds) checkPassed(fd, count);
  for (const fd of fds) setCloseOnExec(fd, true);
  const names = readNames(env.LISTEN_FDNAMES, count);
  return fds.map((fd, i) => ({ fd, name: names[i] ?? 'unknown', description: describeSocket(fd) }));
}

// libsystemd splits without coalescing separators ("a::b" is three names, one empty) and
// demands exactly one name per fd.
function readNames(text: string | undefined, count: number): string[] {
  if (text === undefined) return Array.from({ length: count }, () => 'unknown');
  const names = text.split(':');
  if (names.length !== count)
    throw new ListenFdsError(
      'ERR_LISTEN_FDNAMES',
      `LISTEN_FDNAMES=${JSON.stringify(text)} has ${names.length} name(s) for LISTEN_FDS=${count} fd(s); give one name per fd (FileDescriptorName=, --fdname=a:b)`,
    );
  return names;
}

function checkPassed(fd: Fd, count: number): void {
  const last = LISTEN_FDS_START + count - 1;
  const missing = (why: string) =>
    new ListenFdsError(
      'ERR_LISTEN_FDS_MISSING',
      `LISTEN_FDS=${count} names fds ${LISTEN_FDS_START}..${last}, but fd ${fd} ${why}; the process that started this one passed fewer fds than it announced`,
    );
  if (!isOpen(fd)) throw missing('is not open');
  const own = nodeOwnFd(fd);
  if (own) throw missing(`is Node's own ${own}, opened after the passed fds`);
}

// Node opens its event loop's epoll instance as its very first fd, so when fewer fds were passed
// than announced, the first number past them is this epoll fd. No manager passes an epoll fd.
function nodeOwnFd(fd: Fd): string | undefined {
  let target: string;
  try {
    target = readlinkSync(`/proc/self/fd/${fd}`);
  } catch {
    return undefined; // no /proc: fall back to trusting an open fd, as libsystemd does
  }
  return target === 'anon_inode:[eventpoll]' ? 'event loop (epoll)' : undefined;
}
