import assert from 'node:assert/strict';
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import dgram from 'node:dgram';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { commandEnvironment, fdnameIsValid } from '../src/activate/activate.js';
import { parseActivateArguments, splitArguments } from '../src/cli/activate.js';
import { kernelHasPidfdIds, listenPidfdIdSlot } from '../src/sys/listen-pid-helper.js';

// The compiled CLI, run as users run it, side by side with systemd's own tool on the same service.
const BIN = fileURLToPath(new URL('../src/cli/bin.js', import.meta.url));
const SSA = '/usr/bin/systemd-socket-activate';
const PYTHON = '/usr/bin/python3';
const hasSsa = existsSync(SSA);
const hasPython = existsSync(PYTHON);
const scratch = mkdtempSync(join(tmpdir(), 'sockunit-cli-activate-'));
after(() => rmSync(scratch, { recursive: true, force: true }));

// Machines running several test suites at once start Node slowly: wait generously, but bounded.
const START_TIMEOUT_MS = 20_000;
const REPORT_TIMEOUT_MS = 20_000;

// A service that reports what it received into DIR/<pid>.json: the LISTEN_* variables, whether
// LISTEN_PID is its own pid and LISTEN_PIDFDID its own pidfd's id, the environment's names in order, and each fd 3.. (domain, type,
// protocol, listening, O_NONBLOCK, close-on-exec, TCP_IS_MPTCP). Then, per mode: `echo` answers
// one line on fd 3 (or stdin/stdout with --inetd), `dgram` reads one datagram, `wait` sleeps
// until a signal.
const SERVICE = `
import fcntl, json, os, socket, sys, time
out, mode = sys.argv[1], sys.argv[2]
n = int(os.environ.get('LISTEN_FDS', '0') or '0')
fds = []
for fd in range(3, 3 + n):
    s = socket.socket(fileno=os.dup(fd))
    g = lambda opt: s.getsockopt(socket.SOL_SOCKET, opt)
    info = {'domain': g(39), 'type': g(3), 'protocol': g(38), 'listening': g(30),
            'nonblock': bool(fcntl.fcntl(fd, fcntl.F_GETFL) & os.O_NONBLOCK),
            'cloexec': bool(fcntl.fcntl(fd, fcntl.F_GETFD) & fcntl.FD_CLOEXEC)}
    if info['domain'] in (2, 10) and info['type'] == 1 and not info['listening']:
        info['is_mptcp'] = s.getsockopt(6, 43)
    s.close()
    fds.append(info)
report = {'listen_fds': os.environ.get('LISTEN_FDS'), 'listen_fdnames': os.environ.get('LISTEN_FDNAMES'),
          'listen_pid_is_self': os.environ.get('LISTEN_PID') == str(os.getpid()),
          'env': list(os.environ.keys()), 'fds': fds,
          'stdin_is_socket': os.path.realpath('/proc/self/fd/0').startswith('socket:') or
                             os.readlink('/proc/self/fd/0').startswith('socket:')}
pidfdid = os.environ.get('LISTEN_PIDFDID')
if pidfdid is not None:
    own = os.fstat(os.pidfd_open(os.getpid())).st_ino
    pidfdid = 'self' if pidfdid == str(own) else 'other: ' + pidfdid
report['listen_pidfdid'] = pidfdid
if mode == 'dgram':
    s = socket.socket(fileno=os.dup(3))
    s.setblocking(True)
    report['datagram'] = s.recv(100).decode()
with open(os.path.join(out, str(os.getpid()) + '.json'), 'w') as f:
    json.dump(report, f)
if mode == 'echo':
    c = socket.socket(fileno=os.dup(3))
    line = c.makefile('rb').readline()
    c.sendall(b'echo:' + line)
    c.close()
if mode == 'wait':
    time.sleep(60)
`;
const servicePath = join(scratch, 'service.py');
writeFileSync(servicePath, SERVICE);

/** The environment both tools start with: a variable each tool must drop (SECRET) and some it keeps. */
const BASE_ENV: Record<string, string> = {
  PATH: '/usr/local/bin:/usr/bin:/bin',
  HOME: '/root',
  TERM: 'dumb',
  USER: 'root',
  SECRET: 'must-not-leak',
  KEPT: 'by-E',
};

interface Tool {
  child: ChildProcess;
  stderr(): string;
  exit: Promise<number | null>;
}

type ToolName = 'sockunit' | 'ssa';

function start(tool: ToolName, args: string[], listeners: number): Promise<Tool> {
  const [file, argv] = tool === 'sockunit' ? [process.execPath, [BIN, 'activate', ...args]] : [SSA, args];
  const child = spawn(file, argv, { env: BASE_ENV, stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  child.stderr?.on('data', (d: Buffer) => {
    err += d.toString();
  });
  child.stdout?.resume();
  const exit = new Promise<number | null>((resolve) =>
    child.on('exit', (code, signal) => resolve(code ?? (signal ? -1 : null))),
  );
  return new Promise((resolve, reject) => {
    const deadline = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${tool} did not report ${listeners} listeners in time; stderr: ${err}`));
    }, START_TIMEOUT_MS);
    const check = (): void => {
      if ((err.match(/^Listening on /gm) ?? []).length >= listeners) {
        clearTimeout(deadline);
        resolve({ child, stderr: () => err, exit });
      }
    };
    child.stderr?.on('data', check);
    child.on('exit', () => {
      clearTimeout(deadline);
      reject(new Error(`${tool} exited before listening; stderr: ${err}`));
    });
  });
}

function run(tool: ToolName, args: string[]): { status: number | null; stderr: string } {
  const [file, argv] = tool === 'sockunit' ? [process.execPath, [BIN, 'activate', ...args]] : [SSA, args];
  const r = spawnSync(file, argv, { env: BASE_ENV, encoding: 'utf8', timeout: 30_000 });
  return { status: r.status, stderr: r.stderr };
}

/** Free TCP/UDP ports on 127.0.0.1: bound to port 0, read, released. */
async function freePorts(count: number): Promise<number[]> {
  const ports: number[] = [];
  const servers: net.Server[] = [];
  for (let i = 0; i < count; i++) {
    const s = net.createServer();
    await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
    servers.push(s);
    ports.push((s.address() as net.AddressInfo).port);
  }
  await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  return ports;
}

let dirCounter = 0;
function reportDir(): string {
  const dir = join(scratch, `reports-${dirCounter++}`);
  mkdirSync(dir);
  return dir;
}

interface Report {
  listen_fds: string | null;
  listen_fdnames: string | null;
  listen_pid_is_self: boolean;
  /** 'self' when LISTEN_PIDFDID is the inode id of the service's own pidfd; null when unset. */
  listen_pidfdid: string | null;
  env: string[];
  fds: Record<string, number | boolean>[];
  stdin_is_socket: boolean;
  datagram?: string;
}

/** Where this kernel gives pidfds inode ids, sockunit sets LISTEN_PIDFDID beside LISTEN_PID as
 * systemd 259 does; systemd-socket-activate before 259 (Debian 12 has 252) does not. Compare the
 * two tools without it, after checking each tool's own. */
function withoutPidfdId(tool: ToolName, r: Report): Omit<Report, 'listen_pidfdid'> {
  const { listen_pidfdid, ...rest } = r;
  if (tool === 'sockunit' && (r.listen_fds ?? null) !== null)
    assert.equal(listen_pidfdid, kernelHasPidfdIds() ? 'self' : null, 'sockunit: LISTEN_PIDFDID');
  else
    assert.ok(
      listen_pidfdid === null || listen_pidfdid === 'self',
      `${tool}: LISTEN_PIDFDID ${listen_pidfdid}`,
    );
  return { ...rest, env: rest.env.filter((n) => n !== 'LISTEN_PIDFDID') };
}

async function reports(dir: string, count: number): Promise<Report[]> {
  const deadline = Date.now() + REPORT_TIMEOUT_MS;
  while (Date.now() < deadline) {
    const files = readdirSync(dir).filter((f) => f.endsWith('.json'));
    if (files.length >= count) {
      const parsed: Report[] = [];
      for (const f of files) {
        try {
          parsed.push(JSON.parse(readFileSync(join(dir, f), 'utf8')) as Report);
        } catch {
          break; // still being written
        }
      }
      if (parsed.length >= count) return parsed;
    }
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`expected ${count} reports in ${dir} within ${REPORT_TIMEOUT_MS} ms`);
}

/** Connect, optionally send a line, and read until the peer closes (bounded by a timer). */
function exchange(port: number, line: string | undefined): Promise<string> {
  return new Promise((resolve, reject) => {
    const sock = net.connect(port, '127.0.0.1');
    let data = '';
    const timer = setTimeout(() => {
      sock.destroy();
      reject(new Error(`no answer from port ${port} in time (got '${data}')`));
    }, REPORT_TIMEOUT_MS);
    sock.on('connect', () => {
      if (line !== undefined) sock.end(line);
    });
    sock.on('data', (d) => {
      data += d.toString();
    });
    sock.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    sock.on('close', () => {
      clearTimeout(timer);
      resolve(data);
    });
  });
}

async function stop(tool: Tool): Promise<number | null> {
  if (tool.child.exitCode === null && tool.child.signalCode === null) tool.child.kill('SIGTERM');
  const timer = setTimeout(() => tool.child.kill('SIGKILL'), 10_000);
  const code = await tool.exit;
  clearTimeout(timer);
  return code;
}

const skipPeers = !hasSsa || !hasPython ? 'needs systemd-socket-activate and /usr/bin/python3' : false;

describe('sockunit activate: command line', () => {
  it('ends options at the first non-option or at --', () => {
    assert.deepEqual(splitArguments(['-l', '8080', '--', 'cmd', '-x']).command, ['cmd', '-x']);
    assert.deepEqual(splitArguments(['-l', '8080', 'cmd', '-x']).command, ['cmd', '-x']);
    const bundled = splitArguments(['-al8080', '--acc', '--listen=9090', '-E', 'A=1', 'x']);
    assert.deepEqual(bundled.options, [
      { name: 'accept' },
      { name: 'listen', value: '8080' },
      { name: 'accept' },
      { name: 'listen', value: '9090' },
      { name: 'setenv', value: 'A=1' },
    ]);
    assert.throws(() => splitArguments(['--s']), /ambiguous/);
    assert.throws(() => splitArguments(['-l']), /requires an argument/);
    assert.throws(() => splitArguments(['--bogus']), /unrecognized option '--bogus'/);
  });

  it('reads every flag systemd-socket-activate has, plus --protocol', () => {
    const p = parseActivateArguments([
      '-l',
      '1',
      '--listen',
      '/run/x.sock',
      '--seqpacket',
      '--inetd',
      '--environment=B',
      '--fdname=a:b',
      '--fdname',
      'c',
      '--protocol=SCTP',
      '--mptcp-fallback',
      'cmd',
    ]);
    assert.equal(p.kind, 'run');
    if (p.kind !== 'run') return;
    assert.deepEqual(p.options.listen, ['1', '/run/x.sock']);
    assert.equal(p.options.socketType, 'seqpacket');
    assert.equal(p.options.inetd, true);
    assert.deepEqual(p.options.setenv, ['B']);
    assert.deepEqual(p.options.fdnames, ['a', 'b', 'c']);
    assert.equal(p.options.protocol, 'sctp');
    assert.equal(p.options.mptcpFallback, true);
    assert.throws(() => parseActivateArguments(['-d', '--seqpacket', 'x']), /may not be combined/);
    assert.throws(
      () => parseActivateArguments(['--protocol=quic', 'x']),
      /expected tcp, mptcp, sctp or udplite/,
    );
  });

  it('builds the environment in systemd-socket-activate order, -E replacing in place', () => {
    const env = commandEnvironment(
      {
        listen: ['1', '2'],
        socketType: 'stream',
        accept: false,
        inetd: false,
        now: false,
        mptcpFallback: false,
        setenv: ['PATH=/x', 'NEW', 'Z=1'],
        fdnames: ['one'],
        command: ['x'],
        environment: { HOME: '/h', PATH: '/p', OTHER: 'o', NEW: 'copied' },
        log: () => {},
      },
      2,
    );
    assert.deepEqual(env, [
      'PATH=/x',
      'HOME=/h',
      'LISTEN_FDS=2',
      'LISTEN_PID=0000000000',
      ...listenPidfdIdSlot(), // LISTEN_PIDFDID=<20 zeros> where the kernel has pidfs
      'LISTEN_FDNAMES=one:one',
      'NEW=copied',
      'Z=1',
    ]);
    assert.equal(fdnameIsValid('web'), true);
    assert.equal(fdnameIsValid('a b'), false);
    assert.equal(fdnameIsValid('a:b'), false);
  });
});

describe('sockunit activate and systemd-socket-activate on the same service', { skip: skipPeers }, () => {
  it('Accept=no: the same fds, names, LISTEN_PID and environment names, and the same exit status', async () => {
    const results: Report[] = [];
    const logs: string[] = [];
    for (const tool of ['ssa', 'sockunit'] as const) {
      const [a, b] = await freePorts(2);
      const dir = reportDir();
      const t = await start(
        tool,
        [
          '-l',
          `127.0.0.1:${a}`,
          '-l',
          `127.0.0.1:${b}`,
          '--fdname=web:admin',
          '-E',
          'KEPT',
          '-E',
          'EXTRA=1',
          PYTHON,
          '-I',
          servicePath,
          dir,
          'report',
        ],
        2,
      );
      const sock = net.connect(b as number, '127.0.0.1');
      sock.on('error', () => {});
      const [report] = await reports(dir, 1);
      sock.destroy();
      assert.equal(await t.exit, 0, `${tool} exits with the service's status 0; stderr: ${t.stderr()}`);
      results.push(report as Report);
      logs.push(t.stderr().replace(/:\d+ as/g, ':PORT as'));
    }
    const [ssa, ours] = results as [Report, Report];
    assert.deepEqual(withoutPidfdId('sockunit', ours), withoutPidfdId('ssa', ssa));
    assert.equal(ours.listen_fds, '2');
    assert.equal(ours.listen_fdnames, 'web:admin');
    assert.equal(ours.listen_pid_is_self, true);
    // Python's locale coercion adds LC_CTYPE itself; everything else came from the tool.
    assert.deepEqual(
      ours.env.filter((n) => n !== 'LC_CTYPE'),
      [
        ...['TERM', 'PATH', 'USER', 'HOME', 'LISTEN_FDS', 'LISTEN_PID'],
        ...(kernelHasPidfdIds() ? ['LISTEN_PIDFDID'] : []),
        ...['LISTEN_FDNAMES', 'KEPT', 'EXTRA'],
      ],
    );
    assert.ok(!ours.env.includes('SECRET'), "the tool's own environment is scrubbed");
    assert.equal(ours.fds.length, 2);
    for (const fd of ours.fds)
      assert.deepEqual([fd.domain, fd.type, fd.protocol, fd.listening], [2, 1, 6, 1]);
    for (const log of logs) {
      assert.match(log, /^Listening on 127\.0\.0\.1:PORT as 3\.$/m);
      assert.match(log, /^Listening on 127\.0\.0\.1:PORT as 4\.$/m);
      assert.match(log, /^Communication attempt on fd 4\.$/m);
      assert.match(log, /^Execing \/usr\/bin\/python3 \(/m);
    }
  });

  it('--accept: one process per connection, the connection at fd 3 with LISTEN_FDS=1 and its own LISTEN_PID', async () => {
    const results: Report[][] = [];
    for (const tool of ['ssa', 'sockunit'] as const) {
      const [port] = (await freePorts(1)) as [number];
      const dir = reportDir();
      const t = await start(
        tool,
        ['-a', '-l', `127.0.0.1:${port}`, PYTHON, '-I', servicePath, dir, 'echo'],
        1,
      );
      assert.equal(await exchange(port, 'one\n'), 'echo:one\n');
      assert.equal(await exchange(port, 'two\n'), 'echo:two\n');
      results.push(await reports(dir, 2));
      const code = await stop(t);
      if (tool === 'sockunit') assert.equal(code, 0, 'SIGTERM stops the accept loop cleanly');
      assert.match(t.stderr(), /^Connection from 127\.0\.0\.1:\d+ to 127\.0\.0\.1:\d+$/m);
      assert.match(t.stderr(), /^Spawned \/usr\/bin\/python3 \(.*\) as PID \d+\.$/m);
    }
    const [ssa, ours] = results as [Report[], Report[]];
    assert.deepEqual(
      ours.map((r) => withoutPidfdId('sockunit', r)),
      ssa.map((r) => withoutPidfdId('ssa', r)),
    );
    for (const r of ours) {
      assert.equal(r.listen_fds, '1');
      assert.equal(r.listen_pid_is_self, true);
      assert.deepEqual(r.fds, [
        { domain: 2, type: 1, protocol: 6, listening: 0, nonblock: false, cloexec: false, is_mptcp: 0 },
      ]);
    }
  });

  it('--inetd --accept: the connection on stdin/stdout and no LISTEN_* (env and cat)', async () => {
    const envs: string[] = [];
    for (const tool of ['ssa', 'sockunit'] as const) {
      const [port, catPort] = (await freePorts(2)) as [number, number];
      const t = await start(tool, ['--inetd', '-a', '-l', `127.0.0.1:${port}`, '/usr/bin/env'], 1);
      const env = await exchange(port, undefined);
      envs.push(
        env
          .split('\n')
          .filter((l) => l !== '')
          .map((l) => l.slice(0, l.indexOf('=')))
          .join(' '),
      );
      await stop(t);
      const cat = await start(tool, ['--inetd', '-a', '-l', `127.0.0.1:${catPort}`, '/bin/cat'], 1);
      assert.equal(await exchange(catPort, 'hello over stdin\n'), 'hello over stdin\n');
      await stop(cat);
    }
    assert.equal(envs[1], envs[0]);
    assert.equal(envs[1], 'TERM PATH USER HOME');
  });

  it('--datagram: the service gets the UDP socket and the pending datagram', async () => {
    const results: Report[] = [];
    for (const tool of ['ssa', 'sockunit'] as const) {
      const [port] = (await freePorts(1)) as [number];
      const dir = reportDir();
      const t = await start(
        tool,
        ['-d', '-l', `127.0.0.1:${port}`, PYTHON, '-I', servicePath, dir, 'dgram'],
        1,
      );
      const client = dgram.createSocket('udp4');
      await new Promise<void>((r) => client.send('ping', port, '127.0.0.1', () => r()));
      const [report] = await reports(dir, 1);
      client.close();
      assert.equal(await t.exit, 0);
      results.push(report as Report);
    }
    const [ssa, ours] = results as [Report, Report];
    assert.deepEqual(withoutPidfdId('sockunit', ours), withoutPidfdId('ssa', ssa));
    assert.equal(ours.datagram, 'ping');
    assert.deepEqual([ours.fds[0]?.domain, ours.fds[0]?.type, ours.fds[0]?.protocol], [2, 2, 17]);
  });
});

describe('sockunit activate: MPTCP, signals and errors', {
  skip: hasPython ? false : 'needs /usr/bin/python3',
}, () => {
  it('--protocol=mptcp: an MPTCP listener (protocol 262) and MPTCP connections end to end', async (t) => {
    if (readFileSync('/proc/sys/net/mptcp/enabled', 'utf8').trim() !== '1')
      return t.skip('net.mptcp.enabled is 0 here');
    const [a, b] = (await freePorts(2)) as [number, number];
    // Accept=no: the service sees its listener's protocol.
    const dir = reportDir();
    const single = await start(
      'sockunit',
      ['--protocol=mptcp', '-l', `127.0.0.1:${a}`, PYTHON, '-I', servicePath, dir, 'report'],
      1,
    );
    assert.match(single.stderr(), /^Listening on 127\.0\.0\.1:\d+ as 3 \(MPTCP\)\.$/m);
    const sock = net.connect(a, '127.0.0.1');
    sock.on('error', () => {});
    const [report] = (await reports(dir, 1)) as [Report];
    sock.destroy();
    assert.equal(await single.exit, 0);
    assert.deepEqual([report.fds[0]?.type, report.fds[0]?.protocol, report.fds[0]?.listening], [1, 262, 1]);
    // Accept=yes with an MPTCP client: both ends are MPTCP.
    const dir2 = reportDir();
    const loop = await start(
      'sockunit',
      ['-a', '--protocol=mptcp', '-l', `127.0.0.1:${b}`, PYTHON, '-I', servicePath, dir2, 'echo'],
      1,
    );
    const client = spawnSync(
      PYTHON,
      [
        '-I',
        '-c',
        `import socket\ns = socket.socket(socket.AF_INET, socket.SOCK_STREAM, 262)\ns.settimeout(20)\ns.connect(('127.0.0.1', ${b}))\ns.sendall(b'mp\\n')\nprint(s.getsockopt(6, 43), s.makefile('rb').readline().decode().strip())`,
      ],
      { encoding: 'utf8', timeout: 30_000 },
    );
    assert.equal(client.stdout.trim(), '1 echo:mp', client.stderr);
    const [conn] = (await reports(dir2, 1)) as [Report];
    assert.deepEqual([conn.fds[0]?.protocol, conn.fds[0]?.is_mptcp], [262, 1]);
    assert.equal(await stop(loop), 0);
  });

  it('forwards SIGTERM to the command and exits 128 + signal', async () => {
    const [port] = (await freePorts(1)) as [number];
    const dir = reportDir();
    const t = await start(
      'sockunit',
      ['--now', '-l', `127.0.0.1:${port}`, PYTHON, '-I', servicePath, dir, 'wait'],
      1,
    );
    const [report] = (await reports(dir, 1)) as [Report];
    assert.equal(report.listen_pid_is_self, true, '--now: LISTEN_PID is the command, not sockunit');
    assert.equal(
      report.listen_pidfdid,
      kernelHasPidfdIds() ? 'self' : null,
      "and LISTEN_PIDFDID its pidfd's id",
    );
    t.child.kill('SIGTERM');
    assert.equal(await t.exit, 143, t.stderr());
  });

  it('refuses bad input with clear messages before listening', async () => {
    const [port] = (await freePorts(1)) as [number];
    const cases: [string[], RegExp][] = [
      [['-l', '1.2.3:80', '/bin/true'], /Failed to parse -l '1\.2\.3:80': '1\.2\.3' is not an IPv4 address/],
      [['-l', '127.0.0.1:80'], /command to execute is missing/],
      [
        ['-d', '-a', '-l', `127.0.0.1:${port}`, '/bin/true'],
        /--datagram and --accept options may not be combined/,
      ],
      [
        ['--protocol=mptcp', '-d', '-l', `127.0.0.1:${port}`, '/bin/true'],
        /--protocol=mptcp needs stream sockets/,
      ],
      [
        ['-l', `127.0.0.1:${port}`, 'no-such-command-xyz'],
        /cannot execute 'no-such-command-xyz': not found in PATH/,
      ],
      [['--inetd', '-l', '1', '-l', '2', '/bin/cat'], /--inetd only supported with a single file descriptor/],
    ];
    for (const [args, message] of cases) {
      const r = run('sockunit', args);
      assert.equal(r.status, 1, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, message);
    }
  });

  it('says which port is in use and what to do', async () => {
    const holder = net.createServer();
    await new Promise<void>((r) => holder.listen(0, '127.0.0.1', r));
    const port = (holder.address() as net.AddressInfo).port;
    try {
      const r = run('sockunit', ['-l', `127.0.0.1:${port}`, '/bin/true']);
      assert.equal(r.status, 1);
      assert.match(
        r.stderr,
        new RegExp(`Failed to open '127\\.0\\.0\\.1:${port}': bind EADDRINUSE 127\\.0\\.0\\.1:${port}`),
      );
      assert.match(r.stderr, /pick another port/);
    } finally {
      holder.close();
    }
  });

  it('creates unix socket nodes 0644, as systemd-socket-activate does', async () => {
    const path = join(scratch, 'activate.sock');
    const dir = reportDir();
    const t = await start('sockunit', ['-l', path, PYTHON, '-I', servicePath, dir, 'report'], 1);
    const { statSync } = await import('node:fs');
    assert.equal(statSync(path).mode & 0o777, 0o644);
    const c = net.connect(path);
    c.on('error', () => {});
    const [report] = (await reports(dir, 1)) as [Report];
    c.destroy();
    assert.equal(await t.exit, 0);
    assert.deepEqual([report.fds[0]?.domain, report.fds[0]?.type], [1, 1]);
  });
});
