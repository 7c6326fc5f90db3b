// The exec-context helper: what systemd's exec_invoke() does between fork and exec that a
// posix_spawn cannot (resource limits, scheduling, the NUMA policy, capability sets, securebits,
// no_new_privs, groups and ids, a mount namespace), done by a tiny static program that runs a
// list of system calls prepared by the manager (syscall-script.ts) and then execs the service in
// place, same pid. One exec, whatever the unit asks for; a unit that asks for none of it does not
// get the helper at all. Its machine code for x86_64 and AArch64 is kept as commented listings
// (context-helper-x86_64.ts, context-helper-aarch64.ts), written out like the LISTEN_PID helper's.
//
// The contract (the spawner's side is `contextHelperWrap`):
//   argv = [helper, SCRIPT, PATH, ARGV0, ARG...]: runs SCRIPT's steps in order, then execs PATH
//     with argv [ARGV0, ARG...] and the environment it was given. PATH is used as is.
//   A step that fails (the call returns -4095..-1) and carries an exit status writes its message
//     and ": errno N\n" to fd 2 and exits with that status (systemd's 205/LIMITS, 218/CAPABILITIES…);
//     one without an exit status is ignored. A step can instead expect one result (its sixth
//     argument, which the call ignores): any other counts as a failure with errno 3 (ESRCH).
//   On execve failure: "sockunit-exec: cannot execute PATH: errno N" on fd 2, status 203 (EXEC).
//     Fewer than three arguments after the helper, or an odd number of hex digits: a usage line
//     and status 127.

import { CONTEXT_HELPER_AARCH64 } from './context-helper-aarch64.js';
import { CONTEXT_HELPER_X86_64 } from './context-helper-x86_64.js';
import {
  type HelperArch,
  helperFileName,
  helperImage,
  installHelperImage,
  installHelperSomewhere,
} from './helper-install.js';
import { encodeScript, type ScriptStep } from './syscall-script.js';

/** The helper's ELF file for `arch` (Node's names), or undefined where there is no listing. */
export function contextHelperImage(arch: string = process.arch): Uint8Array | undefined {
  return helperImage(arch, { x64: CONTEXT_HELPER_X86_64, arm64: CONTEXT_HELPER_AARCH64 });
}

/** Writes the helper into `dir` unless an identical file is there (see helper-install.ts). */
export function installContextHelper(dir: string, arch: string = process.arch): string {
  const image = contextHelperImage(arch);
  if (!image) throw new Error(`no exec-context helper for architecture ${arch}`);
  return installHelperImage(dir, helperFileName('exec-context', arch, image), image);
}

let installedPath: string | undefined;

/** The installed helper of this architecture, written on first use; throws where there is no
 * listing for this architecture or no directory will do. */
export function contextHelperPath(): string {
  if (installedPath) return installedPath;
  const image = contextHelperImage();
  if (!image)
    throw new Error(`sockunit's exec-context helper exists for x86_64 and AArch64 only, not ${process.arch}`);
  installedPath = installHelperSomewhere(
    helperFileName('exec-context', process.arch, image),
    image,
    'exec-context helper',
  );
  return installedPath;
}

/** Rewrites a spawn of `file` with `argv` so that `steps` run first, in the same process. */
export function contextHelperWrap(
  file: string,
  argv: readonly string[],
  steps: readonly ScriptStep[],
): { file: string; argv: string[] } {
  if (!file.startsWith('/')) throw new TypeError(`exec-context helper: '${file}' is not an absolute path`);
  if (argv.length === 0) throw new RangeError(`exec-context helper: empty argv for '${file}'`);
  const helper = contextHelperPath();
  const arch = process.arch as HelperArch;
  return { file: helper, argv: [helper, encodeScript(steps, arch), file, ...argv] };
}
