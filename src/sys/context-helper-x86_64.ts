// The exec-context helper for x86_64 Linux, as a listing (contract: context-helper.ts).
//
//   helper SCRIPT PATH ARGV0 [ARG]...
//
// Decode SCRIPT (hex) in place; run its steps, each one system call whose arguments are numbers,
// offsets into the script (pointers to its data) or the results of earlier steps; a step that
// fails (-4095..-1, or any result other than its sixth argument when it is marked so) with a
// non-zero exit status writes its message and ": errno N\n" to fd 2 and exits with that status. After the last step, execve(PATH, [ARGV0, ARG...], envp); if that
// returns, "sockunit-exec: cannot execute PATH: errno N\n" and status 203 (systemd's EXEC).
//
// Registers kept across the program: rbx, r12 and r13 as ENTRY_X86_64 sets them
// (helper-routines.ts), r14 = the decoded script, r15 = the step being run, rbp = 16 result
// slots at the bottom of the frame. The kernel starts us with the direction flag clear, as
// repnz scasb needs.

import { type ListingLine, label, rel8, rel32, ascii as str, x86 } from './elf.js';
import { ENTRY_X86_64, ROUTINE_DATA, ROUTINES_X86_64 } from './helper-routines.js';

export const CONTEXT_HELPER_MESSAGES = {
  exec: 'sockunit-exec: cannot execute ',
  usage: 'sockunit-exec: usage: helper SCRIPT PATH ARGV0 [ARG]...\n',
} as const;

// Referenced displacements (rel8/rel32) are appended to the listed bytes by assemble(); `{name}`
// marks them in the text, which is objdump's Intel syntax so the test can compare the two.
export const CONTEXT_HELPER_X86_64: readonly ListingLine[] = [
  ...ENTRY_X86_64,
  x86('48 89 e5', 'mov rbp,rsp'), // rbp = the result slots
  x86('48 83 f9 04', 'cmp rcx,0x4'), // helper, SCRIPT, PATH, ARGV0
  x86('0f 82', 'jb {usage}', rel32('usage')),
  x86('48 8b 73 10', 'mov rsi,QWORD PTR [rbx+0x10]'), // argv[1] = SCRIPT, in hex
  x86('49 89 f6', 'mov r14,rsi'), // decoded in place: r14 = the script's base
  x86('48 89 f7', 'mov rdi,rsi'),
  label('decode'),
  x86('0f b6 06', 'movzx eax,BYTE PTR [rsi]'),
  x86('85 c0', 'test eax,eax'),
  x86('74', 'je {run}', rel8('run')), // end of the hex text
  x86('e8', 'call {nibble}', rel32('nibble')),
  x86('89 c2', 'mov edx,eax'),
  x86('0f b6 46 01', 'movzx eax,BYTE PTR [rsi+0x1]'),
  x86('85 c0', 'test eax,eax'),
  x86('0f 84', 'je {usage}', rel32('usage')), // an odd number of digits
  x86('e8', 'call {nibble}', rel32('nibble')),
  x86('c1 e2 04', 'shl edx,0x4'),
  x86('09 d0', 'or eax,edx'),
  x86('88 07', 'mov BYTE PTR [rdi],al'),
  x86('48 ff c7', 'inc rdi'),
  x86('48 83 c6 02', 'add rsi,0x2'),
  x86('eb', 'jmp {decode}', rel8('decode')),
  label('run'),
  x86('4d 89 f7', 'mov r15,r14'), // r15 walks the steps
  label('step'),
  x86('49 8b 07', 'mov rax,QWORD PTR [r15]'), // the system call number
  x86('48 83 f8 ff', 'cmp rax,0xffffffffffffffff'),
  x86('0f 84', 'je {exec}', rel32('exec')), // end of the steps
  x86('49 8b 57 08', 'mov rdx,QWORD PTR [r15+0x8]'), // two kind bits per argument
  x86('31 c9', 'xor ecx,ecx'),
  label('resolve'),
  x86('49 8b 44 cf 10', 'mov rax,QWORD PTR [r15+rcx*8+0x10]'),
  x86('f6 c2 01', 'test dl,0x1'),
  x86('74', 'je {not_pointer}', rel8('not_pointer')),
  x86('4c 01 f0', 'add rax,r14'), // an offset into the script
  label('not_pointer'),
  x86('f6 c2 02', 'test dl,0x2'),
  x86('74', 'je {not_slot}', rel8('not_slot')),
  x86('48 8b 44 c5 00', 'mov rax,QWORD PTR [rbp+rax*8+0x0]'), // an earlier step's result
  label('not_slot'),
  x86('49 89 44 cf 10', 'mov QWORD PTR [r15+rcx*8+0x10],rax'),
  x86('48 c1 ea 02', 'shr rdx,0x2'),
  x86('ff c1', 'inc ecx'),
  x86('83 f9 06', 'cmp ecx,0x6'),
  x86('72', 'jb {resolve}', rel8('resolve')),
  x86('49 8b 7f 10', 'mov rdi,QWORD PTR [r15+0x10]'),
  x86('49 8b 77 18', 'mov rsi,QWORD PTR [r15+0x18]'),
  x86('49 8b 57 20', 'mov rdx,QWORD PTR [r15+0x20]'),
  x86('4d 8b 57 28', 'mov r10,QWORD PTR [r15+0x28]'),
  x86('4d 8b 47 30', 'mov r8,QWORD PTR [r15+0x30]'),
  x86('4d 8b 4f 38', 'mov r9,QWORD PTR [r15+0x38]'),
  x86('49 8b 07', 'mov rax,QWORD PTR [r15]'),
  x86('0f 05', 'syscall'),
  x86('49 8b 57 08', 'mov rdx,QWORD PTR [r15+0x8]'),
  x86('48 89 d1', 'mov rcx,rdx'),
  x86('48 c1 e9 10', 'shr rcx,0x10'),
  x86('83 e1 0f', 'and ecx,0xf'), // the result's slot
  x86('48 89 44 cd 00', 'mov QWORD PTR [rbp+rcx*8+0x0],rax'),
  x86('f7 c2 00 00 10 00', 'test edx,0x100000'), // bit 20: the result must be argument 6
  x86('74', 'je {check_error}', rel8('check_error')),
  x86('49 3b 47 38', 'cmp rax,QWORD PTR [r15+0x38]'),
  x86('74', 'je {next}', rel8('next')),
  x86('48 c7 c0 fd ff ff ff', 'mov rax,0xfffffffffffffffd'), // any other: a failure, ESRCH
  label('check_error'),
  x86('48 3d 01 f0 ff ff', 'cmp rax,0xfffffffffffff001'),
  x86('72', 'jb {next}', rel8('next')), // not -4095..-1: no error
  x86('48 89 d1', 'mov rcx,rdx'),
  x86('48 c1 e9 18', 'shr rcx,0x18'),
  x86('81 e1 ff 00 00 00', 'and ecx,0xff'), // the exit status for a failure; 0: ignored
  x86('75', 'jne {fail}', rel8('fail')),
  label('next'),
  x86('49 83 c7 40', 'add r15,0x40'),
  x86('e9', 'jmp {step}', rel32('step')),
  label('fail'),
  x86('f7 d8', 'neg eax'),
  x86('89 c5', 'mov ebp,eax'), // errno
  x86('41 89 cf', 'mov r15d,ecx'), // exit status
  x86('48 c1 ea 20', 'shr rdx,0x20'),
  x86('49 8d 34 16', 'lea rsi,[r14+rdx*1]'), // the step's message
  x86('e8', 'call {write_string}', rel32('write_string')),
  x86('eb', 'jmp {fail_errno}', rel8('fail_errno')),
  label('exec'),
  x86('4c 8d 73 18', 'lea r14,[rbx+0x18]'), // &argv[2]: PATH, ARGV0...
  x86('41 bf cb 00 00 00', 'mov r15d,0xcb'), // 203/EXEC, as systemd, should execve fail
  ...ROUTINES_X86_64, // exec_path first
  label('nibble'),
  x86('83 e8 30', 'sub eax,0x30'), // '0'..'9' -> 0..9
  x86('83 f8 09', 'cmp eax,0x9'),
  x86('76', 'jbe {nibble_done}', rel8('nibble_done')),
  x86('83 e8 27', 'sub eax,0x27'), // 'a'..'f' -> 10..15
  label('nibble_done'),
  x86('c3', 'ret'),
  str('msg_exec', `${CONTEXT_HELPER_MESSAGES.exec}\0`),
  str('msg_usage', `${CONTEXT_HELPER_MESSAGES.usage}\0`),
  ...ROUTINE_DATA,
];
