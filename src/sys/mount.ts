// The two mounts the manager makes itself (the services' own namespaces are the exec-context
// helper's): a directory bound read-only onto itself, as systemd mounts a unit's credentials
// read-only, and its lazy unmount when the unit stops.

import { libcCalls as c } from './ffi.js';
import { check } from './socket.js';

const MS_RDONLY = 0x1;
const MS_NOSUID = 0x2;
const MS_NODEV = 0x4;
const MS_NOEXEC = 0x8;
const MS_REMOUNT = 0x20;
const MS_BIND = 0x1000;
const MNT_DETACH = 0x2;
const UMOUNT_NOFOLLOW = 0x8;

/** Binds `path` onto itself and makes that mount read-only, nosuid, nodev, noexec: not even its
 * owner can change what is in it. Needs CAP_SYS_ADMIN. */
export function bindReadOnly(path: string): void {
  check(c.mount(path, path, null, MS_BIND, null), 'mount', { path });
  try {
    const flags = MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC;
    check(c.mount(null, path, null, flags, null), 'mount', { path });
  } catch (err) {
    c.umount2(path, MNT_DETACH | UMOUNT_NOFOLLOW);
    throw err;
  }
}

/** Detaches whatever is mounted on `path` (no error when nothing is). */
export function unmountLazily(path: string): void {
  c.umount2(path, MNT_DETACH | UMOUNT_NOFOLLOW);
}
