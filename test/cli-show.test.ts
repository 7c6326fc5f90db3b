import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

const BIN = fileURLToPath(new URL('../src/cli/bin.js', import.meta.url));
const FIXTURES = fileURLToPath(new URL('../../test/fixtures/units', import.meta.url));

function sockunit(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', timeout: 30_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('sockunit show', () => {
  it('prints selected properties, defaults included', () => {
    const r = sockunit(
      'show',
      '--unit-path',
      FIXTURES,
      '--property',
      'ListenStream,Backlog,Accept',
      '--property',
      'TriggerLimitBurst',
      '--property',
      'MaxConnections',
      '--property',
      'Triggers',
      'web.socket',
    );
    assert.equal(r.status, 0, r.stderr);
    assert.equal(
      r.stdout,
      [
        'Triggers=webapp.service',
        'ListenStream=[::]:8080',
        'ListenStream=0.0.0.0:8080',
        'ListenStream=[::1]:8443',
        'Backlog=512',
        'Accept=no',
        'MaxConnections=64',
        'TriggerLimitBurst=50',
        '',
      ].join('\n'),
    );
  });

  it('prints every typed key of a service and what it does not enforce', () => {
    const r = sockunit('show', '--unit-path', FIXTURES, 'webapp.service');
    assert.equal(r.status, 0, r.stderr);
    const lines = new Set(r.stdout.split('\n'));
    for (const l of [
      'Id=webapp.service',
      'LoadState=loaded',
      'Type=notify',
      'ExecStart=/usr/bin/env WEB_ROOT=/srv node /srv/app.js --port 8080',
      'Environment="GREETING=hello world" MODE=prod',
      'EnvironmentFile=-/etc/default/webapp',
      'WorkingDirectory=-/srv',
      'NotifyAccess=main',
      'RestartSec=2s',
      'TimeoutStartSec=1min 30s',
      'TimeoutStopSec=10s',
      'KillSignal=SIGTERM',
      'UMask=0022',
      'ProtectSystem=strict',
      'PrivateTmp=yes',
      'NotEnforced=MemoryMax',
    ]) {
      assert.ok(lines.has(l), `missing ${l} in:\n${r.stdout}`);
    }
  });

  it('exits 1 for a unit that is not found', () => {
    const r = sockunit('show', '-p', FIXTURES, '--property', 'LoadState', 'missing.socket');
    assert.equal(r.status, 1);
    assert.equal(r.stdout, 'LoadState=not-found\n');
  });

  it("-p is --unit-path as in every command; systemctl's -p KEY gets a message that names --property", () => {
    const r = sockunit('show', '-p', 'ListenStream', 'web.socket');
    assert.equal(r.status, 2);
    assert.match(
      r.stderr,
      /^sockunit show: -p ListenStream: -p is --unit-path \(as in every sockunit command\); for the property use --property ListenStream\nUsage: sockunit show /,
    );
  });
});
