// The numbers the sandbox plans pass to the kernel (sandbox.ts, root-directory.ts): mount(2)
// flags, *at(2) flags, the errnos a step may accept, and systemd's exit statuses for a failed
// executor step. Linux's values, the same on x86_64 and AArch64.

export const EXIT_CHDIR = 200;
export const EXIT_CHROOT = 210;
export const EXIT_CAPABILITIES = 218;
export const EXIT_NAMESPACE = 226;
export const EXIT_SECCOMP = 228;

export const AT_FDCWD = -100;
export const AT_RECURSIVE = 0x8000;

export const MS_RDONLY = 1;
export const MS_NOSUID = 2;
export const MS_NODEV = 4;
export const MS_NOEXEC = 8;
export const MS_BIND = 4096;
export const MS_REC = 16384;
export const MS_SLAVE = 1 << 19;
export const MS_STRICTATIME = 1 << 24;

export const ENOENT = 2;
export const EEXIST = 17;
