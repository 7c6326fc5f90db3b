// The receive buffer of sockunit's MPTCP connections in Node, and why it is fixed rather than left
// to the kernel (bench/README.md, "Node's MPTCP data path").
//
// MPTCP sizes a connection's receive buffer itself (mptcp_rcv_space_adjust), from how many bytes
// the reader copied per round trip. Node reads 64 KiB per wake-up and runs JavaScript between reads
// (the 'data' event), and on Linux 6.18 that reader keeps the autotuned buffer small: the window
// closes, the sender waits, and a Node sink took 4.5–5 Gbit/s over loopback (python, which sits in
// recv(), ran the kernel's MPTCP at 10–13). The same Node sink with a fixed SO_RCVBUF of 2–4 MiB
// (the kernel doubles it) took 9–14 Gbit/s; 512 KiB was slower than autotuning. Plain TCP's own
// autotuning copes with Node's reads, so plain TCP sockets are never touched — an MPTCP listener
// hands plain clients TCP sockets, and those keep the kernel's tuning.
//
// The buffer is set at a connection's first read that fills 64 KiB, not at once: set on every
// connection it cost short request/response connections CPU for nothing.
//
// SO_RCVBUF is capped at net.core.rmem_max for unprivileged callers. Distributions ship 208 KiB,
// below any size that helps, so where rmem_max is under 1 MiB nothing is set and autotuning stays.

import { readFileSync } from 'node:fs';
import { SO_RCVBUF, SOL_SOCKET } from '../sys/constants.js';
import { type Fd, setsockoptInt } from '../sys/socket.js';
import { fdRunsMptcp } from './multipath.js';

/** What is asked for: the kernel doubles it (bookkeeping), so the connection gets 8 MiB. */
const WANTED_BYTES = 4 * 1024 * 1024;
/** Below this a fixed buffer measured slower than MPTCP's own autotuning. */
const SMALLEST_USEFUL_BYTES = 1024 * 1024;

let chosen: number | null | undefined;

/** The SO_RCVBUF value to set, or null to leave the kernel's autotuning. Decided once: from
 * SOCKUNIT_MPTCP_RCVBUF (bytes; 0 = autotuning, e.g. for paths whose bandwidth-delay product is
 * larger than 8 MiB), else 4 MiB where net.core.rmem_max allows at least 1 MiB. */
export function receiveBufferBytes(): number | null {
  if (chosen !== undefined) return chosen;
  const setting = process.env.SOCKUNIT_MPTCP_RCVBUF;
  if (setting !== undefined && setting !== '') {
    const bytes = Number(setting);
    if (Number.isInteger(bytes) && bytes >= 0) {
      chosen = bytes === 0 ? null : bytes;
      return chosen;
    }
    process.emitWarning(
      `SOCKUNIT_MPTCP_RCVBUF=${setting} is not a number of bytes (0 keeps the kernel's autotuning); using the default`,
      { code: 'SOCKUNIT_MPTCP' },
    );
  }
  let rmemMax = 0;
  try {
    rmemMax = Number(readFileSync('/proc/sys/net/core/rmem_max', 'utf8').trim());
  } catch {
    // No /proc (a sandbox): leave the kernel's autotuning alone.
  }
  const bytes = Math.min(WANTED_BYTES, rmemMax);
  chosen = bytes >= SMALLEST_USEFUL_BYTES ? bytes : null;
  return chosen;
}

/** Give an MPTCP socket the fixed receive buffer. Best effort: a refusal leaves the kernel's
 * autotuning, which works, only slower with Node. */
function fixReceiveBuffer(fd: Fd): void {
  const bytes = receiveBufferBytes();
  if (bytes === null) return;
  try {
    setsockoptInt(fd, SOL_SOCKET, SO_RCVBUF, bytes, 'SO_RCVBUF');
  } catch {
    // e.g. an LSM refusing the option: the connection works with autotuning.
  }
}

/** libuv's read size. A read that fills it found more queued: the connection carries bulk data. */
const BULK_READ_BYTES = 64 * 1024;

/** A libuv stream handle as Node's net.Socket drives it: its fd and the read callback Node set. */
interface StreamHandle {
  fd?: number;
  onread: (this: StreamHandle, ...args: unknown[]) => unknown;
}

/** Give the connection on `handle` the fixed receive buffer once it shows bulk data (its first
 * read that fills libuv's 64 KiB), if it runs MPTCP. Set at once, it cost a short
 * request/response connection ~10 % more CPU (bench/README.md); so such connections never pay,
 * and a bulk transfer gets the buffer after its first 64 KiB. Node calls `onread` with an
 * ArrayBuffer of exactly the bytes read. */
export function fixReceiveBufferOnBulk(handle: StreamHandle | null | undefined): void {
  if (!handle || typeof handle.onread !== 'function' || receiveBufferBytes() === null) return;
  const nodeOnRead = handle.onread;
  handle.onread = function onReadUntilBulk(this: StreamHandle, ...args: unknown[]) {
    const data = args[0];
    if (data instanceof ArrayBuffer && data.byteLength >= BULK_READ_BYTES) {
      handle.onread = nodeOnRead;
      const fd = handle.fd;
      if (typeof fd === 'number' && fd >= 0 && fdRunsMptcp(fd)) fixReceiveBuffer(fd);
    }
    return nodeOnRead.apply(this, args);
  };
}

interface ListenHandle {
  onconnection: (this: ListenHandle, err: number, client?: StreamHandle) => unknown;
}

/** Every connection a listening Node server accepts gets fixReceiveBufferOnBulk (plain TCP ones
 * are let go at their first bulk read). Wraps the libuv handle's accept callback: Node has made
 * the net.Socket, and set its read callback, when its own callback returns. */
export function fixAcceptedReceiveBuffers(server: object): void {
  const handle = (server as { _handle?: ListenHandle | null })._handle;
  if (!handle || typeof handle.onconnection !== 'function' || receiveBufferBytes() === null) return;
  const nodeOnConnection = handle.onconnection;
  handle.onconnection = function onMptcpConnection(err, client) {
    const result = nodeOnConnection.call(this, err, client);
    fixReceiveBufferOnBulk(client);
    return result;
  };
}
