// Open one port of a socket unit from its typed spec, in systemd's order (socket-units.md §3.5):
// socket -> bind-time options -> parents -> bind -> listen -> connection options (warnings
// only) -> FIFO/mqueue attributes -> owner. Hard failures throw a Node-shaped SystemError that
// names the port and says what to do; refused connection options come back as warnings.

import { lstatSync, mkdirSync, chmodSync as nodeChmod, utimesSync } from 'node:fs';
import { dirname } from 'node:path';
import {
  AF_NETLINK,
  IPPROTO_MPTCP,
  IPPROTO_SCTP,
  IPPROTO_TCP,
  IPPROTO_UDP,
  IPPROTO_UDPLITE,
  O_CLOEXEC,
  O_CREAT,
  O_NOCTTY,
  O_NOFOLLOW,
  O_NONBLOCK,
  O_RDONLY,
  O_RDWR,
  SOCK_DGRAM,
  SOCK_NONBLOCK,
  SOCK_RAW,
  SOCK_SEQPACKET,
  SOCK_STREAM,
} from '../sys/constants.js';
import { hasCode, type SystemError, type SystemErrorContext, systemError } from '../sys/errors.js';
import {
  chown,
  type FileStatus,
  fchown,
  fstat,
  getgid,
  getuid,
  mkfifo,
  mqOpen,
  open,
  setPipeSize,
  unlink,
  withUmask,
} from '../sys/fs.js';
import { familyNumber, type SockAddr } from '../sys/sockaddr.js';
import { addressContext, bind, closeQuietly, type Fd, getsockname, listen, socket } from '../sys/socket.js';
import {
  applyBindTimeOptions,
  applyConnectionOptions,
  isSystemError,
  type OptionWarning,
} from './options.js';
import {
  describeSpec,
  type FifoSpec,
  type MessageQueueSpec,
  type NetlinkSpec,
  type NetworkSocketSpec,
  netlinkFamilyNumber,
  type SocketProtocol,
  type SocketSpec,
  type SocketType,
  type SpecialSpec,
} from './spec.js';

export { applyConnectionOptions, type OptionWarning } from './options.js';

/** An open port: the fd (close-on-exec, non-blocking), what it was opened from, and what the
 * kernel made of it. */
export interface OpenedSocket {
  fd: Fd;
  spec: SocketSpec;
  /** The bound address as the kernel reports it (port 0 resolved); undefined for FIFOs,
   * special files and message queues. */
  address: SockAddr | undefined;
  /** Options the kernel refused; the port works without them. */
  warnings: OptionWarning[];
  /** The file system node the port occupies (a unix socket file, a FIFO, a message queue), as
   * it was when opened; undefined for every other port. Whoever removes the node later checks it
   * is still this one: someone may have replaced it since. */
  node?: NodeIdentity;
}

/** A file system node by device and inode: the same path may name another node tomorrow. */
export interface NodeIdentity {
  dev: bigint;
  ino: bigint;
}

function identityOf(st: { dev: bigint; ino: bigint }): NodeIdentity {
  return { dev: st.dev, ino: st.ino };
}

/** systemd's default `Backlog=`: INT_MAX, which listen() caps at net.core.somaxconn. */
export const DEFAULT_BACKLOG = 0x7fffffff;
const DEFAULT_SOCKET_MODE = 0o666;
const DEFAULT_DIRECTORY_MODE = 0o755;

const socketTypes: Record<SocketType, number> = {
  stream: SOCK_STREAM,
  datagram: SOCK_DGRAM,
  seqpacket: SOCK_SEQPACKET,
};

const protocolNumbers: Record<SocketProtocol, number> = {
  tcp: IPPROTO_TCP,
  udp: IPPROTO_UDP,
  udplite: IPPROTO_UDPLITE,
  sctp: IPPROTO_SCTP,
  mptcp: IPPROTO_MPTCP,
};

/** Open the port `spec` describes. Throws a SystemError (with `code`, `syscall`, `address`,
 * `port`) when the port cannot be opened; never leaks the fd on failure. */
export function openSocket(spec: SocketSpec): OpenedSocket {
  switch (spec.kind) {
    case 'socket':
      return openNetworkSocket(spec);
    case 'netlink':
      return openNetlink(spec);
    case 'fifo':
      return openFifo(spec);
    case 'special':
      return openSpecial(spec);
    case 'mqueue':
      return openMessageQueue(spec);
  }
}

/** Why a failure happened and what to do about it, for the errors users hit most. */
function advice(spec: SocketSpec, err: SystemError): string | undefined {
  if (spec.kind !== 'socket') return undefined;
  const ip = spec.family === 'inet' || spec.family === 'inet6';
  if (err.syscall === 'socket') {
    if (spec.protocol === 'mptcp') {
      if (!ip) return 'MPTCP runs only over inet and inet6 addresses';
      // ENOPROTOOPT: net.mptcp.enabled=0 in this network namespace (per-netns sysctl).
      if (err.code === 'ENOPROTOOPT')
        return 'MPTCP is disabled in this network namespace; enable it with `sysctl -w net.mptcp.enabled=1`';
      // EPROTONOSUPPORT: kernel built without CONFIG_MPTCP; EINVAL: kernel older than 5.6.
      if (err.code === 'EPROTONOSUPPORT' || err.code === 'EINVAL')
        return 'this kernel has no MPTCP (needs Linux >= 5.6 with CONFIG_MPTCP=y)';
    }
    if (spec.protocol === 'sctp' && (err.code === 'EPROTONOSUPPORT' || err.code === 'ESOCKTNOSUPPORT'))
      return ip
        ? 'the kernel has no SCTP; load it with `modprobe sctp`'
        : 'SCTP runs only over inet and inet6 addresses';
    if (spec.protocol === 'udplite' && err.code === 'EPROTONOSUPPORT')
      return 'the kernel has no UDP-Lite (removed from recent kernels)';
    if (err.code === 'EAFNOSUPPORT') return `the kernel does not support ${spec.family} sockets here`;
  }
  if (err.syscall === 'bind') {
    if (err.code === 'EADDRINUSE')
      return 'another socket is bound to this address; stop it, pick another port, or set ReusePort= on every socket sharing it';
    if (err.code === 'EACCES' && ip)
      return 'ports below net.ipv4.ip_unprivileged_port_start need root or CAP_NET_BIND_SERVICE';
    if (err.code === 'EADDRNOTAVAIL') return 'no local interface has this address; FreeBind=yes binds anyway';
  }
  return undefined;
}

/** Re-throw a failure with the port named and advice added; other errors pass unchanged. */
function failure(spec: SocketSpec, err: unknown, what?: string): never {
  if (!isSystemError(err)) throw err;
  const context: SystemErrorContext = portContext(spec);
  const hints = [what, describeSpec(spec), advice(spec, err)].filter((h) => h !== undefined);
  context.hint = hints.join('; ');
  throw systemError(err.syscall, Math.abs(err.errno), context);
}

function portContext(spec: SocketSpec): SystemErrorContext {
  switch (spec.kind) {
    case 'socket':
      return addressContext(spec.address);
    case 'netlink':
      return { address: `netlink:${spec.family}` };
    case 'fifo':
    case 'special':
      return { path: spec.path };
    case 'mqueue':
      return { path: spec.name };
  }
}

function isFilesystemPath(addr: SockAddr): addr is { family: 'unix'; path: string } {
  return addr.family === 'unix' && addr.path !== '' && !addr.path.startsWith('@');
}

function openNetworkSocket(spec: NetworkSocketSpec): OpenedSocket {
  if (spec.address.family !== spec.family)
    throw new TypeError(
      `socket spec: family '${spec.family}' does not match the ${spec.address.family} address ${describeSpec(spec)}`,
    );
  const protocol = spec.protocol ? protocolNumbers[spec.protocol] : 0;
  let fd: Fd;
  try {
    fd = socket(familyNumber(spec.family), socketTypes[spec.type] | SOCK_NONBLOCK, protocol);
  } catch (err) {
    failure(spec, err);
  }
  const warnings: OptionWarning[] = [];
  try {
    const fail = (err: unknown, what: string): never => failure(spec, err, what);
    applyBindTimeOptions(fd, spec, warnings, { fail });
    const o = spec.options ?? {};
    const path = isFilesystemPath(spec.address) ? spec.address.path : undefined;
    if (path !== undefined) {
      makeParents(path, o.directoryMode ?? DEFAULT_DIRECTORY_MODE, spec);
      bindUnixPath(fd, spec, path, o.socketMode ?? DEFAULT_SOCKET_MODE);
    } else {
      try {
        bind(fd, spec.address);
      } catch (err) {
        failure(spec, err);
      }
    }
    if (spec.type !== 'datagram') {
      try {
        listen(fd, o.backlog ?? DEFAULT_BACKLOG);
      } catch (err) {
        failure(spec, err, `Backlog=${o.backlog ?? DEFAULT_BACKLOG}`);
      }
      // systemd touches the node so inotify watchers learn it is connectable.
      if (path !== undefined) touch(path);
    }
    warnings.push(...applyConnectionOptions(fd, spec));
    if (path !== undefined) changeOwner(spec, () => chown(path, o.socketUser, o.socketGroup));
    const opened: OpenedSocket = { fd, spec, address: getsockname(fd), warnings };
    // The node bind() just made (a socket's fstat names the socket, not its file).
    if (path !== undefined) opened.node = identityOf(lstatSync(path, { bigint: true }));
    return opened;
  } catch (err) {
    closeQuietly(fd);
    throw err;
  }
}

/** Bind a unix socket to a path with the node's mode set through the umask, as systemd does. A
 * leftover socket node (EADDRINUSE) is removed and the bind retried once; anything else at the
 * path is left alone. */
function bindUnixPath(fd: Fd, spec: NetworkSocketSpec, path: string, mode: number): void {
  const bindWithMode = (): void => withUmask(~mode & 0o777, () => bind(fd, spec.address));
  try {
    bindWithMode();
    return;
  } catch (err) {
    if (!hasCode(err, 'EADDRINUSE')) failure(spec, err);
    if (!isSocketNode(path)) failure(spec, err, `${path} exists and is not a socket; refusing to remove it`);
    try {
      unlink(path);
    } catch {
      failure(spec, err); // the original EADDRINUSE says more than the unlink error
    }
  }
  try {
    bindWithMode();
  } catch (err) {
    failure(spec, err, 'after removing a stale socket node');
  }
}

function isSocketNode(path: string): boolean {
  try {
    return lstatSync(path).isSocket();
  } catch {
    return false;
  }
}

function touch(path: string): void {
  try {
    const now = new Date();
    utimesSync(path, now, now);
  } catch {
    // A hint for watchers only; the socket is already listening.
  }
}

/** Create the missing parent directories of `path` with exactly `mode` (not umask-reduced),
 * leaving existing ones alone. */
function makeParents(path: string, mode: number, spec: SocketSpec): void {
  const missing: string[] = [];
  for (let dir = dirname(path); dir !== dirname(dir); dir = dirname(dir)) {
    if (exists(dir)) break;
    missing.unshift(dir);
  }
  for (const dir of missing) {
    try {
      mkdirSync(dir, { mode });
      nodeChmod(dir, mode);
    } catch (err) {
      if (hasCode(err, 'EEXIST')) continue;
      const e = err as SystemError;
      throw systemError('mkdir', Math.abs(e.errno ?? 0), {
        path: dir,
        hint: `creating the parents of ${describeSpec(spec)} with DirectoryMode=${mode.toString(8)}`,
      });
    }
  }
}

function exists(path: string): boolean {
  try {
    lstatSync(path);
    return true;
  } catch {
    return false;
  }
}

function changeOwner(spec: SocketSpec, apply: () => void): void {
  const o = spec.options ?? {};
  if (o.socketUser === undefined && o.socketGroup === undefined) return;
  try {
    apply();
  } catch (err) {
    failure(spec, err, `SocketUser=${o.socketUser ?? ''} SocketGroup=${o.socketGroup ?? ''}`);
  }
}

function openNetlink(spec: NetlinkSpec): OpenedSocket {
  let fd: Fd;
  try {
    fd = socket(AF_NETLINK, SOCK_RAW | SOCK_NONBLOCK, netlinkFamilyNumber(spec.family));
  } catch (err) {
    failure(spec, err);
  }
  const warnings: OptionWarning[] = [];
  try {
    applyBindTimeOptions(fd, spec, warnings, { fail: (err, what) => failure(spec, err, what) });
    try {
      bind(fd, { family: 'netlink', pid: 0, groups: spec.group });
    } catch (err) {
      failure(spec, err);
    }
    warnings.push(...applyConnectionOptions(fd, spec));
    return { fd, spec, address: getsockname(fd), warnings };
  } catch (err) {
    closeQuietly(fd);
    throw err;
  }
}

/** An existing node must be what systemd would have created: a node of the right type, with the
 * configured mode and owner. Otherwise the port fails (EEXIST) instead of using a stranger's. */
function checkExistingNode(
  spec: SocketSpec,
  st: FileStatus,
  type: FileStatus['type'],
  mode: number,
  syscall: string,
): void {
  const o = spec.options ?? {};
  // Either we just created it, or an earlier start already gave it to SocketUser/SocketGroup.
  const uids = [getuid(), o.socketUser ?? getuid()];
  const gids = [getgid(), o.socketGroup ?? getgid()];
  const wrong: string[] = [];
  if (st.type !== type) wrong.push(`it is a ${st.type}, not a ${type}`);
  else {
    if (st.permissions !== (mode & 0o777))
      wrong.push(`its mode is ${st.permissions.toString(8)}, not SocketMode=${mode.toString(8)}`);
    if (!uids.includes(st.uid) || !gids.includes(st.gid))
      wrong.push(`it is owned by ${st.uid}:${st.gid}, not ${uids.at(-1)}:${gids.at(-1)}`);
  }
  if (wrong.length > 0)
    failure(spec, systemError(syscall, 17 /* EEXIST */), `${wrong.join(' and ')}; remove it or fix the unit`);
}

function openFifo(spec: FifoSpec): OpenedSocket {
  const o = spec.options ?? {};
  const mode = o.socketMode ?? DEFAULT_SOCKET_MODE;
  makeParents(spec.path, o.directoryMode ?? DEFAULT_DIRECTORY_MODE, spec);
  try {
    withUmask(~mode & 0o777, () => mkfifo(spec.path, mode));
  } catch (err) {
    if (!hasCode(err, 'EEXIST')) failure(spec, err);
  }
  let fd: Fd;
  try {
    fd = open(spec.path, O_RDWR | O_CLOEXEC | O_NOCTTY | O_NONBLOCK | O_NOFOLLOW);
  } catch (err) {
    failure(spec, err);
  }
  try {
    const st = fstat(fd);
    checkExistingNode(spec, st, 'fifo', mode, 'mkfifo');
    const warnings: OptionWarning[] = [];
    if (o.pipeSize) {
      try {
        setPipeSize(fd, o.pipeSize);
      } catch (err) {
        if (!isSystemError(err)) throw err;
        warnings.push({
          option: 'PipeSize=',
          sockopt: 'F_SETPIPE_SZ',
          error: err,
          message: `PipeSize=${o.pipeSize}: the kernel refused F_SETPIPE_SZ on ${spec.path} (${err.code}); /proc/sys/fs/pipe-max-size limits unprivileged callers`,
        });
      }
    }
    changeOwner(spec, () => fchown(fd, o.socketUser, o.socketGroup));
    return { fd, spec, address: undefined, warnings, node: identityOf(st) };
  } catch (err) {
    closeQuietly(fd);
    throw err;
  }
}

function openSpecial(spec: SpecialSpec): OpenedSocket {
  let fd: Fd;
  try {
    fd = open(
      spec.path,
      (spec.writable ? O_RDWR : O_RDONLY) | O_CLOEXEC | O_NOCTTY | O_NONBLOCK | O_NOFOLLOW,
    );
  } catch (err) {
    failure(spec, err, spec.writable ? 'opening read-write (Writable=yes)' : 'opening read-only');
  }
  try {
    const st = fstat(fd);
    if (st.type !== 'file' && st.type !== 'char')
      failure(
        spec,
        systemError('open', 17 /* EEXIST, as systemd reports it */),
        `it is a ${st.type}; ListenSpecial= takes a regular file or a character device`,
      );
    return { fd, spec, address: undefined, warnings: [] };
  } catch (err) {
    closeQuietly(fd);
    throw err;
  }
}

function openMessageQueue(spec: MessageQueueSpec): OpenedSocket {
  const o = spec.options ?? {};
  const mode = o.socketMode ?? DEFAULT_SOCKET_MODE;
  // systemd passes limits only when both are positive; otherwise the kernel's defaults apply.
  const limits =
    spec.maxMessages && spec.maxMessages > 0 && spec.messageSize && spec.messageSize > 0
      ? { maxMessages: spec.maxMessages, messageSize: spec.messageSize }
      : undefined;
  let fd: Fd;
  try {
    fd = withUmask(0, () => mqOpen(spec.name, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_CREAT, mode, limits));
  } catch (err) {
    failure(spec, err);
  }
  try {
    const st = fstat(fd);
    checkExistingNode(spec, st, 'file', mode, 'mq_open');
    changeOwner(spec, () => fchown(fd, o.socketUser, o.socketGroup));
    return { fd, spec, address: undefined, warnings: [], node: identityOf(st) };
  } catch (err) {
    closeQuietly(fd);
    throw err;
  }
}
