// Groups of this machine for tests of Group=/SocketGroup=: one the test process is not in, so
// that a file or process ending up with it shows the key was applied (root may use any group).

import { readFileSync } from 'node:fs';

export interface GroupEntry {
  name: string;
  gid: number;
}

/** The first group in /etc/group that this process is not a member of. */
export function foreignGroup(): GroupEntry {
  const own = new Set([process.getgid?.() ?? 0, ...(process.getgroups?.() ?? [])]);
  for (const line of readFileSync('/etc/group', 'utf8').split('\n')) {
    const [name, , gid] = line.split(':');
    if (name && gid !== undefined && !own.has(Number(gid))) return { name, gid: Number(gid) };
  }
  throw new Error('/etc/group has no group this process is not in');
}
