// Socket options in the two phases systemd applies them (socket-units.md §3.5): the bind-time
// set before bind(), and the connection set after listen() and again on every accepted
// connection. Connection options that fail are warnings, never fatal, as in systemd: an MPTCP
// socket refuses IP_TTL and IP_PKTINFO (EOPNOTSUPP, mptcp.md §5) and that must not stop a unit.

import {
  IP_FREEBIND,
  IP_PKTINFO,
  IP_TOS,
  IP_TRANSPARENT,
  IP_TTL,
  IPPROTO_IPV6,
  IPV6_FREEBIND,
  IPV6_RECVPKTINFO,
  IPV6_TRANSPARENT,
  IPV6_UNICAST_HOPS,
  IPV6_V6ONLY,
  NETLINK_PKTINFO,
  SCTP_NODELAY,
  SO_BINDTODEVICE,
  SO_BROADCAST,
  SO_KEEPALIVE,
  SO_MARK,
  SO_PASSCRED,
  SO_PASSPIDFD,
  SO_PASSRIGHTS,
  SO_PASSSEC,
  SO_PRIORITY,
  SO_RCVBUF,
  SO_RCVBUFFORCE,
  SO_REUSEADDR,
  SO_REUSEPORT,
  SO_SNDBUF,
  SO_SNDBUFFORCE,
  SO_TIMESTAMP,
  SO_TIMESTAMPNS,
  SOL_IP,
  SOL_NETLINK,
  SOL_SCTP,
  SOL_SOCKET,
  SOL_TCP,
  TCP_CONGESTION,
  TCP_DEFER_ACCEPT,
  TCP_KEEPCNT,
  TCP_KEEPIDLE,
  TCP_KEEPINTVL,
  TCP_NODELAY,
} from '../sys/constants.js';
import { type SystemError, systemError } from '../sys/errors.js';
import { type Fd, getsockoptInt, setsockopt, setsockoptInt } from '../sys/socket.js';
import type { SocketOptions, SocketSpec } from './spec.js';

/** A connection option the kernel refused. The port still works, without that option. */
export interface OptionWarning {
  /** The unit-file key, e.g. `IPTTL=`. */
  option: string;
  /** The kernel option, e.g. `IP_TTL`. */
  sockopt: string;
  /** The refusal, with its errno `code` (e.g. `EOPNOTSUPP`). */
  error: SystemError;
  /** One line for a log: the key, the value, what the kernel said, and the consequence. */
  message: string;
}

const EAFNOSUPPORT = 97;

/** True for the Node-shaped errors sys/ throws (any code). */
export function isSystemError(err: unknown): err is SystemError {
  return (
    err instanceof Error &&
    typeof (err as SystemError).code === 'string' &&
    typeof (err as SystemError).errno === 'number'
  );
}

/** The address family the options act on; netlink and file ports have no IP level. */
type OptionFamily = 'inet' | 'inet6' | 'unix' | 'vsock' | 'netlink';

interface Target {
  fd: Fd;
  family: OptionFamily;
  protocol: string;
  warnings: OptionWarning[];
}

function targetOf(fd: Fd, spec: SocketSpec, warnings: OptionWarning[]): Target | undefined {
  if (spec.kind === 'socket')
    return { fd, family: spec.family, protocol: spec.protocol ?? spec.type, warnings };
  if (spec.kind === 'netlink') return { fd, family: 'netlink', protocol: 'netlink', warnings };
  return undefined;
}

/** errno 95 is ENOTSUP to Node and EOPNOTSUPP in the kernel's socket code; name both. */
function errnoLabel(error: SystemError): string {
  return error.errno === -95 ? 'EOPNOTSUPP/ENOTSUP' : error.code;
}

function warn(t: Target, option: string, value: unknown, sockopt: string, error: SystemError): void {
  t.warnings.push({
    option,
    sockopt,
    error,
    message: `${option}${String(value)}: the kernel refused ${sockopt} on this ${t.family} ${t.protocol} socket (${errnoLabel(error)}); the port works without it`,
  });
}

/** Set an int option; a refusal becomes a warning. Returns whether it was applied. */
function tryInt(
  t: Target,
  option: string,
  value: unknown,
  sockopt: string,
  level: number,
  name: number,
  int: number,
): boolean {
  try {
    setsockoptInt(t.fd, level, name, int, sockopt);
    return true;
  } catch (err) {
    if (!isSystemError(err)) throw err;
    warn(t, option, value, sockopt, err);
    return false;
  }
}

function unsupportedFamily(t: Target, option: string, value: unknown, sockopt: string): void {
  warn(
    t,
    option,
    value,
    sockopt,
    systemError('setsockopt', EAFNOSUPPORT, { hint: `${sockopt} has no ${t.family} variant` }),
  );
}

/** An option that exists at IPPROTO_IP for AF_INET and IPPROTO_IPV6 for AF_INET6. */
function tryIpInt(
  t: Target,
  option: string,
  value: unknown,
  v4: [string, number],
  v6: [string, number],
  int: number,
): void {
  if (t.family === 'inet') tryInt(t, option, value, v4[0], SOL_IP, v4[1], int);
  else if (t.family === 'inet6') tryInt(t, option, value, v6[0], IPPROTO_IPV6, v6[1], int);
  else unsupportedFamily(t, option, value, `${v4[0]}/${v6[0]}`);
}

/** SO_RCVBUF/SO_SNDBUF, then the FORCE variant when the kernel capped the size at
 * rmem_max/wmem_max (it stores twice the request when it grants it), as systemd does. */
function trySetBuffer(
  t: Target,
  option: string,
  bytes: number,
  plain: [string, number],
  force: [string, number],
): void {
  if (!tryInt(t, option, bytes, plain[0], SOL_SOCKET, plain[1], bytes)) return;
  let granted: number;
  try {
    granted = getsockoptInt(t.fd, SOL_SOCKET, plain[1], plain[0]);
  } catch {
    granted = -1;
  }
  if (granted === bytes * 2) return;
  tryInt(t, option, bytes, force[0], SOL_SOCKET, force[1], bytes);
}

function isIp(family: OptionFamily): boolean {
  return family === 'inet' || family === 'inet6';
}

/** Context for a fatal bind-time failure, so the error names the port. */
export interface BindTimeContext {
  /** Wraps a fatal failure into the error openSocket throws. */
  fail(err: unknown, what: string): never;
}

/**
 * Options systemd sets between socket() and bind(): IPV6_V6ONLY (unless `default`); for IP
 * ports BINDTODEVICE (fatal), REUSEPORT, FREEBIND, TRANSPARENT (warnings); then SO_REUSEADDR
 * (fatal; systemd always sets it).
 */
export function applyBindTimeOptions(
  fd: Fd,
  spec: SocketSpec,
  warnings: OptionWarning[],
  context: BindTimeContext,
): void {
  const t = targetOf(fd, spec, warnings);
  if (!t) return;
  const o: SocketOptions = spec.options ?? {};
  if (t.family === 'inet6' && o.bindIPv6Only !== undefined && o.bindIPv6Only !== 'default') {
    try {
      setsockoptInt(fd, IPPROTO_IPV6, IPV6_V6ONLY, o.bindIPv6Only === 'ipv6-only' ? 1 : 0, 'IPV6_V6ONLY');
    } catch (err) {
      context.fail(err, `BindIPv6Only=${o.bindIPv6Only} (IPV6_V6ONLY)`);
    }
  }
  if (isIp(t.family)) {
    if (o.bindToDevice) {
      try {
        setsockopt(fd, SOL_SOCKET, SO_BINDTODEVICE, Buffer.from(`${o.bindToDevice}\0`), 'SO_BINDTODEVICE');
      } catch (err) {
        context.fail(err, `BindToDevice=${o.bindToDevice} (SO_BINDTODEVICE; does the interface exist?)`);
      }
    }
    if (o.reusePort) tryInt(t, 'ReusePort=', 'yes', 'SO_REUSEPORT', SOL_SOCKET, SO_REUSEPORT, 1);
    if (o.freeBind)
      tryIpInt(t, 'FreeBind=', 'yes', ['IP_FREEBIND', IP_FREEBIND], ['IPV6_FREEBIND', IPV6_FREEBIND], 1);
    if (o.transparent)
      tryIpInt(
        t,
        'Transparent=',
        'yes',
        ['IP_TRANSPARENT', IP_TRANSPARENT],
        ['IPV6_TRANSPARENT', IPV6_TRANSPARENT],
        1,
      );
  }
  const reuseAddr = o.reuseAddr ?? true;
  try {
    setsockoptInt(fd, SOL_SOCKET, SO_REUSEADDR, reuseAddr ? 1 : 0, 'SO_REUSEADDR');
  } catch (err) {
    context.fail(err, 'SO_REUSEADDR');
  }
}

/**
 * The options systemd applies after listen() and again on each accepted connection
 * (`socket_apply_socket_options`), in its order. Every refusal is returned as a warning naming
 * the unit-file key and the kernel option; nothing here throws for a refused option.
 */
export function applyConnectionOptions(fd: Fd, spec: SocketSpec): OptionWarning[] {
  const warnings: OptionWarning[] = [];
  const t = targetOf(fd, spec, warnings);
  if (!t) return warnings;
  const o: SocketOptions = spec.options ?? {};
  const sctp = spec.kind === 'socket' && spec.protocol === 'sctp';

  if (o.keepAlive) tryInt(t, 'KeepAlive=', 'yes', 'SO_KEEPALIVE', SOL_SOCKET, SO_KEEPALIVE, 1);
  if (o.keepAliveTimeSec)
    tryInt(
      t,
      'KeepAliveTimeSec=',
      o.keepAliveTimeSec,
      'TCP_KEEPIDLE',
      SOL_TCP,
      TCP_KEEPIDLE,
      o.keepAliveTimeSec,
    );
  if (o.keepAliveIntervalSec)
    tryInt(
      t,
      'KeepAliveIntervalSec=',
      o.keepAliveIntervalSec,
      'TCP_KEEPINTVL',
      SOL_TCP,
      TCP_KEEPINTVL,
      o.keepAliveIntervalSec,
    );
  if (o.keepAliveProbes)
    tryInt(t, 'KeepAliveProbes=', o.keepAliveProbes, 'TCP_KEEPCNT', SOL_TCP, TCP_KEEPCNT, o.keepAliveProbes);
  if (o.deferAcceptSec)
    tryInt(
      t,
      'DeferAcceptSec=',
      o.deferAcceptSec,
      'TCP_DEFER_ACCEPT',
      SOL_TCP,
      TCP_DEFER_ACCEPT,
      o.deferAcceptSec,
    );
  if (o.noDelay) {
    if (sctp) tryInt(t, 'NoDelay=', 'yes', 'SCTP_NODELAY', SOL_SCTP, SCTP_NODELAY, 1);
    else tryInt(t, 'NoDelay=', 'yes', 'TCP_NODELAY', SOL_TCP, TCP_NODELAY, 1);
  }
  if (o.broadcast) tryInt(t, 'Broadcast=', 'yes', 'SO_BROADCAST', SOL_SOCKET, SO_BROADCAST, 1);
  if (o.passCredentials) tryInt(t, 'PassCredentials=', 'yes', 'SO_PASSCRED', SOL_SOCKET, SO_PASSCRED, 1);
  if (o.passPIDFD) tryInt(t, 'PassPIDFD=', 'yes', 'SO_PASSPIDFD', SOL_SOCKET, SO_PASSPIDFD, 1);
  if (o.passSecurity) tryInt(t, 'PassSecurity=', 'yes', 'SO_PASSSEC', SOL_SOCKET, SO_PASSSEC, 1);
  if (o.passPacketInfo) {
    if (t.family === 'netlink')
      tryInt(t, 'PassPacketInfo=', 'yes', 'NETLINK_PKTINFO', SOL_NETLINK, NETLINK_PKTINFO, 1);
    else
      tryIpInt(
        t,
        'PassPacketInfo=',
        'yes',
        ['IP_PKTINFO', IP_PKTINFO],
        ['IPV6_RECVPKTINFO', IPV6_RECVPKTINFO],
        1,
      );
  }
  if (o.acceptFileDescriptors === false)
    tryInt(t, 'AcceptFileDescriptors=', 'no', 'SO_PASSRIGHTS', SOL_SOCKET, SO_PASSRIGHTS, 0);
  if (o.timestamping === 'us') tryInt(t, 'Timestamping=', 'us', 'SO_TIMESTAMP', SOL_SOCKET, SO_TIMESTAMP, 1);
  if (o.timestamping === 'ns')
    tryInt(t, 'Timestamping=', 'ns', 'SO_TIMESTAMPNS', SOL_SOCKET, SO_TIMESTAMPNS, 1);
  if (o.priority !== undefined)
    tryInt(t, 'Priority=', o.priority, 'SO_PRIORITY', SOL_SOCKET, SO_PRIORITY, o.priority);
  if (o.receiveBuffer)
    trySetBuffer(
      t,
      'ReceiveBuffer=',
      o.receiveBuffer,
      ['SO_RCVBUF', SO_RCVBUF],
      ['SO_RCVBUFFORCE', SO_RCVBUFFORCE],
    );
  if (o.sendBuffer)
    trySetBuffer(
      t,
      'SendBuffer=',
      o.sendBuffer,
      ['SO_SNDBUF', SO_SNDBUF],
      ['SO_SNDBUFFORCE', SO_SNDBUFFORCE],
    );
  if (o.mark !== undefined) tryInt(t, 'Mark=', o.mark, 'SO_MARK', SOL_SOCKET, SO_MARK, o.mark);
  // systemd sets IPTOS= at IPPROTO_IP on both families; on AF_INET6 it marks IPv4-mapped traffic.
  if (o.ipTOS !== undefined) {
    const tosSet = tryInt(t, 'IPTOS=', o.ipTOS, 'IP_TOS', SOL_IP, IP_TOS, o.ipTOS);
    // Setting IP_TOS rewrites SO_PRIORITY from the TOS bits, so in systemd's order IPTOS= silently
    // undoes Priority=. We set the priority again so both keys hold (a deliberate difference).
    if (tosSet && o.priority !== undefined)
      tryInt(t, 'Priority=', o.priority, 'SO_PRIORITY', SOL_SOCKET, SO_PRIORITY, o.priority);
  }
  if (o.ipTTL !== undefined)
    tryIpInt(t, 'IPTTL=', o.ipTTL, ['IP_TTL', IP_TTL], ['IPV6_UNICAST_HOPS', IPV6_UNICAST_HOPS], o.ipTTL);
  if (o.tcpCongestion) {
    try {
      setsockopt(fd, SOL_TCP, TCP_CONGESTION, Buffer.from(o.tcpCongestion), 'TCP_CONGESTION');
    } catch (err) {
      if (!isSystemError(err)) throw err;
      warn(t, 'TCPCongestion=', o.tcpCongestion, 'TCP_CONGESTION', err);
    }
  }
  return warnings;
}
