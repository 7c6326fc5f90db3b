// The typed [Service] section as activation needs it (socket-units.md §6) with systemd's
// defaults, and the combinations that make a service `bad-setting` (§6.5).

import type { Diagnostic } from './diagnostic.js';
import type { ExecCommand } from './exec-command.js';
import type { ExecContext, KillContext } from './exec-context.js';
import type { InstallSection } from './install-section.js';
import type { ResourceControl } from './resource-control.js';
import type { SandboxContext } from './sandbox-config.js';
import type { KeyOrigins, NotEnforcedSetting } from './socket-config.js';
import type { UnitSection } from './unit-section.js';
import { parseSignal, type Signal, ValueError } from './values.js';

export type ServiceType =
  | 'simple'
  | 'exec'
  | 'forking'
  | 'oneshot'
  | 'dbus'
  | 'notify'
  | 'notify-reload'
  | 'idle';
export const SERVICE_TYPES: readonly ServiceType[] = [
  'simple',
  'exec',
  'forking',
  'oneshot',
  'dbus',
  'notify',
  'notify-reload',
  'idle',
];
export type RestartPolicy =
  | 'no'
  | 'always'
  | 'on-success'
  | 'on-failure'
  | 'on-abnormal'
  | 'on-abort'
  | 'on-watchdog';
export const RESTART_POLICIES: readonly RestartPolicy[] = [
  'no',
  'always',
  'on-success',
  'on-failure',
  'on-abnormal',
  'on-abort',
  'on-watchdog',
];
export type NotifyAccess = 'none' | 'main' | 'exec' | 'all';
export type FileDescriptorStorePreserve = 'no' | 'restart' | 'yes';

/** Exit statuses (0-255) and signals, as SuccessExitStatus= and friends list them. */
export interface ExitStatusSet {
  statuses: number[];
  signals: Signal[];
}

export interface ServiceSection {
  /** After finalizeService: `simple` with ExecStart=, else `oneshot`, unless set. */
  type: ServiceType;
  restart: RestartPolicy;
  restartUsec: number;
  /** After finalizeService: 90 s, or infinity for oneshot, unless set. */
  timeoutStartUsec: number;
  timeoutStopUsec: number;
  /** Unset = TimeoutStopSec=. */
  timeoutAbortUsec?: number;
  runtimeMaxUsec: number;
  /** 0 = no watchdog. */
  watchdogUsec: number;
  execCondition: ExecCommand[];
  execStartPre: ExecCommand[];
  execStart: ExecCommand[];
  execStartPost: ExecCommand[];
  execReload: ExecCommand[];
  execStop: ExecCommand[];
  execStopPost: ExecCommand[];
  remainAfterExit: boolean;
  pidFile?: string;
  /** Socket units whose fds this service receives (besides the ones that trigger it). */
  sockets: string[];
  nonBlocking: boolean;
  fileDescriptorStoreMax: number;
  fileDescriptorStorePreserve: FileDescriptorStorePreserve;
  /** After finalizeService: raised to `main` for notify types, a watchdog or an fd store, unless set. */
  notifyAccess: NotifyAccess;
  successExitStatus: ExitStatusSet;
  restartPreventExitStatus: ExitStatusSet;
  restartForceExitStatus: ExitStatusSet;
  reloadSignal: Signal;
}

export interface ServiceUnitConfig {
  type: 'service';
  name: string;
  unit: UnitSection;
  service: ServiceSection;
  exec: ExecContext;
  kill: KillContext;
  /** systemd.resource-control(5): applied through the service's cgroup. */
  resources: ResourceControl;
  sandbox: SandboxContext;
  install: InstallSection;
  origins: KeyOrigins;
  notEnforced: NotEnforcedSetting[];
}

export const DEFAULT_TIMEOUT_USEC = 90_000_000;
export const DEFAULT_RESTART_USEC = 100_000;

export function emptyExitStatusSet(): ExitStatusSet {
  return { statuses: [], signals: [] };
}

export function defaultServiceSection(): ServiceSection {
  return {
    type: 'simple',
    restart: 'no',
    restartUsec: DEFAULT_RESTART_USEC,
    timeoutStartUsec: DEFAULT_TIMEOUT_USEC,
    timeoutStopUsec: DEFAULT_TIMEOUT_USEC,
    runtimeMaxUsec: Number.POSITIVE_INFINITY,
    watchdogUsec: 0,
    execCondition: [],
    execStartPre: [],
    execStart: [],
    execStartPost: [],
    execReload: [],
    execStop: [],
    execStopPost: [],
    remainAfterExit: false,
    sockets: [],
    nonBlocking: false,
    fileDescriptorStoreMax: 0,
    fileDescriptorStorePreserve: 'restart',
    notifyAccess: 'none',
    successExitStatus: emptyExitStatusSet(),
    restartPreventExitStatus: emptyExitStatusSet(),
    restartForceExitStatus: emptyExitStatusSet(),
    reloadSignal: { name: 'SIGHUP', number: 1 },
  };
}

/** Exit status names systemd accepts (LSB, BSD sysexits.h, and its own exec failures). */
const EXIT_STATUS_NAMES: Readonly<Record<string, number>> = {
  SUCCESS: 0,
  FAILURE: 1,
  INVALIDARGUMENT: 2,
  NOTIMPLEMENTED: 3,
  NOPERMISSION: 4,
  NOTINSTALLED: 5,
  NOTCONFIGURED: 6,
  NOTRUNNING: 7,
  USAGE: 64,
  DATAERR: 65,
  NOINPUT: 66,
  NOUSER: 67,
  NOHOST: 68,
  UNAVAILABLE: 69,
  SOFTWARE: 70,
  OSERR: 71,
  OSFILE: 72,
  CANTCREAT: 73,
  IOERR: 74,
  TEMPFAIL: 75,
  PROTOCOL: 76,
  NOPERM: 77,
  CONFIG: 78,
  CHDIR: 200,
  NICE: 201,
  FDS: 202,
  EXEC: 203,
  MEMORY: 204,
  LIMITS: 205,
  OOM_ADJUST: 206,
  SIGNAL_MASK: 207,
  STDIN: 208,
  STDOUT: 209,
  CHROOT: 210,
  GROUP: 216,
  USER: 217,
  CAPABILITIES: 218,
  CGROUP: 219,
  SETSID: 220,
  STDERR: 222,
  NAMESPACE: 226,
  RUNTIME_DIRECTORY: 233,
  CHOWN: 235,
  STATE_DIRECTORY: 238,
  CACHE_DIRECTORY: 239,
  LOGS_DIRECTORY: 240,
  CONFIGURATION_DIRECTORY: 241,
  CREDENTIALS: 243,
};

/** Blank-separated exit statuses (0-255 or names such as DATAERR) and signal names. */
export function parseExitStatusItems(value: string): ExitStatusSet {
  const set = emptyExitStatusSet();
  for (const word of value.split(/\s+/).filter((w) => w !== '')) {
    if (/^[0-9]+$/.test(word)) {
      const n = Number(word);
      if (n > 255)
        throw new ValueError(`exit status ${word} is out of range; expected 0-255 or a signal name`);
      set.statuses.push(n);
      continue;
    }
    const named = EXIT_STATUS_NAMES[word];
    if (named !== undefined) {
      set.statuses.push(named);
      continue;
    }
    try {
      set.signals.push(parseSignal(word));
    } catch {
      throw new ValueError(
        `'${word}' is neither an exit status nor a signal; expected 0-255, a name like DATAERR or a signal like SIGUSR1`,
      );
    }
  }
  return set;
}

export function formatExitStatusSet(set: ExitStatusSet): string {
  return [...set.statuses.map(String), ...set.signals.map((s) => s.name)].join(' ');
}

/** Resolves defaults that depend on other keys and applies systemd's refusals. Returns true when
 * the unit is `bad-setting`. */
export function finalizeService(
  config: ServiceUnitConfig,
  fragmentPath: string,
  diagnostics: Diagnostic[],
): boolean {
  const s = config.service;
  const o = config.origins;
  let bad = false;
  const error = (key: string | undefined, message: string): void => {
    bad = true;
    const origin = key === undefined ? undefined : o[key];
    diagnostics.push(
      origin === undefined
        ? { severity: 'error', file: fragmentPath, line: 0, message }
        : { severity: 'error', file: origin.file, line: origin.line, key, value: origin.value, message },
    );
  };

  if (o.Type === undefined) s.type = s.execStart.length > 0 ? 'simple' : 'oneshot';
  if (s.type === 'oneshot' && o.TimeoutStartSec === undefined && o.TimeoutSec === undefined) {
    s.timeoutStartUsec = Number.POSITIVE_INFINITY;
  }
  if (
    o.NotifyAccess === undefined &&
    (s.type === 'notify' || s.type === 'notify-reload' || s.watchdogUsec > 0 || s.fileDescriptorStoreMax > 0)
  ) {
    s.notifyAccess = 'main';
  }

  const hasSuccessAction = config.notEnforced.some((n) => n.key === 'SuccessAction');
  if (s.execStart.length === 0 && s.execStop.length === 0 && !hasSuccessAction) {
    error(undefined, 'the service has no ExecStart= and no ExecStop=; expected at least an ExecStart= line');
  }
  if (s.type !== 'oneshot' && s.execStart.length > 1) {
    error(
      'ExecStart',
      `the service has ${s.execStart.length} ExecStart= commands, which only Type=oneshot allows; expected one command, or Type=oneshot`,
    );
  }
  if (s.type !== 'oneshot' && s.execStart.length === 0 && o.Type !== undefined) {
    error('Type', `Type=${s.type} needs an ExecStart= command; expected an ExecStart= line or Type=oneshot`);
  }
  if (s.type === 'oneshot' && (s.restart === 'always' || s.restart === 'on-success')) {
    error(
      'Restart',
      `Restart=${s.restart} cannot be used with Type=oneshot; expected Restart=no, on-failure, on-abnormal, on-abort or on-watchdog`,
    );
  }
  if (s.type === 'dbus' && !config.notEnforced.some((n) => n.key === 'BusName')) {
    error('Type', 'Type=dbus needs BusName=; expected a BusName= line or another Type=');
  }
  impliedByDynamicUser(config);
  return bad;
}

/** DynamicUser=yes: the sandbox systemd implies so that a transient uid leaves nothing behind in
 * the file system (systemd's unit_patch_contexts()): a private /tmp, ProtectSystem=strict,
 * ProtectHome=read-only unless set, RestrictSUIDSGID=; NoNewPrivileges= is the exec room's. */
function impliedByDynamicUser(config: ServiceUnitConfig): void {
  if (!config.exec.privileges.dynamicUser) return;
  const b = config.sandbox;
  if (b.privateTmp === 'no') b.privateTmp = 'yes';
  b.protectSystem = 'strict';
  if (b.protectHome === 'no') b.protectHome = 'read-only';
  b.restrictSUIDSGID = true;
}
