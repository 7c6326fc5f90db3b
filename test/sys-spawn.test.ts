import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { O_CLOEXEC } from '../src/sys/constants.js';
import { receiveMessage, sendMessage, socketPair } from '../src/sys/msg.js';
import { waitReadable } from '../src/sys/poll.js';
import { describeExit, type ExitStatus, kill, onExit } from '../src/sys/process.js';
import { close, setCloseOnExec, shutdown } from '../src/sys/socket.js';
import { type SpawnOptions, spawnProcess } from '../src/sys/spawn.js';

const PATH_ENV = { PATH: '/usr/bin:/bin' };

function run(options: Partial<SpawnOptions> & { argv: string[] }): Promise<ExitStatus> {
  const child = spawnProcess({ file: options.argv[0] ?? '', env: PATH_ENV, ...options });
  return onExit(child.pid, child.pidfd);
}

/** Everything a stream end receives until EOF (bounded: 5 s, 1 MiB). */
function readAll(fd: number): string {
  const chunks: Buffer[] = [];
  const deadline = Date.now() + 5000;
  let total = 0;
  while (Date.now() < deadline && total < 1 << 20) {
    if (!waitReadable(fd, Math.max(0, deadline - Date.now()))) break;
    const msg = receiveMessage(fd, { maxBytes: 65536 });
    if (!msg) continue;
    if (msg.data.length === 0) break;
    chunks.push(msg.data);
    total += msg.data.length;
  }
  return Buffer.concat(chunks).toString();
}

function openFdCount(): number {
  return readdirSync('/proc/self/fd').length;
}

/** A child that sits still (exec'd /bin/sleep) so its fd table and signal state can be read
 * from /proc/PID by this process, with no shell in between forking and opening fds of its own. */
async function inspectChild<T>(options: Partial<SpawnOptions>, inspect: (pid: number) => T): Promise<T> {
  const child = spawnProcess({ file: '/bin/sleep', argv: ['sleep', '30'], env: PATH_ENV, ...options });
  try {
    // posix_spawn returns after the child's exec, but sleep's dynamic loader may still hold fd 3
    // (ld.so.cache, libc) for a moment: look once it sleeps, at what it was given.
    await untilSleeping(child.pid);
    return inspect(child.pid);
  } finally {
    kill(child.pid, 'KILL');
    await onExit(child.pid, child.pidfd);
  }
}

async function untilSleeping(pid: number): Promise<void> {
  const deadline = Date.now() + 5000;
  while (Date.now() < deadline) {
    const wchan = readFileSync(`/proc/${pid}/wchan`, 'latin1');
    if (wchan.includes('nanosleep')) return;
    if (wchan === '0' || wchan === '') {
      // A kernel that hides wait channels: the loader is done well within this.
      await new Promise((resolve) => setTimeout(resolve, 100));
      return;
    }
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
  throw new Error(`pid ${pid} did not reach nanosleep within 5 s`);
}

function childFds(pid: number): number[] {
  return readdirSync(`/proc/${pid}/fd`)
    .map(Number)
    .sort((a, b) => a - b);
}

function fdFlags(pid: number, fd: number): number {
  const line = readFileSync(`/proc/${pid}/fdinfo/${fd}`, 'latin1')
    .split('\n')
    .find((l) => l.startsWith('flags:'));
  return Number.parseInt(line?.slice(6).trim() ?? '', 8);
}

test('passed fds arrive at 3.. in order, not close-on-exec, even when sources collide with targets', async () => {
  // 30 fds passed in reverse order: targets 3..32 overlap the sources' own numbers, so a naive
  // dup2 sequence would overwrite sources before they are copied.
  const pairs = Array.from({ length: 30 }, () => socketPair('stream'));
  const passed = pairs.map(([, child]) => child).reverse();
  const overlapping = passed.filter((fd) => fd >= 3 && fd < 3 + passed.length);
  assert.ok(overlapping.length > 0, `test precondition: some source fds lie in 3..32 (${passed.join(',')})`);
  try {
    await inspectChild({ fds: passed }, (pid) => {
      assert.deepEqual(
        childFds(pid),
        Array.from({ length: 33 }, (_, i) => i),
        'exactly 0..32 open',
      );
      passed.forEach((fd, i) => {
        assert.equal(
          readlinkSync(`/proc/${pid}/fd/${3 + i}`),
          readlinkSync(`/proc/self/fd/${fd}`),
          `slot ${3 + i} holds passed[${i}] (our fd ${fd})`,
        );
        assert.equal(fdFlags(pid, 3 + i) & O_CLOEXEC, 0, `fd ${3 + i} is close-on-exec in the child`);
      });
    });
  } finally {
    for (const [a, b] of pairs) {
      close(a);
      close(b);
    }
  }
});

test('passed fds really work in the child: a shell writes its slot number to each', async () => {
  const pairs = Array.from({ length: 4 }, () => socketPair('stream'));
  try {
    const exit = await run({
      argv: ['/bin/sh', '-c', 'for i in 3 4 5 6; do echo $i >&$i; done'],
      fds: pairs.map(([, child]) => child),
    });
    assert.equal(exit.status, 0);
    pairs.forEach(([ours], i) => {
      assert.equal(receiveMessage(ours, { maxBytes: 16 })?.data.toString(), `${3 + i}\n`);
    });
  } finally {
    for (const [a, b] of pairs) {
      close(a);
      close(b);
    }
  }
});

test('stdio: stdin and stdout from fds, stderr to /dev/null', async () => {
  const [inParent, inChild] = socketPair('stream');
  const [outParent, outChild] = socketPair('stream');
  try {
    const exited = run({
      argv: ['/bin/sh', '-c', 'cat; echo oops >&2; readlink /proc/$$/fd/2'],
      stdin: inChild,
      stdout: outChild,
      stderr: 'null',
    });
    close(inChild);
    close(outChild);
    sendMessage(inParent, Buffer.from('through cat\n'));
    shutdown(inParent, 1);
    assert.equal(readAll(outParent), 'through cat\n/dev/null\n');
    assert.deepEqual(await exited, { pid: (await exited).pid, code: 'exited', status: 0 });
  } finally {
    close(inParent);
    close(outParent);
  }
});

test('stdin defaults to /dev/null; stdout "inherit" keeps this process stdout open in the child', async () => {
  const [outParent, outChild] = socketPair('stream');
  try {
    // The child reports what its fd 0 is and proves fd 2 (inherited, close-on-exec in Node) exists.
    const exited = run({
      argv: ['/bin/sh', '-c', 'readlink /proc/$$/fd/0; test -e /proc/$$/fd/2 && echo has-stderr'],
      stdout: outChild,
    });
    close(outChild);
    assert.equal(readAll(outParent), '/dev/null\nhas-stderr\n');
    assert.equal((await exited).status, 0);
  } finally {
    close(outParent);
  }
});

test('the environment is exactly what was given, in record and list form', async () => {
  for (const env of [{ A: '1', B: 'two words', EMPTY: '' }, ['X=1', 'Y=a=b']]) {
    const [outParent, outChild] = socketPair('stream');
    try {
      const exited = run({ argv: ['/usr/bin/env'], env, stdout: outChild });
      close(outChild);
      const expected = Array.isArray(env) ? env : Object.entries(env).map(([k, v]) => `${k}=${v}`);
      assert.deepEqual(readAll(outParent).trim().split('\n'), expected);
      assert.equal((await exited).status, 0);
    } finally {
      close(outParent);
    }
  }
});

test('signals are at their defaults in the child: SIGPIPE kills it (Node ignores SIGPIPE)', async () => {
  const exit = await run({ argv: ['/bin/sh', '-c', 'kill -PIPE $$; exit 7'] });
  assert.equal(exit.code, 'killed');
  assert.equal(exit.signal, 'PIPE');
  assert.equal(describeExit(exit), 'code=killed, status=13/PIPE');
});

test('no signal is ignored or blocked in the child', async () => {
  const status = await inspectChild({}, (pid) => readFileSync(`/proc/${pid}/status`, 'latin1'));
  assert.match(status, /^SigBlk:\t0000000000000000$/m);
  assert.match(status, /^SigIgn:\t0000000000000000$/m);
});

test('cwd, setsid and umask apply to the child; the parent umask is restored', async () => {
  const [outParent, outChild] = socketPair('stream');
  const before = process.umask();
  try {
    const exited = run({
      argv: [
        '/bin/sh',
        '-c',
        'pwd; umask; test "$(cut -d" " -f6 /proc/$$/stat)" = $$ && echo session-leader',
      ],
      stdout: outChild,
      cwd: '/tmp',
      setsid: true,
      umask: 0o027,
    });
    close(outChild);
    assert.equal(readAll(outParent), '/tmp\n0027\nsession-leader\n');
    assert.equal((await exited).status, 0);
    assert.equal(process.umask(), before);
  } finally {
    close(outParent);
  }
});

test('a bare program name is searched in PATH', async () => {
  assert.equal(describeExit(await run({ argv: ['false'], file: 'false' })), 'code=exited, status=1/FAILURE');
});

test('exec errors come back as SystemErrors: ENOENT, EACCES, ENOEXEC, missing cwd', () => {
  assert.throws(
    () => spawnProcess({ file: '/nonexistent/prog', argv: ['prog'], env: [] }),
    (err: NodeJS.ErrnoException) =>
      err.code === 'ENOENT' &&
      err.errno === -2 &&
      err.syscall === 'spawn' &&
      err.path === '/nonexistent/prog' &&
      err.message.includes('/nonexistent/prog'),
  );
  const dir = mkdtempSync(join(tmpdir(), 'sockunit-spawn-'));
  try {
    const notExecutable = join(dir, 'plain');
    writeFileSync(notExecutable, 'data', { mode: 0o644 });
    assert.throws(() => spawnProcess({ file: notExecutable, argv: ['x'], env: [] }), {
      code: 'EACCES',
      syscall: 'spawn',
      path: notExecutable,
    });
    const garbage = join(dir, 'garbage');
    writeFileSync(garbage, Buffer.from([0, 1, 2, 3, 4, 5, 6, 7]), { mode: 0o755 });
    assert.throws(() => spawnProcess({ file: garbage, argv: ['x'], env: [] }), {
      code: 'ENOEXEC',
      errno: -8,
      syscall: 'spawn',
      path: garbage,
    });
  } finally {
    rmSync(dir, { recursive: true });
  }
  assert.throws(() => spawnProcess({ file: '/bin/true', argv: ['true'], env: [], cwd: '/nonexistent-dir' }), {
    code: 'ENOENT',
  });
});

test('bad arguments are refused before spawning', () => {
  assert.throws(() => spawnProcess({ file: '/bin/true', argv: [], env: [] }), /argv is empty/);
  assert.throws(() => spawnProcess({ file: '/bin/true', argv: ['a\0b'], env: [] }), /NUL/);
  assert.throws(
    () => spawnProcess({ file: '/bin/true', argv: ['true'], env: { 'A=B': 'x' } }),
    /contains '='/,
  );
  assert.throws(
    () => spawnProcess({ file: '/bin/true', argv: ['true'], env: [], fds: [-1] }),
    /not a descriptor/,
  );
});

test('uid/gid switching is refused with a clear error; the current ids are accepted', async () => {
  const uid = process.geteuid?.() ?? 0;
  const gid = process.getegid?.() ?? 0;
  assert.throws(
    () => spawnProcess({ file: '/bin/true', argv: ['true'], env: [], uid: uid + 1 }),
    /uid\/gid switching is not implemented in spawnProcess yet/,
  );
  assert.throws(
    () => spawnProcess({ file: '/bin/true', argv: ['true'], env: [], gid: gid + 1 }),
    /uid\/gid switching is not implemented/,
  );
  assert.equal((await run({ argv: ['/bin/true'], uid, gid })).status, 0);
});

test('no fd leaks in the parent after 200 spawns', async () => {
  const [a, b] = socketPair('stream');
  try {
    await run({ argv: ['/bin/true'], fds: [b] }); // warm-up: lazily created fds (worker, probes)
    const before = openFdCount();
    for (let i = 0; i < 200; i++) {
      const exit = await run({ argv: ['/bin/true'], fds: [b, a], stdout: 'null', stderr: 'null' });
      assert.equal(exit.status, 0);
    }
    assert.equal(openFdCount(), before);
  } finally {
    close(a);
    close(b);
  }
});

test('children never see fds of this process beyond the passed ones', async () => {
  const extra = socketPair('stream');
  setCloseOnExec(extra[0], false); // as an fd inherited from our own parent would be
  try {
    assert.deepEqual(await inspectChild({}, childFds), [0, 1, 2]);
  } finally {
    close(extra[0]);
    close(extra[1]);
  }
});

test('reused file actions: 40 fd layouts (more than are kept), each child gets its own fd at 3, also after eviction', async () => {
  const pairs = Array.from({ length: 40 }, () => socketPair('stream'));
  try {
    const order = [...pairs.keys(), 0, 1]; // the first layouts again, rebuilt after eviction
    for (const i of order) {
      const fd = (pairs[i] as [number, number])[0];
      const seen = await inspectChild({ fds: [fd] }, (pid) => ({
        fds: childFds(pid),
        three: readlinkSync(`/proc/${pid}/fd/3`),
      }));
      assert.deepEqual(seen.fds, [0, 1, 2, 3], `layout ${i}`);
      assert.equal(seen.three, readlinkSync(`/proc/self/fd/${fd}`), `layout ${i}: fd 3 is our fd ${fd}`);
    }
  } finally {
    for (const [a, b] of pairs) {
      close(a);
      close(b);
    }
  }
});
