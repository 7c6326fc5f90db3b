import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { createCgroup, processesIn } from '../src/sys/cgroup.js';
import { cgroupEnterShellScript, EXIT_CGROUP, enterCgroupFirst } from '../src/sys/cgroup-enter.js';
import { cgroupEnterHelperImage, cgroupEnterHelperPath } from '../src/sys/cgroup-enter-helper.js';
import { CGROUP_ENTER_HELPER_AARCH64 } from '../src/sys/cgroup-enter-helper-aarch64.js';
import { CGROUP_ENTER_HELPER_X86_64 } from '../src/sys/cgroup-enter-helper-x86_64.js';
import { ELF_CODE_OFFSET } from '../src/sys/elf.js';
import { onExit } from '../src/sys/process.js';
import { spawnProcess } from '../src/sys/spawn.js';
import { compareWithObjdump, skipOutsideCi, which } from './fixtures/sys/machine-code.js';
import { makeTestCgroup, skipWithoutCgroups } from './helpers/cgroup.js';

const dir = mkdtempSync(join(tmpdir(), 'sockunit-cgroup-enter-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** What the started shell prints: its cgroup and argv[0]. */
const SHOW = 'grep ^0:: /proc/self/cgroup; echo "argv0=$0"';

test('x86_64 listing: objdump decodes the bytes to the listed instructions', (t) => {
  const objdump = which('objdump');
  if (!objdump) return skipOutsideCi(t, 'objdump (binutils) is not installed');
  compareWithObjdump(dir, objdump, 'i386:x86-64', CGROUP_ENTER_HELPER_X86_64, ['-M', 'intel']);
});

test('aarch64 listing: objdump decodes the bytes to the listed instructions', (t) => {
  const objdump = which('aarch64-linux-gnu-objdump');
  if (!objdump)
    return skipOutsideCi(t, 'aarch64-linux-gnu-objdump (binutils-aarch64-linux-gnu) is not installed');
  compareWithObjdump(dir, objdump, 'aarch64', CGROUP_ENTER_HELPER_AARCH64, []);
});

test('ELF images: small, entry at the first code byte', () => {
  for (const arch of ['x64', 'arm64']) {
    const image = cgroupEnterHelperImage(arch)!;
    const view = new DataView(image.buffer, image.byteOffset, image.byteLength);
    assert.equal(view.getBigUint64(24, true), 0x400000n + BigInt(ELF_CODE_OFFSET));
    assert.ok(image.length < 1024, `${arch} helper is ${image.length} bytes`);
  }
  assert.equal(cgroupEnterHelperImage('riscv64'), undefined);
});

/** Each way of entering: the native helper, the aarch64 helper under qemu-user, the shell. */
const ways = [
  {
    name: 'helper',
    skip: (): string | undefined => (cgroupEnterHelperPath() ? undefined : `no helper for ${process.arch}`),
    run: (procs: string, argv: string[]) => spawnSync(cgroupEnterHelperPath()!, [procs, ...argv], opts()),
    keepsArgv0: true,
  },
  {
    name: 'aarch64 helper under qemu-user',
    skip: (): string | undefined =>
      (which('qemu-aarch64-static') ?? which('qemu-aarch64'))
        ? undefined
        : 'qemu-aarch64 (qemu-user) is not installed',
    run: (procs: string, argv: string[]) => {
      const helper = join(dir, 'cgroup-enter-arm64');
      writeFileSync(helper, cgroupEnterHelperImage('arm64')!, { mode: 0o755 });
      // qemu-user passes the write and the execve to the host kernel: qemu itself enters the
      // cgroup, then the program runs natively.
      const qemu = which('qemu-aarch64-static') ?? which('qemu-aarch64')!;
      return spawnSync(qemu, [helper, procs, ...argv], opts());
    },
    keepsArgv0: true,
  },
  {
    name: 'shell step',
    skip: (): string | undefined => undefined,
    run: (procs: string, argv: string[]) =>
      spawnSync('/bin/sh', ['-c', cgroupEnterShellScript(true), procs, argv[0]!, ...argv.slice(2)], opts()),
    keepsArgv0: false,
  },
];

function opts() {
  return { env: { KEEP: 'a b' }, encoding: 'utf8' as const, timeout: 20_000 };
}

for (const way of ways) {
  test(`${way.name}: the program runs in the cgroup, with its argv and environment; failures say why`, async (t) => {
    const skip = way.skip();
    if (skip) {
      if (way.name.includes('qemu')) return skipOutsideCi(t, skip);
      t.skip(skip);
      return;
    }
    if (skipWithoutCgroups(t)) return;
    const cg = makeTestCgroup();
    try {
      createCgroup(cg.dir);
      const procs = `${cg.dir}/cgroup.procs`;
      const shown = way.run(procs, ['/bin/sh', 'myname', '-c', SHOW]);
      assert.equal(shown.status, 0, shown.stderr);
      const argv0 = way.keepsArgv0 ? 'myname' : '/bin/sh';
      assert.equal(shown.stdout, `0::${cg.path}\nargv0=${argv0}\n`);
      // The environment passes unchanged: nothing added (no PWD from the shell step), nothing lost.
      const env = way.run(procs, ['/usr/bin/env', 'env']);
      assert.equal(env.stdout, 'KEEP=a b\n', env.stderr);

      const missing = way.run(`${cg.dir}/nope/cgroup.procs`, ['/bin/true', 'true']);
      assert.equal(missing.status, EXIT_CGROUP);
      if (way.keepsArgv0)
        assert.equal(missing.stderr, `sockunit-cgroup: cannot enter ${cg.dir}/nope/cgroup.procs: errno 2\n`);
      else assert.match(missing.stderr, /nope\/cgroup\.procs/);

      if (way.keepsArgv0) {
        const noProgram = way.run(procs, ['/nonexistent/x', 'x']);
        assert.equal(noProgram.status, 127);
        assert.equal(noProgram.stderr, 'sockunit-cgroup: cannot execute /nonexistent/x: errno 2\n');
      }
    } finally {
      await cg.remove();
    }
  });
}

test('helper: fewer than three arguments is a usage error (127)', (t) => {
  const helper = cgroupEnterHelperPath();
  if (!helper) return t.skip(`no helper for ${process.arch}`);
  const r = spawnSync(helper, ['/x/cgroup.procs', '/bin/true'], { encoding: 'utf8' });
  assert.equal(r.status, 127);
  assert.match(r.stderr, /^sockunit-cgroup: usage: /);
});

test('spawnProcess with a cgroup: what the program forks first is born inside', async (t) => {
  if (skipWithoutCgroups(t)) return;
  const cg = makeTestCgroup();
  try {
    createCgroup(cg.dir);
    // The first thing the program does is fork; the child reports its own cgroup.
    const out = join(dir, 'forked');
    const child = spawnProcess({
      file: '/bin/sh',
      argv: ['sh', '-c', `(grep ^0:: /proc/self/cgroup > ${out}; exec sleep 1000) & wait`],
      env: {},
      cgroup: cg.dir,
    });
    const exit = onExit(child.pid, child.pidfd);
    const written = () => {
      try {
        return readFileSync(out, 'latin1');
      } catch {
        return '';
      }
    };
    const until = Date.now() + 10_000;
    while (!written().endsWith('\n') && Date.now() < until) await new Promise((r) => setTimeout(r, 10));
    assert.equal(written(), `0::${cg.path}\n`);
    assert.ok(processesIn(cg.dir).includes(child.pid));
    await cg.remove();
    await exit;
  } finally {
    await cg.remove();
  }
});

test('enterCgroupFirst refuses a bare program name (the step does no $PATH search)', () => {
  assert.throws(() => enterCgroupFirst('/sys/fs/cgroup/x', 'cat', ['cat'], false), /'cat' is not a path/);
});
