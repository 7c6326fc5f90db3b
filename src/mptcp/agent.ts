// HTTP clients over MPTCP: an http.Agent and an https.Agent whose connections are MPTCP sockets
// from connect.ts, and a connector with undici's `connect(options, callback)` signature so
// undici's Agent/Client (and thus fetch) can use MPTCP.

import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import type { Duplex } from 'node:stream';
import tls from 'node:tls';
import { connect, type MptcpConnectOptions } from './connect.js';

type ConnectionCallback = (err: Error | null, socket?: net.Socket) => void;

/** The options http.Agent passes to createConnection: net/tls options plus a few agent fields. */
type AgentConnectOptions = MptcpConnectOptions & tls.ConnectionOptions & { _agentKey?: string };

function mptcpSocket(options: AgentConnectOptions, fallback: boolean | undefined): net.Socket {
  const { fallback: _f, ...rest } = options;
  return connect({ ...rest, fallback: fallback ?? options.fallback ?? true } as MptcpConnectOptions);
}

/** `http.Agent` whose connections are MPTCP (plain TCP with a 'fallback' event where the kernel
 * has none, unless `fallback: false`). Keep-alive, maxSockets etc. are Node's. */
export class Agent extends http.Agent {
  readonly fallback: boolean | undefined;

  constructor(options: http.AgentOptions & { fallback?: boolean } = {}) {
    const { fallback, ...agentOptions } = options;
    super(agentOptions);
    this.fallback = fallback;
  }

  override createConnection(
    options: http.ClientRequestArgs,
    _callback?: (err: Error | null, stream: Duplex) => void,
  ): net.Socket {
    return mptcpSocket(options as AgentConnectOptions, this.fallback);
  }
}

/** `https.Agent` over MPTCP: TLS runs on top of the MPTCP socket. */
export class HttpsAgent extends https.Agent {
  readonly fallback: boolean | undefined;

  constructor(options: https.AgentOptions & { fallback?: boolean } = {}) {
    const { fallback, ...agentOptions } = options;
    super(agentOptions);
    this.fallback = fallback;
  }

  override createConnection(
    options: https.RequestOptions,
    _callback?: (err: Error | null, stream: Duplex) => void,
  ): net.Socket {
    const socket = mptcpSocket(options as AgentConnectOptions, this.fallback);
    return tls.connect({ ...(options as tls.ConnectionOptions), socket });
  }
}

/** The options undici passes to its `connect` function. */
export interface UndiciConnectOptions {
  hostname: string;
  host?: string;
  protocol: string;
  port: string | number;
  servername?: string | null;
  localAddress?: string | null;
  httpSocket?: net.Socket;
}

/** Settings of `undiciConnector`: TLS options for https origins, connect timeout, fallback. */
export interface UndiciConnectorOptions extends tls.ConnectionOptions {
  /** Milliseconds until an unestablished connection is abandoned (undici's default: 10 s). */
  timeout?: number;
  fallback?: boolean;
}

export type UndiciConnector = (options: UndiciConnectOptions, callback: ConnectionCallback) => net.Socket;

/** A function for undici's `connect` option (`new undici.Agent({ connect: undiciConnector() })`):
 * opens an MPTCP socket (TLS on top for https) and calls back once it is connected. undici is
 * not a dependency of sockunit: the caller installs it (`npm install undici`) and passes the
 * Agent as `fetch`'s `dispatcher`. */
export function undiciConnector(settings: UndiciConnectorOptions = {}): UndiciConnector {
  const { timeout = 10_000, fallback, ...tlsOptions } = settings;
  return (options, callback) => {
    const secure = options.protocol === 'https:';
    const port = Number(options.port) || (secure ? 443 : 80);
    // undici gives IPv6 hostnames in brackets, as in URLs.
    const host = options.hostname.replace(/^\[(.*)\]$/, '$1');
    const connectOptions: MptcpConnectOptions = { host, port };
    if (options.localAddress) connectOptions.localAddress = options.localAddress;
    if (fallback !== undefined) connectOptions.fallback = fallback;
    let socket: net.Socket;
    try {
      const raw = options.httpSocket ?? connect(connectOptions);
      socket = secure
        ? tls.connect({
            ALPNProtocols: ['http/1.1'],
            ...tlsOptions,
            socket: raw,
            servername: options.servername ?? (net.isIP(host) ? undefined : host),
          } as tls.ConnectionOptions)
        : raw;
    } catch (err) {
      queueMicrotask(() => callback(err as Error));
      return undefined as unknown as net.Socket;
    }
    const ready = secure ? 'secureConnect' : 'connect';
    const timer = setTimeout(() => {
      const err = Object.assign(new Error(`Connect Timeout Error: ${host}:${port} after ${timeout} ms`), {
        code: 'UND_ERR_CONNECT_TIMEOUT',
      });
      socket.destroy(err);
    }, timeout);
    timer.unref();
    const onError = (err: Error) => {
      clearTimeout(timer);
      socket.off(ready, onReady);
      callback(err);
    };
    const onReady = () => {
      clearTimeout(timer);
      socket.off('error', onError);
      callback(null, socket);
    };
    socket.once(ready, onReady);
    socket.once('error', onError);
    return socket;
  };
}
