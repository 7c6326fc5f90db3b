// `sockunit connections` against the kernel's own view: a manager in a fresh network namespace
// with an MPTCP Accept=no unit whose service accepts for itself, a client whose in-kernel path
// manager opens a second subflow from 127.0.0.2, and `ss -Mni` / `ss -tn` as the reference.

import assert from 'node:assert/strict';
import { type ChildProcess, execFileSync, spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { UnitConnections } from '../src/manager/control/connections.js';
import {
  BIN,
  ManagerProcess,
  rootUnavailable,
  SYSTEM_PYTHON,
  tempDir,
  waitUntil,
} from './fixtures/manager/harness.js';

const PORT = 5555;

// Accepts for itself (Accept=no) and keeps every connection open, answering each byte it gets.
const SERVER_PY = `
import select, socket
s = socket.socket(fileno=3)
conns = []
while True:
    r, _, _ = select.select([s] + conns, [], [], 30)
    for x in r:
        if x is s:
            conns.append(s.accept()[0])
        else:
            d = x.recv(100)
            if d:
                x.send(d)
            else:
                conns.remove(x)
                x.close()
`;

// MPTCP client: connect, exchange a byte (the path manager adds subflows only after the MPTCP
// handshake completed), say so, then hold the connection until stdin closes.
const CLIENT_PY = `
import socket, sys
c = socket.socket(socket.AF_INET, socket.SOCK_STREAM, int(sys.argv[2]))
c.connect(('127.0.0.1', int(sys.argv[1])))
c.send(b'x'); c.recv(10)
print('connected', c.getsockname()[1], flush=True)
sys.stdin.read()
`;

function netnsUnavailable(): string | undefined {
  const root = rootUnavailable();
  if (root) return root;
  try {
    execFileSync('ip', ['-V'], { stdio: 'ignore' });
    execFileSync('ss', ['-V'], { stdio: 'ignore' });
  } catch {
    return 'needs iproute2 (ip, ss): apt-get install iproute2';
  }
  return undefined;
}

interface SsMptcp {
  local: string;
  peer: string;
  /** ss prints `subflows:N` (additional subflows) only when N > 0. */
  extraSubflows: number;
  token: number;
}

/** Parse `ss -Mni`: a line per connection, then an indented line of mptcp_info fields. */
function parseSsMptcp(text: string): SsMptcp[] {
  const out: SsMptcp[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const m = /^ESTAB\s+\d+\s+\d+\s+(\S+)\s+(\S+)/.exec(lines[i] ?? '');
    if (!m) continue;
    const info = lines[i + 1] ?? '';
    out.push({
      local: m[1] as string,
      peer: m[2] as string,
      extraSubflows: Number(/\bsubflows:(\d+)/.exec(info)?.[1] ?? 0),
      token: Number.parseInt(/\btoken:([0-9a-f]+)/.exec(info)?.[1] ?? '0', 16),
    });
  }
  return out;
}

describe('sockunit connections', { skip: netnsUnavailable() }, () => {
  const ns = `su-conn-${process.pid}-${randomBytes(3).toString('hex')}`;
  const dir = tempDir('connections');
  const control = join(dir, 'control.sock');
  let manager: ManagerProcess | undefined;
  const clients: ChildProcess[] = [];

  before(() => {
    execFileSync('ip', ['netns', 'add', ns]);
    const ip = (...a: string[]) => execFileSync('ip', ['-n', ns, ...a]);
    ip('link', 'set', 'lo', 'up');
    ip('addr', 'add', '127.0.0.2/8', 'dev', 'lo');
    ip('mptcp', 'limits', 'set', 'subflows', '4', 'add_addr_accepted', '4');
    // The client side opens one more subflow from this address to the server's.
    ip('mptcp', 'endpoint', 'add', '127.0.0.2', 'dev', 'lo', 'subflow');
    execFileSync('ip', ['netns', 'exec', ns, 'sysctl', '-qw', 'net.mptcp.enabled=1']);
  });
  after(async () => {
    for (const c of clients) c.kill('SIGKILL');
    await manager?.dispose();
    spawnSync('ip', ['netns', 'del', ns]);
    rmSync(dir, { recursive: true, force: true });
  });

  const inNs = (cmd: string, ...args: string[]) =>
    execFileSync('ip', ['netns', 'exec', ns, cmd, ...args], { encoding: 'utf8' });
  const connections = (unit: string): UnitConnections => {
    const r = spawnSync(process.execPath, [BIN, 'connections', unit, '--control-socket', control, '--json'], {
      encoding: 'utf8',
      timeout: 10_000,
    });
    assert.equal(r.status, 0, r.stderr);
    const [u] = JSON.parse(r.stdout) as UnitConnections[];
    assert.ok(u);
    return u;
  };
  const connect = async (protocol: number): Promise<number> => {
    const c = spawn(
      'ip',
      ['netns', 'exec', ns, SYSTEM_PYTHON, '-c', CLIENT_PY, String(PORT), String(protocol)],
      {
        stdio: ['pipe', 'pipe', 'inherit'],
      },
    );
    clients.push(c);
    let out = '';
    c.stdout?.on('data', (d: Buffer) => {
      out += d.toString();
    });
    const m = await waitUntil('client connected', () => /connected (\d+)/.exec(out) ?? undefined, 8000);
    return Number(m[1]);
  };

  test('an MPTCP Accept=no unit: peers, multi-path, subflow count and addresses agree with ss -Mni / ss -tn', async () => {
    writeFileSync(join(dir, 'server.py'), SERVER_PY);
    manager = await ManagerProcess.start({
      dir,
      units: {
        'mp.socket': `[Socket]\nListenStream=127.0.0.1:${PORT}\nSocketProtocol=mptcp\n`,
        'mp.service': `[Service]\nExecStart=${SYSTEM_PYTHON} ${join(dir, 'server.py')}\n`,
        'plain.socket': `[Socket]\nListenStream=127.0.0.1:${PORT + 1}\n`,
        'plain.service': `[Service]\nExecStart=${SYSTEM_PYTHON} ${join(dir, 'server.py')}\n`,
      },
      wrapper: ['ip', 'netns', 'exec', ns],
      args: ['--control-socket', control],
    });
    assert.deepEqual(connections('mp.socket').connections, [], 'no connection yet');

    const mptcpPort = await connect(262);
    const tcpPort = await connect(6); // plain TCP client on the MPTCP port: falls back
    // Wait until the kernel's path manager has added the second subflow.
    await waitUntil(
      'second subflow',
      () =>
        parseSsMptcp(inNs('ss', '-Mni', `sport = :${PORT}`)).some((c) => c.extraSubflows >= 1)
          ? true
          : undefined,
      8000,
    );
    const ssConns = parseSsMptcp(inNs('ss', '-Mni', `sport = :${PORT}`));
    const ours = connections('mp.socket');
    assert.deepEqual(ours.ports, [`127.0.0.1:${PORT}`]);

    const multi = ours.connections.find((c) => c.remote === `127.0.0.1:${mptcpPort}`);
    assert.ok(multi, JSON.stringify(ours, null, 2));
    const ref = ssConns.find((c) => c.peer === `127.0.0.1:${mptcpPort}`);
    assert.ok(ref, inNs('ss', '-Mni'));
    assert.equal(multi.protocol, 'mptcp');
    assert.equal(multi.local, ref.local);
    assert.equal(multi.token, ref.token);
    assert.equal(multi.subflowCount, ref.extraSubflows + 1);
    assert.equal(multi.multipath, true);
    // Each subflow's addresses, against ss -tn's list of TCP sockets on the port.
    const ssTcp = inNs('ss', '-tnH', 'state', 'established', `sport = :${PORT}`);
    const subflowPeers = multi.subflows.map((s) => s.remote).sort();
    assert.deepEqual(
      subflowPeers,
      [`127.0.0.1:${mptcpPort}`, ...subflowPeers.filter((p) => p.startsWith('127.0.0.2:'))].sort(),
    );
    assert.equal(multi.subflows.length, multi.subflowCount);
    for (const s of multi.subflows)
      assert.match(
        ssTcp,
        new RegExp(`${s.local.replace(/\./g, '\\.')}\\s+${s.remote.replace(/\./g, '\\.')}`),
      );
    assert.ok(
      multi.subflows.some((s) => s.remote.startsWith('127.0.0.2:')),
      'the join came from 127.0.0.2',
    );

    // The plain TCP client: an MPTCP socket that fell back (as ss -M lists it too), one subflow.
    const fell = ours.connections.find((c) => c.remote === `127.0.0.1:${tcpPort}`);
    assert.ok(fell, JSON.stringify(ours, null, 2));
    assert.equal(fell.protocol, 'mptcp->tcp');
    assert.equal(fell.multipath, false);
    assert.equal(fell.subflowCount, 1);
    assert.equal(ours.mptcp, 1);
    assert.equal(ours.fallenBack, 1);
    assert.equal(ours.subflows, multi.subflowCount);
    // ss -M lists the MPTCP connections only: as many as ours, no subflow counted as one.
    assert.equal(ours.connections.filter((x) => x.protocol === 'mptcp').length, ssConns.length);
    assert.equal(ours.connections.length, 2);

    // Human output names the connection and indents its subflows.
    const human = spawnSync(process.execPath, [BIN, 'connections', 'mp', '--control-socket', control], {
      encoding: 'utf8',
    });
    assert.equal(human.status, 0, human.stderr);
    assert.match(human.stdout, /^mp\.socket\nLOCAL\s+PEER\s+PROTOCOL\s+STATE\s+MULTIPATH\s+SUBFLOWS\n/);
    assert.match(
      human.stdout,
      new RegExp(
        `127\\.0\\.0\\.1:${PORT}\\s+127\\.0\\.0\\.1:${mptcpPort}\\s+mptcp\\s+established\\s+yes\\s+2`,
      ),
    );
    assert.match(human.stdout, /^ {2}127\.0\.0\.1:\d+\s+127\.0\.0\.2:\d+\s+subflow/m);
    assert.match(
      human.stdout,
      /2 connections on 127\.0\.0\.1:5555: 1 mptcp \(2 subflows\), 1 fallen back to TCP, 0 tcp\./,
    );
  });

  test('a plain TCP unit lists its TCP connections; a closed connection disappears', async () => {
    assert.ok(manager, 'the first test started the manager');
    const c = spawn('ip', ['netns', 'exec', ns, SYSTEM_PYTHON, '-c', CLIENT_PY, String(PORT + 1), '6'], {
      stdio: ['pipe', 'pipe', 'inherit'],
    });
    clients.push(c);
    let out = '';
    c.stdout?.on('data', (d: Buffer) => {
      out += d.toString();
    });
    const port = Number(
      (await waitUntil('tcp client', () => /connected (\d+)/.exec(out) ?? undefined, 8000))[1],
    );
    const plain = connections('plain');
    assert.equal(plain.connections.length, 1, JSON.stringify(plain));
    assert.equal(plain.connections[0]?.remote, `127.0.0.1:${port}`);
    assert.equal(plain.connections[0]?.protocol, 'tcp');
    assert.equal(plain.tcp, 1);
    c.stdin?.end();
    // Gone, or at most lingering in a closing state (the kernel keeps LAST-ACK/TIME-WAIT briefly).
    const open = (u: UnitConnections) => u.connections.filter((x) => x.state === 'established');
    await waitUntil(
      'connection closed',
      () => (open(connections('plain')).length === 0 ? true : undefined),
      5000,
    );
    // A service is not a socket: a clear error, exit 1.
    const r = spawnSync(
      process.execPath,
      [BIN, 'connections', 'plain.service', '--control-socket', control],
      {
        encoding: 'utf8',
      },
    );
    assert.equal(r.status, 2);
    assert.match(r.stderr, /plain\.service is not a socket unit/);
  });
});
