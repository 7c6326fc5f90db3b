// Typed wrappers over the socket system calls. Each failing call throws a Node-shaped
// SystemError (errors.ts); errno is read by `check` before anything else can run.

import {
  F_GETFD,
  F_GETFL,
  F_SETFD,
  F_SETFL,
  FD_CLOEXEC,
  MSG_DONTWAIT,
  O_NONBLOCK,
  SO_ACCEPTCONN,
  SO_DOMAIN,
  SO_PROTOCOL,
  SO_TYPE,
  SOCK_CLOEXEC,
  SOL_SOCKET,
} from './constants.js';
import { type SystemError, type SystemErrorContext, systemError } from './errors.js';
import { libcCalls as c, errno } from './ffi.js';
import {
  decodeSockAddr,
  encodeSockAddr,
  formatSockAddr,
  SOCKADDR_STORAGE_SIZE,
  type SockAddr,
} from './sockaddr.js';

/** A file descriptor owned by the caller. */
export type Fd = number;

/** Throw when a call returned -1. Must be called with the call's result as its argument, so
 * errno is read before any other code runs. */
export function check(ret: number | bigint, syscall: string, context?: SystemErrorContext): number {
  if (Number(ret) === -1) throw systemError(syscall, errno(), context);
  return Number(ret);
}

/** Context for an error about an address: `address`/`port` for IP, `path` for unix sockets. */
export function addressContext(addr: SockAddr): SystemErrorContext {
  switch (addr.family) {
    case 'inet':
    case 'inet6':
      return { address: addr.address, port: addr.port };
    case 'unix':
      return { address: addr.path };
    default:
      return { address: formatSockAddr(addr) };
  }
}

/** socket(2). Always close-on-exec: fds the manager passes to services are handed over
 * explicitly, never leaked by accident. */
export function socket(domain: number, type: number, protocol: number): Fd {
  return check(c.socket(domain, type | SOCK_CLOEXEC, protocol), 'socket');
}

export function bind(fd: Fd, addr: SockAddr): void {
  const raw = encodeSockAddr(addr);
  check(c.bind(fd, raw, raw.length), 'bind', addressContext(addr));
}

export function listen(fd: Fd, backlog: number): void {
  check(c.listen(fd, Math.min(Math.max(backlog, 0), 0x7fffffff)), 'listen');
}

/** connect(2). On a non-blocking socket this throws EINPROGRESS; callers wait for writability
 * and read `SO_ERROR`. */
export function connect(fd: Fd, addr: SockAddr): void {
  const raw = encodeSockAddr(addr);
  check(c.connect(fd, raw, raw.length), 'connect', addressContext(addr));
}

export interface Accepted {
  fd: Fd;
  peer: SockAddr;
}

// Scratch buffers for the calls below: each is filled and read within one synchronous call, and
// every thread has its own copy of this module. Per Accept=yes connection these calls ran ~10
// Buffer.alloc()s, each a backing store V8 counts as external memory and collects.
const scratchAddr = Buffer.alloc(SOCKADDR_STORAGE_SIZE);
const scratchLen = Buffer.alloc(4);
const scratchInt = Buffer.alloc(4);

/** accept4(2), close-on-exec always; `flags` may add SOCK_NONBLOCK. Returns undefined on
 * EAGAIN (nothing pending on a non-blocking listener). */
export function accept(fd: Fd, flags = 0): Accepted | undefined {
  const addr = scratchAddr;
  const len = scratchLen;
  len.writeUInt32LE(addr.length);
  const ret = c.accept4(fd, addr, len, flags | SOCK_CLOEXEC);
  if (ret === -1) {
    const e = errno();
    if (e === 11) return undefined; // EAGAIN / EWOULDBLOCK
    throw systemError('accept', e);
  }
  return { fd: ret, peer: decodeSockAddr(addr, len.readUInt32LE()) };
}

/** read(2) into `buf`: the byte count, 0 at end of file, undefined when a non-blocking fd has
 * nothing to read now (EAGAIN). */
export function readSome(fd: Fd, buf: Buffer): number | undefined {
  const ret = Number(c.read(fd, buf, buf.length));
  if (ret === -1) {
    const e = errno();
    if (e === 11) return undefined; // EAGAIN / EWOULDBLOCK
    throw systemError('read', e);
  }
  return ret;
}

/** recv(2) without blocking (MSG_DONTWAIT), whatever the fd's own O_NONBLOCK: the byte count,
 * 0 at end of file, undefined when nothing is there now. */
export function recvNow(fd: Fd, buf: Buffer): number | undefined {
  const ret = Number(c.recvfrom(fd, buf, buf.length, MSG_DONTWAIT, null, null));
  if (ret === -1) {
    const e = errno();
    if (e === 11) return undefined; // EAGAIN / EWOULDBLOCK
    throw systemError('recv', e);
  }
  return ret;
}

export function setsockopt(
  fd: Fd,
  level: number,
  name: number,
  value: Buffer,
  optName = `${level}/${name}`,
): void {
  check(c.setsockopt(fd, level, name, value, value.length), 'setsockopt', { hint: optName });
}

export function setsockoptInt(fd: Fd, level: number, name: number, value: number, optName?: string): void {
  scratchInt.writeInt32LE(value);
  setsockopt(fd, level, name, scratchInt, optName);
}

/** getsockopt(2) into a buffer of `size` bytes; returns the bytes the kernel wrote. */
export function getsockopt(
  fd: Fd,
  level: number,
  name: number,
  size: number,
  optName = `${level}/${name}`,
): Buffer {
  const buf = Buffer.alloc(size);
  const len = scratchLen;
  len.writeUInt32LE(size);
  check(c.getsockopt(fd, level, name, buf, len), 'getsockopt', { hint: optName });
  return buf.subarray(0, len.readUInt32LE());
}

/** getsockopt(2) with a caller-built buffer (for options whose input carries a header, such as
 * MPTCP_SUBFLOW_ADDRS). Returns the length the kernel reported. */
export function getsockoptInto(fd: Fd, level: number, name: number, buf: Buffer, optName?: string): number {
  const len = scratchLen;
  len.writeUInt32LE(buf.length);
  check(c.getsockopt(fd, level, name, buf, len), 'getsockopt', { hint: optName ?? `${level}/${name}` });
  return len.readUInt32LE();
}

export function getsockoptInt(fd: Fd, level: number, name: number, optName?: string): number {
  const buf = getsockopt(fd, level, name, 4, optName);
  return buf.length >= 4 ? buf.readInt32LE() : buf.length > 0 ? buf.readUInt8() : 0;
}

export function getsockname(fd: Fd): SockAddr {
  const addr = scratchAddr;
  const len = scratchLen;
  len.writeUInt32LE(addr.length);
  check(c.getsockname(fd, addr, len), 'getsockname');
  return decodeSockAddr(addr, len.readUInt32LE());
}

export function getpeername(fd: Fd): SockAddr {
  const addr = scratchAddr;
  const len = scratchLen;
  len.writeUInt32LE(addr.length);
  check(c.getpeername(fd, addr, len), 'getpeername');
  return decodeSockAddr(addr, len.readUInt32LE());
}

export function shutdown(fd: Fd, how: number): void {
  check(c.shutdown(fd, how), 'shutdown');
}

export function close(fd: Fd): void {
  check(c.close(fd), 'close');
}

/** Close and ignore errors: for clean-up paths where the first error is the one to report. */
export function closeQuietly(fd: Fd | undefined): void {
  if (fd !== undefined && fd >= 0) c.close(fd);
}

export interface SocketKind {
  domain: number;
  type: number;
  protocol: number;
  listening: boolean;
}

/** What the kernel says this socket is: SO_DOMAIN, SO_TYPE, SO_PROTOCOL, SO_ACCEPTCONN. */
export function socketKind(fd: Fd): SocketKind {
  return {
    domain: getsockoptInt(fd, SOL_SOCKET, SO_DOMAIN, 'SO_DOMAIN'),
    type: getsockoptInt(fd, SOL_SOCKET, SO_TYPE, 'SO_TYPE'),
    protocol: getsockoptInt(fd, SOL_SOCKET, SO_PROTOCOL, 'SO_PROTOCOL'),
    listening: getsockoptInt(fd, SOL_SOCKET, SO_ACCEPTCONN, 'SO_ACCEPTCONN') === 1,
  };
}

export function getFlags(fd: Fd): number {
  return check(c.fcntl(fd, F_GETFL), 'fcntl');
}

/** Set or clear O_NONBLOCK. The flag lives on the open file description, so it is shared with
 * every process holding the fd (spawn.md trap 7): set it right before handing the fd over. */
export function setNonBlocking(fd: Fd, on: boolean): void {
  const flags = getFlags(fd);
  const next = on ? flags | O_NONBLOCK : flags & ~O_NONBLOCK;
  if (next !== flags) check(c.fcntl(fd, F_SETFL, 'int', next), 'fcntl');
}

export function setCloseOnExec(fd: Fd, on: boolean): void {
  const flags = check(c.fcntl(fd, F_GETFD), 'fcntl');
  const next = on ? flags | FD_CLOEXEC : flags & ~FD_CLOEXEC;
  if (next !== flags) check(c.fcntl(fd, F_SETFD, 'int', next), 'fcntl');
}

/** True when `fd` is an open descriptor of this process. */
export function isOpen(fd: Fd): boolean {
  return c.fcntl(fd, F_GETFD) !== -1;
}

export type { SystemError };
