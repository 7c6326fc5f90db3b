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
// SO_RCVBUF is capped at net.core.rmem_max for unprivileged callers. Distributions ship 208 KiB,
// below any size that helps, so where rmem_max is under 1 MiB nothing is set and autotuning stays.

import { readFileSync } from 'node:fs';
import { SO_RCVBUF, SOL_SOCKET } from '../sys/constants.js';
import { type Fd, setsockoptInt } from '../sys/socket.js';
import { fdIsMultipath } from './multipath.js';

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

/** Give an MPTCP socket (before connect, or just accepted) the fixed receive buffer. Best effort:
 * a refusal leaves the kernel's autotuning, which works, only slower with Node. */
export function fixReceiveBuffer(fd: Fd): void {
  const bytes = receiveBufferBytes();
  if (bytes === null) return;
  try {
    setsockoptInt(fd, SOL_SOCKET, SO_RCVBUF, bytes, 'SO_RCVBUF');
  } catch {
    // e.g. an LSM refusing the option: the connection works with autotuning.
  }
}

interface ListenHandle {
  onconnection: (this: ListenHandle, err: number, client?: { fd?: number }) => void;
}

/** Fix the receive buffer of every MPTCP connection a listening Node server accepts (its plain
 * TCP connections keep autotuning). Wraps the libuv handle's accept callback, so it runs before
 * Node reads the connection. */
export function fixAcceptedReceiveBuffers(server: object): void {
  const handle = (server as { _handle?: ListenHandle | null })._handle;
  if (!handle || typeof handle.onconnection !== 'function' || receiveBufferBytes() === null) return;
  const nodeOnConnection = handle.onconnection;
  handle.onconnection = function onMptcpConnection(err, client) {
    const fd = client?.fd;
    if (typeof fd === 'number' && fd >= 0 && fdIsMultipath(fd)) fixReceiveBuffer(fd);
    return nodeOnConnection.call(this, err, client);
  };
}
