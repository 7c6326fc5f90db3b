import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { formatDiagnostic } from '../src/unit/diagnostic.js';
import { formatListen } from '../src/unit/listen.js';
import { type LoadedUnit, loadUnit, loadUnitFromPaths } from '../src/unit/load-unit.js';
import type { ServiceUnitConfig } from '../src/unit/service-config.js';
import type { SocketUnitConfig } from '../src/unit/socket-config.js';

// Compiled to .test-build/test/, the fixtures stay in the source tree.
const FIXTURES = fileURLToPath(new URL('../../test/fixtures/units', import.meta.url));
const scratch = mkdtempSync(join(tmpdir(), 'sockunit-load-unit-'));
after(() => rmSync(scratch, { recursive: true, force: true }));

function socket(u: LoadedUnit): SocketUnitConfig {
  assert.equal(u.config?.type, 'socket', `${u.name}: ${u.diagnostics.map(formatDiagnostic).join('\n')}`);
  return u.config as SocketUnitConfig;
}
function service(u: LoadedUnit): ServiceUnitConfig {
  assert.equal(u.config?.type, 'service');
  return u.config as ServiceUnitConfig;
}
const problems = (u: LoadedUnit): string[] =>
  u.diagnostics.filter((d) => d.severity !== 'notice').map((d) => `${d.severity} ${formatDiagnostic(d)}`);

/** A directory of unit files for one test. */
function unitDir(name: string, files: Record<string, string>): string {
  const dir = join(scratch, name);
  mkdirSync(dir, { recursive: true });
  for (const [file, text] of Object.entries(files)) {
    mkdirSync(join(dir, file, '..'), { recursive: true });
    writeFileSync(join(dir, file), text);
  }
  return dir;
}

describe('loadUnit on the fixtures', () => {
  const load = (name: string): LoadedUnit => loadUnit(name, { searchPath: [FIXTURES] });

  it('applies drop-ins in order, the type-wide socket.d last, and keeps X- keys', () => {
    const u = load('web.socket');
    assert.equal(u.loadState, 'loaded');
    assert.deepEqual(problems(u), []);
    assert.deepEqual(
      u.dropIns.map((p) => p.slice(FIXTURES.length + 1)),
      ['web.socket.d/10-tuning.conf', 'web.socket.d/20-limits.conf', 'socket.d/50-all-sockets.conf'],
    );
    const c = socket(u);
    assert.deepEqual(c.socket.listen.map(formatListen), ['[::]:8080', '0.0.0.0:8080', '[::1]:8443']);
    assert.equal(c.socket.bindIPv6Only, 'ipv6-only');
    assert.equal(c.socket.backlog, 512);
    assert.equal(c.socket.triggerLimitBurst, 50);
    assert.equal(c.socket.socketMode, 0o660);
    assert.equal(c.socket.fileDescriptorName, 'http');
    assert.equal(c.triggers, 'webapp.service');
    assert.equal(c.unit.description, 'Web front end (web.socket)');
    assert.deepEqual(
      u.unknownXKeys.map((e) => `${e.key}=${e.value}`),
      ['X-Sockunit-Note=kept for the manager'],
    );
  });

  it('Accept=yes with a template service, %t expanded', () => {
    const u = load('echo.socket');
    assert.equal(u.loadState, 'loaded');
    assert.deepEqual(problems(u), []);
    const c = socket(u);
    assert.equal(c.socket.accept, true);
    assert.equal(c.triggers, 'echo@.service');
    assert.deepEqual(c.socket.listen.map(formatListen), ['/run/sockunit-fixture/echo.sock']);
    assert.deepEqual(c.socket.symlinks, ['/run/sockunit-fixture/echo-link.sock']);
    assert.equal(c.socket.maxConnections, 16);
  });

  it('abstract, netlink, special, FIFO and message-queue ports', () => {
    assert.deepEqual(socket(load('abstract.socket')).socket.listen.map(formatListen), [
      '@sockunit-fixture-abstract',
      '@sockunit-fixture-seqpacket',
      '/run/sockunit-fixture/dgram.sock',
    ]);
    assert.deepEqual(socket(load('uevent.socket')).socket.listen, [
      { kind: 'netlink', family: 'kobject-uevent', protocol: 15, group: 1 },
    ]);
    assert.deepEqual(
      socket(load('kmsg.socket')).socket.listen.map((l) => l.kind),
      ['special', 'fifo', 'mqueue'],
    );
  });

  it('SocketProtocol=mptcp with the sockunit fall-back key', () => {
    const c = socket(load('mptcp.socket'));
    assert.equal(c.socket.socketProtocol, 'mptcp');
    assert.equal(c.socket.mptcpFallback, true);
    assert.deepEqual(problems(load('mptcp.socket')), []);
  });

  it('a service with sandboxing and resource-control keys loads them, none reported as not enforced', () => {
    const u = load('webapp.service');
    assert.equal(u.loadState, 'loaded');
    assert.equal(service(u).sandbox.protectSystem, 'strict');
    assert.equal(service(u).sandbox.privateTmp, 'yes');
    assert.deepEqual(
      service(u).notEnforced.map((n) => `${n.key}=${n.value}`),
      [],
    );
    assert.equal(u.diagnostics.filter((d) => d.severity === 'notice').length, 0);
  });

  it('a template loaded by name is typed as systemd-analyze does, with test_instance', () => {
    const u = load('echo@.service');
    assert.equal(u.loadState, 'loaded');
    assert.equal(service(u).unit.description, 'Echo for test_instance');
  });

  it('an instance is read from its template', () => {
    const u = load('echo@0-1-127.0.0.1:7-127.0.0.1:9.service');
    assert.equal(u.loadState, 'loaded');
    assert.equal(service(u).unit.description, 'Echo for 0-1-127.0.0.1:7-127.0.0.1:9');
    assert.equal(service(u).exec.standardInput, 'socket');
  });

  it('loadUnitFromPaths finds drop-ins and siblings next to the file', () => {
    const [u] = loadUnitFromPaths([join(FIXTURES, 'web.socket')]);
    assert.equal(u?.loadState, 'loaded');
    assert.equal(u?.dropIns.length, 3);
  });
});

describe('loadUnit states and cross-unit checks', () => {
  it('not-found', () => {
    const dir = unitDir('empty', {});
    const u = loadUnit('nope.socket', { searchPath: [dir] });
    assert.equal(u.loadState, 'not-found');
    assert.equal(u.config, undefined);
  });

  it('masked by a link to /dev/null', () => {
    const dir = unitDir('masked', {});
    symlinkSync('/dev/null', join(dir, 'm.socket'));
    assert.equal(loadUnit('m.socket', { searchPath: [dir] }).loadState, 'masked');
  });

  it('a malformed section header is an error for that unit only', () => {
    const dir = unitDir('fatal', {
      'f.socket': '[Socket]x\nListenStream=1\n',
      'g.socket': '[Socket]\nListenStream=2\n',
    });
    assert.equal(loadUnit('f.socket', { searchPath: [dir] }).loadState, 'error');
    assert.equal(loadUnit('g.socket', { searchPath: [dir] }).loadState, 'loaded');
  });

  it('Accept=yes without the template service is bad-setting', () => {
    const dir = unitDir('notemplate', { 'a.socket': '[Socket]\nListenStream=1\nAccept=yes\n' });
    const u = loadUnit('a.socket', { searchPath: [dir] });
    assert.equal(u.loadState, 'bad-setting');
    assert.deepEqual(problems(u), [
      `error ${dir}/a.socket:3: Accept=yes: Accept=yes starts an instance of a@.service per connection, but no such template was found; expected a file a@.service next to the socket or on the unit path`,
    ]);
  });

  it('Accept=no with its service missing only warns', () => {
    const dir = unitDir('noservice', { 'a.socket': '[Socket]\nListenStream=1\n' });
    const u = loadUnit('a.socket', { searchPath: [dir] });
    assert.equal(u.loadState, 'loaded');
    assert.deepEqual(problems(u), [
      `warning ${dir}/a.socket: the service this socket starts, a.service, was not found; expected a.service next to the socket or on the unit path`,
    ]);
  });

  it('an invalid unit name is an error, not an exception', () => {
    const u = loadUnit('no-suffix', { searchPath: [scratch] });
    assert.equal(u.loadState, 'error');
    assert.match(u.diagnostics[0]?.message ?? '', /not a valid unit name/);
  });
});

describe('mutation-tested: unit types, dependency directories, the service a socket starts, hints', () => {
  it('only .socket, .service and .target are read; a .timer is bad-setting, with why', () => {
    const dir = unitDir('types', { 'x.timer': '[Timer]\nOnCalendar=daily\n' });
    const u = loadUnit('x.timer', { searchPath: [dir] });
    assert.equal(u.loadState, 'bad-setting');
    assert.equal(u.config, undefined);
    assert.deepEqual(problems(u), [
      `error ${dir}/x.timer: sockunit reads only .socket, .service and .target units, not .timer; expected one of those`,
    ]);
  });

  it('a .target has only [Unit] and [Install]', () => {
    const dir = unitDir('target', {
      'multi-user.target':
        '[Unit]\nDescription=Multi\nWants=web.service\n[Install]\nAlias=default.target\n[Service]\nExecStart=/bin/true\n',
    });
    const u = loadUnit('multi-user.target', { searchPath: [dir] });
    assert.equal(u.loadState, 'loaded');
    assert.deepEqual(problems(u), [
      `warning ${dir}/multi-user.target:6: Unknown section [Service], ignoring its lines; expected [Unit], [Install]`,
    ]);
    assert.equal(u.config?.type, 'target');
    assert.equal(u.config?.name, 'multi-user.target');
    assert.equal(u.config?.unit.description, 'Multi');
    assert.deepEqual(u.config?.install.alias, ['default.target']);
    assert.deepEqual(u.config?.notEnforced, []);
  });

  it("NAME.wants/, .requires/, .upholds/ on every search directory, an alias's and a template's, add their units once each", () => {
    const dir = unitDir('depdirs', {
      'web.service': '[Unit]\nWants=b.service\n[Service]\nExecStart=/bin/true\n',
      'getty@.service': '[Service]\nExecStart=/bin/true\n',
      'web.service.wants/b.service': '',
      'web.service.wants/a.service': '',
      'web.service.wants/README': '',
      'web.service.requires/r.service': '',
      'web.service.upholds/u.service': '',
      'www.service.wants/c.service': '',
      'getty@.service.wants/t.service': '',
      'getty@tty1.service.wants/i.service': '',
    });
    const second = unitDir('depdirs2', {
      'web.service.wants/z.service': '',
      'web.service.wants/a.service': '',
    });
    symlinkSync('web.service', join(dir, 'www.service'));
    const deps = (name: string) => {
      const u = loadUnit(name, { searchPath: [dir, second] });
      assert.equal(u.loadState, 'loaded', name);
      const { wants, requires, upholds } = (u.config as ServiceUnitConfig).unit;
      return { wants, requires, upholds };
    };
    assert.deepEqual(deps('web.service'), {
      wants: ['b.service', 'a.service', 'z.service'],
      requires: ['r.service'],
      upholds: ['u.service'],
    });
    assert.deepEqual(deps('www.service').wants, ['b.service', 'a.service', 'c.service', 'z.service']);
    assert.deepEqual(deps('getty@tty1.service'), {
      wants: ['i.service', 't.service'],
      requires: [],
      upholds: [],
    });
  });

  it('the service a socket starts, masked: a warning for Accept=no, an error for Accept=yes', () => {
    const dir = unitDir('masked-service', {
      's.socket': '[Socket]\nListenStream=1\nService=gone.service\n',
      'm.socket': '[Socket]\nListenStream=1\nAccept=yes\n',
      'real.service': '[Service]\nExecStart=/bin/true\n',
      'linked.socket': '[Socket]\nListenStream=1\nService=alias.service\n',
    });
    symlinkSync('/dev/null', join(dir, 'gone.service'));
    symlinkSync('/dev/null', join(dir, 'm@.service'));
    symlinkSync('real.service', join(dir, 'alias.service'));
    const s = loadUnit('s.socket', { searchPath: [dir] });
    assert.equal(s.loadState, 'loaded');
    assert.deepEqual(problems(s), [
      `warning ${dir}/s.socket:3: Service=gone.service: the service this socket starts, gone.service, is masked; expected gone.service next to the socket or on the unit path`,
    ]);
    const m = loadUnit('m.socket', { searchPath: [dir] });
    assert.equal(m.loadState, 'bad-setting');
    assert.deepEqual(problems(m), [
      `error ${dir}/m.socket:3: Accept=yes: Accept=yes starts an instance of m@.service per connection, but it is masked; expected a file m@.service next to the socket or on the unit path`,
    ]);
    assert.deepEqual(
      problems(loadUnit('linked.socket', { searchPath: [dir] })),
      [],
      'an alias link is found',
    );
  });

  it('an unknown section or key says what was meant: a near name, the section a key belongs in, or the sections there are', () => {
    const dir = unitDir('hints', {
      'hints.socket':
        '[Sockett]\nListenStream=1\n[Foo]\nA=1\n[Foo]\nB=2\n[Unit]\nListenStream=2\n[Socket]\nListenStream=3\nAcept=yes\nDescription=x\nZzzzzz=1\n',
      'hints.service': '[Service]\nExecStart=/bin/true\n',
    });
    assert.deepEqual(problems(loadUnit('hints.socket', { searchPath: [dir] })), [
      `warning ${dir}/hints.socket:1: Unknown section [Sockett], ignoring its lines; did you mean [Socket]?`,
      `warning ${dir}/hints.socket:3: Unknown section [Foo], ignoring its lines; expected [Unit], [Socket], [Install]`,
      `warning ${dir}/hints.socket:8: Unknown key name 'ListenStream' in section [Unit], ignoring; ListenStream= belongs in [Socket]`,
      `warning ${dir}/hints.socket:11: Unknown key name 'Acept' in section [Socket], ignoring; did you mean Accept=?`,
      `warning ${dir}/hints.socket:12: Unknown key name 'Description' in section [Socket], ignoring; Description= belongs in [Unit]`,
      `warning ${dir}/hints.socket:13: Unknown key name 'Zzzzzz' in section [Socket], ignoring`,
    ]);
  });

  it("specifiers follow the manager: %t is /run for the system's, $XDG_RUNTIME_DIR for a user's", () => {
    const dir = unitDir('manager-kind', { 'spec.socket': '[Socket]\nListenStream=%t/x.sock\n' });
    const saved = process.env.XDG_RUNTIME_DIR;
    process.env.XDG_RUNTIME_DIR = '/run/user/4242';
    try {
      const path = (u: LoadedUnit) => formatListen(socket(u).socket.listen[0] as never);
      assert.equal(path(loadUnit('spec.socket', { searchPath: [dir] })), '/run/x.sock');
      assert.equal(
        path(loadUnit('spec.socket', { searchPath: [dir], manager: 'user' })),
        '/run/user/4242/x.sock',
      );
      assert.equal(path(loadUnitFromPaths([join(dir, 'spec.socket')])[0] as LoadedUnit), '/run/x.sock');
      assert.equal(
        path(loadUnitFromPaths([join(dir, 'spec.socket')], { manager: 'user' })[0] as LoadedUnit),
        '/run/user/4242/x.sock',
      );
    } finally {
      if (saved === undefined) delete process.env.XDG_RUNTIME_DIR;
      else process.env.XDG_RUNTIME_DIR = saved;
    }
  });

  it('an invalid unit name: loadState error with one error diagnostic and nothing else', () => {
    const u = loadUnit('no-suffix', { searchPath: [scratch] });
    assert.deepEqual(
      { ...u, diagnostics: u.diagnostics.map((d) => `${d.severity} ${formatDiagnostic(d)}`) },
      {
        name: 'no-suffix',
        loadState: 'error',
        dropIns: [],
        unknownXKeys: [],
        diagnostics: [
          "error no-suffix: 'no-suffix' is not a valid unit name; expected NAME.socket, NAME.service or NAME.target",
        ],
      },
    );
  });
});
