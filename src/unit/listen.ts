// The `Listen*=` grammar of socket units (socket-units.md §3.1, §3.2): raw text in, a typed
// directive out. Existence checks (interfaces, paths, kernel support) happen when the manager
// opens the port, because a unit is often verified on one machine and run on another.

import { isIPv4, isIPv6 } from 'node:net';
import { NETLINK_FAMILIES as NETLINK_TABLE } from '../sys/constants.js';
import { ValueError } from './values.js';

export type ListenKey =
  | 'ListenStream'
  | 'ListenDatagram'
  | 'ListenSequentialPacket'
  | 'ListenFIFO'
  | 'ListenSpecial'
  | 'ListenNetlink'
  | 'ListenMessageQueue'
  | 'ListenUSBFunction';

export const LISTEN_KEYS: readonly ListenKey[] = [
  'ListenStream',
  'ListenDatagram',
  'ListenSequentialPacket',
  'ListenFIFO',
  'ListenSpecial',
  'ListenNetlink',
  'ListenMessageQueue',
  'ListenUSBFunction',
];

export type SocketListenKind = 'stream' | 'datagram' | 'seqpacket';
export type ListenKind = SocketListenKind | 'fifo' | 'special' | 'netlink' | 'mqueue' | 'usb-function';

/** An IP address and port as written; `scope` is the interface after `%` (name or index). */
export interface IpListenAddress {
  family: 'inet' | 'inet6';
  address: string;
  port: number;
  scope?: string;
}
/** A bare port: `[::]:PORT` or `0.0.0.0:PORT`, decided when the port opens (BindIPv6Only=,
 * whether the host has IPv6). */
export interface AnyListenAddress {
  family: 'any';
  port: number;
}
/** A unix socket: a file path, or `@name` for the abstract namespace (as sys/sockaddr spells it). */
export interface UnixListenAddress {
  family: 'unix';
  path: string;
}
/** `cid` undefined means any CID (VMADDR_CID_ANY). */
export interface VsockListenAddress {
  family: 'vsock';
  cid?: number;
  port: number;
}
export type ListenAddress = IpListenAddress | AnyListenAddress | UnixListenAddress | VsockListenAddress;

export interface SocketListenDirective {
  kind: SocketListenKind;
  address: ListenAddress;
}
export interface PathListenDirective {
  kind: 'fifo' | 'special' | 'usb-function';
  path: string;
}
export interface NetlinkListenDirective {
  kind: 'netlink';
  /** Name from the family table, or the number as written when it has no name. */
  family: string;
  protocol: number;
  group: number;
}
export interface MessageQueueListenDirective {
  kind: 'mqueue';
  /** `/name`, as mq_open(3) wants it. */
  name: string;
}
export type ListenDirective =
  | SocketListenDirective
  | PathListenDirective
  | NetlinkListenDirective
  | MessageQueueListenDirective;

export interface ParsedListen {
  directive: ListenDirective;
  /** Things worth telling that do not stop the port (e.g. the /var/run rewrite). */
  notices: string[];
}

/** Netlink protocol numbers by the names systemd accepts (linux/netlink.h). */
export const NETLINK_FAMILIES: Readonly<Record<string, number>> = NETLINK_TABLE;
/** The kernel refuses netlink protocols at or above MAX_LINKS. */
const NETLINK_MAX_LINKS = 32;
/** sizeof(sun_path) minus the terminating NUL (a path) or the leading NUL (abstract). */
const UNIX_PATH_MAX_BYTES = 107;
const MQUEUE_NAME_MAX = 255;
const U32_MAX = 0xffffffff;

const KIND_BY_KEY: Record<ListenKey, ListenKind> = {
  ListenStream: 'stream',
  ListenDatagram: 'datagram',
  ListenSequentialPacket: 'seqpacket',
  ListenFIFO: 'fifo',
  ListenSpecial: 'special',
  ListenNetlink: 'netlink',
  ListenMessageQueue: 'mqueue',
  ListenUSBFunction: 'usb-function',
};

/** Parses one non-empty `Listen*=` value (specifiers already expanded). Throws ValueError with
 * "what is wrong; what is expected". */
export function parseListen(key: ListenKey, value: string): ParsedListen {
  const notices: string[] = [];
  const kind = KIND_BY_KEY[key];
  switch (kind) {
    case 'stream':
    case 'datagram':
    case 'seqpacket': {
      const address = parseSocketAddress(value, notices);
      if (kind === 'seqpacket' && address.family !== 'unix') {
        throw new ValueError(
          'sequential-packet sockets exist only for unix sockets here; expected /path or @name',
        );
      }
      return { directive: { kind, address }, notices };
    }
    case 'fifo':
    case 'special':
    case 'usb-function':
      return { directive: { kind, path: parseAbsolutePath(value, notices) }, notices };
    case 'netlink':
      return { directive: parseNetlink(value), notices };
    case 'mqueue':
      return { directive: { kind, name: parseMessageQueueName(value) }, notices };
  }
}

/** The `ListenStream=`/`ListenDatagram=`/`ListenSequentialPacket=` address grammar. */
export function parseSocketAddress(value: string, notices: string[] = []): ListenAddress {
  if (value.startsWith('/')) return { family: 'unix', path: parseUnixPath(value, notices) };
  if (value.startsWith('@')) return { family: 'unix', path: parseAbstractName(value) };
  if (/^vsock(-stream|-dgram|-seqpacket)?:/.test(value)) return parseVsock(value);
  if (value.startsWith('[')) return parseBracketedIpv6(value);
  if (/^[0-9]+$/.test(value)) return { family: 'any', port: parsePort(value, value) };
  return parseIpv4OrRefuse(value);
}

function parseUnixPath(value: string, notices: string[]): string {
  const path = rewriteVarRun(value, notices);
  if (Buffer.byteLength(path) > UNIX_PATH_MAX_BYTES) {
    throw new ValueError(
      `unix socket path is ${Buffer.byteLength(path)} bytes long; expected at most ${UNIX_PATH_MAX_BYTES} bytes (sun_path)`,
    );
  }
  if (path.includes('\0'))
    throw new ValueError('unix socket path contains a NUL byte; expected a plain path');
  return path;
}

function parseAbstractName(value: string): string {
  if (value.length === 1) throw new ValueError('abstract socket name is empty; expected @name');
  if (Buffer.byteLength(value) - 1 > UNIX_PATH_MAX_BYTES) {
    throw new ValueError(
      `abstract socket name is ${Buffer.byteLength(value) - 1} bytes long; expected at most ${UNIX_PATH_MAX_BYTES} bytes`,
    );
  }
  return value;
}

function parseVsock(value: string): VsockListenAddress {
  const rest = value.slice(value.indexOf(':') + 1);
  const colon = rest.lastIndexOf(':');
  if (colon < 0)
    throw new ValueError('vsock address has no port; expected vsock:CID:PORT (CID may be empty)');
  const cidText = rest.slice(0, colon);
  const portText = rest.slice(colon + 1);
  const port = parseU32(portText, 'vsock port');
  if (cidText === '') return { family: 'vsock', port };
  return { family: 'vsock', cid: parseU32(cidText, 'vsock CID'), port };
}

function parseU32(text: string, what: string): number {
  if (!/^[0-9]+$/.test(text) || Number(text) > U32_MAX) {
    throw new ValueError(`${what} '${text}' is not a number; expected an integer from 0 to ${U32_MAX}`);
  }
  return Number(text);
}

function parseBracketedIpv6(value: string): IpListenAddress {
  const close = value.indexOf(']');
  if (close < 0) throw new ValueError('IPv6 address has no closing bracket; expected [IPV6]:PORT');
  const address = value.slice(1, close);
  if (address.includes('%')) {
    throw new ValueError(
      'the interface goes after the port, not inside the brackets; expected [IPV6]:PORT%%IFACE (written %% in a unit file)',
    );
  }
  if (!isIPv6(address)) throw new ValueError(`'${address}' is not an IPv6 address; expected [IPV6]:PORT`);
  const rest = value.slice(close + 1);
  if (!rest.startsWith(':')) throw new ValueError('IPv6 address has no port; expected [IPV6]:PORT');
  const percent = rest.indexOf('%');
  const portText = percent < 0 ? rest.slice(1) : rest.slice(1, percent);
  const port = parsePort(portText, value);
  if (percent < 0) return { family: 'inet6', address, port };
  const scope = rest.slice(percent + 1);
  checkInterfaceName(scope);
  return { family: 'inet6', address, port, scope };
}

function parseIpv4OrRefuse(value: string): IpListenAddress {
  const colon = value.lastIndexOf(':');
  if (colon < 0) {
    throw new ValueError(
      'not a port, path or address; expected PORT, A.B.C.D:PORT, [IPV6]:PORT, /path, @name or vsock:CID:PORT',
    );
  }
  const host = value.slice(0, colon);
  const portPart = value.slice(colon + 1);
  if (host.includes(':')) {
    throw new ValueError('IPv6 addresses need brackets; expected [IPV6]:PORT');
  }
  if (!isIPv4(host)) {
    throw new ValueError(
      `'${host}' is not an IPv4 address (host names are not resolved); expected A.B.C.D:PORT or [IPV6]:PORT`,
    );
  }
  if (portPart.includes('%')) {
    throw new ValueError('an interface scope is only meaningful for IPv6; expected A.B.C.D:PORT');
  }
  return { family: 'inet', address: host, port: parsePort(portPart, value) };
}

function parsePort(text: string, whole: string): number {
  if (text === '') throw new ValueError(`'${whole}' has no port; expected a port from 1 to 65535`);
  if (!/^[0-9]+$/.test(text)) throw new ValueError(`port '${text}' is not a number; expected 1 to 65535`);
  const port = Number(text);
  if (port === 0 || port > 65535) throw new ValueError(`port ${text} is out of range; expected 1 to 65535`);
  return port;
}

/** Linux interface names: 1..15 bytes, no '/', ':' or blanks, not '.' or '..'; or an index. */
function checkInterfaceName(name: string): void {
  if (/^[0-9]+$/.test(name)) {
    if (Number(name) === 0)
      throw new ValueError('interface index 0 does not exist; expected a name or index >0');
    return;
  }
  if (name === '' || name.length > 15 || /[/:\s%]/.test(name) || name === '.' || name === '..') {
    throw new ValueError(
      `'${name}' is not a valid interface name; expected at most 15 characters, no '/', ':' or blanks`,
    );
  }
}

function parseAbsolutePath(value: string, notices: string[]): string {
  if (!value.startsWith('/')) throw new ValueError('path is not absolute; expected a path starting with /');
  if (value.includes('\0')) throw new ValueError('path contains a NUL byte; expected a plain absolute path');
  return rewriteVarRun(value, notices);
}

/** /var/run is a symlink to /run on every current distribution; systemd rewrites it and says so. */
function rewriteVarRun(path: string, notices: string[]): string {
  if (!path.startsWith('/var/run/')) return path;
  const rewritten = `/run/${path.slice('/var/run/'.length)}`;
  notices.push(`legacy path ${path} rewritten to ${rewritten}; update the unit file`);
  return rewritten;
}

function parseNetlink(value: string): NetlinkListenDirective {
  const words = value.split(/\s+/).filter((w) => w !== '');
  const [familyText, groupText, ...extra] = words;
  if (familyText === undefined) throw new ValueError('netlink family is missing; expected FAMILY [GROUP]');
  if (extra.length > 0) throw new ValueError(`unexpected '${extra.join(' ')}'; expected FAMILY [GROUP]`);
  let protocol = NETLINK_FAMILIES[familyText];
  if (protocol === undefined) {
    if (!/^[0-9]+$/.test(familyText) || Number(familyText) >= NETLINK_MAX_LINKS) {
      throw new ValueError(
        `unknown netlink family '${familyText}'; expected one of ${Object.keys(NETLINK_FAMILIES).join(', ')} or a number below ${NETLINK_MAX_LINKS}`,
      );
    }
    protocol = Number(familyText);
  }
  const group = groupText === undefined ? 0 : parseU32(groupText, 'netlink group');
  return { kind: 'netlink', family: familyText, protocol, group };
}

function parseMessageQueueName(value: string): string {
  if (!value.startsWith('/') || value.length < 2 || value.indexOf('/', 1) >= 0) {
    throw new ValueError(
      'message queue name must be / followed by a name without further slashes; expected /name',
    );
  }
  if (value.length - 1 > MQUEUE_NAME_MAX) {
    throw new ValueError(`message queue name is too long; expected at most ${MQUEUE_NAME_MAX} characters`);
  }
  return value;
}

/** How systemctl list-sockets writes an address (socket-units.md §8). */
export function formatListen(directive: ListenDirective): string {
  switch (directive.kind) {
    case 'stream':
    case 'datagram':
    case 'seqpacket':
      return formatListenAddress(directive.address);
    case 'netlink':
      return `${directive.family} ${directive.group}`;
    case 'mqueue':
      return directive.name;
    default:
      return directive.path;
  }
}

export function formatListenAddress(address: ListenAddress): string {
  switch (address.family) {
    case 'unix':
      return address.path;
    case 'vsock':
      return `vsock:${address.cid ?? ''}:${address.port}`;
    case 'any':
      return String(address.port);
    case 'inet':
      return `${address.address}:${address.port}`;
    case 'inet6':
      return `[${address.address}]:${address.port}${address.scope === undefined ? '' : `%${address.scope}`}`;
  }
}

/** The unit-file key a directive came from, for show/cat-style output. */
export function listenKeyOf(kind: ListenKind): ListenKey {
  for (const [key, k] of Object.entries(KIND_BY_KEY)) if (k === kind) return key as ListenKey;
  throw new Error(`no Listen key for kind ${kind}`);
}

/** Ports whose connections can be accepted one by one (Accept=yes). */
export function isAcceptingListen(directive: ListenDirective): boolean {
  return directive.kind === 'stream' || directive.kind === 'seqpacket';
}

/** Ports that are file-system nodes (Symlinks= needs exactly one). */
export function fileSystemPath(directive: ListenDirective): string | undefined {
  if (directive.kind === 'fifo') return directive.path;
  if (
    (directive.kind === 'stream' || directive.kind === 'datagram' || directive.kind === 'seqpacket') &&
    directive.address.family === 'unix' &&
    directive.address.path.startsWith('/')
  ) {
    return directive.address.path;
  }
  return undefined;
}
