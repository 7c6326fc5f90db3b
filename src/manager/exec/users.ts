// User and group names to ids, read from /etc/passwd and /etc/group (what NSS "files" gives, and
// all a container has). Numeric ids pass through, as systemd accepts them.

import { readFileSync } from 'node:fs';

export interface UserRecord {
  name: string;
  uid: number;
  gid: number;
  home: string;
  shell: string;
}

function readTable(path: string): string[][] {
  try {
    return readFileSync(path, 'utf8')
      .split('\n')
      .filter((line) => line && !line.startsWith('#'))
      .map((line) => line.split(':'));
  } catch {
    return [];
  }
}

export function lookupUser(nameOrId: string): UserRecord | undefined {
  const numeric = /^\d+$/.test(nameOrId);
  for (const f of readTable('/etc/passwd')) {
    if (f.length < 7) continue;
    if ((numeric && f[2] === nameOrId) || (!numeric && f[0] === nameOrId)) {
      return { name: f[0]!, uid: Number(f[2]), gid: Number(f[3]), home: f[5]!, shell: f[6]! };
    }
  }
  if (numeric)
    return { name: nameOrId, uid: Number(nameOrId), gid: Number(nameOrId), home: '/', shell: '/bin/sh' };
  return undefined;
}

export function lookupGroup(nameOrId: string): number | undefined {
  if (/^\d+$/.test(nameOrId)) return Number(nameOrId);
  for (const f of readTable('/etc/group')) if (f[0] === nameOrId && f.length >= 3) return Number(f[2]);
  return undefined;
}

/** Resolve a user name or throw an Error that says what to do. */
export function requireUser(nameOrId: string, key = 'User='): UserRecord {
  const user = lookupUser(nameOrId);
  if (!user) throw new Error(`${key}${nameOrId}: no such user on this machine; create it or change ${key}`);
  return user;
}

export function requireGroup(nameOrId: string, key = 'Group='): number {
  const gid = lookupGroup(nameOrId);
  if (gid === undefined)
    throw new Error(`${key}${nameOrId}: no such group on this machine; create it or change ${key}`);
  return gid;
}

/** The supplementary groups `user` is listed in (/etc/group), with `gid` first: what initgroups(3)
 * gives a process, as systemd sets up User=. */
export function groupsOfUser(user: string, gid: number): number[] {
  const out = [gid];
  for (const f of readTable('/etc/group')) {
    if (f.length < 4) continue;
    const id = Number(f[2]);
    if (!out.includes(id) && (f[3] ?? '').split(',').includes(user)) out.push(id);
  }
  return out;
}

/** Whether uid or gid `id` is taken by an entry of /etc/passwd or /etc/group. */
export function idIsTaken(id: number): boolean {
  return (
    readTable('/etc/passwd').some((f) => f.length >= 4 && (Number(f[2]) === id || Number(f[3]) === id)) ||
    readTable('/etc/group').some((f) => f.length >= 3 && Number(f[2]) === id)
  );
}
