import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { formatDiagnostic } from '../src/unit/diagnostic.js';
import { type ExecCommand, parseExecLine } from '../src/unit/exec-command.js';
import type { TypedUnit } from '../src/unit/load-unit.js';
import type { ServiceUnitConfig } from '../src/unit/service-config.js';
import { typeText } from './fixtures/unit/type-text.js';

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
    'Exec line with an unknown specifier',
    '[Service]\nExecStart=/bin/true\nExecStartPost=/bin/echo %Z\n',
    [
      'error /fixture/b.service:3: ExecStartPost=/bin/echo %Z: unknown specifier %Z; expected one of %n %N %p %P %i %I %j %J %f %h %s %u %U %g %G %t %S %C %L %E %D %d %T %V %y %Y %H %l %q %m %b %v %a %o %M %w %W %A %B, or %% for a literal %',
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
  it('Type=dbus with BusName= loads, the name reported as not enforced', () => {
    const t = typeText('b.service', '[Service]\nType=dbus\nBusName=org.example.A\nExecStart=/bin/a\n');
    assert.equal(t.loadState, 'loaded');
    assert.match(
      printed(t)[0] ?? '',
      /^notice .*BusName=org.example.A: not enforced by sockunit \(sockunit has no D-Bus connection/,
    );
  });
  it('a "-" ExecStart= line with a bad path only warns, but leaves no command', () => {
    const t = typeText('b.service', '[Service]\nExecStart=-bin/a\nExecStop=/bin/true\n');
    assert.equal(t.loadState, 'loaded');
    assert.equal(t.diagnostics[0]?.severity, 'warning');
  });
});

describe('conditions in unit files (their evaluation: unit-conditions.test.ts)', () => {
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
      upholds: [],
      conflicts: [],
      before: [],
      after: [],
      onFailure: [],
      onSuccess: [],
      propagatesReloadTo: [],
      reloadPropagatedFrom: [],
      propagatesStopTo: [],
      stopPropagatedFrom: [],
      stopWhenUnneeded: false,
      defaultDependencies: true,
      refuseManualStart: false,
      refuseManualStop: false,
      startLimitIntervalUsec: 10_000_000,
      startLimitBurst: 5,
      conditions: [],
      joinsNamespaceOf: [],
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
      execSearchPath: [],
      directories: {
        runtime: { items: [], mode: 0o755 },
        state: { items: [], mode: 0o755 },
        cache: { items: [], mode: 0o755 },
        logs: { items: [], mode: 0o755 },
        configuration: { items: [], mode: 0o755 },
      },
      runtimeDirectoryPreserve: 'no',
      credentials: { load: [], set: [], import: [] },
      limits: {},
      // IgnoreSIGPIPE=yes is systemd's default.
      scheduling: { cpuSchedulingResetOnFork: false, ignoreSigpipe: true },
      privileges: { ambientCapabilities: [], noNewPrivileges: false, secureBits: 0, dynamicUser: false },
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

describe("mutation-tested: the defaults that depend on other keys, and systemd's refusals, each both ways", () => {
  const typed = (...lines: string[]) => typeText('s.service', `${lines.join('\n')}\n`);
  const svc = (...lines: string[]) => serviceOf(typed(...lines)).service;

  it('Type=oneshot has no start timeout unless TimeoutStartSec= or TimeoutSec= sets one; without ExecStart= it is the default', () => {
    assert.equal(
      svc('[Service]', 'Type=oneshot', 'ExecStart=/bin/true').timeoutStartUsec,
      Number.POSITIVE_INFINITY,
    );
    assert.equal(
      svc('[Service]', 'Type=oneshot', 'ExecStart=/bin/true', 'TimeoutSec=5').timeoutStartUsec,
      5_000_000,
    );
    assert.equal(
      svc('[Service]', 'Type=oneshot', 'ExecStart=/bin/true', 'TimeoutStartSec=7').timeoutStartUsec,
      7_000_000,
    );
    const stopOnly = svc('[Service]', 'ExecStop=/bin/true');
    assert.deepEqual([stopOnly.type, stopOnly.timeoutStartUsec], ['oneshot', Number.POSITIVE_INFINITY]);
    assert.equal(svc('[Service]', 'ExecStart=/bin/true').timeoutStartUsec, 90_000_000);
  });

  it('NotifyAccess= is main for Type=notify and notify-reload, a watchdog or a file descriptor store, unless set', () => {
    const access = (...lines: string[]) => svc('[Service]', 'ExecStart=/bin/true', ...lines).notifyAccess;
    assert.equal(access('Type=notify'), 'main');
    assert.equal(access('Type=notify-reload'), 'main');
    assert.equal(access('WatchdogSec=5'), 'main');
    assert.equal(access('FileDescriptorStoreMax=1'), 'main');
    assert.equal(access(), 'none');
    assert.equal(access('Type=notify', 'NotifyAccess=all'), 'all');
  });

  const cases: [string, string[], string[]][] = [
    [
      'no ExecStart= and no ExecStop=',
      ['[Service]', 'Type=oneshot'],
      [
        'error /fixture/s.service: the service has no ExecStart= and no ExecStop=; expected at least an ExecStart= line',
      ],
    ],
    [
      '… unless SuccessAction= (not enforced, still counted)',
      ['[Unit]', 'SuccessAction=exit', '[Service]', 'Type=oneshot'],
      [],
    ],
    [
      'two ExecStart= for Type=simple',
      ['[Service]', 'ExecStart=/bin/a', 'ExecStart=/bin/b'],
      [
        'error /fixture/s.service:3: ExecStart=/bin/b: the service has 2 ExecStart= commands, which only Type=oneshot allows; expected one command, or Type=oneshot',
      ],
    ],
    [
      'two ExecStart= for Type=oneshot',
      ['[Service]', 'Type=oneshot', 'ExecStart=/bin/a', 'ExecStart=/bin/b'],
      [],
    ],
    [
      'Type=simple set without ExecStart=',
      ['[Service]', 'Type=simple', 'ExecStop=/bin/true'],
      [
        'error /fixture/s.service:2: Type=simple: Type=simple needs an ExecStart= command; expected an ExecStart= line or Type=oneshot',
      ],
    ],
    [
      'Restart=always with Type=oneshot',
      ['[Service]', 'Type=oneshot', 'ExecStart=/bin/true', 'Restart=always'],
      [
        'error /fixture/s.service:4: Restart=always: Restart=always cannot be used with Type=oneshot; expected Restart=no, on-failure, on-abnormal, on-abort or on-watchdog',
      ],
    ],
    [
      'Restart=on-success with Type=oneshot',
      ['[Service]', 'Type=oneshot', 'ExecStart=/bin/true', 'Restart=on-success'],
      [
        'error /fixture/s.service:4: Restart=on-success: Restart=on-success cannot be used with Type=oneshot; expected Restart=no, on-failure, on-abnormal, on-abort or on-watchdog',
      ],
    ],
    [
      'Restart=on-failure with Type=oneshot',
      ['[Service]', 'Type=oneshot', 'ExecStart=/bin/true', 'Restart=on-failure'],
      [],
    ],
    [
      'Type=dbus without BusName=',
      ['[Service]', 'Type=dbus', 'ExecStart=/bin/true'],
      [
        'error /fixture/s.service:2: Type=dbus: Type=dbus needs BusName=; expected a BusName= line or another Type=',
      ],
    ],
    [
      'Type=dbus with BusName= (not enforced, still counted)',
      ['[Service]', 'Type=dbus', 'ExecStart=/bin/true', 'BusName=a.b'],
      [],
    ],
  ];
  for (const [title, lines, errors] of cases)
    it(title, () => {
      const t = typed(...lines);
      assert.deepEqual(
        printed(t).filter((p) => !p.startsWith('notice')),
        errors,
      );
      assert.equal(t.loadState, errors.length > 0 ? 'bad-setting' : 'loaded');
    });

  it('SuccessExitStatus= words: blanks around them, numbers 0-255, names, signals; anything else drops the line', () => {
    assert.deepEqual(
      svc('[Service]', 'ExecStart=/bin/true', 'SuccessExitStatus=  1   DATAERR SIGUSR1 ').successExitStatus,
      {
        statuses: [1, 65],
        signals: [{ name: 'SIGUSR1', number: 10 }],
      },
    );
    assert.deepEqual(printed(typed('[Service]', 'ExecStart=/bin/true', 'SuccessExitStatus=1x')), [
      "warning /fixture/s.service:3: SuccessExitStatus=1x: '1x' is neither an exit status nor a signal; expected 0-255, a name like DATAERR or a signal like SIGUSR1; the line is ignored",
    ]);
    assert.deepEqual(printed(typed('[Service]', 'ExecStart=/bin/true', 'SuccessExitStatus=256')), [
      'warning /fixture/s.service:3: SuccessExitStatus=256: exit status 256 is out of range; expected 0-255 or a signal name; the line is ignored',
    ]);
  });
});

describe('mutation-tested: every [Unit] dependency key, its old name, and Documentation=, as systemd.unit(5) lists them', () => {
  const unitOf = (...lines: string[]) =>
    serviceOf(typeText('d.service', `[Unit]\n${lines.join('\n')}\n[Service]\nExecStart=/bin/true\n`));

  const keys: [string, keyof ServiceUnitConfig['unit']][] = [
    ['Requires', 'requires'],
    ['Requisite', 'requisite'],
    ['Wants', 'wants'],
    ['BindsTo', 'bindsTo'],
    ['BindTo', 'bindsTo'],
    ['PartOf', 'partOf'],
    ['Upholds', 'upholds'],
    ['Conflicts', 'conflicts'],
    ['Before', 'before'],
    ['After', 'after'],
    ['JoinsNamespaceOf', 'joinsNamespaceOf'],
    ['OnFailure', 'onFailure'],
    ['OnSuccess', 'onSuccess'],
    ['PropagatesReloadTo', 'propagatesReloadTo'],
    ['PropagateReloadTo', 'propagatesReloadTo'],
    ['ReloadPropagatedFrom', 'reloadPropagatedFrom'],
    ['PropagateReloadFrom', 'reloadPropagatedFrom'],
    ['PropagatesStopTo', 'propagatesStopTo'],
    ['StopPropagatedFrom', 'stopPropagatedFrom'],
  ];
  for (const [key, field] of keys)
    it(`${key}= adds unit names to ${field}, drops an invalid one with a warning, and an empty one resets`, () => {
      const t = typeText(
        'd.service',
        `[Unit]\n${key}=a.service b@x.socket\n${key}=not-a-unit c.target\n[Service]\nExecStart=/bin/true\n`,
      );
      assert.deepEqual(serviceOf(t).unit[field], ['a.service', 'b@x.socket', 'c.target']);
      assert.deepEqual(printed(t), [
        `warning /fixture/d.service:3: ${key}=not-a-unit c.target: 'not-a-unit' is not a valid unit name, ignoring it; expected a name like foo.service`,
      ]);
      assert.deepEqual(unitOf(`${key}=a.service`, `${key}=`, `${key}=z.service`).unit[field], ['z.service']);
      for (const [, other] of keys)
        if (other !== field) assert.deepEqual(serviceOf(t).unit[other], [], other);
    });

  it('Documentation= takes http:, https:, file:, info: and man: URIs; another one is refused with a warning', () => {
    const uris = 'http://a https://b file:/c info:d man:e(1)';
    assert.deepEqual(unitOf(`Documentation=${uris}`).unit.documentation, uris.split(' '));
    for (const bad of ['ftp://a', 'x-http://a', 'httpss://a', '/usr/share/doc']) {
      const t = typeText('d.service', `[Unit]\nDocumentation=${bad}\n[Service]\nExecStart=/bin/true\n`);
      assert.deepEqual(serviceOf(t).unit.documentation, [], bad);
      assert.deepEqual(printed(t), [
        `warning /fixture/d.service:2: Documentation=${bad}: '${bad}' is not a documentation URI; expected http:, https:, file:, info: or man:; the line is ignored`,
      ]);
    }
  });
});

describe('mutation-tested: the [Service] exec keys of systemd.exec(5): standard streams, input data, environment names, paths', () => {
  const typed = (...lines: string[]) =>
    typeText('s.service', `[Service]\nExecStart=/bin/true\n${lines.join('\n')}\n`);
  const exec = (...lines: string[]) => serviceOf(typed(...lines)).exec;
  const warned = (...lines: string[]) => printed(typed(...lines)).filter((p) => !p.startsWith('notice'));

  it('StandardInput=/StandardOutput=/StandardError=: the words, file:/PATH, fd:NAME, append:, truncate:, the old syslog names', () => {
    assert.equal(exec('StandardInput=file:/etc/hosts').standardInput, 'file:/etc/hosts');
    assert.equal(exec('StandardInput=fd:foo').standardInput, 'fd:foo');
    assert.equal(exec('StandardOutput=syslog').standardOutput, 'journal');
    assert.equal(exec('StandardOutput=syslog+console').standardOutput, 'journal+console');
    assert.equal(exec('StandardOutput=append:/var/log/x').standardOutput, 'append:/var/log/x');
    assert.equal(exec('StandardError=truncate:/x').standardError, 'truncate:/x');
    const refused: [string, string][] = [
      ['StandardInput=fd:', "'fd:' has no valid fd name; expected fd:NAME"],
      ['StandardInput=fd:a:b', "'fd:a:b' has no valid fd name; expected fd:NAME"],
      ['StandardInput=file:rel', "'file:rel' needs an absolute path; expected file:/PATH"],
      ['StandardOutput=file:x', "'file:x' needs an absolute path; expected file:/PATH"],
      [
        'StandardInput=syslog',
        "'syslog' is not a valid value; expected one of null, tty, tty-force, tty-fail, data, socket, file:…, fd:…",
      ],
    ];
    for (const [line, why] of refused) {
      assert.deepEqual(warned(line), [`warning /fixture/s.service:3: ${line}: ${why}; the line is ignored`]);
      const e = exec(line);
      assert.deepEqual([e.standardInput, e.standardOutput], ['null', undefined], line);
    }
  });

  it('StandardInputText= adds a line each (C escapes), StandardInputData= base64 across blanks; an empty one resets both', () => {
    assert.equal(exec('StandardInputText=a\\tb', 'StandardInputText=c').standardInputData, 'a\tb\nc\n');
    assert.equal(
      exec('StandardInputText=a', 'StandardInputText=', 'StandardInputText=b').standardInputData,
      'b\n',
    );
    assert.equal(exec('StandardInputData=aGVs bG8=', 'StandardInputData=IQ==').standardInputData, 'hello!');
    assert.equal(
      exec('StandardInputData=aGk=', 'StandardInputData=', 'StandardInputData=eA==').standardInputData,
      'x',
    );
    assert.deepEqual(warned('StandardInputData=not*base64'), [
      'warning /fixture/s.service:3: StandardInputData=not*base64: not base64; expected base64-encoded data; the line is ignored',
    ]);
  });

  it('PassEnvironment= and UnsetEnvironment= (which also takes NAME=value) drop an invalid name with a warning; an empty one resets', () => {
    assert.deepEqual(exec('PassEnvironment=A B_1').passEnvironment, ['A', 'B_1']);
    assert.deepEqual(exec('PassEnvironment=A', 'PassEnvironment=', 'PassEnvironment=B').passEnvironment, [
      'B',
    ]);
    assert.deepEqual(exec('UnsetEnvironment=A B=c 9').unsetEnvironment, ['A', 'B=c']);
    assert.deepEqual(warned('UnsetEnvironment=A B=c 9'), [
      "warning /fixture/s.service:3: UnsetEnvironment=A B=c 9: '9' is not a valid variable name, ignoring it; expected letters, digits and '_'",
    ]);
  });

  it('EnvironmentFile= and WorkingDirectory=: absolute paths, "-" may be missing, "~" is the home; an empty WorkingDirectory= resets', () => {
    assert.deepEqual(exec('EnvironmentFile=-/etc/x', 'EnvironmentFile=/etc/y').environmentFiles, [
      { path: '/etc/x', missingOk: true },
      { path: '/etc/y', missingOk: false },
    ]);
    assert.deepEqual(warned('EnvironmentFile=rel'), [
      "warning /fixture/s.service:3: EnvironmentFile=rel: 'rel' is not an absolute path; expected /path or -/path; the line is ignored",
    ]);
    assert.deepEqual(exec('WorkingDirectory=-/srv').workingDirectory, { path: '/srv', missingOk: true });
    assert.deepEqual(exec('WorkingDirectory=~').workingDirectory, { path: '~', missingOk: false });
    assert.equal(exec('WorkingDirectory=/x', 'WorkingDirectory=').workingDirectory, undefined);
    assert.deepEqual(warned('WorkingDirectory=srv'), [
      "warning /fixture/s.service:3: WorkingDirectory=srv: 'srv' is not an absolute path; expected /path, ~ or -/path; the line is ignored",
    ]);
  });
});

describe('mutation-tested: each [Service] key of systemd.service(5) sets its own field and nothing else', () => {
  const base = serviceOf(typeText('s.service', '[Service]\nExecStart=/bin/true\n')).service;
  const typed = (...lines: string[]) =>
    typeText('s.service', `[Service]\nExecStart=/bin/true\n${lines.join('\n')}\n`);
  // The line's command as parseExecLine (unit-exec-command.test.ts) reads it, where the file put it.
  const command = (path: string) => ({
    ...(parseExecLine(path).commands[0] as ExecCommand),
    origin: { file: '/fixture/s.service', line: 3 },
  });
  const statuses = (list: number[], signals: { name: string; number: number }[] = []) => ({
    statuses: list,
    signals,
  });
  const cases: [string[], Partial<ServiceUnitConfig['service']>][] = [
    [['TimeoutAbortSec=3'], { timeoutAbortUsec: 3_000_000 }],
    [['RuntimeMaxSec=4'], { runtimeMaxUsec: 4_000_000 }],
    [['TimeoutSec=5'], { timeoutStartUsec: 5_000_000, timeoutStopUsec: 5_000_000 }],
    [['TimeoutStopSec=6'], { timeoutStopUsec: 6_000_000 }],
    [['RestartSec=7'], { restartUsec: 7_000_000 }],
    [['ExecCondition=/bin/c'], { execCondition: [command('/bin/c')] }],
    [['ExecStartPre=/bin/x'], { execStartPre: [command('/bin/x')] }],
    [['ExecStartPost=/bin/p'], { execStartPost: [command('/bin/p')] }],
    [['ExecReload=/bin/r'], { execReload: [command('/bin/r')] }],
    [['ExecStop=/bin/s'], { execStop: [command('/bin/s')] }],
    [['ExecStopPost=/bin/q'], { execStopPost: [command('/bin/q')] }],
    [['RemainAfterExit=yes'], { remainAfterExit: true }],
    [['PIDFile=/run/x.pid'], { pidFile: '/run/x.pid' }],
    [['NonBlocking=yes'], { nonBlocking: true }],
    [['FileDescriptorStorePreserve=yes'], { fileDescriptorStorePreserve: 'yes' }],
    [['ReloadSignal=SIGUSR1'], { reloadSignal: { name: 'SIGUSR1', number: 10 } }],
    [['Sockets=a.socket b.socket'], { sockets: ['a.socket', 'b.socket'] }],
    [['NotifyAccess=exec'], { notifyAccess: 'exec' }],
    [['Restart=on-abort'], { restart: 'on-abort' }],
    [
      ['SuccessExitStatus=1', 'SuccessExitStatus=', 'SuccessExitStatus=2'],
      { successExitStatus: statuses([2]) },
    ],
    [['RestartPreventExitStatus=3'], { restartPreventExitStatus: statuses([3]) }],
    [
      ['RestartForceExitStatus=SIGHUP'],
      { restartForceExitStatus: statuses([], [{ name: 'SIGHUP', number: 1 }]) },
    ],
  ];
  for (const [lines, changed] of cases)
    it(lines.join(' '), () => {
      const t = typed(...lines);
      assert.deepEqual(printed(t), []);
      assert.deepEqual(serviceOf(t).service, { ...base, ...changed });
    });

  it('Sockets= names only socket units', () => {
    const t = typed('Sockets=a.service');
    assert.deepEqual(serviceOf(t).service.sockets, []);
    assert.deepEqual(printed(t), [
      "warning /fixture/s.service:3: Sockets=a.service: 'a.service' is not a socket unit; expected NAME.socket; the line is ignored",
    ]);
  });

  it('StartLimitIntervalSec=/StartLimitBurst= under their old names in [Service] set the [Unit] values', () => {
    const c = serviceOf(typed('StartLimitInterval=30s', 'StartLimitBurst=9'));
    assert.deepEqual([c.unit.startLimitIntervalUsec, c.unit.startLimitBurst], [30_000_000, 9]);
  });
});
