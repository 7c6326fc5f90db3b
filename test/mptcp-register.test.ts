// `node --import sockunit/mptcp/register app.js`: unchanged Node programs, run as real child
// processes, serve MPTCP (http, https, http2, express, cluster workers under both scheduling
// policies, through --import and through NODE_OPTIONS) — the kernel lists their listeners as MPTCP
// and an MPTCP client runs MPTCP end to end — while plain TCP clients are served as before and
// `listen({fd})`/unix listeners are left alone. With SOCKUNIT_MPTCP_CONNECT=1 their clients
// (net.connect, http.get, https.get, fetch over http and https) connect with MPTCP, and only then.
// In a network namespace with net.mptcp.enabled=0 nothing changes, with one notice.

import assert from 'node:assert/strict';
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import http2 from 'node:http2';
import https from 'node:https';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import tls from 'node:tls';
import { fileURLToPath } from 'node:url';
import * as mptcp from '../src/mptcp/index.js';
import { AF_INET, SO_REUSEADDR, SOCK_STREAM, SOL_SOCKET } from '../src/sys/constants.js';
import { bind, closeQuietly, getsockname, listen, setsockoptInt, socket } from '../src/sys/socket.js';
import { builtModule, Netns, netnsUnavailable } from './fixtures/mptcp/netns.js';
import { LOCALHOST_CERT, LOCALHOST_KEY } from './fixtures/mptcp/tls.js';

const REGISTER = builtModule('mptcp/register.js');
const REPO = fileURLToPath(new URL('../../', import.meta.url));
/** Apps are written inside the build tree, so that `import express from 'express'` resolves from
 * the repository's node_modules as it would in a real project. */
const APP_DIR = fileURLToPath(new URL('./fixtures/mptcp/register-apps/', import.meta.url));
mkdirSync(APP_DIR, { recursive: true });
after(() => rmSync(APP_DIR, { recursive: true, force: true }));

const KEY_FILE = join(APP_DIR, 'localhost.key');
const CERT_FILE = join(APP_DIR, 'localhost.crt');
writeFileSync(KEY_FILE, LOCALHOST_KEY);
writeFileSync(CERT_FILE, LOCALHOST_CERT);

/** Unchanged programs: nothing in them knows about MPTCP or sockunit. */
const APPS = {
  http: `import http from 'node:http';
const server = http.createServer((req, res) => res.end('http\\n'));
server.listen(0, '127.0.0.1', () => console.log('PORT', server.address().port));`,
  https: `import https from 'node:https'; import { readFileSync } from 'node:fs';
const server = https.createServer({ key: readFileSync(process.env.KEY), cert: readFileSync(process.env.CERT) },
  (req, res) => res.end('https\\n'));
server.listen(0, '127.0.0.1', () => console.log('PORT', server.address().port));`,
  http2: `import http2 from 'node:http2';
const server = http2.createServer();
server.on('stream', (stream) => { stream.respond({ ':status': 200 }); stream.end('h2\\n'); });
server.listen(0, '127.0.0.1', () => console.log('PORT', server.address().port));`,
  express: `import express from 'express';
const app = express();
app.get('/', (req, res) => res.send('express\\n'));
const server = app.listen(0, '127.0.0.1', () => console.log('PORT', server.address().port));`,
  cluster: `import cluster from 'node:cluster'; import http from 'node:http';
if (cluster.isPrimary) {
  if (process.env.SCHED === 'none') cluster.schedulingPolicy = cluster.SCHED_NONE;
  cluster.fork();
  cluster.on('listening', (worker, address) => console.log('PORT', address.port));
} else {
  http.createServer((req, res) => res.end('worker ' + cluster.worker.id + '\\n')).listen(0, '127.0.0.1');
}`,
  fdAndUnix: `import http from 'node:http';
const handler = (req, res) => res.end('untouched\\n');
http.createServer(handler).listen({ fd: 3 }, () =>
  http.createServer(handler).listen(process.env.SOCK, () => console.log('PORT', 0)));`,
};

/** A client script for SOCKUNIT_MPTCP_CONNECT: every kind of client once, then exit. */
const CLIENT = `import http from 'node:http'; import https from 'node:https'; import net from 'node:net';
const [httpPort, httpsPort, unixPath] = process.argv.slice(2);
const body = (res) => new Promise((r) => { let b = ''; res.on('data', (d) => (b += d)); res.on('end', () => r(b)); });
const out = [];
const s = net.connect(Number(httpPort), '127.0.0.1');
await new Promise((r, j) => { s.once('connect', r); s.once('error', j); }); s.destroy(); out.push('net.connect');
out.push(await new Promise((r, j) => http.get('http://127.0.0.1:' + httpPort + '/', (res) => body(res).then(r)).on('error', j)));
out.push(await new Promise((r, j) => https.get('https://localhost:' + httpsPort + '/', (res) => body(res).then(r)).on('error', j)));
out.push(await (await fetch('http://127.0.0.1:' + httpPort + '/')).text());
out.push(await (await fetch('https://localhost:' + httpsPort + '/')).text());
const u = net.connect(unixPath);
await new Promise((r, j) => { u.once('connect', r); u.once('error', j); }); u.end('unix'); out.push('unix');
console.log(JSON.stringify(out));`;

interface App {
  port: number;
  child: ChildProcess;
  stderr: () => string;
}

const children: ChildProcess[] = [];
after(() => {
  for (const c of children) c.kill('SIGKILL');
});

function appFile(name: string, source: string): string {
  const file = join(APP_DIR, `${name}.mjs`);
  writeFileSync(file, source);
  return file;
}

interface RunOptions {
  env?: NodeJS.ProcessEnv;
  /** Node arguments before the script; default: --import of the preload. */
  nodeArgs?: string[];
  wrapper?: string[];
  stdio3?: number;
}

/** Start `source` with Node (the preload imported unless `nodeArgs` says otherwise), its output
 * collected. */
function spawnNode(name: string, source: string, args: string[], options: RunOptions) {
  const file = appFile(name, source);
  const nodeArgs = options.nodeArgs ?? ['--import', REGISTER];
  const argv = [...(options.wrapper ?? []), process.execPath, ...nodeArgs, file, ...args];
  const child = spawn(argv[0] as string, argv.slice(1), {
    env: { ...process.env, KEY: KEY_FILE, CERT: CERT_FILE, NODE_EXTRA_CA_CERTS: CERT_FILE, ...options.env },
    stdio: ['ignore', 'pipe', 'pipe', ...(options.stdio3 !== undefined ? [options.stdio3] : [])],
  });
  children.push(child);
  const output = { out: '', err: '' };
  child.stdout?.on('data', (d: Buffer) => {
    output.out += d;
  });
  child.stderr?.on('data', (d: Buffer) => {
    output.err += d;
  });
  return { child, output };
}

/** Start a server app and wait (bounded) for its `PORT n` line. */
function startApp(name: string, source: string, options: RunOptions = {}): Promise<App> {
  const { child, output } = spawnNode(name, source, [], options);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${name} printed no PORT line within 10 s: ${output.out}${output.err}`));
    }, 10_000);
    child.stdout?.on('data', () => {
      const m = /PORT (\d+)/.exec(output.out);
      if (m) {
        clearTimeout(timer);
        resolve({ port: Number(m[1]), child, stderr: () => output.err });
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${name} exited (${code}) before listening: ${output.out}${output.err}`));
    });
  });
}

/** Run a script to its end (bounded) and return its stdout and stderr. */
function runScript(
  name: string,
  source: string,
  args: string[],
  options: RunOptions = {},
): Promise<{ stdout: string; stderr: string }> {
  const { child, output } = spawnNode(name, source, args, options);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
    child.once('close', (code) => {
      clearTimeout(timer);
      if (code === 0) resolve({ stdout: output.out, stderr: output.err });
      else reject(new Error(`${name} exited ${code}: ${output.out}${output.err}`));
    });
  });
}

function stopApp(app: App): Promise<void> {
  return new Promise((resolve) => {
    if (app.child.exitCode !== null) return resolve();
    app.child.once('exit', () => resolve());
    app.child.kill('SIGTERM');
  });
}

/** Listening sockets on `port` that the kernel lists as MPTCP (`ss -M`). */
function mptcpListeners(port: number): string {
  return execFileSync('ss', ['-H', '-M', '-l', '-n', `sport = :${port}`], { encoding: 'utf8' }).trim();
}

/** An MPTCP connection to 127.0.0.1:port, once connected. */
function mptcpSocket(port: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const s = mptcp.connect({ port, host: '127.0.0.1', fallback: false });
    s.once('connect', () => resolve(s));
    s.once('error', reject);
  });
}

function readAll(stream: NodeJS.ReadableStream): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = '';
    stream.on('data', (d: Buffer) => {
      text += d;
    });
    stream.on('end', () => resolve(text));
    stream.on('error', reject);
  });
}

/** GET / over an MPTCP connection; the body and whether the connection ran MPTCP. */
async function getOverMptcp(port: number): Promise<{ body: string; multipath: boolean }> {
  const raw = await mptcpSocket(port);
  const multipath = mptcp.runsMptcp(raw);
  raw.write('GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n');
  const reply = await readAll(raw);
  return { body: reply.slice(reply.indexOf('\r\n\r\n') + 4), multipath };
}

/** GET / with Node's plain TCP client. */
function getPlain(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    http
      .get({ host: '127.0.0.1', port, agent: false }, (res) => readAll(res).then(resolve, reject))
      .on('error', reject);
  });
}

/** The body of a chunked or plain HTTP/1.1 reply, enough for one short chunk. */
function decodeBody(body: string): string {
  const m = /^[0-9a-f]+\r\n([\s\S]*?)\r\n0\r\n/.exec(body);
  return m ? (m[1] as string) : body;
}

describe('node --import sockunit/mptcp/register: servers', { timeout: 60_000 }, () => {
  test('an unchanged http server listens with MPTCP and serves MPTCP and plain TCP clients', async () => {
    const app = await startApp('http', APPS.http);
    assert.notEqual(mptcpListeners(app.port), '', 'ss -M lists the listener');
    assert.deepEqual(await getOverMptcp(app.port), { body: 'http\n', multipath: true });
    assert.equal(await getPlain(app.port), 'http\n');
    assert.equal(app.stderr(), '', 'no notice where MPTCP works');
    await stopApp(app);
  });

  test('through NODE_OPTIONS=--import=…', async () => {
    const app = await startApp('http-node-options', APPS.http, {
      nodeArgs: [],
      env: { NODE_OPTIONS: `--import=${REGISTER}` },
    });
    assert.notEqual(mptcpListeners(app.port), '');
    assert.deepEqual(await getOverMptcp(app.port), { body: 'http\n', multipath: true });
    await stopApp(app);
  });

  test('https: TLS over an MPTCP connection', async () => {
    const app = await startApp('https', APPS.https);
    assert.notEqual(mptcpListeners(app.port), '');
    const raw = await mptcpSocket(app.port);
    const secure = tls.connect({ socket: raw, ca: LOCALHOST_CERT, servername: 'localhost' });
    await new Promise<void>((resolve, reject) => {
      secure.once('secureConnect', resolve);
      secure.once('error', reject);
    });
    assert.equal(mptcp.runsMptcp(raw), true);
    secure.write('GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n');
    const reply = await readAll(secure);
    assert.equal(decodeBody(reply.slice(reply.indexOf('\r\n\r\n') + 4)), 'https\n');
    // A plain client that trusts the certificate is served too.
    const plain = await new Promise<string>((resolve, reject) => {
      https
        .get({ host: 'localhost', port: app.port, ca: LOCALHOST_CERT, agent: false }, (res) =>
          readAll(res).then(resolve, reject),
        )
        .on('error', reject);
    });
    assert.equal(plain, 'https\n');
    await stopApp(app);
  });

  test('http2 (h2c): a session over an MPTCP connection', async () => {
    const app = await startApp('http2', APPS.http2);
    assert.notEqual(mptcpListeners(app.port), '');
    const raw = await mptcpSocket(app.port);
    const session = http2.connect(`http://127.0.0.1:${app.port}`, { createConnection: () => raw });
    const stream = session.request({ ':path': '/' });
    const text = await readAll(stream);
    assert.equal(text, 'h2\n');
    assert.equal(mptcp.runsMptcp(raw), true);
    session.close();
    await stopApp(app);
  });

  test('express: an app.listen() server serves MPTCP', async () => {
    const app = await startApp('express', APPS.express);
    assert.notEqual(mptcpListeners(app.port), '');
    const reply = await getOverMptcp(app.port);
    assert.equal(reply.multipath, true);
    assert.equal(decodeBody(reply.body), 'express\n');
    assert.equal(await getPlain(app.port), 'express\n');
    await stopApp(app);
  });

  for (const sched of ['rr', 'none'] as const) {
    test(`cluster (${sched === 'rr' ? 'round-robin, the default' : 'SCHED_NONE'}): a worker's server serves MPTCP`, async () => {
      const app = await startApp(`cluster-${sched}`, APPS.cluster, { env: { SCHED: sched } });
      assert.notEqual(mptcpListeners(app.port), '', 'ss -M lists the listener');
      const reply = await getOverMptcp(app.port);
      assert.equal(reply.multipath, true);
      assert.equal(decodeBody(reply.body), 'worker 1\n');
      assert.equal(await getPlain(app.port), 'worker 1\n');
      await stopApp(app);
    });
  }

  test('listen({fd}) and unix paths are left alone', async () => {
    // A plain TCP listener handed over as fd 3, as socket activation does.
    const fd = socket(AF_INET, SOCK_STREAM, 0);
    let port: number;
    try {
      setsockoptInt(fd, SOL_SOCKET, SO_REUSEADDR, 1);
      bind(fd, { family: 'inet', address: '127.0.0.1', port: 0 });
      listen(fd, 16);
      port = (getsockname(fd) as { port: number }).port;
    } catch (err) {
      closeQuietly(fd);
      throw err;
    }
    const dir = mkdtempSync(join(tmpdir(), 'sockunit-register-'));
    const sock = join(dir, 'app.sock');
    try {
      const app = await startApp('fd-unix', APPS.fdAndUnix, { env: { SOCK: sock }, stdio3: fd });
      closeQuietly(fd);
      assert.equal(mptcpListeners(port), '', 'the fd stays the TCP listener it was');
      const reply = await getOverMptcp(port);
      assert.deepEqual(reply, { body: 'untouched\n', multipath: false });
      const viaUnix = await new Promise<string>((resolve, reject) => {
        http
          .get({ socketPath: sock, path: '/' }, (res) => readAll(res).then(resolve, reject))
          .on('error', reject);
      });
      assert.equal(viaUnix, 'untouched\n');
      await stopApp(app);
    } finally {
      closeQuietly(fd);
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('the package export sockunit/mptcp/register resolves to the built preload', async (t) => {
    const resolved = execFileSync(
      process.execPath,
      ['--input-type=module', '-e', "console.log(import.meta.resolve('sockunit/mptcp/register'))"],
      { cwd: REPO, encoding: 'utf8' },
    ).trim();
    assert.equal(resolved, new URL('dist/mptcp/register.js', `file://${REPO}`).href);
    if (!existsSync(fileURLToPath(resolved)) && !process.env.CI)
      return t.skip('dist/ is not built; `npm run build` (npm test does) builds it');
    const app = await startApp('http-export', APPS.http, {
      nodeArgs: ['--import', 'sockunit/mptcp/register'],
    });
    assert.notEqual(mptcpListeners(app.port), '');
    await stopApp(app);
  });
});

describe('node --import sockunit/mptcp/register: clients', { timeout: 60_000 }, () => {
  /** Servers in this process that record, per accepted connection, whether it runs MPTCP. */
  async function servers() {
    const seen: { kind: string; multipath: boolean }[] = [];
    const record = (kind: string) => (s: net.Socket) => {
      seen.push({ kind, multipath: mptcp.runsMptcp(s) });
    };
    const plain = http.createServer((_req, res) => res.end('http\n'));
    plain.on('connection', record('http'));
    const secure = https.createServer({ key: LOCALHOST_KEY, cert: LOCALHOST_CERT }, (_req, res) =>
      res.end('https\n'),
    );
    secure.on('connection', record('https'));
    const dir = mkdtempSync(join(tmpdir(), 'sockunit-register-client-'));
    const unixPath = join(dir, 's.sock');
    const unix = net.createServer((s) => {
      record('unix')(s);
      s.resume();
    });
    const listening = (server: net.Server, ...args: unknown[]) =>
      new Promise<void>((resolve) => mptcp.listen(server, ...args, () => resolve()));
    await listening(plain, 0, '127.0.0.1');
    await listening(secure, 0, '127.0.0.1');
    await new Promise<void>((resolve) => unix.listen(unixPath, () => resolve()));
    const port = (s: net.Server) => (s.address() as net.AddressInfo).port;
    return {
      seen,
      args: [String(port(plain)), String(port(secure)), unixPath],
      close: () => {
        for (const s of [plain, secure, unix]) s.close();
        plain.closeAllConnections();
        secure.closeAllConnections();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  }

  const EXPECTED = ['net.connect', 'http\n', 'https\n', 'http\n', 'https\n', 'unix'];

  test('SOCKUNIT_MPTCP_CONNECT=1: net.connect, http.get, https.get and fetch connect with MPTCP', async () => {
    const s = await servers();
    try {
      const { stdout, stderr } = await runScript('client-mptcp', CLIENT, s.args, {
        env: { SOCKUNIT_MPTCP_CONNECT: '1' },
      });
      assert.deepEqual(JSON.parse(stdout), EXPECTED);
      assert.equal(stderr, '');
      const ip = s.seen.filter((c) => c.kind !== 'unix');
      assert.ok(ip.length >= 4, JSON.stringify(s.seen));
      assert.deepEqual(
        ip.filter((c) => !c.multipath),
        [],
        `every IP connection runs MPTCP: ${JSON.stringify(s.seen)}`,
      );
      assert.equal(s.seen.filter((c) => c.kind === 'unix').length, 1, 'the unix client still connects');
    } finally {
      s.close();
    }
  });

  test('without the variable (or with a value that is not yes/no) clients stay TCP', async () => {
    for (const env of [{}, { SOCKUNIT_MPTCP_CONNECT: 'maybe' }]) {
      const s = await servers();
      try {
        const { stdout, stderr } = await runScript('client-tcp', CLIENT, s.args, { env });
        assert.deepEqual(JSON.parse(stdout), EXPECTED);
        assert.deepEqual(
          s.seen.filter((c) => c.multipath),
          [],
          JSON.stringify(s.seen),
        );
        if ('SOCKUNIT_MPTCP_CONNECT' in env)
          assert.match(stderr, /SOCKUNIT_MPTCP_CONNECT=maybe is not a yes\/no value/);
        else assert.equal(stderr, '');
      } finally {
        s.close();
      }
    }
  });
});

describe('node --import sockunit/mptcp/register where MPTCP is disabled (net.mptcp.enabled=0 in a netns)', () => {
  const why = netnsUnavailable();
  let ns: Netns | undefined;
  after(() => ns?.delete());

  test('servers and clients run plain TCP, with one notice each', async (t) => {
    if (why) return t.skip(why);
    ns = new Netns('register');
    ns.exec('sysctl', '-qw', 'net.mptcp.enabled=0');
    const wrapper = ['ip', 'netns', 'exec', ns.name];
    const app = await startApp('http-nomptcp', APPS.http, { wrapper });
    const client = `import http from 'node:http';
http.get('http://127.0.0.1:' + process.argv[2] + '/', (res) => { let b = ''; res.on('data', (d) => (b += d)); res.on('end', () => console.log(b.trim())); });`;
    const { stdout, stderr } = await runScript('client-nomptcp', client, [String(app.port)], {
      wrapper,
      env: { SOCKUNIT_MPTCP_CONNECT: '1' },
    });
    assert.equal(stdout.trim(), 'http');
    for (const err of [stderr, app.stderr()]) {
      assert.equal(err.match(/MPTCP is not available/g)?.length, 1, err);
      assert.match(err, /net\.mptcp\.enabled=0/);
      assert.match(err, /sysctl -w net\.mptcp\.enabled=1/);
    }
    await stopApp(app);
  });
});
