// The listen backlog of a socket, read back from the kernel through NETLINK_SOCK_DIAG (what
// `ss -l` shows as Send-Q). Node calls listen() again on every fd it adopts, so a service that
// wants to keep the backlog its manager chose (systemd's Backlog=) has to learn it first; no
// getsockopt reports it.

import {
  AF_INET,
  AF_INET6,
  AF_NETLINK,
  AF_UNIX,
  IPPROTO_TCP,
  NETLINK_SOCK_DIAG,
  SOCK_DGRAM,
} from './constants.js';
import { fstat } from './fs.js';
import { receiveMessage, sendMessage } from './msg.js';
import { waitReadable } from './poll.js';
import { closeQuietly, type Fd, socket, socketKind } from './socket.js';

const SOCK_DIAG_BY_FAMILY = 20;
const NLM_F_REQUEST = 0x1;
const NLM_F_DUMP = 0x300;
const NLMSG_ERROR = 2;
const NLMSG_DONE = 3;
const NLMSG_HEADER = 16;
const TCP_LISTEN = 10;
const UDIAG_SHOW_RQLEN = 0x10;
const UNIX_DIAG_RQLEN = 4;
// Replies to one request; a dump of every listener in the namespace comes in a few datagrams.
const MAX_REPLIES = 1000;
const REPLY_TIMEOUT_MS = 1000;

function header(payloadLength: number, flags: number): Buffer {
  const buf = Buffer.alloc(NLMSG_HEADER + payloadLength);
  buf.writeUInt32LE(buf.length, 0);
  buf.writeUInt16LE(SOCK_DIAG_BY_FAMILY, 4);
  buf.writeUInt16LE(NLM_F_REQUEST | flags, 6);
  buf.writeUInt32LE(1, 8); // sequence number: one request per socket
  return buf;
}

// struct inet_diag_req_v2: family, protocol, ext, pad, states, then a zero inet_diag_sockid:
// a dump of every TCP listener of that family. MPTCP listeners are in it too, as their first
// subflow's TCP listener, which shares the MPTCP socket's inode.
function inetListenersRequest(family: number): Buffer {
  const req = header(56, NLM_F_DUMP);
  req.writeUInt8(family, 16);
  req.writeUInt8(IPPROTO_TCP, 17);
  req.writeUInt32LE(1 << TCP_LISTEN, 20);
  return req;
}

// struct unix_diag_req: family, protocol, pad, states, ino, show, cookie (all ones: no check).
function unixRequest(inode: number): Buffer {
  const req = header(24, 0);
  req.writeUInt8(AF_UNIX, 16);
  req.writeUInt32LE(1 << TCP_LISTEN, 20);
  req.writeUInt32LE(inode, 24);
  req.writeUInt32LE(UDIAG_SHOW_RQLEN, 28);
  req.writeUInt32LE(0xffffffff, 32);
  req.writeUInt32LE(0xffffffff, 36);
  return req;
}

type ReplyParser = (payload: Buffer) => number | undefined;

// struct inet_diag_msg: idiag_wqueue @60 is sk_max_ack_backlog for a listener, idiag_inode @68.
function inetParser(inode: number): ReplyParser {
  return (msg) => (msg.length >= 72 && msg.readUInt32LE(68) === inode ? msg.readUInt32LE(60) : undefined);
}

// struct unix_diag_msg (16 bytes), then attributes; UNIX_DIAG_RQLEN holds {rqueue, wqueue} and
// wqueue is sk_max_ack_backlog for a listener.
function unixParser(inode: number): ReplyParser {
  return (msg) => {
    if (msg.length < 16 || msg.readUInt32LE(4) !== inode) return undefined;
    for (let at = 16; at + 4 <= msg.length; ) {
      const length = msg.readUInt16LE(at);
      if (length < 4) break;
      if (msg.readUInt16LE(at + 2) === UNIX_DIAG_RQLEN && length >= 12) return msg.readUInt32LE(at + 8);
      at += (length + 3) & ~3;
    }
    return undefined;
  };
}

function ask(request: Buffer, parse: ReplyParser): number | undefined {
  const nl = socket(AF_NETLINK, SOCK_DGRAM, NETLINK_SOCK_DIAG);
  try {
    sendMessage(nl, request, { to: { family: 'netlink', pid: 0, groups: 0 } });
    for (let reply = 0; reply < MAX_REPLIES; reply++) {
      if (!waitReadable(nl, REPLY_TIMEOUT_MS)) return undefined;
      const got = receiveMessage(nl, { maxBytes: 65536 });
      if (!got) return undefined;
      const data = got.data;
      for (let at = 0; at + NLMSG_HEADER <= data.length; ) {
        const length = data.readUInt32LE(at);
        const type = data.readUInt16LE(at + 4);
        if (length < NLMSG_HEADER) return undefined;
        if (type === NLMSG_DONE || type === NLMSG_ERROR) return undefined;
        if (type === SOCK_DIAG_BY_FAMILY) {
          const found = parse(data.subarray(at + NLMSG_HEADER, at + length));
          if (found !== undefined) return found;
        }
        at += (length + 3) & ~3;
      }
    }
    return undefined;
  } finally {
    closeQuietly(nl);
  }
}

/**
 * The backlog a listening TCP, MPTCP or unix stream socket was given (after the kernel's cap at
 * net.core.somaxconn). undefined when it cannot be read: not a listener, another kind of
 * socket, or a kernel without the inet_diag/unix_diag modules.
 */
export function listenBacklog(fd: Fd): number | undefined {
  try {
    const kind = socketKind(fd);
    if (!kind.listening) return undefined;
    const inode = Number(fstat(fd).ino & 0xffffffffn);
    if (kind.domain === AF_INET || kind.domain === AF_INET6)
      return ask(inetListenersRequest(kind.domain), inetParser(inode));
    if (kind.domain === AF_UNIX) return ask(unixRequest(inode), unixParser(inode));
    return undefined;
  } catch {
    // No NETLINK_SOCK_DIAG (EPROTONOSUPPORT), or refused by a security module: unknown.
    return undefined;
  }
}
