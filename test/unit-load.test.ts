import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { formatDiagnostic } from '../src/unit/diagnostic.js';
import {
  defaultSearchPath,
  dropInDirectoryNames,
  findUnit,
  listUnitFiles,
  listUnitNames,
  readUnitFiles,
  resolveSearchPath,
  UnitPathIndex,
} from '../src/unit/load.js';
import { ValueError } from '../src/unit/values.js';

let root = '';
let high = '';
let low = '';
let outside = '';
let path: string[] = [];

/** Writes `files` (relative path -> content, or `-> target` for a symlink) under `dir`. */
function build(dir: string, files: Record<string, string>): void {
  for (const [rel, content] of Object.entries(files)) {
    const p = join(dir, rel);
    mkdirSync(dirname(p), { recursive: true });
    if (content.startsWith('-> ')) symlinkSync(content.slice(3), p);
    else writeFileSync(p, content);
  }
}

const unit = (section: string, body: string): string => `[${section}]\n${body}\n`;

before(() => {
  root = mkdtempSync(join(tmpdir(), 'sockunit-load-'));
  high = join(root, 'etc');
  low = join(root, 'lib');
  outside = join(root, 'elsewhere');
  path = [high, low];
  build(high, {
    'web.socket': unit('Socket', 'ListenStream=80'),
    'masked.socket': '-> /dev/null',
    'empty.socket': '',
    'echo@.service': unit('Service', 'ExecStart=/bin/cat # high template'),
    'alias.socket': '-> real.socket',
    'tmpl-alias@.socket': '-> tmpl-real@.socket',
    'tmpl-real@.socket': unit('Socket', 'ListenStream=%i'),
    'real.socket': unit('Socket', 'ListenStream=81'),
    'linked.socket': `-> ${join(root, 'elsewhere', 'other-name.socket')}`,
    'dangling.socket': '-> nowhere.socket',
    'web.socket.d/10-port.conf': unit('Socket', 'ListenStream=8080'),
    'web.socket.d/30-masked.conf': '-> /dev/null',
    'web.socket.d/.hidden.conf': unit('Socket', 'Hidden=1'),
    'web.socket.d/40-off.conf.ignore': unit('Socket', 'Ignored=1'),
    'web.socket.d/notes.txt': 'not a drop-in',
    'socket.d/50-all.conf': unit('Socket', 'Backlog=64'),
    'alias.socket.d/10-alias.conf': unit('Socket', 'FromAlias=1'),
    'real.socket.d/20-real.conf': unit('Socket', 'FromReal=1'),
    'foo-bar@x.socket': unit('Socket', 'ListenStream=90'),
    'foo-@x.socket.d/40-dash-instance.conf': unit('Socket', 'DashInstance=1'),
    'foo-@x.socket.d/45-order.conf': unit('Socket', 'Order=instance-dash'),
    'foo-@.socket.d/45-order.conf': unit('Socket', 'Order=template-dash # wins: searched before foo-@x'),
    'bad.socket': unit('Socket', 'ListenStream=1'),
    'bad.socket.d/10-broken.conf': '[Socket\nX=1\n',
    'noise.socket.d/x.conf': unit('Socket', 'X=1'),
  });
  build(low, {
    'web.socket': unit('Socket', 'ListenStream=1 # low, shadowed'),
    'masked.socket': unit('Socket', 'ListenStream=2'),
    'echo@.service': unit('Service', 'ExecStart=/bin/cat # low template'),
    'echo@special.service': unit('Service', 'ExecStart=/bin/special'),
    'dangling.socket': unit('Socket', 'ListenStream=3'),
    'only-low.service': unit('Service', 'ExecStart=/bin/true'),
    'web.socket.d/10-port.conf': unit('Socket', 'ListenStream=1 # shadowed by the high dir'),
    'web.socket.d/05-first.conf': unit('Socket', 'Backlog=5'),
    'web.socket.d/30-masked.conf': unit('Socket', 'Masked=1'),
    'masked.socket.d/10.conf': unit('Socket', 'X=1'),
    'socket.d/50-all.conf': unit('Socket', 'Backlog=1 # shadowed'),
    'socket.d/60-low-all.conf': unit('Socket', 'LowAll=1'),
    'foo-bar@x.socket.d/10-exact.conf': unit('Socket', 'Exact=1'),
    'foo-bar@.socket.d/20-template.conf': unit('Socket', 'Template=1'),
    'foo-@.socket.d/30-dash.conf': unit('Socket', 'Dash=1'),
    'foo-@.socket.d/10-exact.conf': unit('Socket', 'Exact=0 # shadowed by the more specific dir'),
    'subdir.socket/keep': 'a directory named like a unit',
  });
  build(outside, { 'other-name.socket': unit('Socket', 'ListenStream=99') });
});

after(() => {
  rmSync(root, { recursive: true, force: true });
});

const rel = (p: string): string => p.slice(root.length + 1);

describe('findUnit', () => {
  it('takes the file from the earliest directory', () => {
    const u = findUnit('web.socket', path);
    assert.equal(u.fragmentPath, join(high, 'web.socket'));
    assert.equal(u.masked, false);
    assert.equal(u.id, 'web.socket');
  });

  it('applies drop-ins by base name: first directory wins, lexical order, /dev/null masks, *.conf only', () => {
    assert.deepEqual(findUnit('web.socket', path).dropIns.map(rel), [
      'lib/web.socket.d/05-first.conf',
      'etc/web.socket.d/10-port.conf',
      'etc/socket.d/50-all.conf',
      'lib/socket.d/60-low-all.conf',
    ]);
  });

  it('treats a link to /dev/null as masked, reading no drop-ins', () => {
    const u = findUnit('masked.socket', path);
    assert.equal(u.masked, true);
    assert.equal(u.maskedBy, join(high, 'masked.socket'));
    assert.equal(u.fragmentPath, undefined);
    assert.deepEqual(u.dropIns, []);
  });

  it('treats an empty file as masked', () => {
    const u = findUnit('empty.socket', path);
    assert.equal(u.masked, true);
    assert.equal(u.maskedBy, join(high, 'empty.socket'));
  });

  it('falls back to the template for an instance, highest directory first', () => {
    const u = findUnit('echo@42.service', path);
    assert.equal(u.fragmentPath, join(high, 'echo@.service'));
    assert.equal(u.id, 'echo@42.service');
  });

  it('prefers an exact instance file in any directory over the template', () => {
    assert.equal(findUnit('echo@special.service', path).fragmentPath, join(low, 'echo@special.service'));
  });

  it('searches instance, template and dash-prefix drop-in directories in systemd’s order', () => {
    // systemd's order (unit_file_expand_dropin_names): the template and its dash prefixes come
    // before the instance's dash prefixes.
    assert.deepEqual(dropInDirectoryNames('foo-bar@x.socket'), [
      'foo-bar@x.socket.d',
      'foo-bar@.socket.d',
      'foo-@.socket.d',
      'foo-@x.socket.d',
    ]);
    assert.deepEqual(dropInDirectoryNames('a-b-c.service'), [
      'a-b-c.service.d',
      'a-b-.service.d',
      'a-.service.d',
    ]);
    assert.deepEqual(dropInDirectoryNames('-lead.socket'), ['-lead.socket.d']);
    assert.deepEqual(dropInDirectoryNames('a-@.socket'), ['a-@.socket.d']);
    assert.deepEqual(findUnit('foo-bar@x.socket', path).dropIns.map(rel), [
      'lib/foo-bar@x.socket.d/10-exact.conf',
      'lib/foo-bar@.socket.d/20-template.conf',
      'lib/foo-@.socket.d/30-dash.conf',
      'etc/foo-@x.socket.d/40-dash-instance.conf',
      'etc/foo-@.socket.d/45-order.conf',
      'etc/socket.d/50-all.conf',
      'lib/socket.d/60-low-all.conf',
    ]);
  });

  it('resolves an alias (a link to another unit of the path) and reads the drop-ins of both names', () => {
    const u = findUnit('alias.socket', path);
    assert.equal(u.id, 'real.socket');
    assert.deepEqual(u.aliases, ['alias.socket']);
    assert.equal(u.fragmentPath, join(high, 'real.socket'));
    assert.deepEqual(u.dropIns.map(rel), [
      'etc/alias.socket.d/10-alias.conf',
      'etc/real.socket.d/20-real.conf',
      'etc/socket.d/50-all.conf',
      'lib/socket.d/60-low-all.conf',
    ]);
  });

  it('keeps the instance when an instance is reached through a template alias', () => {
    const u = findUnit('tmpl-alias@7.socket', path);
    assert.equal(u.id, 'tmpl-real@7.socket');
    assert.deepEqual(u.aliases, ['tmpl-alias@7.socket']);
    assert.equal(u.fragmentPath, join(high, 'tmpl-real@.socket'));
  });

  it('follows a link that leaves the search path without renaming the unit', () => {
    const u = findUnit('linked.socket', path);
    assert.equal(u.id, 'linked.socket');
    assert.equal(u.fragmentPath, join(high, 'linked.socket'));
  });

  it('skips a dangling link with a warning and uses the next directory', () => {
    const u = findUnit('dangling.socket', path);
    assert.equal(u.fragmentPath, join(low, 'dangling.socket'));
    assert.deepEqual(u.diagnostics.map(formatDiagnostic), [
      `${join(high, 'dangling.socket')}: unit file is a link to a file that does not exist, ignoring it; expected a link to a unit file or /dev/null`,
    ]);
  });

  it('reports not found with the drop-ins that exist', () => {
    const u = findUnit('noise.socket', path);
    assert.equal(u.fragmentPath, undefined);
    assert.equal(u.masked, false);
    // Lexical order of base names, whatever the directory: x.conf sorts after 60-low-all.conf.
    assert.deepEqual(u.dropIns.map(rel), [
      'etc/socket.d/50-all.conf',
      'lib/socket.d/60-low-all.conf',
      'etc/noise.socket.d/x.conf',
    ]);
  });

  it('refuses an invalid name', () => {
    assert.throws(() => findUnit('no-type', path), ValueError);
  });

  it('remembers a lookup per index, handing out copies', () => {
    const index = new UnitPathIndex(path);
    const first = findUnit('web.socket', index);
    first.dropIns.push('/mutated');
    const again = findUnit('web.socket', index);
    assert.deepEqual(again, findUnit('web.socket', path));
    assert.equal(readUnitFiles('web.socket', index).dropIns.includes('/mutated'), false);
  });

  it('works the same with a prebuilt index', () => {
    const index = new UnitPathIndex(path);
    assert.deepEqual(findUnit('web.socket', index), findUnit('web.socket', path));
    assert.deepEqual(findUnit('echo@1.service', index), findUnit('echo@1.service', path));
  });
});

describe('readUnitFiles', () => {
  it('parses the fragment then the drop-ins in order', () => {
    const u = readUnitFiles('web.socket', path);
    assert.equal(u.loadState, 'loaded');
    assert.deepEqual(
      u.files.map((f) => [rel(f.path), f.entries.map((e) => `${e.key}=${e.value}`)]),
      [
        ['etc/web.socket', ['ListenStream=80']],
        ['lib/web.socket.d/05-first.conf', ['Backlog=5']],
        ['etc/web.socket.d/10-port.conf', ['ListenStream=8080']],
        ['etc/socket.d/50-all.conf', ['Backlog=64']],
        ['lib/socket.d/60-low-all.conf', ['LowAll=1']],
      ],
    );
    assert.deepEqual(
      u.sections.map((s) => `${rel(s.file)}:${s.line}:${s.name}`),
      u.files.map((f) => `${rel(f.path)}:1:Socket`),
    );
    assert.deepEqual(u.diagnostics, []);
  });

  it('says masked and reads nothing for a masked unit', () => {
    const u = readUnitFiles('masked.socket', path);
    assert.equal(u.loadState, 'masked');
    assert.deepEqual(u.files, []);
  });

  it('says error, without throwing, for an invalid name', () => {
    const u = readUnitFiles('no-type', path);
    assert.equal(u.loadState, 'error');
    assert.match(
      u.diagnostics[0]?.message ?? '',
      /^'no-type' is not a valid unit name: the name has no type suffix; /,
    );
  });

  it('says masked for an empty fragment, found without a stat', () => {
    const u = readUnitFiles('empty.socket', path);
    assert.equal(u.loadState, 'masked');
    assert.equal(u.masked, true);
    assert.equal(u.fragmentPath, undefined);
    assert.deepEqual(u.files, []);
    assert.deepEqual(u.dropIns, []);
  });

  it('reads a type drop-in once per index and gives every unit its entries', () => {
    const index = new UnitPathIndex(path);
    const a = readUnitFiles('web.socket', index);
    const b = readUnitFiles('real.socket', index);
    const shared = join(high, 'socket.d/50-all.conf');
    assert.deepEqual(
      a.files.find((f) => f.path === shared)?.entries,
      b.files.find((f) => f.path === shared)?.entries,
    );
    assert.equal(a.files.find((f) => f.path === shared)?.entries[0]?.value, '64');
  });

  it('says not-found with where it looked', () => {
    const u = readUnitFiles('missing.socket', path);
    assert.equal(u.loadState, 'not-found');
    assert.deepEqual(u.diagnostics.map(formatDiagnostic), [
      `missing.socket: unit file not found; expected missing.socket in one of: ${high}, ${low}`,
    ]);
  });

  it('says error when a drop-in cannot be parsed, naming file and line', () => {
    const u = readUnitFiles('bad.socket', path);
    assert.equal(u.loadState, 'error');
    assert.deepEqual(u.diagnostics.map(formatDiagnostic), [
      `${join(high, 'bad.socket.d/10-broken.conf')}:1: invalid section header '[Socket'; expected [Name] alone on its line`,
    ]);
  });
});

describe('listUnitNames', () => {
  it('lists every unit file name once, templates included, directories left out', () => {
    assert.deepEqual(listUnitNames(path, ['service']), [
      'echo@.service',
      'echo@special.service',
      'only-low.service',
    ]);
    const sockets = listUnitFiles(path, ['socket']);
    assert.deepEqual(
      sockets.map((s) => s.name),
      [
        'alias.socket',
        'bad.socket',
        'dangling.socket',
        'empty.socket',
        'foo-bar@x.socket',
        'linked.socket',
        'masked.socket',
        'real.socket',
        'tmpl-alias@.socket',
        'tmpl-real@.socket',
        'web.socket',
      ],
    );
    assert.equal(sockets.find((s) => s.name === 'web.socket')?.path, join(high, 'web.socket'));
    assert.equal(listUnitNames(path).length, sockets.length + 3);
  });

  it('ignores directories that do not exist', () => {
    assert.deepEqual(listUnitNames([join(root, 'nope'), low], ['service']), [
      'echo@.service',
      'echo@special.service',
      'only-low.service',
    ]);
  });
});

describe('search path', () => {
  it('has systemd’s system path', () => {
    assert.deepEqual(defaultSearchPath('system'), [
      '/etc/systemd/system.control',
      '/run/systemd/system.control',
      '/run/systemd/transient',
      '/run/systemd/generator.early',
      '/etc/systemd/system',
      '/run/systemd/system',
      '/run/systemd/generator',
      '/usr/local/lib/systemd/system',
      '/usr/lib/systemd/system',
      '/run/systemd/generator.late',
    ]);
  });

  it('builds the user path from the XDG variables', () => {
    const env = { HOME: '/home/u', XDG_RUNTIME_DIR: '/run/user/1000', XDG_CONFIG_DIRS: '/etc/xdg:/opt/xdg' };
    assert.deepEqual(defaultSearchPath('user', env), [
      '/home/u/.config/systemd/user.control',
      '/run/user/1000/systemd/user.control',
      '/run/user/1000/systemd/transient',
      '/run/user/1000/systemd/generator.early',
      '/home/u/.config/systemd/user',
      '/etc/xdg/systemd/user',
      '/opt/xdg/systemd/user',
      '/etc/systemd/user',
      '/run/user/1000/systemd/user',
      '/run/systemd/user',
      '/run/user/1000/systemd/generator',
      '/home/u/.local/share/systemd/user',
      '/usr/local/share/systemd/user',
      '/usr/share/systemd/user',
      '/usr/local/lib/systemd/user',
      '/usr/lib/systemd/user',
      '/run/user/1000/systemd/generator.late',
    ]);
    const noRuntime = defaultSearchPath('user', { HOME: '/home/u' });
    assert.ok(noRuntime.every((d) => !d.includes('undefined')));
    assert.equal(noRuntime.length, 10);
  });

  it('lets an override replace the path, or extend it with a trailing colon', () => {
    assert.deepEqual(resolveSearchPath({ override: '/a:/b', env: {} }), ['/a', '/b']);
    assert.deepEqual(resolveSearchPath({ override: '/a:', env: {} }), ['/a', ...defaultSearchPath('system')]);
    assert.deepEqual(resolveSearchPath({ override: ['/x', '/x', '/y'], env: {} }), ['/x', '/y']);
    assert.deepEqual(resolveSearchPath({ env: { SYSTEMD_UNIT_PATH: '/from/env' } }), ['/from/env']);
    assert.deepEqual(resolveSearchPath({ env: {} }), defaultSearchPath('system'));
  });
});

describe("this machine's units", () => {
  it('reads every socket and service unit of the system directories without a syntax error', (t) => {
    const dirs = [
      '/etc/systemd/system',
      '/run/systemd/system',
      '/usr/local/lib/systemd/system',
      '/usr/lib/systemd/system',
      '/lib/systemd/system',
    ];
    const index = new UnitPathIndex(dirs);
    const names = listUnitNames(index, ['socket', 'service']);
    if (names.length === 0) {
      t.skip('no systemd unit directories on this machine');
      return;
    }
    const broken: string[] = [];
    let files = 0;
    for (const name of names) {
      const u = readUnitFiles(name, index);
      files += u.files.length;
      if (u.loadState === 'error') broken.push(...u.diagnostics.map(formatDiagnostic));
      for (const f of u.files) for (const e of f.entries) assert.ok(e.line >= 1);
    }
    t.diagnostic(`${names.length} units, ${files} files read`);
    assert.deepEqual(broken, []);
  });
});

describe('mutation-tested: masks, aliases, drop-in masks, listing order, the XDG variables', () => {
  const scratch = mkdtempSync(join(tmpdir(), 'sockunit-load-more-'));
  after(() => rmSync(scratch, { recursive: true, force: true }));
  const first = join(scratch, 'first');
  const second = join(scratch, 'second');
  const away = join(scratch, 'away');
  build(first, {
    'to-empty.service': `-> ${join(away, 'empty.service')}`,
    'to-zero.service': '-> /dev/zero',
    'relative-null.service': '-> ../../../../../../../../../../dev/null',
    'other-type.service': '-> real.socket',
    'real.socket': unit('Socket', 'ListenStream=1'),
    'not-a-name.service': '-> real.txt',
    'real.txt': unit('Service', 'ExecStart=/bin/true'),
    'z.service': unit('Service', 'ExecStart=/bin/true'),
    'web.service': unit('Service', 'ExecStart=/bin/true'),
    'web.service.d/10-null.conf': '-> /dev/null',
    'web.service.d/20-empty.conf': '',
    'web.service.d/30-zero.conf': '-> /dev/zero',
    'web.service.d/40-dangling.conf': `-> ${join(away, 'nothing.conf')}`,
    'web.service.d/90-kept.conf': unit('Service', 'Environment=A=1'),
  });
  build(second, {
    'to-empty.service': unit('Service', 'ExecStart=/bin/true'),
    'a.service': unit('Service', 'ExecStart=/bin/true'),
    'web.service.d/10-null.conf': unit('Service', 'Environment=B=1'),
    'web.service.d/20-empty.conf': unit('Service', 'Environment=C=1'),
    'web.service.d/30-zero.conf': unit('Service', 'Environment=D=1'),
    'web.service.d/40-dangling.conf': unit('Service', 'Environment=E=1'),
  });
  build(away, { 'empty.service': '' });
  const both = [first, second];

  it('a link to an empty file, to another character device, or to /dev/null by a relative path masks', () => {
    for (const name of ['to-empty.service', 'to-zero.service', 'relative-null.service']) {
      const u = findUnit(name, both);
      assert.equal(u.masked, true, name);
      assert.equal(readUnitFiles(name, both).loadState, 'masked', name);
    }
  });

  it('a link to a unit of another type, or to a file whose name is no unit name, is no alias', () => {
    const u = findUnit('other-type.service', both);
    assert.equal(u.id, 'other-type.service');
    assert.deepEqual(u.aliases, []);
    assert.equal(u.fragmentPath, join(first, 'other-type.service'));
    const v = findUnit('not-a-name.service', both);
    assert.equal(v.id, 'not-a-name.service');
    assert.deepEqual(v.aliases, []);
  });

  it('a drop-in linked to /dev/null or another character device, empty, or dangling, hides the lower one of its name', () => {
    assert.deepEqual(
      findUnit('web.service', both).dropIns.map((p) => p.slice(scratch.length + 1)),
      ['first/web.service.d/90-kept.conf'],
    );
  });

  it('unit files are listed by name, whichever directory holds them', () => {
    assert.deepEqual(
      listUnitFiles(both, ['service']).map((f) => f.path.slice(scratch.length + 1)),
      [
        'second/a.service',
        'first/not-a-name.service',
        'first/other-type.service',
        'first/relative-null.service',
        'first/to-empty.service',
        'first/to-zero.service',
        'first/web.service',
        'first/z.service',
      ],
    );
  });

  it('the XDG variables count only as absolute paths (the XDG Base Directory rules); HOME defaults to /root', () => {
    const env = {
      XDG_CONFIG_HOME: 'relative/config',
      XDG_DATA_HOME: 'relative/data',
      XDG_RUNTIME_DIR: 'relative/run',
      XDG_CONFIG_DIRS: 'relative:/opt/xdg',
      XDG_DATA_DIRS: 'relative',
    };
    assert.deepEqual(defaultSearchPath('user', env), [
      '/root/.config/systemd/user.control',
      '/root/.config/systemd/user',
      '/opt/xdg/systemd/user',
      '/etc/systemd/user',
      '/run/systemd/user',
      '/root/.local/share/systemd/user',
      '/usr/local/share/systemd/user',
      '/usr/share/systemd/user',
      '/usr/local/lib/systemd/user',
      '/usr/lib/systemd/user',
    ]);
    assert.deepEqual(
      defaultSearchPath('user', {
        HOME: '/h',
        XDG_CONFIG_HOME: '/c',
        XDG_DATA_HOME: '/d',
        XDG_DATA_DIRS: '/s',
      }),
      [
        '/c/systemd/user.control',
        '/c/systemd/user',
        '/etc/xdg/systemd/user',
        '/etc/systemd/user',
        '/run/systemd/user',
        '/d/systemd/user',
        '/s/systemd/user',
        '/usr/local/lib/systemd/user',
        '/usr/lib/systemd/user',
      ],
    );
  });

  it('an empty $SYSTEMD_UNIT_PATH is the default path; relative directories are made absolute', () => {
    assert.deepEqual(resolveSearchPath({ env: { SYSTEMD_UNIT_PATH: '' } }), defaultSearchPath('system'));
    assert.deepEqual(
      resolveSearchPath({ override: '', env: { SYSTEMD_UNIT_PATH: '/x' } }),
      defaultSearchPath('system'),
    );
    assert.deepEqual(resolveSearchPath({ override: 'rel::/b', env: {} }), [join(process.cwd(), 'rel'), '/b']);
    assert.deepEqual(resolveSearchPath({ manager: 'user', override: '/u:', env: { HOME: '/h' } }), [
      '/u',
      ...defaultSearchPath('user', { HOME: '/h' }),
    ]);
  });
});
