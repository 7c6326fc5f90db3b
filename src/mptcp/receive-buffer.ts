// The receive buffer of sockunit's MPTCP connections in Node: the kernel's autotuning by default,
// a fixed SO_RCVBUF on request (bench/README.md, "Node's MPTCP data path").
//
// MPTCP sizes a connection's receive buffer itself (mptcp_rcv_space_adjust), from how many bytes
// the reader copied per round trip, and Node's reader (64 KiB per wake-up, JavaScript between
// reads) keeps it smaller than python's. A fixed SO_RCVBUF of 2–4 MiB doubled a Node sink's
// loopback throughput in scratch runs and helped by 0.05–0.15 of the bench score on a loaded
// machine — but in the two quiet 7-repetition runs of bench/mptcp.ts (2026-12-08 04:49–04:56 UTC,
// load 1–2) it was slower and erratic (3–14 Gbit/s between repetitions; score 0.60 and 0.70)
// where autotuning was steady (7–11 Gbit/s; score 0.97 and 0.87). So autotuning is the default,
// and SOCKUNIT_MPTCP_RCVBUF=BYTES fixes the buffer for those whose measurements favour it. Plain
// TCP sockets are never touched — an MPTCP listener hands plain clients TCP sockets.
//
// A fixed buffer is set at a connection's first read that fills 64 KiB, not at once: set on every
// connection it cost short request/response connections CPU for nothing.
//
// SO_RCVBUF is capped at net.core.rmem_max (distributions ship 208 KiB, below any size that
// helped): raise it with sysctl before asking for a fixed buffer.

import { SO_RCVBUF, SOL_SOCKET } from '../sys/constants.js';
import { type Fd, setsockoptInt } from '../sys/socket.js';
import { fdRunsMptcp } from './multipath.js';

let chosen: number | null | undefined;

/** The SO_RCVBUF value to set, or null to leave the kernel's autotuning (the default). Decided
 * once, from SOCKUNIT_MPTCP_RCVBUF (bytes; 0 or unset = autotuning); the kernel caps it at
 * net.core.rmem_max. */
export function receiveBufferBytes(): number | null {
  if (chosen !== undefined) return chosen;
  chosen = null;
  const setting = process.env.SOCKUNIT_MPTCP_RCVBUF;
  if (setting === undefined || setting === '') return chosen;
  const bytes = Number(setting);
  if (Number.isInteger(bytes) && bytes >= 0) chosen = bytes === 0 ? null : bytes;
  else
    process.emitWarning(
      `SOCKUNIT_MPTCP_RCVBUF=${setting} is not a number of bytes (0 keeps the kernel's autotuning); keeping the kernel's autotuning`,
      { code: 'SOCKUNIT_MPTCP' },
    );
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
