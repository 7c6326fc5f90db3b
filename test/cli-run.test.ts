// `sockunit run` as a command: options, the JSON log, SIGHUP reloads that keep unchanged
// listeners open (a client connecting in a loop sees no refusal), re-open changed ones and close
// removed ones, and SIGTERM/SIGINT that leave no process and no socket file behind.

import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, lstatSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { describe, test } from 'node:test';
import {
  BIN,
  connectTcp,
  exchange,
  freePort,
  managerSuite,
  processesWith,
  sleep,
  tempDir,
  waitUntil,
} from './fixtures/manager/harness.js';

describe('sockunit run (command line)', () => {
  const { run: start } = managerSuite('run');

  test("run's module graph leaves out what only some runs need: prom-client (--metrics), node:crypto (services), node:worker_threads (Accept=yes)", () => {
    // Each costs every start: prom-client ~40 ms of CPU and a few MiB, node:crypto ~1.3 MiB of
    // RSS, node:worker_threads ~0.4 (bench/README.md, start-up); a static import anywhere in
    // run's module graph brings it back. CommonJS modules imported from ES modules land in require.cache, koffi's too: seen
    // there, the check works; Node's own modules are in process.moduleLoadList.
    const run = join(dirname(BIN), 'run.js');
    const probe = spawnSync(
      process.execPath,
      [
        '--input-type=module',
        '-e',
        `import { createRequire } from 'node:module';
await import(${JSON.stringify(run)});
const cache = Object.keys(createRequire(import.meta.url).cache);
const builtins = process.moduleLoadList;
console.log(JSON.stringify({ koffi: cache.some((k) => k.includes('/koffi')), promClient: cache.some((k) => k.includes('/prom-client/')), fs: builtins.includes('NativeModule fs'), crypto: builtins.includes('NativeModule crypto'), workerThreads: builtins.includes('NativeModule worker_threads') }));`,
      ],
      { encoding: 'utf8', timeout: 20_000 },
    );
    assert.equal(probe.status, 0, probe.stderr);
    assert.deepEqual(JSON.parse(probe.stdout), {
      koffi: true,
      promClient: false,
      fs: true,
      crypto: false,
      workerThreads: false,
    });
  });

  test('--help, bad options and an empty unit directory', () => {
    const help = spawnSync(process.execPath, [BIN, 'run', '--help'], { encoding: 'utf8' });
    assert.equal(help.status, 0);
    assert.match(help.stdout, /^Usage: sockunit run /);
    assert.match(help.stdout, /--mptcp-fallback/);
    const bad = spawnSync(process.execPath, [BIN, 'run', '--log-format=xml'], { encoding: 'utf8' });
    assert.equal(bad.status, 2);
    assert.match(bad.stderr, /--log-format=xml: expected text or json/);
    const dir = tempDir('empty');
    try {
      const empty = spawnSync(process.execPath, [BIN, 'run', dir], { encoding: 'utf8', timeout: 10_000 });
      assert.equal(empty.status, 1);
      assert.match(empty.stderr, /No socket units found in /);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("no unit directory: sockunit says so and takes over the host's units only with --system", () => {
    const env = { ...process.env };
    delete env.SYSTEMD_UNIT_PATH;
    const run = (args: string[], extra: NodeJS.ProcessEnv = {}) =>
      spawnSync(process.execPath, [BIN, 'run', ...args], {
        encoding: 'utf8',
        timeout: 10_000,
        env: { ...env, ...extra },
      });
    const bare = run([]);
    assert.equal(bare.status, 2);
    assert.match(
      bare.stderr,
      /^sockunit run: no unit directory given\. Name one .* --system for systemd's system unit path/,
    );
    assert.doesNotMatch(bare.stderr, /Listening on/, 'no host unit was opened');
    const named = run(['ssh.socket']);
    assert.equal(named.status, 2, 'a unit name alone does not pick the host path either');
    assert.match(named.stderr, /no unit directory given to find ssh\.socket in/);
    // --system reads the host's path as systemd computes it; $SYSTEMD_UNIT_PATH points it at an
    // empty directory here, so the host's real units stay untouched.
    const dir = tempDir('system');
    try {
      const system = run(['--system'], { SYSTEMD_UNIT_PATH: dir });
      assert.equal(system.status, 1);
      assert.match(system.stderr, new RegExp(`No socket units found in ${dir}\\.`));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('a directory that does not exist, a missing -p directory and unknown options are usage errors (exit 2)', () => {
    const run = (...args: string[]) =>
      spawnSync(process.execPath, [BIN, 'run', ...args], { encoding: 'utf8', timeout: 10_000 });
    const typo = run('examples/unitz');
    assert.equal(typo.status, 2);
    assert.match(
      typo.stderr,
      /^sockunit run: examples\/unitz: no such directory or unit file; give a unit directory/,
    );
    assert.doesNotMatch(typo.stderr, /not a valid unit name/);
    const p = run('-p', '/nonexistent/units');
    assert.equal(p.status, 2);
    assert.match(p.stderr, /^sockunit run: --unit-path \/nonexistent\/units: the directory does not exist\n/);
    const bogus = run('--bogus');
    assert.equal(bogus.status, 2);
    assert.equal(
      bogus.stderr,
      "sockunit run: unknown option '--bogus'\nUsage: sockunit run [OPTIONS] [DIR|UNIT]...\nRun 'sockunit help run' for every option.\n",
    );
    assert.match(run('--unit-pat', '.').stderr, /unknown option '--unit-pat'; did you mean --unit-path\?/);
    const help = spawnSync(process.execPath, [BIN, 'help', 'run'], { encoding: 'utf8' });
    assert.equal(help.status, 0);
    assert.equal(help.stdout, run('--help').stdout, "'sockunit help run' is 'sockunit run --help'");
    const unknown = spawnSync(process.execPath, [BIN, 'help', 'stauts'], { encoding: 'utf8' });
    assert.equal(unknown.status, 2);
    assert.match(unknown.stderr, /unknown command 'stauts'; did you mean status\?/);
  });

  test('every socket unit failing to listen ends the run with exit 1; a unit file path runs that unit', async () => {
    const dir = tempDir('none-listening');
    try {
      // 192.0.2.0/24 (TEST-NET-1) is on no interface: bind fails with EADDRNOTAVAIL.
      writeFileSync(join(dir, 'z.socket'), '[Socket]\nListenStream=192.0.2.7:80\n');
      writeFileSync(join(dir, 'z.service'), '[Service]\nExecStart=/bin/true\n');
      writeFileSync(join(dir, 'y.socket'), '[Socket]\nListenStream=127.0.0.1:1\nAcept=yes\n');
      writeFileSync(join(dir, 'y.service'), '[Service]\nExecStart=/bin/true\n');
      const r = spawnSync(
        process.execPath,
        [BIN, 'run', join(dir, 'z.socket'), '--control-socket', join(dir, 'c.sock')],
        { encoding: 'utf8', timeout: 15_000 },
      );
      assert.equal(r.status, 1, r.stderr);
      assert.match(r.stderr, /z\.socket: Failed to create listening socket .*EADDRNOTAVAIL/);
      assert.match(
        r.stderr,
        /sockunit: 0 of 1 socket units listening: every one failed \(see the errors above\); nothing to serve\./,
      );
      assert.doesNotMatch(r.stderr, /y\.socket/, 'only the unit named by its path ran');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('a misspelt key in a unit gets "did you mean" in run\'s log', async () => {
    const port = await freePort();
    const m = await start({
      units: {
        't.socket': `[Socket]\nListenStream=127.0.0.1:${port}\nAcept=yes\n`,
        't.service': '[Service]\nExecStart=/bin/true\n',
      },
    });
    assert.equal(
      m.matching(/Unknown key name 'Acept' in section \[Socket\], ignoring; did you mean Accept=\?$/).length,
      1,
      m.log,
    );
  });

  test('a named unit runs alone (--unit-path accepted alongside the directory)', async () => {
    const dir = tempDir('named');
    const a = await freePort();
    const b = await freePort();
    writeFileSync(join(dir, 'a.socket'), `[Socket]\nListenStream=127.0.0.1:${a}\n`);
    writeFileSync(join(dir, 'a.service'), '[Service]\nExecStart=/bin/true\n');
    writeFileSync(join(dir, 'b.socket'), `[Socket]\nListenStream=127.0.0.1:${b}\n`);
    writeFileSync(join(dir, 'b.service'), '[Service]\nExecStart=/bin/true\n');
    const m = await start({ dir, units: {}, args: ['--unit-path', dir, 'b'] });
    await m.waitFor(/^sockunit: 1 of 1 socket units listening\.$/);
    assert.equal(m.matching(/^Listening on b\.socket/).length, 1);
    assert.equal(m.matching(/^Listening on a\.socket/).length, 0, 'a.socket was not named');
    await assert.rejects(connectTcp(a), { code: 'ECONNREFUSED' });
    (await connectTcp(b)).destroy();
  });

  test('--log-format=json: every line is one JSON object with time, level, unit and message', async () => {
    const port = await freePort();
    const m = await start({
      units: {
        'j.socket': `[Socket]\nListenStream=127.0.0.1:${port}\nSocketProtocol=mptcp\n`,
        'j.service': "[Service]\nExecStart=/bin/sh -c 'echo from-the-service'\n",
      },
      args: ['--log-format=json'],
      ready: /socket units listening/,
    });
    (await connectTcp(port)).destroy();
    await m.waitFor(/Deactivated successfully/);
    const { code } = await m.stop('SIGTERM');
    assert.equal(code, 0);
    const records = m.lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    for (const r of records) {
      assert.equal(typeof r.time, 'string');
      assert.ok(['debug', 'info', 'notice', 'warning', 'error'].includes(r.level as string));
      assert.equal(typeof r.message, 'string');
    }
    const listening = records.find((r) => String(r.message).startsWith('Listening on j.socket'));
    assert.deepEqual(listening?.fields, { listen: `127.0.0.1:${port}`, protocol: 'mptcp' });
    assert.equal(listening?.unit, 'j.socket');
    const output = records.find((r) => r.message === 'from-the-service');
    assert.equal(output?.unit, 'j.service');
    assert.equal(typeof output?.pid, 'number');
  });

  test('SIGHUP keeps unchanged listeners open (no refusal in a connect loop), re-opens changed ones, closes removed ones', async (t) => {
    const keep = await freePort();
    const change1 = await freePort();
    const change2 = await freePort();
    const removed = await freePort();
    const service = "[Service]\nExecStart=/bin/sh -c 'echo x >&3'\n";
    const m = await start({
      units: {
        'keep.socket': `[Socket]\nListenStream=127.0.0.1:${keep}\nAccept=yes\nTriggerLimitBurst=0\n`,
        'keep@.service': service,
        'change.socket': `[Socket]\nListenStream=127.0.0.1:${change1}\nAccept=yes\n`,
        'change@.service': service,
        'gone.socket': `[Socket]\nListenStream=127.0.0.1:${removed}\nAccept=yes\n`,
        'gone@.service': service,
      },
    });
    assert.equal(await exchange(change1), 'x\n');
    assert.equal(await exchange(removed), 'x\n');

    // Edit the units, then reload several times while a client connects in a loop.
    writeFileSync(join(m.dir, 'change.socket'), `[Socket]\nListenStream=127.0.0.1:${change2}\nAccept=yes\n`);
    unlinkSync(join(m.dir, 'gone.socket'));
    let stop = false;
    let ok = 0;
    const failures: string[] = [];
    const loop = (async () => {
      const deadline = Date.now() + 20_000;
      for (let i = 0; i < 2000 && !stop && Date.now() < deadline; i++) {
        try {
          const reply = await exchange(keep);
          if (reply === 'x\n') ok++;
          else failures.push(`reply ${JSON.stringify(reply)}`);
        } catch (err) {
          failures.push((err as Error).message);
        }
      }
    })();
    const reloads = 5;
    for (let i = 0; i < reloads; i++) {
      await sleep(150);
      const from = m.lines.length;
      m.signal('SIGHUP');
      await m.waitFor(/^Reloading finished\.$/, 5000, from);
    }
    await sleep(150);
    stop = true;
    await loop;
    t.diagnostic(`${ok} connections across ${reloads} reloads, ${failures.length} failed`);
    assert.deepEqual(failures, [], 'no connection was refused or dropped during the reloads');
    assert.ok(ok > 20, `the loop made progress (${ok})`);

    assert.equal(await exchange(change2), 'x\n', 'the changed unit listens on its new port');
    await assert.rejects(connectTcp(change1), { code: 'ECONNREFUSED' }, 'its old port is closed');
    await assert.rejects(connectTcp(removed), { code: 'ECONNREFUSED' }, 'the removed unit is closed');
    assert.ok(m.matching(/^Stopped gone\.socket \(removed\)\.$/).length === 1, m.log);
    // Accept=yes instance numbers go on across reloads (systemd keeps n_accepted).
    const numbers = m
      .matching(/^Started keep@\d+-/)
      .map((l) => Number(/^Started keep@(\d+)-/.exec(l)?.[1]))
      .sort((a, b) => a - b);
    assert.equal(new Set(numbers).size, numbers.length, 'no instance number repeats');
  });

  test('SIGTERM stops the service, closes every listener, leaves no process and no socket file or symlink', async () => {
    const dir = tempDir('term');
    const marker = `${60 + (process.pid % 1000) / 1000}`;
    const m = await start({
      dir,
      units: {
        'tidy.socket': `[Socket]\nListenStream=${dir}/tidy.sock\nSymlinks=${dir}/link.sock\nRemoveOnStop=yes\n`,
        'tidy.service': `[Service]\nExecStart=/bin/sh -c 'echo ready; exec sleep ${marker}'\n`,
        'tcp.socket': `[Socket]\nListenStream=127.0.0.1:${await freePort()}\n`,
        'tcp.service': '[Service]\nExecStart=/bin/true\n',
      },
    });
    assert.ok(lstatSync(`${dir}/link.sock`).isSymbolicLink(), 'Symlinks= made the link');
    execFileSync(process.execPath, [
      '-e',
      `require('net').connect(${JSON.stringify(`${dir}/tidy.sock`)}).on('connect', function () { this.destroy(); })`,
    ]);
    await m.waitFor(/^tidy\.service\[\d+\]: ready$/);
    const pids = processesWith(`sleep ${marker}`);
    assert.equal(pids.length, 1, 'the service runs');
    const { code } = await m.stop('SIGTERM');
    assert.equal(code, 0, m.log);
    assert.ok(m.matching(/^Stopped tidy\.service\.$/).length === 1, m.log);
    await waitUntil('no service process left', () =>
      processesWith(`sleep ${marker}`).length === 0 ? true : undefined,
    );
    assert.equal(existsSync(`${dir}/tidy.sock`), false, 'RemoveOnStop= removed the socket file');
    assert.equal(existsSync(`${dir}/link.sock`), false, 'and the symlink');
    let linkGone = false;
    try {
      lstatSync(`${dir}/link.sock`);
    } catch {
      linkGone = true;
    }
    assert.ok(linkGone, 'no dangling symlink');
  });

  test('a connection or a SIGHUP arriving while SIGTERM waits for a slow service starts nothing', async () => {
    const port = await freePort();
    const marker = `${50 + (process.pid % 1000) / 1000}`;
    const m = await start({
      units: {
        'slow.socket': `[Socket]\nListenStream=127.0.0.1:${port}\nAccept=yes\n`,
        'slow@.service': `[Service]\nTimeoutStopSec=2s\nExecStart=/bin/sh -c 'trap "" TERM; echo up; exec sleep ${marker}'\n`,
      },
    });
    const first = await connectTcp(port);
    await m.waitFor(/^slow@0-.*\]: up$/);
    const from = m.lines.length;
    m.signal('SIGTERM');
    await m.waitFor(/^Received SIGTERM, stopping\.$/, 5000, from);
    m.signal('SIGHUP');
    await m.waitFor(/^Not reloading: stopping\.$/, 5000, from);
    const late = await connectTcp(port).catch(() => undefined);
    const { code } = await m.stop(null);
    first.destroy();
    late?.destroy();
    assert.equal(code, 0);
    assert.equal(m.matching(/^Started slow@1-/).length, 0, `nothing started during shutdown:\n${m.log}`);
    await waitUntil('no service process left', () =>
      processesWith(`sleep ${marker}`).length === 0 ? true : undefined,
    );
  });

  test('a signal sent the moment the listening line appears is handled (10 runs)', async () => {
    const dir = tempDir('race');
    writeFileSync(join(dir, 'r.socket'), `[Socket]\nListenStream=127.0.0.1:${await freePort()}\n`);
    writeFileSync(join(dir, 'r.service'), '[Service]\nExecStart=/bin/true\n');
    try {
      for (let i = 0; i < 10; i++) {
        const m = await start({ dir, units: {} });
        m.signal(i % 2 === 0 ? 'SIGINT' : 'SIGTERM');
        const { code, signal } = await m.stop(null);
        assert.deepEqual({ code, signal }, { code: 0, signal: null }, `run ${i}:\n${m.log}`);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('SIGINT is a clean stop too (exit 0)', async () => {
    const m = await start({
      units: {
        'i.socket': `[Socket]\nListenStream=127.0.0.1:${await freePort()}\n`,
        'i.service': '[Service]\nExecStart=/bin/true\n',
      },
    });
    const { code } = await m.stop('SIGINT');
    assert.equal(code, 0);
    await m.waitFor(/^sockunit: stopped\.$/);
  });
});
