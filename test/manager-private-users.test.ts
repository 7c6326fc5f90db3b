// PrivateUsers= (manager/exec/private-users.ts), checked from inside real services: the process
// runs in a user namespace of its own whose maps the manager wrote (root and the service's user
// and group to themselves, setgroups denied), files of other users show as nobody, and root in
// the namespace cannot read a file of an unmapped user that root on the host can; with
// ExecStartPre= each process gets its namespace; the activated port is still served.

import assert from 'node:assert/strict';
import { chmodSync, chownSync, mkdtempSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { exchange, freePort, managerSuite, SYSTEM_PYTHON } from './fixtures/manager/harness.js';
import { statusOf } from './fixtures/manager/status.js';
import { serviceResults, skipWithoutRoot, triggeredPythonService } from './helpers/service-results.js';

const skip = skipWithoutRoot('writing the maps of a user namespace needs root');
const results = serviceResults;

/** A uid no account has: a file it owns is of an unmapped user in the service's namespace. */
const STRANGER = 4242;

describe('sockunit run: PrivateUsers=', () => {
  const suite = managerSuite('privusers');
  const made: string[] = [];
  after(() => {
    for (const d of made) rmSync(d, { recursive: true, force: true });
  });
  const strangersFile = () => {
    const dir = mkdtempSync(join('/run', 'sockunit-test-userns-'));
    made.push(dir);
    chmodSync(dir, 0o755); // User=nobody stats the file
    const file = join(dir, 'private');
    writeFileSync(file, 'theirs\n', { mode: 0o600 });
    chownSync(file, STRANGER, STRANGER);
    return file;
  };
  const check = (file: string) =>
    [
      'print("R uidmap=" + " / ".join(" ".join(l.split()) for l in open("/proc/self/uid_map")), flush=True)',
      'print("R gidmap=" + " / ".join(" ".join(l.split()) for l in open("/proc/self/gid_map")), flush=True)',
      'print("R setgroups=" + open("/proc/self/setgroups").read().strip(), flush=True)',
      'print("R ids=%d/%d" % (os.getuid(), os.getgid()), flush=True)',
      `print("R owner=%d" % os.stat(${JSON.stringify(file)}).st_uid, flush=True)`,
      'try:',
      `    open(${JSON.stringify(file)}).read()`,
      '    print("R read=yes", flush=True)',
      'except OSError as e:',
      '    print("R read=%s" % e.strerror, flush=True)',
      'print("R userns=" + os.readlink("/proc/self/ns/user"), flush=True)',
    ].join('\n');

  test('root in the namespace: only root mapped, an unmapped user’s file unreadable; the port is served', async (t) => {
    if (skip(t)) return;
    const file = strangersFile();
    const port = await freePort();
    const script = [
      'import os, socket',
      check(file),
      'listener = socket.socket(fileno=3)',
      'conn, _ = listener.accept()',
      'conn.sendall(b"served from the namespace\\n")',
      'conn.close()',
    ].join('\n');
    const m = await suite.start((dir) => {
      writeFileSync(join(dir, 'userns.py'), script);
      return {
        'userns.socket': `[Socket]\nListenStream=127.0.0.1:${port}\n`,
        'userns.service': [
          '[Service]',
          'PrivateUsers=yes',
          `ExecStartPre=${SYSTEM_PYTHON} -c 'import os; print("R pre=" + os.readlink("/proc/self/ns/user"), flush=True)'`,
          `ExecStart=${SYSTEM_PYTHON} ${dir}/userns.py`,
          '',
        ].join('\n'),
      };
    });
    const reply = await exchange(port);
    assert.equal(reply, 'served from the namespace\n', m.log);
    await m.waitFor(/userns\.service\[\d+\]: R userns=/, 10_000);
    const r = results(m.log, 'userns.service');
    assert.equal(r.get('uidmap'), '0 0 1', `only root is mapped:\n${m.log}`);
    assert.equal(r.get('gidmap'), '0 0 1');
    assert.equal(r.get('setgroups'), 'deny');
    assert.equal(r.get('ids'), '0/0');
    assert.equal(r.get('owner'), '65534', 'a file of an unmapped user shows as nobody');
    assert.equal(r.get('read'), 'Permission denied', 'root in the namespace has no power over it');
    const host = readlinkSync('/proc/self/ns/user');
    assert.notEqual(r.get('userns'), host, 'a user namespace of its own');
    assert.notEqual(r.get('pre'), host, 'ExecStartPre= gets one too');
    assert.notEqual(r.get('pre'), r.get('userns'), 'each process its own, as systemd makes them');
  });

  test('User=nobody: root and the service’s user and group mapped, the process runs as that user', async (t) => {
    if (skip(t)) return;
    const file = strangersFile();
    const port = await freePort();
    const m = await triggeredPythonService(suite, {
      unit: 'nob',
      port,
      script: `import os\n${check(file)}\n`,
      keys: ['Type=oneshot', 'User=nobody', 'PrivateUsers=yes'],
      readyKey: 'userns',
    });
    const r = results(m.log, 'nob.service');
    assert.equal(r.get('uidmap'), '0 0 1 / 65534 65534 1', `root and nobody mapped:\n${m.log}`);
    assert.equal(r.get('gidmap'), '0 0 1 / 65534 65534 1');
    assert.equal(r.get('ids'), '65534/65534', 'User= applied inside the namespace');
    assert.equal(r.get('read'), 'Permission denied');
    assert.notEqual(r.get('userns'), readlinkSync('/proc/self/ns/user'));
  });
  test('a manager without capabilities cannot map root: strict fails with 217/USER naming PrivateUsers=; best-effort runs without it and says so', async (t) => {
    if (skip(t)) return;
    const port = await freePort();
    const port2 = await freePort();
    const m = await suite.start(
      () => ({
        'capless.socket': `[Socket]\nListenStream=127.0.0.1:${port}\n`,
        'capless.service': ['[Service]', 'PrivateUsers=yes', 'ExecStart=/bin/echo ran', ''].join('\n'),
        'loose.socket': `[Socket]\nListenStream=127.0.0.1:${port2}\n`,
        'loose.service': [
          '[Service]',
          'Type=oneshot',
          'RemainAfterExit=yes',
          'PrivateUsers=yes',
          'X-Sockunit-Sandbox=best-effort',
          "ExecStart=/bin/sh -c 'echo R userns=$(readlink /proc/self/ns/user)'",
          '',
        ].join('\n'),
      }),
      // Root without capabilities, as in an unprivileged container: since Linux 5.12 a map of
      // uid 0 needs CAP_SETFCAP, so the kernel refuses the manager's write.
      { wrapper: ['setpriv', '--bounding-set=-all', '--inh-caps=-all', '--'] },
    );
    await suite.trigger(port);
    await m.waitFor(
      /capless\.service: PrivateUsers=: cannot write the uid\/gid maps of pid \d+: EPERM/,
      10_000,
    );
    await m.waitFor(
      /capless\.service\[\d+\]: PrivateUsers=: the manager did not write the uid and gid maps: errno 32/,
      10_000,
    );
    await m.waitFor(/capless\.service.*status=217\/USER/, 10_000);
    assert.doesNotMatch(m.log, /capless\.service\[\d+\]: ran/, 'the service never ran');
    await suite.trigger(port2);
    await m.waitFor(/loose\.service\[\d+\]: R userns=/, 10_000);
    assert.match(
      m.log,
      /loose\.service: sandbox best-effort: running WITHOUT PrivateUsers= \(the manager lacks CAP_SETGID, CAP_SETUID, CAP_SETFCAP/,
    );
    assert.equal(results(m.log, 'loose.service').get('userns'), readlinkSync('/proc/self/ns/user'));
    const s = statusOf(m, 'loose.service') as { sandboxLeftOut?: string[] };
    assert.match((s.sandboxLeftOut ?? []).join(), /PrivateUsers=/);
  });
});
