// DynamicUser=: a uid/gid pair allocated for a unit from systemd's range (61184-65519), named
// after User= or the unit, while the unit runs. As in systemd the first candidate is a hash of
// the name, so a unit gets the same uid again across restarts (its StateDirectory= stays its
// own); an id that /etc/passwd or /etc/group uses, or another name holds, is skipped. Claims
// are files in the manager's runtime directory, made with O_EXCL, so two managers on one
// machine never hand out the same id. The name is not known to NSS (sockunit has no
// nss-systemd): inside the service `id -un` prints the number.

import { mkdirSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { crypto } from '../../sys/lazy-builtins.js';
import { parseUnitName } from '../../unit/names.js';
import { isValidUserOrGroupName } from '../../unit/values.js';
import { idIsTaken } from './users.js';

export const DYNAMIC_UID_MIN = 61184;
export const DYNAMIC_UID_MAX = 65519;
const RANGE = DYNAMIC_UID_MAX - DYNAMIC_UID_MIN + 1;

export interface DynamicUser {
  name: string;
  uid: number;
  /** The same number as the uid, as systemd allocates them. */
  gid: number;
}

/** The name of a unit's dynamic user: User= if set, else the unit's prefix when that is a valid
 * user name, else `_du` and a hash of it (systemd's user_from_unit_name()). */
export function dynamicUserName(unit: string, user: string | undefined): string {
  if (user !== undefined) return user;
  const prefix = parseUnitName(unit).prefix;
  if (isValidUserOrGroupName(prefix, { strict: true }) && prefix.length <= 31) return prefix;
  return `_du${crypto().createHash('sha256').update(prefix).digest('hex').slice(0, 16)}`;
}

function registryDir(runtimeDir: string): string {
  return join(runtimeDir, 'sockunit', 'dynamic-uid');
}

/** Claims `uid` for `name` in the registry; true when it is (or already was) ours. */
function claim(dir: string, uid: number, name: string): boolean {
  const file = join(dir, String(uid));
  try {
    writeFileSync(file, `${name}\n`, { flag: 'wx', mode: 0o644 });
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  }
  try {
    return readFileSync(file, 'utf8').trim() === name;
  } catch {
    return false;
  }
}

/** Allocates (or finds again) the dynamic user `name`; throws when the range is full. */
export function acquireDynamicUser(name: string, runtimeDir: string): DynamicUser {
  const dir = registryDir(runtimeDir);
  mkdirSync(dir, { recursive: true, mode: 0o755 });
  const start = crypto().createHash('sha256').update(name).digest().readUInt32LE(0) % RANGE;
  for (let i = 0; i < RANGE; i++) {
    const uid = DYNAMIC_UID_MIN + ((start + i) % RANGE);
    if (idIsTaken(uid)) continue;
    if (claim(dir, uid, name)) return { name, uid, gid: uid };
  }
  throw new Error(`no free uid left in ${DYNAMIC_UID_MIN}-${DYNAMIC_UID_MAX} for dynamic user ${name}`);
}

/** Gives the id back when the unit has stopped. */
export function releaseDynamicUser(user: DynamicUser, runtimeDir: string): void {
  const file = join(registryDir(runtimeDir), String(user.uid));
  try {
    if (readFileSync(file, 'utf8').trim() === user.name) unlinkSync(file);
  } catch {}
}
