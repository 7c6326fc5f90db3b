// Who could have written a unit file. A manager running as root runs what its unit files say as
// root, so a file, or any directory on the way to it, that another user may change hands that
// user root. systemd warns about a world-writable (and, as the system manager, a world-
// inaccessible or executable) configuration file and proceeds; sockunit says the same, and a
// manager running as root also refuses a unit file another user could modify, unless told to
// allow it (cli/run.ts: --allow-unsafe-unit-files). Reads file status only; never changes
// anything.

import { lstatSync, realpathSync, type Stats } from 'node:fs';
import { dirname } from 'node:path';
import type { Diagnostic, Severity } from './diagnostic.js';

/** How the loader treats a unit file that users other than `trustedUsers` could modify. */
export interface OwnershipPolicy {
  /** Root and the manager's own user; files of anyone else are not theirs to run. */
  trustedUsers: readonly number[];
  /** Groups whose write permission is no one else's: root's and the manager's. */
  trustedGroups: readonly number[];
  /** `error`: the unit does not load (a manager running as root). `warning`: it loads, and the
   * log says why it should not (--allow-unsafe-unit-files). `notice`: what a manager running as
   * root would refuse, for `verify` run by another user. */
  severity: Severity;
}

/** The checks of a manager running as `euid`/`egid`: as root, files others could modify are
 * refused (or, with `allowUnsafe`, run with a warning); any other manager runs with its user's
 * rights only, so there is nothing to refuse. */
export function unitFileChecksFor(
  euid: number,
  egid: number,
  allowUnsafe: boolean,
): { ownership?: OwnershipPolicy; systemManager: boolean } {
  if (euid !== 0) return { systemManager: false };
  return {
    ownership: { trustedUsers: [0], trustedGroups: [0, egid], severity: allowUnsafe ? 'warning' : 'error' },
    systemManager: true,
  };
}

/** systemd's warnings for a configuration file (its stat_warn_permissions), in this project's
 * words: executable and world-writable always, world-inaccessible only for a system manager
 * (systemd: when it is PID 1), where it hides nothing from anyone. */
export function permissionWarnings(path: string, st: Stats, systemManager: boolean): Diagnostic[] {
  if (!st.isFile()) return []; // /dev/null and other masks
  const out: Diagnostic[] = [];
  const warn = (message: string) => out.push({ severity: 'warning', file: path, line: 0, message });
  if ((st.mode & 0o111) !== 0)
    warn(`the file is marked executable; remove the executable bits (chmod a-x ${path}). Proceeding anyway`);
  if ((st.mode & 0o002) !== 0)
    warn(
      `the file is marked world-writable: anyone may change what it runs; remove the bit (chmod o-w ${path}). Proceeding anyway`,
    );
  if (systemManager && (st.mode & 0o044) !== 0o044)
    warn(
      `the file is marked world-inaccessible, which hides nothing: status and show print its settings to anyone; make it readable (chmod go+r ${path}). Proceeding anyway`,
    );
  return out;
}

/**
 * Finds who other than the trusted users could change a unit file: the file itself, the
 * directory holding it, every directory above, and every symbolic link on the way (and what it
 * points to). A directory others may write is safe above the unit directory only when it is
 * sticky (as /tmp): they cannot then rename or remove the entries of the trusted. Directory
 * results are remembered, so a directory of 10,000 units is walked once.
 */
export class FileTrust {
  private readonly policy: OwnershipPolicy;
  private readonly dirs = new Map<string, string | undefined>();

  constructor(policy: OwnershipPolicy) {
    this.policy = policy;
  }

  get severity(): Severity {
    return this.policy.severity;
  }

  /** Why `path` (whose file, as read, has status `st`) is not safe to run, or undefined. */
  problem(path: string, st: Stats): string | undefined {
    const own = this.entryProblem(path, st, 'file');
    if (own) return own;
    const where = this.directoryProblem(dirname(path), 'unit');
    if (where) return where;
    // A link to a unit file (an alias, a linked unit): the file's own directories matter too.
    let link: Stats;
    try {
      link = lstatSync(path);
    } catch {
      return undefined; // gone since it was read: nothing to run either
    }
    if (!link.isSymbolicLink()) return undefined;
    return this.linkProblem(path, link, 'unit', true);
  }

  private linkProblem(
    path: string,
    link: Stats,
    role: 'unit' | 'above',
    toFile: boolean,
  ): string | undefined {
    if (!this.policy.trustedUsers.includes(link.uid))
      return `the symbolic link ${path} is owned by uid ${link.uid}, who may point it elsewhere`;
    let target: string;
    try {
      target = realpathSync.native(path);
    } catch {
      return undefined; // dangling: the loader reports what it cannot read
    }
    return this.directoryProblem(toFile ? dirname(target) : target, role);
  }

  /** Why directory `dir` (reached as written, links followed) could be changed by others. */
  private directoryProblem(dir: string, role: 'unit' | 'above'): string | undefined {
    const key = `${role}\0${dir}`;
    if (this.dirs.has(key)) return this.dirs.get(key);
    let problem: string | undefined;
    const parent = dirname(dir);
    if (parent !== dir) problem = this.directoryProblem(parent, 'above');
    if (!problem) {
      try {
        const st = lstatSync(dir);
        problem = st.isSymbolicLink()
          ? this.linkProblem(dir, st, role, false)
          : this.entryProblem(dir, st, role === 'unit' ? 'unit directory' : 'directory');
      } catch {
        problem = undefined; // missing: nothing can be read from it
      }
    }
    this.dirs.set(key, problem);
    return problem;
  }

  private entryProblem(
    path: string,
    st: Stats,
    what: 'file' | 'unit directory' | 'directory',
  ): string | undefined {
    const p = this.policy;
    if (!p.trustedUsers.includes(st.uid)) return `the ${what} ${path} is owned by uid ${st.uid}`;
    // Above the unit directory, a sticky directory keeps others from replacing what is ours.
    const sticky = what === 'directory' && (st.mode & 0o1000) !== 0;
    if ((st.mode & 0o002) !== 0 && !sticky) return `the ${what} ${path} is writable by every user`;
    if ((st.mode & 0o020) !== 0 && !sticky && !p.trustedGroups.includes(st.gid))
      return `the ${what} ${path} is writable by group ${st.gid}`;
    return undefined;
  }
}

/** The diagnostic for a unit file `FileTrust.problem` found a reason in. */
export function untrustedFileDiagnostic(path: string, reason: string, severity: Severity): Diagnostic {
  const fix = `make the file and every directory above it owned by root and writable by no one else (chown root:root ${path}; chmod go-w ${path}), or start the manager with --allow-unsafe-unit-files to run it all the same`;
  const message =
    severity === 'error'
      ? `refusing to run this unit as root: ${reason}, so that user could change what runs as root; ${fix}`
      : severity === 'warning'
        ? `running this unit as root although ${reason} (--allow-unsafe-unit-files): that user could change what runs as root`
        : `sockunit run as root would refuse this unit: ${reason}; ${fix}`;
  return { severity, file: path, line: 0, message };
}
