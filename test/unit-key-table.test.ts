import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import {
  findKey,
  isNewerThanBaseline,
  renderKeyReference,
  SERVICE_TABLE,
  SOCKET_TABLE,
} from '../src/unit/key-table.js';

const KEYS_DOC = fileURLToPath(new URL('../../docs/keys.md', import.meta.url));
const SRC = fileURLToPath(new URL('../../src', import.meta.url));

/** The source that acts on a parsed unit: everything but the key tables and the config types
 * and defaults (where every field is named whether it is used or not). */
function actingSource(dir = SRC): string {
  let text = '';
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) {
      if (path !== join(SRC, 'unit', 'keys')) text += actingSource(path);
      continue;
    }
    if (!name.endsWith('.ts') || CONFIG_TYPES.has(path.slice(SRC.length + 1))) continue;
    text += readFileSync(path, 'utf8');
  }
  return text;
}
const CONFIG_TYPES = new Set([
  'unit/socket-config.ts',
  'unit/service-config.ts',
  'unit/target-config.ts',
  'unit/unit-section.ts',
  'unit/exec-context.ts',
  'unit/install-section.ts',
]);

// Every [Socket] key of systemd 258 (load-fragment-gperf.gperf.in), outside the exec/kill/cgroup sets.
const SYSTEMD_SOCKET_KEYS = [
  'ListenStream',
  'ListenDatagram',
  'ListenSequentialPacket',
  'ListenFIFO',
  'ListenNetlink',
  'ListenSpecial',
  'ListenMessageQueue',
  'ListenUSBFunction',
  'SocketProtocol',
  'BindIPv6Only',
  'Backlog',
  'BindToDevice',
  'ExecStartPre',
  'ExecStartPost',
  'ExecStopPre',
  'ExecStopPost',
  'TimeoutSec',
  'SocketUser',
  'SocketGroup',
  'SocketMode',
  'DirectoryMode',
  'Accept',
  'FlushPending',
  'Writable',
  'MaxConnections',
  'MaxConnectionsPerSource',
  'KeepAlive',
  'KeepAliveTimeSec',
  'KeepAliveIntervalSec',
  'KeepAliveProbes',
  'DeferAcceptSec',
  'NoDelay',
  'Priority',
  'ReceiveBuffer',
  'SendBuffer',
  'IPTOS',
  'IPTTL',
  'Mark',
  'PipeSize',
  'FreeBind',
  'Transparent',
  'Broadcast',
  'PassCredentials',
  'PassPIDFD',
  'PassSecurity',
  'PassPacketInfo',
  'AcceptFileDescriptors',
  'Timestamping',
  'TCPCongestion',
  'ReusePort',
  'MessageQueueMaxMessages',
  'MessageQueueMessageSize',
  'RemoveOnStop',
  'Symlinks',
  'FileDescriptorName',
  'Service',
  'PassFileDescriptorsToExec',
  'TriggerLimitIntervalSec',
  'TriggerLimitBurst',
  'PollLimitIntervalSec',
  'PollLimitBurst',
  'DeferTrigger',
  'DeferTriggerMaxSec',
  'SmackLabel',
  'SmackLabelIPIn',
  'SmackLabelIPOut',
  'SELinuxContextFromNet',
];

describe('key table', () => {
  it('knows every [Socket] key of systemd 258, and the exec/kill/cgroup keys in both sections', () => {
    for (const k of SYSTEMD_SOCKET_KEYS) assert.ok(findKey(SOCKET_TABLE, 'Socket', k), k);
    for (const k of ['User', 'KillMode', 'ProtectSystem', 'MemoryMax', 'LimitNOFILE', 'Environment']) {
      assert.ok(findKey(SOCKET_TABLE, 'Socket', k), `Socket.${k}`);
      assert.ok(findKey(SERVICE_TABLE, 'Service', k), `Service.${k}`);
    }
  });

  it('enforces sandboxing keys in [Service] only, and marks cgroup keys as not enforced, with a reason', () => {
    for (const k of ['MemoryMax', 'CPUQuota', 'PrivateUsers', 'PrivatePIDs']) {
      const def = findKey(SERVICE_TABLE, 'Service', k);
      assert.equal(def?.enforcement.enforced, false, k);
    }
    for (const k of ['ProtectSystem', 'PrivateTmp', 'SystemCallFilter', 'RestrictAddressFamilies']) {
      assert.equal(findKey(SERVICE_TABLE, 'Service', k)?.enforcement.enforced, true, k);
      assert.equal(findKey(SOCKET_TABLE, 'Socket', k)?.enforcement.enforced, false, `[Socket] ${k}`);
    }
    for (const k of ['ExecStart', 'Type', 'Restart', 'NonBlocking', 'Sockets']) {
      assert.equal(findKey(SERVICE_TABLE, 'Service', k)?.enforcement.enforced, true, k);
    }
  });

  it('flags the keys systemd 257 lacks', () => {
    assert.deepEqual(
      SOCKET_TABLE.keys
        .filter((k) => isNewerThanBaseline(k) && k.section === 'Socket' && k.enforcement.enforced)
        .map((k) => k.name)
        .sort(),
      ['AcceptFileDescriptors', 'PassPIDFD'],
    );
  });

  // The audit of honesty: a key verify accepts without a "not enforced" notice must be read by
  // the code that runs units. A field only the parser writes is a key parsed and ignored.
  it('every enforced key is read by the code that acts on units', () => {
    const source = actingSource();
    const ignored: string[] = [];
    for (const table of [SOCKET_TABLE, SERVICE_TABLE])
      for (const k of table.keys)
        if (k.enforcement.enforced && k.field && !new RegExp(`\\b${k.field}\\b`).test(source))
          ignored.push(`${k.section}.${k.name} (${k.field})`);
    assert.deepEqual([...new Set(ignored)], []);
  });

  it("marks a socket unit's own commands and what shapes them as not enforced", () => {
    for (const k of [
      'ExecStartPre',
      'ExecStopPost',
      'TimeoutSec',
      'User',
      'KillSignal',
      'Environment',
      'FlushPending',
      'DeferTrigger',
    ])
      assert.equal(findKey(SOCKET_TABLE, 'Socket', k)?.enforcement.enforced, false, `Socket.${k}`);
    for (const k of ['User', 'KillSignal', 'Environment', 'RestartKillSignal', 'SendSIGHUP', 'RuntimeMaxSec'])
      assert.equal(findKey(SERVICE_TABLE, 'Service', k)?.enforcement.enforced, true, `Service.${k}`);
    assert.equal(findKey(SERVICE_TABLE, 'Service', 'BusName')?.enforcement.enforced, false);
  });

  it('docs/keys.md is generated from the table (UPDATE_KEYS_DOC=1 rewrites it)', () => {
    const rendered = renderKeyReference();
    if (process.env.UPDATE_KEYS_DOC === '1') writeFileSync(KEYS_DOC, rendered);
    assert.equal(
      readFileSync(KEYS_DOC, 'utf8'),
      rendered,
      'docs/keys.md is stale: run UPDATE_KEYS_DOC=1 node --test .test-build/test/unit-key-table.test.js',
    );
  });
});
