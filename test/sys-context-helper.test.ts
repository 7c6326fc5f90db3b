// The exec-context helper (sys/context-helper.ts): its listings decode to what they say, and the
// program runs a script's system calls — numbers, data in the script, earlier results — then
// execs the service in place, or exits with the step's status and message. Checked from outside:
// /proc of the exec'd program, its exit status, its stderr. The AArch64 helper runs under
// qemu-user, whose system calls reach the host kernel.

import assert from 'node:assert/strict';
import { type SpawnSyncReturns, spawnSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import {
  contextHelperImage,
  contextHelperPath,
  contextHelperWrap,
  installContextHelper,
} from '../src/sys/context-helper.js';
import { CONTEXT_HELPER_AARCH64 } from '../src/sys/context-helper-aarch64.js';
import { CONTEXT_HELPER_X86_64 } from '../src/sys/context-helper-x86_64.js';
import { ELF_CODE_OFFSET } from '../src/sys/elf.js';
import type { HelperArch } from '../src/sys/helper-install.js';
import { listenPidWrap } from '../src/sys/listen-pid-helper.js';
import { onExit } from '../src/sys/process.js';
import { spawnProcess } from '../src/sys/spawn.js';
import { encodeScript, type ScriptStep } from '../src/sys/syscall-script.js';
import { compareWithObjdump, skipOutsideCi, which } from './fixtures/sys/machine-code.js';

const dir = mkdtempSync(join(tmpdir(), 'sockunit-context-helper-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const native: HelperArch | undefined =
  process.arch === 'x64' || process.arch === 'arm64' ? process.arch : undefined;
const noHelper = native ? undefined : `no exec-context helper for ${process.arch}`;
const RLIMIT_NOFILE = 7;
const AT_FDCWD = -100;
const O_WRONLY = 1;

function rlimit(soft: number, hard: number): { data: Uint8Array } {
  const b = Buffer.alloc(16);
  b.writeBigUInt64LE(BigInt(soft), 0);
  b.writeBigUInt64LE(BigInt(hard), 8);
  return { data: b };
}

/** Runs `helper` (through `runner`, e.g. qemu) with `steps`, then `/bin/sh -c script`. */
function runSteps(
  helper: string,
  arch: HelperArch,
  steps: readonly ScriptStep[],
  script: string,
  runner: string[] = [],
): SpawnSyncReturns<string> {
  const argv = [helper, encodeScript(steps, arch), '/bin/sh', 'sh', '-c', script];
  const [file, ...args] = [...runner, ...argv];
  return spawnSync(file as string, args, { encoding: 'utf8', env: { KEEP: 'env kept' }, timeout: 10_000 });
}

/** The helper behaviours both architectures must show; `runner` runs a foreign one. */
function checkBehaviour(helper: string, arch: HelperArch, runner: string[] = []): void {
  // Data in the script (an rlimit struct, a path, text), a result kept in a slot and used twice.
  const ok = runSteps(
    helper,
    arch,
    [
      { call: 'prlimit64', args: [0, RLIMIT_NOFILE, rlimit(321, 654), 0], failStatus: 205 },
      {
        call: 'openat',
        args: [AT_FDCWD, { data: '/proc/self/oom_score_adj' }, O_WRONLY],
        failStatus: 206,
        slot: 5,
      },
      { call: 'write', args: [{ result: 5 }, { data: Buffer.from('123') }, 3], failStatus: 206 },
      { call: 'close', args: [{ result: 5 }] },
    ],
    'echo "$(ulimit -Sn) $(ulimit -Hn) $(cat /proc/$$/oom_score_adj) $KEEP $0"',
    runner,
  );
  assert.equal(ok.status, 0, ok.stderr);
  assert.equal(ok.stdout, '321 654 123 env kept sh\n');

  // A failing step with a status: its message, the errno, that status; the service never runs.
  const failed = runSteps(
    helper,
    arch,
    [
      {
        call: 'prlimit64',
        args: [0, RLIMIT_NOFILE, rlimit(10, 5), 0],
        failStatus: 205,
        message: 'LimitNOFILE=10:5: refused',
      },
    ],
    'echo ran',
    runner,
  );
  assert.equal(failed.status, 205);
  assert.equal(failed.stdout, '');
  assert.equal(failed.stderr, 'LimitNOFILE=10:5: refused: errno 22\n'); // EINVAL: soft above hard

  // A failing step without a status is ignored.
  const ignored = runSteps(helper, arch, [{ call: 'close', args: [999] }], 'echo ran', runner);
  assert.equal(ignored.status, 0, ignored.stderr);
  assert.equal(ignored.stdout, 'ran\n');

  // A step that expects one result: getppid is this test process (qemu's parent too), so the
  // service runs; any other pid fails the step with ESRCH.
  const parent = (pid: number) =>
    runSteps(
      helper,
      arch,
      [{ call: 'getppid', args: [], expect: pid, failStatus: 127, message: 'orphaned' }],
      'echo ran',
      runner,
    );
  const mine = parent(process.pid);
  assert.equal(mine.status, 0, mine.stderr);
  assert.equal(mine.stdout, 'ran\n');
  const other = parent(1);
  assert.equal(other.status, 127);
  assert.equal(other.stdout, '');
  assert.equal(other.stderr, 'orphaned: errno 3\n');

  // exec failure: systemd's 203/EXEC; too few arguments: 127.
  const [file, ...args] = [...runner, helper, encodeScript([], arch), join(dir, 'missing'), 'x'];
  const missing = spawnSync(file as string, args, { encoding: 'utf8' });
  assert.equal(missing.status, 203);
  assert.equal(missing.stderr, `sockunit-exec: cannot execute ${join(dir, 'missing')}: errno 2\n`);
  const [f2, ...a2] = [...runner, helper, encodeScript([], arch), '/bin/true'];
  const usage = spawnSync(f2 as string, a2, { encoding: 'utf8' });
  assert.equal(usage.status, 127);
  assert.match(usage.stderr, /^sockunit-exec: usage: /);
  const [f3, ...a3] = [...runner, helper, 'abc', '/bin/true', 'true'];
  const odd = spawnSync(f3 as string, a3, { encoding: 'utf8' });
  assert.equal(odd.status, 127, 'an odd number of hex digits is a usage error');
}

test('x86_64 listing: objdump decodes the bytes to the listed instructions', (t) => {
  const objdump = which('objdump');
  if (!objdump) return skipOutsideCi(t, 'objdump (binutils) is not installed');
  compareWithObjdump(dir, objdump, 'i386:x86-64', CONTEXT_HELPER_X86_64, ['-M', 'intel']);
});

test('aarch64 listing: objdump decodes the bytes to the listed instructions', (t) => {
  const objdump = which('aarch64-linux-gnu-objdump');
  if (!objdump)
    return skipOutsideCi(t, 'aarch64-linux-gnu-objdump (binutils-aarch64-linux-gnu) is not installed');
  compareWithObjdump(dir, objdump, 'aarch64', CONTEXT_HELPER_AARCH64, []);
});

test('ELF images: entry at the first code byte, one PT_LOAD segment, under 1 KiB', () => {
  for (const [arch, machine] of [
    ['x64', 62],
    ['arm64', 183],
  ] as const) {
    const image = contextHelperImage(arch)!;
    const view = new DataView(image.buffer, image.byteOffset, image.byteLength);
    assert.deepEqual([...image.subarray(0, 4)], [0x7f, 0x45, 0x4c, 0x46]);
    assert.equal(view.getUint16(18, true), machine);
    assert.equal(view.getBigUint64(24, true), 0x400000n + BigInt(ELF_CODE_OFFSET));
    assert.equal(view.getUint32(64, true), 1);
    assert.ok(image.length < 1024, `${arch} helper is ${image.length} bytes`);
  }
  assert.equal(contextHelperImage('riscv64'), undefined);
});

test('the native helper runs the steps, then execs in place; a failing step exits with its status', {
  skip: noHelper,
}, () => {
  checkBehaviour(contextHelperPath(), native!);
});

test('aarch64 helper under qemu-user: the same behaviour', (t) => {
  const qemu = which('qemu-aarch64-static') ?? which('qemu-aarch64');
  if (!qemu) return skipOutsideCi(t, 'qemu-aarch64 (qemu-user) is not installed');
  const helper = join(dir, 'context-helper-arm64');
  writeFileSync(helper, contextHelperImage('arm64')!, { mode: 0o755 });
  checkBehaviour(helper, 'arm64', [qemu]);
});

test('after the LISTEN_PID helper: same pid, LISTEN_PID right, fds at 3 kept', {
  skip: noHelper,
}, async () => {
  const passed = join(dir, 'passed');
  const output = join(dir, 'output');
  writeFileSync(passed, 'from fd 3\n');
  const passedFd = openSync(passed, 'r');
  const outputFd = openSync(output, 'w');
  const inner = contextHelperWrap(
    '/bin/sh',
    ['sh', '-c', 'echo "$LISTEN_PID $$ $(ulimit -n)"; cat <&3'],
    [{ call: 'prlimit64', args: [0, RLIMIT_NOFILE, rlimit(77, 77), 0], failStatus: 205 }],
  );
  const request = listenPidWrap(inner.file, inner.argv, { LISTEN_FDS: '1' });
  const child = spawnProcess({ ...request, fds: [passedFd], stdout: outputFd, stderr: outputFd });
  closeSync(passedFd);
  closeSync(outputFd);
  const exit = await onExit(child.pid, child.pidfd);
  assert.deepEqual([exit.code, exit.status], ['exited', 0], readFileSync(output, 'utf8'));
  assert.equal(readFileSync(output, 'utf8'), `${child.pid} ${child.pid} 77\nfrom fd 3\n`);
});

test('the script: steps of 8 words, arguments by kind, slot, status and message, then data', () => {
  const hex = encodeScript(
    [{ call: 'prctl', args: [38, { data: 'x' }, { result: 3 }], failStatus: 227, message: 'm', slot: 9 }],
    'x64',
  );
  const b = Buffer.from(hex, 'hex');
  assert.equal(b.readBigUInt64LE(0), 157n); // prctl on x86_64
  const packed = b.readBigUInt64LE(8);
  assert.equal(packed & 0xfffn, (1n << 2n) | (2n << 4n), 'arg 1 is data, arg 2 a result');
  assert.equal((packed >> 16n) & 0xfn, 9n);
  assert.equal((packed >> 24n) & 0xffn, 227n);
  const data = Number(b.readBigUInt64LE(24));
  assert.equal(b.toString('latin1', data, data + 2), 'x\0');
  assert.equal(b.readBigUInt64LE(32), 3n);
  assert.equal(b.readBigUInt64LE(64), 0xffff_ffff_ffff_ffffn, 'the end marker');
  const message = Number(packed >> 32n);
  assert.equal(b.toString('latin1', message, message + 2), 'm\0');
  assert.equal(
    Buffer.from(encodeScript([{ call: 'prctl', args: [] }], 'arm64'), 'hex').readBigUInt64LE(0),
    167n,
  );
  assert.throws(() => encodeScript([{ call: 'close', args: [1, 2, 3, 4, 5, 6, 7] }], 'x64'), /at most 6/);
  assert.throws(() => encodeScript([{ call: 'close', args: [], slot: 16 }], 'x64'), /slot 16/);
});

test('installContextHelper: private directory, mode 0755, the listed bytes', { skip: noHelper }, () => {
  const target = join(dir, 'install');
  const path = installContextHelper(target);
  assert.equal(statSync(target).mode & 0o777, 0o700);
  assert.equal(statSync(path).mode & 0o7777, 0o755);
  assert.deepEqual(new Uint8Array(readFileSync(path)), contextHelperImage());
});
