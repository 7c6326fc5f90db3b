// The LISTEN_PID exec helper for AArch64 Linux: the same program as the x86_64 listing
// (listen-pid-helper-x86_64.ts; contract in listen-pid-helper.ts), instruction for instruction
// where the two ISAs allow.
//
// Registers kept across the program: x19, x20 and x21 as ENTRY_AARCH64 sets them
// (helper-routines.ts), x19 then moved up one slot past PPID so that [x19, #16] is PATH either
// way; x9 = argc (less PPID); x22/x23 = the digits to write and their count, x26 = the pid,
// x27 = the pidfd; after a failed execve, x25/x26 = errno and status as the routines take them. The frame:
// [sp, sp+0x90) takes struct statfs (120 bytes) and then struct stat (128 bytes), [sp+0x9c,
// sp+0xb0) the digits of a 64-bit value (at most 20); sp stays 16-byte aligned. Syscalls: number
// in x8, arguments in x0..x2, `svc #0`, result in x0 (-errno on failure). `format`,
// `fill_slots` and `write_stderr` are leaves, so bl/ret through x30 needs no stack.

import { a64, adr, imm19, imm26, type ListingLine, label, ascii as str } from './elf.js';
import { ENTRY_AARCH64, ROUTINE_DATA, ROUTINES_AARCH64 } from './helper-routines.js';
import { LISTEN_PID_HELPER_MESSAGES as MSG } from './listen-pid-helper-x86_64.js';

export const OWN_PID_SUFFIX_AARCH64 = '_PID=0000000000';
export const OWN_PIDFDID_SUFFIX_AARCH64 = `_PIDFDID=${'0'.repeat(20)}`;

// Each word is written with its label-relative offset field zero; assemble() fills it in.
// `{name}` marks that operand in the text, which is objdump's syntax so the test can compare.
export const LISTEN_PID_HELPER_AARCH64: readonly ListingLine[] = [
  ...ENTRY_AARCH64,
  a64(0xf100093f, 'cmp x9, #0x2'),
  a64(0x54000003, 'b.cc {usage}', imm19('usage')), // b.lo
  // argv[1] all digits: the parent's pid, and the service dies with its parent.
  a64(0xf9400a61, 'ldr x1, [x19, #16]'), // argv[1]
  a64(0x39400022, 'ldrb w2, [x1]'),
  a64(0x34000002, 'cbz w2, {check_args}', imm19('check_args')), // empty: not a pid
  a64(0x52800003, 'mov w3, #0x0'),
  a64(0x52800144, 'mov w4, #0xa'),
  label('parse_ppid'),
  a64(0x38401422, 'ldrb w2, [x1], #1'),
  a64(0x34000002, 'cbz w2, {ppid_done}', imm19('ppid_done')),
  a64(0x5100c042, 'sub w2, w2, #0x30'),
  a64(0x7100245f, 'cmp w2, #0x9'),
  a64(0x54000008, 'b.hi {check_args}', imm19('check_args')), // not a digit: argv[1] is PATH
  a64(0x1b040863, 'madd w3, w3, w4, w2'),
  a64(0x14000000, 'b {parse_ppid}', imm26('parse_ppid')),
  label('ppid_done'),
  a64(0xd2800020, 'mov x0, #0x1'), // PR_SET_PDEATHSIG
  a64(0xd2800121, 'mov x1, #0x9'), // SIGKILL
  a64(0xd28014e8, 'mov x8, #0xa7'), // SYS_prctl
  a64(0xd4000001, 'svc #0x0'),
  // A parent that died before prctl sent no signal: its orphan has nobody to serve.
  a64(0xd28015a8, 'mov x8, #0xad'), // SYS_getppid
  a64(0xd4000001, 'svc #0x0'),
  a64(0x6b03001f, 'cmp w0, w3'),
  a64(0x54000001, 'b.ne {exit_127}', imm19('exit_127')),
  a64(0x91002273, 'add x19, x19, #0x8'), // skip argv[1]: PATH is at [x19, #16] again
  a64(0xd1000529, 'sub x9, x9, #0x1'),
  label('check_args'),
  a64(0xf1000d3f, 'cmp x9, #0x3'), // helper, PATH, ARGV0
  a64(0x54000003, 'b.cc {usage}', imm19('usage')), // b.lo
  a64(0xd2801588, 'mov x8, #0xac'), // SYS_getpid
  a64(0xd4000001, 'svc #0x0'),
  a64(0xaa0003fa, 'mov x26, x0'), // the pid, for later
  // The inode id of our own pidfd (what systemd 259 passes as LISTEN_PIDFDID). Until it is
  // known, no digits: the _PIDFDID slots are taken out of envp, never passed with zeros.
  a64(0xd2800017, 'mov x23, #0x0'),
  a64(0xd2800001, 'mov x1, #0x0'), // flags 0
  a64(0xd2803648, 'mov x8, #0x1b2'), // SYS_pidfd_open (Linux 5.3)
  a64(0xd4000001, 'svc #0x0'),
  a64(0xf100001f, 'cmp x0, #0x0'),
  a64(0x5400000b, 'b.lt {pidfdid_slots}', imm19('pidfdid_slots')), // no pidfd (ENOSYS, EMFILE, EPERM…)
  a64(0xaa0003fb, 'mov x27, x0'), // the pidfd
  a64(0x910003e1, 'mov x1, sp'),
  a64(0xd2800588, 'mov x8, #0x2c'), // SYS_fstatfs
  a64(0xd4000001, 'svc #0x0'),
  a64(0xb5000000, 'cbnz x0, {close_pidfd}', imm19('close_pidfd')),
  // Before pidfs (Linux 6.9) every pidfd is the one shared anon_inode: its number names nobody.
  a64(0xf94003e5, 'ldr x5, [sp]'), // f_type
  a64(0x528888c6, 'mov w6, #0x4446'),
  a64(0x72aa0926, 'movk w6, #0x5049, lsl #16'), // PID_FS_MAGIC ("PIDF")
  a64(0xeb0600bf, 'cmp x5, x6'),
  a64(0x54000001, 'b.ne {close_pidfd}', imm19('close_pidfd')),
  a64(0xaa1b03e0, 'mov x0, x27'), // x0 took fstatfs's result; x1 (the buffer) survives
  a64(0xd2800a08, 'mov x8, #0x50'), // SYS_fstat
  a64(0xd4000001, 'svc #0x0'),
  a64(0xb5000000, 'cbnz x0, {close_pidfd}', imm19('close_pidfd')),
  a64(0xf94007e0, 'ldr x0, [sp, #8]'), // st_ino, 64 bits
  a64(0x94000000, 'bl {format}', imm26('format')),
  a64(0xaa0103f6, 'mov x22, x1'), // digits
  a64(0xaa0203f7, 'mov x23, x2'), // digit count
  label('close_pidfd'),
  a64(0xaa1b03e0, 'mov x0, x27'),
  a64(0xd2800728, 'mov x8, #0x39'), // SYS_close
  a64(0xd4000001, 'svc #0x0'),
  label('pidfdid_slots'),
  a64(0x1000000a, 'adr x10, {pidfdid_suffix}', adr('pidfdid_suffix')),
  a64(0xd28003cb, 'mov x11, #0x1e'), // the suffix and its NUL
  a64(0xd280012c, 'mov x12, #0x9'), // the zeros after "_PIDFDID="
  a64(0x94000000, 'bl {fill_slots}', imm26('fill_slots')),
  a64(0xaa1a03e0, 'mov x0, x26'), // the pid
  a64(0x94000000, 'bl {format}', imm26('format')),
  a64(0xaa0103f6, 'mov x22, x1'), // digits
  a64(0xaa0203f7, 'mov x23, x2'), // digit count
  a64(0x1000000a, 'adr x10, {suffix}', adr('suffix')),
  a64(0xd280020b, 'mov x11, #0x10'), // the suffix and its NUL
  a64(0xd28000ac, 'mov x12, #0x5'), // the zeros after "_PID="
  a64(0x94000000, 'bl {fill_slots}', imm26('fill_slots')),
  label('exec'),
  a64(0x91004276, 'add x22, x19, #0x10'), // &argv[1]: PATH, ARGV0...
  a64(0x52800ffa, 'mov w26, #0x7f'), // status 127 should execve fail
  ...ROUTINES_AARCH64, // exec_path first
  // fill_slots(x10 = suffix and its NUL, x11 = their length, x12 = where the zeros start in it):
  // in every envp entry that ends in that suffix, write the x23 digits at x22 over the zeros,
  // then a NUL; with x23 = 0, take the entry out of envp instead. x24 walks envp.
  label('fill_slots'),
  a64(0xaa1503f8, 'mov x24, x21'),
  label('next_env'),
  a64(0xf9400301, 'ldr x1, [x24]'),
  a64(0xb4000001, 'cbz x1, {fill_done}', imm19('fill_done')), // end of envp
  a64(0xaa0103e4, 'mov x4, x1'),
  label('env_end'),
  a64(0x38401485, 'ldrb w5, [x4], #1'),
  a64(0x35000005, 'cbnz w5, {env_end}', imm19('env_end')), // x4 is just past the NUL
  a64(0xcb010085, 'sub x5, x4, x1'), // the entry's length + 1
  a64(0xeb0b00bf, 'cmp x5, x11'),
  a64(0x54000003, 'b.cc {skip_env}', imm19('skip_env')), // shorter than the suffix: not a slot
  a64(0xcb0b0084, 'sub x4, x4, x11'), // where the suffix would start
  a64(0xaa0a03e3, 'mov x3, x10'),
  a64(0xaa0403e7, 'mov x7, x4'),
  // Compare the suffix and its NUL, which end exactly where the entry ends.
  label('compare'),
  a64(0x384014e5, 'ldrb w5, [x7], #1'),
  a64(0x38401466, 'ldrb w6, [x3], #1'),
  a64(0x6b0600bf, 'cmp w5, w6'),
  a64(0x54000001, 'b.ne {skip_env}', imm19('skip_env')), // not a slot
  a64(0x35000006, 'cbnz w6, {compare}', imm19('compare')),
  a64(0xb4000017, 'cbz x23, {remove_env}', imm19('remove_env')),
  a64(0x8b0c0084, 'add x4, x4, x12'), // the zeros
  a64(0xaa1603e3, 'mov x3, x22'),
  a64(0xaa1703e5, 'mov x5, x23'),
  label('copy'),
  a64(0x38401466, 'ldrb w6, [x3], #1'),
  a64(0x38001486, 'strb w6, [x4], #1'),
  a64(0xf10004a5, 'subs x5, x5, #0x1'),
  a64(0x54000001, 'b.ne {copy}', imm19('copy')), // never more digits than zeros
  a64(0x3900009f, 'strb wzr, [x4]'), // end the value
  label('skip_env'),
  a64(0x91002318, 'add x24, x24, #0x8'),
  a64(0x14000000, 'b {next_env}', imm26('next_env')),
  // Move the later pointers, and the NULL that ends envp, down one slot: the next entry is
  // at x24 now.
  label('remove_env'),
  a64(0xaa1803e7, 'mov x7, x24'),
  label('shift_env'),
  a64(0xf94004e5, 'ldr x5, [x7, #8]'),
  a64(0xf80084e5, 'str x5, [x7], #8'),
  a64(0xb5000005, 'cbnz x5, {shift_env}', imm19('shift_env')),
  a64(0x14000000, 'b {next_env}', imm26('next_env')),
  label('fill_done'),
  a64(0xd65f03c0, 'ret'),
  str('suffix', `${OWN_PID_SUFFIX_AARCH64}\0`),
  str('pidfdid_suffix', `${OWN_PIDFDID_SUFFIX_AARCH64}\0`),
  str('msg_exec', `${MSG.exec}\0`),
  str('msg_usage', `${MSG.usage}\0`),
  ...ROUTINE_DATA,
];
