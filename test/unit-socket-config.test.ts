import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { formatDiagnostic } from '../src/unit/diagnostic.js';
import { type TypedUnit, typeUnit } from '../src/unit/load-unit.js';
import {
  parseBindIPv6Only,
  parseFileDescriptorName,
  parseIpTos,
  parseTimestamping,
  type SocketUnitConfig,
} from '../src/unit/socket-config.js';
import { specifierContext } from '../src/unit/specifiers.js';
import { parseUnitText } from '../src/unit/syntax.js';
import { ValueError } from '../src/unit/values.js';

const DIR = '/fixture';

function typeText(name: string, text: string): TypedUnit {
  const file = `${DIR}/${name}`;
  const parsed = parseUnitText(text, file);
  return typeUnit(name, [{ path: file, entries: parsed.entries }], {
    sections: parsed.sections.map((s) => ({ file, name: s.name, line: s.line })),
    specifiers: specifierContext(name, file, 'system'),
  });
}

function socketOf(t: TypedUnit): SocketUnitConfig {
  assert.equal(t.config?.type, 'socket');
  return t.config as SocketUnitConfig;
}

/** The diagnostics of a unit as the CLI prints them, severity first. */
function printed(t: TypedUnit): string[] {
  return t.diagnostics.map((d) => `${d.severity} ${formatDiagnostic(d)}`);
}

describe('socket defaults (socket-units.md §3.4)', () => {
  it('fills every default of an Accept=no socket', () => {
    const t = typeText('foo.socket', '[Socket]\nListenStream=8080\n');
    assert.equal(t.loadState, 'loaded');
    assert.deepEqual(t.diagnostics, []);
    const s = socketOf(t).socket;
    assert.equal(s.backlog, 2147483647);
    assert.equal(s.bindIPv6Only, 'default');
    assert.equal(s.socketMode, 0o666);
    assert.equal(s.directoryMode, 0o755);
    assert.equal(s.accept, false);
    assert.equal(s.maxConnections, 64);
    assert.equal(s.maxConnectionsPerSource, 0);
    assert.equal(s.acceptFileDescriptors, true);
    assert.equal(s.timestamping, 'off');
    assert.equal(s.triggerLimitIntervalUsec, 2_000_000);
    assert.equal(s.triggerLimitBurst, 20);
    assert.equal(s.pollLimitIntervalUsec, 2_000_000);
    assert.equal(s.pollLimitBurst, 15);
    assert.equal(s.fileDescriptorName, 'foo.socket');
    assert.equal(s.mptcpFallback, false);
    assert.equal(s.socketProtocol, undefined);
    assert.equal(socketOf(t).triggers, 'foo.service');
  });

  it('Accept=yes changes the limits, the fd name and the triggered unit', () => {
    const t = typeText('foo.socket', '[Socket]\nListenStream=8080\nAccept=yes\n');
    const c = socketOf(t);
    assert.equal(c.socket.triggerLimitBurst, 200);
    assert.equal(c.socket.pollLimitBurst, 150);
    assert.equal(c.socket.fileDescriptorName, 'connection');
    assert.equal(c.triggers, 'foo@.service');
  });

  it('explicit values win over the Accept-dependent defaults', () => {
    const c = socketOf(
      typeText(
        'foo.socket',
        '[Socket]\nListenStream=1\nAccept=yes\nTriggerLimitBurst=7\nPollLimitBurst=0\nFileDescriptorName=x\n',
      ),
    );
    assert.equal(c.socket.triggerLimitBurst, 7);
    assert.equal(c.socket.pollLimitBurst, 0);
    assert.equal(c.socket.fileDescriptorName, 'x');
  });

  it('Service= names the triggered unit (Accept=no)', () => {
    assert.equal(
      socketOf(typeText('foo.socket', '[Socket]\nListenStream=1\nService=bar.service\n')).triggers,
      'bar.service',
    );
  });
});

describe('socket values', () => {
  it('types every key group', () => {
    const c = socketOf(
      typeText(
        'v.socket',
        [
          '[Socket]',
          'ListenStream=[::]:443',
          'BindIPv6Only=yes',
          'SocketProtocol=MPTCP',
          'KeepAliveTimeSec=1min',
          'ReceiveBuffer=1M',
          'IPTOS=low-delay',
          'Timestamping=µs',
          'SocketMode=0600',
          'SocketUser=nobody',
          'BindToDevice=eth0',
          'BindToDevice=*',
          'X-Sockunit-MPTCPFallback=yes',
          'Symlinks=/run/a "/run/b c"',
        ].join('\n'),
      ),
    );
    const s = c.socket;
    assert.equal(s.bindIPv6Only, 'ipv6-only');
    assert.equal(s.socketProtocol, 'mptcp');
    assert.equal(s.keepAliveTimeUsec, 60_000_000);
    assert.equal(s.receiveBuffer, 1024 * 1024);
    assert.equal(s.ipTos, 0x10);
    assert.equal(s.timestamping, 'us');
    assert.equal(s.socketMode, 0o600);
    assert.equal(s.socketUser, 'nobody');
    assert.equal(s.bindToDevice, undefined);
    assert.equal(s.mptcpFallback, true);
    assert.deepEqual(s.symlinks, ['/run/a', '/run/b c']);
  });

  it('accepts SocketProtocol= numbers and any case', () => {
    for (const [v, p] of [
      ['262', 'mptcp'],
      ['Sctp', 'sctp'],
      ['136', 'udplite'],
    ] as const) {
      const listen = p === 'udplite' ? 'ListenDatagram=1' : 'ListenStream=1';
      assert.equal(
        socketOf(typeText('p.socket', `[Socket]\n${listen}\nSocketProtocol=${v}\n`)).socket.socketProtocol,
        p,
      );
    }
  });

  it('an empty Listen*= clears the ports of every kind', () => {
    const c = socketOf(
      typeText('e.socket', '[Socket]\nListenStream=1\nListenDatagram=2\nListenFIFO=\nListenStream=3\n'),
    );
    assert.deepEqual(c.socket.listen, [{ kind: 'stream', address: { family: 'any', port: 3 } }]);
  });

  it('expands specifiers in Listen*= (and %% gives the IPv6 scope)', () => {
    const c = socketOf(
      typeText('s.socket', '[Socket]\nListenStream=/run/%N.sock\nListenStream=[fe80::1]:80%%eth0\n'),
    );
    assert.deepEqual(c.socket.listen, [
      { kind: 'stream', address: { family: 'unix', path: '/run/s.sock' } },
      { kind: 'stream', address: { family: 'inet6', address: 'fe80::1', port: 80, scope: 'eth0' } },
    ]);
  });

  it('keeps X- keys and X- sections for the manager, silently', () => {
    const t = typeText('x.socket', '[Socket]\nListenStream=1\nX-Foo=bar\n[X-Extra]\nAnything=1\n');
    assert.deepEqual(t.diagnostics, []);
    assert.deepEqual(
      t.unknownXKeys.map((e) => `${e.section}.${e.key}=${e.value}`),
      ['Socket.X-Foo=bar', 'X-Extra.Anything=1'],
    );
  });

  it('records keys it does not enforce and says so', () => {
    const t = typeText('n.socket', '[Socket]\nListenStream=1\nPrivateTmp=yes\nMemoryMax=1G\n');
    assert.equal(t.loadState, 'loaded');
    assert.deepEqual(printed(t), [
      "notice /fixture/n.socket:3: PrivateTmp=yes: not enforced by sockunit (sockunit does not run a socket unit's own ExecStartPre=/ExecStartPost=/ExecStopPre=/ExecStopPost= commands, nor the settings that shape them); the line has no effect",
      'notice /fixture/n.socket:4: MemoryMax=1G: not enforced by sockunit (cgroup resource control is not applied by sockunit); the line has no effect',
    ]);
    assert.deepEqual(
      socketOf(t).notEnforced.map((n) => n.key),
      ['PrivateTmp', 'MemoryMax'],
    );
  });
});

/** Lines that are warned about and dropped; the unit still loads. */
const warned: [string, string[]][] = [
  [
    'Backlog=-1',
    [
      "warning /fixture/w.socket:3: Backlog=-1: '-1' is not an unsigned number; expected a decimal number of 0 or more; the line is ignored",
    ],
  ],
  [
    'Accept=maybe',
    [
      "warning /fixture/w.socket:3: Accept=maybe: 'maybe' is not a boolean; expected yes/no, true/false, on/off or 1/0; the line is ignored",
    ],
  ],
  [
    'ListenStream=localhost:80',
    [
      "warning /fixture/w.socket:3: ListenStream=localhost:80: 'localhost' is not an IPv4 address (host names are not resolved); expected A.B.C.D:PORT or [IPV6]:PORT; the line is ignored",
    ],
  ],
  [
    'SocketProtocol=tcp',
    [
      "warning /fixture/w.socket:3: SocketProtocol=tcp: 'tcp' is not a socket protocol; expected udplite, sctp or mptcp (or 136, 132, 262); plain TCP/UDP need no SocketProtocol=; the line is ignored",
    ],
  ],
  [
    'SocketProtocol=',
    [
      "warning /fixture/w.socket:3: SocketProtocol=: '' is not a socket protocol; expected udplite, sctp or mptcp (or 136, 132, 262); plain TCP/UDP need no SocketProtocol=; the line is ignored",
    ],
  ],
  [
    'FileDescriptorName=a:b',
    [
      "warning /fixture/w.socket:3: FileDescriptorName=a:b: 'a:b' is not a valid file descriptor name; expected at most 255 printable ASCII characters without ':'; the line is ignored",
    ],
  ],
  [
    'Service=foo.socket',
    [
      "warning /fixture/w.socket:3: Service=foo.socket: 'foo.socket' is not a service unit name; expected NAME.service; the line is ignored",
    ],
  ],
  [
    'ListenStream=/run/%Z',
    [
      'warning /fixture/w.socket:3: ListenStream=/run/%Z: unknown specifier %Z; expected one of %n %N %p %P %i %I %j %J %f %h %s %u %U %g %G %t %S %C %L %E %D %d %T %V %y %Y %H %l %q %m %b %v %a %o %M %w %W %A %B, or %% for a literal %; the line is ignored',
    ],
  ],
  [
    'Service=%t.service',
    [
      'warning /fixture/w.socket:3: Service=%t.service: specifier %t is not allowed here; expected one of %n %N %p %i %j %a %A %b %B %H %l %q %m %M %o %v %w %W %u %U %g %G; the line is ignored',
    ],
  ],
  [
    'Frobnicate=1',
    ["warning /fixture/w.socket:3: Unknown key name 'Frobnicate' in section [Socket], ignoring"],
  ],
  [
    'ExecStartPre=/bin/mkdir -p /run/x',
    [
      "notice /fixture/w.socket:3: ExecStartPre=/bin/mkdir -p /run/x: not enforced by sockunit (sockunit does not run a socket unit's own ExecStartPre=/ExecStartPost=/ExecStopPre=/ExecStopPost= commands, nor the settings that shape them); the line has no effect",
    ],
  ],
  [
    'FlushPending=yes',
    [
      'notice /fixture/w.socket:3: FlushPending=yes: not enforced by sockunit (queued connections and datagrams are left for the next service run, not flushed); the line has no effect',
    ],
  ],
  [
    'SocketProtocol=udplite',
    [
      'warning /fixture/w.socket:3: SocketProtocol=udplite: SocketProtocol=udplite does not apply to stream ports and is ignored for them; expected ListenDatagram= ports',
    ],
  ],
];

describe('lines that are warned about and ignored', () => {
  for (const [line, expected] of warned) {
    it(line, () => {
      const t = typeText('w.socket', `[Socket]\nListenStream=1\n${line}\n`);
      assert.deepEqual(printed(t), expected);
      assert.equal(t.loadState, 'loaded');
    });
  }

  it('warns once about an unknown section, at its header', () => {
    const t = typeText('w.socket', '[Socket]\nListenStream=1\n[Sockt]\nA=1\nB=2\n');
    assert.deepEqual(printed(t), [
      'warning /fixture/w.socket:3: Unknown section [Sockt], ignoring its lines; did you mean [Socket]?',
    ]);
  });

  it('warns that MPTCP on a unix socket will fail and that it does not apply to datagrams', () => {
    const t = typeText(
      'm.socket',
      '[Socket]\nListenStream=/run/m.sock\nListenDatagram=53\nSocketProtocol=mptcp\n',
    );
    assert.deepEqual(printed(t), [
      'warning /fixture/m.socket:4: SocketProtocol=mptcp: SocketProtocol=mptcp does not apply to datagram ports and is ignored for them; expected ListenStream= ports',
      'warning /fixture/m.socket:4: SocketProtocol=mptcp: SocketProtocol=mptcp on a unix socket fails when the port opens (EPROTONOSUPPORT); expected an IP address or port',
    ]);
  });
});

/** Combinations that make the unit bad-setting (socket-units.md §3.5). */
const refused: [string, string, string[]][] = [
  [
    'no Listen*=',
    '[Socket]\nAccept=no\n',
    [
      'error /fixture/b.socket: the unit has no Listen*= setting; expected at least one of ListenStream=, ListenDatagram=, …',
    ],
  ],
  [
    'MaxConnections=0',
    '[Socket]\nListenStream=1\nMaxConnections=0\n',
    [
      'error /fixture/b.socket:3: MaxConnections=0: MaxConnections= must be at least 1; expected a positive number',
    ],
  ],
  [
    'Accept=yes with a datagram port',
    '[Socket]\nListenStream=1\nListenDatagram=2\nAccept=yes\n',
    [
      'error /fixture/b.socket:4: Accept=yes: Accept=yes needs every port to accept connections, but this unit has datagram ports; expected only ListenStream= or ListenSequentialPacket=, or Accept=no',
    ],
  ],
  [
    'Accept=yes with Service=',
    '[Socket]\nListenStream=1\nAccept=yes\nService=x.service\n',
    [
      'error /fixture/b.socket:4: Service=x.service: Service= cannot be used with Accept=yes (each connection starts an instance of the template); expected Accept=no or no Service=',
    ],
  ],
  [
    'Symlinks= with two file-system sockets',
    '[Socket]\nListenStream=/run/a\nListenFIFO=/run/b\nSymlinks=/run/c\n',
    [
      'error /fixture/b.socket:4: Symlinks=/run/c: Symlinks= needs exactly one file-system socket or FIFO to point at, but the unit has 2; expected one ListenStream=/ListenDatagram=/ListenSequentialPacket=/path or ListenFIFO=',
    ],
  ],
];

describe('bad-setting refusals', () => {
  for (const [what, text, expected] of refused) {
    it(what, () => {
      const t = typeText('b.socket', text);
      assert.equal(t.loadState, 'bad-setting');
      assert.deepEqual(printed(t), expected);
    });
  }
});

describe('mutation-tested: every default of a socket, as systemd.socket(5) gives it', () => {
  it('a ListenStream= alone gets every other [Socket] setting at its default', () => {
    const { listen, ...socket } = socketOf(typeText('d.socket', '[Socket]\nListenStream=8080\n')).socket;
    assert.equal(listen.length, 1);
    assert.deepEqual(socket, {
      bindIPv6Only: 'default',
      backlog: 2147483647,
      socketMode: 0o666,
      directoryMode: 0o755,
      accept: false,
      writable: false,
      maxConnections: 64,
      maxConnectionsPerSource: 0,
      keepAlive: false,
      noDelay: false,
      freeBind: false,
      transparent: false,
      broadcast: false,
      passCredentials: false,
      passPIDFD: false,
      passSecurity: false,
      passPacketInfo: false,
      acceptFileDescriptors: true,
      timestamping: 'off',
      reusePort: false,
      removeOnStop: false,
      symlinks: [],
      fileDescriptorName: 'd.socket',
      triggerLimitIntervalUsec: 2_000_000,
      triggerLimitBurst: 20,
      pollLimitIntervalUsec: 2_000_000,
      pollLimitBurst: 15,
      mptcpFallback: false,
      serviceSocketOptions: [],
    });
  });
});

describe('mutation-tested: the [Socket] value grammars, word by word', () => {
  const TRUE = ['1', 'yes', 'y', 'true', 't', 'on', 'YES', 'On'];
  const FALSE = ['0', 'no', 'n', 'false', 'f', 'off', 'NO', 'Off'];

  it('BindIPv6Only=: its three names, or a boolean (yes = ipv6-only, no = both)', () => {
    for (const v of ['default', 'both', 'ipv6-only'] as const) assert.equal(parseBindIPv6Only(v), v);
    for (const v of TRUE) assert.equal(parseBindIPv6Only(v), 'ipv6-only', v);
    for (const v of FALSE) assert.equal(parseBindIPv6Only(v), 'both', v);
    assert.throws(() => parseBindIPv6Only('maybe'), ValueError);
  });

  it('Timestamping=: off, us (usec, µs), ns (nsec), or a boolean (yes = ns)', () => {
    for (const v of FALSE) assert.equal(parseTimestamping(v), 'off', v);
    for (const v of ['us', 'usec', '\u00b5s', '\u03bcs']) assert.equal(parseTimestamping(v), 'us', v);
    for (const v of ['ns', 'nsec', ...TRUE]) assert.equal(parseTimestamping(v), 'ns', v);
    for (const v of ['ms', 'maybe']) assert.throws(() => parseTimestamping(v), ValueError, v);
  });

  it('IPTOS=: the four names, or 0 to 255', () => {
    assert.deepEqual(
      ['low-delay', 'throughput', 'reliability', 'low-cost', '0', '12', '255'].map(parseIpTos),
      [0x10, 0x08, 0x04, 0x02, 0, 12, 255],
    );
    for (const v of ['256', '1a', 'a1', '-1', '']) assert.throws(() => parseIpTos(v), ValueError, v);
  });

  it('FileDescriptorName=: 1 to 255 printable ASCII characters (blanks too), no colon', () => {
    for (const v of ['web', 'a b', 'x'.repeat(255)]) assert.equal(parseFileDescriptorName(v), v);
    for (const v of ['x'.repeat(256), 'a:b', 'tab\there', 'caf\u00e9', '\u00e9x'])
      assert.throws(() => parseFileDescriptorName(v), ValueError, v);
  });

  it('FileDescriptorName= left empty falls back to the default name', () => {
    const c = socketOf(typeText('x.socket', '[Socket]\nListenStream=80\nFileDescriptorName=\nAccept=yes\n'));
    assert.equal(c.socket.fileDescriptorName, 'connection');
  });

  it('SocketProtocol= applies to the ports its protocol has, and warns for the others', () => {
    const warnings = (text: string) =>
      typeText('x.socket', `[Socket]\n${text}\n`).diagnostics.map((d) => `${d.severity} ${d.message}`);
    assert.deepEqual(warnings('ListenDatagram=53\nSocketProtocol=udplite'), []);
    assert.deepEqual(warnings('ListenStream=80\nSocketProtocol=sctp'), []);
    assert.deepEqual(warnings('ListenStream=80\nSocketProtocol=mptcp'), []);
    assert.deepEqual(warnings('ListenStream=80\nSocketProtocol=udplite'), [
      'warning SocketProtocol=udplite does not apply to stream ports and is ignored for them; expected ListenDatagram= ports',
    ]);
    assert.deepEqual(warnings('ListenStream=80\nListenFIFO=/run/f\nSocketProtocol=mptcp'), [
      'warning SocketProtocol=mptcp does not apply to fifo ports and is ignored for them; expected ListenStream= ports',
    ]);
    assert.deepEqual(warnings('ListenSequentialPacket=/run/x\nSocketProtocol=sctp'), [
      'warning SocketProtocol=sctp on a unix socket fails when the port opens (EPROTONOSUPPORT); expected an IP address or port',
    ]);
    assert.deepEqual(warnings('ListenStream=vsock:2:80\nSocketProtocol=mptcp'), [
      'warning SocketProtocol=mptcp on a vsock socket fails when the port opens (EPROTONOSUPPORT); expected an IP address or port',
    ]);
  });
});

describe('mutation-tested: X-Sockunit-ServiceSocketOptions=, where SocketProtocol= applies, Symlinks=, the default fd name', () => {
  const typed = (...lines: string[]) => typeText('s.socket', `${lines.join('\n')}\n`);
  const said = (t: TypedUnit) => t.diagnostics.map((d) => `${d.severity} ${formatDiagnostic(d)}`);

  it('X-Sockunit-ServiceSocketOptions= takes the option names in any case; an empty one resets; another name drops the line', () => {
    assert.deepEqual(
      socketOf(
        typed('[Socket]', 'ListenStream=1', 'X-Sockunit-ServiceSocketOptions=tcp_md5sig KTLS SO_ZEROCOPY'),
      ).socket.serviceSocketOptions,
      ['TCP_MD5SIG', 'kTLS', 'SO_ZEROCOPY'],
    );
    assert.deepEqual(
      socketOf(
        typed(
          '[Socket]',
          'ListenStream=1',
          'X-Sockunit-ServiceSocketOptions=kTLS',
          'X-Sockunit-ServiceSocketOptions=',
          'X-Sockunit-ServiceSocketOptions=IP_TTL',
        ),
      ).socket.serviceSocketOptions,
      ['IP_TTL'],
    );
    const t = typed('[Socket]', 'ListenStream=1', 'X-Sockunit-ServiceSocketOptions=TCP_NODELAY');
    assert.deepEqual(socketOf(t).socket.serviceSocketOptions, []);
    assert.deepEqual(said(t), [
      "warning /fixture/s.socket:3: X-Sockunit-ServiceSocketOptions=TCP_NODELAY: 'TCP_NODELAY' is not a socket option sockunit can check; expected any of TCP_MD5SIG, kTLS, TCP_USER_TIMEOUT, TCP_QUICKACK, TCP_WINDOW_CLAMP, IP_TTL, IP_MINTTL, SO_ZEROCOPY; the line is ignored",
    ]);
  });

  it('SocketProtocol=sctp applies to stream and seqpacket ports, mptcp to stream, udplite to datagram; a unix port it applies to fails', () => {
    assert.deepEqual(
      said(
        typed(
          '[Socket]',
          'ListenStream=8080',
          'ListenSequentialPacket=/run/q.sock',
          'ListenDatagram=53',
          'SocketProtocol=sctp',
        ),
      ),
      [
        'warning /fixture/s.socket:5: SocketProtocol=sctp: SocketProtocol=sctp does not apply to datagram ports and is ignored for them; expected ListenStream= ports',
        'warning /fixture/s.socket:5: SocketProtocol=sctp: SocketProtocol=sctp on a unix socket fails when the port opens (EPROTONOSUPPORT); expected an IP address or port',
      ],
    );
    assert.deepEqual(
      said(typed('[Socket]', 'ListenStream=8080', 'ListenDatagram=/run/d.sock', 'SocketProtocol=mptcp')),
      [
        'warning /fixture/s.socket:4: SocketProtocol=mptcp: SocketProtocol=mptcp does not apply to datagram ports and is ignored for them; expected ListenStream= ports',
      ],
    );
    assert.deepEqual(
      said(
        typed('[Socket]', 'ListenStream=8080', 'ListenSequentialPacket=/run/q.sock', 'SocketProtocol=mptcp'),
      ),
      [
        'warning /fixture/s.socket:4: SocketProtocol=mptcp: SocketProtocol=mptcp does not apply to seqpacket ports and is ignored for them; expected ListenStream= ports',
      ],
    );
    assert.deepEqual(
      said(typed('[Socket]', 'ListenStream=8080', 'ListenDatagram=53', 'SocketProtocol=udplite')),
      [
        'warning /fixture/s.socket:4: SocketProtocol=udplite: SocketProtocol=udplite does not apply to stream ports and is ignored for them; expected ListenDatagram= ports',
      ],
    );
  });

  it('Symlinks= counts only file-system ports: one unix socket beside an IP port is one', () => {
    const one = typed('[Socket]', 'ListenStream=/run/a.sock', 'ListenStream=8080', 'Symlinks=/run/b');
    assert.equal(one.loadState, 'loaded');
    assert.deepEqual(said(one), []);
    const two = typed('[Socket]', 'ListenStream=/run/a.sock', 'ListenFIFO=/run/f', 'Symlinks=/run/b');
    assert.equal(two.loadState, 'bad-setting');
    assert.deepEqual(said(two), [
      'error /fixture/s.socket:4: Symlinks=/run/b: Symlinks= needs exactly one file-system socket or FIFO to point at, but the unit has 2; expected one ListenStream=/ListenDatagram=/ListenSequentialPacket=/path or ListenFIFO=',
    ]);
  });

  it('an empty FileDescriptorName= is the default: "connection" with Accept=yes, the unit name without', () => {
    assert.equal(
      socketOf(typed('[Socket]', 'ListenStream=1', 'Accept=yes', 'FileDescriptorName=')).socket
        .fileDescriptorName,
      'connection',
    );
    assert.equal(
      socketOf(typed('[Socket]', 'ListenStream=1', 'FileDescriptorName=x', 'FileDescriptorName=')).socket
        .fileDescriptorName,
      's.socket',
    );
  });
});
