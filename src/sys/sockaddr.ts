// sockaddr encode/decode. Addresses travel as typed values above sys/; only these functions know
// the byte layouts (x86_64/arm64 Linux; family in host order, ports in network order).

import { AF_INET, AF_INET6, AF_NETLINK, AF_UNIX, AF_VSOCK } from './constants.js';
import { libcCalls } from './ffi.js';

export interface InetAddr {
  family: 'inet';
  address: string;
  port: number;
}
export interface Inet6Addr {
  family: 'inet6';
  address: string;
  port: number;
  flowinfo?: number;
  /** Interface index for link-local addresses (0 = none). */
  scopeId?: number;
}
/** A unix socket address. `path` is a file path, `@name` for the abstract namespace, or `''` for
 * an unnamed socket (a socketpair end, or a client that never bound). */
export interface UnixAddr {
  family: 'unix';
  path: string;
}
export interface VsockAddr {
  family: 'vsock';
  cid: number;
  port: number;
}
export interface NetlinkAddr {
  family: 'netlink';
  pid: number;
  groups: number;
}
export type SockAddr = InetAddr | Inet6Addr | UnixAddr | VsockAddr | NetlinkAddr;
export type AddressFamily = SockAddr['family'];

/** sizeof(struct sockaddr_storage): large enough for any address the kernel returns. */
export const SOCKADDR_STORAGE_SIZE = 128;
/** sizeof(sun_path): a unix path must fit with its terminating NUL. */
export const UNIX_PATH_MAX = 108;

const familyNumbers: Record<AddressFamily, number> = {
  inet: AF_INET,
  inet6: AF_INET6,
  unix: AF_UNIX,
  vsock: AF_VSOCK,
  netlink: AF_NETLINK,
};

export function familyNumber(family: AddressFamily): number {
  return familyNumbers[family];
}

export function familyName(af: number): AddressFamily | undefined {
  for (const [name, value] of Object.entries(familyNumbers)) if (value === af) return name as AddressFamily;
  return undefined;
}

/** Parse an IPv4 or IPv6 literal to its network-order bytes, or undefined if it is not one. */
export function parseIp(address: string, family: 'inet' | 'inet6'): Buffer | undefined {
  const out = Buffer.alloc(family === 'inet' ? 4 : 16);
  return libcCalls.inet_pton(familyNumbers[family], address, out) === 1 ? out : undefined;
}

/** Format network-order address bytes the way inet_ntop does (RFC 5952 for IPv6). */
export function formatIp(bytes: Buffer, family: 'inet' | 'inet6'): string {
  const out = Buffer.alloc(64);
  libcCalls.inet_ntop(familyNumbers[family], bytes, out, out.length);
  return out.toString('latin1', 0, out.indexOf(0));
}

/** The family of an IP literal, or undefined when it is none. */

/** The family of an IP literal, or undefined when it is none. */
export function ipFamily(address: string): 'inet' | 'inet6' | undefined {
  if (parseIp(address, 'inet')) return 'inet';
  if (parseIp(address, 'inet6')) return 'inet6';
  return undefined;
}

function invalid(message: string): TypeError & { code: string } {
  const err = new TypeError(message) as TypeError & { code: string };
  err.code = 'ERR_INVALID_ADDRESS';
  return err;
}

function checkPort(port: number, max = 0xffff): void {
  if (!Number.isInteger(port) || port < 0 || port > max)
    throw invalid(`port ${port} is out of range 0..${max}`);
}

/** Encode a typed address as the bytes bind()/connect() take. Throws a TypeError with code
 * `ERR_INVALID_ADDRESS` for an address that cannot be encoded. */
export function encodeSockAddr(addr: SockAddr): Buffer {
  switch (addr.family) {
    case 'inet': {
      checkPort(addr.port);
      const ip = parseIp(addr.address, 'inet');
      if (!ip) throw invalid(`'${addr.address}' is not an IPv4 address`);
      const buf = Buffer.alloc(16);
      buf.writeUInt16LE(AF_INET, 0);
      buf.writeUInt16BE(addr.port, 2);
      ip.copy(buf, 4);
      return buf;
    }
    case 'inet6': {
      checkPort(addr.port);
      const ip = parseIp(addr.address, 'inet6');
      if (!ip) throw invalid(`'${addr.address}' is not an IPv6 address`);
      const buf = Buffer.alloc(28);
      buf.writeUInt16LE(AF_INET6, 0);
      buf.writeUInt16BE(addr.port, 2);
      buf.writeUInt32BE(addr.flowinfo ?? 0, 4);
      ip.copy(buf, 8);
      buf.writeUInt32LE(addr.scopeId ?? 0, 24);
      return buf;
    }
    case 'unix': {
      const abstract = addr.path.startsWith('@');
      const name = Buffer.from(abstract ? addr.path.slice(1) : addr.path, 'utf8');
      // sun_path is 108 bytes: a path needs room for its NUL, an abstract name for its leading NUL.
      const room = UNIX_PATH_MAX - 1;
      if (name.length > room)
        throw invalid(
          `unix socket ${abstract ? 'name' : 'path'} '${addr.path}' is ${name.length} bytes; at most ${room} fit`,
        );
      if (!abstract && name.includes(0)) throw invalid(`unix socket path '${addr.path}' contains a NUL byte`);
      const buf = Buffer.alloc(2 + (abstract ? 1 + name.length : name.length + 1));
      buf.writeUInt16LE(AF_UNIX, 0);
      name.copy(buf, abstract ? 3 : 2);
      // Unnamed ('') encodes as family only: length 2 + 1, i.e. autobind when passed to bind().
      return addr.path === '' ? buf.subarray(0, 2) : buf;
    }
    case 'vsock': {
      checkPort(addr.port, 0xffffffff);
      checkPort(addr.cid, 0xffffffff);
      const buf = Buffer.alloc(16);
      buf.writeUInt16LE(AF_VSOCK, 0);
      buf.writeUInt32LE(addr.port, 4);
      buf.writeUInt32LE(addr.cid, 8);
      return buf;
    }
    case 'netlink': {
      const buf = Buffer.alloc(12);
      buf.writeUInt16LE(AF_NETLINK, 0);
      buf.writeUInt32LE(addr.pid >>> 0, 4);
      buf.writeUInt32LE(addr.groups >>> 0, 8);
      return buf;
    }
  }
}

/** Decode the first `length` bytes of a sockaddr the kernel wrote. */
export function decodeSockAddr(buf: Buffer, length = buf.length): SockAddr {
  if (length < 2) return { family: 'unix', path: '' }; // unnamed unix sockets report only a family, or nothing
  const af = buf.readUInt16LE(0);
  switch (af) {
    case AF_INET:
      return { family: 'inet', address: formatIp(buf.subarray(4, 8), 'inet'), port: buf.readUInt16BE(2) };
    case AF_INET6: {
      const addr: Inet6Addr = {
        family: 'inet6',
        address: formatIp(buf.subarray(8, 24), 'inet6'),
        port: buf.readUInt16BE(2),
      };
      const flowinfo = buf.readUInt32BE(4);
      const scopeId = buf.readUInt32LE(24);
      if (flowinfo) addr.flowinfo = flowinfo;
      if (scopeId) addr.scopeId = scopeId;
      return addr;
    }
    case AF_UNIX: {
      if (length <= 2) return { family: 'unix', path: '' };
      if (buf[2] === 0) return { family: 'unix', path: `@${buf.toString('utf8', 3, length)}` };
      const end = buf.indexOf(0, 2);
      return { family: 'unix', path: buf.toString('utf8', 2, end === -1 || end > length ? length : end) };
    }
    case AF_VSOCK:
      return { family: 'vsock', port: buf.readUInt32LE(4), cid: buf.readUInt32LE(8) };
    case AF_NETLINK:
      return { family: 'netlink', pid: buf.readUInt32LE(4), groups: buf.readUInt32LE(8) };
    default:
      throw invalid(`unsupported address family ${af}`);
  }
}

/** The address written the way systemd and users write it: `1.2.3.4:80`, `[::1]:80`,
 * `[fe80::1]:80%eth0` style scope as `%index`, `/path`, `@name`, `vsock:CID:PORT`. */
export function formatSockAddr(addr: SockAddr): string {
  switch (addr.family) {
    case 'inet':
      return `${addr.address}:${addr.port}`;
    case 'inet6':
      return `[${addr.address}]:${addr.port}${addr.scopeId ? `%${interfaceName(addr.scopeId) ?? addr.scopeId}` : ''}`;
    case 'unix':
      return addr.path === '' ? '(unnamed)' : addr.path;
    case 'vsock':
      return `vsock:${addr.cid}:${addr.port}`;
    case 'netlink':
      return `netlink:${addr.pid}:${addr.groups}`;
  }
}

/** Interface index of a network interface name, or undefined when there is none. */
export function interfaceIndex(name: string): number | undefined {
  if (/^\d+$/.test(name)) return Number(name);
  const index = libcCalls.if_nametoindex(name);
  return index === 0 ? undefined : index;
}

export function interfaceName(index: number): string | undefined {
  const buf = Buffer.alloc(16);
  const ok = libcCalls.if_indextoname(index, buf);
  if (!ok) return undefined;
  return buf.toString('latin1', 0, buf.indexOf(0));
}
