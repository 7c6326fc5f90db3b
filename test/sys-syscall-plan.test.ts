// The sandbox helper (sys/syscall-plan.ts): its hand-assembled listings decode to what they say,
// and the program runs a plan of real system calls between the spawn and the exec — keeping the
// pid, handing a saved fd to a later step, excusing an expected errno — and fails a step the way
// systemd's executor fails (the step's exit status, "MESSAGE: errno N" on stderr).

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { SANDBOX_HELPER_AARCH64 } from '../src/sys/sandbox-helper-aarch64.js';
import { SANDBOX_HELPER_X86_64 } from '../src/sys/sandbox-helper-x86_64.js';
import {
  encodePlan,
  PLAN_ADDRESS,
  type PlanStep,
  sandboxHelperImage,
  sandboxWrap,
  writePlan,
} from '../src/sys/syscall-plan.js';
import { compareWithObjdump, skipOutsideCi, which } from './helpers/listing.js';

const dir = mkdtempSync(join(tmpdir(), 'sockunit-sandbox-helper-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const AT_FDCWD = -100;
const O_RDONLY_CLOEXEC = 0x80000;
const ENOENT = 2;

function run(steps: PlanStep[], argv: string[]) {
  const wrapped = sandboxWrap(writePlan(encodePlan(steps)), argv[0] as string, argv);
  const r = spawnSync(wrapped.file, wrapped.argv.slice(1), {
    argv0: wrapped.argv[0],
    encoding: 'utf8',
    timeout: 10_000,
  });
  return r;
}

test('x86_64 listing: objdump decodes the bytes to the listed instructions', (t) => {
  const objdump = which('objdump');
  if (!objdump)
    return skipOutsideCi(t, 'objdump (binutils) is not installed: cannot check the x86_64 encodings');
  compareWithObjdump(dir, objdump, 'i386:x86-64', SANDBOX_HELPER_X86_64, ['-M', 'intel']);
});

test('aarch64 listing: objdump decodes the bytes to the listed instructions', (t) => {
  const objdump = which('aarch64-linux-gnu-objdump');
  if (!objdump)
    return skipOutsideCi(t, 'aarch64-linux-gnu-objdump (binutils-aarch64-linux-gnu) is not installed');
  compareWithObjdump(dir, objdump, 'aarch64', SANDBOX_HELPER_AARCH64, []);
});

test('a plan encodes steps of 88 bytes, the end mark, then the data they point at', () => {
  const plan = encodePlan([
    { call: 'close', args: [7], failStatus: 226, message: 'm' },
    { call: 'openat', args: [AT_FDCWD, { text: '/x' }, 0], saveAs: 'fd', failStatus: 226, message: 'n' },
    { call: 'close', args: [{ saved: 'fd' }], okErrno: 9, failStatus: 1, message: 'o' },
  ]);
  assert.equal(plan.readBigUInt64LE(3 * 88), 0xffffffffffffffffn, 'end mark after three steps');
  assert.equal(plan.readBigUInt64LE(8), 7n);
  const saveAt = plan.readBigUInt64LE(88 + 64);
  assert.ok(saveAt > PLAN_ADDRESS + BigInt(4 * 88), 'the save slot lies in the data area');
  assert.equal(plan.readUInt32LE(2 * 88 + 56), 1, 'argument 0 of the third step is read from the slot');
  assert.equal(plan.readBigUInt64LE(2 * 88 + 8), saveAt);
  assert.equal(plan.readUInt32LE(2 * 88 + 60), 9);
  const textAt = Number(plan.readBigUInt64LE(88 + 16) - PLAN_ADDRESS);
  assert.equal(plan.toString('latin1', textAt, textAt + 3), '/x\0');
  assert.throws(
    () => encodePlan([{ call: 'close', args: [{ saved: 'nope' }], failStatus: 1, message: '' }]),
    /nothing saved as 'nope'/,
  );
});

test('the helper runs the steps and execs the service in place: same pid, saved fds reused', (t) => {
  if (!sandboxHelperImage()) return t.skip(`no sandbox helper for ${process.arch}`);
  writeFileSync(join(dir, 'probe'), 'x');
  const r = run(
    [
      {
        call: 'openat',
        args: [AT_FDCWD, { text: join(dir, 'probe') }, O_RDONLY_CLOEXEC],
        saveAs: 'fd',
        failStatus: 226,
        message: 'open',
      },
      { call: 'close', args: [{ saved: 'fd' }], failStatus: 226, message: 'close the saved fd' },
      // A missing path with ENOENT excused: the plan goes on.
      {
        call: 'openat',
        args: [AT_FDCWD, { text: join(dir, 'missing') }, O_RDONLY_CLOEXEC],
        okErrno: ENOENT,
        failStatus: 226,
        message: 'optional',
      },
    ],
    ['/bin/sh', '-c', 'echo $$'],
  );
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout.trim(), String(r.pid), 'the service runs as the spawned process itself');
});

test('a failed step ends the process with its exit status and says which step, with the errno', (t) => {
  if (!sandboxHelperImage()) return t.skip(`no sandbox helper for ${process.arch}`);
  const r = run(
    [
      {
        call: 'openat',
        args: [AT_FDCWD, { text: join(dir, 'missing') }, O_RDONLY_CLOEXEC],
        failStatus: 226,
        message: 'InaccessiblePaths=/x: cannot open',
      },
    ],
    ['/bin/true'],
  );
  assert.equal(r.status, 226);
  assert.equal(r.stderr, 'InaccessiblePaths=/x: cannot open: errno 2\n');
  const bad = run([], ['/nonexistent/program']);
  assert.equal(bad.status, 127);
  assert.equal(bad.stderr, 'sockunit-sandbox: cannot execute /nonexistent/program: errno 2\n');
});

test('aarch64 helper under qemu-user: a plan step, an excused errno, the exec, a failure', (t) => {
  const qemu = which('qemu-aarch64-static') ?? which('qemu-aarch64');
  if (!qemu)
    return skipOutsideCi(t, 'qemu-aarch64 (qemu-user) is not installed: cannot run the aarch64 helper here');
  const helper = join(dir, 'sandbox-arm64');
  writeFileSync(helper, sandboxHelperImage('arm64') as Uint8Array, { mode: 0o755 });
  // The plan is encoded with AArch64's system call numbers; qemu runs the helper's calls.
  const plan = encodePlan(
    [
      {
        call: 'openat',
        args: [AT_FDCWD, { text: join(dir, 'missing') }, O_RDONLY_CLOEXEC],
        okErrno: ENOENT,
        failStatus: 226,
        message: 'optional',
      },
    ],
    'arm64',
  );
  const planPath = join(dir, 'plan-arm64');
  writeFileSync(planPath, plan);
  const ok = spawnSync(qemu, [helper, planPath, '/bin/sh', 'sh', '-c', 'echo ran'], { encoding: 'utf8' });
  assert.equal(ok.status, 0, ok.stderr);
  assert.equal(ok.stdout, 'ran\n');
  const failing = encodePlan(
    [
      {
        call: 'openat',
        args: [AT_FDCWD, { text: join(dir, 'missing') }, O_RDONLY_CLOEXEC],
        failStatus: 228,
        message: 'step',
      },
    ],
    'arm64',
  );
  writeFileSync(planPath, failing);
  const failed = spawnSync(qemu, [helper, planPath, '/bin/true', 'true'], { encoding: 'utf8' });
  assert.equal(failed.status, 228);
  assert.equal(failed.stderr, 'step: errno 2\n');
});
