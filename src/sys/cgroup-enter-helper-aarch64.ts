// The cgroup exec step for AArch64 Linux: the same program as the x86_64 listing
// (cgroup-enter-helper-x86_64.ts; contract in cgroup-enter-helper.ts), with openat(AT_FDCWD, …)
// where x86_64 has open.
//
// Registers: x19, x9 and x21 as ENTRY_AARCH64 sets them (helper-routines.ts); on the way out
// w25 = errno, w26 = the exit status, x1 = the message and x22 = the path it names, as the
// routines take them. Syscalls: number in x8, arguments in x0..x3, `svc #0`, result in x0
// (-errno on failure).

import { CGROUP_HELPER_MESSAGES as MSG } from './cgroup-enter-helper-x86_64.js';
import { a64, adr, imm19, imm26, type ListingLine, label, ascii as str } from './elf.js';
import { ENTRY_AARCH64, ROUTINE_DATA, ROUTINES_AARCH64 } from './helper-routines.js';

// Each word is written with its label-relative offset field zero; assemble() fills it in.
// `{name}` marks that operand in the text, which is objdump's syntax so the test can compare.
export const CGROUP_ENTER_HELPER_AARCH64: readonly ListingLine[] = [
  ...ENTRY_AARCH64,
  a64(0xf100113f, 'cmp x9, #0x4'), // argc: helper, PROCS, PATH, ARGV0
  a64(0x54000003, 'b.cc {usage}', imm19('usage')),
  a64(0x92800c60, 'mov x0, #0xffffffffffffff9c'), // AT_FDCWD
  a64(0xf9400a61, 'ldr x1, [x19, #16]'), // argv[1] = PROCS
  a64(0x52800022, 'mov w2, #0x1'),
  a64(0x72a00102, 'movk w2, #0x8, lsl #16'), // O_WRONLY | O_CLOEXEC
  a64(0xd2800003, 'mov x3, #0x0'),
  a64(0xd2800708, 'mov x8, #0x38'), // SYS_openat
  a64(0xd4000001, 'svc #0x0'),
  a64(0xf100001f, 'cmp x0, #0x0'),
  a64(0x5400000b, 'b.lt {enter_failed}', imm19('enter_failed')),
  a64(0x10000001, 'adr x1, {zero}', adr('zero')),
  a64(0xd2800022, 'mov x2, #0x1'), // write(fd, "0", 1): "0" is this process
  a64(0xd2800808, 'mov x8, #0x40'), // SYS_write
  a64(0xd4000001, 'svc #0x0'),
  a64(0xf100001f, 'cmp x0, #0x0'),
  a64(0x5400000b, 'b.lt {enter_failed}', imm19('enter_failed')),
  a64(0x91006276, 'add x22, x19, #0x18'), // &argv[2]: PATH, ARGV0...
  a64(0x52800ffa, 'mov w26, #0x7f'), // status 127 should execve fail
  a64(0x14000000, 'b {exec_path}', imm26('exec_path')),
  label('enter_failed'),
  a64(0x4b0003f9, 'neg w25, w0'), // x0 was -errno
  a64(0x52801b7a, 'mov w26, #0xdb'), // status 219 (CGROUP)
  a64(0x10000001, 'adr x1, {msg_enter}', adr('msg_enter')),
  a64(0xf9400a76, 'ldr x22, [x19, #16]'),
  a64(0x14000000, 'b {fail_path}', imm26('fail_path')),
  ...ROUTINES_AARCH64, // exec_path first
  str('zero', '0'),
  str('msg_exec', `${MSG.exec}\0`),
  str('msg_enter', `${MSG.enter}\0`),
  str('msg_usage', `${MSG.usage}\0`),
  ...ROUTINE_DATA,
];
