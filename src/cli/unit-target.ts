// How `cat` and `show` find a unit: by name on the search path (`--unit-path` replaces it,
// `--user` picks the user manager's), or by path (its directory searched first).

import { basename, dirname, resolve } from 'node:path';
import { defaultSearchPath } from '../unit/load.js';
import type { ManagerKind } from '../unit/specifiers.js';

export interface UnitTarget {
  name: string;
  searchPath: string[];
}

export function unitTarget(arg: string, unitPath: readonly string[], manager: ManagerKind): UnitTarget {
  const base = unitPath.length > 0 ? [...unitPath] : defaultSearchPath(manager);
  if (!arg.includes('/')) return { name: arg, searchPath: base };
  const full = resolve(arg);
  return { name: basename(full), searchPath: [dirname(full), ...base] };
}
