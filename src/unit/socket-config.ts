// The typed [Socket] section (socket-units.md §3.4) with its defaults, and the load-time checks
// that make a socket unit `bad-setting` (§3.5) or draw a warning (§3.3).

import type { Diagnostic } from './diagnostic.js';
import type { ExecContext, KillContext } from './exec-context.js';
import type { InstallSection } from './install-section.js';
import { fileSystemPath, isAcceptingListen, type ListenDirective } from './listen.js';
import { parseUnitName, withUnitType } from './names.js';
import type { UnitSection } from './unit-section.js';
import { ValueError } from './values.js';

export type BindIPv6Only = 'default' | 'both' | 'ipv6-only';
export type SocketProtocol = 'udplite' | 'sctp' | 'mptcp';
export type Timestamping = 'off' | 'us' | 'ns';

/** IPPROTO_* numbers, for the numeric spellings SocketProtocol= accepts. */
export const SOCKET_PROTOCOL_NUMBERS: Readonly<Record<SocketProtocol, number>> = {
  udplite: 136,
  sctp: 132,
  mptcp: 262,
};

export interface SocketSection {
  listen: ListenDirective[];
  socketProtocol?: SocketProtocol;
  bindIPv6Only: BindIPv6Only;
  backlog: number;
  bindToDevice?: string;
  socketUser?: string;
  socketGroup?: string;
  socketMode: number;
  directoryMode: number;
  accept: boolean;
  writable: boolean;
  maxConnections: number;
  /** 0 = no limit. */
  maxConnectionsPerSource: number;
  keepAlive: boolean;
  keepAliveTimeUsec?: number;
  keepAliveIntervalUsec?: number;
  keepAliveProbes?: number;
  deferAcceptUsec?: number;
  noDelay: boolean;
  priority?: number;
  receiveBuffer?: number;
  sendBuffer?: number;
  ipTos?: number;
  ipTtl?: number;
  mark?: number;
  pipeSize?: number;
  freeBind: boolean;
  transparent: boolean;
  broadcast: boolean;
  passCredentials: boolean;
  passPIDFD: boolean;
  passSecurity: boolean;
  passPacketInfo: boolean;
  acceptFileDescriptors: boolean;
  timestamping: Timestamping;
  tcpCongestion?: string;
  reusePort: boolean;
  messageQueueMaxMessages?: number;
  messageQueueMessageSize?: number;
  removeOnStop: boolean;
  symlinks: string[];
  /** After finalizeSocket: the explicit name, else the unit name (Accept=no) or `connection`. */
  fileDescriptorName: string;
  /** Service= as written (Accept=no only). */
  service?: string;
  triggerLimitIntervalUsec: number;
  /** After finalizeSocket: 200 with Accept=yes, else 20, unless set. 0 disables. */
  triggerLimitBurst: number;
  pollLimitIntervalUsec: number;
  /** After finalizeSocket: 150 with Accept=yes, else 15, unless set. 0 disables. */
  pollLimitBurst: number;
  /** sockunit: an MPTCP port falls back to TCP where the kernel has no MPTCP (systemd fails). */
  mptcpFallback: boolean;
  /** sockunit: socket options the service sets itself (X-Sockunit-ServiceSocketOptions=), which
   * `--mptcp-upgrade` checks against MPTCP before upgrading the unit's ports. */
  serviceSocketOptions: ServiceSocketOption[];
}

/** Where a key was last assigned, for diagnostics about combinations of keys. */
export type KeyOrigins = Record<string, { file: string; line: number; value: string }>;

/** A line sockunit recognised but does not act on. */
export interface NotEnforcedSetting {
  section: string;
  key: string;
  value: string;
  file: string;
  line: number;
  reason: string;
}

export interface SocketUnitConfig {
  type: 'socket';
  name: string;
  unit: UnitSection;
  socket: SocketSection;
  exec: ExecContext;
  kill: KillContext;
  install: InstallSection;
  origins: KeyOrigins;
  notEnforced: NotEnforcedSetting[];
  /** The service this socket starts: Service=, the same-named service (Accept=no), or the
   * template `prefix@.service` (Accept=yes). */
  triggers: string;
}

/** systemd's SOMAXCONN_DELUXE: ask for the most and let net.core.somaxconn cap it (v254+). */
export const DEFAULT_BACKLOG = 2147483647;
const TWO_SECONDS = 2_000_000;

export function defaultSocketSection(): SocketSection {
  return {
    listen: [],
    bindIPv6Only: 'default',
    backlog: DEFAULT_BACKLOG,
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
    fileDescriptorName: '',
    triggerLimitIntervalUsec: TWO_SECONDS,
    triggerLimitBurst: 20,
    pollLimitIntervalUsec: TWO_SECONDS,
    pollLimitBurst: 15,
    mptcpFallback: false,
    serviceSocketOptions: [],
  };
}

/** Socket options a service may set on its own sockets that MPTCP sockets may refuse: the names
 * X-Sockunit-ServiceSocketOptions= takes (the kernel's option names; kTLS is TCP_ULP "tls"). */
export const SERVICE_SOCKET_OPTIONS = [
  'TCP_MD5SIG',
  'kTLS',
  'TCP_USER_TIMEOUT',
  'TCP_QUICKACK',
  'TCP_WINDOW_CLAMP',
  'IP_TTL',
  'IP_MINTTL',
  'SO_ZEROCOPY',
] as const;
export type ServiceSocketOption = (typeof SERVICE_SOCKET_OPTIONS)[number];

/** One X-Sockunit-ServiceSocketOptions= name, in any case. */
export function parseServiceSocketOption(word: string): ServiceSocketOption {
  const found = SERVICE_SOCKET_OPTIONS.find((name) => name.toLowerCase() === word.toLowerCase());
  if (found === undefined)
    throw new ValueError(
      `'${word}' is not a socket option sockunit can check; expected any of ${SERVICE_SOCKET_OPTIONS.join(', ')}`,
    );
  return found;
}

/** `udplite`, `sctp`, `mptcp` in any case, or their IPPROTO numbers. `tcp` is not a value:
 * plain TCP is what a stream port is without this key. */
export function parseSocketProtocol(value: string): SocketProtocol {
  const word = value.toLowerCase();
  for (const [name, number] of Object.entries(SOCKET_PROTOCOL_NUMBERS)) {
    if (word === name || word === String(number)) return name as SocketProtocol;
  }
  throw new ValueError(
    `'${value}' is not a socket protocol; expected udplite, sctp or mptcp (or 136, 132, 262); plain TCP/UDP need no SocketProtocol=`,
  );
}

/** `default`, `both`, `ipv6-only`, or a boolean (yes = ipv6-only, no = both). */
export function parseBindIPv6Only(value: string): BindIPv6Only {
  if (value === 'default' || value === 'both' || value === 'ipv6-only') return value;
  const w = value.toLowerCase();
  if (['1', 'yes', 'y', 'true', 't', 'on'].includes(w)) return 'ipv6-only';
  if (['0', 'no', 'n', 'false', 'f', 'off'].includes(w)) return 'both';
  throw new ValueError(
    `'${value}' is not a BindIPv6Only= value; expected default, both, ipv6-only or a boolean`,
  );
}

export function parseTimestamping(value: string): Timestamping {
  if (['off', 'no', 'n', 'false', 'f', '0'].includes(value.toLowerCase())) return 'off';
  if (['us', 'usec', 'µs', 'μs'].includes(value)) return 'us';
  if (['ns', 'nsec', 'yes', 'y', 'true', 't', '1', 'on'].includes(value.toLowerCase())) return 'ns';
  throw new ValueError(`'${value}' is not a Timestamping= value; expected off, us, ns or a boolean`);
}

const IPTOS_NAMES: Readonly<Record<string, number>> = {
  'low-delay': 0x10,
  throughput: 0x08,
  reliability: 0x04,
  'low-cost': 0x02,
};

export function parseIpTos(value: string): number {
  const named = IPTOS_NAMES[value];
  if (named !== undefined) return named;
  if (/^[0-9]+$/.test(value) && Number(value) <= 255) return Number(value);
  throw new ValueError(
    `'${value}' is not an IP type of service; expected low-delay, throughput, reliability, low-cost or 0-255`,
  );
}

/** ≤255 printable ASCII characters without `:` (it separates names in LISTEN_FDNAMES). */
export function parseFileDescriptorName(value: string): string {
  if (value.length > 255 || !/^[\x21-\x7e ]+$/.test(value) || value.includes(':')) {
    throw new ValueError(
      `'${value}' is not a valid file descriptor name; expected at most 255 printable ASCII characters without ':'`,
    );
  }
  return value;
}

/** Resolves the defaults that depend on other keys and checks the combinations systemd refuses.
 * Appends diagnostics; returns true when the unit is `bad-setting`. */
export function finalizeSocket(
  config: SocketUnitConfig,
  fragmentPath: string,
  diagnostics: Diagnostic[],
): boolean {
  const s = config.socket;
  const o = config.origins;
  let bad = false;
  const at = (key: string): { file: string; line: number; key?: string; value?: string } => {
    const origin = o[key];
    return origin === undefined
      ? { file: fragmentPath, line: 0 }
      : { file: origin.file, line: origin.line, key, value: origin.value };
  };
  const error = (key: string | undefined, message: string): void => {
    bad = true;
    diagnostics.push({
      severity: 'error',
      ...(key === undefined ? { file: fragmentPath, line: 0 } : at(key)),
      message,
    });
  };
  const warn = (key: string, message: string): void => {
    diagnostics.push({ severity: 'warning', ...at(key), message });
  };

  if (o.TriggerLimitBurst === undefined) s.triggerLimitBurst = s.accept ? 200 : 20;
  if (o.PollLimitBurst === undefined) s.pollLimitBurst = s.accept ? 150 : 15;
  if (o.FileDescriptorName === undefined || s.fileDescriptorName === '') {
    s.fileDescriptorName = s.accept ? 'connection' : config.name;
  }
  config.triggers = s.accept
    ? `${parseUnitName(config.name).prefix}@.service`
    : (s.service ?? withUnitType(config.name, 'service'));

  if (s.listen.length === 0) {
    error(
      undefined,
      'the unit has no Listen*= setting; expected at least one of ListenStream=, ListenDatagram=, …',
    );
  }
  if (s.maxConnections === 0) {
    error('MaxConnections', 'MaxConnections= must be at least 1; expected a positive number');
  }
  if (s.accept) {
    const refusing = s.listen.filter((l) => !isAcceptingListen(l));
    if (refusing.length > 0) {
      error(
        'Accept',
        `Accept=yes needs every port to accept connections, but this unit has ${refusing.map((l) => l.kind).join(', ')} ports; expected only ListenStream= or ListenSequentialPacket=, or Accept=no`,
      );
    }
    if (s.service !== undefined) {
      error(
        'Service',
        'Service= cannot be used with Accept=yes (each connection starts an instance of the template); expected Accept=no or no Service=',
      );
    }
  }
  if (s.symlinks.length > 0) {
    const nodes = s.listen.map(fileSystemPath).filter((p) => p !== undefined);
    if (nodes.length !== 1) {
      error(
        'Symlinks',
        `Symlinks= needs exactly one file-system socket or FIFO to point at, but the unit has ${nodes.length}; expected one ListenStream=/ListenDatagram=/ListenSequentialPacket=/path or ListenFIFO=`,
      );
    }
  }
  if (s.socketProtocol !== undefined) checkSocketProtocol(s, warn);
  return bad;
}

/** §3.3: which Listen kinds each protocol applies to. systemd silently ignores the rest; we say so. */
function checkSocketProtocol(s: SocketSection, warn: (key: string, message: string) => void): void {
  const protocol = s.socketProtocol;
  const applies = (l: ListenDirective): boolean =>
    (protocol === 'udplite' && l.kind === 'datagram') ||
    ((protocol === 'sctp' || protocol === 'mptcp') && l.kind === 'stream') ||
    (protocol === 'sctp' && l.kind === 'seqpacket');
  const ignoredKinds = [...new Set(s.listen.filter((l) => !applies(l)).map((l) => l.kind))];
  if (ignoredKinds.length > 0) {
    const target = protocol === 'udplite' ? 'ListenDatagram=' : 'ListenStream=';
    warn(
      'SocketProtocol',
      `SocketProtocol=${protocol} does not apply to ${ignoredKinds.join(', ')} ports and is ignored for them; expected ${target} ports`,
    );
  }
  for (const l of s.listen) {
    if (!applies(l) || !('address' in l)) continue;
    const family = l.address.family;
    if (family === 'unix' || family === 'vsock') {
      warn(
        'SocketProtocol',
        `SocketProtocol=${protocol} on a ${family} socket fails when the port opens (EPROTONOSUPPORT); expected an IP address or port`,
      );
      break;
    }
  }
}
