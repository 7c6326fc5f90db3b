// `sockunit proxy`'s command line, run as users run it: --help names every option the parser
// takes, bad input gets a usage error that says what is wrong (exit 1, as systemd-socket-proxyd),
// and the sockets come from socket activation as systemd's own tools pass them.

import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { describe, test } from 'node:test';
import { parseProxyArguments } from '../src/cli/proxy.js';
import { BIN, connectTcp, freePort } from './fixtures/manager/harness.js';
import { ProxyProcess, portOf, proxySuite, readAll } from './fixtures/proxy/harness.js';

const SSA = '/usr/bin/systemd-socket-activate';

function proxy(...args: string[]) {
  return spawnSync(process.execPath, [BIN, 'proxy', ...args], { encoding: 'utf8', timeout: 20_000 });
}

describe('sockunit proxy: command line', { timeout: 60_000 }, () => {
  const suite = proxySuite();

  test('--help lists every option the parser takes', () => {
    const help = proxy('--help');
    assert.equal(help.status, 0);
    assert.match(help.stdout, /^Usage: sockunit proxy \[OPTIONS\.\.\.\] HOST:PORT\n/);
    for (const option of [
      '-h --help',
      '--version',
      '-c --connections-max=N',
      '--exit-idle-time=TIME',
      '-l --listen=[ADDR:]PORT',
      '--protocol=tcp|mptcp',
      '--upstream-protocol=tcp|mptcp',
    ])
      assert.ok(help.stdout.includes(option), `--help mentions ${option}`);
    assert.match(proxy('--version').stdout, /^sockunit \d+\.\d+\.\d+\n$/);
  });

  test('the arguments as systemd-socket-proxyd takes them', () => {
    const parsed = parseProxyArguments(['-c', '5', '--exit-idle-time=5min 20s', '127.0.0.1:8080']);
    assert.equal(parsed.kind, 'run');
    if (parsed.kind !== 'run') return;
    assert.equal(parsed.args.connectionsMax, 5);
    assert.equal(parsed.args.exitIdleUsec, 320_000_000);
    assert.equal(parsed.args.upstreamProtocol, 'tcp');
    const defaults = parseProxyArguments(['--connections-max=7', '/run/app.sock']);
    assert.ok(defaults.kind === 'run' && defaults.args.connectionsMax === 7);
    assert.ok(defaults.kind === 'run' && defaults.args.exitIdleUsec === Number.POSITIVE_INFINITY);
    const plain = parseProxyArguments(['example.com:443']);
    assert.ok(plain.kind === 'run' && plain.args.connectionsMax === 256, 'default 256, as systemd');
  });

  test('bad input: a usage error that says what is wrong, exit 1', () => {
    const cases: [string[], RegExp][] = [
      [[], /Not enough parameters: the target \(HOST:PORT or a unix socket path\) is missing/],
      [['a:1', 'b:2'], /Too many parameters: one target expected, got 'a:1' 'b:2'/],
      [['-c', '0', 'a:1'], /Connection limit is too low/],
      [
        ['-c', 'many', 'a:1'],
        /Failed to parse --connections-max= argument: 'many' is not an unsigned number/,
      ],
      [
        ['--exit-idle-time=soon', 'a:1'],
        /Failed to parse --exit-idle-time= argument: 'soon' is not a time span/,
      ],
      [['--listen=8080', '--protocol=sctp', 'a:1'], /--protocol=sctp: expected tcp or mptcp/],
      [['--protocol=mptcp', 'a:1'], /--protocol applies to --listen ports/],
      [['--upstream-protocol=udp', 'a:1'], /--upstream-protocol=udp: expected tcp or mptcp/],
      [['--bogus', 'a:1'], /Unknown option '--bogus'/],
      [['a:http'], /'http' is not a port/],
    ];
    for (const [args, message] of cases) {
      const r = proxy(...args);
      assert.equal(r.status, 1, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, message, args.join(' '));
      assert.match(r.stderr, /Run 'sockunit proxy --help' for the options\.\n$/, args.join(' '));
    }
  });

  test('what can only be checked at start: no socket at all, MPTCP to a unix socket', async () => {
    const none = proxy('127.0.0.1:8080');
    assert.equal(none.status, 1);
    assert.match(
      none.stderr,
      /Didn't get any sockets passed in: run sockunit proxy as the service of a socket unit/,
    );
    const port = await freePort();
    const unix = proxy('--listen', `127.0.0.1:${port}`, '--upstream-protocol=mptcp', '/run/app.sock');
    assert.equal(unix.status, 1);
    assert.match(
      unix.stderr,
      /--upstream-protocol=mptcp needs a HOST:PORT target; \/run\/app\.sock is a unix socket/,
    );
    // The port was given back: nothing listens on it any more.
    await assert.rejects(connectTcp(port), { code: 'ECONNREFUSED' });
  });

  test('a passed socket that is not a listening stream socket is refused, naming it', async () => {
    const port = await freePort();
    // sockunit activate passes a datagram socket at fd 3 with LISTEN_FDS, LISTEN_PID.
    const r = spawnSync(
      process.execPath,
      [
        BIN,
        'activate',
        '--now',
        '--datagram',
        '-l',
        `127.0.0.1:${port}`,
        process.execPath,
        BIN,
        'proxy',
        'a:1',
      ],
      { encoding: 'utf8', timeout: 20_000 },
    );
    assert.equal(r.status, 1, r.stderr);
    assert.match(
      r.stderr,
      /Passed fd 3 \(unknown\) is not a listening stream socket but a datagram socket; sockunit proxy serves the ListenStream= ports/,
    );
  });

  test('socket activation by systemd-socket-activate: the passed listener is served', {
    skip: existsSync(SSA) || process.env.CI ? undefined : `needs ${SSA} (apt-get install systemd)`,
  }, async () => {
    const target = await suite.server((s) => s.end('through a passed socket'));
    const port = await freePort();
    const activator = suite.track(
      spawn(SSA, ['-l', `127.0.0.1:${port}`, process.execPath, BIN, 'proxy', `127.0.0.1:${portOf(target)}`], {
        stdio: 'ignore',
      }),
    );
    // systemd-socket-activate listens at once and starts the proxy on the first connection.
    let reply: { data: Buffer; end: string } | undefined;
    for (let i = 0; i < 200 && !reply; i++) {
      try {
        reply = await readAll(await connectTcp(port));
      } catch {
        await new Promise((r) => setTimeout(r, 50)); // not listening yet
      }
    }
    assert.deepEqual(reply, { data: Buffer.from('through a passed socket'), end: 'end' });
    activator.kill('SIGTERM');
  });

  test('SIGTERM: a clean stop, exit 0, the --listen port closed', async () => {
    const port = await freePort();
    const p = new ProxyProcess(['--listen', `127.0.0.1:${port}`, '127.0.0.1:9']);
    await p.waitFor(/^Listening on /);
    assert.deepEqual(await p.stop('SIGTERM'), { code: 0, signal: null });
    await assert.rejects(connectTcp(port), { code: 'ECONNREFUSED' });
  });
});
