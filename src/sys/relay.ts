// The system calls of a byte relay (the data path of `sockunit proxy`), shaped for a hot loop:
// results are numbers and a failure is -errno, never a thrown Error. EAGAIN, EINPROGRESS and
// ECONNRESET are ordinary outcomes there, many thousands of times a second, and building a
// SystemError for each (message, stack) would cost more than the call itself.
//
// Bytes move socket -> pipe -> socket with splice(2), inside the kernel: no byte is copied into
// this process. On MPTCP sockets splice works in both directions on the kernels this project
// targets (checked on 6.18 by test/sys-relay.test.ts). Linux 6.18 has no MPTCP splice_read of its
// own (no mptcp_splice_read in /proc/kallsyms), so splicing out of an MPTCP socket takes the
// kernel's generic path (copy_splice_read: mptcp_recvmsg fills the pipe's pages, one copy inside
// the kernel, as TCP's own splice makes for most segments); splicing into an MPTCP socket goes
// through sendmsg, as for TCP.

import {
  AF_INET,
  AF_INET6,
  AF_UNIX,
  O_CLOEXEC,
  O_NONBLOCK,
  SHUT_WR,
  SO_ERROR,
  SO_LINGER,
  SOCK_CLOEXEC,
  SOCK_NONBLOCK,
  SOCK_STREAM,
  SOL_SOCKET,
  SPLICE_F_MORE,
  SPLICE_F_MOVE,
  SPLICE_F_NONBLOCK,
} from './constants.js';
import { libcCalls as c, errno } from './ffi.js';
import { getPipeSize, setPipeSize } from './fs.js';
import { encodeSockAddr, type SockAddr } from './sockaddr.js';
import { check, closeQuietly, type Fd } from './socket.js';

export const EINTR = 4;
export const EAGAIN = 11;
export const EPIPE = 32;
export const ECONNRESET = 104;
export const ECONNREFUSED = 111;
export const EINPROGRESS = 115;

/** accept4(2) without the peer's address, non-blocking and close-on-exec: the new fd, or -errno
 * (-EAGAIN when nothing is pending). */
export function acceptConnection(listener: Fd): number {
  const fd = c.accept4(listener, null, null, SOCK_NONBLOCK | SOCK_CLOEXEC);
  return fd === -1 ? -errno() : fd;
}

/** A target address encoded once and connected to many times. */
export interface ConnectAddress {
  /** AF_INET, AF_INET6 or AF_UNIX. */
  domain: number;
  raw: Buffer;
}

export function connectAddress(addr: SockAddr): ConnectAddress {
  const domain = addr.family === 'inet' ? AF_INET : addr.family === 'inet6' ? AF_INET6 : AF_UNIX;
  if (addr.family !== 'inet' && addr.family !== 'inet6' && addr.family !== 'unix')
    throw new TypeError(`cannot connect a stream socket to ${addr.family} addresses`);
  return { domain, raw: encodeSockAddr(addr) };
}

/** socket(2) + a non-blocking connect(2) to `to`: the socket (its connect done or in progress,
 * see `connected`), or -errno with nothing left open. `protocol` 0 is TCP (or unix),
 * IPPROTO_MPTCP asks for MPTCP. */
export function connectStream(
  to: ConnectAddress,
  protocol: number,
): { fd: Fd; inProgress: boolean } | number {
  const fd = c.socket(to.domain, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, protocol);
  if (fd === -1) return -errno();
  if (c.connect(fd, to.raw, to.raw.length) === 0) return { fd, inProgress: false };
  const e = errno();
  if (e === EINPROGRESS) return { fd, inProgress: true };
  c.close(fd);
  return -e;
}

const scratchInt = Buffer.alloc(4);
const scratchLen = Buffer.alloc(4);

/** The outcome of a non-blocking connect once the socket is writable: 0, or the errno it failed
 * with (SO_ERROR, which reading clears). */
export function connectResult(fd: Fd): number {
  scratchLen.writeUInt32LE(4);
  if (c.getsockopt(fd, SOL_SOCKET, SO_ERROR, scratchInt, scratchLen) === -1) return errno();
  return scratchInt.readInt32LE();
}

/** A pipe both of whose ends are non-blocking and close-on-exec, holding up to `size` bytes. */
export interface Pipe {
  read: Fd;
  write: Fd;
  /** What the kernel granted (F_GETPIPE_SZ), in bytes. */
  size: number;
}

const pipeFds = Buffer.alloc(8);

/** pipe2(2) sized with F_SETPIPE_SZ to `size` bytes where the kernel allows (above
 * /proc/sys/fs/pipe-max-size an unprivileged process keeps the default 64 KiB). Throws. */
export function openPipe(size: number): Pipe {
  check(c.pipe2(pipeFds, O_NONBLOCK | O_CLOEXEC), 'pipe2');
  const read = pipeFds.readInt32LE(0);
  const write = pipeFds.readInt32LE(4);
  try {
    try {
      setPipeSize(read, size);
    } catch {} // EPERM above pipe-max-size: the default size still works
    return { read, write, size: getPipeSize(read) };
  } catch (err) {
    closeQuietly(read);
    closeQuietly(write);
    throw err;
  }
}

export function closePipe(pipe: Pipe): void {
  closeQuietly(pipe.read);
  closeQuietly(pipe.write);
}

/** splice(2) of up to `length` bytes from `from` to `to`, never blocking: the bytes moved, 0 at
 * end of file, or -errno (-EAGAIN: nothing to read or no room to write right now). `more`
 * (SPLICE_F_MORE, MSG_MORE for a socket) holds back a last partial segment for what follows:
 * used when a FIN follows, so that the data and the FIN leave in one segment. */
export function spliceSome(from: Fd, to: Fd, length: number, more = false): number {
  const flags = SPLICE_F_MOVE | SPLICE_F_NONBLOCK | (more ? SPLICE_F_MORE : 0);
  const n = Number(c.splice(from, null, to, null, length, flags));
  return n === -1 ? -errno() : n;
}

/** shutdown(fd, SHUT_WR): our FIN after the last byte. 0, or -errno (ENOTCONN after a reset). */
export function shutdownWrite(fd: Fd): number {
  return c.shutdown(fd, SHUT_WR) === -1 ? -errno() : 0;
}

const lingerZero = Buffer.alloc(8); // struct linger { l_onoff = 1, l_linger = 0 }
lingerZero.writeInt32LE(1, 0);

/** Close with a RST instead of a FIN (SO_LINGER on, timeout 0): the peer sees ECONNRESET, as a
 * reset from the other side of a relay should look. */
export function closeWithReset(fd: Fd): void {
  c.setsockopt(fd, SOL_SOCKET, SO_LINGER, lingerZero, lingerZero.length);
  c.close(fd);
}
