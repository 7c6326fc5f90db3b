// LISTEN_PIDFDID (systemd 259) for every process sockunit passes fds to: a service under
// `sockunit run` started from the main thread (Accept=no) and an Accept=yes instance started
// from the accept thread, and a command under `sockunit activate`. Each service checks the value
// against the inode id of its own pidfd (python3: os.pidfd_open + os.fstat), and the fds are
// taken by listenFds() in a Node service and by libsystemd (python3-systemd).

import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { kernelHasPidfdIds } from '../src/sys/listen-pid-helper.js';
import {
  BIN,
  connectTcp,
  freePort,
  managerSuite,
  pythonSystemdUnavailable,
  readReport,
  SYSTEM_PYTHON,
  tempDir,
} from './fixtures/manager/harness.js';

/** Reports, into argv[1], LISTEN_PID, LISTEN_PIDFDID, the inode id of its own pidfd, and how
 * many fds libsystemd's sd_listen_fds() takes (python3-systemd; null without it). */
const PIDFDID_PY = `
import json, os, sys, time
out = sys.argv[1]
own = os.fstat(os.pidfd_open(os.getpid())).st_ino
try:
    from systemd import daemon
    libsystemd = len(daemon.listen_fds(unset_environment=False))
except ImportError:
    libsystemd = None
report = {"pid": os.getpid(), "listen_pid": os.environ.get("LISTEN_PID"),
          "listen_pidfdid": os.environ.get("LISTEN_PIDFDID"), "own": str(own),
          "listen_fds": os.environ.get("LISTEN_FDS"), "libsystemd": libsystemd}
with open(out + ".tmp", "w") as f:
    json.dump(report, f)
os.rename(out + ".tmp", out)
if "--stay" in sys.argv:
    time.sleep(60)
`;

const ACTIVATION = new URL('../src/activation/index.js', import.meta.url).href;
const PIDFD = new URL('../src/sys/pidfd.js', import.meta.url).href;

/** A Node service: what listenFds() takes, and the LISTEN_PIDFDID it was given, into argv[2]. */
const LISTEN_FDS_MJS = `
import { renameSync, writeFileSync } from 'node:fs';
import { listenFds } from ${JSON.stringify(ACTIVATION)};
import { pidfdInodeId } from ${JSON.stringify(PIDFD)};
const out = process.argv[2];
const report = { pid: process.pid, listenPidfdid: process.env.LISTEN_PIDFDID ?? null };
try {
  report.fds = listenFds().map((f) => ({ fd: f.fd, kind: f.description.kind, listening: f.description.listening }));
} catch (err) {
  report.error = err.code ?? err.message;
}
report.own = String(pidfdInodeId(process.pid));
writeFileSync(out + '.tmp', JSON.stringify(report));
renameSync(out + '.tmp', out);
if (process.argv.includes('--stay')) setTimeout(() => {}, 60_000);
`;

interface PyReport {
  pid: number;
  listen_pid: string | null;
  listen_pidfdid: string | null;
  own: string;
  listen_fds: string | null;
  libsystemd: number | null;
}

interface NodeReport {
  pid: number;
  listenPidfdid: string | null;
  fds?: { fd: number; kind: string; listening?: boolean }[];
  error?: string;
  own: string;
}

const NO_PIDFS =
  'this kernel has no pidfs (Linux < 6.9): pidfds have no inode ids, LISTEN_PIDFDID is left out';

/** Outside CI, a kernel without pidfs skips these tests; in CI it must have pidfs. */
function pidfsUnavailable(): string | undefined {
  if (kernelHasPidfdIds()) return undefined;
  if (process.env.CI) assert.fail(`${NO_PIDFS}; CI needs Linux 6.9 or later`);
  return NO_PIDFS;
}

function writeServices(dir: string): void {
  writeFileSync(join(dir, 'pidfdid.py'), PIDFDID_PY);
  writeFileSync(join(dir, 'listen-fds.mjs'), LISTEN_FDS_MJS);
}

/** The python service's report is right: LISTEN_PID and LISTEN_PIDFDID name this very process,
 * and libsystemd took the one fd (where python3-systemd is installed). */
function checkPython(r: PyReport, what: string, t: { diagnostic(message: string): void }): void {
  assert.equal(r.listen_pid, String(r.pid), `${what}: LISTEN_PID`);
  assert.equal(r.listen_pidfdid, r.own, `${what}: LISTEN_PIDFDID is the inode id of its own pidfd`);
  assert.equal(r.listen_fds, '1', what);
  const why = pythonSystemdUnavailable();
  if (why) t.diagnostic(`libsystemd not checked: ${why}`);
  // Debian 12's libsystemd (252) does not read LISTEN_PIDFDID; 259 and later compare it.
  else assert.equal(r.libsystemd, 1, `${what}: libsystemd's sd_listen_fds() took the fd`);
}

function checkNode(r: NodeReport, kind: 'listener' | 'connection', what: string): void {
  assert.equal(r.error, undefined, what);
  assert.equal(r.listenPidfdid, r.own, `${what}: LISTEN_PIDFDID is the inode id of its own pidfd`);
  assert.equal(r.fds?.length, 1, `${what}: listenFds() took the fd`);
  assert.equal(r.fds?.[0]?.fd, 3);
  assert.deepEqual([r.fds?.[0]?.kind, r.fds?.[0]?.listening], ['socket', kind === 'listener'], what);
}

describe('sockunit run: LISTEN_PIDFDID', { skip: pidfsUnavailable() }, () => {
  const { start } = managerSuite('pidfdid', writeServices);

  test('Accept=no from the main thread, and Accept=yes instances from the accept thread', async (t) => {
    const [pyPort, nodePort, pyInstPort, nodeInstPort] = [
      await freePort(),
      await freePort(),
      await freePort(),
      await freePort(),
    ];
    const py = (dir: string, name: string, stay = '') =>
      `${SYSTEM_PYTHON} ${dir}/pidfdid.py ${dir}/${name}.json ${stay}`;
    const node = (dir: string, name: string, stay = '') =>
      `${process.execPath} ${dir}/listen-fds.mjs ${dir}/${name}.json ${stay}`;
    const m = await start(
      (dir) => ({
        'py.socket': `[Socket]\nListenStream=127.0.0.1:${pyPort}\n`,
        'py.service': `[Service]\nExecStart=${py(dir, 'py', '--stay')}\n`,
        'node.socket': `[Socket]\nListenStream=127.0.0.1:${nodePort}\n`,
        'node.service': `[Service]\nExecStart=${node(dir, 'node', '--stay')}\n`,
        'pyinst.socket': `[Socket]\nListenStream=127.0.0.1:${pyInstPort}\nAccept=yes\n`,
        'pyinst@.service': `[Service]\nExecStart=${py(dir, 'pyinst')}\n`,
        'nodeinst.socket': `[Socket]\nListenStream=127.0.0.1:${nodeInstPort}\nAccept=yes\n`,
        'nodeinst@.service': `[Service]\nExecStart=${node(dir, 'nodeinst')}\n`,
      }),
      { args: ['--log-level=debug'] },
    );
    await m.waitFor(/^pyinst\.socket: instances start on the accept thread\.$/);
    await m.waitFor(/^nodeinst\.socket: instances start on the accept thread\.$/);

    const connections = [];
    for (const port of [pyPort, nodePort, pyInstPort, nodeInstPort]) connections.push(await connectTcp(port));
    try {
      checkPython((await readReport(join(m.dir, 'py.json'))) as unknown as PyReport, 'Accept=no', t);
      checkNode(
        (await readReport(join(m.dir, 'node.json'))) as unknown as NodeReport,
        'listener',
        'Accept=no',
      );
      checkPython(
        (await readReport(join(m.dir, 'pyinst.json'))) as unknown as PyReport,
        'Accept=yes (accept thread)',
        t,
      );
      checkNode(
        (await readReport(join(m.dir, 'nodeinst.json'))) as unknown as NodeReport,
        'connection',
        'Accept=yes (accept thread)',
      );
    } finally {
      for (const c of connections) c.destroy();
    }
  });
});

describe('sockunit activate: LISTEN_PIDFDID', { skip: pidfsUnavailable() }, () => {
  const dir = tempDir('pidfdid-activate');
  writeServices(dir);
  const children: ChildProcess[] = [];
  after(() => {
    for (const c of children) c.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });

  /** Runs `sockunit activate [flags] -l 127.0.0.1:PORT COMMAND`, connects once, returns the report. */
  async function activated(flags: string[], command: string[], out: string): Promise<unknown> {
    const port = await freePort();
    const child = spawn(
      process.execPath,
      [BIN, 'activate', ...flags, '-l', `127.0.0.1:${port}`, ...command],
      {
        stdio: ['ignore', 'ignore', 'pipe'],
      },
    );
    children.push(child);
    let stderr = '';
    child.stderr?.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    const deadline = Date.now() + 20_000;
    while (!/^Listening on /m.test(stderr)) {
      if (Date.now() > deadline || child.exitCode !== null)
        throw new Error(`activate did not listen: ${stderr}`);
      await new Promise((r) => setTimeout(r, 20));
    }
    const connection = await connectTcp(port);
    try {
      return await readReport(out, 20_000);
    } finally {
      connection.destroy();
      child.kill('SIGTERM');
    }
  }

  test('a python3 command and a Node command (listenFds), with and without --accept', async (t) => {
    const py = (name: string) => [SYSTEM_PYTHON, join(dir, 'pidfdid.py'), join(dir, `${name}.json`)];
    const node = (name: string) => [process.execPath, join(dir, 'listen-fds.mjs'), join(dir, `${name}.json`)];
    checkPython((await activated([], py('py'), join(dir, 'py.json'))) as PyReport, 'activate', t);
    checkNode(
      (await activated([], node('node'), join(dir, 'node.json'))) as NodeReport,
      'listener',
      'activate',
    );
    checkPython(
      (await activated(['--accept'], py('pya'), join(dir, 'pya.json'))) as PyReport,
      'activate --accept',
      t,
    );
    checkNode(
      (await activated(['--accept'], node('nodea'), join(dir, 'nodea.json'))) as NodeReport,
      'connection',
      'activate --accept',
    );
  });
});
