// The client side of the control socket, shared by status, list-*, start/stop…, connections and
// logs: find the socket (--control-socket, $SOCKUNIT_CONTROL_SOCKET, the default path), send one
// request, read its reply; `follow` keeps reading streamed events.

import net from 'node:net';
import {
  CONTROL_PROTOCOL_VERSION,
  type ControlMethod,
  type ControlResponse,
  defaultControlSocketPath,
} from '../manager/control/protocol.js';
import { type PeerCredentials, peerCredentials } from '../manager/control/server.js';
import type { CommandIO } from './io.js';
import {
  type OptionSpecs,
  type ParsedCommandLine,
  parseCommandLine,
  UsageError,
  usageError,
} from './options.js';

/** A request that failed: refused by the manager (`code` from the reply) or never delivered
 * (`code` ENOENT, ECONNREFUSED, EACCES… from connect). */
export class ControlClientError extends Error {
  readonly code: string;
  constructor(code: string, message: string) {
    super(message);
    this.code = code;
    this.name = 'ControlClientError';
  }
}

export function controlSocketPath(flag: string | undefined, env: NodeJS.ProcessEnv = process.env): string {
  return flag ?? defaultControlSocketPath(env);
}

export interface CallOptions {
  units?: string[];
  follow?: boolean;
  /** Called with the result as soon as the reply arrives (before any event). */
  onResult?: (result: unknown) => void;
  /** Called with each streamed event after the reply (follow). */
  onEvent?: (event: unknown) => void;
  /** Give up waiting for the reply after this long (default 30 s; not applied to following). */
  timeoutMs?: number;
  signal?: AbortSignal;
}

function connectError(path: string, err: NodeJS.ErrnoException): ControlClientError {
  const code = err.code ?? 'EIO';
  const why =
    code === 'ENOENT' || code === 'ECONNREFUSED'
      ? 'is a manager running? start one with `sockunit run`, or pass --control-socket PATH / set SOCKUNIT_CONTROL_SOCKET'
      : code === 'EACCES' || code === 'EPERM'
        ? 'permission denied: only root and the user running the manager may use it'
        : err.message;
  return new ControlClientError(code, `cannot connect to the control socket ${path}: ${code}; ${why}`);
}

/** Who answers on the control socket: the manager's pid as the kernel saw it listen (SO_PEERCRED
 * of our end), without sending a request. The pid is 0 when the manager runs in a PID namespace
 * this process cannot see into. */
export function controlPeer(path: string, timeoutMs = 5000): Promise<PeerCredentials> {
  return new Promise((resolve, reject) => {
    const conn = net.createConnection({ path });
    const timer = setTimeout(() => {
      conn.destroy();
      reject(new ControlClientError('ETIMEDOUT', `no answer from the control socket ${path}`));
    }, timeoutMs);
    conn.once('connect', () => {
      clearTimeout(timer);
      const cred = peerCredentials(conn);
      conn.destroy();
      if (cred) resolve(cred);
      else reject(new ControlClientError('EIO', `cannot read who listens on ${path} (SO_PEERCRED)`));
    });
    conn.once('error', (err: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      reject(connectError(path, err));
    });
  });
}

/** Send one request and resolve with its result. With `follow`, resolves after the stream ends
 * (manager gone, or `signal` aborted). */
export function callControl(
  path: string,
  method: ControlMethod,
  options: CallOptions = {},
): Promise<unknown> {
  const id = 1;
  const request = {
    v: CONTROL_PROTOCOL_VERSION,
    id,
    method,
    ...(options.units ? { units: options.units } : {}),
    ...(options.follow ? { follow: true } : {}),
  };
  return new Promise((resolve, reject) => {
    const conn = net.createConnection({ path });
    let buffered = '';
    let replied = false;
    let result: unknown;
    let settled = false;
    const finish = (err: Error | undefined, value?: unknown) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      conn.destroy();
      if (err) reject(err);
      else resolve(value);
    };
    const timer = setTimeout(
      () => finish(new ControlClientError('ETIMEDOUT', `no reply from the manager on ${path} to ${method}`)),
      options.timeoutMs ?? 30_000,
    );
    options.signal?.addEventListener('abort', () => finish(undefined, result), { once: true });
    conn.setEncoding('utf8');
    conn.on('connect', () => conn.write(`${JSON.stringify(request)}\n`));
    conn.on('error', (err: NodeJS.ErrnoException) => {
      if (replied) finish(undefined, result);
      else finish(connectError(path, err));
    });
    conn.on('close', () => {
      if (replied) finish(undefined, result);
      else
        finish(
          new ControlClientError(
            'ECONNRESET',
            `the manager on ${path} closed the connection without a reply`,
          ),
        );
    });
    conn.on('data', (chunk: string) => {
      buffered += chunk;
      for (let nl = buffered.indexOf('\n'); nl >= 0; nl = buffered.indexOf('\n')) {
        const line = buffered.slice(0, nl);
        buffered = buffered.slice(nl + 1);
        let msg: ControlResponse | { id: number; event: unknown };
        try {
          msg = JSON.parse(line) as typeof msg;
        } catch {
          finish(new ControlClientError('EPROTO', `the manager on ${path} sent a line that is not JSON`));
          return;
        }
        if ('event' in msg) {
          options.onEvent?.(msg.event);
          continue;
        }
        if (!msg.ok) {
          finish(new ControlClientError(msg.error.code, msg.error.message));
          return;
        }
        replied = true;
        result = msg.result;
        options.onResult?.(result);
        if (!options.follow) {
          finish(undefined, result);
          return;
        }
        clearTimeout(timer);
      }
    });
  });
}

/** Left-aligned columns separated by two spaces, with an upper-case header, as systemctl prints. */
export function formatTable(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i] ?? 0)))
      .join('  ')
      .trimEnd();
  return [line(header), ...rows.map(line)].map((l) => `${l}\n`).join('');
}

/** Options every client command takes. */
export const CLIENT_OPTIONS = {
  'control-socket': { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

export const CLIENT_OPTIONS_HELP = `  --control-socket PATH  the manager's control socket (default: $SOCKUNIT_CONTROL_SOCKET, else
                         /run/sockunit/control.sock as root, $XDG_RUNTIME_DIR/sockunit/control.sock)
  --json                 print the manager's JSON records instead of a table
  -h, --help             show this help
`;

export interface ClientArgs {
  values: Record<string, string | boolean | string[] | undefined>;
  positionals: string[];
  /** The control socket path to use. */
  path: string;
  json: boolean;
}

/** Parse a client command's options, run `body`, and turn failures into a message and systemctl's
 * exit codes: 4 for an unknown unit, 2 for bad usage, 1 otherwise. */
export async function runClient(
  name: string,
  usage: string,
  argv: string[],
  io: CommandIO,
  extra: OptionSpecs,
  body: (args: ClientArgs) => Promise<number>,
): Promise<number> {
  let parsed: ParsedCommandLine;
  try {
    parsed = parseCommandLine(name, argv, { ...CLIENT_OPTIONS, ...extra });
  } catch (err) {
    if (err instanceof UsageError) return usageError(name, usage, err.message, io);
    throw err;
  }
  if (parsed.values.help === true) {
    io.stdout.write(usage);
    return 0;
  }
  const flag = parsed.values['control-socket'];
  const args: ClientArgs = {
    values: parsed.values,
    positionals: parsed.positionals,
    path: controlSocketPath(typeof flag === 'string' ? flag : undefined),
    json: parsed.values.json === true,
  };
  try {
    return await body(args);
  } catch (err) {
    const code = (err as { code?: string }).code;
    io.stderr.write(`sockunit ${name}: ${(err as Error).message}\n`);
    if (code === 'ENOUNIT') return 4;
    if (code === 'EBADREQUEST' || code === 'EUSAGE') return 2;
    return 1;
  }
}
