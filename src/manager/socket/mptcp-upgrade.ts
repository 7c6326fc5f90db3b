// `sockunit run --mptcp-upgrade`: a TCP port of a unit opens as MPTCP instead, unless that would
// cost it something. Which ports qualify (IP stream ports without SocketProtocol=), what the
// kernel says about the port's options on an MPTCP socket (net/mptcp-refusals.ts), and what the
// service's own options (X-Sockunit-ServiceSocketOptions=) would run into. MPTCP listeners serve
// plain TCP clients as before, so the upgrade is safe for clients; only options can break.

import { isNoMptcpError } from '../../mptcp/probe.js';
import { type MptcpRefusal, mptcpRefusals, type SockoptProbe } from '../../net/mptcp-refusals.js';
import type { NetworkSocketSpec, SocketSpec } from '../../net/spec.js';
import {
  IP_MINTTL,
  IP_TTL,
  IPPROTO_IPV6,
  IPV6_MINHOPCOUNT,
  IPV6_UNICAST_HOPS,
  SO_ZEROCOPY,
  SOL_IP,
  SOL_SOCKET,
  SOL_TCP,
  TCP_MD5SIG,
  TCP_QUICKACK,
  TCP_ULP,
  TCP_USER_TIMEOUT,
  TCP_WINDOW_CLAMP,
} from '../../sys/constants.js';
import { encodeSockAddr, SOCKADDR_STORAGE_SIZE } from '../../sys/sockaddr.js';
import type { ServiceSocketOption } from '../../unit/socket-config.js';

/** What became of a port `--mptcp-upgrade` covered. */
export type PortUpgrade = { to: 'mptcp' } | { to: 'tcp'; because: string };

/** A stream port on an IP address that the unit leaves to the kernel's default protocol (TCP):
 * what the upgrade may turn into MPTCP. SocketProtocol=mptcp is MPTCP already, sctp is not TCP. */
export function isUpgradable(spec: SocketSpec): spec is NetworkSocketSpec {
  return (
    spec.kind === 'socket' &&
    spec.type === 'stream' &&
    (spec.family === 'inet' || spec.family === 'inet6') &&
    (spec.protocol === undefined || spec.protocol === 'tcp')
  );
}

function int(value: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeInt32LE(value);
  return b;
}

/** struct tcp_md5sig (216 bytes): the peer's sockaddr_storage, flags, prefixlen, keylen, ifindex,
 * an 80-byte key. A one-byte key for the loopback peer: the scratch socket is closed at once. */
function md5sig(family: 'inet' | 'inet6'): Buffer {
  const b = Buffer.alloc(SOCKADDR_STORAGE_SIZE + 8 + 80);
  const peer =
    family === 'inet6'
      ? encodeSockAddr({ family: 'inet6', address: '::1', port: 0 })
      : encodeSockAddr({ family: 'inet', address: '127.0.0.1', port: 0 });
  peer.copy(b, 0);
  b.writeUInt16LE(1, SOCKADDR_STORAGE_SIZE + 2);
  b.write('k', SOCKADDR_STORAGE_SIZE + 8);
  return b;
}

/** How each option X-Sockunit-ServiceSocketOptions= names is set, as a service would set it. */
const serviceProbes: Record<ServiceSocketOption, SockoptProbe['call']> = {
  TCP_MD5SIG: (f) => ({ sockopt: 'TCP_MD5SIG', level: SOL_TCP, option: TCP_MD5SIG, value: md5sig(f) }),
  // kTLS is attached with TCP_ULP "tls" on a connected socket; an MPTCP socket refuses the ULP
  // whatever its state (a fresh TCP socket answers ENOTCONN, or ENOENT without the tls module).
  kTLS: () => ({ sockopt: 'TCP_ULP "tls"', level: SOL_TCP, option: TCP_ULP, value: Buffer.from('tls') }),
  TCP_USER_TIMEOUT: () => ({
    sockopt: 'TCP_USER_TIMEOUT',
    level: SOL_TCP,
    option: TCP_USER_TIMEOUT,
    value: int(30_000),
  }),
  TCP_QUICKACK: () => ({ sockopt: 'TCP_QUICKACK', level: SOL_TCP, option: TCP_QUICKACK, value: int(1) }),
  TCP_WINDOW_CLAMP: () => ({
    sockopt: 'TCP_WINDOW_CLAMP',
    level: SOL_TCP,
    option: TCP_WINDOW_CLAMP,
    value: int(65_536),
  }),
  IP_TTL: (f) =>
    f === 'inet6'
      ? { sockopt: 'IPV6_UNICAST_HOPS', level: IPPROTO_IPV6, option: IPV6_UNICAST_HOPS, value: int(64) }
      : { sockopt: 'IP_TTL', level: SOL_IP, option: IP_TTL, value: int(64) },
  IP_MINTTL: (f) =>
    f === 'inet6'
      ? { sockopt: 'IPV6_MINHOPCOUNT', level: IPPROTO_IPV6, option: IPV6_MINHOPCOUNT, value: int(255) }
      : { sockopt: 'IP_MINTTL', level: SOL_IP, option: IP_MINTTL, value: int(255) },
  SO_ZEROCOPY: () => ({ sockopt: 'SO_ZEROCOPY', level: SOL_SOCKET, option: SO_ZEROCOPY, value: int(1) }),
};

/** The decision for one upgradable port: open `spec` as MPTCP, or keep it TCP and say why. */
export type UpgradeDecision = { mptcp: NetworkSocketSpec } | { tcp: string };

/** Ask the kernel whether `spec` can be MPTCP without losing an option of the unit or of its
 * service. A kernel or namespace without MPTCP keeps the port TCP too. */
export function decideUpgrade(
  spec: NetworkSocketSpec,
  serviceOptions: readonly ServiceSocketOption[],
): UpgradeDecision {
  const probes = serviceOptions.map((name) => ({ name, call: serviceProbes[name] }));
  let refusals: MptcpRefusal[];
  try {
    refusals = mptcpRefusals(spec, probes);
  } catch (err) {
    if (!isNoMptcpError(err)) throw err;
    return { tcp: `MPTCP is not available (${(err as Error).message})` };
  }
  if (refusals.length === 0) return { mptcp: { ...spec, protocol: 'mptcp' } };
  const named = refusals.map((r) => {
    // Node and libuv call errno 95 ENOTSUP; the kernel's socket code says EOPNOTSUPP.
    const code = r.code === 'ENOTSUP' ? 'EOPNOTSUPP' : r.code;
    return r.option === r.sockopt ? `${r.option} (${code})` : `${r.option} (${r.sockopt}: ${code})`;
  });
  return { tcp: `MPTCP sockets refuse ${named.join(', ')} on this kernel` };
}
