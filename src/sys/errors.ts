import { constants as osConstants } from 'node:os';
import { getSystemErrorName } from 'node:util';

/** Extra context a failing call can carry, as Node's own net errors do. */
export interface SystemErrorContext {
  address?: string;
  port?: number;
  path?: string;
  dest?: string;
  /** A sentence appended to the message: what the user can do about it. */
  hint?: string;
}

/**
 * An Error shaped like the ones Node's `net` and `fs` modules throw (`code`, `errno`, `syscall`,
 * `address`, `port`), so code written against Node's errors handles ours unchanged. `errno` is
 * negative, as in Node (libuv reports `-errno`).
 */
export interface SystemError extends Error {
  code: string;
  errno: number;
  syscall: string;
  address?: string;
  port?: number;
  path?: string;
  dest?: string;
}

const errnoByNumber = new Map<number, string>();
for (const [name, value] of Object.entries(osConstants.errno))
  if (!errnoByNumber.has(value)) errnoByNumber.set(value, name);

/** The symbolic name of a positive errno value (`98` -> `EADDRINUSE`). libuv's table, which
 * getSystemErrorName reads, lacks many Linux errnos (ECHILD, ENOEXEC, EL2HLT…): those come from
 * os.constants.errno. */
export function errnoName(errno: number): string {
  const abs = Math.abs(errno);
  try {
    const name = getSystemErrorName(-abs);
    if (!name.startsWith('Unknown')) return name;
  } catch {
    // not a libuv error number: fall through
  }
  return errnoByNumber.get(abs) ?? `Unknown system error ${errno}`;
}

/** Build a Node-shaped system error from a positive errno value. */
export function systemError(syscall: string, errno: number, context: SystemErrorContext = {}): SystemError {
  const code = errnoName(errno);
  let where = '';
  if (context.path !== undefined) where = ` ${context.path}`;
  else if (context.address !== undefined)
    where = context.port !== undefined ? ` ${context.address}:${context.port}` : ` ${context.address}`;
  const hint = context.hint ? ` (${context.hint})` : '';
  const err = new Error(`${syscall} ${code}${where}${hint}`) as SystemError;
  err.code = code;
  err.errno = -Math.abs(errno);
  err.syscall = syscall;
  if (context.address !== undefined) err.address = context.address;
  if (context.port !== undefined) err.port = context.port;
  if (context.path !== undefined) err.path = context.path;
  if (context.dest !== undefined) err.dest = context.dest;
  return err;
}

/** True when `err` is a system error with one of the given codes. */
export function hasCode(err: unknown, ...codes: string[]): err is SystemError {
  return typeof err === 'object' && err !== null && codes.includes((err as { code?: string }).code ?? '');
}
