// A Type=forking daemon, followed without cgroups: once the start command has exited, what is
// left of the service is its process group (every start runs under setsid, so the group is the
// start command's pid) and the pid PIDFile= names, when the unit has one. The daemon is not our
// child, so no pidfd wait reaches it: its end is noticed by polling with kill(…, 0).

import { readFileSync } from 'node:fs';
import { hasCode } from '../../sys/errors.js';
import { kill } from '../../sys/process.js';
import type { ServiceCgroup } from '../cgroup/service-cgroup.js';
import type { ProcessExit, RunningProcess } from '../exec/process.js';

/** How often a forked daemon is checked for life. */
const POLL_MS = 100;

/** The pid a PIDFile= holds, or undefined when it is missing or not a pid. */
export function readPidFile(path: string): number | undefined {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
  const pid = Number(text.trim().split(/\s+/)[0]);
  return Number.isInteger(pid) && pid > 1 ? pid : undefined;
}

function exists(target: number): boolean {
  try {
    kill(target, 0);
    return true;
  } catch (err) {
    return !hasCode(err, 'ESRCH');
  }
}

/** The daemon as a RunningProcess: `pid` is the PIDFile= pid (else the group), `exit` settles when
 * neither the group nor that pid exists any more, `signal` reaches both. Its exit status is not
 * ours to know: it is reported as a clean exit. */
export function followForkedDaemon(group: number, pidFile: string | undefined): RunningProcess {
  const pid = pidFile !== undefined ? readPidFile(pidFile) : undefined;
  const alive = () => exists(-group) || (pid !== undefined && exists(pid));
  const exit = new Promise<ProcessExit>((resolve) => {
    const timer = setInterval(() => {
      if (alive()) return;
      clearInterval(timer);
      resolve({ pid: pid ?? group, code: 'exited', status: 0 });
    }, POLL_MS);
  });
  return {
    pid: pid ?? group,
    exit,
    signal(signal: number) {
      for (const target of pid !== undefined ? [-group, pid] : [-group]) {
        try {
          kill(target, signal);
        } catch {}
      }
    },
  };
}

/** The daemon followed by its service's cgroup: what runs there is the service, however often
 * it forked and whichever session it joined. `pid` is the PIDFile= pid, else the only process
 * left (systemd's GuessMainPID=), else the start command's pid; `exit` settles once the cgroup is
 * empty; `signal` reaches that pid, or with `group` every process of the cgroup. */
export function followCgroupDaemon(
  cgroup: ServiceCgroup,
  startPid: number,
  pidFile: string | undefined,
): RunningProcess {
  const left = cgroup.processes();
  const pid =
    (pidFile !== undefined ? readPidFile(pidFile) : undefined) ??
    (left.length === 1 ? left[0]?.pid : undefined) ??
    startPid;
  const exit = cgroup.waitUntilEmpty(undefined).then((): ProcessExit => ({ pid, code: 'exited', status: 0 }));
  return {
    pid,
    exit,
    signal(signal: number, group = false) {
      if (group) cgroup.signal(signal);
      else
        try {
          kill(pid, signal);
        } catch {}
    },
  };
}
