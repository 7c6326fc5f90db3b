// The MPTCP getsockopt calls that return structures (mptcp.md §3). Only MPTCP_FULL_INFO needs
// pointer work (it carries the addresses of caller-owned arrays), which is why these live in sys/.
// Decoding the bytes into typed values happens in mptcp/info.ts.

import { MPTCP_FULL_INFO, MPTCP_INFO, MPTCP_SUBFLOW_ADDRS, MPTCP_TCPINFO, SOL_MPTCP } from './constants.js';
import { addressOf } from './ffi.js';
import { type Fd, getsockopt, getsockoptInto } from './socket.js';

/** Bigger than any `struct mptcp_info` so far (96 bytes on 6.10+); the kernel copies
 * min(optlen, its size) and says how much, so a newer kernel's extra fields are just cut off. */
export const MPTCP_INFO_BUFFER_SIZE = 128;
/** sizeof(struct mptcp_subflow_data), the header of MPTCP_TCPINFO / MPTCP_SUBFLOW_ADDRS. */
export const SUBFLOW_DATA_HEADER_SIZE = 16;
/** sizeof(struct mptcp_subflow_addrs): two sockaddr_storage-sized unions. */
export const SUBFLOW_ADDRS_SIZE = 256;
/** Our element size for tcp_info arrays: the kernel's struct is 280 bytes on 6.18 and grows. */
export const TCP_INFO_BUFFER_SIZE = 512;
/** Our element size for struct mptcp_subflow_info (264 bytes on 6.18). */
export const SUBFLOW_INFO_BUFFER_SIZE = 264;
/** The fixed part of struct mptcp_full_info before the embedded mptcp_info. */
const FULL_INFO_HEADER_SIZE = 40;

/** MPTCP_INFO: the raw `struct mptcp_info`, as many bytes as the kernel copied. Throws the
 * getsockopt error (EOPNOTSUPP / ENOPROTOOPT) on a socket that is not, or no longer, MPTCP. */
export function mptcpInfoBytes(fd: Fd): Buffer {
  return getsockopt(fd, SOL_MPTCP, MPTCP_INFO, MPTCP_INFO_BUFFER_SIZE, 'MPTCP_INFO');
}

/** MPTCP_INFO with optlen 0: succeeds on a socket running MPTCP, fails on one that fell back
 * (mptcp.md §4, for kernels without TCP_IS_MPTCP). */
export function mptcpInfoProbe(fd: Fd): void {
  getsockopt(fd, SOL_MPTCP, MPTCP_INFO, 0, 'MPTCP_INFO');
}

/** A subflow array as the kernel returned it: `count` subflows that exist, `elements` of them
 * copied, each `elementSize` bytes. */
export interface SubflowArray {
  count: number;
  elementSize: number;
  elements: Buffer[];
}

function subflowArray(
  fd: Fd,
  name: number,
  optName: string,
  elementSize: number,
  capacity: number,
): SubflowArray {
  const buf = Buffer.alloc(SUBFLOW_DATA_HEADER_SIZE + elementSize * capacity);
  buf.writeUInt32LE(SUBFLOW_DATA_HEADER_SIZE, 0); // size_subflow_data
  buf.writeUInt32LE(elementSize, 12); // size_user; num_subflows and size_kernel must be 0
  const len = getsockoptInto(fd, SOL_MPTCP, name, buf, optName);
  const count = buf.readUInt32LE(4);
  const size = Math.min(buf.readUInt32LE(12), elementSize);
  const copied =
    size === 0 ? 0 : Math.min(count, capacity, Math.floor((len - SUBFLOW_DATA_HEADER_SIZE) / size));
  const elements: Buffer[] = [];
  for (let i = 0; i < copied; i++) {
    const at = SUBFLOW_DATA_HEADER_SIZE + i * size;
    elements.push(buf.subarray(at, at + size));
  }
  return { count, elementSize: size, elements };
}

/** MPTCP_SUBFLOW_ADDRS (5.16+): each subflow's `struct mptcp_subflow_addrs`. */
export function subflowAddrsBytes(fd: Fd, capacity = 8): SubflowArray {
  return subflowArray(fd, MPTCP_SUBFLOW_ADDRS, 'MPTCP_SUBFLOW_ADDRS', SUBFLOW_ADDRS_SIZE, capacity);
}

/** MPTCP_TCPINFO (5.16+): each subflow's kernel `struct tcp_info`. */
export function subflowTcpInfoBytes(fd: Fd, capacity = 8): SubflowArray {
  return subflowArray(fd, MPTCP_TCPINFO, 'MPTCP_TCPINFO', TCP_INFO_BUFFER_SIZE, capacity);
}

/** One consistent snapshot from MPTCP_FULL_INFO (6.5+). */
export interface FullInfoBytes {
  /** Subflows that exist; may exceed `subflowInfo.length` if the capacity was too small. */
  count: number;
  mptcpInfo: Buffer;
  /** `struct mptcp_subflow_info` per subflow (id + addresses). */
  subflowInfo: Buffer[];
  /** `struct tcp_info` per subflow, same order. */
  tcpInfo: Buffer[];
}

/** MPTCP_FULL_INFO. The struct carries the addresses of two arrays the kernel writes into; both
 * Buffers stay referenced by this function's frame for the whole call (ffi pitfall 13). */
export function fullInfoBytes(fd: Fd, capacity = 8): FullInfoBytes {
  const subflows = Buffer.alloc(SUBFLOW_INFO_BUFFER_SIZE * capacity);
  const tcp = Buffer.alloc(TCP_INFO_BUFFER_SIZE * capacity);
  const full = Buffer.alloc(FULL_INFO_HEADER_SIZE + MPTCP_INFO_BUFFER_SIZE);
  full.writeUInt32LE(TCP_INFO_BUFFER_SIZE, 4); // size_tcpinfo_user
  full.writeUInt32LE(SUBFLOW_INFO_BUFFER_SIZE, 12); // size_sfinfo_user
  full.writeUInt32LE(capacity, 20); // size_arrays_user
  full.writeBigUInt64LE(addressOf(subflows), 24);
  full.writeBigUInt64LE(addressOf(tcp), 32);
  const len = getsockoptInto(fd, SOL_MPTCP, MPTCP_FULL_INFO, full, 'MPTCP_FULL_INFO');
  // The kernel caps size_*_user to its own struct sizes, writes them back, and uses the capped
  // sizes as the array stride.
  const tcpSize = Math.min(full.readUInt32LE(4), TCP_INFO_BUFFER_SIZE);
  const sfSize = Math.min(full.readUInt32LE(12), SUBFLOW_INFO_BUFFER_SIZE);
  const count = full.readUInt32LE(16);
  const copied = Math.min(count, capacity);
  const subflowInfo: Buffer[] = [];
  const tcpInfo: Buffer[] = [];
  for (let i = 0; i < copied; i++) {
    const sfAt = i * sfSize;
    const tcpAt = i * tcpSize;
    subflowInfo.push(Buffer.from(subflows.subarray(sfAt, sfAt + sfSize)));
    tcpInfo.push(Buffer.from(tcp.subarray(tcpAt, tcpAt + tcpSize)));
  }
  const mptcpInfo = Buffer.from(full.subarray(FULL_INFO_HEADER_SIZE, Math.max(FULL_INFO_HEADER_SIZE, len)));
  return { count, mptcpInfo, subflowInfo, tcpInfo };
}
