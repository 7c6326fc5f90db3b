import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { hostname, release, userInfo } from 'node:os';
import { describe, it } from 'node:test';
import {
  ALL_SPECIFIERS,
  expandSpecifiers,
  type HostFacts,
  type ManagerFacts,
  parseOsRelease,
  type SpecifierContext,
  specifierContext,
  UNIT_NAME_SPECIFIERS,
} from '../src/unit/specifiers.js';
import { ValueError } from '../src/unit/values.js';

function throwsValueError(fn: () => unknown, message: string): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof ValueError, `expected a ValueError, got ${String(e)}`);
    assert.equal(e.message, message);
    return true;
  });
}

// Fixed facts, so every expansion has one exact expected value.
const host: HostFacts = {
  hostname: 'web1.example.org',
  machineId: '0123456789abcdef0123456789abcdef',
  bootId: 'fedcba9876543210fedcba9876543210',
  kernelRelease: '6.18.0-test',
  architecture: 'x86-64',
  osRelease: {
    ID: 'debian',
    VERSION_ID: '12',
    VARIANT_ID: 'server',
    IMAGE_ID: 'img',
    IMAGE_VERSION: '7',
    BUILD_ID: 'b42',
  },
};
const systemFacts: ManagerFacts = {
  userName: 'root',
  uid: 0,
  groupName: 'root',
  gid: 0,
  home: '/root',
  shell: '/bin/sh',
  runtimeDir: '/run',
  stateDir: '/var/lib',
  cacheDir: '/var/cache',
  logsDir: '/var/log',
  configDir: '/etc',
  dataDir: '/usr/share',
  tempDir: '/tmp',
  varTempDir: '/var/tmp',
};

function ctx(unitName: string, extra: Partial<SpecifierContext> = {}): SpecifierContext {
  return {
    unitName,
    fragmentPath: '/etc/systemd/system/foo-bar@.socket',
    manager: 'system',
    host,
    managerFacts: systemFacts,
    ...extra,
  };
}

describe('expandSpecifiers: every letter', () => {
  const instance = ctx('foo-bar@run-x\\x2dy.socket');
  const table: [string, string][] = [
    ['%n', 'foo-bar@run-x\\x2dy.socket'],
    ['%N', 'foo-bar@run-x\\x2dy'],
    ['%p', 'foo-bar'],
    ['%P', 'foo/bar'],
    ['%i', 'run-x\\x2dy'],
    ['%I', 'run/x-y'],
    ['%j', 'bar'],
    ['%J', 'bar'],
    ['%f', '/run/x-y'],
    ['%h', '/root'],
    ['%s', '/bin/sh'],
    ['%u', 'root'],
    ['%U', '0'],
    ['%g', 'root'],
    ['%G', '0'],
    ['%t', '/run'],
    ['%S', '/var/lib'],
    ['%C', '/var/cache'],
    ['%L', '/var/log'],
    ['%E', '/etc'],
    ['%D', '/usr/share'],
    ['%d', '/run/credentials/foo-bar@run-x\\x2dy.socket'],
    ['%T', '/tmp'],
    ['%V', '/var/tmp'],
    ['%y', '/etc/systemd/system/foo-bar@.socket'],
    ['%Y', '/etc/systemd/system'],
    ['%H', 'web1.example.org'],
    ['%l', 'web1'],
    ['%q', 'web1'],
    ['%m', '0123456789abcdef0123456789abcdef'],
    ['%b', 'fedcba9876543210fedcba9876543210'],
    ['%v', '6.18.0-test'],
    ['%a', 'x86-64'],
    ['%o', 'debian'],
    ['%w', '12'],
    ['%W', 'server'],
    ['%M', 'img'],
    ['%A', '7'],
    ['%B', 'b42'],
    ['%%', '%'],
  ];
  for (const [spec, value] of table)
    it(`${spec} -> ${value}`, () => assert.equal(expandSpecifiers(spec, instance), value));

  it('covers every letter in ALL_SPECIFIERS', () => {
    const tested = new Set(table.map(([s]) => s[1]));
    for (const letter of ALL_SPECIFIERS) assert.ok(tested.has(letter), `%${letter} has no test row`);
  });
});

describe('expandSpecifiers: name-derived letters for plain names and templates', () => {
  const table: [string, string, string][] = [
    ['web.socket', '%n|%N|%p|%i|%j|%f', 'web.socket|web|web||web|/web'],
    ['foo-bar-baz.service', '%p|%j|%J|%P|%f', 'foo-bar-baz|baz|baz|foo/bar/baz|/foo/bar/baz'],
    ['foo@.socket', '%n|%N|%p|%i', 'foo@.socket|foo@|foo|'],
    ['echo@3-127.0.0.1:7-127.0.0.1:5000.service', '%i', '3-127.0.0.1:7-127.0.0.1:5000'],
    ['x\\x2dy.service', '%p|%P|%j', 'x\\x2dy|x-y|x\\x2dy'],
  ];
  for (const [name, value, expanded] of table) {
    it(`${name}: ${value}`, () => assert.equal(expandSpecifiers(value, ctx(name)), expanded));
  }
});

describe('expandSpecifiers: literal % and errors', () => {
  const c = ctx('web.socket');
  it('keeps % before a non-alphanumeric character and at the end', () => {
    assert.equal(expandSpecifiers('100%', c), '100%');
    assert.equal(expandSpecifiers('50%-60% %.', c), '50%-60% %.');
    assert.equal(expandSpecifiers('[fe80::1]:80%%eth0', c), '[fe80::1]:80%eth0');
    assert.equal(expandSpecifiers('%t/web.sock', c), '/run/web.sock');
    assert.equal(expandSpecifiers('no specifiers at all', c), 'no specifiers at all');
    assert.equal(expandSpecifiers('%%%%', c), '%%');
  });
  it('uses PRETTY_HOSTNAME for %q when there is one', () => {
    assert.equal(
      expandSpecifiers('%q', ctx('a.socket', { host: { ...host, prettyHostname: 'Web One' } })),
      'Web One',
    );
  });
  const all = [...ALL_SPECIFIERS].map((l) => `%${l}`).join(' ');
  const bad: [string, string | undefined, string, Partial<SpecifierContext>?][] = [
    ['%z', undefined, `unknown specifier %z; expected one of ${all}, or %% for a literal %`],
    ['a%1b', undefined, `unknown specifier %1; expected one of ${all}, or %% for a literal %`],
    ['%Z', undefined, `unknown specifier %Z; expected one of ${all}, or %% for a literal %`],
    [
      '%c',
      undefined,
      'specifier %c (control group path) is not supported by sockunit; expected a value without it',
    ],
    [
      '%R',
      undefined,
      'specifier %R (control group path) is not supported by sockunit; expected a value without it',
    ],
    [
      '%h.service',
      UNIT_NAME_SPECIFIERS,
      'specifier %h is not allowed here; expected one of %n %N %p %i %j %a %A %b %B %H %l %q %m %M %o %v %w %W %u %U %g %G',
    ],
    [
      '%y',
      undefined,
      'specifier %y cannot be expanded: the unit has no unit file; use it only in units loaded from a file',
      { fragmentPath: undefined },
    ],
    [
      '%m',
      undefined,
      'specifier %m cannot be expanded: /etc/machine-id is missing or invalid; create it with systemd-machine-id-setup',
      { host: { ...host, machineId: undefined } },
    ],
    [
      '%t',
      undefined,
      'specifier %t cannot be expanded: $XDG_RUNTIME_DIR is not set for this user manager; set it (e.g. /run/user/UID)',
      { manager: 'user', managerFacts: { ...systemFacts, runtimeDir: undefined } },
    ],
  ];
  for (const [value, allowed, message, extra] of bad) {
    it(`refuses ${value}`, () => {
      const context = { ...ctx('web.socket'), ...extra };
      if (extra !== undefined && 'fragmentPath' in extra && extra.fragmentPath === undefined)
        delete context.fragmentPath;
      throwsValueError(() => expandSpecifiers(value, context, allowed), message);
    });
  }
  it('allows the unit-name set in Service=/Sockets=', () => {
    assert.equal(
      expandSpecifiers('%p-backend@%i.service', ctx('web@1.socket'), UNIT_NAME_SPECIFIERS),
      'web-backend@1.service',
    );
  });
});

describe('specifierContext from this machine', () => {
  it('reads the host facts systemd reads', () => {
    const c = specifierContext('web.socket', '/etc/systemd/system/web.socket');
    assert.equal(expandSpecifiers('%H', c), hostname());
    assert.equal(expandSpecifiers('%v', c), release());
    const machineId = readFileSync('/etc/machine-id', 'utf8').trim();
    assert.equal(expandSpecifiers('%m', c), machineId);
    const bootId = readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim().replaceAll('-', '');
    assert.equal(expandSpecifiers('%b', c), bootId);
    assert.match(expandSpecifiers('%a', c), /^[a-z0-9-]+$/);
    assert.equal(expandSpecifiers('%t %u %U %h', c), '/run root 0 /root');
  });
  it('caches the host facts once per process', () => {
    assert.equal(specifierContext('a.socket').host, specifierContext('b.socket').host);
  });
  it('uses the caller and XDG directories for a user manager', () => {
    const c = specifierContext('web.socket', undefined, 'user');
    assert.equal(c.managerFacts.uid, process.getuid?.());
    assert.ok(c.managerFacts.configDir.startsWith('/'));
  });
});

describe('parseOsRelease', () => {
  it('reads shell-style assignments', () => {
    assert.deepEqual(
      parseOsRelease('# c\nID=debian\nNAME="Debian \\"GNU\\""\nVERSION_ID=\'12\'\nbad line\n'),
      {
        ID: 'debian',
        NAME: 'Debian "GNU"',
        VERSION_ID: '12',
      },
    );
  });
});

describe('mutation-tested: the manager facts systemd.unit(5) lists, and os-release quoting', () => {
  it('the system manager: root, /root, /bin/sh and the FHS directories', () => {
    const c = specifierContext('web.socket', '/etc/systemd/system/web.socket');
    const temp = ['TMPDIR', 'TEMP', 'TMP'].map((k) => process.env[k]).find((v) => v?.startsWith('/'));
    assert.equal(
      expandSpecifiers('%u %U %g %G %h %s %t %S %C %L %E', c),
      'root 0 root 0 /root /bin/sh /run /var/lib /var/cache /var/log /etc',
    );
    assert.equal(expandSpecifiers('%T', c), temp ?? '/tmp');
    assert.equal(expandSpecifiers('%V', c), temp ?? '/var/tmp');
    assert.equal(c.managerFacts.dataDir, '/usr/share');
    assert.equal(expandSpecifiers('%y', c), '/etc/systemd/system/web.socket');
    assert.equal(expandSpecifiers('%Y', c), '/etc/systemd/system');
  });

  it('a user manager: its user, $HOME and the XDG directories or their defaults under it', () => {
    const env = process.env;
    const abs = (k: string) => (env[k]?.startsWith('/') ? env[k] : undefined);
    const c = specifierContext('web.socket', undefined, 'user');
    const me = userInfo();
    const home = abs('HOME') ?? me.homedir;
    const state = abs('XDG_STATE_HOME') ?? `${home}/.local/state`;
    const temp = abs('TMPDIR') ?? abs('TEMP') ?? abs('TMP');
    const group = readFileSync('/etc/group', 'utf8')
      .split('\n')
      .map((l) => l.split(':'))
      .find((f) => Number(f[2]) === me.gid)?.[0];
    const expected: ManagerFacts = {
      userName: me.username,
      uid: me.uid,
      groupName: group ?? String(me.gid),
      gid: me.gid,
      home,
      shell: abs('SHELL') ?? me.shell ?? '/bin/sh',
      stateDir: state,
      cacheDir: abs('XDG_CACHE_HOME') ?? `${home}/.cache`,
      logsDir: `${state}/log`,
      configDir: abs('XDG_CONFIG_HOME') ?? `${home}/.config`,
      dataDir: abs('XDG_DATA_HOME') ?? `${home}/.local/share`,
      tempDir: temp ?? '/tmp',
      varTempDir: temp ?? '/var/tmp',
    };
    const runtime = abs('XDG_RUNTIME_DIR');
    if (runtime !== undefined) expected.runtimeDir = runtime;
    assert.deepEqual(c.managerFacts, expected);
    assert.equal('fragmentPath' in c, false);
  });

  it('os-release: blank and comment lines, a value with =, quotes only around the whole value', () => {
    assert.deepEqual(
      parseOsRelease('  \n  # ID=commented\n=nokey\nA="x=y"\nC=\'single \\" kept\'\nE=plain "q"\nG=x"\n'),
      { A: 'x=y', C: 'single \\" kept', E: 'plain "q"', G: 'x"' },
    );
  });

  it('a % before something that is no letter or digit stays as it is', () => {
    assert.equal(expandSpecifiers('100%! and 5%', ctx('a.service')), '100%! and 5%');
  });
});

describe('mutation-tested: %j after a leading dash, empty quoted os-release values', () => {
  it('%j of a prefix whose only dash leads is what follows the dash; %p keeps it', () => {
    assert.equal(expandSpecifiers('%p|%j', ctx('-lead.service')), '-lead|lead');
  });

  it('os-release: "" and \'\' are empty values; a lone quote is kept', () => {
    assert.deepEqual(parseOsRelease('A=""\nB=\'\'\nC="\n'), { A: '', B: '', C: '"' });
  });
});
