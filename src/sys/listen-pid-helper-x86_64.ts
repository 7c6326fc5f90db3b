// The LISTEN_PID exec helper for x86_64 Linux, as a listing (contract: listen-pid-helper.ts).
//
//   helper [PPID] PATH ARGV0 [ARG]...   with environment entries like "LISTEN_PID=0000000000"
//                                       and "LISTEN_PIDFDID=00000000000000000000"
//
// With PPID (all digits): prctl(PR_SET_PDEATHSIG, SIGKILL), then getppid(); a parent other than
// PPID died before the signal was armed, so exit 127 at once. Then getpid(), and the inode id of
// its own pidfd: pidfd_open(pid, 0), fstatfs (the pidfd must live on pidfs, whose inode ids are
// unique per process), fstat (st_ino), close. In every environment entry that ends in
// "_PIDFDID=" and twenty zeros, overwrite the zeros with that id; when any of those calls failed,
// take such entries out of envp instead (the later pointers move down one slot). Then, in every
// entry that ends in "_PID=0000000000", overwrite the zeros with the pid. Digits are written
// left-aligned, then a NUL: execve copies each entry up to its first NUL, so the rest of the
// zeros never reach the service. execve(PATH, [ARGV0, ARG...], envp). If execve returns, write
// "sockunit-listen-pid: cannot execute PATH: errno N\n" to fd 2 and exit 127.
//
// Registers kept across the program: rbx, r12 and r13 as ENTRY_X86_64 sets them
// (helper-routines.ts), rbx then moved up one slot past PPID, so that [rbx+0x10] is PATH either
// way; r8 = argc (less PPID) until the arguments are checked; r14/r15 = the digits to write and
// their count. The frame: [rsp, rsp+0x90) takes struct statfs (120 bytes) and then struct stat
// (144 bytes), [rsp+0x9c, rsp+0xb0) the digits of a 64-bit value (at most 20), [rsp+0xb8] the
// pid (every other register is taken while the pidfd id is written). The kernel starts us with the
// direction flag clear, as repz cmpsb / rep movsb / repnz scasb need.

import { type ListingLine, label, rel8, rel32, ascii as str, x86 } from './elf.js';
import { ENTRY_X86_64, ROUTINE_DATA, ROUTINES_X86_64 } from './helper-routines.js';

export const OWN_PID_SUFFIX_X86_64 = '_PID=0000000000';
export const OWN_PIDFDID_SUFFIX_X86_64 = `_PIDFDID=${'0'.repeat(20)}`;
export const LISTEN_PID_HELPER_MESSAGES = {
  exec: 'sockunit-listen-pid: cannot execute ',
  usage: 'sockunit-listen-pid: usage: helper [PPID] PATH ARGV0 [ARG]...\n',
} as const;

// Referenced displacements (rel8/rel32) are appended to the listed bytes by assemble(); `{name}`
// marks them in the text, which is objdump's Intel syntax so the test can compare the two.
export const LISTEN_PID_HELPER_X86_64: readonly ListingLine[] = [
  ...ENTRY_X86_64,
  x86('49 89 c8', 'mov r8,rcx'), // argc (r8: syscall clobbers rcx)
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
  x86('0f 85', 'jne {exit_127}', rel32('exit_127')),
  x86('48 83 c3 08', 'add rbx,0x8'), // skip argv[1]: PATH is at [rbx+0x10] again
  x86('49 ff c8', 'dec r8'),
  label('check_args'),
  x86('49 83 f8 03', 'cmp r8,0x3'), // helper, PATH, ARGV0
  x86('0f 82', 'jb {usage}', rel32('usage')),
  x86('b8 27 00 00 00', 'mov eax,0x27'), // SYS_getpid
  x86('0f 05', 'syscall'),
  x86('89 84 24 b8 00 00 00', 'mov DWORD PTR [rsp+0xb8],eax'), // the pid, for later
  // The inode id of our own pidfd (what systemd 259 passes as LISTEN_PIDFDID). Until it is
  // known, no digits: the _PIDFDID slots are taken out of envp, never passed with zeros.
  x86('45 31 ff', 'xor r15d,r15d'),
  x86('89 c7', 'mov edi,eax'),
  x86('31 f6', 'xor esi,esi'), // flags 0
  x86('b8 b2 01 00 00', 'mov eax,0x1b2'), // SYS_pidfd_open (Linux 5.3)
  x86('0f 05', 'syscall'),
  x86('85 c0', 'test eax,eax'),
  x86('78', 'js {pidfdid_slots}', rel8('pidfdid_slots')), // no pidfd (ENOSYS, EMFILE, EPERM…)
  x86('89 c5', 'mov ebp,eax'), // the pidfd
  x86('89 c7', 'mov edi,eax'),
  x86('48 89 e6', 'mov rsi,rsp'),
  x86('b8 8a 00 00 00', 'mov eax,0x8a'), // SYS_fstatfs
  x86('0f 05', 'syscall'),
  x86('85 c0', 'test eax,eax'),
  x86('75', 'jne {close_pidfd}', rel8('close_pidfd')),
  // Before pidfs (Linux 6.9) every pidfd is the one shared anon_inode: its number names nobody.
  x86('48 81 3c 24 46 44 49 50', 'cmp QWORD PTR [rsp],0x50494446'), // f_type: PID_FS_MAGIC ("PIDF")
  x86('75', 'jne {close_pidfd}', rel8('close_pidfd')),
  // rdi (the pidfd) and rsi (the buffer) survive a syscall: only rcx and r11 do not.
  x86('b8 05 00 00 00', 'mov eax,0x5'), // SYS_fstat
  x86('0f 05', 'syscall'),
  x86('85 c0', 'test eax,eax'),
  x86('75', 'jne {close_pidfd}', rel8('close_pidfd')),
  x86('48 8b 44 24 08', 'mov rax,QWORD PTR [rsp+0x8]'), // st_ino, 64 bits
  x86('e8', 'call {format}', rel32('format')),
  x86('49 89 f6', 'mov r14,rsi'), // digits
  x86('49 89 d7', 'mov r15,rdx'), // digit count
  label('close_pidfd'),
  x86('89 ef', 'mov edi,ebp'),
  x86('b8 03 00 00 00', 'mov eax,0x3'), // SYS_close
  x86('0f 05', 'syscall'),
  label('pidfdid_slots'),
  x86('4c 8d 0d', 'lea r9,[rip+{pidfdid_suffix}]', rel32('pidfdid_suffix')),
  x86('41 ba 1e 00 00 00', 'mov r10d,0x1e'), // the suffix and its NUL
  x86('41 b8 09 00 00 00', 'mov r8d,0x9'), // the zeros after "_PIDFDID="
  x86('e8', 'call {fill_slots}', rel32('fill_slots')),
  x86('8b 84 24 b8 00 00 00', 'mov eax,DWORD PTR [rsp+0xb8]'), // the pid
  x86('e8', 'call {format}', rel32('format')),
  x86('49 89 f6', 'mov r14,rsi'), // digits
  x86('49 89 d7', 'mov r15,rdx'), // digit count
  x86('4c 8d 0d', 'lea r9,[rip+{suffix}]', rel32('suffix')),
  x86('41 ba 10 00 00 00', 'mov r10d,0x10'), // the suffix and its NUL
  x86('41 b8 05 00 00 00', 'mov r8d,0x5'), // the zeros after "_PID="
  x86('e8', 'call {fill_slots}', rel32('fill_slots')),
  label('exec'),
  x86('4c 8d 73 10', 'lea r14,[rbx+0x10]'), // &argv[1]: PATH, ARGV0...
  x86('41 bf 7f 00 00 00', 'mov r15d,0x7f'), // status 127 should execve fail
  ...ROUTINES_X86_64, // exec_path first
  // fill_slots(r9 = suffix and its NUL, r10 = their length, r8 = where the zeros start in it):
  // in every envp entry that ends in that suffix, write the r15 digits at r14 over the zeros,
  // then a NUL; with r15 = 0, take the entry out of envp instead. rbp walks envp.
  label('fill_slots'),
  x86('4c 89 e5', 'mov rbp,r12'),
  label('next_env'),
  x86('48 8b 75 00', 'mov rsi,QWORD PTR [rbp+0x0]'),
  x86('48 85 f6', 'test rsi,rsi'),
  x86('74', 'je {fill_done}', rel8('fill_done')), // end of envp
  // Find the entry's end: repnz scasb stops just past its NUL, counting rcx down from -1.
  x86('48 89 f7', 'mov rdi,rsi'),
  x86('31 c0', 'xor eax,eax'),
  x86('48 c7 c1 ff ff ff ff', 'mov rcx,0xffffffffffffffff'),
  x86('f2 ae', 'repnz scas al,BYTE PTR es:[rdi]'),
  x86('48 f7 d1', 'not rcx'), // the entry's length + 1
  x86('4c 39 d1', 'cmp rcx,r10'),
  x86('72', 'jb {skip_env}', rel8('skip_env')), // shorter than the suffix: not a slot
  x86('48 89 fa', 'mov rdx,rdi'),
  x86('4c 29 d2', 'sub rdx,r10'), // where the suffix would start
  x86('48 89 d6', 'mov rsi,rdx'),
  x86('4c 89 cf', 'mov rdi,r9'),
  // Compare the suffix and its NUL, which end exactly where the entry ends.
  x86('4c 89 d1', 'mov rcx,r10'),
  x86('f3 a6', 'repz cmps BYTE PTR ds:[rsi],BYTE PTR es:[rdi]'),
  x86('75', 'jne {skip_env}', rel8('skip_env')), // not a slot
  x86('4d 85 ff', 'test r15,r15'),
  x86('74', 'je {remove_env}', rel8('remove_env')),
  x86('4a 8d 3c 02', 'lea rdi,[rdx+r8*1]'), // the zeros
  x86('4c 89 f6', 'mov rsi,r14'),
  x86('4c 89 f9', 'mov rcx,r15'),
  x86('f3 a4', 'rep movs BYTE PTR es:[rdi],BYTE PTR ds:[rsi]'), // never more digits than zeros
  x86('c6 07 00', 'mov BYTE PTR [rdi],0x0'), // end the value
  label('skip_env'),
  x86('48 83 c5 08', 'add rbp,0x8'),
  x86('eb', 'jmp {next_env}', rel8('next_env')),
  // Move the later pointers, and the NULL that ends envp, down one slot: the next entry is
  // at rbp now.
  label('remove_env'),
  x86('48 89 ef', 'mov rdi,rbp'),
  label('shift_env'),
  x86('48 8b 47 08', 'mov rax,QWORD PTR [rdi+0x8]'),
  x86('48 89 07', 'mov QWORD PTR [rdi],rax'),
  x86('48 83 c7 08', 'add rdi,0x8'),
  x86('48 85 c0', 'test rax,rax'),
  x86('75', 'jne {shift_env}', rel8('shift_env')),
  x86('eb', 'jmp {next_env}', rel8('next_env')),
  label('fill_done'),
  x86('c3', 'ret'),
  str('suffix', `${OWN_PID_SUFFIX_X86_64}\0`),
  str('pidfdid_suffix', `${OWN_PIDFDID_SUFFIX_X86_64}\0`),
  str('msg_exec', `${LISTEN_PID_HELPER_MESSAGES.exec}\0`),
  str('msg_usage', `${LISTEN_PID_HELPER_MESSAGES.usage}\0`),
  ...ROUTINE_DATA,
];
