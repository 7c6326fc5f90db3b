// [Socket] keys: every key systemd 258 knows (socket-units.md §3.4), plus sockunit's own
// X-Sockunit-MPTCPFallback= and X-Sockunit-ServiceSocketOptions=.

import { formatListen, LISTEN_KEYS, type ListenKey, listenKeyOf, parseListen } from '../listen.js';
import { isValidUnitName } from '../names.js';
import {
  parseBindIPv6Only,
  parseFileDescriptorName,
  parseIpTos,
  parseServiceSocketOption,
  parseSocketProtocol,
  parseTimestamping,
  type SocketSection,
  type SocketUnitConfig,
} from '../socket-config.js';
import { parseInteger, parseUserName, ValueError } from '../values.js';
import { splitWords } from '../words.js';
import {
  absolutePath,
  asNotEnforced,
  bool,
  integer,
  type KeyDef,
  listRow,
  mode,
  notEnforcedRow,
  scalarRow,
  size,
  text,
  timespan,
  unsigned,
  type ValueType,
} from './define.js';
import { execContextKeys } from './exec.js';
import { notEnforcedExecKeys } from './not-enforced.js';
import { sandboxKeys } from './sandbox.js';

const socket = (c: SocketUnitConfig): SocketSection => c.socket;

const LISTEN_DOCS: Record<ListenKey, string> = {
  ListenStream:
    'a SOCK_STREAM port: PORT, A.B.C.D:PORT, [IPV6]:PORT[%IFACE], /path, @abstract or vsock:CID:PORT',
  ListenDatagram: 'a SOCK_DGRAM port (same address forms as ListenStream=)',
  ListenSequentialPacket: 'a SOCK_SEQPACKET unix socket: /path or @abstract',
  ListenFIFO: 'a FIFO created at an absolute path',
  ListenSpecial: 'a special file or character device opened at an absolute path',
  ListenNetlink: 'a netlink socket: FAMILY [GROUP]',
  ListenMessageQueue: 'a POSIX message queue: /name',
  ListenUSBFunction: 'a FunctionFS mount directory (ep0 is opened)',
};

function listenRow(key: ListenKey): KeyDef<SocketUnitConfig> {
  return {
    section: 'Socket',
    name: key,
    doc: `${LISTEN_DOCS[key]}; an empty value clears every port so far`,
    type: 'address',
    default: '',
    repetition: 'list',
    specifiers: 'all',
    enforcement: { enforced: true },
    apply: (c, value, ctx) => {
      // An empty Listen*= clears the ports of every kind, not just this key's.
      if (value === '') {
        c.socket.listen = [];
        return;
      }
      const parsed = parseListen(key, value);
      for (const n of parsed.notices) ctx.notice(n);
      c.socket.listen.push(parsed.directive);
    },
    show: (c) => c.socket.listen.filter((l) => listenKeyOf(l.kind) === key).map(formatListen),
  };
}

const unsignedLong: ValueType<number> = {
  name: 'integer',
  parse: (s) => parseInteger(s, { min: 0, max: Number.MAX_SAFE_INTEGER }),
  format: String,
};

const socketProtocol = {
  name: 'udplite | sctp | mptcp',
  parse: parseSocketProtocol,
  format: (v: string) => v,
};
const userName: ValueType<string> = { name: 'user or group name', parse: parseUserName, format: (v) => v };
const fdName: ValueType<string> = { name: 'fd name', parse: parseFileDescriptorName, format: (v) => v };

const serviceName: ValueType<string> = {
  name: 'unit name',
  parse: (s) => {
    if (!isValidUnitName(s) || !s.endsWith('.service')) {
      throw new ValueError(`'${s}' is not a service unit name; expected NAME.service`);
    }
    if (/@\.service$/.test(s)) {
      throw new ValueError(`'${s}' is a template; expected a plain service or an instance (foo@bar.service)`);
    }
    return s;
  },
  format: (v) => v,
};

const interfaceName: ValueType<string> = {
  name: 'interface name',
  parse: (s) => {
    if (s.length > 15 || /[/:\s]/.test(s) || s === '.' || s === '..') {
      throw new ValueError(
        `'${s}' is not a valid interface name; expected at most 15 characters, no '/', ':' or blanks`,
      );
    }
    return s;
  },
  format: (v) => v,
};

function parseSymlinks(value: string): string[] {
  return splitWords(value, { unquote: true, cunescape: true }).map((p) => absolutePath.parse(p));
}

const S = 'Socket';

const NO_SOCKET_COMMANDS =
  "sockunit does not run a socket unit's own ExecStartPre=/ExecStartPost=/ExecStopPre=/ExecStopPost= commands, nor the settings that shape them";
const NO_FLUSH = 'queued connections and datagrams are left for the next service run, not flushed';
const NO_DEFER =
  "a trigger starts the service's transaction at once; sockunit does not wait for conflicting units to stop first";

export const SOCKET_KEYS: readonly KeyDef<SocketUnitConfig>[] = [
  ...LISTEN_KEYS.map(listenRow),
  scalarRow(
    S,
    'SocketProtocol',
    socket,
    'socketProtocol',
    socketProtocol as ValueType<'udplite' | 'sctp' | 'mptcp'>,
    'IPPROTO for stream/datagram ports: mptcp (v257), sctp, udplite',
    {
      since: 229,
    },
  ),
  scalarRow(
    S,
    'BindIPv6Only',
    socket,
    'bindIPv6Only',
    { name: 'default | both | ipv6-only', parse: parseBindIPv6Only, format: (v) => v },
    'IPV6_V6ONLY for [::] ports',
    {
      default: 'default',
    },
  ),
  scalarRow(
    S,
    'Backlog',
    socket,
    'backlog',
    unsigned,
    'listen() queue length (capped by net.core.somaxconn)',
    {
      default: '2147483647',
    },
  ),
  {
    ...scalarRow(
      S,
      'BindToDevice',
      socket,
      'bindToDevice',
      interfaceName,
      'SO_BINDTODEVICE for IP ports (empty or * = none)',
    ),
    apply: (c, value) => {
      c.socket.bindToDevice = value === '' || value === '*' ? undefined : interfaceName.parse(value);
    },
  },
  scalarRow(S, 'SocketUser', socket, 'socketUser', userName, 'owner of unix socket files, FIFOs and queues', {
    specifiers: 'all',
    default: 'root',
    emptyResetsTo: { value: undefined },
  }),
  scalarRow(
    S,
    'SocketGroup',
    socket,
    'socketGroup',
    userName,
    'group of unix socket files, FIFOs and queues',
    {
      specifiers: 'all',
      emptyResetsTo: { value: undefined },
    },
  ),
  scalarRow(S, 'SocketMode', socket, 'socketMode', mode, 'mode of socket files, FIFOs and queues', {
    default: '0666',
  }),
  scalarRow(S, 'DirectoryMode', socket, 'directoryMode', mode, 'mode of parent directories created', {
    default: '0755',
  }),
  scalarRow(S, 'Accept', socket, 'accept', bool, 'start one service instance per connection', {
    default: 'no',
  }),
  notEnforcedRow(S, 'FlushPending', NO_FLUSH, {
    since: 247,
    doc: 'drop queued data when going back to listening (Accept=no)',
  }),
  scalarRow(S, 'Writable', socket, 'writable', bool, 'open ListenSpecial= files read-write', {
    default: 'no',
  }),
  scalarRow(
    S,
    'MaxConnections',
    socket,
    'maxConnections',
    unsigned,
    'concurrent connections (Accept=yes); more are closed',
    {
      default: '64',
    },
  ),
  scalarRow(
    S,
    'MaxConnectionsPerSource',
    socket,
    'maxConnectionsPerSource',
    unsigned,
    'concurrent connections per peer (0 = no limit)',
    {
      default: '0',
      since: 232,
    },
  ),
  scalarRow(S, 'KeepAlive', socket, 'keepAlive', bool, 'SO_KEEPALIVE', { default: 'no' }),
  scalarRow(S, 'KeepAliveTimeSec', socket, 'keepAliveTimeUsec', timespan, 'TCP_KEEPIDLE (whole seconds)'),
  scalarRow(
    S,
    'KeepAliveIntervalSec',
    socket,
    'keepAliveIntervalUsec',
    timespan,
    'TCP_KEEPINTVL (whole seconds)',
  ),
  scalarRow(S, 'KeepAliveProbes', socket, 'keepAliveProbes', unsigned, 'TCP_KEEPCNT'),
  scalarRow(S, 'DeferAcceptSec', socket, 'deferAcceptUsec', timespan, 'TCP_DEFER_ACCEPT (whole seconds)'),
  scalarRow(S, 'NoDelay', socket, 'noDelay', bool, 'TCP_NODELAY (SCTP_NODELAY for SCTP)', { default: 'no' }),
  scalarRow(S, 'Priority', socket, 'priority', integer, 'SO_PRIORITY'),
  scalarRow(S, 'ReceiveBuffer', socket, 'receiveBuffer', size, 'SO_RCVBUF (SO_RCVBUFFORCE when privileged)'),
  scalarRow(S, 'SendBuffer', socket, 'sendBuffer', size, 'SO_SNDBUF (SO_SNDBUFFORCE when privileged)'),
  scalarRow(
    S,
    'IPTOS',
    socket,
    'ipTos',
    { name: 'TOS name or 0-255', parse: parseIpTos, format: String },
    'IP_TOS (IPv4 only)',
  ),
  scalarRow(S, 'IPTTL', socket, 'ipTtl', integer, 'IP_TTL / IPV6_UNICAST_HOPS'),
  scalarRow(S, 'Mark', socket, 'mark', integer, 'SO_MARK'),
  scalarRow(S, 'PipeSize', socket, 'pipeSize', size, 'F_SETPIPE_SZ for FIFOs'),
  scalarRow(S, 'FreeBind', socket, 'freeBind', bool, 'IP_FREEBIND: bind to addresses not (yet) configured', {
    default: 'no',
  }),
  scalarRow(S, 'Transparent', socket, 'transparent', bool, 'IP_TRANSPARENT', { default: 'no' }),
  scalarRow(S, 'Broadcast', socket, 'broadcast', bool, 'SO_BROADCAST', { default: 'no' }),
  scalarRow(S, 'PassCredentials', socket, 'passCredentials', bool, 'SO_PASSCRED (unix)', { default: 'no' }),
  scalarRow(S, 'PassPIDFD', socket, 'passPIDFD', bool, 'SO_PASSPIDFD (unix)', { default: 'no', since: 258 }),
  scalarRow(S, 'PassSecurity', socket, 'passSecurity', bool, 'SO_PASSSEC (unix)', { default: 'no' }),
  scalarRow(
    S,
    'PassPacketInfo',
    socket,
    'passPacketInfo',
    bool,
    'IP_PKTINFO / IPV6_RECVPKTINFO / NETLINK_PKTINFO',
    {
      default: 'no',
      since: 246,
    },
  ),
  scalarRow(
    S,
    'AcceptFileDescriptors',
    socket,
    'acceptFileDescriptors',
    bool,
    'no: SO_PASSRIGHTS=0, peers cannot send fds (unix)',
    {
      default: 'yes',
      since: 258,
    },
  ),
  scalarRow(
    S,
    'Timestamping',
    socket,
    'timestamping',
    { name: 'off | us | ns', parse: parseTimestamping, format: (v) => v },
    'SO_TIMESTAMP / SO_TIMESTAMPNS',
    {
      default: 'off',
      since: 247,
    },
  ),
  scalarRow(S, 'TCPCongestion', socket, 'tcpCongestion', text, 'TCP_CONGESTION algorithm'),
  scalarRow(S, 'ReusePort', socket, 'reusePort', bool, 'SO_REUSEPORT', { default: 'no' }),
  scalarRow(
    S,
    'MessageQueueMaxMessages',
    socket,
    'messageQueueMaxMessages',
    unsignedLong,
    'mq_maxmsg (applied with MessageQueueMessageSize=)',
  ),
  scalarRow(
    S,
    'MessageQueueMessageSize',
    socket,
    'messageQueueMessageSize',
    unsignedLong,
    'mq_msgsize (applied with MessageQueueMaxMessages=)',
  ),
  scalarRow(
    S,
    'RemoveOnStop',
    socket,
    'removeOnStop',
    bool,
    'remove socket files, FIFOs, queues and Symlinks= on stop',
    {
      default: 'no',
      since: 214,
    },
  ),
  listRow(
    S,
    'Symlinks',
    socket,
    'symlinks',
    parseSymlinks,
    (v) => v.join(' '),
    'symlinks to the one file-system socket or FIFO',
    {
      type: 'absolute paths',
      specifiers: 'all',
      since: 214,
    },
  ),
  scalarRow(S, 'FileDescriptorName', socket, 'fileDescriptorName', fdName, 'name in LISTEN_FDNAMES', {
    specifiers: 'all',
    default: 'the unit name (Accept=no) or connection (Accept=yes)',
    since: 227,
    emptyResetsTo: { value: '' },
  }),
  scalarRow(S, 'Service', socket, 'service', serviceName, 'the service to start (Accept=no only)', {
    specifiers: 'unit-names',
    default: 'the service of the same name',
  }),
  notEnforcedRow(S, 'PassFileDescriptorsToExec', NO_SOCKET_COMMANDS, {
    since: 256,
    doc: "pass the fds to the socket's ExecStartPost=/ExecStopPre=/ExecStopPost=",
  }),
  notEnforcedRow(S, 'ExecStartPre', NO_SOCKET_COMMANDS, { doc: 'commands run before the ports open' }),
  notEnforcedRow(S, 'ExecStartPost', NO_SOCKET_COMMANDS, { doc: 'commands run after the ports listen' }),
  notEnforcedRow(S, 'ExecStopPre', NO_SOCKET_COMMANDS, { doc: 'commands run before the ports close' }),
  notEnforcedRow(S, 'ExecStopPost', NO_SOCKET_COMMANDS, { doc: 'commands run after the ports close' }),
  notEnforcedRow(S, 'TimeoutSec', NO_SOCKET_COMMANDS, {
    doc: "time limit for each of the socket's Exec*= commands",
  }),
  scalarRow(
    S,
    'TriggerLimitIntervalSec',
    socket,
    'triggerLimitIntervalUsec',
    timespan,
    'window of the trigger rate limit (0 disables)',
    {
      default: '2s',
      since: 230,
    },
  ),
  scalarRow(
    S,
    'TriggerLimitBurst',
    socket,
    'triggerLimitBurst',
    unsigned,
    'triggers allowed per window before the socket fails',
    {
      default: '200 with Accept=yes, else 20',
      since: 230,
    },
  ),
  scalarRow(
    S,
    'PollLimitIntervalSec',
    socket,
    'pollLimitIntervalUsec',
    timespan,
    'window of the poll rate limit (0 disables)',
    {
      default: '2s',
      since: 255,
    },
  ),
  scalarRow(
    S,
    'PollLimitBurst',
    socket,
    'pollLimitBurst',
    unsigned,
    'wake-ups allowed per window before polling pauses',
    {
      default: '150 with Accept=yes, else 15',
      since: 255,
    },
  ),
  notEnforcedRow(S, 'DeferTrigger', NO_DEFER, {
    since: 258,
    doc: 'wait instead of stopping running units to start the service (Accept=no)',
  }),
  notEnforcedRow(S, 'DeferTriggerMaxSec', NO_DEFER, {
    since: 258,
    doc: 'how long a deferred trigger may wait',
  }),
  scalarRow(
    S,
    'X-Sockunit-MPTCPFallback',
    socket,
    'mptcpFallback',
    bool,
    'sockunit: an MPTCP port falls back to TCP where the kernel has no MPTCP',
    {
      default: 'no',
    },
  ),
  listRow(
    S,
    'X-Sockunit-ServiceSocketOptions',
    socket,
    'serviceSocketOptions',
    (value) => splitWords(value, { unquote: true, cunescape: false }).map(parseServiceSocketOption),
    (v) => v.join(' '),
    'sockunit: socket options the service sets itself (TCP_MD5SIG, kTLS, …); `run --mptcp-upgrade` keeps the ports TCP when MPTCP refuses one',
    { type: 'option names' },
  ),
  notEnforcedRow(S, 'SmackLabel', 'SMACK labels are not applied by sockunit'),
  notEnforcedRow(S, 'SmackLabelIPIn', 'SMACK labels are not applied by sockunit'),
  notEnforcedRow(S, 'SmackLabelIPOut', 'SMACK labels are not applied by sockunit'),
  notEnforcedRow(S, 'SELinuxContextFromNet', 'SELinux labels are not applied by sockunit'),
  // A socket unit's User=, Environment=, KillSignal=… shape its own commands, which sockunit
  // does not run (SocketUser=/SocketGroup= own the sockets).
  ...asNotEnforced(execContextKeys(S), NO_SOCKET_COMMANDS),
  ...(asNotEnforced(sandboxKeys(S), NO_SOCKET_COMMANDS) as unknown as KeyDef<SocketUnitConfig>[]),
  ...notEnforcedExecKeys<SocketUnitConfig>(S),
];
