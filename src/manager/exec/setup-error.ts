// A start that fails while its process is being set up — a missing user, a directory that is a
// file, a credential that cannot be read — fails as under systemd: the process exits with
// systemd's exit status for that step (217/USER, 238/STATE_DIRECTORY, 243/CREDENTIALS…), the
// service's result is `exit-code`, and the log names the key, the value and what to change.

import { exitStatusName } from '../../sys/process.js';

export class ExecSetupError extends Error {
  /** systemd's exit status for the step that failed (src/basic/exit-status.h). */
  readonly status: number;

  constructor(status: number, message: string) {
    super(message);
    this.name = 'ExecSetupError';
    this.status = status;
  }

  /** `status=238/STATE_DIRECTORY`, as the log and `status` show it. */
  get statusText(): string {
    return `status=${this.status}/${exitStatusName(this.status) ?? 'n/a'}`;
  }
}

/** systemd's exit statuses of the set-up steps, by name. */
export const EXIT = {
  CHDIR: 200,
  NICE: 201,
  EXEC: 203,
  LIMITS: 205,
  OOM_ADJUST: 206,
  STDIN: 208,
  IOPRIO: 211,
  TIMERSLACK: 212,
  SECUREBITS: 213,
  SETSCHEDULER: 214,
  CPUAFFINITY: 215,
  GROUP: 216,
  USER: 217,
  CAPABILITIES: 218,
  NAMESPACE: 226,
  NO_NEW_PRIVILEGES: 227,
  PERSONALITY: 230,
  RUNTIME_DIRECTORY: 233,
  STATE_DIRECTORY: 238,
  CACHE_DIRECTORY: 239,
  LOGS_DIRECTORY: 240,
  CONFIGURATION_DIRECTORY: 241,
  NUMA_POLICY: 242,
  CREDENTIALS: 243,
} as const;
