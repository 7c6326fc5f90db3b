// The sandboxing keys of [Service] read as systemd reads them: SystemCallFilter= groups expanded
// and merged across lines, RestrictAddressFamilies=/RestrictNamespaces= lists, paths with their
// `-` prefix, binds, and bad values warned about at file:line with what was expected.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { formatDiagnostic } from '../src/unit/diagnostic.js';
import { type TypedUnit, typeUnit } from '../src/unit/load-unit.js';
import {
  defaultSandboxContext,
  isSandboxed,
  mountsApiVfs,
  needsMountNamespace,
  type SandboxContext,
  serviceRoot,
} from '../src/unit/sandbox-config.js';
import type { ServiceUnitConfig } from '../src/unit/service-config.js';
import { specifierContext } from '../src/unit/specifiers.js';
import { parseUnitText } from '../src/unit/syntax.js';
import { expandSyscallName, SYSCALL_GROUPS } from '../src/unit/syscall-groups.js';

function typeText(text: string): TypedUnit {
  const file = '/fixture/s.service';
  const parsed = parseUnitText(`[Service]\nExecStart=/bin/true\n${text}`, file);
  return typeUnit('s.service', [{ path: file, entries: parsed.entries }], {
    sections: parsed.sections.map((s) => ({ file, name: s.name, line: s.line })),
    specifiers: specifierContext('s.service', file, 'system'),
  });
}

const sandboxOf = (t: TypedUnit) => (t.config as ServiceUnitConfig).sandbox;
const printed = (t: TypedUnit): string[] => t.diagnostics.map((d) => `${d.severity} ${formatDiagnostic(d)}`);

describe('sandboxing keys', () => {
  it('a unit without them is not sandboxed (and pays nothing)', () => {
    assert.equal(isSandboxed(sandboxOf(typeText(''))), false);
    assert.equal(isSandboxed(sandboxOf(typeText('PrivateTmp=yes\n'))), true);
  });

  it('SystemCallFilter=: groups expand; a later ~ list takes calls out of an allow-list', () => {
    const s = sandboxOf(
      typeText('SystemCallFilter=@system-service\nSystemCallFilter=~@privileged @resources\n'),
    );
    const f = s.systemCallFilter!;
    assert.equal(f.allowList, true);
    assert.ok(
      f.entries.has('read') && f.entries.has('openat'),
      '@system-service includes @basic-io, @file-system',
    );
    assert.ok(
      !f.entries.has('setuid') && !f.entries.has('setpriority'),
      '@privileged and @resources removed',
    );
    const deny = sandboxOf(typeText('SystemCallFilter=~@mount reboot:EPERM\n')).systemCallFilter!;
    assert.equal(deny.allowList, false);
    assert.ok(deny.entries.has('mount') && deny.entries.has('umount2'));
    assert.equal(deny.entries.get('reboot'), 1, 'NAME:ERRNO keeps its errno');
    assert.equal(
      sandboxOf(typeText('SystemCallFilter=~@mount\nSystemCallFilter=\n')).systemCallFilter,
      undefined,
    );
  });

  it('every group names known calls or groups', () => {
    for (const name of Object.keys(SYSCALL_GROUPS))
      assert.ok((expandSyscallName(name) ?? []).length > 0, name);
    assert.equal(expandSyscallName('@nonsense'), undefined);
  });

  it('RestrictAddressFamilies=, RestrictNamespaces=, paths, binds, TemporaryFileSystem=', () => {
    const s = sandboxOf(
      typeText(
        [
          'RestrictAddressFamilies=AF_UNIX AF_INET',
          'RestrictAddressFamilies=~AF_INET',
          'RestrictNamespaces=~user net',
          'ReadWritePaths=/var/lib/x -/opt/maybe "/srv/with space"',
          'BindReadOnlyPaths=/etc/a:/etc/b:norbind -/missing',
          'TemporaryFileSystem=/var:ro,mode=0700',
          'ProtectSystem=strict',
          'ProtectHome=tmpfs',
          'X-Sockunit-Sandbox=best-effort',
          '',
        ].join('\n'),
      ),
    );
    assert.deepEqual(s.restrictAddressFamilies, { allowList: true, names: ['AF_UNIX'] });
    assert.deepEqual(s.restrictNamespaces, { allowList: false, names: ['user', 'net'] });
    assert.deepEqual(s.readWritePaths, [
      { path: '/var/lib/x', missingOk: false },
      { path: '/opt/maybe', missingOk: true },
      { path: '/srv/with space', missingOk: false },
    ]);
    assert.deepEqual(s.bindReadOnlyPaths, [
      { source: '/etc/a', destination: '/etc/b', missingOk: false, recursive: false },
      { source: '/missing', destination: '/missing', missingOk: true, recursive: true },
    ]);
    assert.deepEqual(s.temporaryFileSystem, [{ path: '/var', options: 'ro,mode=0700' }]);
    assert.equal(s.protectSystem, 'strict');
    assert.equal(s.protectHome, 'tmpfs');
    assert.equal(s.bestEffort, true);
    assert.deepEqual(sandboxOf(typeText('RestrictNamespaces=yes\n')).restrictNamespaces, {
      allowList: true,
      names: [],
    });
    assert.equal(sandboxOf(typeText('RestrictNamespaces=no\n')).restrictNamespaces, undefined);
  });

  it('SystemCallLog=: groups expand, ~ logs all but these, a later list of the other kind removes', () => {
    const log = sandboxOf(typeText('SystemCallLog=@mount getpriority\n')).systemCallLog!;
    assert.equal(log.allowList, true);
    assert.ok(
      log.names.includes('mount') && log.names.includes('umount2') && log.names.includes('getpriority'),
    );
    const less = sandboxOf(typeText('SystemCallLog=@mount getpriority\nSystemCallLog=~getpriority\n'))
      .systemCallLog!;
    assert.ok(!less.names.includes('getpriority') && less.names.includes('mount'));
    assert.equal(sandboxOf(typeText('SystemCallLog=~@default\n')).systemCallLog!.allowList, false);
    assert.equal(sandboxOf(typeText('SystemCallLog=@mount\nSystemCallLog=\n')).systemCallLog, undefined);
    assert.equal(isSandboxed(sandboxOf(typeText('SystemCallLog=getpriority\n'))), true);
  });

  it('RootDirectory= implies MountAPIVFS= (systemd’s default), + paths are inside the root', () => {
    const s = sandboxOf(typeText('RootDirectory=/srv/root\nReadOnlyPaths=+/etc -+/opt /var\n'));
    assert.equal(serviceRoot(s), '/srv/root');
    assert.equal(mountsApiVfs(s), true, 'MountAPIVFS= defaults to yes with a root');
    assert.equal(needsMountNamespace(s), true);
    assert.deepEqual(s.readOnlyPaths, [
      { path: '/etc', missingOk: false, inRoot: true },
      { path: '/opt', missingOk: true, inRoot: true },
      { path: '/var', missingOk: false },
    ]);
    const bare = sandboxOf(typeText('RootDirectory=/srv/root\nMountAPIVFS=no\n'));
    assert.equal(mountsApiVfs(bare), false);
    assert.equal(needsMountNamespace(bare), false, 'a chroot alone needs no mount namespace');
    assert.equal(isSandboxed(bare), true);
    // Without a root, MountAPIVFS= changes nothing: the host's API file systems are there.
    assert.equal(isSandboxed(sandboxOf(typeText('MountAPIVFS=yes\n'))), false);
    assert.equal(serviceRoot(sandboxOf(typeText('RootDirectory=/\n'))), undefined);
  });

  it('bad values are warned at file:line, say what was expected, and are ignored', () => {
    const t = typeText(
      [
        'SystemCallFilter=@nonsense',
        'RestrictAddressFamilies=AF_BOGUS',
        'ReadOnlyPaths=relative/path',
        'ProtectSystem=sometimes',
        'SystemCallErrorNumber=ENOTANERRNO',
        'X-Sockunit-Sandbox=maybe',
        'RootDirectory=relative',
        'SystemCallLog=@nonsense',
        '',
      ].join('\n'),
    );
    assert.equal(t.loadState, 'loaded');
    assert.deepEqual(printed(t), [
      "warning /fixture/s.service:3: SystemCallFilter=@nonsense: unknown system call group '@nonsense'; see systemd-analyze syscall-filter; the line is ignored",
      "warning /fixture/s.service:4: RestrictAddressFamilies=AF_BOGUS: 'AF_BOGUS' is not an address family; expected names such as AF_UNIX AF_INET AF_INET6; the line is ignored",
      "warning /fixture/s.service:5: ReadOnlyPaths=relative/path: path 'relative/path' is not an absolute path; expected /path (or -/path, +/path); the line is ignored",
      "warning /fixture/s.service:6: ProtectSystem=sometimes: 'sometimes' is not valid; expected yes, no, full or strict; the line is ignored",
      "warning /fixture/s.service:7: SystemCallErrorNumber=ENOTANERRNO: 'ENOTANERRNO' is not an errno name; expected a name such as EPERM; the line is ignored",
      "warning /fixture/s.service:8: X-Sockunit-Sandbox=maybe: 'maybe' is not valid; expected strict or best-effort; the line is ignored",
      "warning /fixture/s.service:9: RootDirectory=relative: 'relative' is not an absolute path; expected a path starting with /; the line is ignored",
      "warning /fixture/s.service:10: SystemCallLog=@nonsense: unknown system call group '@nonsense'; see systemd-analyze syscall-filter; the line is ignored",
    ]);
  });
});

describe('mutation-tested: each sandboxing key sets its own field and nothing else, as systemd.exec(5) reads it', () => {
  const path = (p: string, missingOk = false) => ({ path: p, missingOk });
  const cases: [string, Partial<SandboxContext>][] = [
    ['PrivateDevices=yes', { privateDevices: true }],
    ['PrivateNetwork=yes', { privateNetwork: true }],
    ['PrivateTmp=yes', { privateTmp: 'yes' }],
    ['PrivateTmp=disconnected', { privateTmp: 'disconnected' }],
    ['PrivateTmp=no', {}],
    ['ProtectSystem=strict', { protectSystem: 'strict' }],
    ['ProtectSystem=full', { protectSystem: 'full' }],
    ['ProtectSystem=true', { protectSystem: 'yes' }],
    ['ProtectSystem=false', {}],
    ['ProtectHome=read-only', { protectHome: 'read-only' }],
    ['ProtectHome=tmpfs', { protectHome: 'tmpfs' }],
    ['ProtectHome=on', { protectHome: 'yes' }],
    ['ProtectHome=off', {}],
    ['ReadWritePaths=/a -/b', { readWritePaths: [path('/a'), path('/b', true)] }],
    ['ReadOnlyPaths=/a', { readOnlyPaths: [path('/a')] }],
    ['InaccessiblePaths=/a', { inaccessiblePaths: [path('/a')] }],
    ['ExecPaths=/a', { execPaths: [path('/a')] }],
    ['NoExecPaths=/a', { noExecPaths: [path('/a')] }],
    ['ReadWriteDirectories=/a', { readWritePaths: [path('/a')] }],
    ['ReadOnlyDirectories=/a', { readOnlyPaths: [path('/a')] }],
    ['InaccessibleDirectories=/a', { inaccessiblePaths: [path('/a')] }],
    [
      'BindPaths=/a:/b',
      { bindPaths: [{ source: '/a', destination: '/b', missingOk: false, recursive: true }] },
    ],
    [
      'BindReadOnlyPaths=/a',
      { bindReadOnlyPaths: [{ source: '/a', destination: '/a', missingOk: false, recursive: true }] },
    ],
    ['TemporaryFileSystem=/t:ro', { temporaryFileSystem: [{ path: '/t', options: 'ro' }] }],
    ['ProtectKernelTunables=yes', { protectKernelTunables: true }],
    ['ProtectKernelModules=yes', { protectKernelModules: true }],
    ['ProtectKernelLogs=yes', { protectKernelLogs: true }],
    ['ProtectControlGroups=yes', { protectControlGroups: true }],
    ['ProtectProc=invisible', { protectProc: 'invisible' }],
    ['ProcSubset=pid', { procSubset: 'pid' }],
    ['PrivateMounts=yes', { privateMounts: true }],
    ['PrivateIPC=yes', { privateIPC: true }],
    ['ProtectHostname=yes', { protectHostname: true }],
    ['ProtectClock=yes', { protectClock: true }],
    ['NetworkNamespacePath=/run/netns/x', { networkNamespacePath: '/run/netns/x' }],
    ['IPCNamespacePath=/run/ipc', { ipcNamespacePath: '/run/ipc' }],
    [
      'SystemCallFilter=@clock',
      {
        systemCallFilter: {
          allowList: true,
          entries: new Map(
            [
              'adjtimex',
              'clock_adjtime',
              'clock_adjtime64',
              'clock_settime',
              'clock_settime64',
              'settimeofday',
            ].map((c) => [c, undefined]),
          ),
        },
      },
    ],
    ['SystemCallErrorNumber=EPERM', { systemCallErrorNumber: 1 }],
    ['SystemCallArchitectures=native', { systemCallArchitectures: ['native'] }],
    ['RestrictAddressFamilies=AF_UNIX', { restrictAddressFamilies: { allowList: true, names: ['AF_UNIX'] } }],
    ['RestrictNamespaces=net', { restrictNamespaces: { allowList: true, names: ['net'] } }],
    ['RestrictRealtime=yes', { restrictRealtime: true }],
    ['RestrictSUIDSGID=yes', { restrictSUIDSGID: true }],
    ['LockPersonality=yes', { lockPersonality: true }],
    ['MemoryDenyWriteExecute=yes', { memoryDenyWriteExecute: true }],
  ];
  for (const [line, changed] of cases)
    it(line, () => {
      const t = typeText(`${line}\n`);
      assert.deepEqual(printed(t), []);
      assert.deepEqual(sandboxOf(t), { ...defaultSandboxContext(), ...changed });
    });
});
