// From a typed [Socket] section to the socket specs net/ opens: one spec per Listen*= line, in
// the order written (the order the service receives them), with systemd's rules for which
// protocol applies to which port (socket-units.md §3.3) and where a bare port binds (§3.2).

import { existsSync } from 'node:fs';
import type { SocketOptions, SocketProtocol, SocketSpec } from '../../net/spec.js';
import { interfaceIndex, type SockAddr } from '../../sys/sockaddr.js';
import type { ListenDirective, SocketListenDirective } from '../../unit/listen.js';
import type { SocketSection } from '../../unit/socket-config.js';
import { requireGroup, requireUser } from '../exec/users.js';

/** A bare port binds `[::]` where the host has IPv6, else `0.0.0.0` (systemd checks the same file). */
export function hostHasIPv6(): boolean {
  return existsSync('/proc/net/if_inet6');
}

/** SocketProtocol= applies by socket type; on other types systemd ignores it (§3.3). */
export function protocolFor(
  kind: SocketListenDirective['kind'],
  section: SocketSection,
): SocketProtocol | undefined {
  const p = section.socketProtocol;
  if (kind === 'stream' && (p === 'mptcp' || p === 'sctp')) return p;
  if (kind === 'datagram' && p === 'udplite') return p;
  if (kind === 'seqpacket' && p === 'sctp') return p;
  return undefined;
}

export function socketOptionsFor(section: SocketSection): SocketOptions {
  const o: SocketOptions = {
    reuseAddr: true,
    reusePort: section.reusePort,
    freeBind: section.freeBind,
    transparent: section.transparent,
    bindIPv6Only: section.bindIPv6Only,
    backlog: section.backlog,
    keepAlive: section.keepAlive,
    noDelay: section.noDelay,
    broadcast: section.broadcast,
    passCredentials: section.passCredentials,
    passSecurity: section.passSecurity,
    passPacketInfo: section.passPacketInfo,
    passPIDFD: section.passPIDFD,
    acceptFileDescriptors: section.acceptFileDescriptors,
    timestamping: section.timestamping,
    socketMode: section.socketMode,
    directoryMode: section.directoryMode,
  };
  const seconds = (usec: number | undefined) =>
    usec === undefined ? undefined : Math.floor(usec / 1_000_000);
  const set = <K extends keyof SocketOptions>(key: K, value: SocketOptions[K] | undefined) => {
    if (value !== undefined) o[key] = value;
  };
  set('bindToDevice', section.bindToDevice);
  set('keepAliveTimeSec', seconds(section.keepAliveTimeUsec));
  set('keepAliveIntervalSec', seconds(section.keepAliveIntervalUsec));
  set('keepAliveProbes', section.keepAliveProbes);
  set('deferAcceptSec', seconds(section.deferAcceptUsec));
  set('priority', section.priority);
  set('mark', section.mark);
  set('ipTOS', section.ipTos);
  set('ipTTL', section.ipTtl);
  set('receiveBuffer', section.receiveBuffer);
  set('sendBuffer', section.sendBuffer);
  set('tcpCongestion', section.tcpCongestion);
  set('pipeSize', section.pipeSize);
  if (section.socketUser !== undefined) {
    const user = requireUser(section.socketUser, 'SocketUser=');
    o.socketUser = user.uid;
    o.socketGroup = user.gid;
  }
  if (section.socketGroup !== undefined) o.socketGroup = requireGroup(section.socketGroup, 'SocketGroup=');
  return o;
}

function addressFor(directive: SocketListenDirective, ipv6: boolean): SockAddr {
  const a = directive.address;
  switch (a.family) {
    case 'any':
      return ipv6
        ? { family: 'inet6', address: '::', port: a.port }
        : { family: 'inet', address: '0.0.0.0', port: a.port };
    case 'inet':
      return { family: 'inet', address: a.address, port: a.port };
    case 'inet6': {
      if (a.scope === undefined) return { family: 'inet6', address: a.address, port: a.port };
      const scopeId = interfaceIndex(a.scope);
      if (scopeId === undefined)
        throw new Error(
          `interface '${a.scope}' in [${a.address}]:${a.port}%${a.scope} does not exist on this machine`,
        );
      return { family: 'inet6', address: a.address, port: a.port, scopeId };
    }
    case 'unix':
      return { family: 'unix', path: a.path };
    case 'vsock':
      return { family: 'vsock', cid: a.cid ?? 0xffffffff, port: a.port };
  }
}

export function specFor(
  directive: ListenDirective,
  section: SocketSection,
  options: SocketOptions,
): SocketSpec {
  switch (directive.kind) {
    case 'stream':
    case 'datagram':
    case 'seqpacket': {
      const address = addressFor(directive, hostHasIPv6());
      const spec: SocketSpec = {
        kind: 'socket',
        family: address.family as 'inet' | 'inet6' | 'unix' | 'vsock',
        type: directive.kind,
        address,
        options,
      };
      const protocol = protocolFor(directive.kind, section);
      if (protocol !== undefined) spec.protocol = protocol;
      return spec;
    }
    case 'fifo':
      return { kind: 'fifo', path: directive.path, options };
    case 'special':
      return { kind: 'special', path: directive.path, writable: section.writable, options };
    case 'netlink':
      return { kind: 'netlink', family: directive.protocol, group: directive.group, options };
    case 'mqueue': {
      const spec: SocketSpec = { kind: 'mqueue', name: directive.name, options };
      if (section.messageQueueMaxMessages !== undefined) spec.maxMessages = section.messageQueueMaxMessages;
      if (section.messageQueueMessageSize !== undefined) spec.messageSize = section.messageQueueMessageSize;
      return spec;
    }
    case 'usb-function':
      throw new Error(
        `ListenUSBFunction=${directive.path}: USB FunctionFS endpoints are not supported by sockunit`,
      );
  }
}

/** All specs of a socket unit, in Listen*= order. Throws on the first port that cannot be
 * described (unknown interface, user, group, unsupported kind). */
export function socketSpecsFor(section: SocketSection): SocketSpec[] {
  const options = socketOptionsFor(section);
  return section.listen.map((d) => specFor(d, section, options));
}
