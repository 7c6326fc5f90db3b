// The listen backlog of a socket, read back from the kernel through NETLINK_SOCK_DIAG (what
// `ss -l` shows as Send-Q). Node calls listen() again on every fd it adopts, so a service that
// wants to keep the backlog its manager chose (systemd's Backlog=) has to learn it first; no
// getsockopt reports it.

import { AF_INET, AF_INET6, AF_UNIX, IPPROTO_TCP } from './constants.js';
import { fstat } from './fs.js';
import { attributes, NLM_F_DUMP, sockDiagExchange, sockDiagRequest, TCP_LISTEN } from './netlink.js';
import { type Fd, socketKind } from './socket.js';

const UDIAG_SHOW_RQLEN = 0x10;
const UNIX_DIAG_RQLEN = 4;
// Replies to one request; a dump of every listener in the namespace comes in a few datagrams.
const MAX_REPLIES = 1000;

// struct inet_diag_req_v2: family, protocol, ext, pad, states, then a zero inet_diag_sockid:
// a dump of every TCP listener of that family. MPTCP listeners are in it too, as their first
// subflow's TCP listener, which shares the MPTCP socket's inode.
function inetListenersRequest(family: number): Buffer {
  const req = sockDiagRequest(56, NLM_F_DUMP);
  req.writeUInt8(family, 16);
  req.writeUInt8(IPPROTO_TCP, 17);
  req.writeUInt32LE(1 << TCP_LISTEN, 20);
  return req;
}

// struct unix_diag_req: family, protocol, pad, states, ino, show, cookie (all ones: no check).
function unixRequest(inode: number): Buffer {
  const req = sockDiagRequest(24, 0);
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
    for (const [type, value] of attributes(msg.subarray(16)))
      if (type === UNIX_DIAG_RQLEN && value.length >= 8) return value.readUInt32LE(4);
    return undefined;
  };
}

/** The first reply `parse` finds a value in; throws what sockDiagExchange throws. */
function ask(request: Buffer, parse: ReplyParser): number | undefined {
  let found: number | undefined;
  sockDiagExchange(
    request,
    (payload) => {
      found = parse(payload);
      return found !== undefined;
    },
    {
      timeoutHint: 'no reply to a listener backlog query',
      errorHint: 'reading a listener backlog',
      maxDatagrams: MAX_REPLIES,
    },
  );
  return found;
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
    // No NETLINK_SOCK_DIAG (EPROTONOSUPPORT), no inet_diag/unix_diag module (the kernel's ENOENT),
    // no reply in time, or refused by a security module: unknown.
    return undefined;
  }
}
