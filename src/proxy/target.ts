// The TARGET argument of `sockunit proxy`, read as systemd-socket-proxyd reads it: a path that
// starts with `/` (or `@`, the abstract namespace) is a unix socket; anything else is HOST:PORT,
// split at the last `:`, the port 80 when there is no `:`. An IP literal is parsed once here; a
// host name is resolved for each connection (systemd-socket-proxyd does the same), so a changed
// DNS answer reaches new connections without a restart.

import { ipFamily, type SockAddr, UNIX_PATH_MAX } from '../sys/sockaddr.js';

export type ProxyTarget =
  | { kind: 'unix'; path: string }
  | { kind: 'ip'; host: string; port: number; family: 'inet' | 'inet6' }
  | { kind: 'host'; host: string; port: number };

export class TargetError extends Error {
  override name = 'TargetError';
}

/** systemd-socket-proxyd's default when TARGET has no `:PORT`. */
const DEFAULT_PORT = 80;

export function parseTarget(text: string): ProxyTarget {
  if (text === '')
    throw new TargetError('the target is empty; expected HOST:PORT or the path of a unix socket');
  if (text.startsWith('/') || text.startsWith('@')) {
    const bytes = Buffer.byteLength(text.startsWith('@') ? text.slice(1) : text);
    if (bytes > UNIX_PATH_MAX - 1)
      throw new TargetError(
        `the unix socket path '${text}' is ${bytes} bytes; at most ${UNIX_PATH_MAX - 1} fit in a socket address`,
      );
    return { kind: 'unix', path: text };
  }
  const bracketed = /^\[([^\]]+)\](?::([^:]*))?$/.exec(text);
  const colon = text.lastIndexOf(':');
  const host = bracketed ? (bracketed[1] as string) : colon < 0 ? text : text.slice(0, colon);
  const portText = bracketed ? bracketed[2] : colon < 0 ? undefined : text.slice(colon + 1);
  const port = portText === undefined ? DEFAULT_PORT : Number(portText);
  if (portText !== undefined && (!/^\d+$/.test(portText) || port < 1 || port > 65535))
    throw new TargetError(
      `'${text}': '${portText}' is not a port; expected HOST:PORT with a port number from 1 to 65535 (e.g. 127.0.0.1:8080)`,
    );
  if (host === '')
    throw new TargetError(`'${text}': the host is missing; expected HOST:PORT (e.g. 127.0.0.1:8080)`);
  const family = ipFamily(host);
  return family ? { kind: 'ip', host, port, family } : { kind: 'host', host, port };
}

/** The address to connect to, when it needs no name lookup. */
export function fixedAddress(target: ProxyTarget): SockAddr | undefined {
  if (target.kind === 'unix') return { family: 'unix', path: target.path };
  if (target.kind === 'ip') return { family: target.family, address: target.host, port: target.port };
  return undefined;
}

/** As the user wrote it, for messages: `127.0.0.1:8080`, `[::1]:8080`, `/run/app.sock`. */
export function formatTarget(target: ProxyTarget): string {
  if (target.kind === 'unix') return target.path;
  return target.host.includes(':') ? `[${target.host}]:${target.port}` : `${target.host}:${target.port}`;
}
