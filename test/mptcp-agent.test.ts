// HTTP clients over MPTCP: mptcp.Agent (plain HTTP), mptcp.HttpsAgent (TLS on an MPTCP socket,
// with a throw-away certificate made by openssl), and undiciConnector() called as undici calls it.

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import type net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import * as mptcp from '../src/mptcp/index.js';

interface Served {
  port: number;
  serverSides: boolean[];
  close(): Promise<void>;
}

function serve(server: http.Server): Promise<Served> {
  const serverSides: boolean[] = [];
  server.on('request', (req: http.IncomingMessage, res: http.ServerResponse) => {
    serverSides.push(mptcp.isMultipath(req.socket));
    res.end(`hello ${req.url}`);
  });
  return new Promise((resolve) =>
    mptcp.listen(server, 0, '127.0.0.1', () =>
      resolve({
        port: (server.address() as net.AddressInfo).port,
        serverSides,
        close: () =>
          new Promise<void>((r) => {
            server.closeAllConnections();
            server.close(() => r());
          }),
      }),
    ),
  );
}

function get(
  mod: typeof http | typeof https,
  options: https.RequestOptions,
): Promise<{ body: string; clientMultipath: boolean }> {
  return new Promise((resolve, reject) => {
    const req = mod.get(options, (res) => {
      const clientMultipath = mptcp.isMultipath(res.socket);
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => {
        body += d;
      });
      res.on('end', () => resolve({ body, clientMultipath }));
    });
    req.on('error', reject);
    req.setTimeout(10_000, () => req.destroy(new Error('request timed out after 10 s')));
  });
}

describe('mptcp.Agent / HttpsAgent', { timeout: 30_000 }, () => {
  let dir = '';
  let key: Buffer;
  let cert: Buffer;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'sockunit-tls-'));
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'rsa:2048',
        '-nodes',
        '-days',
        '1',
        '-subj',
        '/CN=localhost',
        '-addext',
        'subjectAltName=DNS:localhost,IP:127.0.0.1',
        '-keyout',
        join(dir, 'key.pem'),
        '-out',
        join(dir, 'cert.pem'),
      ],
      { stdio: 'ignore' },
    );
    key = readFileSync(join(dir, 'key.pem'));
    cert = readFileSync(join(dir, 'cert.pem'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  test('http GET through mptcp.Agent with keep-alive: one MPTCP connection, both ends multipath', async () => {
    const s = await serve(http.createServer());
    const agent = new mptcp.Agent({ keepAlive: true, maxSockets: 1 });
    let sockets = 0;
    const create = agent.createConnection.bind(agent);
    agent.createConnection = (o, cb) => {
      sockets++;
      return create(o, cb);
    };
    try {
      for (const path of ['/1', '/2', '/3']) {
        const r = await get(http, { host: 'localhost', port: s.port, path, agent });
        assert.deepEqual(r, { body: `hello ${path}`, clientMultipath: true });
      }
      assert.equal(sockets, 1, 'keep-alive reused the MPTCP socket');
      assert.deepEqual(s.serverSides, [true, true, true]);
    } finally {
      agent.destroy();
      await s.close();
    }
  });

  test('https GET through mptcp.HttpsAgent: TLS over MPTCP, certificate verified', async () => {
    const s = await serve(https.createServer({ key, cert }));
    const agent = new mptcp.HttpsAgent({ ca: cert });
    try {
      const r = await get(https, { host: 'localhost', port: s.port, path: '/tls', agent });
      assert.deepEqual(r, { body: 'hello /tls', clientMultipath: true });
      assert.deepEqual(s.serverSides, [true]);
      await assert.rejects(
        get(https, { host: 'localhost', port: s.port, path: '/', agent: new mptcp.HttpsAgent() }),
        { code: 'DEPTH_ZERO_SELF_SIGNED_CERT' },
      );
    } finally {
      agent.destroy();
      await s.close();
    }
  });
});

describe('mptcp.undiciConnector', { timeout: 30_000 }, () => {
  /** What undici does with a connected socket: write a request, read the response. */
  function exchange(socket: net.Socket, path: string): Promise<string> {
    return new Promise((resolve, reject) => {
      let text = '';
      socket.setEncoding('utf8');
      socket.on('data', (d: string) => {
        text += d;
      });
      socket.on('end', () => resolve(text));
      socket.on('error', reject);
      socket.write(`GET ${path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n`);
    });
  }

  function call(connector: mptcp.UndiciConnector, options: mptcp.UndiciConnectOptions): Promise<net.Socket> {
    return new Promise((resolve, reject) =>
      connector(options, (err, socket) => (err ? reject(err) : resolve(socket!))),
    );
  }

  test('http origin: calls back with a connected MPTCP socket', async () => {
    const s = await serve(http.createServer());
    try {
      const socket = await call(mptcp.undiciConnector(), {
        hostname: 'localhost',
        host: `localhost:${s.port}`,
        protocol: 'http:',
        port: String(s.port),
      });
      assert.equal(mptcp.isMultipath(socket), true);
      assert.match(await exchange(socket, '/u'), /^HTTP\/1\.1 200 OK[\s\S]*hello \/u$/);
      assert.deepEqual(s.serverSides, [true]);
    } finally {
      await s.close();
    }
  });

  test('https origin: TLS with ALPN http/1.1 over MPTCP', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sockunit-tls-'));
    try {
      execFileSync(
        'openssl',
        [
          'req',
          '-x509',
          '-newkey',
          'rsa:2048',
          '-nodes',
          '-days',
          '1',
          '-subj',
          '/CN=localhost',
          '-addext',
          'subjectAltName=DNS:localhost',
          '-keyout',
          join(dir, 'k.pem'),
          '-out',
          join(dir, 'c.pem'),
        ],
        { stdio: 'ignore' },
      );
      const cert = readFileSync(join(dir, 'c.pem'));
      const s = await serve(
        https.createServer({ key: readFileSync(join(dir, 'k.pem')), cert, ALPNProtocols: ['http/1.1'] }),
      );
      try {
        const socket = (await call(mptcp.undiciConnector({ ca: cert }), {
          hostname: 'localhost',
          protocol: 'https:',
          port: s.port,
          servername: 'localhost',
        })) as net.Socket & { alpnProtocol?: string | false };
        assert.equal(socket.alpnProtocol, 'http/1.1');
        assert.equal(mptcp.isMultipath(socket), true);
        assert.match(await exchange(socket, '/s'), /hello \/s$/);
        assert.deepEqual(s.serverSides, [true]);
      } finally {
        await s.close();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('a refused connection is passed to the callback as ECONNREFUSED', async () => {
    const s = await serve(http.createServer());
    const port = s.port;
    await s.close();
    await assert.rejects(call(mptcp.undiciConnector(), { hostname: '127.0.0.1', protocol: 'http:', port }), {
      code: 'ECONNREFUSED',
      syscall: 'connect',
    });
  });
});
