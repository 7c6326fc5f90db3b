// Errors shaped exactly like the ones Node's net module emits, so code that handles
// `net.connect`/`server.listen` errors handles ours unchanged.

import { getSystemErrorMap, getSystemErrorName } from 'node:util';

/** A Node-style network error (`code`, negative `errno`, `syscall`, `address`, `port`). */
export interface NetError extends Error {
  code: string;
  errno: number;
  syscall: string;
  address?: string;
  port?: number;
}

/** The error Node builds for a failed `listen`/`connect`/`bind` on host:port: message
 * `listen EADDRINUSE: address already in use 127.0.0.1:8080`. `errno` may be given positive or
 * negative (libuv style); the error carries the negative value as Node's do. */
export function netError(syscall: string, errno: number, address?: string, port?: number): NetError {
  const uv = -Math.abs(errno);
  const code = getSystemErrorName(uv);
  const description = getSystemErrorMap().get(uv)?.[1] ?? 'unknown error';
  let where = '';
  if (address !== undefined) where = port !== undefined && port > 0 ? ` ${address}:${port}` : ` ${address}`;
  const err = new Error(`${syscall} ${code}: ${description}${where}`) as NetError;
  err.code = code;
  err.errno = uv;
  err.syscall = syscall;
  if (address !== undefined) err.address = address;
  if (port !== undefined && port > 0) err.port = port;
  return err;
}

/** An error for a caller who asked for MPTCP only (`fallback: false`) where it is unavailable. */
export function mptcpUnavailableError(reason: string, errnoCode: string | undefined, action: string): Error {
  const err = new Error(
    `MPTCP is not available, so ${action} was refused: ${reason}. ` +
      'Enable it (sysctl -w net.mptcp.enabled=1) or drop `fallback: false` to accept plain TCP.',
  ) as Error & { code: string; reason: string; errnoCode?: string };
  err.code = 'ERR_MPTCP_UNAVAILABLE';
  err.reason = reason;
  if (errnoCode !== undefined) err.errnoCode = errnoCode;
  return err;
}
