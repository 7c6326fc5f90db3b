import assert from 'node:assert/strict';
import { existsSync, realpathSync } from 'node:fs';
import { it } from 'node:test';
import { formatDiagnostic } from '../src/unit/diagnostic.js';
import { listUnitNames, UnitPathIndex } from '../src/unit/load.js';
import { loadUnit } from '../src/unit/load-unit.js';

// The machine's own units: whatever systemd loads, sockunit must load without an error.
const DIRS = ['/etc/systemd/system', '/lib/systemd/system', '/usr/lib/systemd/system'];

it('loads every .socket and .service of this machine without an error', (t) => {
  const dirs = [...new Set(DIRS.filter((d) => existsSync(d)).map((d) => realpathSync(d)))];
  const index = new UnitPathIndex(dirs);
  const names = listUnitNames(index, ['socket', 'service']);
  if (names.length === 0) {
    t.skip(`no .socket or .service files in ${DIRS.join(', ')}`);
    return;
  }
  const errors: string[] = [];
  let sockets = 0;
  for (const name of names) {
    const u = loadUnit(name, { searchPath: index });
    if (name.endsWith('.socket')) sockets++;
    if (u.loadState === 'masked') continue;
    for (const d of u.diagnostics)
      if (d.severity === 'error') errors.push(`${name} (${u.loadState}): ${formatDiagnostic(d)}`);
  }
  t.diagnostic(`read ${names.length} units (${sockets} sockets) from ${dirs.join(', ')}`);
  console.log(`unit-real-units: read ${names.length} units (${sockets} sockets) from ${dirs.join(', ')}`);
  assert.deepEqual(errors, []);
});
