// The start/stop transaction (src/manager/jobs/transaction.ts) on made-up units: what a start
// pulls in, in which order, how a cycle is broken, and what makes it impossible — systemd's
// rules (systemd.unit(5), src/core/transaction.c), checked without a running manager.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { dependenciesOf, type UnitDependencies } from '../src/manager/jobs/dependencies.js';
import { buildTransaction, TransactionError, type TransactionView } from '../src/manager/jobs/transaction.js';
import { emptyServiceConfig, emptySocketConfig } from '../src/unit/load-unit.js';
import { emptyTargetConfig } from '../src/unit/target-config.js';
import type { UnitSection } from '../src/unit/unit-section.js';

type Deps = Partial<
  Pick<
    UnitSection,
    | 'requires'
    | 'wants'
    | 'requisite'
    | 'bindsTo'
    | 'partOf'
    | 'conflicts'
    | 'after'
    | 'before'
    | 'upholds'
    | 'propagatesStopTo'
    | 'stopPropagatedFrom'
  >
>;

function service(name: string, deps: Deps = {}): UnitDependencies {
  const c = emptyServiceConfig(name);
  Object.assign(c.unit, deps);
  return dependenciesOf(c);
}

function view(units: UnitDependencies[], active: string[] = []): TransactionView {
  const byName = new Map(units.map((u) => [u.name, u]));
  return {
    lookup: (name) => byName.get(name) ?? { missing: 'not-found' },
    isActive: (name) => active.includes(name),
    isInactive: (name) => !active.includes(name),
    loaded: () => units,
  };
}

const order = (t: ReturnType<typeof buildTransaction>) => t.jobs.map((j) => `${j.unit}/${j.type}`);

describe('start transactions', () => {
  it('Requires= and Wants= pull in starts; After= orders them; active units need no job', () => {
    const t = buildTransaction(
      view(
        [
          service('a.service', {
            requires: ['b.service'],
            wants: ['c.service', 'd.service'],
            after: ['b.service', 'c.service'],
          }),
          service('b.service'),
          service('c.service'),
          service('d.service'),
        ],
        ['d.service'],
      ),
      'start',
      'a.service',
    );
    assert.deepEqual(order(t), ['b.service/start', 'c.service/start', 'a.service/start']);
    assert.deepEqual(t.jobs.find((j) => j.unit === 'a.service')?.waitsFor.sort(), ['b.service', 'c.service']);
    assert.equal(t.jobs.find((j) => j.unit === 'b.service')?.required, true, 'Requires= makes it required');
    assert.equal(t.jobs.find((j) => j.unit === 'c.service')?.required, false, 'Wants= does not');
  });

  it('Before= orders as the mirror of After=', () => {
    const t = buildTransaction(
      view([service('a.service', { wants: ['b.service'] }), service('b.service', { before: ['a.service'] })]),
      'start',
      'a.service',
    );
    assert.deepEqual(order(t), ['b.service/start', 'a.service/start']);
  });

  it('a missing Requires= unit makes the start impossible, naming the line; a missing Wants= one is a note', () => {
    assert.throws(
      () =>
        buildTransaction(view([service('a.service', { requires: ['gone.service'] })]), 'start', 'a.service'),
      (e: unknown) =>
        e instanceof TransactionError &&
        e.message === 'Unit gone.service not found (Requires= of a.service).' &&
        e.at?.unit === 'a.service' &&
        e.at.dependency === 'Requires',
    );
    const t = buildTransaction(
      view([service('a.service', { wants: ['gone.service'] })]),
      'start',
      'a.service',
    );
    assert.deepEqual(order(t), ['a.service/start']);
    assert.deepEqual(t.notes, ['a.service: Wants=gone.service ignored: unit not found.']);
  });

  it('Requisite= fails unless the unit is active already', () => {
    const units = [service('a.service', { requisite: ['b.service'] }), service('b.service')];
    assert.throws(
      () => buildTransaction(view(units), 'start', 'a.service'),
      /Requisite=b\.service, and b\.service is not active/,
    );
    assert.deepEqual(order(buildTransaction(view(units, ['b.service']), 'start', 'a.service')), [
      'a.service/start',
    ]);
  });

  it('Conflicts= stops the other unit, both ways; first only when ordered', () => {
    const units = [
      service('a.service', { conflicts: ['b.service'], after: ['b.service'] }),
      service('b.service'),
      service('c.service', { conflicts: ['a.service'] }),
    ];
    const t = buildTransaction(view(units, ['b.service', 'c.service']), 'start', 'a.service');
    assert.deepEqual(order(t).sort(), ['a.service/start', 'b.service/stop', 'c.service/stop']);
    // Conflicts= implies no ordering (systemd.unit(5)): only After=b.service makes a wait for b.
    assert.deepEqual(t.jobs.find((j) => j.unit === 'a.service')?.waitsFor, ['b.service']);
  });

  it('an ordering cycle is broken by dropping a job nothing requires, and said', () => {
    const units = [
      service('a.service', { wants: ['b.service'], after: ['b.service'] }),
      service('b.service', { after: ['a.service'] }),
    ];
    const t = buildTransaction(view(units), 'start', 'a.service');
    assert.deepEqual(order(t), ['a.service/start']);
    assert.match(t.notes[0] ?? '', /^Found ordering cycle .*; job b\.service\/start deleted to break it/);
  });

  it('a cycle of required jobs cannot be broken', () => {
    const units = [
      service('a.service', { requires: ['b.service'], after: ['b.service'] }),
      service('b.service', { after: ['a.service'] }),
    ];
    assert.throws(
      () => buildTransaction(view(units), 'start', 'a.service'),
      /Ordering cycle that cannot be broken/,
    );
  });

  it('a socket starts before its service; a target after what it wants (DefaultDependencies=)', () => {
    const socket = emptySocketConfig('web.socket');
    socket.triggers = 'web.service';
    const target = emptyTargetConfig('multi-user.target');
    target.unit.wants = ['web.socket', 'web.service', 'db.service'];
    const t = buildTransaction(
      view([dependenciesOf(target), dependenciesOf(socket), service('web.service'), service('db.service')]),
      'start',
      'multi-user.target',
    );
    const pos = (u: string) => order(t).indexOf(`${u}/start`);
    assert.ok(pos('web.socket') < pos('web.service'), order(t).join(' '));
    assert.ok(
      pos('web.socket') < pos('db.service'),
      'services start after sockets (basic.target after sockets.target)',
    );
    assert.equal(pos('multi-user.target'), 3, 'the target is reached last');
    const noDefaults = emptyTargetConfig('plain.target');
    noDefaults.unit.wants = ['db.service'];
    noDefaults.unit.defaultDependencies = false;
    assert.deepEqual(dependenciesOf(noDefaults).after, []);
  });
});

describe('stop transactions', () => {
  it('units that Require=, BindsTo= or are PartOf= the stopped one stop too, first', () => {
    const units = [
      service('db.service'),
      service('app.service', { requires: ['db.service'], after: ['db.service'] }),
      service('bound.service', { bindsTo: ['db.service'] }),
      service('part.service', { partOf: ['db.service'] }),
      service('wanting.service', { wants: ['db.service'] }),
    ];
    const active = units.map((u) => u.name);
    const t = buildTransaction(view(units, active), 'stop', 'db.service');
    assert.deepEqual(order(t).sort(), [
      'app.service/stop',
      'bound.service/stop',
      'db.service/stop',
      'part.service/stop',
    ]);
    assert.ok(
      order(t).indexOf('app.service/stop') < order(t).indexOf('db.service/stop'),
      'reverse of start order',
    );
  });

  it('PropagatesStopTo= and StopPropagatedFrom= stop the named units', () => {
    const units = [
      service('a.service', { propagatesStopTo: ['b.service'] }),
      service('b.service'),
      service('c.service', { stopPropagatedFrom: ['a.service'] }),
    ];
    const t = buildTransaction(view(units, ['a.service', 'b.service', 'c.service']), 'stop', 'a.service');
    assert.deepEqual(order(t).sort(), ['a.service/stop', 'b.service/stop', 'c.service/stop']);
  });
});
