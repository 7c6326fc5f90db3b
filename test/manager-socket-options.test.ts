// The [Socket] options under `sockunit run`, as the service sees them: one socket unit per kind of
// listener carries its options, one service gets every fd, reads each option back from the
// kernel (getsockopt, fcntl, mq_getattr on the fds it was passed) and writes what it read. Each
// value is asserted as the kernel reports it, which is not always what the unit says: the kernel
// doubles SO_RCVBUF/SO_SNDBUF, keeps TCP_DEFER_ACCEPT as a count of SYN-ACK retransmissions, and
// rounds a pipe's size up to a power of two pages. (net-options.test.ts sets the same options on
// sockets the test opens itself; here the manager opens them from unit files.)

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { release } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { controlAsync } from './fixtures/manager/control.js';
import {
  freePort,
  isRoot,
  type ManagerProcess,
  managerSuite,
  rootUnavailable,
  SYSTEM_PYTHON,
  waitUntil,
} from './fixtures/manager/harness.js';
import { foreignGroup } from './helpers/groups.js';

/** Reads back, on every fd it was passed, the options the units set; writes them as JSON keyed by
 * LISTEN_FDNAMES. Option numbers are Linux's (asm-generic/socket.h, netinet/in.h, linux/tcp.h):
 * python's socket module lacks several. A getsockopt the socket refuses gives "errno N". */
const OPTIONS_PY = String.raw`
import ctypes, fcntl, json, os, socket, sys
out = sys.argv[1]
names = os.environ["LISTEN_FDNAMES"].split(":") if os.environ.get("LISTEN_PID") == str(os.getpid()) else []
SOCKOPTS = {
    "SO_REUSEPORT": (1, 15), "SO_KEEPALIVE": (1, 9), "SO_PRIORITY": (1, 12), "SO_RCVBUF": (1, 8),
    "SO_SNDBUF": (1, 7), "SO_MARK": (1, 36), "SO_BROADCAST": (1, 6), "SO_PASSCRED": (1, 16),
    "SO_PASSSEC": (1, 34), "SO_PASSPIDFD": (1, 76), "SO_PASSRIGHTS": (1, 83),
    "SO_TIMESTAMP": (1, 29), "SO_TIMESTAMPNS": (1, 35), "SO_BINDTODEVICE": (1, 25, 16),
    "TCP_NODELAY": (6, 1), "TCP_KEEPIDLE": (6, 4), "TCP_KEEPINTVL": (6, 5), "TCP_KEEPCNT": (6, 6),
    "TCP_DEFER_ACCEPT": (6, 9), "TCP_CONGESTION": (6, 13, 16),
    "IP_TOS": (0, 1), "IP_TTL": (0, 2), "IP_PKTINFO": (0, 8), "IP_FREEBIND": (0, 15),
    "IP_TRANSPARENT": (0, 19), "IPV6_UNICAST_HOPS": (41, 16), "IPV6_FREEBIND": (41, 78),
}
def opt(s, level, name, size=0):
    try:
        if size:
            return s.getsockopt(level, name, size).split(b"\0")[0].decode()
        return s.getsockopt(level, name)
    except OSError as e:
        return "errno %d" % e.errno
class MqAttr(ctypes.Structure):
    _fields_ = [("flags", ctypes.c_long), ("maxmsg", ctypes.c_long), ("msgsize", ctypes.c_long),
                ("curmsgs", ctypes.c_long), ("pad", ctypes.c_long * 4)]
report = {}
for i, name in enumerate(names):
    fd = 3 + i
    e = {"accmode": fcntl.fcntl(fd, fcntl.F_GETFL) & os.O_ACCMODE}
    if name == "fifo":
        e["pipe_size"] = fcntl.fcntl(fd, 1032)  # F_GETPIPE_SZ
    elif name == "mq":
        libc = ctypes.CDLL(None)
        mq_getattr = getattr(libc, "mq_getattr", None) or ctypes.CDLL("librt.so.1").mq_getattr
        a = MqAttr()
        mq_getattr(fd, ctypes.byref(a))
        e["maxmsg"], e["msgsize"] = a.maxmsg, a.msgsize
    elif name != "special":
        s = socket.socket(fileno=os.dup(fd))
        for key, how in SOCKOPTS.items():
            e[key] = opt(s, *how)
        s.close()
    report[name] = e
with open(out + ".tmp", "w") as f:
    json.dump(report, f)
os.rename(out + ".tmp", out)
`;

type Readings = Record<string, Record<string, number | string>>;

/** getsockopt(TCP_DEFER_ACCEPT) for a unit's DeferAcceptSec=: the kernel stores the number of
 * SYN-ACK retransmissions that cover the seconds (secs_to_retrans(): 1 s, doubling, capped at
 * TCP_RTO_MAX 120 s) and reports the seconds those retransmissions take (retrans_to_secs()). */
function deferAcceptAsReported(seconds: number): number {
  let retrans = 0;
  for (let timeout = 1, period = 1; seconds > 0 && retrans < 255; ) {
    retrans++;
    if (seconds <= period) break;
    timeout = Math.min(timeout * 2, 120);
    period += timeout;
  }
  let reported = 0;
  for (let i = 0, timeout = 1; i < retrans; i++) {
    reported += timeout;
    timeout = Math.min(timeout * 2, 120);
  }
  return reported;
}

/** F_GETPIPE_SZ for PipeSize=: round_pipe_size() takes whole pages, a power of two of them. */
function pipeSizeAsReported(bytes: number): number {
  const page = Number(execFileSync('getconf', ['PAGESIZE'], { encoding: 'utf8' }));
  let size = page;
  while (size < bytes) size *= 2;
  return size;
}

/** SO_RCVBUF/SO_SNDBUF for a request: the kernel stores (and reports) twice what it grants, and
 * grants up to rmem_max/wmem_max unless the manager may force more (root: SO_*BUFFORCE). */
function bufferAsReported(bytes: number, sysctl: string): number {
  const max = Number(readFileSync(`/proc/sys/net/core/${sysctl}`, 'utf8'));
  return 2 * (isRoot() ? bytes : Math.min(bytes, max));
}

/** A congestion control this kernel offers that is not its default (so setting it shows). */
function otherCongestionControl(): string {
  const available = readFileSync('/proc/sys/net/ipv4/tcp_available_congestion_control', 'utf8')
    .trim()
    .split(/\s+/);
  const current = readFileSync('/proc/sys/net/ipv4/tcp_congestion_control', 'utf8').trim();
  return available.find((c) => c !== current) ?? current;
}

/** Why a kernel feature is missing here, or undefined (in CI it must be there). */
function kernelLacks(major: number, minor: number, what: string): string | undefined {
  const [a, b] = release().split('.').map(Number) as [number, number];
  if (a > major || (a === major && b >= minor) || process.env.CI) return undefined;
  return `${what} needs Linux ${major}.${minor} or later; this kernel is ${release()}`;
}

describe('sockunit run: [Socket] options, read back inside the service', () => {
  const suite = managerSuite('sockopts');
  const privileged = rootUnavailable();
  const mqName = `/sockunit-keytest-${process.pid}-${Date.now()}`;
  const rcv = 48 * 1024;
  const snd = 40 * 1024;
  const congestion = otherCongestionControl();
  const group = privileged ? undefined : foreignGroup();
  let m: ManagerProcess | undefined;
  let readings: Readings = {};

  /** One socket unit with its options, feeding opts.service under `name`. */
  const socketUnit = (name: string, lines: string[]) =>
    ['[Socket]', ...lines, `FileDescriptorName=${name}`, 'Service=opts.service', 'RemoveOnStop=yes', ''].join(
      '\n',
    );

  test('opts.service starts with every socket unit’s fd', async () => {
    const [tcp4, tcp6, udp, priv] = [
      await freePort(),
      await freePort('::1'),
      await freePort(),
      await freePort(),
    ];
    m = await suite.start((dir) => {
      writeFileSync(join(dir, 'opts.py'), OPTIONS_PY);
      const units: Record<string, string> = {
        'tcp4.socket': socketUnit('tcp4', [
          `ListenStream=127.0.0.1:${tcp4}`,
          'KeepAlive=yes',
          'KeepAliveTimeSec=123',
          'KeepAliveIntervalSec=45',
          'KeepAliveProbes=6',
          'DeferAcceptSec=5',
          'NoDelay=yes',
          'Priority=5',
          'IPTOS=low-delay',
          'IPTTL=33',
          `ReceiveBuffer=${rcv}`,
          `SendBuffer=${snd}`,
          'FreeBind=yes',
          `TCPCongestion=${congestion}`,
          'ReusePort=yes',
        ]),
        'tcp6.socket': socketUnit('tcp6', [`ListenStream=[::1]:${tcp6}`, 'IPTTL=17', 'FreeBind=yes']),
        'udp.socket': socketUnit('udp', [
          `ListenDatagram=127.0.0.1:${udp}`,
          'Broadcast=yes',
          'PassPacketInfo=yes',
          'Timestamping=us',
        ]),
        'unixdg.socket': socketUnit('unixdg', [
          `ListenDatagram=${dir}/dg.sock`,
          'PassCredentials=yes',
          'PassSecurity=yes',
          'PassPIDFD=yes',
          'AcceptFileDescriptors=no',
          'Timestamping=ns',
        ]),
        'fifo.socket': socketUnit('fifo', [`ListenFIFO=${dir}/fifo`, 'PipeSize=100000']),
        // A character device epoll accepts (a regular file it refuses, as systemd's does).
        'special.socket': socketUnit('special', ['ListenSpecial=/dev/ptmx', 'Writable=yes']),
        'mq.socket': socketUnit('mq', [
          `ListenMessageQueue=${mqName}`,
          'MessageQueueMaxMessages=3',
          'MessageQueueMessageSize=64',
        ]),
        'opts.service': `[Service]\nExecStart=${SYSTEM_PYTHON} ${dir}/opts.py ${dir}/opts.json\n`,
      };
      if (group) {
        units['priv.socket'] = socketUnit('priv', [
          `ListenStream=127.0.0.1:${priv}`,
          'Mark=42',
          'Transparent=yes',
          'BindToDevice=lo',
        ]);
        units['group.socket'] = socketUnit('group', [
          `ListenStream=${dir}/group.sock`,
          `SocketGroup=${group.name}`,
        ]);
      }
      return units;
    });
    const started = await controlAsync(m, 'start', 'opts.service');
    assert.equal(started.code, 0, started.out);
    const path = join(m.dir, 'opts.json');
    readings = JSON.parse(
      await waitUntil('opts.json', () => (existsSync(path) ? readFileSync(path, 'utf8') : undefined), 10_000),
    ) as Readings;
    // socketsOf() passes the triggering sockets sorted by name.
    const expected = ['fifo', ...(group ? ['group'] : []), 'mq', ...(group ? ['priv'] : [])];
    expected.push('special', 'tcp4', 'tcp6', 'udp', 'unixdg');
    assert.deepEqual(Object.keys(readings), expected, m.log);
  });

  test('TCP over IPv4: keep-alive, DeferAcceptSec=, NoDelay=, Priority=, IPTOS=, IPTTL=, buffers, FreeBind=, TCPCongestion=, ReusePort=', () => {
    const r = readings.tcp4;
    assert.ok(r, 'the tcp4 fd was read');
    assert.deepEqual(
      {
        keepAlive: r.SO_KEEPALIVE,
        idle: r.TCP_KEEPIDLE,
        interval: r.TCP_KEEPINTVL,
        probes: r.TCP_KEEPCNT,
        deferAccept: r.TCP_DEFER_ACCEPT,
        noDelay: r.TCP_NODELAY,
        priority: r.SO_PRIORITY,
        tos: r.IP_TOS,
        ttl: r.IP_TTL,
        rcvbuf: r.SO_RCVBUF,
        sndbuf: r.SO_SNDBUF,
        freeBind: r.IP_FREEBIND,
        congestion: r.TCP_CONGESTION,
        reusePort: r.SO_REUSEPORT,
      },
      {
        keepAlive: 1,
        idle: 123,
        interval: 45,
        probes: 6,
        // 5 s needs three SYN-ACK retransmissions (1 + 2 + 4 s): reported as 7.
        deferAccept: deferAcceptAsReported(5),
        noDelay: 1,
        // IPTOS= would rewrite the priority from the TOS bits; Priority= is set again after it.
        priority: 5,
        tos: 0x10,
        ttl: 33,
        rcvbuf: bufferAsReported(rcv, 'rmem_max'),
        sndbuf: bufferAsReported(snd, 'wmem_max'),
        freeBind: 1,
        congestion,
        reusePort: 1,
      },
    );
    assert.equal(deferAcceptAsReported(5), 7);
  });

  test('TCP over IPv6: IPTTL= is IPV6_UNICAST_HOPS, FreeBind= is IPV6_FREEBIND', () => {
    const r = readings.tcp6;
    assert.ok(r, 'the tcp6 fd was read');
    assert.deepEqual({ hops: r.IPV6_UNICAST_HOPS, freeBind: r.IPV6_FREEBIND }, { hops: 17, freeBind: 1 });
  });

  test('UDP: Broadcast=, PassPacketInfo= (IP_PKTINFO), Timestamping=us (SO_TIMESTAMP, not NS)', () => {
    const r = readings.udp;
    assert.ok(r, 'the udp fd was read');
    assert.deepEqual(
      { broadcast: r.SO_BROADCAST, pktinfo: r.IP_PKTINFO, us: r.SO_TIMESTAMP, ns: r.SO_TIMESTAMPNS },
      { broadcast: 1, pktinfo: 1, us: 1, ns: 0 },
    );
  });

  test('unix datagram: PassCredentials=, PassSecurity=, Timestamping=ns', () => {
    const r = readings.unixdg;
    assert.ok(r, 'the unixdg fd was read');
    // SO_TIMESTAMPNS also sets the microsecond flag, which getsockopt(SO_TIMESTAMP) then hides.
    assert.deepEqual(
      { passcred: r.SO_PASSCRED, passsec: r.SO_PASSSEC, ns: r.SO_TIMESTAMPNS, us: r.SO_TIMESTAMP },
      { passcred: 1, passsec: 1, ns: 1, us: 0 },
    );
  });

  test('unix datagram: PassPIDFD= (SO_PASSPIDFD)', (t) => {
    const why = kernelLacks(6, 5, 'SO_PASSPIDFD');
    if (why) return t.skip(why);
    assert.equal(readings.unixdg?.SO_PASSPIDFD, 1);
  });

  test('unix datagram: AcceptFileDescriptors=no (SO_PASSRIGHTS off; on by default)', (t) => {
    const why = kernelLacks(6, 16, 'SO_PASSRIGHTS');
    if (why) return t.skip(why);
    assert.equal(readings.unixdg?.SO_PASSRIGHTS, 0);
  });

  test('FIFO: PipeSize= (F_GETPIPE_SZ, rounded up to a power of two pages)', () => {
    assert.equal(readings.fifo?.pipe_size, pipeSizeAsReported(100000));
  });

  test('ListenSpecial=: Writable=yes opens it read-write', () => {
    assert.equal(readings.special?.accmode, 2, 'O_RDWR (O_RDONLY is 0)');
  });

  test('message queue: MessageQueueMaxMessages=, MessageQueueMessageSize= (mq_getattr)', () => {
    assert.deepEqual({ max: readings.mq?.maxmsg, size: readings.mq?.msgsize }, { max: 3, size: 64 });
  });

  test('as root: Mark=, Transparent=, BindToDevice=, SocketGroup=', (t) => {
    if (privileged) return t.skip(privileged);
    const r = readings.priv;
    assert.ok(r && group, 'the priv fd was read');
    assert.deepEqual(
      { mark: r.SO_MARK, transparent: r.IP_TRANSPARENT, device: r.SO_BINDTODEVICE },
      { mark: 42, transparent: 1, device: 'lo' },
    );
    assert.equal(
      statSync(join(m?.dir ?? '', 'group.sock')).gid,
      group.gid,
      `group ${group.name} owns the socket`,
    );
  });

  test('every option applied without a warning from the kernel', () => {
    // Outside CI an older kernel may refuse the options it does not have yet (tested above).
    const lacking = [
      kernelLacks(6, 5, 'SO_PASSPIDFD') ? 'PassPIDFD=' : '',
      kernelLacks(6, 16, 'SO_PASSRIGHTS') ? 'AcceptFileDescriptors=' : '',
    ].filter(Boolean);
    const refused = m?.matching(/the kernel refused/) ?? [];
    assert.deepEqual(
      refused.filter((l) => !lacking.some((key) => l.includes(key))),
      [],
    );
  });
});
