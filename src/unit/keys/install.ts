// [Install] keys. sockunit has no `enable`; they are typed so verify checks the names and show
// prints them.

import type { InstallSection } from '../install-section.js';
import { type KeyDef, listRow, scalarRow, text } from './define.js';
import { parseUnitNames } from './unit.js';

type WithInstall = { install: InstallSection };
const install = (c: WithInstall): InstallSection => c.install;
const joined = (v: readonly string[]): string => v.join(' ');
const I = 'Install';

export const INSTALL_KEYS: readonly KeyDef<WithInstall>[] = [
  listRow(
    I,
    'WantedBy',
    install,
    'wantedBy',
    parseUnitNames,
    joined,
    'units that pull this one in with Wants= when enabled',
    {
      type: 'unit names',
      specifiers: 'unit-names',
    },
  ),
  listRow(
    I,
    'RequiredBy',
    install,
    'requiredBy',
    parseUnitNames,
    joined,
    'units that pull this one in with Requires= when enabled',
    {
      type: 'unit names',
      specifiers: 'unit-names',
    },
  ),
  listRow(
    I,
    'UpheldBy',
    install,
    'upheldBy',
    parseUnitNames,
    joined,
    'units that pull this one in with Upholds= when enabled',
    {
      type: 'unit names',
      specifiers: 'unit-names',
    },
  ),
  listRow(
    I,
    'Also',
    install,
    'also',
    parseUnitNames,
    joined,
    'units enabled and disabled together with this one',
    {
      type: 'unit names',
      specifiers: 'unit-names',
    },
  ),
  listRow(I, 'Alias', install, 'alias', parseUnitNames, joined, 'other names for this unit when enabled', {
    type: 'unit names',
    specifiers: 'unit-names',
  }),
  scalarRow(
    I,
    'DefaultInstance',
    install,
    'defaultInstance',
    text,
    'instance enabled for a template when none is given',
    {
      specifiers: 'unit-names',
    },
  ),
];
