// Linux capability names by number (include/uapi/linux/capability.h), as systemd and
// capabilities(7) spell them. A fact of the kernel ABI, used to read capability masks from
// /proc (CapBnd, CapEff…) and to check capability names in unit files.

export const CAPABILITY_NAMES: readonly string[] = [
  'CAP_CHOWN',
  'CAP_DAC_OVERRIDE',
  'CAP_DAC_READ_SEARCH',
  'CAP_FOWNER',
  'CAP_FSETID',
  'CAP_KILL',
  'CAP_SETGID',
  'CAP_SETUID',
  'CAP_SETPCAP',
  'CAP_LINUX_IMMUTABLE',
  'CAP_NET_BIND_SERVICE',
  'CAP_NET_BROADCAST',
  'CAP_NET_ADMIN',
  'CAP_NET_RAW',
  'CAP_IPC_LOCK',
  'CAP_IPC_OWNER',
  'CAP_SYS_MODULE',
  'CAP_SYS_RAWIO',
  'CAP_SYS_CHROOT',
  'CAP_SYS_PTRACE',
  'CAP_SYS_PACCT',
  'CAP_SYS_ADMIN',
  'CAP_SYS_BOOT',
  'CAP_SYS_NICE',
  'CAP_SYS_RESOURCE',
  'CAP_SYS_TIME',
  'CAP_SYS_TTY_CONFIG',
  'CAP_MKNOD',
  'CAP_LEASE',
  'CAP_AUDIT_WRITE',
  'CAP_AUDIT_CONTROL',
  'CAP_SETFCAP',
  'CAP_MAC_OVERRIDE',
  'CAP_MAC_ADMIN',
  'CAP_SYSLOG',
  'CAP_WAKE_ALARM',
  'CAP_BLOCK_SUSPEND',
  'CAP_AUDIT_READ',
  'CAP_PERFMON',
  'CAP_BPF',
  'CAP_CHECKPOINT_RESTORE',
];

/** The names of the capabilities set in a mask as /proc/PID/status prints it (hex). Bits past
 * the last known capability (a newer kernel's) are named `cap_N`, as capsh does. */
export function capabilitiesInMask(hex: string): string[] {
  let mask = BigInt(`0x${hex.trim() || '0'}`);
  const out: string[] = [];
  for (let bit = 0; mask > 0n; bit++, mask >>= 1n)
    if (mask & 1n) out.push(CAPABILITY_NAMES[bit] ?? `cap_${bit}`);
  return out;
}
