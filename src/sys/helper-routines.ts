// The subroutines both hand-assembled helpers (listen-pid-helper-*.ts, context-helper-*.ts) end
// with, one listing each per architecture, so the two programs share their machine code:
//   write_stderr(bytes, length): write(2) to fd 2; a failed write is ignored.
//   format(value) -> first digit, digit count: the decimal digits of a 64-bit value, written
//     backwards so that they end at a buffer end the program keeps in a register (r13 on
//     x86_64, x20 on AArch64). At least one digit (0 gives "0"), no leading zeros (systemd reads
//     a leading 0 as octal); at most 20. Callers zero-extend 32-bit values (mov eax,… and
//     mov w0,… do).

import { a64, imm19, type ListingLine, label, rel8, x86 } from './elf.js';

/** x86_64: write_stderr(rsi = bytes, rdx = length); format(rax) -> rsi, rdx. Clobbers rax, rcx,
 * rdx, rsi, rdi, r11 (syscall). */
export const ROUTINES_X86_64: readonly ListingLine[] = [
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

/** AArch64: write_stderr(x1 = bytes, x2 = length); format(x0) -> x1, x2. Leaves (bl/ret through
 * x30, no stack); clobber x0, x3, x4, x5, x8. */
export const ROUTINES_AARCH64: readonly ListingLine[] = [
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
