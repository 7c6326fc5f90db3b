// [Service] keys (socket-units.md §6): everything activation needs is typed; the rest of
// systemd's [Service] keys are recognised and reported as not enforced.

import {
  type ExitStatusSet,
  formatExitStatusSet,
  parseExitStatusItems,
  RESTART_POLICIES,
  SERVICE_TYPES,
  type ServiceSection,
  type ServiceUnitConfig,
} from '../service-config.js';
import { ValueError } from '../values.js';
import {
  absolutePath,
  bool,
  type KeyDef,
  listRow,
  notEnforcedRow,
  oneOf,
  scalarRow,
  signal,
  timespan,
  timespanZeroIsInfinity,
  unsigned,
} from './define.js';
import { execContextKeys, execRow } from './exec.js';
import { notEnforcedExecKeys } from './not-enforced.js';
import { sandboxKeys } from './sandbox.js';
import { parseUnitNames } from './unit.js';

const service = (c: ServiceUnitConfig): ServiceSection => c.service;
const S = 'Service';

function exitStatusRow(
  name: string,
  field: 'successExitStatus' | 'restartPreventExitStatus' | 'restartForceExitStatus',
  doc: string,
): KeyDef<ServiceUnitConfig> {
  return {
    section: S,
    name,
    doc,
    type: 'exit statuses and signals',
    default: '',
    repetition: 'list',
    specifiers: 'none',
    enforcement: { enforced: true },
    apply: (c, value) => {
      if (value === '') {
        c.service[field] = { statuses: [], signals: [] };
        return;
      }
      const add = parseExitStatusItems(value);
      const set: ExitStatusSet = c.service[field];
      set.statuses.push(...add.statuses);
      set.signals.push(...add.signals);
    },
    show: (c) => formatExitStatusSet(c.service[field]),
  };
}

const socketNames = (value: string, ctx: Parameters<typeof parseUnitNames>[1]): string[] => {
  const names = parseUnitNames(value, ctx);
  for (const n of names) {
    if (!n.endsWith('.socket')) throw new ValueError(`'${n}' is not a socket unit; expected NAME.socket`);
  }
  return names;
};

const NOT_IMPLEMENTED = 'not implemented by sockunit’s supervisor';

export const SERVICE_KEYS: readonly KeyDef<ServiceUnitConfig>[] = [
  scalarRow(S, 'Type', service, 'type', oneOf(SERVICE_TYPES), 'when the service counts as started', {
    default: 'simple with ExecStart=, else oneshot',
  }),
  scalarRow(
    S,
    'Restart',
    service,
    'restart',
    oneOf(RESTART_POLICIES),
    'when the service is started again after it ends',
    {
      default: 'no',
    },
  ),
  scalarRow(S, 'RestartSec', service, 'restartUsec', timespan, 'delay before a restart', {
    default: '100ms',
  }),
  {
    section: S,
    name: 'TimeoutSec',
    doc: 'sets TimeoutStartSec= and TimeoutStopSec= (0 = none)',
    type: 'time span (0 = infinity)',
    default: '1min 30s',
    repetition: 'scalar',
    specifiers: 'none',
    enforcement: { enforced: true },
    apply: (c, value) => {
      const v = timespanZeroIsInfinity.parse(value);
      c.service.timeoutStartUsec = v;
      c.service.timeoutStopUsec = v;
    },
  },
  scalarRow(
    S,
    'TimeoutStartSec',
    service,
    'timeoutStartUsec',
    timespanZeroIsInfinity,
    'time limit for start-up (0 = none)',
    {
      default: '1min 30s (infinity for oneshot)',
    },
  ),
  scalarRow(
    S,
    'TimeoutStopSec',
    service,
    'timeoutStopUsec',
    timespanZeroIsInfinity,
    'time limit for each stop step (0 = none)',
    {
      default: '1min 30s',
    },
  ),
  scalarRow(
    S,
    'TimeoutAbortSec',
    service,
    'timeoutAbortUsec',
    timespanZeroIsInfinity,
    'time limit after a watchdog abort',
    {
      default: 'TimeoutStopSec=',
    },
  ),
  scalarRow(S, 'RuntimeMaxSec', service, 'runtimeMaxUsec', timespan, 'stop the service after this long', {
    default: 'infinity',
  }),
  scalarRow(
    S,
    'WatchdogSec',
    service,
    'watchdogUsec',
    timespan,
    'WATCHDOG=1 must arrive this often (0 = off)',
    { default: '0' },
  ),
  execRow(S, 'ExecCondition', service, 'execCondition', 'commands whose failure skips the start'),
  execRow(S, 'ExecStartPre', service, 'execStartPre', 'commands run before ExecStart='),
  execRow(S, 'ExecStart', service, 'execStart', 'the main command (one, unless Type=oneshot)'),
  execRow(S, 'ExecStartPost', service, 'execStartPost', 'commands run after the service started'),
  execRow(S, 'ExecReload', service, 'execReload', 'commands that make the service reload'),
  execRow(S, 'ExecStop', service, 'execStop', 'commands that stop the service'),
  execRow(S, 'ExecStopPost', service, 'execStopPost', 'commands run after the service stopped'),
  scalarRow(S, 'RemainAfterExit', service, 'remainAfterExit', bool, 'stay active after the processes exit', {
    default: 'no',
  }),
  scalarRow(S, 'PIDFile', service, 'pidFile', absolutePath, 'main PID file of a forking service', {
    specifiers: 'all',
  }),
  notEnforcedRow(
    S,
    'BusName',
    'sockunit has no D-Bus connection: a Type=dbus service counts as started once its process runs, as Type=simple does, not when the name appears on the bus',
  ),
  listRow(
    S,
    'Sockets',
    service,
    'sockets',
    socketNames,
    (v) => v.join(' '),
    'socket units whose fds this service receives',
    {
      type: 'socket unit names',
      specifiers: 'unit-names',
      reset: false,
    },
  ),
  scalarRow(S, 'NonBlocking', service, 'nonBlocking', bool, 'pass socket fds with O_NONBLOCK set', {
    default: 'no',
  }),
  scalarRow(
    S,
    'FileDescriptorStoreMax',
    service,
    'fileDescriptorStoreMax',
    unsigned,
    'fds the service may keep in the manager (0 = off)',
    {
      default: '0',
    },
  ),
  scalarRow(
    S,
    'FileDescriptorStorePreserve',
    service,
    'fileDescriptorStorePreserve',
    oneOf(['no', 'restart', 'yes']),
    'when stored fds are released',
    {
      default: 'restart',
    },
  ),
  scalarRow(
    S,
    'NotifyAccess',
    service,
    'notifyAccess',
    oneOf(['none', 'main', 'exec', 'all']),
    'who may send sd_notify messages',
    {
      default: 'none (main for notify types, WatchdogSec= or an fd store)',
    },
  ),
  scalarRow(S, 'ReloadSignal', service, 'reloadSignal', signal, 'signal for reload (Type=notify-reload)', {
    default: 'SIGHUP',
  }),
  exitStatusRow(
    'SuccessExitStatus',
    'successExitStatus',
    'extra exit statuses and signals that count as success',
  ),
  exitStatusRow(
    'RestartPreventExitStatus',
    'restartPreventExitStatus',
    'exit statuses and signals that never restart',
  ),
  exitStatusRow(
    'RestartForceExitStatus',
    'restartForceExitStatus',
    'exit statuses and signals that always restart',
  ),
  {
    section: S,
    name: 'StartLimitInterval',
    doc: 'old place of [Unit] StartLimitIntervalSec=',
    type: 'time span',
    default: '10s',
    repetition: 'scalar',
    specifiers: 'none',
    aliasOf: 'StartLimitIntervalSec',
    enforcement: { enforced: true },
    apply: (c, value) => {
      c.unit.startLimitIntervalUsec = timespan.parse(value);
    },
  },
  {
    section: S,
    name: 'StartLimitBurst',
    doc: 'old place of [Unit] StartLimitBurst=',
    type: 'unsigned integer',
    default: '5',
    repetition: 'scalar',
    specifiers: 'none',
    aliasOf: 'StartLimitBurst',
    enforcement: { enforced: true },
    apply: (c, value) => {
      c.unit.startLimitBurst = unsigned.parse(value);
    },
  },
  ...[
    'ExitType',
    'RestartMode',
    'RestartSteps',
    'RestartMaxDelaySec',
    'TimeoutStartFailureMode',
    'TimeoutStopFailureMode',
    'RuntimeRandomizedExtraSec',
    'PermissionsStartOnly',
    'RootDirectoryStartOnly',
    'GuessMainPID',
    'SysVStartPriority',
    'BusPolicy',
    'USBFunctionDescriptors',
    'USBFunctionStrings',
    'OOMPolicy',
    'OpenFile',
    'StartLimitAction',
    'FailureAction',
    'RebootArgument',
  ].map((k) => notEnforcedRow<ServiceUnitConfig>(S, k, NOT_IMPLEMENTED)),
  ...execContextKeys(S),
  ...sandboxKeys(S),
  ...notEnforcedExecKeys<ServiceUnitConfig>(S),
];
