// Sandboxing a service the way systemd's executor does it — namespaces, mounts, seccomp filters,
// set up by the process itself between the spawn and the service's exec, so the service keeps
// its own pid (LISTEN_PID, MAINPID, signals, exit status) — without any code of ours running in
// a forked copy of Node. The manager writes the system calls into a plan file; a tiny static
// helper (sandbox-helper-x86_64.ts, -aarch64.ts), exec'd in the chain like the LISTEN_PID helper,
// maps the plan, makes the calls in order and execs the next program. A failed call ends the
// process with the step's exit status (226/NAMESPACE, 228/SECCOMP…) and says which key failed.
//
// The helper's contract:
//   argv = [helper, PLAN, PATH, ARGV0, ARG...]; the plan file is mapped privately at
//   PLAN_ADDRESS (addresses inside the plan are absolute: the planner knows where it will be);
//   a step is 88 bytes (see the listing's header); a number of all ones ends the plan; then
//   execve(PATH, [ARGV0, ARG...], envp). Plans are at most PLAN_MAX bytes.

import { unlink } from 'node:fs/promises';
import { isAbsolute, join } from 'node:path';
import {
  effectiveUid,
  type HelperArch,
  helperFileName,
  helperImage,
  installFile,
  installHelperImage,
} from './helper-install.js';
import { crypto } from './lazy-builtins.js';
import { SANDBOX_HELPER_AARCH64 } from './sandbox-helper-aarch64.js';
import { SANDBOX_HELPER_X86_64 } from './sandbox-helper-x86_64.js';
import { type SyscallName, syscallNumber } from './syscall-numbers.js';

export type { SyscallName } from './syscall-numbers.js';

export const PLAN_ADDRESS = 0x10000000n;
export const PLAN_MAX = 0x100000;
const STEP_SIZE = 88;
const END = 0xffffffffffffffffn;

/** An argument: a number, a string or bytes placed in the plan (passed by address), a seccomp
 * BPF program (passed as the address of its struct sock_fprog), or the value an earlier step
 * saved under a name (passed by value). */
export type PlanArg =
  | number
  | bigint
  | { text: string }
  | { bytes: Buffer }
  | { fprog: Buffer }
  | { saved: string };

export interface PlanStep {
  call: SyscallName;
  args: PlanArg[];
  /** Save the result under this name for later steps (`{ saved: name }`). */
  saveAs?: string;
  /** An errno that counts as success (ENOENT for a `-`-prefixed path, EEXIST for a mkdir). */
  okErrno?: number;
  /** Exit status when the call fails. */
  failStatus: number;
  /** What failed, for the log: "PrivateTmp=: mounting /tmp" (": errno N" follows). */
  message: string;
}

/** The plan file's bytes for `arch`'s helper: the steps, the end mark, then the data they
 * point at. */
export function encodePlan(
  steps: readonly PlanStep[],
  arch: HelperArch = process.arch as HelperArch,
): Buffer {
  const data: Buffer[] = [];
  let dataLength = 0;
  const dataStart = (steps.length + 1) * STEP_SIZE;
  const place = (bytes: Buffer): bigint => {
    const at = dataStart + dataLength;
    const padded = Buffer.alloc(Math.ceil(bytes.length / 8) * 8 || 8);
    bytes.copy(padded);
    data.push(padded);
    dataLength += padded.length;
    return PLAN_ADDRESS + BigInt(at);
  };
  const slots = new Map<string, bigint>();
  const slot = (name: string): bigint => {
    let at = slots.get(name);
    if (at === undefined) {
      at = place(Buffer.alloc(8));
      slots.set(name, at);
    }
    return at;
  };
  const head = Buffer.alloc(dataStart);
  steps.forEach((step, i) => {
    const at = i * STEP_SIZE;
    if (step.args.length > 6) throw new Error(`plan step ${step.call}: more than six arguments`);
    head.writeBigUInt64LE(BigInt(syscallNumber(step.call, arch)), at);
    let indirect = 0;
    step.args.forEach((arg, n) => {
      let value: bigint;
      if (typeof arg === 'number') value = BigInt.asUintN(64, BigInt(arg));
      else if (typeof arg === 'bigint') value = BigInt.asUintN(64, arg);
      else if ('text' in arg) value = place(Buffer.from(`${arg.text}\0`));
      else if ('bytes' in arg) value = place(arg.bytes);
      else if ('fprog' in arg) {
        // struct sock_fprog { unsigned short len; struct sock_filter *filter; }
        const fprog = Buffer.alloc(16);
        fprog.writeUInt16LE(arg.fprog.length / 8, 0);
        fprog.writeBigUInt64LE(place(arg.fprog), 8);
        value = place(fprog);
      } else {
        if (!slots.has(arg.saved)) throw new Error(`plan step ${step.call}: nothing saved as '${arg.saved}'`);
        value = slot(arg.saved);
        indirect |= 1 << n;
      }
      head.writeBigUInt64LE(value, at + 8 + 8 * n);
    });
    head.writeUInt32LE(indirect, at + 56);
    head.writeUInt32LE(step.okErrno ?? 0, at + 60);
    head.writeBigUInt64LE(step.saveAs !== undefined ? slot(step.saveAs) : 0n, at + 64);
    head.writeUInt32LE(step.failStatus, at + 72);
    head.writeBigUInt64LE(place(Buffer.from(`${step.message}\0`)), at + 80);
  });
  head.writeBigUInt64LE(END, steps.length * STEP_SIZE);
  const plan = Buffer.concat([head, ...data]);
  if (plan.length > PLAN_MAX) throw new Error(`sandbox plan of ${plan.length} bytes exceeds ${PLAN_MAX}`);
  return plan;
}

/** The helper's ELF file for `arch` (Node's names), or undefined where there is no listing. */
export function sandboxHelperImage(arch: string = process.arch): Uint8Array | undefined {
  return helperImage(arch, { x64: SANDBOX_HELPER_X86_64, arm64: SANDBOX_HELPER_AARCH64 });
}

/** The directory of the helper and the plans: readable and searchable by everyone (a service
 * that drops to User= reads its second plan after the switch), writable only by the manager's
 * user. Plans hold paths and filters from unit files, never secrets. */
export function sandboxDir(): string {
  const runtime = process.env.XDG_RUNTIME_DIR;
  if (effectiveUid() === 0) return '/run/sockunit-sandbox';
  if (runtime && isAbsolute(runtime)) return join(runtime, 'sockunit-sandbox');
  return join('/tmp', `sockunit-sandbox-${effectiveUid()}`);
}

let helperPath: string | undefined;

/** The installed helper's path; throws saying why there is none. */
export function sandboxHelperPath(): string {
  if (helperPath) return helperPath;
  const image = sandboxHelperImage();
  if (!image)
    throw new Error(
      `sockunit has no sandbox helper for the ${process.arch} architecture (x64 and arm64 only)`,
    );
  helperPath = installHelperImage(
    sandboxDir(),
    helperFileName('sandbox', process.arch, image),
    image,
    'shared',
  );
  return helperPath;
}

const writtenPlans = new Set<string>();

/** Writes a plan (named by its content, so equal plans share a file) and returns its path. */
export function writePlan(plan: Buffer): string {
  const dir = sandboxDir();
  const name = `plan-${crypto().createHash('sha256').update(plan).digest('hex').slice(0, 24)}`;
  const path = join(dir, name);
  if (writtenPlans.has(path)) return path;
  installFile(dir, name, plan, 0o644, 'shared');
  writtenPlans.add(path);
  return path;
}

/** Removes a plan no process will run again (one that named a unit's own /tmp directory or
 * namespace, gone with the unit). Off the main thread; a failure leaves a stale file only. */
export function forgetPlan(path: string): void {
  writtenPlans.delete(path);
  void unlink(path).catch(() => {});
}

/** The spawn request that runs `plan` and then execs `file` with `argv`. */
export function sandboxWrap(
  planPath: string,
  file: string,
  argv: readonly string[],
): { file: string; argv: string[] } {
  if (!file.startsWith('/')) throw new Error(`sandboxWrap: '${file}' is not a path; resolve it first`);
  if (argv.length === 0) throw new Error('sandboxWrap: empty argv');
  const helper = sandboxHelperPath();
  return { file: helper, argv: [helper, planPath, file, ...argv] };
}
