import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { formatDiagnostic } from '../src/unit/diagnostic.js';
import { type TypedUnit, typeUnit } from '../src/unit/load-unit.js';
import type { ServiceUnitConfig } from '../src/unit/service-config.js';
import { specifierContext } from '../src/unit/specifiers.js';
import { parseUnitText } from '../src/unit/syntax.js';
import {
  type Condition,
  type ConditionFacts,
  evaluateConditions,
  formatCondition,
  parseCondition,
} from '../src/unit/unit-section.js';

function typeText(name: string, text: string): TypedUnit {
  const file = `/fixture/${name}`;
  const parsed = parseUnitText(text, file);
  return typeUnit(name, [{ path: file, entries: parsed.entries }], {
    sections: parsed.sections.map((s) => ({ file, name: s.name, line: s.line })),
    specifiers: specifierContext(name, file, 'system'),
  });
}

function serviceOf(t: TypedUnit): ServiceUnitConfig {
  assert.equal(t.config?.type, 'service');
  return t.config as ServiceUnitConfig;
}

const printed = (t: TypedUnit): string[] => t.diagnostics.map((d) => `${d.severity} ${formatDiagnostic(d)}`);

describe('service defaults (socket-units.md §6)', () => {
  it('a plain ExecStart= service', () => {
    const t = typeText('a.service', '[Service]\nExecStart=/bin/true\n');
    assert.equal(t.loadState, 'loaded');
    assert.deepEqual(t.diagnostics, []);
    const c = serviceOf(t);
    const s = c.service;
    assert.equal(s.type, 'simple');
    assert.equal(s.restart, 'no');
    assert.equal(s.restartUsec, 100_000);
    assert.equal(s.timeoutStartUsec, 90_000_000);
    assert.equal(s.timeoutStopUsec, 90_000_000);
    assert.equal(s.watchdogUsec, 0);
    assert.equal(s.notifyAccess, 'none');
    assert.equal(s.nonBlocking, false);
    assert.equal(s.fileDescriptorStoreMax, 0);
    assert.equal(c.exec.umask, 0o022);
    assert.equal(c.exec.standardInput, 'null');
    assert.equal(c.exec.user, undefined);
    assert.equal(c.kill.killMode, 'control-group');
    assert.equal(c.kill.killSignal.name, 'SIGTERM');
    assert.equal(c.kill.sendSIGKILL, true);
    assert.equal(c.unit.startLimitBurst, 5);
    assert.equal(c.unit.startLimitIntervalUsec, 10_000_000);
  });

  it('no ExecStart= but ExecStop= means oneshot, with no start timeout', () => {
    const s = serviceOf(typeText('o.service', '[Service]\nExecStop=/bin/true\n')).service;
    assert.equal(s.type, 'oneshot');
    assert.equal(s.timeoutStartUsec, Number.POSITIVE_INFINITY);
  });

  it('notify, a watchdog or an fd store raise NotifyAccess= to main', () => {
    for (const line of ['Type=notify', 'WatchdogSec=10s', 'FileDescriptorStoreMax=4']) {
      const s = serviceOf(typeText('n.service', `[Service]\nExecStart=/bin/true\n${line}\n`)).service;
      assert.equal(s.notifyAccess, 'main', line);
    }
    assert.equal(
      serviceOf(typeText('n.service', '[Service]\nExecStart=/bin/true\nType=notify\nNotifyAccess=all\n'))
        .service.notifyAccess,
      'all',
    );
  });
});

describe('service values', () => {
  it('types the keys activation needs', () => {
    const t = typeText(
      'v.service',
      [
        '[Unit]',
        'Description=Value test for %n',
        'Requires=a.socket b.socket',
        'After=a.socket',
        'ConditionPathExists=!/nonexistent',
        'AssertPathIsDirectory=|/tmp',
        '[Service]',
        'Type=notify',
        'ExecStartPre=-/bin/mkdir -p /run/x',
        'ExecStart=@/usr/bin/app app-name --flag "two words"',
        'ExecReload=/bin/kill -HUP $MAINPID',
        'Restart=on-abnormal',
        'RestartSec=500ms',
        'TimeoutSec=20s',
        'TimeoutStopSec=0',
        'Environment=A=1 "B=two words"',
        'Environment=A=3',
        'EnvironmentFile=-/etc/default/x',
        'EnvironmentFile=/etc/x.env',
        'WorkingDirectory=~',
        'User=nobody',
        'Group=65534',
        'UMask=0077',
        'StandardInput=socket',
        'StandardOutput=append:/var/log/x.log',
        'StandardError=syslog',
        'Sockets=a.socket b.socket',
        'NonBlocking=yes',
        'KillMode=mixed',
        'KillSignal=INT',
        'SendSIGKILL=no',
        'SuccessExitStatus=3 SIGUSR1 DATAERR',
        'RestartPreventExitStatus=255',
        '[Install]',
        'WantedBy=multi-user.target',
        'Also=a.socket',
      ].join('\n'),
    );
    assert.deepEqual(t.diagnostics, []);
    const c = serviceOf(t);
    assert.equal(c.unit.description, 'Value test for v.service');
    assert.deepEqual(c.unit.requires, ['a.socket', 'b.socket']);
    assert.deepEqual(c.unit.conditions, [
      { kind: 'PathExists', negate: true, triggering: false, value: '/nonexistent' },
    ]);
    assert.deepEqual(c.unit.asserts, [
      { kind: 'PathIsDirectory', negate: false, triggering: true, value: '/tmp' },
    ]);
    const s = c.service;
    assert.equal(s.type, 'notify');
    assert.equal(s.execStartPre[0]?.ignoreFailure, true);
    assert.equal(s.execStart.length, 1);
    assert.equal(s.execStart[0]?.path, '/usr/bin/app');
    assert.deepEqual(s.execStart[0]?.argv, ['app-name', '--flag', 'two words']);
    assert.deepEqual(s.execStart[0]?.origin, { file: '/fixture/v.service', line: 10 });
    assert.equal(s.restart, 'on-abnormal');
    assert.equal(s.restartUsec, 500_000);
    assert.equal(s.timeoutStartUsec, 20_000_000);
    assert.equal(s.timeoutStopUsec, Number.POSITIVE_INFINITY);
    assert.deepEqual(c.exec.environment, [
      ['A', '1'],
      ['B', 'two words'],
      ['A', '3'],
    ]);
    assert.deepEqual(c.exec.environmentFiles, [
      { path: '/etc/default/x', missingOk: true },
      { path: '/etc/x.env', missingOk: false },
    ]);
    assert.deepEqual(c.exec.workingDirectory, { path: '~', missingOk: false });
    assert.equal(c.exec.user, 'nobody');
    assert.equal(c.exec.group, '65534');
    assert.equal(c.exec.umask, 0o077);
    assert.equal(c.exec.standardInput, 'socket');
    assert.equal(c.exec.standardOutput, 'append:/var/log/x.log');
    assert.equal(c.exec.standardError, 'journal');
    assert.deepEqual(s.sockets, ['a.socket', 'b.socket']);
    assert.equal(s.nonBlocking, true);
    assert.equal(c.kill.killMode, 'mixed');
    assert.equal(c.kill.killSignal.name, 'SIGINT');
    assert.equal(c.kill.sendSIGKILL, false);
    assert.deepEqual(s.successExitStatus.statuses, [3, 65]);
    assert.deepEqual(
      s.successExitStatus.signals.map((x) => x.name),
      ['SIGUSR1'],
    );
    assert.deepEqual(s.restartPreventExitStatus.statuses, [255]);
    assert.deepEqual(c.install.wantedBy, ['multi-user.target']);
    assert.deepEqual(c.install.also, ['a.socket']);
  });

  it('an empty ExecStart= resets the list, an empty Environment= too', () => {
    const c = serviceOf(
      typeText(
        'r.service',
        '[Service]\nExecStart=/bin/a\nExecStart=\nExecStart=/bin/b\nEnvironment=A=1\nEnvironment=\n',
      ),
    );
    assert.deepEqual(
      c.service.execStart.map((x) => x.path),
      ['/bin/b'],
    );
    assert.deepEqual(c.exec.environment, []);
  });
});

const warned: [string, string[]][] = [
  [
    'Type=forkin',
    [
      "warning /fixture/w.service:3: Type=forkin: 'forkin' is not a valid value; expected one of simple, exec, forking, oneshot, dbus, notify, notify-reload, idle; the line is ignored",
    ],
  ],
  [
    'Environment=1X=a OK=b',
    [
      "warning /fixture/w.service:3: Environment=1X=a OK=b: '1X' is not a valid variable name; expected letters, digits and '_', not starting with a digit; the item is ignored",
    ],
  ],
  [
    'WorkingDirectory=relative',
    [
      "warning /fixture/w.service:3: WorkingDirectory=relative: 'relative' is not an absolute path; expected /path, ~ or -/path; the line is ignored",
    ],
  ],
  [
    'User=-bad',
    [
      "warning /fixture/w.service:3: User=-bad: '-bad' is not a valid user or group name; expected a name such as www-data (no ':', '/', control characters or leading '-') or a numeric id; the line is ignored",
    ],
  ],
  [
    'Sockets=',
    [
      'warning /fixture/w.service:3: Sockets=: an empty Sockets= does not reset the list; expected one or more values; the line is ignored',
    ],
  ],
  [
    'SuccessExitStatus=256',
    [
      'warning /fixture/w.service:3: SuccessExitStatus=256: exit status 256 is out of range; expected 0-255 or a signal name; the line is ignored',
    ],
  ],
  [
    'KillSignal=SIGNOPE',
    [
      "warning /fixture/w.service:3: KillSignal=SIGNOPE: 'SIGNOPE' is not a signal; expected a name such as SIGTERM, TERM or RTMIN+1, or a number 1-64; the line is ignored",
    ],
  ],
  [
    'ExecStart=!!/bin/true',
    [
      "notice /fixture/w.service:3: ExecStart=!!/bin/true: the '!!' prefix was removed in systemd 258 and is ignored; use '!' or drop it",
      'error /fixture/w.service:3: ExecStart=!!/bin/true: the service has 2 ExecStart= commands, which only Type=oneshot allows; expected one command, or Type=oneshot',
    ],
  ],
];

describe('service lines that are warned about', () => {
  for (const [line, expected] of warned) {
    it(line, () => {
      assert.deepEqual(printed(typeText('w.service', `[Service]\nExecStart=/bin/true\n${line}\n`)), expected);
    });
  }
});

const refused: [string, string, string[]][] = [
  [
    'no ExecStart= and no ExecStop=',
    '[Service]\nRestart=no\n',
    [
      'error /fixture/b.service: the service has no ExecStart= and no ExecStop=; expected at least an ExecStart= line',
    ],
  ],
  [
    'two ExecStart= without oneshot',
    '[Service]\nExecStart=/bin/a\nExecStart=/bin/b\n',
    [
      'error /fixture/b.service:3: ExecStart=/bin/b: the service has 2 ExecStart= commands, which only Type=oneshot allows; expected one command, or Type=oneshot',
    ],
  ],
  [
    'oneshot with Restart=always',
    '[Service]\nType=oneshot\nExecStart=/bin/a\nRestart=always\n',
    [
      'error /fixture/b.service:4: Restart=always: Restart=always cannot be used with Type=oneshot; expected Restart=no, on-failure, on-abnormal, on-abort or on-watchdog',
    ],
  ],
  [
    'dbus without BusName=',
    '[Service]\nType=dbus\nExecStart=/bin/a\n',
    [
      'error /fixture/b.service:2: Type=dbus: Type=dbus needs BusName=; expected a BusName= line or another Type=',
    ],
  ],
  [
    'ExecStart= with a relative path',
    '[Service]\nExecStart=bin/a\n',
    [
      "error /fixture/b.service:2: ExecStart=bin/a: executable path 'bin/a' is relative; expected an absolute path or a bare program name (looked up in /usr/local/sbin, /usr/local/bin, /usr/sbin, /usr/bin)",
      'error /fixture/b.service: the service has no ExecStart= and no ExecStop=; expected at least an ExecStart= line',
    ],
  ],
  [
    '"+" with "!"',
    '[Service]\nExecStart=+!/bin/a\n',
    [
      "error /fixture/b.service:2: ExecStart=+!/bin/a: the '+' and '!' prefixes exclude each other; expected one of them",
      'error /fixture/b.service: the service has no ExecStart= and no ExecStop=; expected at least an ExecStart= line',
    ],
  ],
];

describe('service bad-setting refusals (§6.5)', () => {
  for (const [what, text, expected] of refused) {
    it(what, () => {
      const t = typeText('b.service', text);
      assert.equal(t.loadState, 'bad-setting');
      assert.deepEqual(printed(t), expected);
    });
  }
  it('a "-" ExecStart= line with a bad path only warns, but leaves no command', () => {
    const t = typeText('b.service', '[Service]\nExecStart=-bin/a\nExecStop=/bin/true\n');
    assert.equal(t.loadState, 'loaded');
    assert.equal(t.diagnostics[0]?.severity, 'warning');
  });
});

describe('conditions', () => {
  const facts: ConditionFacts = {
    path: (p) =>
      p === '/etc'
        ? { isSymbolicLink: false, target: { type: 'directory', size: 0, executable: true, entries: 3 } }
        : p === '/etc/hostname'
          ? { isSymbolicLink: false, target: { type: 'file', size: 5, executable: false } }
          : undefined,
    environment: { MODE: 'prod' },
    hostname: 'box',
    kernelCommandLine: 'quiet root=/dev/sda1 debug',
    virtualization: { id: 'kvm', class: 'vm' },
  };
  const c = (kind: Condition['kind'], value: string, negate = false, triggering = false): Condition => ({
    kind,
    value,
    negate,
    triggering,
  });
  it('evaluates each kind against the facts', () => {
    const holds: Condition[] = [
      c('PathExists', '/etc'),
      c('PathExists', '/nope', true),
      c('PathIsDirectory', '/etc'),
      c('FileNotEmpty', '/etc/hostname'),
      c('DirectoryNotEmpty', '/etc'),
      c('Environment', 'MODE=prod'),
      c('Environment', 'MODE'),
      c('Host', 'BOX'),
      c('KernelCommandLine', 'root'),
      c('KernelCommandLine', 'root=/dev/sda1'),
      c('Virtualization', 'vm'),
      c('Virtualization', 'yes'),
      c('Virtualization', 'kvm'),
    ];
    for (const x of holds) assert.deepEqual(evaluateConditions([x], facts), { ok: true }, JSON.stringify(x));
    const fails = c('Virtualization', 'container');
    assert.deepEqual(evaluateConditions([fails], facts), { ok: false, failed: fails });
  });
  it('needs one triggering condition to hold when there are some', () => {
    const a = c('PathExists', '/nope', false, true);
    const b = c('PathExists', '/etc', false, true);
    assert.deepEqual(evaluateConditions([a, b], facts), { ok: true });
    assert.deepEqual(evaluateConditions([a], facts), { ok: false, failed: a });
  });
  it('an empty Condition= line clears the list', () => {
    const t = typeText(
      'c.service',
      '[Unit]\nConditionPathExists=/a\nConditionHost=x\nConditionPathExists=\n[Service]\nExecStart=/bin/true\n',
    );
    assert.deepEqual(serviceOf(t).unit.conditions, []);
  });
  it('a path condition needs an absolute path', () => {
    assert.deepEqual(
      printed(typeText('c.service', '[Unit]\nConditionPathExists=rel\n[Service]\nExecStart=/bin/true\n')),
      [
        "warning /fixture/c.service:2: ConditionPathExists=rel: 'rel' is not an absolute path; expected [|][!]/PATH; the line is ignored",
      ],
    );
  });
});

describe('mutation-tested: every default of a service, as systemd.service(5), .exec(5), .kill(5) give it', () => {
  it('an ExecStart= alone gets every other setting at its default', () => {
    const c = serviceOf(typeText('d.service', '[Service]\nExecStart=/bin/true\n'));
    assert.deepEqual(c.unit, {
      description: '',
      documentation: [],
      requires: [],
      requisite: [],
      wants: [],
      bindsTo: [],
      partOf: [],
      conflicts: [],
      before: [],
      after: [],
      startLimitIntervalUsec: 10_000_000,
      startLimitBurst: 5,
      conditions: [],
      asserts: [],
    });
    const { execStart, ...service } = c.service;
    assert.deepEqual(
      execStart.map((e) => e.argv),
      [['/bin/true']],
    );
    const none = { statuses: [], signals: [] };
    assert.deepEqual(service, {
      type: 'simple',
      restart: 'no',
      restartUsec: 100_000,
      timeoutStartUsec: 90_000_000,
      timeoutStopUsec: 90_000_000,
      runtimeMaxUsec: Number.POSITIVE_INFINITY,
      watchdogUsec: 0,
      execCondition: [],
      execStartPre: [],
      execStartPost: [],
      execReload: [],
      execStop: [],
      execStopPost: [],
      remainAfterExit: false,
      sockets: [],
      nonBlocking: false,
      fileDescriptorStoreMax: 0,
      fileDescriptorStorePreserve: 'restart',
      notifyAccess: 'none',
      successExitStatus: none,
      restartPreventExitStatus: none,
      restartForceExitStatus: none,
      reloadSignal: { name: 'SIGHUP', number: 1 },
    });
    assert.deepEqual(c.exec, {
      supplementaryGroups: [],
      umask: 0o022,
      environment: [],
      environmentFiles: [],
      passEnvironment: [],
      unsetEnvironment: [],
      standardInput: 'null',
      standardInputData: '',
    });
    assert.deepEqual(c.kill, {
      killMode: 'control-group',
      killSignal: { name: 'SIGTERM', number: 15 },
      finalKillSignal: { name: 'SIGKILL', number: 9 },
      watchdogSignal: { name: 'SIGABRT', number: 6 },
      sendSIGKILL: true,
      sendSIGHUP: false,
    });
    assert.deepEqual(c.install, {
      wantedBy: [],
      requiredBy: [],
      upheldBy: [],
      also: [],
      alias: [],
      defaultInstance: '',
    });
    assert.deepEqual(c.notEnforced, []);
  });
});

describe('mutation-tested: each condition kind both ways, as systemd.unit(5) defines it', () => {
  const dirWith = (entries: number) => ({
    isSymbolicLink: false,
    target: { type: 'directory' as const, size: 0, executable: true, entries },
  });
  const file = (size: number, executable: boolean, isSymbolicLink = false) => ({
    isSymbolicLink,
    target: { type: 'file' as const, size, executable },
  });
  const paths: Record<string, ReturnType<ConditionFacts['path']>> = {
    '/etc': dirWith(3),
    '/empty-dir': dirWith(0),
    '/etc/hostname': file(5, false),
    '/empty-file': file(0, false),
    '/bin/tool': file(100, true),
    '/link': file(5, false, true),
  };
  const facts = (virtualization: ConditionFacts['virtualization']): ConditionFacts => ({
    path: (p) => paths[p],
    environment: { MODE: 'prod' },
    hostname: 'box',
    machineId: '0123456789abcdef0123456789abcdef',
    kernelCommandLine: '  quiet   root=/dev/sda1 debug ',
    virtualization,
  });
  const vm = facts({ id: 'kvm', class: 'vm' });
  const container = facts({ id: 'docker', class: 'container' });
  const holds = (f: ConditionFacts, kind: Condition['kind'], value: string) =>
    evaluateConditions([{ kind, value, negate: false, triggering: false }], f).ok;

  const table: [Condition['kind'], string, boolean][] = [
    ['PathIsDirectory', '/etc', true],
    ['PathIsDirectory', '/etc/hostname', false],
    ['PathIsDirectory', '/nope', false],
    ['PathIsSymbolicLink', '/link', true],
    ['PathIsSymbolicLink', '/etc', false],
    ['PathIsSymbolicLink', '/nope', false],
    ['FileNotEmpty', '/etc/hostname', true],
    ['FileNotEmpty', '/empty-file', false],
    ['FileNotEmpty', '/etc', false],
    ['FileNotEmpty', '/nope', false],
    ['DirectoryNotEmpty', '/etc', true],
    ['DirectoryNotEmpty', '/empty-dir', false],
    ['DirectoryNotEmpty', '/etc/hostname', false],
    ['DirectoryNotEmpty', '/nope', false],
    ['FileIsExecutable', '/bin/tool', true],
    ['FileIsExecutable', '/etc/hostname', false],
    ['FileIsExecutable', '/etc', false],
    ['FileIsExecutable', '/nope', false],
    ['Environment', 'MODE=dev', false],
    ['Environment', 'OTHER', false],
    ['Host', 'other', false],
    ['Host', '0123456789ABCDEF0123456789ABCDEF', true],
    ['KernelCommandLine', 'debug', true],
    ['KernelCommandLine', 'quie', false],
    ['KernelCommandLine', 'root=/dev/sda2', false],
    ['Virtualization', 'container', false],
    ['Virtualization', 'no', false],
    ['Virtualization', 'docker', false],
  ];
  for (const [kind, value, expected] of table)
    it(`${kind}=${value} ${expected ? 'holds' : 'fails'} in a kvm VM`, () =>
      assert.equal(holds(vm, kind, value), expected));

  it('in a container: container and its id hold, vm does not, a boolean says whether there is any', () => {
    assert.equal(holds(container, 'Virtualization', 'container'), true);
    assert.equal(holds(container, 'Virtualization', 'docker'), true);
    assert.equal(holds(container, 'Virtualization', 'vm'), false);
    assert.equal(holds(container, 'Virtualization', 'yes'), true);
    assert.equal(holds(facts({ id: 'none', class: 'none' }), 'Virtualization', 'no'), true);
  });

  it('the | and ! prefixes may be followed by blanks; one of them alone has no argument', () => {
    assert.deepEqual(parseCondition('PathExists', '|  !  /etc'), {
      kind: 'PathExists',
      triggering: true,
      negate: true,
      value: '/etc',
    });
    assert.equal(formatCondition(parseCondition('PathExists', '|!/etc')), '|!/etc');
    assert.equal(formatCondition(parseCondition('Host', 'box')), 'box');
    for (const v of ['|', '!', '| !']) assert.throws(() => parseCondition('Host', v), /has no argument/, v);
  });
});
