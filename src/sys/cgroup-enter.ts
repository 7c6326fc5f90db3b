// Starting a process inside a cgroup, before it can fork. systemd moves its child into the unit's
// cgroup between fork and exec, so nothing the service starts can be born outside it. posix_spawn
// gives us no code between the two (glibc 2.36 has no posix_spawnattr_setcgroup_np, and clone3
// with CLONE_INTO_CGROUP would need code of ours running in the child), and moving the child
// from here after posix_spawn returns races with the service's own first fork. So the move is
// one more step in the exec chain: the child writes "0" (itself) into the cgroup's cgroup.procs,
// then execs the rest of the chain in place (same pid).
//
// The step is a tiny static program (cgroup-enter-helper.ts) where there is one for the
// architecture, else `/bin/sh`. It runs first in the chain, with the manager's credentials, so
// the move happens before User= drops them.

import { cgroupEnterHelperPath } from './cgroup-enter-helper.js';

const SHELL = '/bin/sh';

/** Exit status when the process could not enter its cgroup: systemd's 219/CGROUP. */
export const EXIT_CGROUP = 219;

/** The shell step: $0 is the cgroup.procs file, "$@" the program and its arguments. dash exports
 * PWD at start-up; it is taken away again unless the caller's environment had one. */
export function cgroupEnterShellScript(unsetPwd: boolean): string {
  return `echo 0 > "$0" || exit ${EXIT_CGROUP}; ${unsetPwd ? 'unset PWD; ' : ''}exec "$@"`;
}

/** How a spawn of `file` with `argv` becomes one that enters the cgroup at `dir` first. `file`
 * must be a path (the step execs it without a $PATH search). With the shell step argv[0] becomes
 * `file`, as a POSIX shell cannot exec under another name; the helper keeps it. */
export function enterCgroupFirst(
  dir: string,
  file: string,
  argv: readonly string[],
  envHasPwd: boolean,
): { file: string; argv: string[] } {
  if (!file.includes('/'))
    throw new TypeError(`cgroup step: '${file}' is not a path; resolve it before spawning into a cgroup`);
  const procs = `${dir}/cgroup.procs`;
  const helper = cgroupEnterHelperPath();
  if (helper) return { file: helper, argv: [helper, procs, file, ...argv] };
  return {
    file: SHELL,
    argv: [SHELL, '-c', cgroupEnterShellScript(!envHasPwd), procs, file, ...argv.slice(1)],
  };
}
