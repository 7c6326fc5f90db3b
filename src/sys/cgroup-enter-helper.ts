// The cgroup exec step as a tiny static program (cgroup-enter.ts says why there is a step), built
// from the machine-code listings beside this file and written out once per process, as the
// LISTEN_PID helper is (helper-install.ts).
//
// The contract (the spawner's side is `enterCgroupFirst`):
//   argv = [helper, PROCS, PATH, ARGV0, ARG...]: it writes "0" to PROCS (a cgroup.procs file),
//     which moves the calling process into that cgroup, then execs PATH with argv [ARGV0, ARG...]
//     and the environment unchanged. PATH is used as is: no $PATH search.
//   If PROCS cannot be opened or written: "sockunit-cgroup: cannot enter PROCS: errno N" on fd 2
//     and exit status 219 (systemd's CGROUP). If execve fails: "sockunit-cgroup: cannot execute
//     PATH: errno N" and status 127. With fewer than three arguments: a usage line, status 127.

import { CGROUP_ENTER_HELPER_AARCH64 } from './cgroup-enter-helper-aarch64.js';
import { CGROUP_ENTER_HELPER_X86_64 } from './cgroup-enter-helper-x86_64.js';
import { helperFileName, helperImage, installHelperSomewhere } from './helper-install.js';

/** The helper's ELF file for `arch` (Node's names), or undefined where there is no listing. */
export function cgroupEnterHelperImage(arch: string = process.arch): Uint8Array | undefined {
  return helperImage(arch, { x64: CGROUP_ENTER_HELPER_X86_64, arm64: CGROUP_ENTER_HELPER_AARCH64 });
}

let installed: string | undefined;
let failure: Error | undefined;

/** The helper's path, installed on first use; undefined where there is none for this
 * architecture or it cannot be installed (then the shell does the step: a start must not fail
 * over a faster way to do it, so that case warns once, code SOCKUNIT_CGROUP_HELPER). */
export function cgroupEnterHelperPath(): string | undefined {
  if (installed || failure) return installed;
  const image = cgroupEnterHelperImage();
  if (!image) return undefined;
  try {
    installed = installHelperSomewhere(
      helperFileName('cgroup-enter', process.arch, image),
      image,
      'cgroup helper',
    );
  } catch (error) {
    failure = error as Error;
    process.emitWarning(`${failure.message}; using /bin/sh to enter cgroups`, {
      code: 'SOCKUNIT_CGROUP_HELPER',
    });
  }
  return installed;
}
