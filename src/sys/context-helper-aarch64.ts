// The exec-context helper for AArch64 Linux: the same program as the x86_64 listing
// (context-helper-x86_64.ts; contract in context-helper.ts), instruction for instruction where
// the two ISAs allow.
//
// Registers kept across the program: x19, x20 and x21 as ENTRY_AARCH64 sets them
// (helper-routines.ts), x22 = the decoded script, x23 = the step being run, x24 = 16 result
// slots at the bottom of the frame, x25 = errno and x26 = the exit status on the way out.
// Syscalls: number in x8, arguments in x0..x5, `svc #0`, result in x0 (-errno on failure). The
// subroutines are leaves, so bl/ret through x30 needs no stack.

import { CONTEXT_HELPER_MESSAGES as MSG } from './context-helper-x86_64.js';
import { a64, imm19, imm26, type ListingLine, label, ascii as str } from './elf.js';
import { ENTRY_AARCH64, ROUTINE_DATA, ROUTINES_AARCH64 } from './helper-routines.js';

// Each word is written with its label-relative offset field zero; assemble() fills it in.
// `{name}` marks that operand in the text, which is objdump's syntax so the test can compare.
export const CONTEXT_HELPER_AARCH64: readonly ListingLine[] = [
  ...ENTRY_AARCH64,
  a64(0x910003f8, 'mov x24, sp'), // x24 = the result slots
  a64(0xf100113f, 'cmp x9, #0x4'), // helper, SCRIPT, PATH, ARGV0
  a64(0x54000003, 'b.cc {usage}', imm19('usage')), // b.lo
  a64(0xf9400a61, 'ldr x1, [x19, #16]'), // argv[1] = SCRIPT, in hex
  a64(0xaa0103f6, 'mov x22, x1'), // decoded in place: x22 = the script's base
  a64(0xaa0103e2, 'mov x2, x1'),
  label('decode'),
  a64(0x39400020, 'ldrb w0, [x1]'),
  a64(0x34000000, 'cbz w0, {run}', imm19('run')), // end of the hex text
  a64(0x94000000, 'bl {nibble}', imm26('nibble')),
  a64(0x2a0003e3, 'mov w3, w0'),
  a64(0x39400420, 'ldrb w0, [x1, #1]'),
  a64(0x34000000, 'cbz w0, {usage}', imm19('usage')), // an odd number of digits
  a64(0x94000000, 'bl {nibble}', imm26('nibble')),
  a64(0x2a031000, 'orr w0, w0, w3, lsl #4'),
  a64(0x38001440, 'strb w0, [x2], #1'),
  a64(0x91000821, 'add x1, x1, #0x2'),
  a64(0x14000000, 'b {decode}', imm26('decode')),
  label('run'),
  a64(0xaa1603f7, 'mov x23, x22'), // x23 walks the steps
  label('step'),
  a64(0xf94002e8, 'ldr x8, [x23]'), // the system call number
  a64(0xb100051f, 'cmn x8, #0x1'),
  a64(0x54000000, 'b.eq {exec}', imm19('exec')), // end of the steps
  a64(0xf94006e3, 'ldr x3, [x23, #8]'), // two kind bits per argument
  a64(0x910042e5, 'add x5, x23, #0x10'),
  a64(0xd2800004, 'mov x4, #0x0'),
  label('resolve'),
  a64(0xf86478a0, 'ldr x0, [x5, x4, lsl #3]'),
  a64(0x7200007f, 'tst w3, #0x1'),
  a64(0x54000000, 'b.eq {not_pointer}', imm19('not_pointer')),
  a64(0x8b160000, 'add x0, x0, x22'), // an offset into the script
  label('not_pointer'),
  a64(0x721f007f, 'tst w3, #0x2'),
  a64(0x54000000, 'b.eq {not_slot}', imm19('not_slot')),
  a64(0xf8607b00, 'ldr x0, [x24, x0, lsl #3]'), // an earlier step's result
  label('not_slot'),
  a64(0xf82478a0, 'str x0, [x5, x4, lsl #3]'),
  a64(0xd342fc63, 'lsr x3, x3, #2'),
  a64(0x91000484, 'add x4, x4, #0x1'),
  a64(0xf100189f, 'cmp x4, #0x6'),
  a64(0x54000003, 'b.cc {resolve}', imm19('resolve')), // b.lo
  a64(0xa94106e0, 'ldp x0, x1, [x23, #16]'),
  a64(0xa9420ee2, 'ldp x2, x3, [x23, #32]'),
  a64(0xa94316e4, 'ldp x4, x5, [x23, #48]'),
  a64(0xf94002e8, 'ldr x8, [x23]'),
  a64(0xd4000001, 'svc #0x0'),
  a64(0xf94006e3, 'ldr x3, [x23, #8]'),
  a64(0xd3504c64, 'ubfx x4, x3, #16, #4'), // the result's slot
  a64(0xf8247b00, 'str x0, [x24, x4, lsl #3]'),
  a64(0xf26c007f, 'tst x3, #0x100000'), // bit 20: the result must be argument 6
  a64(0x54000000, 'b.eq {check_error}', imm19('check_error')),
  a64(0xf9401ee5, 'ldr x5, [x23, #56]'),
  a64(0xeb05001f, 'cmp x0, x5'),
  a64(0x54000000, 'b.eq {next}', imm19('next')),
  a64(0x92800040, 'mov x0, #0xfffffffffffffffd'), // any other: a failure, ESRCH
  label('check_error'),
  a64(0xb13ffc1f, 'cmn x0, #0xfff'),
  a64(0x54000003, 'b.cc {next}', imm19('next')), // not -4095..-1: no error
  a64(0xd3587c7a, 'ubfx x26, x3, #24, #8'), // the exit status for a failure; 0: ignored
  a64(0xb500001a, 'cbnz x26, {fail}', imm19('fail')),
  label('next'),
  a64(0x910102f7, 'add x23, x23, #0x40'),
  a64(0x14000000, 'b {step}', imm26('step')),
  label('fail'),
  a64(0x4b0003f9, 'neg w25, w0'), // errno
  a64(0xd360fc63, 'lsr x3, x3, #32'),
  a64(0x8b0302c1, 'add x1, x22, x3'), // the step's message
  a64(0x94000000, 'bl {write_string}', imm26('write_string')),
  a64(0x14000000, 'b {fail_errno}', imm26('fail_errno')),
  label('exec'),
  a64(0x91006276, 'add x22, x19, #0x18'), // &argv[2]: PATH, ARGV0...
  a64(0xd280197a, 'mov x26, #0xcb'), // 203/EXEC, as systemd, should execve fail
  ...ROUTINES_AARCH64, // exec_path first
  label('nibble'),
  a64(0x5100c000, 'sub w0, w0, #0x30'), // '0'..'9' -> 0..9
  a64(0x7100241f, 'cmp w0, #0x9'),
  a64(0x54000009, 'b.ls {nibble_done}', imm19('nibble_done')),
  a64(0x51009c00, 'sub w0, w0, #0x27'), // 'a'..'f' -> 10..15
  label('nibble_done'),
  a64(0xd65f03c0, 'ret'),
  str('msg_exec', `${MSG.exec}\0`),
  str('msg_usage', `${MSG.usage}\0`),
  ...ROUTINE_DATA,
];
