// openssh-server as Debian ships it (ssh.socket, ssh.service: RuntimeDirectory=sshd,
// ExecStartPre=sshd -t, Type=notify) under `sockunit run`, with only the port changed by a
// drop-in: the first connection starts sshd with the listening socket, /run/sshd (which must not
// exist before) is created for it, and a real ssh client logs in with a key and runs a command.
// When the manager stops, /run/sshd goes again. .ci/run installs openssh-server without starting
// it, so in CI nothing else owns /run/sshd.

import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import {
  chmodSync,
  chownSync,
  existsSync,
  mkdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { freePort, managerSuite, rootUnavailable, tempDir, waitUntil } from './fixtures/manager/harness.js';

const SSHD = '/usr/sbin/sshd';
const UNITS = ['/lib/systemd/system', '/usr/lib/systemd/system'].find((d) =>
  existsSync(join(d, 'ssh.socket')),
);
const USER = `sockunit-ssh-${process.pid}`;

/** Why this cannot run here; in CI a missing package or a running sshd is a failure. */
function unavailable(): string | undefined {
  const root = rootUnavailable();
  if (root) return root;
  let why: string | undefined;
  if (!existsSync(SSHD) || !UNITS) why = 'openssh-server is not installed (apt-get install openssh-server)';
  else if (!existsSync('/usr/bin/ssh')) why = 'openssh-client is not installed';
  else if (existsSync('/run/sshd'))
    why = '/run/sshd exists already (an sshd runs here): it must be sockunit that creates it';
  if (why && process.env.CI)
    assert.fail(`${why} — .ci/run should have installed openssh-server without starting it`);
  return why;
}

describe('openssh-server, as Debian ships it, under sockunit run', () => {
  const suite = managerSuite('openssh');
  after(() => {
    spawnSync('userdel', [USER], { stdio: 'ignore' });
  });

  test('starts on a loopback port given by a drop-in and lets an ssh client log in', async (t) => {
    const why = unavailable();
    if (why) return t.skip(why);
    const port = await freePort();
    // A throwaway user with a key, whose home is a temp directory (StrictModes wants it its own).
    const home = tempDir('openssh-home');
    after(() => rmSync(home, { recursive: true, force: true }));
    spawnSync('userdel', [USER], { stdio: 'ignore' });
    execFileSync('useradd', ['--system', '--no-create-home', '--home-dir', home, '--shell', '/bin/sh', USER]);
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(home, 'id')]);
    mkdirSync(join(home, '.ssh'), { mode: 0o700 });
    writeFileSync(join(home, '.ssh', 'authorized_keys'), readFileSync(join(home, 'id.pub')), { mode: 0o600 });
    const uid = Number(execFileSync('id', ['-u', USER], { encoding: 'utf8' }).trim());
    chmodSync(home, 0o755);
    for (const p of [home, join(home, '.ssh'), join(home, '.ssh', 'authorized_keys')]) chownSync(p, uid, uid);

    const m = await suite.start(
      (dir) => {
        mkdirSync(join(dir, 'ssh.socket.d'));
        writeFileSync(
          join(dir, 'ssh.socket.d', 'port.conf'),
          `[Socket]\nListenStream=\nListenStream=127.0.0.1:${port}\n`,
        );
        return {};
      },
      { args: ['--unit-path', UNITS as string, 'ssh.socket'], readyMs: 20_000 },
    );
    assert.equal(existsSync('/run/sshd'), false, 'nothing before the first connection');
    const ssh = spawnSync(
      'ssh',
      [
        '-i',
        join(home, 'id'),
        '-p',
        String(port),
        '-o',
        'BatchMode=yes',
        '-o',
        'StrictHostKeyChecking=no',
        '-o',
        'UserKnownHostsFile=/dev/null',
        '-o',
        'ConnectTimeout=20',
        `${USER}@127.0.0.1`,
        'echo "hello from $(id -un)"',
      ],
      { encoding: 'utf8', timeout: 30_000 },
    );
    assert.equal(ssh.status, 0, `${ssh.stderr}\n${m.log}`);
    assert.equal(ssh.stdout, `hello from ${USER}\n`);
    const sshd = statSync('/run/sshd');
    assert.equal(sshd.uid, 0);
    assert.equal(sshd.mode & 0o7777, 0o755, 'RuntimeDirectoryMode=0755');
    await m.waitFor(/^Started OpenBSD Secure Shell server \(ssh\.service\)\.$/);

    // The host key it offers is this machine's own.
    const scan = spawnSync('ssh-keyscan', ['-t', 'ed25519', '-p', String(port), '127.0.0.1'], {
      encoding: 'utf8',
      timeout: 20_000,
    });
    const offered = scan.stdout.trim().split(/\s+/).slice(-1)[0];
    const own = readFileSync('/etc/ssh/ssh_host_ed25519_key.pub', 'utf8').trim().split(/\s+/)[1];
    assert.equal(offered, own);

    await m.stop();
    await waitUntil('/run/sshd removed with the service', () => (existsSync('/run/sshd') ? undefined : true));
  });
});
