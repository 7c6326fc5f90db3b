// Typed wrappers over the file calls socket units need beyond sockets: FIFOs, special files,
// POSIX message queues, ownership and modes. Each failing call throws a Node-shaped SystemError;
// errno is read by `check` before anything else can run.

import { F_GETPIPE_SZ, F_SETPIPE_SZ } from './constants.js';
import { libcCalls as c } from './ffi.js';
import { check, type Fd } from './socket.js';

/** uid/gid value that tells chown(2) to leave that id unchanged. */
const UNCHANGED_ID = 0xffffffff;

export function mkfifo(path: string, mode: number): void {
  check(c.mkfifo(path, mode), 'mkfifo', { path });
}

/** open(2). `mode` only matters with O_CREAT. */
export function open(path: string, flags: number, mode?: number): Fd {
  const ret = mode === undefined ? c.open(path, flags) : c.open(path, flags, 'uint32_t', mode);
  return check(ret, 'open', { path });
}

export function chmod(path: string, mode: number): void {
  check(c.chmod(path, mode), 'chmod', { path });
}

export function fchmod(fd: Fd, mode: number): void {
  check(c.fchmod(fd, mode), 'fchmod');
}

/** chown(2), following symlinks. An undefined id is left unchanged. */
export function chown(path: string, uid: number | undefined, gid: number | undefined): void {
  check(c.chown(path, uid ?? UNCHANGED_ID, gid ?? UNCHANGED_ID), 'chown', { path });
}

export function lchown(path: string, uid: number | undefined, gid: number | undefined): void {
  check(c.lchown(path, uid ?? UNCHANGED_ID, gid ?? UNCHANGED_ID), 'lchown', { path });
}

export function fchown(fd: Fd, uid: number | undefined, gid: number | undefined): void {
  check(c.fchown(fd, uid ?? UNCHANGED_ID, gid ?? UNCHANGED_ID), 'fchown');
}

export function unlink(path: string): void {
  check(c.unlink(path), 'unlink', { path });
}

/** Set the process umask; returns the previous one. */
export function umask(mask: number): number {
  return c.umask(mask & 0o777);
}

/** Run `fn` with the umask set to `mask`, restoring it afterwards. The umask is process-wide,
 * so `fn` must be synchronous: no other code may run while it is changed. */
export function withUmask<T>(mask: number, fn: () => T): T {
  const previous = umask(mask);
  try {
    return fn();
  } finally {
    umask(previous);
  }
}

/** F_SETPIPE_SZ. The kernel rounds up to a power-of-two number of pages; returns the size it
 * actually set. Above /proc/sys/fs/pipe-max-size, unprivileged callers get EPERM. */
export function setPipeSize(fd: Fd, size: number): number {
  return check(c.fcntl(fd, F_SETPIPE_SZ, 'int', size), 'fcntl', { hint: 'F_SETPIPE_SZ' });
}

export function getPipeSize(fd: Fd): number {
  return check(c.fcntl(fd, F_GETPIPE_SZ), 'fcntl', { hint: 'F_GETPIPE_SZ' });
}

/** Size limits of a POSIX message queue, as `struct mq_attr` carries them. */
export interface MessageQueueAttributes {
  maxMessages: number;
  messageSize: number;
}

// struct mq_attr { long mq_flags, mq_maxmsg, mq_msgsize, mq_curmsgs; long __pad[4]; } = 64 bytes.
const MQ_ATTR_SIZE = 64;

/** mq_open(3). `name` starts with `/`. Size limits are applied only when creating the queue. */
export function mqOpen(name: string, flags: number, mode: number, attributes?: MessageQueueAttributes): Fd {
  let attr: Buffer | null = null;
  if (attributes) {
    attr = Buffer.alloc(MQ_ATTR_SIZE);
    attr.writeBigInt64LE(BigInt(attributes.maxMessages), 8);
    attr.writeBigInt64LE(BigInt(attributes.messageSize), 16);
  }
  return check(c.mq_open(name, flags, 'uint32_t', mode, 'void *', attr), 'mq_open', {
    path: name,
    hint: attributes
      ? `MessageQueueMaxMessages=${attributes.maxMessages} MessageQueueMessageSize=${attributes.messageSize}; limits are /proc/sys/fs/mqueue/msg_max and msgsize_max`
      : undefined,
  });
}

export function mqUnlink(name: string): void {
  check(c.mq_unlink(name), 'mq_unlink', { path: name });
}

export interface MessageQueueState extends MessageQueueAttributes {
  /** Messages currently queued. */
  currentMessages: number;
  flags: number;
}

/** mq_getattr(3). Fails with EBADF on a descriptor that is not a message queue. */
export function mqGetAttributes(fd: Fd): MessageQueueState {
  const attr = Buffer.alloc(MQ_ATTR_SIZE);
  check(c.mq_getattr(fd, attr), 'mq_getattr');
  return {
    flags: Number(attr.readBigInt64LE(0)),
    maxMessages: Number(attr.readBigInt64LE(8)),
    messageSize: Number(attr.readBigInt64LE(16)),
    currentMessages: Number(attr.readBigInt64LE(24)),
  };
}

export type FileType = 'socket' | 'fifo' | 'char' | 'block' | 'file' | 'directory' | 'symlink' | 'unknown';

export interface FileStatus {
  type: FileType;
  /** Permission bits (mode & 07777). */
  permissions: number;
  uid: number;
  gid: number;
  dev: bigint;
  ino: bigint;
  rdev: bigint;
  size: bigint;
}

const S_IFMT = 0o170000;
// A switch rather than an object literal: biome's useSimpleNumberKeys fix rewrites octal keys
// such as 0o140000 as if they were base 7 (seen with biome 2.6.8).
function fileTypeOf(mode: number): FileType {
  switch (mode & S_IFMT) {
    case 0o140000:
      return 'socket';
    case 0o120000:
      return 'symlink';
    case 0o100000:
      return 'file';
    case 0o060000:
      return 'block';
    case 0o040000:
      return 'directory';
    case 0o020000:
      return 'char';
    case 0o010000:
      return 'fifo';
    default:
      return 'unknown';
  }
}

// struct stat differs between x86_64 (its own layout, 144 bytes) and the generic layout used by
// arm64 and the other 64-bit architectures (128 bytes).
interface StatLayout {
  size: number;
  dev: number;
  ino: number;
  mode: number;
  uid: number;
  gid: number;
  rdev: number;
  fileSize: number;
}
const statLayout: StatLayout =
  process.arch === 'x64'
    ? { size: 144, dev: 0, ino: 8, mode: 24, uid: 28, gid: 32, rdev: 40, fileSize: 48 }
    : { size: 128, dev: 0, ino: 8, mode: 16, uid: 24, gid: 28, rdev: 32, fileSize: 48 };

/** fstat(2), decoded. */
export function fstat(fd: Fd): FileStatus {
  const L = statLayout;
  const buf = Buffer.alloc(L.size);
  check(c.fstat(fd, buf), 'fstat');
  const mode = buf.readUInt32LE(L.mode);
  return {
    type: fileTypeOf(mode),
    permissions: mode & 0o7777,
    uid: buf.readUInt32LE(L.uid),
    gid: buf.readUInt32LE(L.gid),
    dev: buf.readBigUInt64LE(L.dev),
    ino: buf.readBigUInt64LE(L.ino),
    rdev: buf.readBigUInt64LE(L.rdev),
    size: buf.readBigInt64LE(L.fileSize),
  };
}

export function getuid(): number {
  return c.getuid();
}

export function getgid(): number {
  return c.getgid();
}
