import assert from 'node:assert/strict';
import { type SpawnSyncReturns, spawn, spawnSync } from 'node:child_process';
import {
  chmodSync,
  closeSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { ELF_CODE_OFFSET } from '../src/sys/elf.js';
import {
  installListenPidHelper,
  kernelHasPidfdIds,
  LISTEN_PID_PLACEHOLDER,
  LISTEN_PIDFDID_PLACEHOLDER,
  listenPidHelperImage,
  listenPidHelperPath,
  listenPidShellWrap,
  listenPidWrap,
  type SpawnRequest,
} from '../src/sys/listen-pid-helper.js';
import { LISTEN_PID_HELPER_AARCH64 } from '../src/sys/listen-pid-helper-aarch64.js';
import { LISTEN_PID_HELPER_X86_64 } from '../src/sys/listen-pid-helper-x86_64.js';
import { onExit } from '../src/sys/process.js';
import { spawnProcess } from '../src/sys/spawn.js';
import { compareWithObjdump, skipOutsideCi, which } from './helpers/listing.js';

/** The helper's (and the shell trampoline's) exit status when the service's execve fails. */
const EXEC_FAILED = 127;

const dir = mkdtempSync(join(tmpdir(), 'sockunit-listen-pid-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const isRoot = process.geteuid?.() === 0;
const hasHelper = listenPidHelperImage() !== undefined;
/** pidfs (Linux 6.9+): only there does a pidfd have an inode id of its own process. */
const pidfdIds = kernelHasPidfdIds();
const NO_PIDFD_IDS =
  'this kernel has no pidfs (Linux < 6.9): pidfds have no inode ids, LISTEN_PIDFDID is left out';
const PYTHON = '/usr/bin/python3';
const SHOW_PID = 'echo "$LISTEN_PID $$"';
const NODE_SHOW_PID = 'console.log(process.env.LISTEN_PID, process.pid)';

function run(request: SpawnRequest<Record<string, string> | string[]>): SpawnSyncReturns<string> {
  const env = Array.isArray(request.env)
    ? Object.fromEntries(
        request.env.map((entry) => [entry.slice(0, entry.indexOf('=')), entry.slice(entry.indexOf('=') + 1)]),
      )
    : request.env;
  return spawnSync(request.file, request.argv.slice(1), {
    argv0: request.argv[0],
    env,
    encoding: 'utf8',
    timeout: 10_000,
  });
}

/** Both ways of setting LISTEN_PID; the shell runs everywhere, the helper where it exists. */
const wrappers = [
  { name: 'helper', wrap: listenPidWrap, skip: hasHelper ? undefined : `no helper for ${process.arch}` },
  { name: 'shell trampoline', wrap: listenPidShellWrap, skip: undefined },
] as const;

for (const { name, wrap, skip } of wrappers) {
  test(`${name}: a shell service sees LISTEN_PID equal to its own pid, the pid the spawner got`, {
    skip,
  }, () => {
    const result = run(wrap('/bin/sh', ['sh', '-c', SHOW_PID], { PATH: '/usr/bin:/bin' }));
    assert.equal(result.status, 0, result.stderr);
    assert.equal(result.stdout, `${result.pid} ${result.pid}\n`);
  });

  test(`${name}: a node service sees LISTEN_PID equal to process.pid`, { skip }, () => {
    const result = run(wrap(process.execPath, ['node', '-e', NODE_SHOW_PID], {}));
    assert.equal(result.status, 0, result.stderr);
    assert.equal(result.stdout, `${result.pid} ${result.pid}\n`);
  });

  test(`${name}: arguments arrive verbatim`, { skip }, () => {
    const args = ['a b', "it's", '"quoted"', '', '$(id)', '`id`', '*', '\\n', ' ', 'ü', '--', '-e'];
    const script = 'console.log(JSON.stringify(process.argv.slice(1)))';
    const result = run(wrap(process.execPath, ['node', '-e', script, ...args], {}));
    assert.equal(result.status, 0, result.stderr);
    assert.deepEqual(JSON.parse(result.stdout), args);
  });

  test(`${name}: other environment entries pass untouched, a stale LISTEN_PID is replaced`, { skip }, () => {
    const env = {
      LISTEN_FDS: '2',
      LISTEN_FDNAMES: 'a:b',
      EMPTY: '',
      SPACES: ' x  y ',
      EQUALS: 'a=b=c',
      NEWLINE: 'one\ntwo',
      QUOTES: `'"$(id)"'`,
      UNICODE: 'ü→✓',
      LISTEN_PID: '12345',
      LISTEN_PIDFDID: '67890',
      LISTEN_PID_NOT: '0000000000',
    };
    const result = run(
      wrap(process.execPath, ['node', '-e', 'console.log(JSON.stringify(process.env))'], env),
    );
    assert.equal(result.status, 0, result.stderr);
    const { LISTEN_PIDFDID, ...rest } = JSON.parse(result.stdout) as Record<string, string>;
    const { LISTEN_PIDFDID: _stale, ...others } = env;
    assert.deepEqual(rest, { ...others, LISTEN_PID: String(result.pid) });
    // The stale id is never passed on: replaced by the service's own (helper, pidfs) or dropped.
    if (name === 'helper' && pidfdIds) assert.match(LISTEN_PIDFDID ?? '', /^[1-9][0-9]*$/);
    else assert.equal(LISTEN_PIDFDID, undefined);
  });

  test(`${name}: an environment given as entries works the same`, { skip }, () => {
    const result = run(wrap('/bin/sh', ['sh', '-c', `${SHOW_PID}; echo "$A"`], ['A=1 2', 'LISTEN_PID=7']));
    assert.equal(result.status, 0, result.stderr);
    assert.equal(result.stdout, `${result.pid} ${result.pid}\n1 2\n`);
  });

  test(`${name}: a missing file exits ${EXEC_FAILED} with a message on stderr`, { skip }, () => {
    const missing = join(dir, 'no-such-program');
    const result = run(wrap(missing, ['x'], {}));
    assert.equal(result.status, EXEC_FAILED);
    assert.match(result.stderr, /no-such-program/);
  });

  test(`${name}: runs as pid 1 in a new pid namespace`, { skip: skip ?? rootOnly() }, () => {
    const request = wrap('/bin/sh', ['sh', '-c', SHOW_PID], {});
    const result = run({
      file: which('unshare')!,
      argv: ['unshare', '--pid', '--fork', '--', request.file, ...request.argv.slice(1)],
      env: request.env,
    });
    assert.equal(result.status, 0, result.stderr);
    assert.equal(result.stdout, '1 1\n');
  });
}

for (const { name, wrap, skip } of wrappers) {
  test(`${name} under spawnProcess: LISTEN_PID is the spawned pid and the fds at 3.. survive the extra exec`, {
    skip,
  }, async () => {
    const passed = join(dir, `passed-${name.replace(' ', '-')}`);
    const output = join(dir, `output-${name.replace(' ', '-')}`);
    writeFileSync(passed, 'from fd 3\n');
    const passedFd = openSync(passed, 'r');
    const outputFd = openSync(output, 'w');
    const request = wrap('/bin/sh', ['sh', '-c', `${SHOW_PID}; echo "$LISTEN_FDS"; cat <&3`], {
      LISTEN_FDS: '1',
    });
    const child = spawnProcess({ ...request, fds: [passedFd], stdout: outputFd, stderr: outputFd });
    closeSync(passedFd);
    closeSync(outputFd);
    const exit = await onExit(child.pid, child.pidfd); // owns and closes the pidfd
    assert.deepEqual([exit.code, exit.status], ['exited', 0], readFileSync(output, 'utf8'));
    assert.equal(readFileSync(output, 'utf8'), `${child.pid} ${child.pid}\n1\nfrom fd 3\n`);
  });
}

function rootOnly(): string | undefined {
  if (isRoot || process.env.CI) return which('unshare') ? undefined : 'unshare(1) is not installed';
  return 'needs root for a new pid namespace';
}

test('helper: the errno of a failed execve is in the message (missing: 2, not executable: 13)', {
  skip: hasHelper ? undefined : `no helper for ${process.arch}`,
}, () => {
  const missing = run(listenPidWrap(join(dir, 'missing'), ['missing'], {}));
  assert.equal(missing.status, 127);
  assert.equal(missing.stderr, `sockunit-listen-pid: cannot execute ${join(dir, 'missing')}: errno 2\n`);
  const plain = join(dir, 'not-executable');
  writeFileSync(plain, '#!/bin/sh\n', { mode: 0o644 });
  // root may exec a file without x bits only if some x bit is set: none is, so EACCES.
  const denied = run(listenPidWrap(plain, ['x'], {}));
  assert.equal(denied.status, 127);
  assert.equal(denied.stderr, `sockunit-listen-pid: cannot execute ${plain}: errno 13\n`);
});

test("helper: argv[0] may differ from the path (systemd's @ prefix)", {
  skip: hasHelper ? undefined : `no helper for ${process.arch}`,
}, () => {
  const result = run(
    listenPidWrap(process.execPath, ['custom-name', '-e', 'console.log(process.argv0)'], {}),
  );
  assert.equal(result.status, 0, result.stderr);
  assert.equal(result.stdout, 'custom-name\n');
});

test('helper: without the placeholder it execs the service with the environment unchanged', {
  skip: hasHelper ? undefined : `no helper for ${process.arch}`,
}, () => {
  const helper = listenPidHelperPath()!;
  const env = { A: 'b', LISTEN_PID: '000000000' }; // one zero short: not the slot
  const result = run({ file: helper, argv: [helper, '/usr/bin/env', 'env'], env });
  assert.equal(result.status, 0, result.stderr);
  assert.deepEqual(result.stdout.trim().split('\n').sort(), ['A=b', 'LISTEN_PID=000000000']);
});

/** A python3 service that prints its pid, its environment and the inode id of its own pidfd
 * (what LISTEN_PIDFDID must be), as JSON. */
const SHOW_PIDFDID_PY = `
import json, os
fd = os.pidfd_open(os.getpid())
print(json.dumps({"pid": os.getpid(), "env": dict(os.environ), "own": os.fstat(fd).st_ino}))
`;

interface PidfdReport {
  pid: number;
  env: Record<string, string>;
  own: number;
}

/** A python3 middle process that denies pidfd_open (434 on x86_64 and AArch64) with EPERM
 * through a seccomp filter, which the exec'd helper and service inherit, then execs the request
 * given as JSON (`env` as entries, kept in order). */
const DENY_PIDFD_OPEN_PY = `
import ctypes, json, os, struct, sys
req = json.loads(sys.argv[1])
arch = {"x86_64": 0xC000003E, "aarch64": 0xC00000B7}[os.uname().machine]
insn = lambda code, jt, jf, k: struct.pack("HBBI", code, jt, jf, k)
prog = b"".join([
    insn(0x20, 0, 0, 4),               # load seccomp_data.arch
    insn(0x15, 0, 3, arch),            # another ABI: allow
    insn(0x20, 0, 0, 0),               # load seccomp_data.nr
    insn(0x15, 0, 1, 434),             # pidfd_open
    insn(0x06, 0, 0, 0x00050000 | 1),  # SECCOMP_RET_ERRNO | EPERM
    insn(0x06, 0, 0, 0x7FFF0000),      # SECCOMP_RET_ALLOW
])
code = ctypes.create_string_buffer(prog, len(prog))
fprog = ctypes.create_string_buffer(struct.pack("HxxxxxxQ", len(prog) // 8, ctypes.addressof(code)), 16)
libc = ctypes.CDLL(None, use_errno=True)
if libc.prctl(38, 1, 0, 0, 0) != 0 or libc.prctl(22, 2, fprog, 0, 0) != 0:  # NO_NEW_PRIVS, SECCOMP
    sys.exit("cannot install the seccomp filter: errno %d" % ctypes.get_errno())
try:
    os.pidfd_open(os.getpid())
    sys.exit("pidfd_open still works under the filter")
except PermissionError:
    pass
env = dict(e.split("=", 1) for e in req["env"])
os.execve(req["file"], req["argv"], env)
`;

/** The environment `env -0` printed, as entries in order. */
function entries(output: string): string[] {
  return output.split('\0').filter((e) => e !== '');
}

/** Skip with `why` outside CI where the kernel has no pidfs; in CI the kernel must have it. */
function needPidfdIds(t: { skip(message: string): void }): boolean {
  if (pidfdIds) return true;
  if (process.env.CI) assert.fail(`${NO_PIDFD_IDS}; CI needs Linux 6.9 or later`);
  t.skip(NO_PIDFD_IDS);
  return false;
}

for (const { name, wrap, skip } of wrappers) {
  test(`${name}: LISTEN_PIDFDID is the inode id of the service's own pidfd (helper), or absent (shell)`, {
    skip,
  }, (t) => {
    const result = run(wrap(PYTHON, ['python3', '-c', SHOW_PIDFDID_PY], { LISTEN_FDS: '1' }));
    assert.equal(result.status, 0, result.stderr);
    const report = JSON.parse(result.stdout) as PidfdReport;
    assert.equal(report.pid, result.pid);
    assert.equal(report.env.LISTEN_PID, String(result.pid));
    if (name === 'shell trampoline') {
      // A shell cannot open a pidfd: left out, as systemd leaves it out where it cannot get it.
      assert.equal(report.env.LISTEN_PIDFDID, undefined);
      return;
    }
    if (!needPidfdIds(t)) return;
    assert.equal(report.env.LISTEN_PIDFDID, String(report.own));
    const keys = Object.keys(report.env);
    assert.equal(keys.indexOf('LISTEN_PIDFDID'), keys.indexOf('LISTEN_PID') + 1, 'right after LISTEN_PID');
  });

  test(`${name}: no LISTEN_PIDFDID without LISTEN_PID (SYSTEMD_EXEC_PID, WATCHDOG_PID alone)`, {
    skip,
  }, () => {
    const request = wrap(PYTHON, ['python3', '-c', SHOW_PIDFDID_PY], { LISTEN_PIDFDID: '1' }, [
      'SYSTEMD_EXEC_PID',
      'WATCHDOG_PID',
    ]);
    const result = run(request);
    assert.equal(result.status, 0, result.stderr);
    const report = JSON.parse(result.stdout) as PidfdReport;
    assert.equal(report.env.SYSTEMD_EXEC_PID, String(result.pid));
    assert.equal(report.env.WATCHDOG_PID, String(result.pid));
    assert.equal(report.env.LISTEN_PID, undefined);
    // A variable the caller set itself passes, as any other: only LISTEN_PID brings its own.
    assert.equal(report.env.LISTEN_PIDFDID, '1');
  });
}

test('helper: every _PIDFDID slot gets the id, wherever it sits in envp; other entries untouched', {
  skip: hasHelper ? undefined : `no helper for ${process.arch}`,
}, (t) => {
  if (!needPidfdIds(t)) return;
  const helper = listenPidHelperPath()!;
  const zeros = LISTEN_PIDFDID_PLACEHOLDER.slice('LISTEN_PIDFDID='.length);
  const env = [
    `FIRST_PIDFDID=${zeros}`,
    'A=1',
    LISTEN_PIDFDID_PLACEHOLDER,
    LISTEN_PID_PLACEHOLDER,
    `SHORT_PIDFDID=${zeros.slice(1)}`, // one zero short: not a slot
    `PIDFDID=${zeros}`, // no "_" before the name's end: not a slot
    `LAST_PIDFDID=${zeros}`,
  ];
  const result = run({ file: helper, argv: [helper, PYTHON, 'python3', '-c', SHOW_PIDFDID_PY], env });
  assert.equal(result.status, 0, result.stderr);
  const report = JSON.parse(result.stdout) as PidfdReport;
  const id = String(report.own);
  assert.match(id, /^[1-9][0-9]*$/);
  assert.deepEqual(
    Object.entries(report.env).filter(([k]) => k !== 'LC_CTYPE'), // python's locale coercion
    [
      ['FIRST_PIDFDID', id],
      ['A', '1'],
      ['LISTEN_PIDFDID', id],
      ['LISTEN_PID', String(result.pid)],
      ['SHORT_PIDFDID', zeros.slice(1)],
      ['PIDFDID', zeros],
      ['LAST_PIDFDID', id],
    ],
  );
});

test('helper: where pidfd_open fails (seccomp, EPERM), the LISTEN_PIDFDID slots are taken out of envp', {
  skip: hasHelper ? undefined : `no helper for ${process.arch}`,
}, () => {
  const helper = listenPidHelperPath()!;
  // Slots first, in the middle, two in a row, and last: each removal moves the rest down.
  const env = [
    LISTEN_PIDFDID_PLACEHOLDER,
    'A=1',
    LISTEN_PIDFDID_PLACEHOLDER.replace('LISTEN', 'SECOND'),
    LISTEN_PIDFDID_PLACEHOLDER.replace('LISTEN', 'THIRD'),
    LISTEN_PID_PLACEHOLDER,
    'B=2',
    LISTEN_PIDFDID_PLACEHOLDER.replace('LISTEN', 'LAST'),
  ];
  const request = { file: helper, argv: [helper, '/usr/bin/env', 'env', '-0'], env };
  const result = spawnSync(PYTHON, ['-c', DENY_PIDFD_OPEN_PY, JSON.stringify(request)], {
    encoding: 'utf8',
    timeout: 10_000,
  });
  assert.equal(result.status, 0, result.stderr);
  assert.deepEqual(entries(result.stdout), ['A=1', `LISTEN_PID=${result.pid}`, 'B=2']);
});

/** Stands for the middle process's pid in a wrapped request, replaced by the middle itself. */
const PARENT_MARK = 999_999_999;

/** A python3 middle process that starts `request` (PARENT_MARK replaced by its own pid) as its
 * child, prints the child's pid, and sleeps: the test kills it and watches the child. */
const MIDDLE_PY = `
import json, os, sys, time
req = json.loads(sys.argv[1])
me = str(os.getpid())
argv = [a.replace("${PARENT_MARK}", me) for a in req["argv"]]
pid = os.fork()
if pid == 0:
    os.execve(req["file"], argv, req["env"])
print(pid, flush=True)
time.sleep(60)
`;

function stateOf(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
    return stat[stat.lastIndexOf(')') + 2];
  } catch {
    return undefined; // gone (reaped)
  }
}

async function until<T>(what: string, probe: () => T | undefined, ms = 5000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

for (const { name, wrap, skip } of wrappers) {
  test(`${name} with the parent's pid: the service runs, and is killed when its parent dies`, {
    skip,
  }, async () => {
    const request = wrap('/bin/sleep', ['sleep', '60'], {}, ['LISTEN_PID'], { parentPid: PARENT_MARK });
    const middle = spawn('/usr/bin/python3', ['-c', MIDDLE_PY, JSON.stringify(request)], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    try {
      let out = '';
      middle.stdout.on('data', (d: Buffer) => {
        out += d.toString('utf8');
      });
      const pid = await until('the service pid', () => (out.endsWith('\n') ? Number(out) : undefined));
      // Exec'd (through the helper, or setpriv and the shell, whose argv[0] is the path): the
      // pid is sleep's now.
      await until('the service running', () =>
        /(^|\/)sleep\u000060\u0000$/.test(readFileSync(`/proc/${pid}/cmdline`, 'latin1')) ? true : undefined,
      );
      middle.kill('SIGKILL');
      // Dead: reaped by whoever inherited it, or a zombie waiting for that.
      await until('the service killed with its parent', () => {
        const state = stateOf(pid);
        return state === undefined || state === 'Z' ? true : undefined;
      });
    } finally {
      middle.kill('SIGKILL');
    }
  });

  test(`${name} with a parent pid that is not its parent's: exits 127 and runs nothing`, { skip }, () => {
    const result = run(wrap('/bin/echo', ['echo', 'ran'], {}, ['LISTEN_PID'], { parentPid: 1 }));
    assert.equal(result.status, EXEC_FAILED, result.stderr);
    assert.equal(result.stdout, '');
  });
}

test('helper: too few arguments is a usage error with status 127', {
  skip: hasHelper ? undefined : `no helper for ${process.arch}`,
}, () => {
  const helper = listenPidHelperPath()!;
  for (const argv of [[helper], [helper, '/bin/true']]) {
    const result = run({ file: helper, argv, env: {} });
    assert.equal(result.status, 127);
    assert.match(result.stderr, /^sockunit-listen-pid: usage: /);
  }
});

test('helper: pids of 1 to 7 digits are formatted exactly (ns_last_pid in a new pid namespace)', {
  skip: hasHelper ? rootOnly() : `no helper for ${process.arch}`,
}, (t) => {
  const helper = listenPidHelperPath()!;
  // The kernel's largest pid_max is 4194304: 7 digits is the most a pid has on Linux.
  const pids = [2, 9, 10, 99, 100, 1000, 9999, 10000, 65536, 100000, 999999, 1000000, 4194303];
  for (const pid of pids) {
    // The shell sets the namespace's last pid, then forks the helper, which gets the next one.
    const script = `echo ${pid - 1} > /proc/sys/kernel/ns_last_pid || exit 99; "$0" /bin/sh sh -c '${SHOW_PID}'`;
    const result = spawnSync(
      which('unshare')!,
      ['--pid', '--fork', '--mount-proc', '/bin/sh', '-c', script, helper],
      {
        env: { PATH: '/usr/bin:/bin', LISTEN_PID: LISTEN_PID_PLACEHOLDER.slice('LISTEN_PID='.length) },
        encoding: 'utf8',
        timeout: 10_000,
      },
    );
    if (result.status === 99) {
      t.skip(`cannot set ns_last_pid to ${pid - 1} here (${result.stderr.trim()})`);
      return;
    }
    assert.equal(result.status, 0, result.stderr);
    assert.equal(result.stdout, `${pid} ${pid}\n`, `pid ${pid}`);
  }
});

test('the helper is installed once, private, executable, with the listed bytes', {
  skip: hasHelper ? undefined : `no helper for ${process.arch}`,
}, () => {
  const path = listenPidHelperPath()!;
  assert.equal(listenPidHelperPath(), path);
  const st = statSync(path);
  assert.equal(st.mode & 0o7777, 0o755);
  assert.equal(st.uid, process.geteuid?.());
  assert.equal(statSync(join(path, '..')).mode & 0o022, 0);
  assert.deepEqual(new Uint8Array(readFileSync(path)), listenPidHelperImage());
});

test('installListenPidHelper replaces a tampered or wrongly-moded helper', {
  skip: hasHelper ? undefined : `no helper for ${process.arch}`,
}, () => {
  const target = join(dir, 'install');
  const path = installListenPidHelper(target);
  assert.equal(statSync(target).mode & 0o777, 0o700);
  writeFileSync(path, 'tampered');
  assert.equal(installListenPidHelper(target), path);
  assert.deepEqual(new Uint8Array(readFileSync(path)), listenPidHelperImage());
  chmodSync(path, 0o777);
  installListenPidHelper(target);
  assert.equal(statSync(path).mode & 0o7777, 0o755);
  const result = run({
    file: path,
    argv: [path, '/bin/sh', 'sh', '-c', SHOW_PID],
    env: { LISTEN_PID: '0000000000' },
  });
  assert.equal(result.stdout, `${result.pid} ${result.pid}\n`);
});

test('installListenPidHelper refuses a directory others can write to', {
  skip: hasHelper ? undefined : `no helper for ${process.arch}`,
}, () => {
  const shared = join(dir, 'shared');
  mkdirSync(shared, { mode: 0o777 });
  chmodSync(shared, 0o777);
  assert.throws(() => installListenPidHelper(shared), /is not a private directory .*mode 777/);
});

test('installListenPidHelper refuses a filesystem mounted noexec', {
  skip: hasHelper ? (isRoot ? undefined : 'needs root to mount a tmpfs') : `no helper for ${process.arch}`,
}, (t) => {
  const mountPoint = join(dir, 'noexec');
  mkdirSync(mountPoint);
  const mounted = spawnSync(
    'mount',
    ['-t', 'tmpfs', '-o', 'noexec,mode=0700,size=64k', 'tmpfs', mountPoint],
    {
      encoding: 'utf8',
    },
  );
  if (mounted.status !== 0) {
    t.skip(`cannot mount a tmpfs here: ${mounted.stderr.trim()}`);
    return;
  }
  try {
    assert.throws(() => installListenPidHelper(join(mountPoint, 'sockunit')), { code: 'EACCES' });
  } finally {
    spawnSync('umount', [mountPoint]);
  }
});

test('listenPidWrap falls back to /bin/sh, with one warning, where the helper cannot be installed', {
  skip: hasHelper
    ? isRoot
      ? undefined
      : 'needs root to mount a noexec tmpfs and switch users'
    : `no helper for ${process.arch}`,
}, (t) => {
  // An unprivileged user without XDG_RUNTIME_DIR whose only candidate, TMPDIR, is noexec.
  const mountPoint = join(dir, 'noexec-tmp');
  mkdirSync(mountPoint);
  const mounted = spawnSync(
    'mount',
    ['-t', 'tmpfs', '-o', 'noexec,mode=1777,size=64k', 'tmpfs', mountPoint],
    {
      encoding: 'utf8',
    },
  );
  if (mounted.status !== 0) {
    t.skip(`cannot mount a tmpfs here: ${mounted.stderr.trim()}`);
    return;
  }
  try {
    const moduleUrl = new URL('../src/sys/listen-pid-helper.js', import.meta.url).href;
    const script = `
      const { listenPidWrap } = await import(${JSON.stringify(moduleUrl)});
      const { spawnSync } = await import('node:child_process');
      const warnings = [];
      process.on('warning', (w) => warnings.push(w.code));
      const runs = [1, 2].map(() => {
        const r = listenPidWrap('/bin/sh', ['sh', '-c', ${JSON.stringify(SHOW_PID)}], {});
        const out = spawnSync(r.file, r.argv.slice(1), { argv0: r.argv[0], env: r.env, encoding: 'utf8' });
        return { file: r.file, pidsEqual: out.stdout === out.pid + ' ' + out.pid + '\\n' };
      });
      await new Promise((resolve) => setImmediate(resolve));
      console.log(JSON.stringify({ runs, warnings }));`;
    const result = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
      env: { PATH: '/usr/bin:/bin', TMPDIR: mountPoint },
      uid: 65534,
      gid: 65534,
      encoding: 'utf8',
      timeout: 20_000,
    });
    assert.equal(result.status, 0, result.stderr);
    assert.deepEqual(JSON.parse(result.stdout), {
      runs: [
        { file: '/bin/sh', pidsEqual: true },
        { file: '/bin/sh', pidsEqual: true },
      ],
      warnings: ['SOCKUNIT_LISTEN_PID_HELPER'],
    });
    assert.match(result.stderr, /cannot install the LISTEN_PID helper .*noexec-tmp\/sockunit-65534: EACCES/);
  } finally {
    spawnSync('umount', [mountPoint]);
  }
});

test('wrappers refuse a file that is not a path, and an empty argv', () => {
  for (const wrap of [listenPidWrap, listenPidShellWrap]) {
    assert.throws(() => wrap('cat', ['cat'], {}), /'cat' is not a path; resolve it first/);
    assert.throws(() => wrap('/bin/cat', [], {}), /empty argv/);
  }
});

test('the shell trampoline names /bin/sh, the service path as $0, and the script', () => {
  const request = listenPidShellWrap('/bin/echo', ['echo', 'a'], ['PWD=/', 'LISTEN_PID=1']);
  assert.deepEqual(request, {
    file: '/bin/sh',
    argv: ['/bin/sh', '-c', 'LISTEN_PID=$$; export LISTEN_PID; exec "$0" "$@"', '/bin/echo', 'a'],
    env: ['PWD=/'],
  });
});

test('x86_64 listing: objdump decodes the bytes to the listed instructions', (t) => {
  const objdump = which('objdump');
  if (!objdump)
    return skipOutsideCi(t, 'objdump (binutils) is not installed: cannot check the x86_64 encodings');
  compareWithObjdump(dir, objdump, 'i386:x86-64', LISTEN_PID_HELPER_X86_64, ['-M', 'intel']);
});

test('aarch64 listing: objdump decodes the bytes to the listed instructions', (t) => {
  const objdump = which('aarch64-linux-gnu-objdump');
  if (!objdump)
    return skipOutsideCi(t, 'aarch64-linux-gnu-objdump (binutils-aarch64-linux-gnu) is not installed');
  compareWithObjdump(dir, objdump, 'aarch64', LISTEN_PID_HELPER_AARCH64, []);
});

test('ELF image: header fields the kernel reads', () => {
  for (const [arch, machine] of [
    ['x64', 62],
    ['arm64', 183],
  ] as const) {
    const image = listenPidHelperImage(arch)!;
    const view = new DataView(image.buffer, image.byteOffset, image.byteLength);
    assert.deepEqual([...image.subarray(0, 4)], [0x7f, 0x45, 0x4c, 0x46]);
    assert.equal(view.getUint16(18, true), machine);
    assert.equal(view.getBigUint64(24, true), 0x400000n + BigInt(ELF_CODE_OFFSET)); // entry = first code byte
    assert.equal(view.getUint32(64, true), 1); // PT_LOAD
    assert.equal(view.getBigUint64(64 + 32, true), BigInt(image.length)); // p_filesz: the whole file
    assert.ok(image.length < 1024, `${arch} helper is ${image.length} bytes`);
  }
});

test('aarch64 helper under qemu-user: LISTEN_PID, argv, exec failure', (t) => {
  const qemu = which('qemu-aarch64-static') ?? which('qemu-aarch64');
  if (!qemu)
    return skipOutsideCi(t, 'qemu-aarch64 (qemu-user) is not installed: cannot run the aarch64 helper here');
  const helper = join(dir, 'helper-arm64');
  writeFileSync(helper, listenPidHelperImage('arm64')!, { mode: 0o755 });
  // qemu-user passes the helper's execve to the host kernel, so the service runs natively.
  const env = { LISTEN_PID: '0000000000', KEEP: 'a b' };
  const shown = spawnSync(
    qemu,
    [helper, '/bin/sh', 'sh', '-c', `${SHOW_PID}; echo "$KEEP" "$0" "$1"`, 'x y', ''],
    {
      env,
      encoding: 'utf8',
    },
  );
  assert.equal(shown.status, 0, shown.stderr);
  assert.equal(shown.stdout, `${shown.pid} ${shown.pid}\na b x y \n`);
  // With the parent's pid (the qemu process's parent is this test): armed, then the service.
  const armed = spawnSync(qemu, [helper, String(process.pid), '/bin/sh', 'sh', '-c', SHOW_PID], {
    env,
    encoding: 'utf8',
  });
  assert.equal(armed.status, 0, armed.stderr);
  assert.equal(armed.stdout, `${armed.pid} ${armed.pid}\n`);
  const orphan = spawnSync(qemu, [helper, '1', '/bin/echo', 'echo', 'ran'], { env, encoding: 'utf8' });
  assert.equal(orphan.status, 127, 'a parent other than PPID: nothing runs');
  assert.equal(orphan.stdout, '');
  const failed = spawnSync(qemu, [helper, '/nonexistent', 'x'], { env, encoding: 'utf8' });
  assert.equal(failed.status, 127);
  assert.equal(failed.stderr, 'sockunit-listen-pid: cannot execute /nonexistent: errno 2\n');
});

test('aarch64 helper under qemu-user: LISTEN_PIDFDID is the id of its own pidfd, or taken out', (t) => {
  const qemu = which('qemu-aarch64-static') ?? which('qemu-aarch64');
  if (!qemu)
    return skipOutsideCi(t, 'qemu-aarch64 (qemu-user) is not installed: cannot run the aarch64 helper here');
  if (!needPidfdIds(t)) return;
  const helper = join(dir, 'helper-arm64-pidfdid');
  writeFileSync(helper, listenPidHelperImage('arm64')!, { mode: 0o755 });
  // qemu translates pidfd_open, fstatfs and fstat to the host's; after the execve the service
  // (native python3) is the same process, so its pidfd has the same id.
  const env = [LISTEN_PID_PLACEHOLDER, 'KEEP=a b', LISTEN_PIDFDID_PLACEHOLDER];
  const shown = spawnSync(qemu, [helper, PYTHON, 'python3', '-c', SHOW_PIDFDID_PY], {
    env: Object.fromEntries(env.map((e) => e.split('='))),
    encoding: 'utf8',
  });
  assert.equal(shown.status, 0, shown.stderr);
  const report = JSON.parse(shown.stdout) as PidfdReport;
  assert.equal(report.env.LISTEN_PID, String(shown.pid));
  assert.equal(report.env.LISTEN_PIDFDID, String(report.own));
  assert.equal(report.env.KEEP, 'a b');
  // pidfd_open denied (the filter applies to qemu's host syscalls): the slot is taken out.
  const request = { file: qemu, argv: [qemu, helper, '/usr/bin/env', 'env', '-0'], env };
  const denied = spawnSync(PYTHON, ['-c', DENY_PIDFD_OPEN_PY, JSON.stringify(request)], {
    encoding: 'utf8',
    timeout: 20_000,
  });
  assert.equal(denied.status, 0, denied.stderr);
  // (qemu hands the guest its environment in its own order: compare sorted.)
  assert.deepEqual(entries(denied.stdout).sort(), ['KEEP=a b', `LISTEN_PID=${denied.pid}`]);
});
