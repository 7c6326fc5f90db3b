// The cgroup exec step for x86_64 Linux, as a listing (contract: cgroup-enter-helper.ts).
//
//   helper PROCS PATH ARGV0 [ARG]...
//
// open(PROCS, O_WRONLY | O_CLOEXEC); write(fd, "0", 1), which moves this process into the cgroup
// whose cgroup.procs PROCS is; execve(PATH, [ARGV0, ARG...], envp). If entering fails, write
// "sockunit-cgroup: cannot enter PROCS: errno N\n" to fd 2 and exit 219 (systemd's CGROUP
// status); if execve returns, "sockunit-cgroup: cannot execute PATH: errno N\n" and exit 127.
//
// Registers kept across the program: rbx = the initial stack pointer (argc, then argv[], NULL,
// envp[], NULL: the System V process entry layout), r13 = end of a 16-byte scratch buffer on the
// stack where the errno's digits are written backwards (a '\n' sits at r13). The kernel starts
// us with the direction flag clear, as repnz scasb needs.

import { type ListingLine, label, ascii as str, x86 } from './elf.js';

const rel8 = (target: string) => ({ label: target, encoding: 'x86-rel8' as const });
const rel32 = (target: string) => ({ label: target, encoding: 'x86-rel32' as const });

export const CGROUP_HELPER_MESSAGES = {
  exec: 'sockunit-cgroup: cannot execute ',
  enter: 'sockunit-cgroup: cannot enter ',
  errno: ': errno ',
  usage: 'sockunit-cgroup: usage: helper CGROUP_PROCS PATH ARGV0 [ARG]...\n',
} as const;

// Referenced displacements (rel8/rel32) are appended to the listed bytes by assemble(); `{name}`
// marks them in the text, which is objdump's Intel syntax so the test can compare the two. The
// messages are NUL-terminated: their lengths are counted at run time, so no immediate can drift.
export const CGROUP_ENTER_HELPER_X86_64: readonly ListingLine[] = [
  label('_start'),
  x86('48 89 e3', 'mov rbx,rsp'),
  x86('48 83 ec 20', 'sub rsp,0x20'),
  x86('4c 8d 6c 24 10', 'lea r13,[rsp+0x10]'),
  x86('41 c6 45 00 0a', 'mov BYTE PTR [r13+0x0],0xa'),
  x86('48 83 3b 04', 'cmp QWORD PTR [rbx],0x4'), // argc: helper, PROCS, PATH, ARGV0
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
  x86('48 8b 7b 18', 'mov rdi,QWORD PTR [rbx+0x18]'), // argv[2] = PATH
  x86('48 8d 73 20', 'lea rsi,[rbx+0x20]'), // &argv[3] = ARGV0...
  x86('48 8b 0b', 'mov rcx,QWORD PTR [rbx]'),
  x86('48 8d 54 cb 10', 'lea rdx,[rbx+rcx*8+0x10]'), // envp = &argv[argc + 1]
  x86('b8 3b 00 00 00', 'mov eax,0x3b'), // SYS_execve
  x86('0f 05', 'syscall'),
  x86('4c 8d 25', 'lea r12,[rip+{msg_exec}]', rel32('msg_exec')),
  x86('4c 8b 73 18', 'mov r14,QWORD PTR [rbx+0x18]'),
  x86('41 bf 7f 00 00 00', 'mov r15d,0x7f'), // status 127
  x86('eb', 'jmp {fail}', rel8('fail')),
  label('enter_failed'),
  x86('4c 8d 25', 'lea r12,[rip+{msg_enter}]', rel32('msg_enter')),
  x86('4c 8b 73 10', 'mov r14,QWORD PTR [rbx+0x10]'),
  x86('41 bf db 00 00 00', 'mov r15d,0xdb'), // status 219 (CGROUP)
  // rax = -errno, r12 = message, r14 = the path it names, r15 = exit status.
  label('fail'),
  x86('f7 d8', 'neg eax'), // rax was -errno
  x86('89 c5', 'mov ebp,eax'),
  x86('4c 89 e6', 'mov rsi,r12'),
  x86('e8', 'call {write_line_part}', rel32('write_line_part')),
  x86('4c 89 f6', 'mov rsi,r14'),
  x86('e8', 'call {write_line_part}', rel32('write_line_part')),
  x86('48 8d 35', 'lea rsi,[rip+{msg_errno}]', rel32('msg_errno')),
  x86('e8', 'call {write_line_part}', rel32('write_line_part')),
  x86('89 e8', 'mov eax,ebp'),
  x86('4c 89 ee', 'mov rsi,r13'),
  x86('b9 0a 00 00 00', 'mov ecx,0xa'),
  // errno in decimal, written backwards before the '\n' at r13
  label('digit'),
  x86('31 d2', 'xor edx,edx'),
  x86('f7 f1', 'div ecx'),
  x86('80 c2 30', 'add dl,0x30'),
  x86('48 ff ce', 'dec rsi'),
  x86('88 16', 'mov BYTE PTR [rsi],dl'),
  x86('85 c0', 'test eax,eax'),
  x86('75', 'jne {digit}', rel8('digit')),
  x86('4c 89 ea', 'mov rdx,r13'),
  x86('48 29 f2', 'sub rdx,rsi'),
  x86('48 ff c2', 'inc rdx'),
  x86('e8', 'call {write_stderr}', rel32('write_stderr')),
  x86('44 89 ff', 'mov edi,r15d'),
  x86('eb', 'jmp {exit}', rel8('exit')),
  label('usage'),
  x86('48 8d 35', 'lea rsi,[rip+{msg_usage}]', rel32('msg_usage')),
  x86('e8', 'call {write_line_part}', rel32('write_line_part')),
  x86('bf 7f 00 00 00', 'mov edi,0x7f'), // status 127
  label('exit'),
  x86('b8 e7 00 00 00', 'mov eax,0xe7'), // SYS_exit_group
  x86('0f 05', 'syscall'),
  // write_line_part(rsi = NUL-terminated text): its length, then write_stderr.
  label('write_line_part'),
  x86('48 89 f7', 'mov rdi,rsi'),
  x86('31 c0', 'xor eax,eax'),
  x86('48 c7 c1 ff ff ff ff', 'mov rcx,0xffffffffffffffff'),
  x86('f2 ae', 'repnz scas al,BYTE PTR es:[rdi]'), // strlen: rcx = -(len + 2)
  x86('48 f7 d1', 'not rcx'),
  x86('48 8d 51 ff', 'lea rdx,[rcx-0x1]'),
  // write_stderr(rsi = bytes, rdx = length); a failed write is ignored.
  label('write_stderr'),
  x86('bf 02 00 00 00', 'mov edi,0x2'),
  x86('b8 01 00 00 00', 'mov eax,0x1'), // SYS_write
  x86('0f 05', 'syscall'),
  x86('c3', 'ret'),
  str('zero', '0'),
  str('msg_exec', `${CGROUP_HELPER_MESSAGES.exec}\0`),
  str('msg_enter', `${CGROUP_HELPER_MESSAGES.enter}\0`),
  str('msg_errno', `${CGROUP_HELPER_MESSAGES.errno}\0`),
  str('msg_usage', `${CGROUP_HELPER_MESSAGES.usage}\0`),
];
