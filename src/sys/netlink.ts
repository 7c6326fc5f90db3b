// NETLINK_SOCK_DIAG, the kernel's socket diagnostics, as both its users here speak it: one
// request, then replies until NLMSG_DONE (a dump) or until the caller found what it looked for.
// inet-diag.ts dumps every TCP or MPTCP socket of a family; sock-diag.ts reads one listener's
// backlog. The framing (struct nlmsghdr), attributes (struct nlattr) and bounds live here.

import { AF_NETLINK, NETLINK_SOCK_DIAG, SOCK_DGRAM } from './constants.js';
import { systemError } from './errors.js';
import { receiveMessage, sendMessage } from './msg.js';
import { waitReadable } from './poll.js';
import { closeQuietly, socket } from './socket.js';

/** nlmsg_type of every sock_diag request and reply. */
export const SOCK_DIAG_BY_FAMILY = 20;
export const NLM_F_REQUEST = 0x1;
/** NLM_F_ROOT | NLM_F_MATCH: every socket that matches, not one looked up by its id. */
export const NLM_F_DUMP = 0x300;
const NLMSG_ERROR = 2;
const NLMSG_DONE = 3;
/** sizeof(struct nlmsghdr): the request's payload starts here. */
export const NLMSG_HEADER = 16;
/** The kernel's TCP_LISTEN state number (1 << it selects listeners in a states mask). */
export const TCP_LISTEN = 10;
const REPLY_TIMEOUT_MS = 1000;
const ETIMEDOUT = 110;

/** A sock_diag request of `payloadLength` bytes after the header, zeroed, header filled in. */
export function sockDiagRequest(payloadLength: number, flags: number): Buffer {
  const buf = Buffer.alloc(NLMSG_HEADER + payloadLength);
  buf.writeUInt32LE(buf.length, 0);
  buf.writeUInt16LE(SOCK_DIAG_BY_FAMILY, 4);
  buf.writeUInt16LE(NLM_F_REQUEST | flags, 6);
  buf.writeUInt32LE(1, 8); // sequence number: one request per socket
  return buf;
}

/** Each netlink attribute (type without its NLA_F_* bits, payload) in `buf`. */
export function* attributes(buf: Buffer): Generator<[number, Buffer]> {
  for (let at = 0; at + 4 <= buf.length; ) {
    const length = buf.readUInt16LE(at);
    if (length < 4 || at + length > buf.length) return;
    yield [buf.readUInt16LE(at + 2) & 0x3fff, buf.subarray(at + 4, at + length)];
    at += (length + 3) & ~3;
  }
}

export interface SockDiagExchange {
  /** Added to a reply timeout's error: what went unanswered. */
  timeoutHint: string;
  /** Added to the kernel's error: what was asked, and what the error likely means here. */
  errorHint: string;
  /** At most this many reply datagrams are read (a dump of a busy host comes in many). */
  maxDatagrams: number;
}

/**
 * Send `request` on a new NETLINK_SOCK_DIAG socket and hand each reply's payload to `visit` until
 * the kernel says done, or `visit` returns true (found). Throws a SystemError from socket() when
 * the kernel has no sock_diag, or (syscall `sock_diag`) the kernel's error or a reply timeout.
 */
export function sockDiagExchange(
  request: Buffer,
  visit: (payload: Buffer) => boolean | undefined,
  o: SockDiagExchange,
): void {
  const nl = socket(AF_NETLINK, SOCK_DGRAM, NETLINK_SOCK_DIAG);
  try {
    sendMessage(nl, request, { to: { family: 'netlink', pid: 0, groups: 0 } });
    for (let n = 0; n < o.maxDatagrams; n++) {
      if (!waitReadable(nl, REPLY_TIMEOUT_MS))
        throw systemError('sock_diag', ETIMEDOUT, {
          hint: `${o.timeoutHint} within ${REPLY_TIMEOUT_MS} ms`,
        });
      const got = receiveMessage(nl, { maxBytes: 65536 });
      if (!got) continue;
      const data = got.data;
      for (let at = 0; at + NLMSG_HEADER <= data.length; ) {
        const length = data.readUInt32LE(at);
        const type = data.readUInt16LE(at + 4);
        if (length < NLMSG_HEADER || type === NLMSG_DONE) return;
        if (type === NLMSG_ERROR) {
          const errno = -data.readInt32LE(at + NLMSG_HEADER);
          if (errno === 0) return;
          throw systemError('sock_diag', errno, { hint: o.errorHint });
        }
        if (type === SOCK_DIAG_BY_FAMILY && visit(data.subarray(at + NLMSG_HEADER, at + length))) return;
        at += (length + 3) & ~3;
      }
    }
  } finally {
    closeQuietly(nl);
  }
}
