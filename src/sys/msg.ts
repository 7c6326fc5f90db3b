// sendmsg/recvmsg with ancillary data: passing fds (SCM_RIGHTS) and credentials
// (SCM_CREDENTIALS) over unix sockets. Node has neither, and the manager needs both: the notify
// socket identifies senders by their credentials, and FDSTORE=1 hands fds back.
//
// struct msghdr, struct iovec and struct cmsghdr are built by hand in Buffers (the layout is the
// same on every 64-bit Linux). The kernel reads the pointers inside them, so every Buffer whose
// address is written into another one is kept in a local variable until the call returns
// (node-and-ecosystem.md §2.5 pitfall 13).

import {
  AF_UNIX,
  MSG_CMSG_CLOEXEC,
  MSG_CTRUNC,
  MSG_DONTWAIT,
  MSG_NOSIGNAL,
  MSG_TRUNC,
  SCM_CREDENTIALS,
  SCM_RIGHTS,
  SOCK_CLOEXEC,
  SOCK_DGRAM,
  SOCK_NONBLOCK,
  SOCK_SEQPACKET,
  SOCK_STREAM,
  SOL_SOCKET,
} from './constants.js';
import { systemError } from './errors.js';
import { addressOf, libcCalls as c, errno } from './ffi.js';
import { decodeSockAddr, encodeSockAddr, SOCKADDR_STORAGE_SIZE, type SockAddr } from './sockaddr.js';
import { addressContext, check, closeQuietly, type Fd } from './socket.js';

/** The sender of a message as the kernel vouches for it (struct ucred). */
export interface Credentials {
  pid: number;
  uid: number;
  gid: number;
}

export interface SendOptions {
  /** Descriptors to pass (SCM_RIGHTS). The receiver gets its own copies; ours stay open. */
  fds?: Fd[];
  /** Credentials to attach (SCM_CREDENTIALS). Unprivileged senders may only state their own. */
  credentials?: Credentials;
  /** Destination, for unconnected datagram sockets. */
  to?: SockAddr;
}

export interface ReceiveOptions {
  /** Largest payload accepted; a longer datagram is cut and `truncated` is set. */
  maxBytes: number;
  /** Most descriptors accepted; the kernel closes any beyond this and sets `controlTruncated`. */
  maxFds?: number;
  /** Wait for a message instead of returning undefined when none is queued. Blocks the thread. */
  block?: boolean;
}

export interface ReceivedMessage {
  data: Buffer;
  /** Received descriptors, already close-on-exec (MSG_CMSG_CLOEXEC). The caller owns them. */
  fds: Fd[];
  /** Present when the receiving socket has SO_PASSCRED set (or the sender attached them). */
  credentials?: Credentials;
  /** The sender's address, for datagram sockets. */
  from?: SockAddr;
  /** The payload was longer than `maxBytes` (datagram sockets drop the rest). */
  truncated: boolean;
  /** Ancillary data did not fit: some descriptors or credentials were discarded by the kernel. */
  controlTruncated: boolean;
}

// struct msghdr: name@0, namelen@8, iov@16, iovlen@24, control@32, controllen@40, flags@48.
const MSGHDR_SIZE = 56;
const IOVEC_SIZE = 16;
// struct cmsghdr: len (size_t) @0, level@8, type@12, data@16; each one aligned to 8 bytes.
const CMSG_HEADER = 16;
const UCRED_SIZE = 12;
const EAGAIN = 11;

function align8(n: number): number {
  return (n + 7) & ~7;
}

function cmsgSpace(dataLength: number): number {
  return CMSG_HEADER + align8(dataLength);
}

function pointer(buf: Buffer | null): bigint {
  return buf && buf.length > 0 ? addressOf(buf) : 0n;
}

function buildControl(options: SendOptions): Buffer | null {
  const fds = options.fds ?? [];
  const size =
    (fds.length > 0 ? cmsgSpace(4 * fds.length) : 0) + (options.credentials ? cmsgSpace(UCRED_SIZE) : 0);
  if (size === 0) return null;
  const control = Buffer.alloc(size);
  let at = 0;
  if (fds.length > 0) {
    control.writeBigUInt64LE(BigInt(CMSG_HEADER + 4 * fds.length), at);
    control.writeInt32LE(SOL_SOCKET, at + 8);
    control.writeInt32LE(SCM_RIGHTS, at + 12);
    fds.forEach((fd, i) => {
      control.writeInt32LE(fd, at + CMSG_HEADER + 4 * i);
    });
    at += cmsgSpace(4 * fds.length);
  }
  if (options.credentials) {
    const { pid, uid, gid } = options.credentials;
    control.writeBigUInt64LE(BigInt(CMSG_HEADER + UCRED_SIZE), at);
    control.writeInt32LE(SOL_SOCKET, at + 8);
    control.writeInt32LE(SCM_CREDENTIALS, at + 12);
    control.writeInt32LE(pid, at + 16);
    control.writeUInt32LE(uid, at + 20);
    control.writeUInt32LE(gid, at + 24);
  }
  return control;
}

/** sendmsg(2): send `data` with optional fds, credentials and destination. Returns the bytes the
 * kernel took (a stream socket may take fewer). Never raises SIGPIPE (MSG_NOSIGNAL); a full
 * non-blocking socket throws EAGAIN. */
export function sendMessage(fd: Fd, data: Buffer, options: SendOptions = {}): number {
  const name = options.to ? encodeSockAddr(options.to) : null;
  const control = buildControl(options);
  const iov = Buffer.alloc(IOVEC_SIZE);
  iov.writeBigUInt64LE(pointer(data), 0);
  iov.writeBigUInt64LE(BigInt(data.length), 8);
  const msg = Buffer.alloc(MSGHDR_SIZE);
  msg.writeBigUInt64LE(pointer(name), 0);
  msg.writeUInt32LE(name?.length ?? 0, 8);
  msg.writeBigUInt64LE(addressOf(iov), 16);
  msg.writeBigUInt64LE(1n, 24);
  msg.writeBigUInt64LE(pointer(control), 32);
  msg.writeBigUInt64LE(BigInt(control?.length ?? 0), 40);
  const context = options.to ? addressContext(options.to) : undefined;
  const sent = check(c.sendmsg(fd, msg, MSG_NOSIGNAL), 'sendmsg', context);
  // Keeps data/name/control/iov alive (and observably used) until after the kernel read them.
  keepAlive(data, name, control, iov);
  return sent;
}

function keepAlive(..._buffers: unknown[]): void {}

function parseControl(control: Buffer, length: number): { fds: Fd[]; credentials?: Credentials } {
  const fds: Fd[] = [];
  let credentials: Credentials | undefined;
  let at = 0;
  while (at + CMSG_HEADER <= length) {
    const cmsgLen = Number(control.readBigUInt64LE(at));
    if (cmsgLen < CMSG_HEADER || at + cmsgLen > length) break;
    const level = control.readInt32LE(at + 8);
    const type = control.readInt32LE(at + 12);
    const dataLength = cmsgLen - CMSG_HEADER;
    if (level === SOL_SOCKET && type === SCM_RIGHTS) {
      for (let i = 0; i + 4 <= dataLength; i += 4) fds.push(control.readInt32LE(at + CMSG_HEADER + i));
    } else if (level === SOL_SOCKET && type === SCM_CREDENTIALS && dataLength >= UCRED_SIZE) {
      credentials = {
        pid: control.readInt32LE(at + 16),
        uid: control.readUInt32LE(at + 20),
        gid: control.readUInt32LE(at + 24),
      };
    }
    at += align8(cmsgLen);
  }
  return credentials ? { fds, credentials } : { fds };
}

/** recvmsg(2): one message with its fds and credentials. Returns undefined when nothing is queued
 * (EAGAIN) unless `block` is set. A zero-length `data` on a stream socket means end of stream. */
export function receiveMessage(fd: Fd, options: ReceiveOptions): ReceivedMessage | undefined {
  const maxFds = options.maxFds ?? 0;
  const data = Buffer.alloc(options.maxBytes);
  const name = Buffer.alloc(SOCKADDR_STORAGE_SIZE);
  // Room for the fds and for credentials, whichever the sender attached.
  const control = Buffer.alloc((maxFds > 0 ? cmsgSpace(4 * maxFds) : 0) + cmsgSpace(UCRED_SIZE));
  const iov = Buffer.alloc(IOVEC_SIZE);
  iov.writeBigUInt64LE(pointer(data), 0);
  iov.writeBigUInt64LE(BigInt(data.length), 8);
  const msg = Buffer.alloc(MSGHDR_SIZE);
  msg.writeBigUInt64LE(addressOf(name), 0);
  msg.writeUInt32LE(name.length, 8);
  msg.writeBigUInt64LE(addressOf(iov), 16);
  msg.writeBigUInt64LE(1n, 24);
  msg.writeBigUInt64LE(addressOf(control), 32);
  msg.writeBigUInt64LE(BigInt(control.length), 40);
  const flags = MSG_CMSG_CLOEXEC | (options.block ? 0 : MSG_DONTWAIT);
  const ret = Number(c.recvmsg(fd, msg, flags));
  if (ret === -1) {
    const e = errno();
    if (e === EAGAIN) return undefined;
    throw systemError('recvmsg', e);
  }
  keepAlive(data, name, control, iov);
  const msgFlags = msg.readInt32LE(48);
  const parsed = parseControl(control, Number(msg.readBigUInt64LE(40)));
  const nameLength = msg.readUInt32LE(8);
  const received: ReceivedMessage = {
    data: data.subarray(0, Math.min(ret, data.length)),
    fds: parsed.fds,
    truncated: (msgFlags & MSG_TRUNC) !== 0,
    controlTruncated: (msgFlags & MSG_CTRUNC) !== 0,
  };
  if (parsed.credentials) received.credentials = parsed.credentials;
  if (nameLength > 0) received.from = decodeSockAddr(name, nameLength);
  if (received.fds.length > maxFds) {
    // The control buffer also has room for credentials, which the kernel may fill with fds when
    // none are sent: honour maxFds and say so, rather than hand over more than was asked for.
    for (const extra of received.fds.splice(maxFds)) closeQuietly(extra);
    received.controlTruncated = true;
  }
  return received;
}

export type SocketPairType = 'stream' | 'datagram' | 'seqpacket';

const pairTypes: Record<SocketPairType, number> = {
  stream: SOCK_STREAM,
  datagram: SOCK_DGRAM,
  seqpacket: SOCK_SEQPACKET,
};

/** socketpair(AF_UNIX): two connected ends, close-on-exec. */
/** Filled and read within socketPair's one call (each thread has its own copy of this module). */
const pairScratch = Buffer.alloc(8);

export function socketPair(
  type: SocketPairType = 'stream',
  options: { nonBlocking?: boolean } = {},
): [Fd, Fd] {
  const sv = pairScratch;
  const flags = pairTypes[type] | SOCK_CLOEXEC | (options.nonBlocking ? SOCK_NONBLOCK : 0);
  check(c.socketpair(AF_UNIX, flags, 0, sv), 'socketpair');
  return [sv.readInt32LE(0), sv.readInt32LE(4)];
}
