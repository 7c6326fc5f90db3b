// Namespaces the manager makes for a unit and keeps while the unit runs, so that all of its
// processes (ExecStartPre=, ExecStart=, ExecStop=…) share one, as under systemd: a network
// namespace with only `lo` up (PrivateNetwork=), an IPC namespace (PrivateIPC=). unshare(2) and
// setns(2) act on the calling thread alone, so the main thread enters a fresh namespace, opens
// it, and goes back, all within one synchronous call: no other JavaScript runs meanwhile.

import { openSync } from 'node:fs';
import { systemError } from './errors.js';
import { libcCalls as c, errno, namespaceCalls as n } from './ffi.js';
import type { Fd } from './socket.js';

export const CLONE_NEWNS = 0x00020000;
export const CLONE_NEWCGROUP = 0x02000000;
export const CLONE_NEWUTS = 0x04000000;
export const CLONE_NEWIPC = 0x08000000;
export const CLONE_NEWUSER = 0x10000000;
export const CLONE_NEWPID = 0x20000000;
export const CLONE_NEWNET = 0x40000000;

const KINDS = { net: CLONE_NEWNET, ipc: CLONE_NEWIPC } as const;
export type SharedNamespaceKind = keyof typeof KINDS;

const SIOCGIFFLAGS = 0x8913;
const SIOCSIFFLAGS = 0x8914;
const IFF_UP = 0x1;

/** Brings `lo` up in the calling thread's network namespace (a new one has it down). */
function loopbackUp(): void {
  const fd = c.socket(2 /* AF_INET */, 2 /* SOCK_DGRAM */ | 0x80000 /* SOCK_CLOEXEC */, 0) as number;
  if (fd < 0) throw systemError('socket', errno());
  try {
    const ifreq = Buffer.alloc(40);
    ifreq.write('lo', 0, 'latin1');
    if ((n.ioctl(fd, SIOCGIFFLAGS, ifreq) as number) < 0) throw systemError('ioctl', errno());
    ifreq.writeUInt16LE(ifreq.readUInt16LE(16) | IFF_UP, 16);
    if ((n.ioctl(fd, SIOCSIFFLAGS, ifreq) as number) < 0) throw systemError('ioctl', errno());
  } finally {
    c.close(fd);
  }
}

/** A new namespace of `kind`, as an open fd (close-on-exec). Throws a SystemError (EPERM without
 * CAP_SYS_ADMIN) and leaves the calling thread where it was. */
export function createNamespace(kind: SharedNamespaceKind): Fd {
  const own = openSync(`/proc/thread-self/ns/${kind}`, 'r');
  let made: Fd | undefined;
  let failure: unknown;
  try {
    if ((n.unshare(KINDS[kind]) as number) !== 0) throw systemError('unshare', errno());
    try {
      made = openSync(`/proc/thread-self/ns/${kind}`, 'r') as Fd;
      if (kind === 'net') loopbackUp();
    } catch (err) {
      failure = err;
    }
    // Back to the manager's own namespace whatever happened in the new one.
    if ((n.setns(own, KINDS[kind]) as number) !== 0)
      failure ??= new Error(`cannot return to the manager's own ${kind} namespace (errno ${errno()})`);
  } finally {
    c.close(own);
  }
  if (failure !== undefined || made === undefined) {
    if (made !== undefined) c.close(made);
    throw failure;
  }
  return made;
}
