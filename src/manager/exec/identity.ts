// Who a unit's process runs as: User=, Group=, SupplementaryGroups= and DynamicUser=, resolved as
// systemd resolves them (get_fixed_user(), get_supplementary_groups()). The user's own groups
// (initgroups) come first when User= names a user whose group is not root's, then
// SupplementaryGroups=. The unit's user owns its directories and credentials even for a `+` or `!`
// command, which keeps the manager's ids.

import type { ExecCommand } from '../../unit/exec-command.js';
import type { ExecContext } from '../../unit/exec-context.js';
import type { DynamicUser } from './dynamic-user.js';
import { EXIT, ExecSetupError } from './setup-error.js';
import { groupsOfUser, lookupGroup, lookupUser, type UserRecord } from './users.js';

export interface Identity {
  /** User= (or the dynamic user): USER, LOGNAME, HOME and SHELL come from it. */
  user?: UserRecord;
  /** Owner of the unit's directories and credentials. */
  ownerUid: number;
  ownerGid: number;
  /** What the process switches to before its exec; absent: it keeps the manager's ids. */
  switchTo?: { uid?: number; gid?: number; groups: number[] };
}

export interface IdentityInputs {
  exec: ExecContext;
  command: Pick<ExecCommand, 'fullPrivileges' | 'noSetCredentials'>;
  /** The manager's own ids. */
  euid: number;
  egid: number;
  /** False for a manager that cannot switch users (feasibility.ts says so at load). */
  switchUsers: boolean;
  /** The unit's dynamic user, when DynamicUser= applies. */
  dynamic?: DynamicUser;
}

function unknownUser(name: string): ExecSetupError {
  return new ExecSetupError(
    EXIT.USER,
    `User=${name}: no such user on this machine (/etc/passwd); create it (useradd --system ${name}) or change User=`,
  );
}

function groupId(name: string, key: string): number {
  const gid = lookupGroup(name);
  if (gid === undefined)
    throw new ExecSetupError(
      EXIT.GROUP,
      `${key}=${name}: no such group on this machine (/etc/group); create it (groupadd --system ${name}) or change ${key}=`,
    );
  return gid;
}

/** Resolves the identity of one command; throws ExecSetupError (217/USER, 216/GROUP). */
export function resolveIdentity(inputs: IdentityInputs): Identity {
  const e = inputs.exec;
  let user: UserRecord | undefined;
  let uid: number | undefined;
  let gid: number | undefined;
  if (inputs.dynamic) {
    user = {
      name: inputs.dynamic.name,
      uid: inputs.dynamic.uid,
      gid: inputs.dynamic.gid,
      home: '/',
      shell: '/usr/sbin/nologin',
    };
    uid = inputs.dynamic.uid;
    gid = inputs.dynamic.gid;
  } else if (e.user !== undefined) {
    user = lookupUser(e.user);
    if (!user) throw unknownUser(e.user);
    uid = user.uid;
    gid = user.gid;
  }
  if (e.group !== undefined && !inputs.dynamic) gid = groupId(e.group, 'Group');
  const supplementary = e.supplementaryGroups.map((g) => groupId(g, 'SupplementaryGroups'));
  const identity: Identity = {
    ownerUid: uid ?? inputs.euid,
    ownerGid: gid ?? inputs.egid,
    ...(user ? { user } : {}),
  };
  const needsSetuid = !inputs.command.fullPrivileges && !inputs.command.noSetCredentials;
  if (!needsSetuid || !inputs.switchUsers) return identity;
  const same = (uid === undefined || uid === inputs.euid) && (gid === undefined || gid === inputs.egid);
  if (same && supplementary.length === 0) return identity;
  // initgroups() for a user whose group is not root's (systemd skips it for gid 0), then the
  // listed groups; with neither, an empty list clears the manager's own.
  const own = user && !inputs.dynamic && gid !== undefined && gid !== 0 ? groupsOfUser(user.name, gid) : [];
  const groups = [...new Set([...own, ...supplementary])];
  identity.switchTo = {
    ...(uid !== undefined ? { uid } : {}),
    ...(gid !== undefined ? { gid } : {}),
    groups,
  };
  return identity;
}
