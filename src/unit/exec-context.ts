// How a unit's processes are started and stopped: the exec and kill settings that [Service] and
// [Socket] (for its ExecStartPre= and friends) share (systemd.exec(5), systemd.kill(5)).

import type { EnvironmentAssignment } from './environment.js';
import type { Signal } from './values.js';

export interface EnvironmentFileRef {
  path: string;
  /** `-` prefix: a missing file is not an error. */
  missingOk: boolean;
}

export interface WorkingDirectory {
  /** An absolute path, or `~` for the home directory of User=. */
  path: string;
  /** `-` prefix: a missing directory is not an error. */
  missingOk: boolean;
}

export type StandardInput =
  | 'null'
  | 'tty'
  | 'tty-force'
  | 'tty-fail'
  | 'data'
  | 'socket'
  | `file:${string}`
  | `fd:${string}`;
export type StandardOutput =
  | 'inherit'
  | 'null'
  | 'tty'
  | 'journal'
  | 'kmsg'
  | 'journal+console'
  | 'kmsg+console'
  | 'socket'
  | `file:${string}`
  | `append:${string}`
  | `truncate:${string}`
  | `fd:${string}`;

export interface ExecContext {
  /** Unset = root for the system manager (the manager's own user otherwise). */
  user?: string;
  group?: string;
  supplementaryGroups: string[];
  /** Unset = `/` (system manager) or the user's home (user manager). */
  workingDirectory?: WorkingDirectory;
  umask: number;
  environment: EnvironmentAssignment[];
  environmentFiles: EnvironmentFileRef[];
  passEnvironment: string[];
  unsetEnvironment: string[];
  standardInput: StandardInput;
  /** Unset = `inherit` when stdin is a tty/socket/fd, else `journal` (resolved at exec time). */
  standardOutput?: StandardOutput;
  /** Unset = `inherit`. */
  standardError?: StandardOutput;
  /** StandardInputText= lines and StandardInputData= bytes, in order. */
  standardInputData: string;
}

export type KillMode = 'control-group' | 'mixed' | 'process' | 'none';

export interface KillContext {
  killMode: KillMode;
  killSignal: Signal;
  /** Unset = KillSignal=. */
  restartKillSignal?: Signal;
  finalKillSignal: Signal;
  watchdogSignal: Signal;
  sendSIGKILL: boolean;
  sendSIGHUP: boolean;
}

export const DEFAULT_UMASK = 0o022;

export function defaultExecContext(): ExecContext {
  return {
    supplementaryGroups: [],
    umask: DEFAULT_UMASK,
    environment: [],
    environmentFiles: [],
    passEnvironment: [],
    unsetEnvironment: [],
    standardInput: 'null',
    standardInputData: '',
  };
}

export function defaultKillContext(): KillContext {
  return {
    killMode: 'control-group',
    killSignal: { name: 'SIGTERM', number: 15 },
    finalKillSignal: { name: 'SIGKILL', number: 9 },
    watchdogSignal: { name: 'SIGABRT', number: 6 },
    sendSIGKILL: true,
    sendSIGHUP: false,
  };
}
