// The cgroup exec step for x86_64 Linux, as a listing (contract: cgroup-enter-helper.ts).
//
//   helper PROCS PATH ARGV0 [ARG]...
//
// open(PROCS, O_WRONLY | O_CLOEXEC); write(fd, "0", 1), which moves this process into the cgroup
// whose cgroup.procs PROCS is; execve(PATH, [ARGV0, ARG...], envp). If entering fails, write
// "sockunit-cgroup: cannot enter PROCS: errno N\n" to fd 2 and exit 219 (systemd's CGROUP
// status); if execve returns, "sockunit-cgroup: cannot execute PATH: errno N\n" and exit 127.
//
// Registers: rbx, rcx and r12 as ENTRY_X86_64 sets them (helper-routines.ts); on the way out
// ebp = errno, r15d = the exit status, rsi = the message and r14 = the path it names, as the
// routines take them.

import { type ListingLine, label, rel8, rel32, ascii as str, x86 } from './elf.js';
import { ENTRY_X86_64, ROUTINE_DATA, ROUTINES_X86_64 } from './helper-routines.js';

export const CGROUP_HELPER_MESSAGES = {
  exec: 'sockunit-cgroup: cannot execute ',
  enter: 'sockunit-cgroup: cannot enter ',
  usage: 'sockunit-cgroup: usage: helper CGROUP_PROCS PATH ARGV0 [ARG]...\n',
} as const;

// Referenced displacements (rel8/rel32) are appended to the listed bytes by assemble(); `{name}`
// marks them in the text, which is objdump's Intel syntax so the test can compare the two.
export const CGROUP_ENTER_HELPER_X86_64: readonly ListingLine[] = [
  ...ENTRY_X86_64,
  x86('48 83 f9 04', 'cmp rcx,0x4'), // argc: helper, PROCS, PATH, ARGV0
  x86('0f 82', 'jb {usage}', rel32('usage')),
  x86('48 8b 7b 10', 'mov rdi,QWORD PTR [rbx+0x10]'),
  x86('be 01 00 08 00', 'mov esi,0x80001'), // O_WRONLY | O_CLOEXEC
  x86('31 d2', 'xor edx,edx'),
  x86('b8 02 00 00 00', 'mov eax,0x2'), // SYS_open(PROCS)
  x86('0f 05', 'syscall'),
  x86('85 c0', 'test eax,eax'),
  x86('78', 'js {enter_failed}', rel8('enter_failed')),
  x86('89 c7', 'mov edi,eax'), // the fd
  x86('48 8d 35', 'lea rsi,[rip+{zero}]', rel32('zero')),
  x86('ba 01 00 00 00', 'mov edx,0x1'), // write(fd, "0", 1): "0" is this process
  x86('b8 01 00 00 00', 'mov eax,0x1'), // SYS_write
  x86('0f 05', 'syscall'),
  x86('48 85 c0', 'test rax,rax'),
  x86('78', 'js {enter_failed}', rel8('enter_failed')),
  x86('4c 8d 73 18', 'lea r14,[rbx+0x18]'), // &argv[2]: PATH, ARGV0...
  x86('41 bf 7f 00 00 00', 'mov r15d,0x7f'), // status 127 should execve fail
  x86('eb', 'jmp {exec_path}', rel8('exec_path')),
  label('enter_failed'),
  x86('f7 d8', 'neg eax'), // rax was -errno
  x86('89 c5', 'mov ebp,eax'),
  x86('41 bf db 00 00 00', 'mov r15d,0xdb'), // status 219 (CGROUP)
  x86('48 8d 35', 'lea rsi,[rip+{msg_enter}]', rel32('msg_enter')),
  x86('4c 8b 73 10', 'mov r14,QWORD PTR [rbx+0x10]'),
  x86('eb', 'jmp {fail_path}', rel8('fail_path')),
  ...ROUTINES_X86_64, // exec_path first
  str('zero', '0'),
  str('msg_exec', `${CGROUP_HELPER_MESSAGES.exec}\0`),
  str('msg_enter', `${CGROUP_HELPER_MESSAGES.enter}\0`),
  str('msg_usage', `${CGROUP_HELPER_MESSAGES.usage}\0`),
  ...ROUTINE_DATA,
];
