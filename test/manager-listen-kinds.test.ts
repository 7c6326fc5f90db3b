// Every Listen*= kind and SocketProtocol= opened for real by `sockunit run`, checked from outside
// (ss, the file system) and from inside a service that inspects its fds with getsockopt through
// libsystemd's sd_listen_fds_with_names (an MPTCP listener reports protocol 262).

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import {
  connectTcp,
  freePort,
  ManagerProcess,
  pythonSystemdUnavailable,
  REPORT_PY,
  type Report,
  readReport,
  SYSTEM_PYTHON,
  ss,
  tempDir,
} from './fixtures/manager/harness.js';
import { messageQueueExists } from './helpers/mqueue.js';

const AF_UNIX = 1;
const AF_INET = 2;
const AF_INET6 = 10;
const AF_NETLINK = 16;
const SOCK_STREAM = 1;
const SOCK_DGRAM = 2;
const SOCK_RAW = 3;
const SOCK_SEQPACKET = 5;
const IPPROTO_TCP = 6;
const IPPROTO_UDP = 17;
const IPPROTO_UDPLITE = 136;
const IPPROTO_MPTCP = 262;

/** Whether the POSIX message queue `name` exists, asked with mq_open(3) (which needs no
 * /dev/mqueue mount, unlike a look at the file system). */
describe('sockunit run: every Listen kind, opened for real', () => {
  const dir = tempDir('kinds');
  const abstract = `sockunit-kinds-${process.pid}`;
  const mqName = `/sockunit-kinds-${process.pid}`;
  let manager: ManagerProcess;
  const ports = { tcp: 0, udp: 0, mptcp4: 0, mptcp6: 0, udplite: 0, sctp: 0, bare: 0, v6only: 0 };
  const service = (name: string) =>
    `[Service]\nExecStart=${SYSTEM_PYTHON} ${dir}/report.py ${dir}/${name}.json --stay\n`;

  before(async () => {
    for (const key of Object.keys(ports) as (keyof typeof ports)[]) ports[key] = await freePort();
    ports.mptcp6 = await freePort('::1');
    ports.bare = await freePort('::');
    ports.v6only = await freePort('::');
    writeFileSync(join(dir, 'report.py'), REPORT_PY);
    manager = await ManagerProcess.start({
      dir,
      units: {
        'kinds.socket': [
          '[Socket]',
          `ListenStream=127.0.0.1:${ports.tcp}`,
          `ListenStream=${dir}/stream.sock`,
          `ListenStream=@${abstract}`,
          `ListenDatagram=127.0.0.1:${ports.udp}`,
          `ListenDatagram=${dir}/dgram.sock`,
          `ListenSequentialPacket=${dir}/seq.sock`,
          `ListenFIFO=${dir}/fifo`,
          // A character device epoll accepts and that stays quiet until someone opens its pty.
          'ListenSpecial=/dev/ptmx',
          'ListenNetlink=route 0',
          `ListenMessageQueue=${mqName}`,
          'FileDescriptorName=kinds',
          'RemoveOnStop=yes',
          '',
        ].join('\n'),
        'kinds.service': service('kinds'),
        'mptcp.socket': `[Socket]\nListenStream=127.0.0.1:${ports.mptcp4}\nListenStream=[::1]:${ports.mptcp6}\nSocketProtocol=mptcp\n`,
        'mptcp.service': service('mptcp'),
        'udplite.socket': `[Socket]\nListenDatagram=127.0.0.1:${ports.udplite}\nSocketProtocol=udplite\n`,
        'udplite.service': service('udplite'),
        'sctp.socket': `[Socket]\nListenStream=127.0.0.1:${ports.sctp}\nSocketProtocol=sctp\n`,
        'sctp.service': service('sctp'),
        'modes.socket': [
          '[Socket]',
          `ListenStream=${dir}/sub/m.sock`,
          `ListenFIFO=${dir}/sub/m.fifo`,
          'SocketMode=0620',
          'DirectoryMode=0710',
          'SocketUser=nobody',
          '',
        ].join('\n'),
        'modes.service': service('modes'),
        // A bare port binds [::] dual-stack; BindIPv6Only=ipv6-only keeps IPv4 out.
        'bare.socket': `[Socket]\nListenStream=${ports.bare}\n`,
        'bare.service': service('bare'),
        'v6only.socket': `[Socket]\nListenStream=${ports.v6only}\nBindIPv6Only=ipv6-only\n`,
        'v6only.service': service('v6only'),
        // epoll refuses /dev/null: systemd fails such a unit ("Failed to watch listening fds").
        'null.socket': '[Socket]\nListenSpecial=/dev/null\n',
        'null.service': '[Service]\nExecStart=/bin/true\n',
      },
    });
  });

  after(async () => {
    await manager?.dispose();
  });

  test('the listeners are visible from outside before any service runs', () => {
    const pid = `pid=${manager.pid},`;
    const tcp = ss('-Hltnp');
    assert.ok(
      tcp.split('\n').some((l) => l.includes(`127.0.0.1:${ports.tcp} `) && l.includes(pid)),
      `TCP listener on ${ports.tcp}:\n${tcp}`,
    );
    const mptcp = ss('-HlnMp');
    assert.ok(mptcp.includes(`127.0.0.1:${ports.mptcp4} `), `ss -M shows the MPTCP v4 listener:\n${mptcp}`);
    assert.ok(mptcp.includes(`[::1]:${ports.mptcp6} `), `ss -M shows the MPTCP v6 listener:\n${mptcp}`);
    const udp = ss('-Hlunp');
    assert.ok(udp.includes(`127.0.0.1:${ports.udp} `), `UDP socket bound:\n${udp}`);
    const unix = ss('-Hxlp');
    for (const name of [`${dir}/stream.sock`, `@${abstract}`, `${dir}/seq.sock`, `${dir}/dgram.sock`])
      assert.ok(unix.includes(`${name} `), `ss -x shows ${name}:\n${unix}`);
    assert.ok(statSync(`${dir}/stream.sock`).isSocket());
    assert.ok(statSync(`${dir}/fifo`).isFIFO(), 'ListenFIFO= created a FIFO');
    assert.equal(messageQueueExists(mqName), true, 'the message queue exists');
    assert.ok(manager.matching(/^Listening on kinds\.socket/).length === 10, manager.log);
  });

  test('Listen lines are labelled as systemd lists them (netlink: family group)', () => {
    assert.ok(
      manager.matching(/^Listening on kinds\.socket \(Netlink route 0\)\.$/).length === 1,
      manager.log,
    );
    assert.ok(manager.matching(/^Listening on kinds\.socket \(FIFO /).length === 1, manager.log);
  });

  test('SocketMode=, DirectoryMode= and SocketUser= shape the files', (t) => {
    if (process.getuid?.() !== 0) return t.skip('SocketUser= needs root to chown');
    const sock = statSync(`${dir}/sub/m.sock`);
    assert.equal(sock.mode & 0o777, 0o620);
    assert.equal(sock.uid, 65534, 'owned by nobody');
    assert.equal(statSync(`${dir}/sub/m.fifo`).mode & 0o777, 0o620);
    assert.equal(statSync(`${dir}/sub`).mode & 0o777, 0o710, 'DirectoryMode= for the created directory');
  });

  test('a bare port is dual-stack [::]; BindIPv6Only=ipv6-only refuses IPv4', async () => {
    const listening = ss('-Hltn');
    assert.ok(listening.includes(`[::]:${ports.bare} `) || listening.includes(`*:${ports.bare} `), listening);
    (await connectTcp(ports.v6only, '::1')).destroy();
    await assert.rejects(connectTcp(ports.v6only, '127.0.0.1'), { code: 'ECONNREFUSED' });
    (await connectTcp(ports.bare, '127.0.0.1')).destroy();
    const r = await readReport(`${dir}/bare.json`);
    assert.deepEqual(
      r.fds.map((f) => f.family),
      [AF_INET6],
    );
  });

  test('the service gets all ten fds in Listen order, with the kinds and protocols asked for', async (t) => {
    const client = await connectTcp(ports.tcp);
    const r: Report = await readReport(`${dir}/kinds.json`);
    client.destroy();
    await t.test('libsystemd (python3-systemd) read the fds', (st) => {
      const why = pythonSystemdUnavailable();
      if (why) return st.skip(why);
      assert.equal(r.via, 'libsystemd');
    });
    assert.equal(r.listen_pid, String(r.pid));
    assert.equal(r.fdnames, Array(10).fill('kinds').join(':'));
    const shape = r.fds.map((f) => [f.fd, f.kind, f.family, f.type, f.protocol, f.listening]);
    assert.deepEqual(shape, [
      [3, 'socket', AF_INET, SOCK_STREAM, IPPROTO_TCP, 1],
      [4, 'socket', AF_UNIX, SOCK_STREAM, 0, 1],
      [5, 'socket', AF_UNIX, SOCK_STREAM, 0, 1],
      [6, 'socket', AF_INET, SOCK_DGRAM, IPPROTO_UDP, 0],
      [7, 'socket', AF_UNIX, SOCK_DGRAM, 0, 0],
      [8, 'socket', AF_UNIX, SOCK_SEQPACKET, 0, 1],
      [9, 'fifo', undefined, undefined, undefined, undefined],
      [10, 'char', undefined, undefined, undefined, undefined],
      [11, 'socket', AF_NETLINK, SOCK_RAW, 0, 0],
      [12, 'other', undefined, undefined, undefined, undefined],
    ]);
  });

  test('MPTCP v4 and v6 listeners report protocol 262 inside the service', async () => {
    const client = await connectTcp(ports.mptcp6, '::1');
    const r = await readReport(`${dir}/mptcp.json`);
    client.destroy();
    assert.deepEqual(
      r.fds.map((f) => [f.family, f.type, f.protocol, f.listening]),
      [
        [AF_INET, SOCK_STREAM, IPPROTO_MPTCP, 1],
        [AF_INET6, SOCK_STREAM, IPPROTO_MPTCP, 1],
      ],
    );
    assert.ok(manager.matching(/^Listening on mptcp\.socket \(MPTCP /).length === 2, manager.log);
  });

  test('UDP-Lite: a datagram triggers the service, which sees protocol 136', async () => {
    execFileSync(SYSTEM_PYTHON, [
      '-c',
      `import socket; socket.socket(socket.AF_INET, socket.SOCK_DGRAM, 136).sendto(b"x", ("127.0.0.1", ${ports.udplite}))`,
    ]);
    const r = await readReport(`${dir}/udplite.json`);
    assert.deepEqual(
      r.fds.map((f) => [f.family, f.type, f.protocol]),
      [[AF_INET, SOCK_DGRAM, IPPROTO_UDPLITE]],
    );
  });

  test('SCTP listens where the kernel has it', (t) => {
    const failed = manager.matching(/^sctp\.socket: Failed to create listening socket/);
    if (failed.length > 0) {
      assert.match(failed[0] as string, /EPROTONOSUPPORT|ESOCKTNOSUPPORT/, 'fails for want of SCTP only');
      return t.skip(`SCTP is not available in this kernel: ${failed[0]}`);
    }
    assert.ok(manager.matching(/^Listening on sctp\.socket \(SCTP /).length === 1, manager.log);
  });

  test('ListenSpecial=/dev/null fails its unit alone, saying why', () => {
    assert.ok(
      manager.matching(/^null\.socket: Failed to watch listening fds: .*cannot be polled/).length === 1,
      manager.log,
    );
    assert.ok(manager.matching(/^null\.socket: Failed with result 'resources'\.$/).length === 1);
  });

  test('SIGTERM: exit 0, RemoveOnStop= removes the socket files, FIFO and message queue', async () => {
    const { code } = await manager.stop('SIGTERM');
    assert.equal(code, 0, manager.log);
    for (const p of ['stream.sock', 'dgram.sock', 'seq.sock', 'fifo'])
      assert.equal(existsSync(join(dir, p)), false, `${p} removed`);
    assert.equal(messageQueueExists(mqName), false, 'queue removed');
    assert.equal(ss('-Hxl').includes(`@${abstract} `), false, 'abstract socket closed');
  });
});
