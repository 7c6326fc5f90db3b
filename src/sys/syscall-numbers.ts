// The system calls the helpers' step lists make — the exec-context helper's script
// (syscall-script.ts) and the sandbox helper's plan (syscall-plan.ts) — by their numbers on each
// architecture there is a helper for: x86_64's own table and the generic one AArch64 uses
// (asm/unistd_64.h, asm-generic/unistd.h). One table, so that a number is written down once.

import type { HelperArch } from './helper-install.js';

const SYSCALLS = {
  write: [1, 64],
  close: [3, 57],
  ioctl: [16, 29],
  socket: [41, 198],
  chdir: [80, 49],
  getppid: [110, 173],
  setgroups: [116, 159],
  setresuid: [117, 147],
  setresgid: [119, 149],
  capset: [126, 91],
  personality: [135, 92],
  setpriority: [141, 140],
  prctl: [157, 167],
  chroot: [161, 51],
  mount: [165, 40],
  sched_setaffinity: [203, 122],
  exit_group: [231, 94],
  set_mempolicy: [238, 237],
  ioprio_set: [251, 30],
  openat: [257, 56],
  mkdirat: [258, 34],
  symlinkat: [266, 36],
  unshare: [272, 97],
  prlimit64: [302, 261],
  setns: [308, 268],
  sched_setattr: [314, 274],
  seccomp: [317, 277],
  open_tree: [428, 428],
  move_mount: [429, 429],
  mount_setattr: [442, 442],
} as const satisfies Record<string, readonly [x64: number, arm64: number]>;

export type SyscallName = keyof typeof SYSCALLS;

/** `call`'s number on `arch` (Node's names). */
export function syscallNumber(call: SyscallName, arch: HelperArch): number {
  return SYSCALLS[call][arch === 'x64' ? 0 : 1];
}
