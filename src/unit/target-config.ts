// The typed .target unit (systemd.target(5)): a name that groups units and a point to order
// them against. It has only [Unit] and [Install]: nothing runs, it is active once reached.

import { defaultInstallSection, type InstallSection } from './install-section.js';
import type { KeyOrigins, NotEnforcedSetting } from './socket-config.js';
import { defaultUnitSection, type UnitSection } from './unit-section.js';

export interface TargetUnitConfig {
  type: 'target';
  name: string;
  unit: UnitSection;
  install: InstallSection;
  origins: KeyOrigins;
  notEnforced: NotEnforcedSetting[];
}

export function emptyTargetConfig(name: string): TargetUnitConfig {
  return {
    type: 'target',
    name,
    unit: defaultUnitSection(),
    install: defaultInstallSection(),
    origins: {},
    notEnforced: [],
  };
}
