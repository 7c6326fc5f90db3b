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

/** A capability's number from its name (`CAP_NET_ADMIN`, any case, as systemd accepts it) or
 * from a number 0-62; undefined for a name this table does not know. */
export function capabilityNumber(word: string): number | undefined {
  if (/^[0-9]+$/.test(word)) {
    const n = Number(word);
    return n <= 62 ? n : undefined;
  }
  const i = CAPABILITY_NAMES.indexOf(word.toUpperCase());
  return i < 0 ? undefined : i;
}

/** The name systemd prints for capability `n` (a number it has no name for is written `0xN`). */
export function capabilityName(n: number): string {
  return CAPABILITY_NAMES[n] ?? `0x${n.toString(16)}`;
}

/** A capability list as systemd reads CapabilityBoundingSet=/AmbientCapabilities=: blank-separated
 * names, inverted by a leading `~`; names it does not know are left out (and returned, so the
 * caller can say so). */
export function parseCapabilityList(text: string): { invert: boolean; caps: number[]; unknown: string[] } {
  const invert = text.startsWith('~');
  const caps = new Set<number>();
  const unknown: string[] = [];
  for (const word of (invert ? text.slice(1) : text).split(/\s+/).filter((w) => w !== '')) {
    const n = capabilityNumber(word);
    if (n === undefined) unknown.push(word);
    else caps.add(n);
  }
  return { invert, caps: [...caps].sort((a, b) => a - b), unknown };
}

/** Every capability number a 64-bit mask can hold, as systemd's "all" (CAP_MASK_ALL). */
export const ALL_CAPABILITY_NUMBERS: readonly number[] = Array.from({ length: 63 }, (_, i) => i);

/** Capability numbers as a bit mask (bit N for capability N), as capset() and /proc read them. */
export function capabilityMask(numbers: readonly number[]): bigint {
  return numbers.reduce((mask, n) => mask | (1n << BigInt(n)), 0n);
}
