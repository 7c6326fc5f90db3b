// The sandbox helper for x86_64 Linux, as a listing (contract: syscall-plan.ts).
//
//   helper PLAN PATH ARGV0 [ARG]...
//
// Maps the plan file PLAN privately at PLAN_ADDRESS (0x10000000), then runs its steps in order:
// each is a system call number, six arguments (an argument whose bit is set in the step's
// indirect mask is first replaced by the 64-bit value at that address: how a later step uses the
// fd an earlier one saved), an address to save the result at (0: none), an errno that counts as
// success (0: none), and the exit status and message for a failure. A failed step writes
// "MESSAGE: errno N" to fd 2 and exits with the step's status (226 NAMESPACE, 228 SECCOMP...,
// as systemd's executor does). A number of all ones ends the plan: execve(PATH, [ARGV0, ARG...],
// envp), on failure "sockunit-sandbox: cannot execute PATH: errno N" and status 127. A plan that
// cannot be opened or mapped: "sockunit-sandbox: cannot read the plan PLAN: errno N", status 226.
//
// Registers kept across the program: rbx, r12 and r13 as ENTRY_X86_64 sets them
// (helper-routines.ts), rbp = the step being run; on the way out, ebp = errno and r15d = the
// exit status, as the routines take them.
// A step is 88 bytes: +0 number, +8..+48 arguments, +56 indirect mask (32 bits), +60 the errno
// that counts as success, +64 where to save the result, +72 exit status, +80 message address.

import { type ListingLine, label, rel8, rel32, ascii as str, x86 } from './elf.js';
import { ENTRY_X86_64, ROUTINE_DATA, ROUTINES_X86_64 } from './helper-routines.js';

export const SANDBOX_HELPER_MESSAGES = {
  plan: 'sockunit-sandbox: cannot read the plan ',
  exec: 'sockunit-sandbox: cannot execute ',
  usage: 'sockunit-sandbox: usage: helper PLAN PATH ARGV0 [ARG]...\n',
} as const;

// `{name}` marks a label-relative operand, in objdump's Intel syntax so the test can compare.
export const SANDBOX_HELPER_X86_64: readonly ListingLine[] = [
  ...ENTRY_X86_64,
  x86('48 83 f9 04', 'cmp rcx,0x4'),
  x86('0f 82', 'jb {usage}', rel32('usage')),
  x86('48 c7 c7 9c ff ff ff', 'mov rdi,0xffffffffffffff9c'),
  x86('48 8b 73 10', 'mov rsi,QWORD PTR [rbx+0x10]'),
  x86('ba 00 00 08 00', 'mov edx,0x80000'),
  x86('45 31 d2', 'xor r10d,r10d'),
  x86('b8 01 01 00 00', 'mov eax,0x101'),
  x86('0f 05', 'syscall'),
  x86('48 85 c0', 'test rax,rax'),
  x86('0f 88', 'js {plan_failed}', rel32('plan_failed')),
  x86('49 89 c0', 'mov r8,rax'),
  x86('bf 00 00 00 10', 'mov edi,0x10000000'),
  x86('be 00 00 10 00', 'mov esi,0x100000'),
  x86('ba 03 00 00 00', 'mov edx,0x3'),
  x86('41 ba 12 00 00 00', 'mov r10d,0x12'),
  x86('45 31 c9', 'xor r9d,r9d'),
  x86('b8 09 00 00 00', 'mov eax,0x9'),
  x86('0f 05', 'syscall'),
  x86('48 3d 00 00 00 10', 'cmp rax,0x10000000'),
  x86('0f 85', 'jne {plan_failed}', rel32('plan_failed')),
  x86('4c 89 c7', 'mov rdi,r8'),
  x86('b8 03 00 00 00', 'mov eax,0x3'),
  x86('0f 05', 'syscall'),
  x86('bd 00 00 00 10', 'mov ebp,0x10000000'),
  label('next'),
  x86('48 8b 45 00', 'mov rax,QWORD PTR [rbp+0x0]'),
  x86('48 83 f8 ff', 'cmp rax,0xffffffffffffffff'),
  x86('0f 84', 'je {exec}', rel32('exec')),
  x86('48 8b 7d 08', 'mov rdi,QWORD PTR [rbp+0x8]'),
  x86('48 8b 75 10', 'mov rsi,QWORD PTR [rbp+0x10]'),
  x86('48 8b 55 18', 'mov rdx,QWORD PTR [rbp+0x18]'),
  x86('4c 8b 55 20', 'mov r10,QWORD PTR [rbp+0x20]'),
  x86('4c 8b 45 28', 'mov r8,QWORD PTR [rbp+0x28]'),
  x86('4c 8b 4d 30', 'mov r9,QWORD PTR [rbp+0x30]'),
  x86('8b 4d 38', 'mov ecx,DWORD PTR [rbp+0x38]'),
  x86('f6 c1 01', 'test cl,0x1'),
  x86('74', 'je {a1}', rel8('a1')),
  x86('48 8b 3f', 'mov rdi,QWORD PTR [rdi]'),
  label('a1'),
  x86('f6 c1 02', 'test cl,0x2'),
  x86('74', 'je {a2}', rel8('a2')),
  x86('48 8b 36', 'mov rsi,QWORD PTR [rsi]'),
  label('a2'),
  x86('f6 c1 04', 'test cl,0x4'),
  x86('74', 'je {a3}', rel8('a3')),
  x86('48 8b 12', 'mov rdx,QWORD PTR [rdx]'),
  label('a3'),
  x86('f6 c1 08', 'test cl,0x8'),
  x86('74', 'je {a4}', rel8('a4')),
  x86('4d 8b 12', 'mov r10,QWORD PTR [r10]'),
  label('a4'),
  x86('f6 c1 10', 'test cl,0x10'),
  x86('74', 'je {a5}', rel8('a5')),
  x86('4d 8b 00', 'mov r8,QWORD PTR [r8]'),
  label('a5'),
  x86('f6 c1 20', 'test cl,0x20'),
  x86('74', 'je {a6}', rel8('a6')),
  x86('4d 8b 09', 'mov r9,QWORD PTR [r9]'),
  label('a6'),
  x86('0f 05', 'syscall'),
  x86('48 8b 4d 40', 'mov rcx,QWORD PTR [rbp+0x40]'),
  x86('48 85 c9', 'test rcx,rcx'),
  x86('74', 'je {checked}', rel8('checked')),
  x86('48 89 01', 'mov QWORD PTR [rcx],rax'),
  label('checked'),
  x86('48 3d 01 f0 ff ff', 'cmp rax,0xfffffffffffff001'),
  x86('73', 'jae {failed}', rel8('failed')),
  label('step'),
  x86('48 83 c5 58', 'add rbp,0x58'),
  x86('eb', 'jmp {next}', rel8('next')),
  label('failed'),
  x86('f7 d8', 'neg eax'),
  x86('3b 45 3c', 'cmp eax,DWORD PTR [rbp+0x3c]'),
  x86('74', 'je {step}', rel8('step')),
  x86('44 8b 7d 48', 'mov r15d,DWORD PTR [rbp+0x48]'),
  x86('48 8b 75 50', 'mov rsi,QWORD PTR [rbp+0x50]'),
  x86('89 c5', 'mov ebp,eax'),
  x86('e8', 'call {write_string}', rel32('write_string')),
  x86('eb', 'jmp {fail_errno}', rel8('fail_errno')),
  label('plan_failed'),
  x86('f7 d8', 'neg eax'),
  x86('89 c5', 'mov ebp,eax'),
  x86('41 bf e2 00 00 00', 'mov r15d,0xe2'),
  x86('48 8d 35', 'lea rsi,[rip+{msg_plan}]', rel32('msg_plan')),
  x86('4c 8b 73 10', 'mov r14,QWORD PTR [rbx+0x10]'),
  x86('eb', 'jmp {fail_path}', rel8('fail_path')),
  label('exec'),
  x86('4c 8d 73 18', 'lea r14,[rbx+0x18]'),
  x86('41 bf 7f 00 00 00', 'mov r15d,0x7f'),
  ...ROUTINES_X86_64, // exec_path first

  str('msg_plan', `${SANDBOX_HELPER_MESSAGES.plan}\0`),
  str('msg_exec', `${SANDBOX_HELPER_MESSAGES.exec}\0`),
  str('msg_usage', `${SANDBOX_HELPER_MESSAGES.usage}\0`),
  ...ROUTINE_DATA,
];
