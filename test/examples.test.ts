// The README's examples, run as a user runs them: `node examples/…` and
// `sockunit run examples/units`, against the built package (dist/, built by `npm test`).

import assert from 'node:assert/strict';
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';

const root = join(import.meta.dirname, '..', '..');
const bin = join(root, 'dist', 'cli', 'bin.js');
const run = promisify(execFile);

function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.once('error', () => resolve(false));
    s.listen(port, () => s.close(() => resolve(true)));
  });
}

/** Everything the child wrote to stderr so far, and a way to wait for a line. */
function stderrLog(child: ChildProcess): { waitFor: (p: RegExp, ms: number) => Promise<string> } {
  let seen = '';
  const waiters = new Set<() => void>();
  child.stderr?.on('data', (chunk: Buffer) => {
    seen += chunk.toString();
    for (const w of waiters) w();
  });
  return {
    waitFor: (pattern, ms) =>
      new Promise((resolve, reject) => {
        const check = () => {
          if (!pattern.test(seen)) return;
          clearTimeout(timer);
          waiters.delete(check);
          resolve(seen);
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`no line matching ${pattern} within ${ms} ms; got:\n${seen}`));
        }, ms);
        waiters.add(check);
        check();
      }),
  };
}

function echo(port: number, text: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1', () => s.end(text));
    let out = '';
    s.on('data', (d) => {
      out += d;
    });
    s.on('close', () => resolve(out));
    s.on('error', reject);
    s.setTimeout(5000, () => s.destroy(new Error('echo timed out')));
  });
}

test('examples/mptcp-hello.mjs serves and connects over MPTCP and reports it', async () => {
  assert.ok(existsSync(bin), 'dist/ is built (npm test builds it first)');
  const { stdout } = await run(process.execPath, [join(root, 'examples', 'mptcp-hello.mjs')], {
    timeout: 20_000,
  });
  assert.match(stdout, /server: accepted 127\.0\.0\.1, runs MPTCP: true/);
  assert.match(stdout, /client: echoed 1048576 bytes back; runs MPTCP: true, several paths now: false/);
  assert.match(stdout, /bytes sent 1048576, received 1048576/);
  assert.match(stdout, /subflow 1: 127\.0\.0\.1:\d+ -> 127\.0\.0\.1:\d+/);
});

test("the README's first command, npx sockunit run examples/units: MPTCP HTTP on 8080, Accept=yes echo on 7777, clean stop", async (t) => {
  if (!(await portFree(8080)) || !(await portFree(7777))) {
    t.skip('port 8080 or 7777 is in use on this machine; the example units need both');
    return;
  }
  // Exactly as the README runs it: npx finds the package's own bin (dist/cli/bin.js, which the
  // build must leave executable) from the repository's root. npx does not pass SIGTERM on to its
  // child, so the test signals the process group, as a terminal's Ctrl-C does.
  const manager = spawn('npx', ['--no-install', 'sockunit', 'run', 'examples/units'], {
    cwd: root,
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const group = -(manager.pid as number);
  t.after(() => {
    try {
      process.kill(group, 'SIGKILL');
    } catch {}
  });
  const log = stderrLog(manager);
  await log.waitFor(/2 of 2 socket units listening/, 15_000);

  const { stdout } = await run(process.execPath, [join(root, 'examples', 'mptcp-get.mjs')], {
    timeout: 20_000,
  });
  assert.match(stdout, /Hello from pid \d+/);
  assert.match(stdout, /This connection runs Multipath TCP/);

  assert.equal(await echo(7777, 'ping\n'), 'ping\n');

  const exited = new Promise<string>((resolve) =>
    manager.once('exit', (code, signal) => resolve(signal ?? String(code))),
  );
  const stopped = log.waitFor(/sockunit: stopped/, 15_000);
  process.kill(group, 'SIGINT');
  const text = await stopped;
  // sockunit stopped cleanly (the line above); npx itself ends with 0 or dies of the SIGINT.
  assert.match(await exited, /^(0|SIGINT)$/);
  assert.match(text, /Started .*hello\.service/);
  assert.match(text, /Started .*echo@0-\d+-127\.0\.0\.1:7777-127\.0\.0\.1:\d+\.service/);
  assert.match(text, /hello\.service\[\d+\]: serving on the activated socket 'http' \(fd 3, mptcp\)/);
});

test('sockunit run examples/container --target multi-user.target: boot, a required backend, MPTCP web', async (t) => {
  if (!(await portFree(8081)) || !(await portFree(8082))) {
    t.skip('port 8081 or 8082 is in use on this machine; the container example needs both');
    return;
  }
  const manager = spawn(
    process.execPath,
    [
      bin,
      'run',
      join(root, 'examples', 'container'),
      '--target',
      'multi-user.target',
      '--control-socket',
      join(root, '.test-build', 'container.sock'),
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  t.after(() => manager.kill('SIGKILL'));
  const log = stderrLog(manager);
  const booted = await log.waitFor(/1 of 1 socket units listening/, 15_000);
  // The socket listens before any service starts; the backend (Type=notify) is up when the
  // target is reached; the web server starts on the first connection, after the backend.
  const order = [
    'Listening on web.socket',
    'Started Backend (backend.service)',
    'Reached target Multi-User System',
  ];
  const positions = order.map((line) => booted.indexOf(line));
  assert.ok(
    positions.every((p, i) => p >= 0 && (i === 0 || (positions[i - 1] as number) < p)),
    booted,
  );
  const res = await fetch('http://127.0.0.1:8081/', { signal: AbortSignal.timeout(10_000) });
  assert.match(await res.text(), /^web: plain TCP; backend up \d+ s\n$/);
  await log.waitFor(/Started Web server \(web\.service\)/, 5000);
  const exited = new Promise<number | null>((resolve) => manager.once('exit', (code) => resolve(code)));
  manager.kill('SIGTERM');
  assert.equal(await exited, 0);
});

test('examples/container as a container runs it: PID 1 in its own PID, mount and network namespaces; probes, MPTCP web, SIGTERM exits 0', async (t) => {
  if (process.getuid?.() !== 0 && !process.env.CI) {
    t.skip('needs root to make PID, mount and network namespaces (unshare); run as root or with CI=true');
    return;
  }
  // The container's start: loopback up, then sockunit replaces the shell as PID 1.
  const manager = spawn(
    'unshare',
    [
      '--pid',
      '--fork',
      '--mount-proc',
      '--net',
      '--kill-child',
      '/bin/sh',
      '-c',
      `ip link set lo up && exec "$0" "$@"`,
      process.execPath,
      bin,
      'run',
      join(root, 'examples', 'container'),
      '--target',
      'multi-user.target',
      '--metrics',
      '127.0.0.1:9101',
      '--control-socket',
      join(root, '.test-build', 'container-ns.sock'),
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  t.after(() => manager.kill('SIGKILL'));
  const log = stderrLog(manager);
  await log.waitFor(/1 of 1 socket units listening/, 20_000);
  // The namespace's init is unshare's child; inside it, sockunit is PID 1.
  const init = Number(
    (await run('cat', [`/proc/${manager.pid}/task/${manager.pid}/children`])).stdout.trim().split(/\s+/)[0],
  );
  const { stdout: nspid } = await run('grep', ['^NSpid:', `/proc/${init}/status`]);
  assert.match(nspid, /\s1\n$/, 'sockunit is PID 1 of its namespace');
  const inside = (...args: string[]) =>
    run('nsenter', ['-t', String(init), '-n', ...args], { timeout: 20_000 });
  assert.equal(
    (await inside('curl', '-s', 'http://127.0.0.1:9101/readyz')).stdout,
    'ready: 1 of 1 socket units listening\n',
  );
  // An MPTCP client inside the namespace (the example's own client, MPTCP when the kernel has it).
  const mptcpGet = await inside(
    process.execPath,
    join(root, 'examples', 'mptcp-get.mjs'),
    'http://127.0.0.1:8081/',
  );
  assert.match(mptcpGet.stdout, /^web: Multipath TCP; backend up \d+ s\n/m);
  // Not reachable from the host's network namespace: the container's ports are its own.
  await assert.rejects(
    new Promise((resolve, reject) => {
      const c = net.connect(9101, '127.0.0.1', () => resolve(c.destroy()));
      c.once('error', reject);
    }),
    /ECONNREFUSED/,
  );
  const exited = new Promise<number | null>((resolve) => manager.once('exit', (code) => resolve(code)));
  process.kill(init, 'SIGTERM');
  assert.equal(await exited, 0, "unshare passes on PID 1's exit status");
});

test("the README's activate line with its library example: the unnamed MPTCP socket is used, no fallback port opened", async (t) => {
  if (!(await portFree(8080))) {
    t.skip('port 8080 is in use on this machine; the README example listens there');
    return;
  }
  const activate = spawn(
    process.execPath,
    [
      bin,
      'activate',
      '-l',
      '8080',
      '--protocol=mptcp',
      '--',
      process.execPath,
      join(root, 'examples', 'activated-server.mjs'),
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  t.after(() => activate.kill('SIGKILL'));
  let out = '';
  activate.stdout?.on('data', (d: Buffer) => {
    out += d.toString();
  });
  const log = stderrLog(activate);
  await log.waitFor(/Listening on/, 15_000);
  // The first connection starts the server, which takes the passed socket (named 'unknown':
  // activate was given no --fdname) instead of binding 8080 itself (EADDRINUSE before).
  const { stdout } = await run(process.execPath, [join(root, 'examples', 'mptcp-get.mjs')], {
    timeout: 20_000,
  });
  assert.equal(stdout, 'hi\n');
  assert.match(out, /^3 unknown \{[^}]*protocol: 'mptcp'/m);
  const exited = new Promise<number | null>((resolve) => activate.once('exit', (code) => resolve(code)));
  activate.kill('SIGTERM');
  assert.equal(await exited, 128 + 15, 'the server was killed by the forwarded SIGTERM');
});
