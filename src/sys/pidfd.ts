// The pidfd inode ID systemd (v259+) passes as LISTEN_PIDFDID, so a service can tell fds meant
// for it from fds meant for an earlier process that had the same pid.

import { libcCalls as c } from './ffi.js';
import { fstat } from './fs.js';
import { pidfdOpen } from './process.js';
import { closeQuietly, type Fd } from './socket.js';

// statfs f_type of pidfs (kernel >= 6.9): only there is a pidfd's inode number unique per
// process; older kernels give every pidfd the one shared anon_inode.
const PID_FS_MAGIC = 0x50494446n;
const STATFS_SIZE = 120;

/** The inode ID of `pid`'s pidfd, as systemd writes it into LISTEN_PIDFDID; undefined when the
 * kernel cannot give one (no pidfd_open, or no pidfs so inode numbers are not unique). */
export function pidfdInodeId(pid: number): bigint | undefined {
  let fd: Fd | undefined;
  try {
    fd = pidfdOpen(pid);
    const statfs = Buffer.alloc(STATFS_SIZE);
    if (c.fstatfs(fd, statfs) !== 0) return undefined;
    if (statfs.readBigInt64LE(0) !== PID_FS_MAGIC) return undefined;
    return fstat(fd).ino;
  } catch {
    return undefined;
  } finally {
    closeQuietly(fd);
  }
}
