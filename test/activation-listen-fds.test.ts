// listenFds() in real services: started by Debian's systemd-socket-activate (systemd 252), or
// with fds at 3.. and LISTEN_* set the way a manager does, including every malformed input.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import dgram from 'node:dgram';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { Agent, isMultipath } from '../src/mptcp/index.js';
import { AF_INET, IPPROTO_MPTCP, IPPROTO_TCP, SOCK_STREAM } from '../src/sys/constants.js';
import { bind, close, type Fd, getsockname, listen, socket } from '../src/sys/socket.js';
import { httpGet, SOCKET_ACTIVATE, socketActivate, spawnWithFds } from './fixtures/activation/harness.js';

// biome-ignore lint/suspicious/noExplicitAny: JSON reports from the child, checked field by field
type Report = Record<string, any>;

const dir = mkdtempSync(join(tmpdir(), 'sockunit-activation-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const haveSocketActivate = existsSync(SOCKET_ACTIVATE);
const noSocketActivate = haveSocketActivate
  ? false
  : `${SOCKET_ACTIVATE} is not installed (apt install systemd)`;

function tcpListener(protocol = IPPROTO_TCP): { fd: Fd; port: number } {
  const fd = socket(AF_INET, SOCK_STREAM, protocol);
  bind(fd, { family: 'inet', address: '127.0.0.1', port: 0 });
  listen(fd, 64);
  const addr = getsockname(fd);
  return { fd, port: addr.family === 'inet' ? addr.port : 0 };
}

test('systemd-socket-activate: two listeners arrive with their names, probed, and both serve', {
  skip: noSocketActivate,
}, async () => {
  const path = join(dir, 'admin.sock');
  const child = await socketActivate((port) => ['-l', `127.0.0.1:${port}`, '-l', path, '--fdname=web:admin']);
  try {
    // Without --accept, systemd-socket-activate execs the service at the first connection.
    const first = httpGet({ port: child.port, host: '127.0.0.1' });
    const report: Report = await child.nextReport();
    assert.equal(
      report.pid,
      child.proc.pid,
      'systemd-socket-activate execs in place: LISTEN_PID is its own pid',
    );
    assert.equal(report.fds.length, 2);
    const [web, admin] = report.fds;
    assert.deepEqual(
      {
        fd: web.fd,
        name: web.name,
        ...pick(web.description, 'kind', 'family', 'type', 'protocol', 'listening'),
      },
      {
        fd: 3,
        name: 'web',
        kind: 'socket',
        family: 'inet',
        type: 'stream',
        protocol: 'tcp',
        listening: true,
      },
    );
    assert.deepEqual(web.description.local, { family: 'inet', address: '127.0.0.1', port: child.port });
    assert.deepEqual(
      { fd: admin.fd, name: admin.name, ...pick(admin.description, 'family', 'type', 'listening') },
      { fd: 4, name: 'admin', family: 'unix', type: 'stream', listening: true },
    );
    assert.deepEqual(admin.description.local, { family: 'unix', path });
    assert.equal(report.sameAnswer, true, 'a second listenFds() call returns the cached answer');
    assert.deepEqual(report.env, {
      LISTEN_PID: null,
      LISTEN_PIDFDID: null,
      LISTEN_FDS: null,
      LISTEN_FDNAMES: null,
    });
    assert.deepEqual(report.activated, [true, true]);
    assert.equal(await first, `web ${report.pid}`);
    assert.equal(await httpGet({ socketPath: path }), `admin ${report.pid}`);
    // Closing the server on the manager's unix socket must leave its path alone.
    assert.equal(await httpGet({ socketPath: path }, '/close'), `admin ${report.pid}`);
    assert.deepEqual((await child.nextReport()).closed, 'admin');
    assert.ok(existsSync(path), 'net.Server.close() on an adopted unix listener did not unlink the path');
  } finally {
    await child.stop();
  }
});

function pick(o: Report, ...keys: string[]): Report {
  return Object.fromEntries(keys.map((k) => [k, o[k]]));
}

test('systemd-socket-activate without --fdname: names fall back to "unknown"', {
  skip: noSocketActivate,
}, async () => {
  const child = await socketActivate((port) => ['-l', `127.0.0.1:${port}`]);
  try {
    const answer = httpGet({ port: child.port, host: '127.0.0.1' });
    const report: Report = await child.nextReport();
    assert.deepEqual(
      report.fds.map((f: Report) => [f.fd, f.name]),
      [[3, 'unknown']],
    );
    assert.equal(await answer, `unknown ${report.pid}`);
  } finally {
    await child.stop();
  }
});

test('systemd-socket-activate --fdname with one name for two listeners: both carry it, both serve', {
  skip: noSocketActivate,
}, async () => {
  const path = join(dir, 'shared-name.sock');
  const child = await socketActivate((port) => ['-l', `127.0.0.1:${port}`, '-l', path, '--fdname=web']);
  try {
    const first = httpGet({ port: child.port, host: '127.0.0.1' });
    const report: Report = await child.nextReport();
    assert.deepEqual(
      report.fds.map((f: Report) => f.name),
      ['web', 'web'],
    );
    assert.equal(await first, `web ${report.pid}`);
    assert.equal(await httpGet({ socketPath: path }), `web ${report.pid}`);
  } finally {
    await child.stop();
  }
});

test('systemd-socket-activate --accept: each connection is the only fd, connected, with its peer', {
  skip: noSocketActivate,
}, async () => {
  const child = await socketActivate((port) => ['--accept', '-l', `127.0.0.1:${port}`]);
  try {
    const seen = new Set<number>();
    for (let i = 0; i < 2; i++) {
      const client = net.connect(child.port, '127.0.0.1');
      await new Promise<void>((resolve, reject) => {
        client.once('connect', resolve);
        client.once('error', reject);
      });
      let text = '';
      client.setEncoding('utf8');
      client.on('data', (chunk: string) => {
        text += chunk;
      });
      await new Promise((resolve) => client.once('end', resolve));
      const report: Report = await child.nextReport();
      assert.equal(report.fds.length, 1);
      const [connection] = report.fds;
      assert.equal(connection.fd, 3);
      assert.equal(connection.description.type, 'stream');
      assert.equal(connection.description.listening, false);
      assert.deepEqual(connection.description.peer, {
        family: 'inet',
        address: '127.0.0.1',
        port: client.localPort,
      });
      assert.equal(text, `connection ${report.pid} ${JSON.stringify(connection.description.peer)}\n`);
      seen.add(report.pid);
      client.destroy();
    }
    assert.equal(seen.size, 2, 'one service process per connection');
  } finally {
    await child.stop();
  }
});

test('systemd-socket-activate --datagram: a UDP socket becomes a dgram.Socket that answers', {
  skip: noSocketActivate,
}, async () => {
  const child = await socketActivate((port) => ['--datagram', '-l', `127.0.0.1:${port}`, '--fdname=udp']);
  const client = dgram.createSocket('udp4');
  try {
    const reply = new Promise<string>((resolve) => client.once('message', (msg) => resolve(msg.toString())));
    // The first datagram wakes systemd-socket-activate; the service finds it queued.
    client.send('hello', child.port, '127.0.0.1');
    const report: Report = await child.nextReport();
    assert.deepEqual(pick(report.fds[0].description, 'family', 'type', 'protocol', 'listening'), {
      family: 'inet',
      type: 'datagram',
      protocol: 'udp',
      listening: false,
    });
    assert.equal(report.fds[0].name, 'udp');
    assert.deepEqual(report.datagrams, [{ address: '127.0.0.1', family: 'IPv4', port: child.port }]);
    assert.equal(await reply, 'echo hello');
  } finally {
    client.close();
    await child.stop();
  }
});

test('an MPTCP listener is described as mptcp and serves an MPTCP client end to end', async (t) => {
  let listener: { fd: Fd; port: number };
  try {
    listener = tcpListener(IPPROTO_MPTCP);
  } catch (err) {
    return t.skip(`no MPTCP here: ${(err as Error).message}`);
  }
  const child = spawnWithFds([listener.fd], [], { env: { LISTEN_FDS: '1', LISTEN_FDNAMES: 'web' } });
  close(listener.fd); // the service has its copy
  try {
    const report: Report = await child.nextReport();
    assert.equal(report.pid, child.proc.pid);
    assert.deepEqual(
      pick(report.fds[0].description, 'family', 'type', 'protocol', 'protocolNumber', 'listening'),
      {
        family: 'inet',
        type: 'stream',
        protocol: 'mptcp',
        protocolNumber: IPPROTO_MPTCP,
        listening: true,
      },
    );
    const agent = new Agent({ keepAlive: false });
    const { body, multipath } = await new Promise<{ body: string; multipath: boolean }>((resolve, reject) => {
      const req = http.get({ host: '127.0.0.1', port: listener.port, agent, timeout: 10_000 }, (res) => {
        const multipath = isMultipath(res.socket);
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => {
          body += c;
        });
        res.on('end', () => resolve({ body, multipath }));
      });
      req.on('error', reject);
    });
    agent.destroy();
    assert.equal(body, `web ${report.pid}`);
    assert.equal(multipath, true, 'both ends MPTCP: the adopted listener stayed MPTCP');
  } finally {
    await child.stop();
  }
});

test('LISTEN_FDS naming more fds than were passed is an error that says so', async () => {
  const { fd } = tcpListener();
  const child = spawnWithFds([fd], [], { env: { LISTEN_FDS: '3' } });
  close(fd);
  try {
    const report: Report = await child.nextReport();
    assert.equal(report.code, 'ERR_LISTEN_FDS_MISSING');
    assert.match(report.error, /LISTEN_FDS=3 names fds 3\.\.5, but fd 4 /);
  } finally {
    await child.stop();
  }
});

test('LISTEN_FDS naming fds that are not open at all is an error', async () => {
  // Nothing at fd 3.. but Node's own fds: the first one is its epoll instance.
  const child = spawnWithFds([], [], { env: { LISTEN_FDS: '1' } });
  try {
    const report: Report = await child.nextReport();
    assert.equal(report.code, 'ERR_LISTEN_FDS_MISSING');
    assert.match(report.error, /fd 3 /);
  } finally {
    await child.stop();
  }
});

test('malformed LISTEN_FDS is an error naming the value', async () => {
  for (const value of ['abc', '0', '-1', '2x', ' 1', '']) {
    const { fd } = tcpListener();
    const child = spawnWithFds([fd], [], { env: { LISTEN_FDS: value } });
    close(fd);
    try {
      const report: Report = await child.nextReport();
      assert.equal(report.code, 'ERR_LISTEN_FDS_INVALID', `LISTEN_FDS=${JSON.stringify(value)}`);
      assert.ok(report.error.includes(`LISTEN_FDS=${JSON.stringify(value)}`), report.error);
    } finally {
      await child.stop();
    }
  }
});

test('LISTEN_PID of another process: no fds, and the variables are still removed', async () => {
  const { fd } = tcpListener();
  const child = spawnWithFds([fd], [], { env: { LISTEN_FDS: '1', LISTEN_FDNAMES: 'web' }, listenPid: '1' });
  close(fd);
  try {
    const report: Report = await child.nextReport();
    assert.deepEqual(report.fds, []);
    assert.deepEqual(report.env, {
      LISTEN_PID: null,
      LISTEN_PIDFDID: null,
      LISTEN_FDS: null,
      LISTEN_FDNAMES: null,
    });
  } finally {
    await child.stop();
  }
});

test('malformed LISTEN_PID is an error, as in libsystemd', async () => {
  const child = spawnWithFds([], [], { env: { LISTEN_FDS: '1' }, listenPid: 'me' });
  try {
    const report: Report = await child.nextReport();
    assert.equal(report.code, 'ERR_LISTEN_PID_INVALID');
  } finally {
    await child.stop();
  }
});

test('LISTEN_FDNAMES with the wrong number of names is an error, as in libsystemd', async () => {
  const { fd } = tcpListener();
  const child = spawnWithFds([fd], [], { env: { LISTEN_FDS: '1', LISTEN_FDNAMES: 'a:b' } });
  close(fd);
  try {
    const report: Report = await child.nextReport();
    assert.equal(report.code, 'ERR_LISTEN_FDNAMES');
    assert.match(report.error, /2 name\(s\) for LISTEN_FDS=1/);
  } finally {
    await child.stop();
  }
});

test('LISTEN_PIDFDID: our own pidfd inode is accepted, another one means the fds are not ours', async (t) => {
  for (const [mode, expected] of [
    ['pidfdid-right', 1],
    ['pidfdid-wrong', 0],
  ] as const) {
    const { fd } = tcpListener();
    const child = spawnWithFds([fd], [mode], { env: { LISTEN_FDS: '1' } });
    close(fd);
    try {
      const report: Report = await child.nextReport();
      if (report.skip) return t.skip(report.skip);
      assert.equal(report.fds.length, expected, mode);
    } finally {
      await child.stop();
    }
  }
});

test('LISTEN_PIDFDID is a 64-bit id: past 2^53 it is another process, past 2^64 or 0 an error', async (t) => {
  for (const [value, expected] of [
    ['18446744073709551615', 'not ours'], // 2^64 - 1: valid, and no pidfd of ours has it
    ['9007199254740993', 'not ours'], // 2^53 + 1: a Number would round it
    ['18446744073709551616', 'ERR_LISTEN_PID_INVALID'],
    ['0', 'ERR_LISTEN_PID_INVALID'],
    ['12a', 'ERR_LISTEN_PID_INVALID'],
  ] as const) {
    const { fd } = tcpListener();
    const child = spawnWithFds([fd], [], { env: { LISTEN_FDS: '1', LISTEN_PIDFDID: value } });
    close(fd);
    try {
      const report: Report = await child.nextReport();
      if (expected === 'not ours') {
        assert.equal(report.error, undefined, value);
        // Without pidfs the id cannot be checked and the fds are taken, as libsystemd does.
        if (report.fds.length !== 0) return t.skip('this kernel has no pidfs: LISTEN_PIDFDID is not checked');
        assert.deepEqual(report.fds, [], value);
      } else assert.equal(report.code, expected, value);
    } finally {
      await child.stop();
    }
  }
});

test('unsetEnvironment: false keeps the variables; the fds are close-on-exec either way', async () => {
  const { fd } = tcpListener();
  const child = spawnWithFds([fd], ['keep-env'], { env: { LISTEN_FDS: '1', LISTEN_FDNAMES: 'web' } });
  close(fd);
  try {
    const report: Report = await child.nextReport();
    assert.equal(report.env.LISTEN_FDS, '1');
    assert.equal(report.env.LISTEN_FDNAMES, 'web');
    assert.equal(report.env.LISTEN_PID, String(report.pid));
    assert.deepEqual(report.closeOnExec, [true]);
  } finally {
    await child.stop();
  }
});

// libsystemd's own sd_listen_fds_with_names() on the same kind of start-up, through ctypes: no
// python3-systemd needed. The answer must match ours.
const LIBSYSTEMD_CHECK = `
import ctypes, json
lib = ctypes.CDLL('libsystemd.so.0')
names = ctypes.POINTER(ctypes.c_char_p)()
n = lib.sd_listen_fds_with_names(1, ctypes.byref(names))
out = {'n': n, 'names': [names[i].decode() for i in range(max(n, 0))] if n > 0 else []}
out['inet_listener'] = [lib.sd_is_socket_inet(3 + i, 0, 1, 1, 0) for i in range(max(n, 0))]
print(json.dumps(out), flush=True)
`;

test('libsystemd (through ctypes) and listenFds agree on count, names and kinds', async (t) => {
  const python = '/usr/bin/python3';
  const probe = spawnSync(python, ['-c', 'import ctypes; ctypes.CDLL("libsystemd.so.0")']);
  if (probe.status !== 0) return t.skip(`${python} cannot load libsystemd.so.0: ${probe.stderr}`);
  const env = { LISTEN_FDS: '2', LISTEN_FDNAMES: 'web:admin' };
  const a = tcpListener();
  const b = socket(1 /* AF_UNIX */, SOCK_STREAM, 0);
  bind(b, { family: 'unix', path: join(dir, 'agree.sock') });
  listen(b, 8);
  const theirs = spawnWithFds([a.fd, b], [], { env, command: [python, '-c', LIBSYSTEMD_CHECK] });
  const ours = spawnWithFds([a.fd, b], [], { env });
  close(a.fd);
  close(b);
  try {
    const lib: Report = await theirs.nextReport();
    const report: Report = await ours.nextReport();
    assert.equal(lib.n, report.fds.length);
    assert.deepEqual(
      lib.names,
      report.fds.map((f: Report) => f.name),
    );
    assert.deepEqual(
      lib.inet_listener.map((r: number) => r > 0),
      report.fds.map((f: Report) => f.description.family === 'inet' && f.description.listening),
    );
  } finally {
    await theirs.stop();
    await ours.stop();
  }
});

test('python3-systemd (systemd.daemon.listen_fds_with_names) agrees with listenFds', async (t) => {
  const python = '/usr/bin/python3';
  const has = spawnSync(python, ['-c', 'import systemd.daemon']);
  if (has.status !== 0)
    return t.skip(
      'python3-systemd is not installed here (apt install python3-systemd); the CI script installs it',
    );
  const { fd } = tcpListener();
  const script =
    'import json, systemd.daemon as d; print(json.dumps(d.listen_fds_with_names(False)), flush=True)';
  const theirs = spawnWithFds([fd], [], {
    env: { LISTEN_FDS: '1', LISTEN_FDNAMES: 'web' },
    command: [python, '-c', script],
  });
  close(fd);
  try {
    assert.deepEqual(await theirs.nextReport(), { '3': 'web' });
  } finally {
    await theirs.stop();
  }
});
