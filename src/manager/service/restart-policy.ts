// Restart=: whether a service that ended this way is started again, as systemd's
// service_shall_restart() decides it (src/core/service.c), and the result a run ends with.

import type { ExitStatus } from '../../sys/process.js';
import type { ExitStatusSet, RestartPolicy, ServiceSection } from '../../unit/service-config.js';

export type { RestartPolicy };

/** How a service run ended, in systemd's result vocabulary (service_result_to_string()). */
export type ServiceResult =
  | 'success'
  | 'resources'
  | 'protocol'
  | 'timeout'
  | 'exit-code'
  | 'signal'
  | 'core-dump'
  | 'watchdog'
  | 'start-limit-hit'
  | 'oom-kill'
  | 'exec-condition';

// Each Restart= value as systemd writes it: most are exclusions, so a result systemd adds later
// (as it added oom-kill) restarts under `always`/`on-failure`/`on-abnormal` without a new row.
const restartsAfterResult: Record<RestartPolicy, (result: ServiceResult) => boolean> = {
  no: () => false,
  always: (r) => r !== 'exec-condition',
  'on-success': (r) => r === 'success',
  'on-failure': (r) => r !== 'success' && r !== 'exec-condition',
  'on-abnormal': (r) => r !== 'success' && r !== 'exit-code' && r !== 'exec-condition',
  'on-watchdog': (r) => r === 'watchdog',
  'on-abort': (r) => r === 'signal' || r === 'core-dump',
};

export interface ExitFacts {
  result: ServiceResult;
  /** Exit status when the process exited. */
  status?: number;
  /** Signal name without SIG when it was killed (`TERM`). */
  signal?: string;
  /** A stop the user asked for never restarts. */
  requestedStop?: boolean;
}

export interface RestartRules {
  policy: RestartPolicy;
  preventExitStatus?: ReadonlySet<number | string>;
  forceExitStatus?: ReadonlySet<number | string>;
}

export function shouldRestart(rules: RestartRules, facts: ExitFacts): boolean {
  if (facts.requestedStop) return false;
  const code = facts.status ?? facts.signal;
  if (code !== undefined && rules.preventExitStatus?.has(code)) return false;
  if (code !== undefined && rules.forceExitStatus?.has(code)) return true;
  return restartsAfterResult[rules.policy](facts.result);
}

/** Clean exits per systemd's is_clean_exit(): status 0, or HUP/INT/TERM/PIPE (not for oneshot),
 * or a SuccessExitStatus= entry. A core dump is never clean, whatever signal caused it. */
export function classifyExit(
  exit: { status?: number; signal?: string; dumped?: boolean },
  options: { oneshot?: boolean; successExitStatus?: ReadonlySet<number | string> } = {},
): ServiceResult {
  if (exit.status !== undefined) {
    return exit.status === 0 || options.successExitStatus?.has(exit.status) ? 'success' : 'exit-code';
  }
  if (exit.dumped) return 'core-dump';
  const sig = exit.signal ?? '';
  if (options.successExitStatus?.has(sig)) return 'success';
  if (!options.oneshot && ['HUP', 'INT', 'TERM', 'PIPE'].includes(sig)) return 'success';
  return 'signal';
}

/** An exit-status list as a set of numbers and signal names without SIG, built once per
 * config (every Accept=yes instance of a template shares it, and asked on every exit). */
const statusSets = new WeakMap<ExitStatusSet, Set<number | string>>();
function statusSet(list: ExitStatusSet): Set<number | string> {
  let set = statusSets.get(list);
  if (!set) {
    set = new Set<number | string>([
      ...list.statuses,
      ...list.signals.map((x) => x.name.replace(/^SIG/, '')),
    ]);
    statusSets.set(list, set);
  }
  return set;
}

/** The result of a run whose main process ended with `exit` (none: a oneshot's commands all
 * succeeded), under the unit's SuccessExitStatus=. */
export function resultOfExit(exit: ExitStatus | undefined, service: ServiceSection): ServiceResult {
  if (!exit) return 'success';
  return classifyExit(
    {
      status: exit.code === 'exited' ? exit.status : undefined,
      signal: exit.signal,
      dumped: exit.code === 'dumped',
    },
    { oneshot: service.type === 'oneshot', successExitStatus: statusSet(service.successExitStatus) },
  );
}

/** Restart=, RestartPreventExitStatus= and RestartForceExitStatus= applied to a run that ended
 * with `result` and `exit` (none when the main process never ran). */
export function restartsAfter(
  service: ServiceSection,
  result: ServiceResult,
  exit: ExitStatus | undefined,
  requestedStop: boolean,
): boolean {
  const rules = {
    policy: service.restart,
    preventExitStatus: statusSet(service.restartPreventExitStatus),
    forceExitStatus: statusSet(service.restartForceExitStatus),
  };
  const facts = {
    result,
    ...(exit?.code === 'exited' ? { status: exit.status } : {}),
    ...(exit && exit.code !== 'exited' && exit.signal ? { signal: exit.signal } : {}),
    requestedStop,
  };
  return shouldRestart(rules, facts);
}
