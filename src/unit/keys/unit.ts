// [Unit] keys. Dependencies, ordering and conditions are typed and acted on by the manager's
// jobs room; the rest of systemd's [Unit] keys are recognised and reported as not enforced.

import {
  type Condition,
  type ConditionKind,
  EVALUATED_CONDITIONS,
  formatCondition,
  parseCondition,
  UNEVALUATED_CONDITIONS,
} from '../conditions.js';
import { isValidUnitName } from '../names.js';
import type { UnitSection } from '../unit-section.js';
import { ValueError } from '../values.js';
import {
  type ApplyContext,
  bool,
  type KeyDef,
  listRow,
  notEnforcedRow,
  scalarRow,
  splitBlank,
  text,
  timespan,
  unsigned,
} from './define.js';

type WithUnit = { unit: UnitSection };
const unit = (c: WithUnit): UnitSection => c.unit;

/** Unit names separated by blanks; an invalid one is dropped with a warning (systemd's way). */
export function parseUnitNames(value: string, ctx: ApplyContext): string[] {
  const names: string[] = [];
  for (const word of splitBlank(value)) {
    if (isValidUnitName(word)) names.push(word);
    else ctx.warn(`'${word}' is not a valid unit name, ignoring it; expected a name like foo.service`);
  }
  return names;
}

const joined = (items: readonly string[]): string => items.join(' ');

function dependency(
  name: string,
  field: keyof UnitSection & string,
  doc: string,
  aliasOf?: string,
): KeyDef<WithUnit> {
  return listRow<WithUnit, UnitSection, typeof field>(
    'Unit',
    name,
    unit,
    field,
    parseUnitNames,
    (v) => joined(v as string[]),
    doc,
    { type: 'unit names', specifiers: 'unit-names', ...(aliasOf ? { aliasOf } : {}) },
  );
}

type UnitFlag = 'stopWhenUnneeded' | 'defaultDependencies' | 'refuseManualStart' | 'refuseManualStop';

function flag(name: string, field: UnitFlag, doc: string, byDefault: boolean): KeyDef<WithUnit> {
  return scalarRow<WithUnit, UnitSection, UnitFlag>('Unit', name, unit, field, bool, doc, {
    default: byDefault ? 'yes' : 'no',
  });
}

function conditionRow(kind: ConditionKind, list: 'conditions' | 'asserts'): KeyDef<WithUnit> {
  const name = `${list === 'conditions' ? 'Condition' : 'Assert'}${kind}`;
  return {
    section: 'Unit',
    name,
    doc:
      list === 'conditions'
        ? `skip starting the unit unless ${kind} holds`
        : `fail starting the unit unless ${kind} holds`,
    type: '[|][!]argument',
    default: '',
    repetition: 'list',
    specifiers: 'all',
    enforcement: { enforced: true },
    apply: (c, value) => {
      // As systemd: an empty Condition*=/Assert*= clears every condition of that list.
      if (value === '') {
        c.unit[list] = [];
        return;
      }
      c.unit[list].push(parseCondition(kind, value));
    },
    show: (c) => c.unit[list].filter((x: Condition) => x.kind === kind).map(formatCondition),
  };
}

const NOT_A_SERVICE_MANAGER = 'sockunit has no job modes, isolation, job timeouts or system actions';

export const UNIT_KEYS: readonly KeyDef<WithUnit>[] = [
  scalarRow('Unit', 'Description', unit, 'description', text, 'a human-readable name for the unit', {
    specifiers: 'all',
  }),
  listRow<WithUnit, UnitSection, 'documentation'>(
    'Unit',
    'Documentation',
    unit,
    'documentation',
    (value) => {
      const uris = splitBlank(value);
      for (const u of uris) {
        if (!/^(https?|file|info|man):/.test(u)) {
          throw new ValueError(
            `'${u}' is not a documentation URI; expected http:, https:, file:, info: or man:`,
          );
        }
      }
      return uris;
    },
    joined,
    'URIs of documentation for the unit',
    { type: 'URIs', specifiers: 'all' },
  ),
  dependency('Requires', 'requires', 'units started with this one; if one fails to start, this one fails'),
  dependency('Requisite', 'requisite', 'units that must already be active'),
  dependency('Wants', 'wants', 'units started with this one; their failure is ignored'),
  dependency('BindsTo', 'bindsTo', 'like Requires=, and stop when they stop'),
  dependency('BindTo', 'bindsTo', 'old name of BindsTo=', 'BindsTo'),
  dependency('PartOf', 'partOf', 'stop and restart with these units'),
  dependency('Upholds', 'upholds', 'units started again whenever they are inactive while this one is active'),
  dependency('Conflicts', 'conflicts', 'units stopped when this one starts, and vice versa'),
  dependency('Before', 'before', 'this unit starts before these'),
  dependency('After', 'after', 'this unit starts after these'),
  dependency(
    'JoinsNamespaceOf',
    'joinsNamespaceOf',
    'share the private /tmp and network/IPC namespaces of these units while they run',
  ),
  dependency('OnFailure', 'onFailure', 'units started when this one fails'),
  dependency('OnSuccess', 'onSuccess', 'units started when this one ends successfully'),
  dependency('PropagatesReloadTo', 'propagatesReloadTo', 'units reloaded when this one is'),
  dependency(
    'PropagateReloadTo',
    'propagatesReloadTo',
    'old name of PropagatesReloadTo=',
    'PropagatesReloadTo',
  ),
  dependency('ReloadPropagatedFrom', 'reloadPropagatedFrom', 'this unit is reloaded when these are'),
  dependency(
    'PropagateReloadFrom',
    'reloadPropagatedFrom',
    'old name of ReloadPropagatedFrom=',
    'ReloadPropagatedFrom',
  ),
  dependency('PropagatesStopTo', 'propagatesStopTo', 'units stopped when this one stops'),
  dependency('StopPropagatedFrom', 'stopPropagatedFrom', 'this unit is stopped when these stop'),
  flag('StopWhenUnneeded', 'stopWhenUnneeded', 'stop the unit when no active unit needs it', false),
  flag(
    'DefaultDependencies',
    'defaultDependencies',
    "add the unit type's implicit dependencies (a socket is ordered before its service)",
    true,
  ),
  flag('RefuseManualStart', 'refuseManualStart', 'only dependencies may start the unit', false),
  flag('RefuseManualStop', 'refuseManualStop', 'only dependencies may stop the unit', false),
  scalarRow(
    'Unit',
    'StartLimitIntervalSec',
    unit,
    'startLimitIntervalUsec',
    timespan,
    'window of the start rate limit (0 disables)',
    {
      default: '10s',
    },
  ),
  scalarRow(
    'Unit',
    'StartLimitInterval',
    unit,
    'startLimitIntervalUsec',
    timespan,
    'old name of StartLimitIntervalSec=',
    {
      default: '10s',
      aliasOf: 'StartLimitIntervalSec',
    },
  ),
  scalarRow(
    'Unit',
    'StartLimitBurst',
    unit,
    'startLimitBurst',
    unsigned,
    'starts allowed within the window (0 disables)',
    {
      default: '5',
    },
  ),
  ...EVALUATED_CONDITIONS.map((k) => conditionRow(k, 'conditions')),
  ...EVALUATED_CONDITIONS.map((k) => conditionRow(k, 'asserts')),
  ...[
    'SourcePath',
    'RequiresMountsFor',
    'WantsMountsFor',
    'AllowIsolate',
    'SurviveFinalKillSignal',
    'OnSuccessJobMode',
    'OnFailureJobMode',
    'OnFailureIsolate',
    'IgnoreOnIsolate',
    'JobTimeoutSec',
    'JobRunningTimeoutSec',
    'JobTimeoutAction',
    'JobTimeoutRebootArgument',
    'StartLimitAction',
    'FailureAction',
    'SuccessAction',
    'FailureActionExitStatus',
    'SuccessActionExitStatus',
    'RebootArgument',
    'CollectMode',
  ].map((k) => notEnforcedRow<WithUnit>('Unit', k, NOT_A_SERVICE_MANAGER)),
  ...Object.entries(UNEVALUATED_CONDITIONS).flatMap(([k, reason]) => [
    notEnforcedRow<WithUnit>('Unit', `Condition${k}`, `not evaluated: ${reason} (it counts as met)`),
    notEnforcedRow<WithUnit>('Unit', `Assert${k}`, `not evaluated: ${reason} (it counts as met)`),
  ]),
];
