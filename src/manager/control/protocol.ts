// The control socket's wire format: JSON lines, one request per line, one reply per request
// (matched by `id`), versioned so an old client talking to a newer manager gets a clear error
// instead of a misread. `logs` with `follow` keeps the connection and streams `event` lines.

import { join } from 'node:path';

export const CONTROL_PROTOCOL_VERSION = 1;
/** A request line longer than this is refused: nothing the CLI sends comes close. */
export const MAX_REQUEST_BYTES = 64 * 1024;

export const CONTROL_METHODS = [
  'status',
  'list-sockets',
  'list-units',
  'start',
  'stop',
  'restart',
  'reload',
  'daemon-reload',
  'connections',
  'logs',
  'is-system-running',
] as const;
export type ControlMethod = (typeof CONTROL_METHODS)[number];

export interface ControlRequest {
  v: number;
  id: number;
  method: ControlMethod;
  /** Unit names the method applies to (status, start/stop/restart/reload, connections, logs). */
  units?: string[];
  /** logs: keep streaming new records after the recent ones. */
  follow?: boolean;
}

export interface ControlErrorBody {
  /** A stable, machine-readable reason: EPERM, EBADREQUEST, ENOUNIT, ENOTAPPLICABLE, EREFUSED
   * (RefuseManualStart=/Stop=), EFAILED. */
  code: string;
  message: string;
}

export type ControlResponse =
  | { v: number; id: number; ok: true; result: unknown }
  | { v: number; id: number; ok: false; error: ControlErrorBody };

/** A streamed record after the reply (logs -f). */
export interface ControlEvent {
  v: number;
  id: number;
  event: unknown;
}

export class ControlError extends Error {
  readonly code: string;
  constructor(code: string, message: string) {
    super(message);
    this.code = code;
    this.name = 'ControlError';
  }
}

const UNIT_METHODS: ReadonlySet<ControlMethod> = new Set([
  'start',
  'stop',
  'restart',
  'reload',
  'connections',
  'logs',
]);

/** Parse and check one request line; throws ControlError('EBADREQUEST') saying what is wrong. */
export function parseControlRequest(line: string): ControlRequest {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch (err) {
    throw new ControlError(
      'EBADREQUEST',
      `request is not JSON (${(err as Error).message}); send one JSON object a line`,
    );
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw new ControlError(
      'EBADREQUEST',
      'request must be a JSON object like {"v":1,"id":1,"method":"status"}',
    );
  const r = value as Record<string, unknown>;
  if (r.v !== CONTROL_PROTOCOL_VERSION)
    throw new ControlError(
      'EBADREQUEST',
      `protocol version ${JSON.stringify(r.v)} is not supported; this manager speaks v${CONTROL_PROTOCOL_VERSION} (use a matching sockunit client)`,
    );
  if (typeof r.id !== 'number' || !Number.isSafeInteger(r.id))
    throw new ControlError('EBADREQUEST', '"id" must be an integer that the reply echoes');
  if (typeof r.method !== 'string' || !(CONTROL_METHODS as readonly string[]).includes(r.method))
    throw new ControlError(
      'EBADREQUEST',
      `unknown method ${JSON.stringify(r.method)}; expected one of ${CONTROL_METHODS.join(', ')}`,
    );
  const method = r.method as ControlMethod;
  const request: ControlRequest = { v: CONTROL_PROTOCOL_VERSION, id: r.id, method };
  if (r.units !== undefined) {
    if (
      !Array.isArray(r.units) ||
      !r.units.every((u) => typeof u === 'string' && u.length > 0 && u.length < 256)
    )
      throw new ControlError('EBADREQUEST', '"units" must be an array of unit names');
    request.units = r.units as string[];
  }
  if (UNIT_METHODS.has(method) && (request.units ?? []).length === 0)
    throw new ControlError('EBADREQUEST', `${method} needs at least one unit name in "units"`);
  if (r.follow !== undefined) {
    if (typeof r.follow !== 'boolean')
      throw new ControlError('EBADREQUEST', '"follow" must be true or false');
    request.follow = r.follow;
  }
  return request;
}

export function errorResponse(id: number, code: string, message: string): ControlResponse {
  return { v: CONTROL_PROTOCOL_VERSION, id, ok: false, error: { code, message } };
}

export function okResponse(id: number, result: unknown): ControlResponse {
  return { v: CONTROL_PROTOCOL_VERSION, id, ok: true, result };
}

/**
 * Where the manager listens and clients connect unless told otherwise: `$SOCKUNIT_CONTROL_SOCKET`;
 * else `/run/sockunit/control.sock` for root; else `$XDG_RUNTIME_DIR/sockunit/control.sock`;
 * else `/tmp/sockunit-UID/control.sock`.
 */
export function defaultControlSocketPath(
  env: NodeJS.ProcessEnv = process.env,
  uid = process.geteuid?.() ?? 0,
): string {
  const fromEnv = env.SOCKUNIT_CONTROL_SOCKET;
  if (fromEnv) return fromEnv;
  if (uid === 0) return '/run/sockunit/control.sock';
  if (env.XDG_RUNTIME_DIR) return join(env.XDG_RUNTIME_DIR, 'sockunit', 'control.sock');
  return `/tmp/sockunit-${uid}/control.sock`;
}
