// The machine code every hand-assembled helper (listen-pid-helper-*.ts, context-helper-*.ts,
// sandbox-helper-*.ts, cgroup-enter-helper-*.ts) shares, one listing each per architecture, so
// that the four programs start, report a failure and exit the same way:
//
//   ENTRY_*: the program's first instructions. The initial stack pointer (argc, argv[], NULL,
//     envp[], NULL: the System V process entry layout) is kept in rbx / x19, argc is loaded into
//     rcx / x9 and envp into r12 / x21, and a frame of 0xc0 bytes is taken: a '\n' at
//     rsp+0xb0 / sp+0xb0 (kept in r13 / x20) ends the digit buffer `format` fills backwards;
//     the bytes below rsp+0x9c and those at rsp+0xb8..0xc0 are the program's own.
//   ROUTINES_*: the exec, the failure paths and the subroutines, placed after a program's own
//     code. Each program that includes them defines the strings `msg_exec` ("…: cannot execute ")
//     and `msg_usage`, and appends ROUTINE_DATA.
//     exec_path(argv slot, status): execve(the slot's PATH, the slots after it, envp); should it
//       return, "MSG_EXEC" "PATH" as fail_path, with that status.
//     fail_path(message, path): "MESSAGE" "PATH", then as fail_errno.
//     fail_errno: ": errno N\n" on fd 2, then exit with the failure's status.
//     usage: `msg_usage` on fd 2, then exit_127.
//     exit_127, exit(status): exit_group.
//     write_string(text): a NUL-terminated text to fd 2, falls through into
//     write_stderr(bytes, length): write(2) to fd 2; a failed write is ignored.
//     format(value) -> first digit, digit count: the decimal digits of a 64-bit value, written
//       backwards so that they end at r13 / x20. At least one digit (0 gives "0"), no leading
//       zeros (systemd reads a leading 0 as octal); at most 20. Callers zero-extend 32-bit
//       values (mov eax,… and mov w0,… do).
//   A failure path keeps the errno in ebp / w25 and the exit status in r15d / w26; fail_path
//   takes the message in rsi / x1 and the path in r14 / x22, exec_path the address of PATH's
//   argv slot in r14 / x22 (and envp where ENTRY_* put it). Messages are NUL-terminated: their
//   lengths are counted at run time, so no immediate can drift from its text. The kernel starts
//   a program with the direction flag clear, as write_string's repnz scasb needs.

import { a64, adr, ascii, imm19, imm26, type ListingLine, label, rel8, rel32, x86 } from './elf.js';

/** x86_64: rbx = initial stack pointer, rcx = argc, r12 = envp, r13 = end of the digit buffer. */
export const ENTRY_X86_64: readonly ListingLine[] = [
  label('_start'),
  x86('48 89 e3', 'mov rbx,rsp'),
  x86('48 81 ec c0 00 00 00', 'sub rsp,0xc0'),
  x86('4c 8d ac 24 b0 00 00 00', 'lea r13,[rsp+0xb0]'),
  x86('41 c6 45 00 0a', 'mov BYTE PTR [r13+0x0],0xa'), // '\n' after the digits
  x86('48 8b 0b', 'mov rcx,QWORD PTR [rbx]'), // argc
  x86('4c 8d 64 cb 10', 'lea r12,[rbx+rcx*8+0x10]'), // envp = &argv[argc + 1]
];

/** x86_64: exec_path (r14 = PATH's argv slot, r15d = status, r12 = envp), the failure paths
 * (ebp = errno, r15d = status; fail_path: rsi = message, r14 = path), write_string(rsi),
 * write_stderr(rsi = bytes, rdx = length), format(rax) -> rsi, rdx. The subroutines clobber
 * rax, rcx, rdx, rsi, rdi, r11 (syscall). */
export const ROUTINES_X86_64: readonly ListingLine[] = [
  label('exec_path'),
  x86('49 8b 3e', 'mov rdi,QWORD PTR [r14]'), // PATH
  x86('49 8d 76 08', 'lea rsi,[r14+0x8]'), // ARGV0...
  x86('4c 89 e2', 'mov rdx,r12'), // envp
  x86('b8 3b 00 00 00', 'mov eax,0x3b'), // SYS_execve
  x86('0f 05', 'syscall'),
  x86('f7 d8', 'neg eax'), // execve returned -errno
  x86('89 c5', 'mov ebp,eax'),
  x86('48 8d 35', 'lea rsi,[rip+{msg_exec}]', rel32('msg_exec')),
  x86('4d 8b 36', 'mov r14,QWORD PTR [r14]'), // PATH
  label('fail_path'),
  x86('e8', 'call {write_string}', rel32('write_string')),
  x86('4c 89 f6', 'mov rsi,r14'),
  x86('e8', 'call {write_string}', rel32('write_string')),
  label('fail_errno'),
  x86('48 8d 35', 'lea rsi,[rip+{msg_errno}]', rel32('msg_errno')),
  x86('e8', 'call {write_string}', rel32('write_string')),
  x86('89 e8', 'mov eax,ebp'),
  x86('e8', 'call {format}', rel32('format')),
  x86('48 ff c2', 'inc rdx'), // and the '\n'
  x86('e8', 'call {write_stderr}', rel32('write_stderr')),
  x86('44 89 ff', 'mov edi,r15d'),
  x86('eb', 'jmp {exit}', rel8('exit')),
  label('usage'),
  x86('48 8d 35', 'lea rsi,[rip+{msg_usage}]', rel32('msg_usage')),
  x86('e8', 'call {write_string}', rel32('write_string')),
  label('exit_127'),
  x86('bf 7f 00 00 00', 'mov edi,0x7f'),
  label('exit'),
  x86('b8 e7 00 00 00', 'mov eax,0xe7'), // SYS_exit_group
  x86('0f 05', 'syscall'),
  label('write_string'),
  x86('48 89 f7', 'mov rdi,rsi'),
  x86('31 c0', 'xor eax,eax'),
  x86('48 c7 c1 ff ff ff ff', 'mov rcx,0xffffffffffffffff'),
  x86('f2 ae', 'repnz scas al,BYTE PTR es:[rdi]'), // strlen: rcx = -(len + 2)
  x86('48 f7 d1', 'not rcx'),
  x86('48 8d 51 ff', 'lea rdx,[rcx-0x1]'),
  label('write_stderr'),
  x86('bf 02 00 00 00', 'mov edi,0x2'),
  x86('b8 01 00 00 00', 'mov eax,0x1'), // SYS_write
  x86('0f 05', 'syscall'),
  x86('c3', 'ret'),
  label('format'),
  x86('4c 89 ee', 'mov rsi,r13'),
  x86('b9 0a 00 00 00', 'mov ecx,0xa'),
  label('format_digit'),
  x86('31 d2', 'xor edx,edx'),
  x86('48 f7 f1', 'div rcx'), // rax = q, rdx = r
  x86('80 c2 30', 'add dl,0x30'), // '0' + r
  x86('48 ff ce', 'dec rsi'),
  x86('88 16', 'mov BYTE PTR [rsi],dl'),
  x86('48 85 c0', 'test rax,rax'),
  x86('75', 'jne {format_digit}', rel8('format_digit')),
  x86('4c 89 ea', 'mov rdx,r13'),
  x86('48 29 f2', 'sub rdx,rsi'),
  x86('c3', 'ret'),
];

/** AArch64: x19 = initial stack pointer, x9 = argc, x21 = envp, x20 = end of the digit buffer. */
export const ENTRY_AARCH64: readonly ListingLine[] = [
  label('_start'),
  a64(0x910003f3, 'mov x19, sp'),
  a64(0xd10303ff, 'sub sp, sp, #0xc0'),
  a64(0x9102c3f4, 'add x20, sp, #0xb0'),
  a64(0x52800140, 'mov w0, #0xa'),
  a64(0x39000280, 'strb w0, [x20]'), // '\n' after the digits
  a64(0xf9400269, 'ldr x9, [x19]'), // argc
  a64(0x8b090e75, 'add x21, x19, x9, lsl #3'),
  a64(0x910042b5, 'add x21, x21, #0x10'), // envp = &argv[argc + 1]
];

/** AArch64: exec_path (x22 = PATH's argv slot, w26 = status, x21 = envp), the failure paths
 * (w25 = errno, w26 = status; fail_path: x1 = message, x22 = path), write_string(x1),
 * write_stderr(x1 = bytes, x2 = length), format(x0) -> x1, x2. The subroutines are leaves
 * (bl/ret through x30, no stack) and clobber x0, x2, x3, x4, x5, x8. */
export const ROUTINES_AARCH64: readonly ListingLine[] = [
  label('exec_path'),
  a64(0xf94002c0, 'ldr x0, [x22]'), // PATH
  a64(0x910022c1, 'add x1, x22, #0x8'), // ARGV0...
  a64(0xaa1503e2, 'mov x2, x21'), // envp
  a64(0xd2801ba8, 'mov x8, #0xdd'), // SYS_execve
  a64(0xd4000001, 'svc #0x0'),
  a64(0x4b0003f9, 'neg w25, w0'), // execve returned -errno
  a64(0x10000001, 'adr x1, {msg_exec}', adr('msg_exec')),
  a64(0xf94002d6, 'ldr x22, [x22]'), // PATH
  label('fail_path'),
  a64(0x94000000, 'bl {write_string}', imm26('write_string')),
  a64(0xaa1603e1, 'mov x1, x22'),
  a64(0x94000000, 'bl {write_string}', imm26('write_string')),
  label('fail_errno'),
  a64(0x10000001, 'adr x1, {msg_errno}', adr('msg_errno')),
  a64(0x94000000, 'bl {write_string}', imm26('write_string')),
  a64(0x2a1903e0, 'mov w0, w25'),
  a64(0x94000000, 'bl {format}', imm26('format')),
  a64(0x91000442, 'add x2, x2, #0x1'), // and the '\n'
  a64(0x94000000, 'bl {write_stderr}', imm26('write_stderr')),
  a64(0x2a1a03e0, 'mov w0, w26'),
  a64(0x14000000, 'b {exit}', imm26('exit')),
  label('usage'),
  a64(0x10000001, 'adr x1, {msg_usage}', adr('msg_usage')),
  a64(0x94000000, 'bl {write_string}', imm26('write_string')),
  label('exit_127'),
  a64(0x52800fe0, 'mov w0, #0x7f'),
  label('exit'),
  a64(0xd2800bc8, 'mov x8, #0x5e'), // SYS_exit_group
  a64(0xd4000001, 'svc #0x0'),
  label('write_string'),
  a64(0xaa0103e3, 'mov x3, x1'),
  label('string_end'),
  a64(0x38401464, 'ldrb w4, [x3], #1'),
  a64(0x35000004, 'cbnz w4, {string_end}', imm19('string_end')),
  a64(0xcb010062, 'sub x2, x3, x1'),
  a64(0xd1000442, 'sub x2, x2, #0x1'), // strlen
  label('write_stderr'),
  a64(0xd2800040, 'mov x0, #0x2'),
  a64(0xd2800808, 'mov x8, #0x40'), // SYS_write
  a64(0xd4000001, 'svc #0x0'),
  a64(0xd65f03c0, 'ret'),
  label('format'),
  a64(0xaa1403e1, 'mov x1, x20'),
  a64(0x52800143, 'mov w3, #0xa'),
  label('format_digit'),
  a64(0x9ac30804, 'udiv x4, x0, x3'),
  a64(0x9b038085, 'msub x5, x4, x3, x0'), // remainder
  a64(0x1100c0a5, 'add w5, w5, #0x30'), // '0' + remainder
  a64(0x381ffc25, 'strb w5, [x1, #-1]!'),
  a64(0xaa0403e0, 'mov x0, x4'),
  a64(0xb5000000, 'cbnz x0, {format_digit}', imm19('format_digit')),
  a64(0xcb010282, 'sub x2, x20, x1'),
  a64(0xd65f03c0, 'ret'),
];

/** The routines' own text, placed after all code (both architectures). */
export const ROUTINE_DATA: readonly ListingLine[] = [ascii('msg_errno', ': errno \0')];
