// `sockunit connections` against the kernel's own view: a manager in a fresh network namespace
// with an MPTCP Accept=no unit whose service accepts for itself, a client whose in-kernel path
// manager opens a second subflow from 127.0.0.2, and `ss -Mni` / `ss -tn` as the reference. What
// each connection runs, on the real kernel: an MPTCP client (mptcp), a plain TCP client (tcp,
// never "fell back"), a server-side close that leaves TIME-WAIT (not live, not counted), and —
// through a router namespace whose nftables rule removes the MPTCP DSS option — a connection
// that began MPTCP and fell back on the way (mptcp->tcp), as the kernel's counters confirm.

import assert from 'node:assert/strict';
import { type ChildProcess, execFileSync, spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { UnitConnections } from '../src/manager/control/connections.js';
import type { DoctorReport } from '../src/mptcp/doctor.js';
import {
  BIN,
  ManagerProcess,
  rootUnavailable,
  SYSTEM_PYTHON,
  tempDir,
  waitUntil,
} from './fixtures/manager/harness.js';

const PORT = 5555;

// Accepts for itself (Accept=no) and keeps every connection open, answering each byte it gets;
// a 'q' makes it close that connection first (the server side then ends in TIME-WAIT).
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
            if d and d != b'q':
                x.send(d)
            else:
                conns.remove(x)
                x.close()
`;

// A client of IPPROTO argv[3] to argv[1]:argv[2]: connect, exchange a byte (the path manager
// adds subflows only after the MPTCP handshake completed), say so, then hold the connection
// until stdin closes — with 'talk' after three more exchanges; with 'server-closes' it sends 'q',
// waits for the server's FIN and closes.
const CLIENT_PY = `
import socket, sys
c = socket.socket(socket.AF_INET, socket.SOCK_STREAM, int(sys.argv[3]))
c.connect((sys.argv[1], int(sys.argv[2])))
c.send(b'x'); c.recv(10)
print('connected', c.getsockname()[1], flush=True)
mode = sys.argv[4] if len(sys.argv) > 4 else 'hold'
if mode == 'talk':
    for _ in range(3):
        c.send(b'y'); c.recv(10)
    print('talked', flush=True)
if mode == 'server-closes':
    c.send(b'q')
    while c.recv(10):
        pass
    c.close()
    print('closed', flush=True)
else:
    sys.stdin.read()
`;

/** The counts every report shows, for comparing in one assertion. */
function counts(u: UnitConnections) {
  const { mptcp, severalPaths, fallenBack, tcp, notLive } = u;
  return { mptcp, severalPaths, fallenBack, tcp, notLive };
}

/** `sockunit connections UNIT --json` against the manager on `control`: the unit's record. */
function listConnections(control: string, unit: string): UnitConnections {
  const r = spawnSync(process.execPath, [BIN, 'connections', unit, '--control-socket', control, '--json'], {
    encoding: 'utf8',
    timeout: 10_000,
  });
  assert.equal(r.status, 0, r.stderr);
  const [u] = JSON.parse(r.stdout) as UnitConnections[];
  assert.ok(u);
  return u;
}

/** CLIENT_PY in network namespace `ns`: the child (kept in `clients` for the after-hook), a
 * wait for a line of its output, and its local port once connected. */
async function startClient(
  clients: ChildProcess[],
  ns: string,
  host: string,
  port: number,
  protocol: number,
  mode = 'hold',
): Promise<{ port: number; waitFor: (word: string) => Promise<unknown> }> {
  const c = spawn(
    'ip',
    ['netns', 'exec', ns, SYSTEM_PYTHON, '-c', CLIENT_PY, host, String(port), String(protocol), mode],
    {
      stdio: ['pipe', 'pipe', 'inherit'],
    },
  );
  clients.push(c);
  let out = '';
  c.stdout?.on('data', (d: Buffer) => {
    out += d.toString();
  });
  const waitFor = (word: string) =>
    waitUntil(`client: ${word}`, () => (out.includes(word) ? true : undefined), 8000);
  const m = await waitUntil('client connected', () => /connected (\d+)/.exec(out) ?? undefined, 8000);
  return { port: Number(m[1]), waitFor };
}

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
  const connections = (unit: string) => listConnections(control, unit);
  const connect = async (protocol: number, port = PORT, mode = 'hold'): Promise<number> => {
    const client = await startClient(clients, ns, '127.0.0.1', port, protocol, mode);
    if (mode === 'server-closes') await client.waitFor('closed');
    return client.port;
  };

  test('an MPTCP Accept=no unit: an MPTCP client (mptcp, two paths now) and a plain one (tcp); peers, subflows and addresses agree with ss -Mni / ss -tn', async () => {
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
    // A plain TCP client on the MPTCP port: plain TCP, not a fallback (it never asked for MPTCP).
    const tcpPort = await connect(6);
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
    assert.equal(multi.pathsNow, 2, 'both subflows established');
    assert.equal(multi.severalPaths, true);
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

    // The plain TCP client: the kernel handed it over as a plain TCP socket (no mptcp ULP, no
    // MPTCP socket in ss -M): plain TCP.
    const plain = ours.connections.find((c) => c.remote === `127.0.0.1:${tcpPort}`);
    assert.ok(plain, JSON.stringify(ours, null, 2));
    assert.equal(plain.protocol, 'tcp');
    assert.equal(plain.severalPaths, false);
    assert.equal(plain.pathsNow, 1);
    assert.equal(plain.subflowCount, 1);
    assert.deepEqual(counts(ours), { mptcp: 1, severalPaths: 1, fallenBack: 0, tcp: 1, notLive: 0 });
    assert.equal(ours.subflows, multi.subflowCount);
    // ss -M lists the MPTCP connections only: as many as ours, no subflow counted as one.
    assert.equal(ours.connections.filter((x) => x.protocol === 'mptcp').length, ssConns.length);
    assert.equal(ours.connections.length, 2);

    // Human output names the connection and indents its subflows.
    const human = spawnSync(process.execPath, [BIN, 'connections', 'mp', '--control-socket', control], {
      encoding: 'utf8',
    });
    assert.equal(human.status, 0, human.stderr);
    assert.match(human.stdout, /^mp\.socket\nLOCAL\s+PEER\s+PROTOCOL\s+STATE\s+PATHS\s+SUBFLOWS\n/);
    assert.match(
      human.stdout,
      new RegExp(`127\\.0\\.0\\.1:${PORT}\\s+127\\.0\\.0\\.1:${mptcpPort}\\s+mptcp\\s+established\\s+2\\s+2`),
    );
    assert.match(
      human.stdout,
      new RegExp(`127\\.0\\.0\\.1:${PORT}\\s+127\\.0\\.0\\.1:${tcpPort}\\s+tcp\\s+established\\s+1\\s+1`),
    );
    assert.match(human.stdout, /^ {2}127\.0\.0\.1:\d+\s+127\.0\.0\.2:\d+\s+subflow/m);
    assert.match(
      human.stdout,
      /\nOn 127\.0\.0\.1:5555: 2 live connections: 1 mptcp \(1 on several paths now, 2 subflows\), 0 mptcp->tcp, 1 tcp\.\n/,
    );
    assert.match(
      human.stdout,
      /^ {2}tcp: plain TCP: the client did not ask for MPTCP, or something on the path removed it$/m,
    );
    assert.doesNotMatch(human.stdout, /mptcp->tcp:/, 'no fallback to explain');
  });

  test('a server-side close leaves TIME-WAIT: not a live connection, never a fallback', async () => {
    assert.ok(manager, 'the first test started the manager');
    const before = connections('mp.socket');
    // An MPTCP client and a plain one, each closed by the server first.
    await connect(262, PORT, 'server-closes');
    await connect(6, PORT, 'server-closes');
    // The kernel's view: the server's side of both is in TIME-WAIT now.
    const timeWait = inNs('ss', '-tanH', 'state', 'time-wait', `sport = :${PORT}`);
    assert.ok(timeWait.trim().split('\n').length >= 2, `ss -tan state time-wait:\n${timeWait}`);
    const after = connections('mp.socket');
    assert.deepEqual(
      counts(after),
      { ...counts(before), notLive: after.notLive },
      'the live counts did not move: the closed connections are neither mptcp, mptcp->tcp nor tcp',
    );
    assert.ok(after.notLive >= 2, `TIME-WAIT counted apart: ${JSON.stringify(counts(after))}`);
    assert.ok(after.connections.every((c) => c.state !== 'time-wait'));
    const human = spawnSync(process.execPath, [BIN, 'connections', 'mp', '--control-socket', control], {
      encoding: 'utf8',
    });
    assert.match(human.stdout, /\d+ not live \(TIME-WAIT, SYN-RECV or CLOSE\), not counted\.\n/);
  });

  test('a plain TCP unit lists its TCP connections; a closed connection disappears', async () => {
    assert.ok(manager, 'the first test started the manager');
    const port = await connect(6, PORT + 1);
    const plain = connections('plain');
    assert.equal(plain.connections.length, 1, JSON.stringify(plain));
    assert.equal(plain.connections[0]?.remote, `127.0.0.1:${port}`);
    assert.equal(plain.connections[0]?.protocol, 'tcp');
    assert.equal(plain.tcp, 1);
    clients.at(-1)?.stdin?.end();
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

/** Why the nftables router cannot be built here, or undefined. In CI .ci/run installs nftables. */
function routerUnavailable(): string | undefined {
  const why = netnsUnavailable();
  if (why) return why;
  try {
    execFileSync('nft', ['--version'], { stdio: 'ignore' });
  } catch {
    if (process.env.CI) return undefined; // must fail loudly in CI
    return 'needs nftables (nft) for the router that removes MPTCP options: apt-get install nftables';
  }
  return undefined;
}

describe('a connection that began MPTCP and fell back on the way', { skip: routerUnavailable() }, () => {
  // client ns --veth-- router ns --veth-- server ns (the manager). The router forwards, and its
  // nftables rule blanks the MPTCP option of every packet that carries a DSS (data sequence
  // mapping): the MP_CAPABLE handshake passes untouched, the data then arrives without a mapping
  // and the kernel falls back to TCP on the established connection (RFC 8684 §3.7) — what a
  // middlebox that strips unknown options from data segments does.
  const id = `${process.pid % 100_000}-${randomBytes(2).toString('hex')}`;
  const names = { client: `su-fb-c-${id}`, router: `su-fb-r-${id}`, server: `su-fb-s-${id}` };
  const SERVER_ADDRESS = '10.77.2.1';
  const dir = tempDir('connections-fallback');
  const control = join(dir, 'control.sock');
  let manager: ManagerProcess | undefined;
  const clients: ChildProcess[] = [];
  const run = (ns: string, cmd: string, ...args: string[]) =>
    execFileSync('ip', ['netns', 'exec', ns, cmd, ...args], { encoding: 'utf8' });
  const ip = (ns: string, ...args: string[]) => execFileSync('ip', ['-n', ns, ...args]);

  before(() => {
    for (const ns of Object.values(names)) {
      execFileSync('ip', ['netns', 'add', ns]);
      ip(ns, 'link', 'set', 'lo', 'up');
      run(ns, 'sysctl', '-qw', 'net.mptcp.enabled=1', 'net.ipv4.conf.all.rp_filter=0');
    }
    run(names.router, 'sysctl', '-qw', 'net.ipv4.ip_forward=1');
    execFileSync('ip', [
      'link',
      'add',
      'c0',
      'netns',
      names.client,
      'type',
      'veth',
      'peer',
      'name',
      'r0',
      'netns',
      names.router,
    ]);
    execFileSync('ip', [
      'link',
      'add',
      's0',
      'netns',
      names.server,
      'type',
      'veth',
      'peer',
      'name',
      'r1',
      'netns',
      names.router,
    ]);
    ip(names.client, 'addr', 'add', '10.77.1.1/24', 'dev', 'c0');
    ip(names.router, 'addr', 'add', '10.77.1.2/24', 'dev', 'r0');
    ip(names.router, 'addr', 'add', '10.77.2.2/24', 'dev', 'r1');
    ip(names.server, 'addr', 'add', `${SERVER_ADDRESS}/24`, 'dev', 's0');
    for (const [ns, dev] of [
      [names.client, 'c0'],
      [names.router, 'r0'],
      [names.router, 'r1'],
      [names.server, 's0'],
    ] as const)
      ip(ns, 'link', 'set', dev, 'up');
    ip(names.client, 'route', 'add', 'default', 'via', '10.77.1.2');
    ip(names.server, 'route', 'add', 'default', 'via', '10.77.2.2');
    const rules = [
      'table inet sockunit_test {',
      '  chain passing {',
      '    type filter hook forward priority 0; policy accept;',
      '    tcp option mptcp subtype 2 reset tcp option mptcp counter',
      '  }',
      '}',
    ].join('\n');
    execFileSync('ip', ['netns', 'exec', names.router, 'nft', '-f', '-'], { input: rules });
  });
  after(async () => {
    for (const c of clients) c.kill('SIGKILL');
    await manager?.dispose();
    for (const ns of Object.values(names)) spawnSync('ip', ['netns', 'del', ns]);
    rmSync(dir, { recursive: true, force: true });
  });

  test('the server reports it as mptcp->tcp (began MPTCP), the kernel counted a DSS fallback, doctor warns and exits 0', async () => {
    writeFileSync(join(dir, 'server.py'), SERVER_PY);
    manager = await ManagerProcess.start({
      dir,
      units: {
        'mp.socket': `[Socket]\nListenStream=${SERVER_ADDRESS}:${PORT}\nSocketProtocol=mptcp\n`,
        'mp.service': `[Service]\nExecStart=${SYSTEM_PYTHON} ${join(dir, 'server.py')}\n`,
      },
      wrapper: ['ip', 'netns', 'exec', names.server],
      args: ['--control-socket', control],
    });
    const counter = (name: string): number => {
      const line = run(names.server, 'nstat', '-az', `MPTcpExt${name}`);
      return Number(new RegExp(`MPTcpExt${name}\\s+(\\d+)`).exec(line)?.[1] ?? Number.NaN);
    };
    const handshakesBefore = counter('MPCapableACKRX');
    const dssBefore = counter('DssFallback');

    const client = await startClient(clients, names.client, SERVER_ADDRESS, PORT, 262, 'talk');
    const clientPort = client.port;
    // Data both ways after the handshake: each side gets data without a DSS mapping.
    await client.waitFor('talked');
    const listed = () => listConnections(control, 'mp');
    const u = await waitUntil('the fallback', () => (listed().fallenBack === 1 ? listed() : undefined), 8000);
    const conn = u.connections.find((x) => x.remote === `10.77.1.1:${clientPort}`);
    assert.ok(conn, JSON.stringify(u, null, 2));
    assert.equal(conn.protocol, 'mptcp->tcp');
    assert.equal(conn.beganMptcp, true, 'the MPTCP handshake had completed: it began MPTCP');
    assert.equal(conn.pathsNow, 1);
    assert.deepEqual(counts(u), { mptcp: 0, severalPaths: 0, fallenBack: 1, tcp: 0, notLive: 0 });
    // The kernel agrees: one more MPTCP handshake completed, then one fallback for a missing DSS.
    assert.equal(counter('MPCapableACKRX') - handshakesBefore, 1);
    assert.equal(counter('DssFallback') - dssBefore, 1);
    // ss -M shows the MPTCP socket with its fallback flag.
    assert.match(run(names.server, 'ss', '-Mni'), /\bfallback\b/);

    // doctor, in the manager's namespace: a warning that names it, not a broken machine.
    const d = spawnSync(
      'ip',
      ['netns', 'exec', names.server, process.execPath, BIN, 'doctor', '--json', '--control-socket', control],
      { encoding: 'utf8', timeout: 15_000 },
    );
    const report = JSON.parse(d.stdout) as DoctorReport;
    const check = report.checks.find((x) => x.id === 'manager-fallback');
    assert.equal(check?.status, 'warning', JSON.stringify(check));
    assert.match(
      check?.message ?? '',
      /1 connection \(1 on mp\.socket\) began MPTCP and fell back to plain TCP on the way/,
    );
    const counters = report.checks.find((x) => x.id === 'fallback-counters');
    assert.match(counters?.message ?? '', /\(MPTcpExtDssFallback\)/);
    assert.equal(d.status, 0, 'a fallen-back connection is advice, not a broken machine');
  });
});
