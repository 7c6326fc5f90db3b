// Is MPTCP usable in this process's network namespace? Probed once and cached, the way Go's
// net/mptcpsock_linux.go does; the decision to fall back to TCP is made here and nowhere else.

import { AF_INET, IPPROTO_MPTCP, SOCK_NONBLOCK, SOCK_STREAM } from '../sys/constants.js';
import { closeQuietly, type Fd, socket } from '../sys/socket.js';

/** What `available()` found out. `errno` is the code socket() failed with when MPTCP is absent. */
export interface Availability {
  available: boolean;
  reason?: string;
  errno?: string;
}

// Each errno socket(…, IPPROTO_MPTCP) can fail with that means "this kernel or namespace has no
// MPTCP for us, plain TCP will work": the socket call is the only place this is decided.
const noMptcpReasons: Record<string, string> = {
  // net.mptcp.enabled=0: the sysctl is per network namespace, so another netns may differ.
  ENOPROTOOPT: 'MPTCP is disabled in this network namespace (sysctl net.mptcp.enabled=0)',
  // Kernel >= 5.6 built without CONFIG_MPTCP (or MPTCP_IPV6 for AF_INET6 sockets).
  EPROTONOSUPPORT: 'the kernel was built without MPTCP (CONFIG_MPTCP / CONFIG_MPTCP_IPV6)',
  // Kernels before 5.6 reject the unknown protocol number 262 as an invalid argument.
  EINVAL: 'the kernel is older than 5.6 and has no MPTCP',
  // An LSM (SELinux policy, a BPF cgroup/sock_create program) refuses MPTCP sockets.
  EACCES: 'a security module (SELinux or a BPF program) denies MPTCP sockets',
  EPERM: 'a security module (SELinux or a BPF program) denies MPTCP sockets',
};

/** The reason MPTCP is unavailable when socket() failed with `code`, or undefined when `code` is
 * a real error that TCP would hit too (EMFILE, ENOBUFS…). */
export function noMptcpReason(code: string): string | undefined {
  return noMptcpReasons[code];
}

/** True when `err` (from socket(…, IPPROTO_MPTCP) or anything that opened one) says this kernel
 * or namespace has no MPTCP, so plain TCP is the fall-back; false for errors TCP would hit too. */
export function isNoMptcpError(err: unknown): boolean {
  const code = typeof err === 'object' && err !== null ? (err as { code?: unknown }).code : undefined;
  return typeof code === 'string' && noMptcpReason(code) !== undefined;
}

let cached: Availability | undefined;

/** Whether this process can open MPTCP sockets, and why not. Probed once per process (one
 * socket() call); pass `refresh: true` after moving to another network namespace (setns). */
export function available(options: { refresh?: boolean } = {}): Availability {
  if (cached && !options.refresh) return cached;
  try {
    closeQuietly(socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, IPPROTO_MPTCP));
    cached = { available: true };
  } catch (err) {
    const code = (err as { code?: string }).code ?? 'UNKNOWN';
    cached = {
      available: false,
      reason: noMptcpReason(code) ?? `socket(AF_INET, SOCK_STREAM, IPPROTO_MPTCP) failed: ${code}`,
      errno: code,
    };
  }
  return { ...cached };
}

/** The outcome of asking for an MPTCP socket: an fd, or the reason to use plain TCP instead. */
export type MptcpSocketResult = { fd: Fd } | { fallback: Availability };

/** socket(family, SOCK_STREAM|NONBLOCK|CLOEXEC, IPPROTO_MPTCP). A "no MPTCP here" errno becomes a
 * fallback result (and updates the cache); any other error is thrown as the system error it is. */
export function openMptcpSocket(family: number): MptcpSocketResult {
  try {
    return { fd: socket(family, SOCK_STREAM | SOCK_NONBLOCK, IPPROTO_MPTCP) };
  } catch (err) {
    const code = (err as { code?: string }).code ?? '';
    const reason = noMptcpReason(code);
    if (reason === undefined) throw err;
    const fallback = { available: false, reason, errno: code };
    if (family === AF_INET) cached = fallback;
    return { fallback };
  }
}
