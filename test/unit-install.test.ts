// enable/disable/is-enabled planned and carried out in-process (src/unit/install.ts), against
// systemctl itself: the same unit files in two roots, `systemctl --root=A` in one and sockunit's
// planEnable/planDisable/applyInstallChanges/enablementState in the other, and the links (path,
// target), the directories left and the answers must be the same. systemctl 252 has no
// UpheldBy=, so these files do not use it (manager-jobs.test.ts covers it through the CLI).

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import {
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readlinkSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { after, describe, it } from 'node:test';
import {
  applyInstallChanges,
  enablementState,
  InstallError,
  planDisable,
  planEnable,
} from '../src/unit/install.js';

const top = mkdtempSync(join(tmpdir(), 'sockunit-install-'));
after(() => rmSync(top, { recursive: true, force: true }));

const UNIT_DIR = 'etc/systemd/system';
const unit = (install: string) => `[Service]\nExecStart=/bin/true\n[Install]\n${install}\n`;
const FILES: Record<string, string> = {
  'main.service': unit(
    'WantedBy=multi-user.target\nRequiredBy=b.target\nAlias=other.service\nAlso=helper.service',
  ),
  'helper.service': unit('WantedBy=x.target\nWantedBy=y.target\nAlso=main.service'),
  'also-only.service': unit('Also=helper.service'),
  'getty@.service': unit('WantedBy=getty.target\nDefaultInstance=tty1'),
  'web@.service': unit('WantedBy=multi-user.target'),
  'static.service': '[Service]\nExecStart=/bin/true\n',
};

let roots = 0;
/** A root with the unit files, and /dev/null as masked.service. */
function newRoot(): string {
  const root = join(top, `root${roots++}`);
  const dir = join(root, UNIT_DIR);
  mkdirSync(dir, { recursive: true });
  for (const [name, text] of Object.entries(FILES)) writeFileSync(join(dir, name), text);
  symlinkSync('/dev/null', join(dir, 'masked.service'));
  return root;
}

/** Every symlink under the root's unit directory (relative), with its target made root-relative,
 * and every directory. */
function tree(root: string): { links: string[]; dirs: string[] } {
  const links: string[] = [];
  const dirs: string[] = [];
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isSymbolicLink()) {
        const t = readlinkSync(p);
        links.push(`${relative(root, p)} -> ${t.startsWith(root) ? t.slice(root.length) : t}`);
      } else if (e.isDirectory()) {
        dirs.push(relative(root, p));
        walk(p);
      }
    }
  };
  walk(join(root, UNIT_DIR));
  return { links: links.sort(), dirs: dirs.sort() };
}

const systemctl = (root: string, ...args: string[]) =>
  spawnSync('systemctl', [`--root=${root}`, '--no-pager', ...args], { encoding: 'utf8' });

function ours(root: string, verb: 'enable' | 'disable', units: string[]): void {
  const dir = join(root, UNIT_DIR);
  applyInstallChanges((verb === 'enable' ? planEnable : planDisable)(units, dir, [dir]));
}

const haveSystemctl = spawnSync('/bin/sh', ['-c', 'command -v systemctl'], { encoding: 'utf8' }).status === 0;
const needSystemctl = (t: { skip(m: string): void }): boolean => {
  if (haveSystemctl) return true;
  if (process.env.CI) assert.fail('systemctl (Debian systemd) is missing — .ci/run installs systemd');
  t.skip('systemctl (Debian package systemd) is not installed: nothing to compare with');
  return false;
};

describe('enable and disable make and remove the links systemctl --root does', () => {
  const cases: [string, [verb: 'enable' | 'disable', units: string[]][]][] = [
    ['WantedBy=, RequiredBy=, Alias= and Also= (each way round)', [['enable', ['main.service']]]],
    ['Also= alone enables the units it names', [['enable', ['also-only.service']]]],
    ['a template as its DefaultInstance=', [['enable', ['getty@.service']]]],
    ['a named instance of a template', [['enable', ['web@a.service', 'getty@tty2.service']]]],
    [
      'enable twice changes nothing',
      [
        ['enable', ['main.service']],
        ['enable', ['main.service']],
      ],
    ],
    [
      'disable removes every link, Also= units too, and the emptied .wants/ directories',
      [
        ['enable', ['main.service', 'getty@.service']],
        ['disable', ['main.service']],
      ],
    ],
    [
      'disabling a template removes every instance',
      [
        ['enable', ['web@a.service', 'web@b.service', 'getty@.service']],
        ['disable', ['web@.service']],
      ],
    ],
    [
      'disabling one instance leaves the others',
      [
        ['enable', ['web@a.service', 'web@b.service']],
        ['disable', ['web@a.service']],
      ],
    ],
  ];
  for (const [title, steps] of cases)
    it(title, (t) => {
      if (!needSystemctl(t)) return;
      const theirs = newRoot();
      const mine = newRoot();
      for (const [verb, units] of steps) {
        const r = systemctl(theirs, verb, ...units);
        assert.equal(r.status, 0, r.stderr);
        ours(mine, verb, units);
      }
      const want = tree(theirs);
      const got = tree(mine);
      assert.deepEqual(got.links, want.links);
      assert.deepEqual(got.dirs, want.dirs);
    });

  it('a plan to enable what is already enabled is empty; disabling nothing enabled is empty', () => {
    const root = newRoot();
    const dir = join(root, UNIT_DIR);
    assert.ok(planEnable(['main.service'], dir, [dir]).length > 0);
    ours(root, 'enable', ['main.service']);
    assert.deepEqual(planEnable(['main.service'], dir, [dir]), []);
    assert.deepEqual(planDisable(['static.service', 'web@.service'], dir, [dir]), []);
  });
});

describe('what cannot be enabled is refused, as systemctl refuses it', () => {
  const refused: [string, RegExp][] = [
    [
      'static.service',
      /^The unit static\.service has no installation config \(WantedBy=, RequiredBy=, UpheldBy=, Also=, Alias= in \[Install\]\); it is not meant to be enabled\.$/,
    ],
    [
      'web@.service',
      /^Unit web@\.service is a template; name an instance \(e\.g\. web@NAME\.service\) or give it DefaultInstance=\.$/,
    ],
    ['masked.service', /^Unit masked\.service is masked; unmask it first\.$/],
    [
      'nowhere.service',
      /^Unit nowhere\.service not found; expected it in one of: .*\/etc\/systemd\/system\.$/,
    ],
  ];
  for (const [name, message] of refused)
    it(name, (t) => {
      const root = newRoot();
      const dir = join(root, UNIT_DIR);
      assert.throws(
        () => planEnable([name], dir, [dir]),
        (e) => e instanceof InstallError && message.test(e.message),
      );
      if (haveSystemctl || process.env.CI) {
        const r = systemctl(root, 'enable', name);
        if (name === 'static.service') assert.match(r.stderr, /no installation config/);
        else assert.notEqual(r.status, 0, r.stderr);
        assert.deepEqual(tree(root).links, ['etc/systemd/system/masked.service -> /dev/null']);
      } else t.diagnostic('systemctl is not installed: its refusal is not compared');
    });
  it('disabling a unit that is nowhere', () => {
    const root = newRoot();
    const dir = join(root, UNIT_DIR);
    assert.throws(
      () => planDisable(['nowhere.service'], dir, [dir]),
      (e) => e instanceof InstallError && e.message === 'Unit nowhere.service not found.',
    );
  });
});

describe("is-enabled answers as systemctl's", () => {
  it('enabled, disabled, static, indirect, alias, masked, not-found, and a template by its instance', (t) => {
    if (!needSystemctl(t)) return;
    const root = newRoot();
    const dir = join(root, UNIT_DIR);
    const names = [
      'main.service',
      'helper.service',
      'also-only.service',
      'static.service',
      'getty@.service',
      'getty@tty1.service',
      'web@a.service',
      'masked.service',
      'nowhere.service',
    ];
    const compare = (when: string) => {
      const want = names.map((n) => {
        const r = systemctl(root, 'is-enabled', n);
        // systemctl says not-found as an error: "Failed to get unit file state … No such file".
        return r.stdout.trim() || (/No such file or directory/.test(r.stderr) ? 'not-found' : r.stderr);
      });
      assert.deepEqual(
        names.map((n) => enablementState(n, [dir])),
        want,
        when,
      );
    };
    compare('nothing enabled');
    ours(root, 'enable', ['main.service', 'getty@.service']);
    compare('main, helper and getty@tty1 enabled');
    assert.equal(enablementState('other.service', [dir]), 'alias');
  });
});
