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

/** The kinds of RuntimeDirectory=, StateDirectory=, CacheDirectory=, LogsDirectory= and
 * ConfigurationDirectory=, in the order systemd sets them up. */
export const DIRECTORY_KINDS = ['runtime', 'state', 'cache', 'logs', 'configuration'] as const;
export type DirectoryKind = (typeof DIRECTORY_KINDS)[number];

/** One item of a `*Directory=` list: a relative path, and the symlinks (`path:link`) to it. */
export interface ExecDirectory {
  path: string;
  symlinks: string[];
}

export interface ExecDirectories {
  items: ExecDirectory[];
  /** `*DirectoryMode=`. */
  mode: number;
}

export type RuntimeDirectoryPreserve = 'no' | 'yes' | 'restart';

/** LoadCredential=, SetCredential=, ImportCredential=, in the order systemd applies them. */
export interface ExecCredentials {
  /** `ID:PATH`: an absolute file or directory, or the name of a credential the manager got. */
  load: { id: string; path: string }[];
  /** `ID:DATA`, C escapes decoded; the default when a LoadCredential= of the same ID is missing. */
  set: { id: string; data: string }[];
  /** `GLOB[:RENAME]`: the manager's own credentials whose names match. */
  import: { glob: string; rename?: string }[];
}

/** systemd's names of the resource limits (LimitCPU= is RLIMIT_CPU…), in the kernel's order. */
export const RLIMIT_NAMES = [
  'CPU',
  'FSIZE',
  'DATA',
  'STACK',
  'CORE',
  'RSS',
  'NPROC',
  'NOFILE',
  'MEMLOCK',
  'AS',
  'LOCKS',
  'SIGPENDING',
  'MSGQUEUE',
  'NICE',
  'RTPRIO',
  'RTTIME',
] as const;
export type RlimitName = (typeof RLIMIT_NAMES)[number];

/** A resource limit in the kernel's units; Infinity is RLIM_INFINITY. */
export interface ResourceLimit {
  soft: number;
  hard: number;
}

export type CpuSchedulingPolicy = 'other' | 'batch' | 'idle' | 'fifo' | 'rr';
export type IoSchedulingClass = 'none' | 'realtime' | 'best-effort' | 'idle';
export type NumaPolicy = 'default' | 'preferred' | 'bind' | 'interleave' | 'local';

/** Nice=, OOMScoreAdjust=, CPUAffinity=, NUMA*=, CPUScheduling*=, IOScheduling*=, TimerSlackNSec=,
 * CoredumpFilter=, IgnoreSIGPIPE=, Personality=: unset fields leave the manager's value. */
export interface ExecScheduling {
  nice?: number;
  oomScoreAdjust?: number;
  /** CPU numbers, or `numa`: the CPUs of NUMAMask=. */
  cpuAffinity?: number[] | 'numa';
  numaPolicy?: NumaPolicy;
  /** NUMA node numbers, or every node. */
  numaMask?: number[] | 'all';
  cpuSchedulingPolicy?: CpuSchedulingPolicy;
  cpuSchedulingPriority?: number;
  cpuSchedulingResetOnFork: boolean;
  ioSchedulingClass?: IoSchedulingClass;
  ioSchedulingPriority?: number;
  timerSlackNSec?: number;
  /** The bits written to /proc/PID/coredump_filter. */
  coredumpFilter?: number;
  ignoreSigpipe: boolean;
  /** `x86`, `x86-64`, `arm`, `arm64`… as systemd names execution domains. */
  personality?: string;
}

/** CapabilityBoundingSet=, AmbientCapabilities=, NoNewPrivileges=, SecureBits=, DynamicUser=. */
export interface ExecPrivileges {
  /** Capability numbers kept in the bounding set; unset: not changed. */
  capabilityBoundingSet?: number[];
  ambientCapabilities: number[];
  noNewPrivileges: boolean;
  /** SECBIT_* bits (noroot = 1, …, keep-caps-locked = 32). */
  secureBits: number;
  dynamicUser: boolean;
}

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
  /** ExecSearchPath=: where a bare executable name is looked up (and the default $PATH). */
  execSearchPath: string[];
  directories: Record<DirectoryKind, ExecDirectories>;
  runtimeDirectoryPreserve: RuntimeDirectoryPreserve;
  credentials: ExecCredentials;
  limits: Partial<Record<RlimitName, ResourceLimit>>;
  scheduling: ExecScheduling;
  privileges: ExecPrivileges;
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
    execSearchPath: [],
    directories: {
      runtime: { items: [], mode: 0o755 },
      state: { items: [], mode: 0o755 },
      cache: { items: [], mode: 0o755 },
      logs: { items: [], mode: 0o755 },
      configuration: { items: [], mode: 0o755 },
    },
    runtimeDirectoryPreserve: 'no',
    credentials: { load: [], set: [], import: [] },
    limits: {},
    scheduling: { cpuSchedulingResetOnFork: false, ignoreSigpipe: true },
    privileges: { ambientCapabilities: [], noNewPrivileges: false, secureBits: 0, dynamicUser: false },
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
