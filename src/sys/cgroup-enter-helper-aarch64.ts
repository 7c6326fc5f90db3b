// The cgroup exec step for AArch64 Linux: the same program as the x86_64 listing
// (cgroup-enter-helper-x86_64.ts; contract in cgroup-enter-helper.ts), with openat(AT_FDCWD, …)
// where x86_64 has open.
//
// Registers kept across the program: x19 = the initial stack pointer (argc, argv[], NULL,
// envp[], NULL), x20 = end of a 16-byte scratch buffer on the stack where the errno's digits are
// written backwards (a '\n' sits at x20), x9 = argc. Syscalls: number in x8, arguments in
// x0..x3, `svc #0`, result in x0 (-errno on failure).

import { CGROUP_HELPER_MESSAGES as MSG } from './cgroup-enter-helper-x86_64.js';
import { a64, type ListingLine, label, ascii as str } from './elf.js';

const imm19 = (target: string) => ({ label: target, encoding: 'a64-imm19' as const });
const imm26 = (target: string) => ({ label: target, encoding: 'a64-imm26' as const });
const adr = (target: string) => ({ label: target, encoding: 'a64-adr' as const });

// Each word is written with its label-relative offset field zero; assemble() fills it in.
// `{name}` marks that operand in the text, which is objdump's syntax so the test can compare.
export const CGROUP_ENTER_HELPER_AARCH64: readonly ListingLine[] = [
  label('_start'),
  a64(0x910003f3, 'mov x19, sp'),
  a64(0xd10083ff, 'sub sp, sp, #0x20'),
  a64(0x910043f4, 'add x20, sp, #0x10'),
  a64(0x52800140, 'mov w0, #0xa'),
  a64(0x39000280, 'strb w0, [x20]'),
  a64(0xf9400269, 'ldr x9, [x19]'),
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
  a64(0xf9400e60, 'ldr x0, [x19, #24]'), // argv[2] = PATH
  a64(0x91008261, 'add x1, x19, #0x20'), // &argv[3] = ARGV0...
  a64(0x8b090e62, 'add x2, x19, x9, lsl #3'),
  a64(0x91004042, 'add x2, x2, #0x10'), // envp = &argv[argc + 1]
  a64(0xd2801ba8, 'mov x8, #0xdd'), // SYS_execve
  a64(0xd4000001, 'svc #0x0'),
  a64(0x10000015, 'adr x21, {msg_exec}', adr('msg_exec')),
  a64(0xf9400e76, 'ldr x22, [x19, #24]'),
  a64(0x52800ff7, 'mov w23, #0x7f'), // status 127
  a64(0x14000000, 'b {fail}', imm26('fail')),
  label('enter_failed'),
  a64(0x10000015, 'adr x21, {msg_enter}', adr('msg_enter')),
  a64(0xf9400a76, 'ldr x22, [x19, #16]'),
  a64(0x52801b77, 'mov w23, #0xdb'), // status 219 (CGROUP)
  // x0 = -errno, x21 = message, x22 = the path it names, w23 = exit status.
  label('fail'),
  a64(0xcb0003f8, 'neg x24, x0'), // x0 was -errno
  a64(0xaa1503e1, 'mov x1, x21'),
  a64(0x94000000, 'bl {write_str}', imm26('write_str')),
  a64(0xaa1603e1, 'mov x1, x22'),
  a64(0x94000000, 'bl {write_str}', imm26('write_str')),
  a64(0x10000001, 'adr x1, {msg_errno}', adr('msg_errno')),
  a64(0x94000000, 'bl {write_str}', imm26('write_str')),
  a64(0xaa1403e1, 'mov x1, x20'),
  a64(0xd2800143, 'mov x3, #0xa'),
  // errno in decimal, written backwards before the '\n' at x20
  label('digit'),
  a64(0x9ac30b04, 'udiv x4, x24, x3'),
  a64(0x9b03e085, 'msub x5, x4, x3, x24'), // the last digit
  a64(0x1100c0a5, 'add w5, w5, #0x30'),
  a64(0x381ffc25, 'strb w5, [x1, #-1]!'),
  a64(0xaa0403f8, 'mov x24, x4'),
  a64(0xb5000018, 'cbnz x24, {digit}', imm19('digit')),
  a64(0xcb010282, 'sub x2, x20, x1'),
  a64(0x91000442, 'add x2, x2, #0x1'),
  a64(0x94000000, 'bl {write_stderr}', imm26('write_stderr')),
  a64(0x2a1703e0, 'mov w0, w23'),
  a64(0x14000000, 'b {exit}', imm26('exit')),
  label('usage'),
  a64(0x10000001, 'adr x1, {msg_usage}', adr('msg_usage')),
  a64(0x94000000, 'bl {write_str}', imm26('write_str')),
  a64(0x52800fe0, 'mov w0, #0x7f'), // status 127
  label('exit'),
  a64(0xd2800bc8, 'mov x8, #0x5e'), // SYS_exit_group
  a64(0xd4000001, 'svc #0x0'),
  // write_str(x1 = NUL-terminated text): its length, then write_stderr. Leaves: bl/ret via x30.
  label('write_str'),
  a64(0xaa0103e2, 'mov x2, x1'),
  label('len'),
  a64(0x38401445, 'ldrb w5, [x2], #1'),
  a64(0x35000005, 'cbnz w5, {len}', imm19('len')),
  a64(0xcb010042, 'sub x2, x2, x1'),
  a64(0xd1000442, 'sub x2, x2, #0x1'),
  // write_stderr(x1 = bytes, x2 = length); a failed write is ignored.
  label('write_stderr'),
  a64(0xd2800040, 'mov x0, #0x2'),
  a64(0xd2800808, 'mov x8, #0x40'), // SYS_write
  a64(0xd4000001, 'svc #0x0'),
  a64(0xd65f03c0, 'ret'),
  str('zero', '0'),
  str('msg_exec', `${MSG.exec}\0`),
  str('msg_enter', `${MSG.enter}\0`),
  str('msg_errno', `${MSG.errno}\0`),
  str('msg_usage', `${MSG.usage}\0`),
];
