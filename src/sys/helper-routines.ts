// The subroutines both hand-assembled helpers (listen-pid-helper-*.ts, context-helper-*.ts) end
// with, one listing each per architecture, so the two programs share their machine code:
//   write_stderr(bytes, length): write(2) to fd 2; a failed write is ignored.
//   format(value) -> first digit, digit count: the decimal digits of a 32-bit value, written
//     backwards so that they end at a buffer end the program keeps in a register (r13 on
//     x86_64, x20 on AArch64). At least one digit (0 gives "0"); at most 10.

import { a64, imm19, type ListingLine, label, rel8, x86 } from './elf.js';

/** x86_64: write_stderr(rsi = bytes, rdx = length); format(eax) -> rsi, rdx. Clobbers rax, rcx,
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
  x86('f7 f1', 'div ecx'), // eax = q, edx = r
  x86('80 c2 30', 'add dl,0x30'), // '0' + r
  x86('48 ff ce', 'dec rsi'),
  x86('88 16', 'mov BYTE PTR [rsi],dl'),
  x86('85 c0', 'test eax,eax'),
  x86('75', 'jne {format_digit}', rel8('format_digit')),
  x86('4c 89 ea', 'mov rdx,r13'),
  x86('48 29 f2', 'sub rdx,rsi'),
  x86('c3', 'ret'),
];

/** AArch64: write_stderr(x1 = bytes, x2 = length); format(w0) -> x1, x2. Leaves (bl/ret through
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
  a64(0x1ac30804, 'udiv w4, w0, w3'),
  a64(0x1b038085, 'msub w5, w4, w3, w0'), // remainder
  a64(0x1100c0a5, 'add w5, w5, #0x30'), // '0' + remainder
  a64(0x381ffc25, 'strb w5, [x1, #-1]!'),
  a64(0x2a0403e0, 'mov w0, w4'),
  a64(0x35000000, 'cbnz w0, {format_digit}', imm19('format_digit')),
  a64(0xcb010282, 'sub x2, x20, x1'),
  a64(0xd65f03c0, 'ret'),
];
