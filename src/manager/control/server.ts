// The control socket of `sockunit run`: a unix stream socket (mode 0600 by default) speaking the
// JSON-lines protocol of control/protocol.ts. Every connection's peer is checked with
// SO_PEERCRED: only root and the manager's own user may read or steer it. A bad request gets an
// error reply and the connection stays usable; nothing a client sends can take the manager down.

import { chmodSync, lstatSync, mkdirSync, statSync, unlinkSync } from 'node:fs';
import net from 'node:net';
import { dirname } from 'node:path';
import { handleFd } from '../../mptcp/multipath.js';
import { SO_PEERCRED, SOL_SOCKET } from '../../sys/constants.js';
import { getsockopt } from '../../sys/socket.js';
import type { Logger, LogRecord } from '../log.js';
import type { Manager } from '../manager.js';
import { connectionCounts, unitConnections } from './connections.js';
import {
  CONTROL_PROTOCOL_VERSION,
  ControlError,
  type ControlRequest,
  type ControlResponse,
  errorResponse,
  MAX_REQUEST_BYTES,
  okResponse,
  parseControlRequest,
} from './protocol.js';
import { socketRows, unitNames, unitRows, unitStatus } from './snapshot.js';
import { controlUnit, daemonReload, resolveUnit } from './unit-control.js';
import { upstreamConnections } from './upstream.js';

/** How many log lines `status` shows per unit, as `systemctl status` shows 10. */
const STATUS_LOG_LINES = 10;

/** The longest shutdown waits for the control server to close: every client is destroyed first,
 * so this bounds only what cannot happen (a connection the server knows and we do not). */
const CLOSE_WAIT_MS = 2000;

/** How long a refused peer may take to read its refusal and hang up before it is cut off. */
const REFUSED_GRACE_MS = 1000;

export interface ControlServerOptions {
  path: string;
  manager: Manager;
  log: Logger;
  /** File mode of the socket node (default 0o600). Tests pass 0o666 so that a stranger's
   * connect() succeeds and the SO_PEERCRED check is what refuses it. */
  mode?: number;
}

export interface PeerCredentials {
  pid: number;
  uid: number;
  gid: number;
}

/** SO_PEERCRED of a connected unix socket: who is on the other end, as the kernel saw it at
 * connect() time. */
export function peerCredentials(socket: net.Socket): PeerCredentials | undefined {
  const fd = handleFd(socket);
  if (fd === undefined) return undefined;
  try {
    const b = getsockopt(fd, SOL_SOCKET, SO_PEERCRED, 12, 'SO_PEERCRED');
    return { pid: b.readInt32LE(0), uid: b.readUInt32LE(4), gid: b.readUInt32LE(8) };
  } catch {
    return undefined;
  }
}

/** Root and the manager's effective user: the two who could signal the manager anyway. */
export function mayControl(uid: number, ownUid = process.geteuid?.() ?? 0): boolean {
  return uid === 0 || uid === ownUid;
}

export class ControlServer {
  readonly path: string;
  private readonly server: net.Server;
  private readonly manager: Manager;
  private readonly log: Logger;
  private readonly clients = new Set<net.Socket>();

  private constructor(options: ControlServerOptions, server: net.Server) {
    this.path = options.path;
    this.server = server;
    this.manager = options.manager;
    this.log = options.log;
  }

  /** Create the socket (and its directory, 0700, when missing) and start serving. Refuses to
   * replace a socket another process still answers on; removes a stale one. */
  static async listen(options: ControlServerOptions): Promise<ControlServer> {
    const path = options.path;
    mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
    checkDirectory(dirname(path));
    await removeStale(path);
    const server = net.createServer({ allowHalfOpen: false });
    const control = new ControlServer(options, server);
    server.on('connection', (c) => control.accept(c));
    // bind() creates the node with the process umask: make it private from the first instant,
    // not only after the chmod below.
    const previous = process.umask(0o177);
    try {
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen({ path, backlog: 128 }, () => {
          server.off('error', reject);
          resolve();
        });
      });
    } catch (err) {
      throw new Error(
        `cannot listen on the control socket ${path}: ${(err as Error).message}; pass --control-socket PATH to use another path`,
      );
    } finally {
      process.umask(previous);
    }
    chmodSync(path, options.mode ?? 0o600);
    server.on('error', (err) => control.log.error(`control socket ${path}: ${err.message}`));
    return control;
  }

  get clientCount(): number {
    return this.clients.size;
  }

  private accept(conn: net.Socket): void {
    const cred = peerCredentials(conn);
    if (!cred || !mayControl(cred.uid)) {
      const who = cred ? `uid ${cred.uid} (pid ${cred.pid})` : 'a peer whose credentials cannot be read';
      this.log.warning(
        `Refused control connection from ${who}: only root and uid ${process.geteuid?.()} may control this manager.`,
      );
      this.refuse(conn, who);
      return;
    }
    this.clients.add(conn);
    let buffered = '';
    let queue = Promise.resolve();
    const cleanups: (() => void)[] = [];
    const send = (msg: ControlResponse | { v: number; id: number; event: unknown }) => {
      if (!conn.destroyed && conn.writable) conn.write(`${JSON.stringify(msg)}\n`);
    };
    conn.setEncoding('utf8');
    conn.on('data', (chunk: string) => {
      buffered += chunk;
      for (let nl = buffered.indexOf('\n'); nl >= 0; nl = buffered.indexOf('\n')) {
        const line = buffered.slice(0, nl);
        buffered = buffered.slice(nl + 1);
        if (line.trim() === '') continue;
        // One request at a time per connection, so replies come back in request order.
        queue = queue.then(() => this.handle(line, send, cleanups)).catch(() => {});
      }
      if (buffered.length > MAX_REQUEST_BYTES) {
        send(errorResponse(0, 'EBADREQUEST', `request longer than ${MAX_REQUEST_BYTES} bytes; closing`));
        conn.end();
        buffered = '';
      }
    });
    conn.on('error', () => {});
    conn.on('close', () => {
      this.clients.delete(conn);
      for (const c of cleanups) c();
    });
  }

  /** Answer a refused peer and close it, whatever it does. Its request is read and dropped
   * until it hangs up (closing on unread data would reset the connection and a client would see
   * EPIPE instead of the refusal), but never longer than REFUSED_GRACE_MS: a half-closed
   * connection that waits for a peer's end would hold server.close() at shutdown forever. */
  private refuse(conn: net.Socket, who: string): void {
    conn.on('error', () => {});
    this.clients.add(conn);
    const timer = setTimeout(() => conn.destroy(), REFUSED_GRACE_MS);
    timer.unref();
    conn.on('close', () => {
      clearTimeout(timer);
      this.clients.delete(conn);
    });
    conn.resume();
    conn.end(
      `${JSON.stringify(errorResponse(0, 'EPERM', `Access denied: ${who} may not control this manager; run as root or as uid ${process.geteuid?.()}.`))}\n`,
    );
  }

  private async handle(
    line: string,
    send: (msg: ControlResponse | { v: number; id: number; event: unknown }) => void,
    cleanups: (() => void)[],
  ): Promise<void> {
    let request: ControlRequest;
    try {
      request = parseControlRequest(line);
    } catch (err) {
      const id = idOf(line);
      send(errorResponse(id, (err as ControlError).code ?? 'EBADREQUEST', (err as Error).message));
      return;
    }
    try {
      const result = await this.dispatch(request);
      send(okResponse(request.id, result));
      if (request.method === 'logs' && request.follow) {
        const wanted = new Set((request.units ?? []).map((u) => logUnitName(this.manager, u)));
        cleanups.push(
          this.log.subscribe((record: LogRecord) => {
            if (record.unit !== undefined && wanted.has(record.unit))
              send({ v: CONTROL_PROTOCOL_VERSION, id: request.id, event: record });
          }),
        );
      }
    } catch (err) {
      if (err instanceof ControlError) send(errorResponse(request.id, err.code, err.message));
      else {
        this.log.error(`control: ${request.method} failed: ${(err as Error).message}`);
        send(errorResponse(request.id, 'EFAILED', `${request.method} failed: ${(err as Error).message}`));
      }
    }
  }

  private async dispatch(request: ControlRequest): Promise<unknown> {
    const m = this.manager;
    const units = request.units ?? [];
    switch (request.method) {
      case 'status': {
        const names = units.length > 0 ? units.map((u) => resolveUnitName(m, u)) : unitNames(m);
        return names.map((n) => {
          const status = unitStatus(m, n, recentLines(this.log, n));
          if (!status)
            throw new ControlError(
              'ENOUNIT',
              `Unit ${n} could not be found ('sockunit list-units' lists the units of this manager).`,
            );
          // The live connections, counted as `connections` counts them (read from the kernel
          // here: snapshot.ts opens nothing).
          const socket = status.kind === 'socket' ? m.sockets.get(n) : undefined;
          if (status.kind === 'socket' && socket) {
            const counted = connectionCounts(unitConnections(socket));
            if (counted) status.connections = counted;
          }
          return status;
        });
      }
      case 'list-sockets':
        return socketRows(m);
      case 'list-units':
        return unitRows(m);
      case 'start':
      case 'stop':
      case 'restart':
      case 'reload': {
        const out = [];
        for (const u of units) out.push(await controlUnit(m, request.method, u));
        return out;
      }
      case 'daemon-reload':
        return daemonReload(m);
      case 'connections':
        return units.map((u) => {
          // `connections NAME` means NAME.socket: only socket units have ports.
          const r = resolveUnit(m, u.includes('.') ? u : `${u}.socket`);
          if (r.kind !== 'socket')
            throw new ControlError(
              'EBADREQUEST',
              `${r.unit.name} is not a socket unit; connections lists a socket unit's ports`,
            );
          // With the connections its service opened itself: a proxy's other side (upstream.ts).
          return { ...unitConnections(r.unit), upstream: upstreamConnections(m, r.unit) };
        });
      case 'is-system-running':
        return m.systemReport();
      case 'logs':
        return units.map((u) => {
          const name = logUnitName(m, u);
          return { unit: name, records: [...this.log.recentFor(name)] };
        });
    }
  }

  /** Stop accepting, drop every client (a `logs -f` would otherwise hold the manager open),
   * remove the socket file. Never waits on a client: after CLOSE_WAIT_MS the shutdown goes on
   * and says what it left. */
  async close(): Promise<void> {
    const closed = new Promise<boolean>((resolve) => this.server.close(() => resolve(true)));
    for (const c of this.clients) c.destroy();
    let timer: NodeJS.Timeout | undefined;
    const gaveUp = new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(false), CLOSE_WAIT_MS);
    });
    const done = await Promise.race([closed, gaveUp]);
    clearTimeout(timer);
    if (!done)
      this.log.warning(
        `Control socket ${this.path}: connections still open after ${CLOSE_WAIT_MS} ms; stopping without waiting for them.`,
      );
    try {
      unlinkSync(this.path);
    } catch {}
  }
}

/** The last lines `status` shows: state-change debug records are left to `logs`. */
function recentLines(log: Logger, unit: string): LogRecord[] {
  return log
    .recentFor(unit)
    .filter((r) => r.level !== 'debug')
    .slice(-STATUS_LOG_LINES);
}

/** A known unit's full name; a name the manager does not know is returned as given (logs of a
 * unit that has gone are still kept). */
function resolveUnitName(manager: Manager, name: string): string {
  try {
    return resolveUnit(manager, name).unit.name;
  } catch (err) {
    if (manager.broken.has(name)) return name;
    throw err;
  }
}

/** Logs outlive units (a finished Accept=yes instance, a unit removed by a reload): any name
 * is accepted, completed with `.service` as systemctl does. */
function logUnitName(manager: Manager, name: string): string {
  try {
    return resolveUnit(manager, name).unit.name;
  } catch {
    return name.includes('.') ? name : `${name}.service`;
  }
}

function idOf(line: string): number {
  try {
    const v = JSON.parse(line) as { id?: unknown };
    return typeof v.id === 'number' && Number.isSafeInteger(v.id) ? v.id : 0;
  } catch {
    return 0;
  }
}

/** Whoever can write the directory can swap the socket for their own and read what clients send
 * (e.g. a pre-created /tmp/sockunit-UID): refuse a directory another user owns or may write. */
function checkDirectory(dir: string): void {
  const st = statSync(dir);
  const me = process.geteuid?.() ?? 0;
  const sticky = (st.mode & 0o1000) !== 0;
  if ((st.uid !== me && st.uid !== 0) || ((st.mode & 0o022) !== 0 && !sticky))
    throw new Error(
      `the control socket's directory ${dir} is owned by uid ${st.uid} with mode ${(st.mode & 0o7777).toString(8)}: another user could replace the socket; use a directory only you (or root) can write, via --control-socket PATH`,
    );
}

async function removeStale(path: string): Promise<void> {
  let isSocket: boolean;
  try {
    isSocket = lstatSync(path).isSocket();
  } catch {
    return;
  }
  if (!isSocket)
    throw new Error(
      `control socket path ${path} exists and is not a socket; remove it or pass --control-socket PATH`,
    );
  const alive = await new Promise<boolean>((resolve) => {
    const probe = net.createConnection({ path });
    probe.once('connect', () => {
      probe.destroy();
      resolve(true);
    });
    probe.once('error', () => resolve(false));
  });
  if (alive)
    throw new Error(
      `another process answers on the control socket ${path} (a running sockunit?); stop it or pass --control-socket PATH`,
    );
  unlinkSync(path);
}
