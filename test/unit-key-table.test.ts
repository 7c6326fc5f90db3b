import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
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

  it('marks sandboxing and cgroup keys as not enforced, with a reason', () => {
    for (const k of ['ProtectSystem', 'PrivateTmp', 'MemoryMax', 'CPUQuota', 'SystemCallFilter']) {
      const def = findKey(SERVICE_TABLE, 'Service', k);
      assert.equal(def?.enforcement.enforced, false, k);
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
      ['AcceptFileDescriptors', 'DeferTrigger', 'DeferTriggerMaxSec', 'PassPIDFD'],
    );
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
