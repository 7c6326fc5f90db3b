// `sockunit verify`'s transaction check, as `systemd-analyze verify` makes one: each unit's start
// transaction is built from the unit files alone (every unit inactive), so a required unit that
// does not exist and an ordering cycle that cannot be broken are errors at the line that asks for
// them, and a cycle broken by dropping a wanted unit is a warning — before any manager runs.

import type { Diagnostic } from '../../unit/diagnostic.js';
import type { UnitPathIndex } from '../../unit/load.js';
import { type LoadedUnit, loadUnit } from '../../unit/load-unit.js';
import { isTemplateName } from '../../unit/names.js';
import { dependenciesOf } from './dependencies.js';
import { buildTransaction, TransactionError, type TransactionView } from './transaction.js';

/** Diagnostics from building the start transaction of each of `units`. */
export function transactionDiagnostics(units: readonly LoadedUnit[], index: UnitPathIndex): Diagnostic[] {
  const cache = new Map<string, LoadedUnit>();
  for (const u of units) cache.set(u.name, u);
  const get = (name: string): LoadedUnit => {
    let u = cache.get(name);
    if (!u) {
      u = loadUnit(name, { searchPath: index });
      cache.set(name, u);
    }
    return u;
  };
  const view: TransactionView = {
    lookup(name) {
      const u = get(name);
      if (u.config && u.loadState === 'loaded') return dependenciesOf(u.config);
      const s = u.loadState;
      return { missing: s === 'not-found' || s === 'masked' || s === 'bad-setting' ? s : 'error' };
    },
    isActive: () => false,
    isInactive: () => true,
    // Whether a Requisite= unit is active is known only where the units run.
    checksRequisite: false,
    loaded: () =>
      [...cache.values()].flatMap((u) =>
        u.config && u.loadState === 'loaded' ? [dependenciesOf(u.config)] : [],
      ),
  };
  const out: Diagnostic[] = [];
  for (const u of units) {
    if (!u.config || u.loadState !== 'loaded' || isTemplateName(u.name)) continue;
    const file = u.fragmentPath ?? u.name;
    try {
      const t = buildTransaction(view, 'start', u.name);
      for (const note of t.notes) out.push({ severity: 'warning', file, line: 0, message: note });
    } catch (err) {
      if (!(err instanceof TransactionError)) throw err;
      const blamed = err.at && get(err.at.unit);
      const origin = blamed?.config?.origins[err.at?.dependency ?? ''];
      out.push({
        severity: 'error',
        file: origin?.file ?? blamed?.fragmentPath ?? file,
        line: origin?.line ?? 0,
        ...(origin && err.at ? { key: err.at.dependency, value: origin.value } : {}),
        message: `${u.name} cannot start: ${err.message}`,
      });
    }
  }
  return out;
}
