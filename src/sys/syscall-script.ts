// The program the exec-context helper runs before it execs a service: a list of system calls,
// encoded as the helper reads it (context-helper.ts). Everything a step needs — paths, structs,
// cpu masks, capability sets — is laid out here, so the helper stays a loop of a few dozen
// instructions and every decision stays in TypeScript.
//
// Layout (little-endian, hex-encoded into one argument): steps of 8 u64 words, then data.
//   word 0: the system call number; all ones ends the steps
//   word 1: bits 0-11, two per argument: 0 the number itself, 1 an offset into the script (a
//           pointer to data), 2 the result of an earlier step (the number is its slot);
//           bits 16-19: the slot this step's result goes to; bit 20: the result must equal
//           argument 6 (word 7), anything else fails as -ESRCH; bits 24-31: the exit status when
//           the call fails (0: a failure is ignored); bits 32-63: the offset of its message
//   words 2-7: the six arguments

import type { HelperArch } from './helper-install.js';
import { type SyscallName, syscallNumber } from './syscall-numbers.js';

/** A step's argument: a number, bytes placed in the script (the argument is their address; a
 * string gets a NUL after it), or the result of an earlier step kept in slot `result`. */
export type StepArg = number | bigint | { data: Uint8Array | string } | { result: number };

export interface ScriptStep {
  call: SyscallName;
  args: readonly StepArg[];
  /** The exit status when the call fails; absent: the failure is ignored and the next step runs. */
  failStatus?: number;
  /** Written to stderr before ": errno N" when the step fails. */
  message?: string;
  /** The slot (0-15) its result is kept in, for a later `{ result: slot }`. */
  slot?: number;
  /** The one result that counts as success (for a call of at most five arguments, e.g. getppid's
   * pid): any other fails the step as -ESRCH would. */
  expect?: number;
}

const EXPECT_BIT = 1n << 20n;
const EXPECT_ARG = 5;

const STEP_BYTES = 64;
const END = 0xffff_ffff_ffff_ffffn;
const MAX_SLOT = 15;

function dataBytes(value: Uint8Array | string): Uint8Array {
  return typeof value === 'string' ? Buffer.from(`${value}\0`, 'utf8') : value;
}

/** Encodes `steps` for the helper of `arch`, as the hex text it takes as its first argument. */
export function encodeScript(steps: readonly ScriptStep[], arch: HelperArch): string {
  const data: Uint8Array[] = [];
  let dataLength = 0;
  const dataStart = (steps.length + 1) * STEP_BYTES;
  // Offsets are 8-aligned: the kernel does not need it, but a struct read by a person does.
  const place = (bytes: Uint8Array): bigint => {
    const offset = dataStart + dataLength;
    const padded = Math.ceil(bytes.length / 8) * 8;
    const copy = new Uint8Array(padded);
    copy.set(bytes);
    data.push(copy);
    dataLength += padded;
    return BigInt(offset);
  };
  const out = Buffer.alloc(dataStart);
  steps.forEach((step, i) => {
    if (step.args.length > 6) throw new RangeError(`${step.call}: a system call takes at most 6 arguments`);
    if (step.expect !== undefined && step.args.length > EXPECT_ARG)
      throw new RangeError(`${step.call}: an expected result needs the sixth argument free`);
    const slot = step.slot ?? 0;
    if (!Number.isInteger(slot) || slot < 0 || slot > MAX_SLOT)
      throw new RangeError(`${step.call}: slot ${slot} is not 0-${MAX_SLOT}`);
    const status = step.failStatus ?? 0;
    if (!Number.isInteger(status) || status < 0 || status > 255)
      throw new RangeError(`${step.call}: exit status ${status} is not 0-255`);
    let kinds = 0n;
    const words: bigint[] = [];
    step.args.forEach((arg, a) => {
      if (typeof arg === 'number' || typeof arg === 'bigint') {
        words.push(BigInt.asUintN(64, BigInt(arg)));
      } else if ('data' in arg) {
        kinds |= 1n << BigInt(2 * a);
        words.push(place(dataBytes(arg.data)));
      } else {
        if (arg.result < 0 || arg.result > MAX_SLOT)
          throw new RangeError(`${step.call}: no slot ${arg.result}`);
        kinds |= 2n << BigInt(2 * a);
        words.push(BigInt(arg.result));
      }
    });
    while (words.length < 6) words.push(0n);
    if (step.expect !== undefined) {
      kinds |= EXPECT_BIT;
      words[EXPECT_ARG] = BigInt.asUintN(64, BigInt(step.expect));
    }
    const message = place(dataBytes(step.message ?? `sockunit-exec: ${step.call} failed`));
    const at = i * STEP_BYTES;
    out.writeBigUInt64LE(BigInt(syscallNumber(step.call, arch)), at);
    out.writeBigUInt64LE(kinds | (BigInt(slot) << 16n) | (BigInt(status) << 24n) | (message << 32n), at + 8);
    words.forEach((w, a) => {
      out.writeBigUInt64LE(w, at + 16 + 8 * a);
    });
  });
  out.writeBigUInt64LE(END, steps.length * STEP_BYTES);
  return Buffer.concat([out, ...data]).toString('hex');
}
