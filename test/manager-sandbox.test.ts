// Sandboxing keys (systemd.exec(5)) checked from inside real services started by `sockunit run`:
// a private /tmp shared with ExecStartPre=, ProtectSystem=strict with a ReadWritePaths= hole,
// InaccessiblePaths=, PrivateNetwork= (only lo, and the activated port still served), seccomp
// (SystemCallFilter=~@mount, RestrictAddressFamilies=AF_UNIX), the same keys on the accept
// thread, and a manager without CAP_SYS_ADMIN: strict fails with 226/NAMESPACE, best-effort
// runs and says what it left out.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import {
  exchange,
  freePort,
  managerSuite,
  rootUnavailable,
  SYSTEM_PYTHON,
  waitUntil,
} from './fixtures/manager/harness.js';
import { statusOf } from './fixtures/manager/status.js';

const skipWhy = rootUnavailable();
const skip = (t: { skip(m: string): void }) => {
  if (skipWhy === undefined) return false;
  if (process.env.CI) assert.fail(`${skipWhy} — CI runs as root`);
  t.skip(`${skipWhy}: namespaces and seccomp filters need root`);
  return true;
};

/** Lines the service printed, `R key=value`, as a map (from the manager's log). */
function results(log: string, unit: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of log.split('\n')) {
    const m = new RegExp(`${unit.replace('.', '\\.')}\\[\\d+\\]: R (\\S+)=(.*)$`).exec(line);
    if (m) out.set(m[1] as string, m[2] as string);
  }
  return out;
}

describe('sockunit run: sandboxing', () => {
  const suite = managerSuite('sandbox');
  const made: string[] = [];
  after(() => {
    for (const d of made) rmSync(d, { recursive: true, force: true });
  });
  const hostDir = (prefix: string) => {
    // Outside /tmp (private to the service) and writable by the test only.
    const d = mkdtempSync(join('/run', prefix));
    made.push(d);
    return d;
  };

  test('PrivateTmp= shared with ExecStartPre=, ProtectSystem=strict with ReadWritePaths=, InaccessiblePaths=', async (t) => {
    if (skip(t)) return;
    const port = await freePort();
    const rw = hostDir('sockunit-test-rw-');
    const secretDir = hostDir('sockunit-test-secret-');
    const secret = join(secretDir, 'secret');
    writeFileSync(secret, 'topsecret\n');
    const marker = `/tmp/sockunit-host-marker-${process.pid}`;
    writeFileSync(marker, 'host');
    made.push(marker);
    const check = [
      'echo "R shared=$(cat /tmp/from-pre)"',
      `test -e ${marker} && echo R hostTmp=visible || echo R hostTmp=hidden`,
      'touch /usr/sockunit-x 2>/dev/null && echo R usr=writable || echo R usr=read-only',
      'touch /etc/sockunit-x 2>/dev/null && echo R etc=writable || echo R etc=read-only',
      `touch ${rw}/written && echo R rw=writable || echo R rw=read-only`,
      'touch /tmp/x && echo R tmp=writable || echo R tmp=read-only',
      `echo "R secretAsRoot=[$(cat ${secret} 2>&1)]"`,
      `setpriv --reuid=65534 --regid=65534 --clear-groups cat ${secret} >/dev/null 2>&1 && echo R secretAsNobody=read || echo R secretAsNobody=denied`,
      'echo R done=1',
    ].join('; ');
    const m = await suite.start(() => ({
      'box.socket': `[Socket]\nListenStream=127.0.0.1:${port}\n`,
      'box.service': [
        '[Service]',
        'Type=oneshot',
        'PrivateTmp=yes',
        'ProtectSystem=strict',
        `ReadWritePaths=${rw}`,
        `InaccessiblePaths=${secret}`,
        "ExecStartPre=/bin/sh -c 'echo from-pre > /tmp/from-pre'",
        `ExecStart=/bin/sh -c '${check}'`,
        '',
      ].join('\n'),
    }));
    await suite.trigger(port);
    await m.waitFor(/box\.service\[\d+\]: R done=1/, 10_000);
    const r = results(m.log, 'box.service');
    assert.equal(r.get('shared'), 'from-pre', `ExecStartPre= and ExecStart= share /tmp:\n${m.log}`);
    assert.equal(r.get('hostTmp'), 'hidden', "the host's /tmp is not visible");
    assert.equal(r.get('usr'), 'read-only');
    assert.equal(r.get('etc'), 'read-only');
    assert.equal(r.get('rw'), 'writable', 'ReadWritePaths= stays writable');
    assert.equal(r.get('tmp'), 'writable', 'the private /tmp is writable under strict');
    assert.equal(r.get('secretAsRoot'), '[]', 'the file reads as empty, its content hidden');
    assert.equal(r.get('secretAsNobody'), 'denied', 'and cannot be opened by another user');
    assert.ok(existsSync(join(rw, 'written')));
    assert.ok(!existsSync('/usr/sockunit-x') && !existsSync('/etc/sockunit-x'));
    // The private directories go when the unit stops.
    await m.waitFor(/box\.service.*(Deactivated|dead|Finished)/i, 10_000).catch(() => undefined);
    await suite.disposeAll();
    assert.deepEqual(
      readdirSync('/tmp').filter((n) => n.startsWith('sockunit-private-box.service-')),
      [],
      'the private /tmp is removed when the unit stops',
    );
  });

  test('PrivateNetwork= sees only lo and serves the activated port; SystemCallFilter=~@mount; RestrictAddressFamilies=AF_UNIX', async (t) => {
    if (skip(t)) return;
    const port = await freePort();
    const script = [
      'import ctypes, os, socket',
      '# /proc/self/net is the network namespace of this process (ip(8) would need AF_NETLINK).',
      'links = open("/proc/self/net/dev").read().splitlines()[2:]',
      'print("R links=" + ",".join(sorted(l.split(":")[0].strip() for l in links)), flush=True)',
      'libc = ctypes.CDLL(None, use_errno=True)',
      'rc = libc.mount(b"none", b"/mnt", b"tmpfs", 0, None)',
      'print("R mount=%d/%s" % (rc, os.strerror(ctypes.get_errno())), flush=True)',
      'try:',
      '    socket.socket(socket.AF_INET, socket.SOCK_STREAM)',
      '    print("R inet=allowed", flush=True)',
      'except OSError as e:',
      '    print("R inet=%s" % e.strerror, flush=True)',
      'socket.socket(socket.AF_UNIX).close()',
      'print("R unix=allowed", flush=True)',
      'listener = socket.socket(fileno=3)',
      'conn, _ = listener.accept()',
      'conn.sendall(b"served from the sandbox\\n")',
      'conn.close()',
    ].join('\n');
    const m = await suite.start((dir) => {
      writeFileSync(join(dir, 'net.py'), script);
      return {
        'net.socket': `[Socket]\nListenStream=127.0.0.1:${port}\n`,
        'net.service': [
          '[Service]',
          'PrivateNetwork=yes',
          'SystemCallFilter=~@mount',
          'SystemCallErrorNumber=EPERM',
          'RestrictAddressFamilies=AF_UNIX',
          `ExecStart=${SYSTEM_PYTHON} ${dir}/net.py`,
          '',
        ].join('\n'),
      };
    });
    const reply = await exchange(port);
    assert.equal(reply, 'served from the sandbox\n', m.log);
    await m.waitFor(/net\.service\[\d+\]: R unix=allowed/, 10_000);
    const r = results(m.log, 'net.service');
    assert.equal(r.get('links'), 'lo', `only lo in the private network namespace:\n${m.log}`);
    assert.match(r.get('mount') ?? '', /^-1\/Operation not permitted$/, 'mount(2) fails with EPERM');
    assert.equal(r.get('inet'), 'Address family not supported by protocol');
    assert.equal(r.get('unix'), 'allowed');
  });

  test('Accept=yes on the accept thread: every per-process key at once, in every instance', async (t) => {
    if (skip(t)) return;
    const port = await freePort();
    const keys = [
      'ProtectSystem=strict',
      'ProtectHome=yes',
      'PrivateTmp=disconnected',
      'PrivateDevices=yes',
      'PrivateMounts=yes',
      'ProtectKernelTunables=yes',
      'ProtectKernelModules=yes',
      'ProtectKernelLogs=yes',
      'ProtectControlGroups=yes',
      'ProtectClock=yes',
      'ProtectHostname=yes',
      'ProtectProc=invisible',
      'ProcSubset=pid',
      'LockPersonality=yes',
      'MemoryDenyWriteExecute=yes',
      'RestrictNamespaces=yes',
      'RestrictRealtime=yes',
      'RestrictSUIDSGID=yes',
      'SystemCallArchitectures=native',
      // An allow-list: it is installed last, or the filters after it could not be installed.
      'SystemCallFilter=@system-service',
      'RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6',
    ];
    const script = [
      'touch /usr/x 2>/dev/null && echo usr=writable || echo usr=read-only',
      'echo tmp=$(ls -A /tmp | wc -l)',
      'echo dev=$(ls /dev | tr "\n" " ")',
      'test -e /proc/sys/kernel && echo procsys=visible || echo procsys=hidden',
    ].join('; ');
    // In a file outside /tmp (private here): `$(…)` on the command line would keep the main path.
    const scriptFile = join(hostDir('sockunit-test-script-'), 'check.sh');
    writeFileSync(scriptFile, `${script}\n`);
    const m = await suite.start(
      () => ({
        'inst.socket': `[Socket]\nListenStream=127.0.0.1:${port}\nAccept=yes\n`,
        'inst@.service': [
          '[Service]',
          'StandardInput=socket',
          ...keys,
          `ExecStart=/bin/sh ${scriptFile}`,
          '',
        ].join('\n'),
      }),
      { args: ['--log-level=debug'] },
    );
    for (const reply of [await exchange(port), await exchange(port)]) {
      const lines = new Map(
        reply
          .trim()
          .split('\n')
          .map((l) => l.split('=', 2) as [string, string]),
      );
      assert.equal(lines.get('usr'), 'read-only', `${reply}\n${m.log}`);
      assert.equal(lines.get('tmp'), '0', 'an empty private /tmp in each instance');
      const dev = (lines.get('dev') ?? '').trim().split(' ');
      assert.ok(
        dev.includes('null') && dev.includes('urandom') && dev.includes('pts'),
        `minimal /dev: ${dev}`,
      );
      assert.ok(
        !dev.includes('kmsg') && !dev.some((d) => /^(vd|sd|nvme|loop)/.test(d)),
        `no disks in /dev: ${dev}`,
      );
      assert.equal(lines.get('procsys'), 'hidden', 'ProcSubset=pid: /proc has process directories only');
    }
    assert.match(m.log, /inst\.socket: instances start on the accept thread/, m.log);
  });

  test("JoinsNamespaceOf=: a second unit sees the first one's private /tmp and network namespace", async (t) => {
    if (skip(t)) return;
    const [portA, portB] = [await freePort(), await freePort()];
    const m = await suite.start(() => ({
      'a.socket': `[Socket]\nListenStream=127.0.0.1:${portA}\n`,
      'a.service': [
        '[Service]',
        'PrivateTmp=yes',
        'PrivateNetwork=yes',
        "ExecStart=/bin/sh -c 'echo from-a > /tmp/shared; echo R netA=$(readlink /proc/self/ns/net); exec sleep 60'",
        '',
      ].join('\n'),
      'b.socket': `[Socket]\nListenStream=127.0.0.1:${portB}\n`,
      'b.service': [
        '[Unit]',
        'JoinsNamespaceOf=a.service',
        '[Service]',
        'Type=oneshot',
        'PrivateTmp=yes',
        'PrivateNetwork=yes',
        "ExecStart=/bin/sh -c 'echo R tmpB=$(cat /tmp/shared); echo R netB=$(readlink /proc/self/ns/net)'",
        '',
      ].join('\n'),
    }));
    await suite.trigger(portA);
    await m.waitFor(/a\.service\[\d+\]: R netA=/, 10_000);
    await suite.trigger(portB);
    await m.waitFor(/b\.service\[\d+\]: R netB=/, 10_000);
    const a = results(m.log, 'a.service');
    const b = results(m.log, 'b.service');
    assert.equal(b.get('tmpB'), 'from-a', `b.service reads a.service's /tmp:\n${m.log}`);
    assert.equal(b.get('netB'), a.get('netA'), 'one network namespace');
    assert.notEqual(a.get('netA'), readlinkSync('/proc/self/ns/net'), "not the host's");
  });

  test('IPCNamespacePath= joins the named IPC namespace', async (t) => {
    if (skip(t)) return;
    const port = await freePort();
    // An IPC namespace of its own, held by a sleeping process, for IPCNamespacePath= to join.
    const holder = spawn('unshare', ['--ipc', 'sleep', '60'], { stdio: 'ignore' });
    after(() => holder.kill('SIGKILL'));
    const nsPath = `/proc/${holder.pid}/ns/ipc`;
    await waitUntil('the namespace holder', () =>
      existsSync(nsPath) && readlinkSync(nsPath) !== readlinkSync('/proc/self/ns/ipc') ? true : undefined,
    );
    const m = await suite.start(() => ({
      'ipc.socket': `[Socket]\nListenStream=127.0.0.1:${port}\n`,
      'ipc.service': [
        '[Service]',
        'Type=oneshot',
        `IPCNamespacePath=${nsPath}`,
        "ExecStart=/bin/sh -c 'echo R ipc=$(readlink /proc/self/ns/ipc)'",
        '',
      ].join('\n'),
    }));
    await suite.trigger(port);
    await m.waitFor(/ipc\.service\[\d+\]: R ipc=/, 10_000);
    assert.equal(results(m.log, 'ipc.service').get('ipc'), readlinkSync(nsPath), m.log);
  });

  test('without CAP_SYS_ADMIN: strict fails with 226/NAMESPACE naming the key; best-effort runs and says what it left out', async (t) => {
    if (skip(t)) return;
    const port = await freePort();
    const port2 = await freePort();
    const m = await suite.start(
      () => ({
        'strict.socket': `[Socket]\nListenStream=127.0.0.1:${port}\n`,
        'strict.service': ['[Service]', 'PrivateTmp=yes', 'ExecStart=/bin/echo ran', ''].join('\n'),
        'loose.socket': `[Socket]\nListenStream=127.0.0.1:${port2}\n`,
        'loose.service': [
          '[Service]',
          'Type=oneshot',
          'RemainAfterExit=yes',
          'PrivateTmp=yes',
          'X-Sockunit-Sandbox=best-effort',
          "ExecStart=/bin/sh -c 'echo R ran=yes'",
          '',
        ].join('\n'),
      }),
      // Root without capabilities, as in an unprivileged container.
      { wrapper: ['setpriv', '--bounding-set=-all', '--inh-caps=-all', '--'] },
    );
    await suite.trigger(port);
    await m.waitFor(
      /strict\.service\[\d+\]: PrivateTmp=: cannot make a mount namespace \(unshare\): errno 1/,
      10_000,
    );
    await m.waitFor(/strict\.service.*status=226\/NAMESPACE/, 10_000);
    await suite.trigger(port2);
    await m.waitFor(/loose\.service\[\d+\]: R ran=yes/, 10_000);
    assert.match(m.log, /loose\.service: sandbox best-effort: running WITHOUT PrivateTmp= \(/);
    const s = statusOf(m, 'loose.service') as { sandboxLeftOut?: string[] };
    assert.match((s.sandboxLeftOut ?? []).join(), /PrivateTmp=/);
  });
});
