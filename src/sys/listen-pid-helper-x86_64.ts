// The LISTEN_PID exec helper for x86_64 Linux, as a listing (contract: listen-pid-helper.ts).
//
//   helper [PPID] PATH ARGV0 [ARG]...   with environment entries like "LISTEN_PID=0000000000"
//
// With PPID (all digits): prctl(PR_SET_PDEATHSIG, SIGKILL), then getppid(); a parent other than
// PPID died before the signal was armed, so exit 127 at once. Then getpid(); in every environment entry that ends in "_PID=0000000000", overwrite the zeros with
// the pid (digits left-aligned, then NUL: execve copies each entry up to its first NUL, so the
// rest of the zeros never reach the service); execve(PATH, [ARGV0, ARG...], envp). If execve
// returns, write "sockunit-listen-pid: cannot execute PATH: errno N\n" to fd 2 and exit 127.
//
// Registers kept across the program: rbx = the initial stack pointer (argc, then argv[],
// NULL, envp[], NULL: the System V process entry layout), moved up one slot past PPID, so that
// [rbx+0x10] is PATH either way; r8 = argc (less PPID); r12 = envp, r13 = end of a 16-byte
// scratch buffer on the stack where `format` writes digits backwards (a '\n' sits at r13 for
// the error message), r14/r15 = the pid's digits and their count. The kernel starts us with
// the direction flag clear, as repz cmpsb / rep movsb / repnz scasb need.

import { type ListingLine, label, ascii as str, x86 } from './elf.js';

const rel8 = (target: string) => ({ label: target, encoding: 'x86-rel8' as const });
const rel32 = (target: string) => ({ label: target, encoding: 'x86-rel32' as const });

export const OWN_PID_SUFFIX_X86_64 = '_PID=0000000000';
const MSG_EXEC = 'sockunit-listen-pid: cannot execute ';
const MSG_ERRNO = ': errno ';
const MSG_USAGE = 'sockunit-listen-pid: usage: helper [PPID] PATH ARGV0 [ARG]...\n';

// Referenced displacements (rel8/rel32) are appended to the listed bytes by assemble(); `{name}`
// marks them in the text, which is objdump's Intel syntax so the test can compare the two.
export const LISTEN_PID_HELPER_X86_64: readonly ListingLine[] = [
  label('_start'),
  x86('48 89 e3', 'mov rbx,rsp'),
  x86('48 83 ec 20', 'sub rsp,0x20'),
  x86('4c 8d 6c 24 10', 'lea r13,[rsp+0x10]'),
  x86('41 c6 45 00 0a', 'mov BYTE PTR [r13+0x0],0xa'), // '\n' after the digits
  x86('4c 8b 03', 'mov r8,QWORD PTR [rbx]'), // argc (r8: syscall clobbers rcx)
  x86('4e 8d 64 c3 10', 'lea r12,[rbx+r8*8+0x10]'), // envp = &argv[argc + 1]
  x86('49 83 f8 02', 'cmp r8,0x2'),
  x86('0f 82', 'jb {usage}', rel32('usage')),
  // argv[1] all digits: the parent's pid, and the service dies with its parent.
  x86('48 8b 73 10', 'mov rsi,QWORD PTR [rbx+0x10]'), // argv[1]
  x86('80 3e 00', 'cmp BYTE PTR [rsi],0x0'),
  x86('74', 'je {check_args}', rel8('check_args')), // empty: not a pid
  x86('31 c0', 'xor eax,eax'),
  label('parse_ppid'),
  x86('0f b6 16', 'movzx edx,BYTE PTR [rsi]'),
  x86('85 d2', 'test edx,edx'),
  x86('74', 'je {ppid_done}', rel8('ppid_done')),
  x86('83 ea 30', 'sub edx,0x30'),
  x86('83 fa 09', 'cmp edx,0x9'),
  x86('77', 'ja {check_args}', rel8('check_args')), // not a digit: argv[1] is PATH
  x86('6b c0 0a', 'imul eax,eax,0xa'),
  x86('01 d0', 'add eax,edx'),
  x86('48 ff c6', 'inc rsi'),
  x86('eb', 'jmp {parse_ppid}', rel8('parse_ppid')),
  label('ppid_done'),
  x86('89 c5', 'mov ebp,eax'), // the parent's pid
  x86('bf 01 00 00 00', 'mov edi,0x1'), // PR_SET_PDEATHSIG
  x86('be 09 00 00 00', 'mov esi,0x9'), // SIGKILL
  x86('b8 9d 00 00 00', 'mov eax,0x9d'), // SYS_prctl
  x86('0f 05', 'syscall'),
  // A parent that died before prctl sent no signal: its orphan has nobody to serve.
  x86('b8 6e 00 00 00', 'mov eax,0x6e'), // SYS_getppid
  x86('0f 05', 'syscall'),
  x86('39 e8', 'cmp eax,ebp'),
  x86('0f 85', 'jne {fail}', rel32('fail')),
  x86('48 83 c3 08', 'add rbx,0x8'), // skip argv[1]: PATH is at [rbx+0x10] again
  x86('49 ff c8', 'dec r8'),
  label('check_args'),
  x86('49 83 f8 03', 'cmp r8,0x3'), // helper, PATH, ARGV0
  x86('0f 82', 'jb {usage}', rel32('usage')),
  x86('b8 27 00 00 00', 'mov eax,0x27'), // SYS_getpid
  x86('0f 05', 'syscall'),
  x86('e8', 'call {format}', rel32('format')),
  x86('49 89 f6', 'mov r14,rsi'), // digits
  x86('49 89 d7', 'mov r15,rdx'), // digit count
  x86('4c 89 e5', 'mov rbp,r12'), // rbp walks envp
  label('next_env'),
  x86('48 8b 75 00', 'mov rsi,QWORD PTR [rbp+0x0]'),
  x86('48 85 f6', 'test rsi,rsi'),
  x86('74', 'je {exec}', rel8('exec')), // end of envp
  x86('48 83 c5 08', 'add rbp,0x8'),
  // Find the entry's end: repnz scasb stops just past its NUL, counting rcx down from -1.
  x86('48 89 f7', 'mov rdi,rsi'),
  x86('31 c0', 'xor eax,eax'),
  x86('48 c7 c1 ff ff ff ff', 'mov rcx,0xffffffffffffffff'),
  x86('f2 ae', 'repnz scas al,BYTE PTR es:[rdi]'),
  x86('48 f7 d1', 'not rcx'), // the entry's length + 1
  x86('48 83 f9 10', 'cmp rcx,0x10'),
  x86('72', 'jb {next_env}', rel8('next_env')), // shorter than the suffix: not a slot
  x86('48 8d 57 f0', 'lea rdx,[rdi-0x10]'), // where the suffix would start
  x86('48 89 d6', 'mov rsi,rdx'),
  x86('48 8d 3d', 'lea rdi,[rip+{suffix}]', rel32('suffix')),
  // Compare the suffix and its NUL (16 bytes), which end exactly where the entry ends.
  x86('b9 10 00 00 00', 'mov ecx,0x10'),
  x86('f3 a6', 'repz cmps BYTE PTR ds:[rsi],BYTE PTR es:[rdi]'),
  x86('75', 'jne {next_env}', rel8('next_env')), // not a slot
  x86('48 8d 7a 05', 'lea rdi,[rdx+0x5]'), // the zeros after "_PID="
  x86('4c 89 f6', 'mov rsi,r14'),
  x86('4c 89 f9', 'mov rcx,r15'),
  x86('f3 a4', 'rep movs BYTE PTR es:[rdi],BYTE PTR ds:[rsi]'), // at most 10 digits
  x86('c6 07 00', 'mov BYTE PTR [rdi],0x0'), // end the value
  x86('eb', 'jmp {next_env}', rel8('next_env')),
  label('exec'),
  x86('48 8b 7b 10', 'mov rdi,QWORD PTR [rbx+0x10]'), // argv[1] = PATH
  x86('48 8d 73 18', 'lea rsi,[rbx+0x18]'), // &argv[2] = ARGV0...
  x86('4c 89 e2', 'mov rdx,r12'), // envp
  x86('b8 3b 00 00 00', 'mov eax,0x3b'), // SYS_execve
  x86('0f 05', 'syscall'),
  // execve returned: rax = -errno.
  x86('f7 d8', 'neg eax'),
  x86('89 c5', 'mov ebp,eax'), // errno
  x86('48 8d 35', 'lea rsi,[rip+{msg_exec}]', rel32('msg_exec')),
  x86('ba 24 00 00 00', 'mov edx,0x24'), // MSG_EXEC.length
  x86('e8', 'call {write_stderr}', rel32('write_stderr')),
  x86('48 8b 73 10', 'mov rsi,QWORD PTR [rbx+0x10]'), // PATH
  x86('48 89 f7', 'mov rdi,rsi'),
  x86('31 c0', 'xor eax,eax'),
  x86('48 c7 c1 ff ff ff ff', 'mov rcx,0xffffffffffffffff'),
  x86('f2 ae', 'repnz scas al,BYTE PTR es:[rdi]'), // strlen: rcx = -(len + 2)
  x86('48 f7 d1', 'not rcx'),
  x86('48 8d 51 ff', 'lea rdx,[rcx-0x1]'),
  x86('e8', 'call {write_stderr}', rel32('write_stderr')),
  x86('48 8d 35', 'lea rsi,[rip+{msg_errno}]', rel32('msg_errno')),
  x86('ba 08 00 00 00', 'mov edx,0x8'), // MSG_ERRNO.length
  x86('e8', 'call {write_stderr}', rel32('write_stderr')),
  x86('89 e8', 'mov eax,ebp'),
  x86('e8', 'call {format}', rel32('format')),
  x86('48 ff c2', 'inc rdx'), // and the '\n'
  x86('e8', 'call {write_stderr}', rel32('write_stderr')),
  x86('eb', 'jmp {fail}', rel8('fail')),
  label('usage'),
  x86('48 8d 35', 'lea rsi,[rip+{msg_usage}]', rel32('msg_usage')),
  x86('ba 3e 00 00 00', 'mov edx,0x3e'), // MSG_USAGE.length
  x86('e8', 'call {write_stderr}', rel32('write_stderr')),
  label('fail'),
  x86('bf 7f 00 00 00', 'mov edi,0x7f'), // status 127
  x86('b8 e7 00 00 00', 'mov eax,0xe7'), // SYS_exit_group
  x86('0f 05', 'syscall'),
  // write_stderr(rsi = bytes, rdx = length); a failed write is ignored.
  label('write_stderr'),
  x86('bf 02 00 00 00', 'mov edi,0x2'),
  x86('b8 01 00 00 00', 'mov eax,0x1'), // SYS_write
  x86('0f 05', 'syscall'),
  x86('c3', 'ret'),
  // format(eax = value) -> rsi = first digit, rdx = digit count; the digits end at r13.
  // At least one digit (0 gives "0"); a 32-bit value has at most 10.
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
  str('suffix', `${OWN_PID_SUFFIX_X86_64}\0`),
  str('msg_exec', MSG_EXEC),
  str('msg_errno', MSG_ERRNO),
  str('msg_usage', MSG_USAGE),
];

// The lengths above are immediates in the listing; keep them honest if a message changes.
if (MSG_EXEC.length !== 0x24 || MSG_ERRNO.length !== 0x8 || MSG_USAGE.length !== 0x3e)
  throw new Error('listen-pid-helper-x86_64: a message length no longer matches its mov edx immediate');
if (OWN_PID_SUFFIX_X86_64.length + 1 !== 0x10)
  throw new Error(
    'listen-pid-helper-x86_64: the suffix length no longer matches cmp rcx,0x10 and mov ecx,0x10',
  );
