// Every TCP client of the process connects with MPTCP, without a change to the program
// (`SOCKUNIT_MPTCP_CONNECT=1 node --import sockunit/mptcp/register app.js`). Three doors lead
// Node's clients to a TCP socket, and each is taken over at the module object, where callers look
// them up when they connect:
// - `net.connect`/`net.createConnection`: used by programs, by http2 and by the global fetch
//   (undici) for http: origins;
// - `tls.connect` without a `socket`: https agents, http2 and fetch for https: origins get an
//   MPTCP socket under their TLS;
// - `http.Agent.prototype.createConnection`, which holds its own reference to Node's
//   createConnection: the default http agent and every agent made without a connector.
// Unix paths and sockets the caller brings go to Node untouched. Connections fall back to TCP only
// where socket() says the kernel has no MPTCP, never after a failed connect (connect.ts).

import http from 'node:http';
import { syncBuiltinESMExports } from 'node:module';
import net from 'node:net';
import tls from 'node:tls';
import { connect, type MptcpConnectOptions } from './connect.js';

type TlsConnect = (options: tls.ConnectionOptions, callback?: () => void) => tls.TLSSocket;

/** tls.connect's argument forms (options[, cb]), (port[, host][, options][, cb]),
 * (path[, options][, cb]), reduced to one options object as tls.js reduces them. */
function tlsArgs(args: unknown[]): [tls.ConnectionOptions, (() => void) | undefined] {
  const last = args[args.length - 1];
  const callback = typeof last === 'function' ? (last as () => void) : undefined;
  const rest = callback ? args.slice(0, -1) : args;
  const [first, second, third] = rest;
  let options: tls.ConnectionOptions & { path?: string };
  if (typeof first === 'object' && first !== null) options = { ...(first as tls.ConnectionOptions) };
  else if (typeof first === 'string' && !(Number(first) >= 0)) options = { path: first };
  else {
    options = { port: first as number };
    if (typeof second === 'string') options.host = second;
  }
  // A later options object adds the TLS settings (and wins over host/port given before it).
  const extra = [second, third].find((a) => typeof a === 'object' && a !== null);
  if (extra && extra !== first) Object.assign(options, extra);
  return [options, callback];
}

/** The net options of a TLS connection, for the MPTCP socket under it. */
function socketOptions(options: tls.ConnectionOptions): MptcpConnectOptions {
  const picked: MptcpConnectOptions = {
    port: Number(options.port ?? 443),
    host: options.host ?? 'localhost',
  };
  const o = options as net.TcpSocketConnectOpts;
  if (o.localAddress !== undefined) picked.localAddress = o.localAddress;
  if (o.localPort !== undefined) picked.localPort = o.localPort;
  if (o.family !== undefined) picked.family = o.family;
  if (o.hints !== undefined) picked.hints = o.hints;
  if (o.lookup !== undefined) picked.lookup = o.lookup;
  return picked;
}

let installed = false;

/** Make net.connect, tls.connect and the http agents connect with MPTCP. Idempotent. */
export function installConnectHook(): void {
  if (installed) return;
  installed = true;
  const mptcpConnect = connect as unknown as typeof net.connect;
  net.connect = mptcpConnect;
  net.createConnection = mptcpConnect;

  const nodeTlsConnect = tls.connect as unknown as TlsConnect;
  tls.connect = function mptcpTlsConnect(...args: unknown[]): tls.TLSSocket {
    const [options, callback] = tlsArgs(args);
    if (options.socket || (options as { path?: string }).path)
      return nodeTlsConnect.call(tls, options, callback);
    const { timeout, ...tlsOptions } = options as tls.ConnectionOptions & { timeout?: number };
    const socket = connect(socketOptions(options));
    const tlsSocket = nodeTlsConnect.call(tls, { ...tlsOptions, socket }, callback);
    // tls.connect arms the timeout only on sockets it makes itself.
    if (timeout) tlsSocket.setTimeout(timeout);
    return tlsSocket;
  } as typeof tls.connect;

  http.Agent.prototype.createConnection = function mptcpAgentConnection(options: http.ClientRequestArgs) {
    return connect(options as MptcpConnectOptions);
  } as unknown as typeof http.Agent.prototype.createConnection;

  // `import { connect } from 'node:net'` reads the ESM facade's copy: bring it up to date.
  syncBuiltinESMExports();
}
