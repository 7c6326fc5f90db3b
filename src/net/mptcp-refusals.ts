// Which of a port's socket options MPTCP would cost it, found by asking the kernel rather than
// read from a list: a scratch TCP socket and a scratch MPTCP socket of the port's family (never
// bound, closed at once) get the same options, and an option the MPTCP socket refuses where the
// TCP socket takes it is a refusal. Kernels keep adding MPTCP support for options (TCP_KEEPIDLE
// came in 6.10, TCP_MAXSEG in 6.17), so the answer is this machine's, not the spec's.
// `sockunit run --mptcp-upgrade` keeps a port TCP when it has a refusal.

import { IPPROTO_MPTCP, IPPROTO_TCP, SOCK_NONBLOCK, SOCK_STREAM } from '../sys/constants.js';
import { familyNumber } from '../sys/sockaddr.js';
import { closeQuietly, type Fd, setsockopt, socket } from '../sys/socket.js';
import {
  applyBindTimeOptions,
  applyConnectionOptions,
  isSystemError,
  type OptionWarning,
} from './options.js';
import type { NetworkSocketSpec } from './spec.js';

/** A socket option the service sets on its own sockets (so the unit file cannot show it), tried
 * on the scratch sockets as the service would set it. */
export interface SockoptProbe {
  /** How the unit names it, e.g. `TCP_MD5SIG` or `kTLS`. */
  name: string;
  /** The setsockopt call for a socket of `family`. */
  call(family: 'inet' | 'inet6'): { sockopt: string; level: number; option: number; value: Buffer };
}

/** An option an MPTCP socket refuses on this kernel while a TCP socket takes it. */
export interface MptcpRefusal {
  /** The unit-file key (`IPTTL=`) or the service option's name (`TCP_MD5SIG`). */
  option: string;
  /** The kernel's option, e.g. `IP_TTL`. */
  sockopt: string;
  /** What the MPTCP socket answered (`ENOPROTOOPT`, `EOPNOTSUPP`…). */
  code: string;
}

/** A bind-time option whose failure openSocket treats as fatal, caught here as a refusal. */
class FatalOption extends Error {
  readonly what: string;
  readonly code: string;

  constructor(what: string, code: string) {
    super(what);
    this.what = what;
    this.code = code;
  }
}

/** The options `spec` sets (and `probes`) that an MPTCP socket refuses while a TCP socket of the
 * same family takes them (or refuses them for another reason). Throws the socket() error when
 * no MPTCP socket can be made at all (`isNoMptcpError` tells the caller to stay on TCP). */
export function mptcpRefusals(spec: NetworkSocketSpec, probes: readonly SockoptProbe[] = []): MptcpRefusal[] {
  if (spec.family !== 'inet' && spec.family !== 'inet6')
    throw new TypeError(`MPTCP runs only over inet and inet6 addresses, not ${spec.family}`);
  const onMptcp = refusalsOn(spec, spec.family, IPPROTO_MPTCP, probes);
  const onTcp = refusalsOn(spec, spec.family, IPPROTO_TCP, probes);
  return [...onMptcp.entries()].filter(([key, r]) => onTcp.get(key)?.code !== r.code).map(([, r]) => r);
}

function refusalsOn(
  spec: NetworkSocketSpec,
  family: 'inet' | 'inet6',
  protocol: number,
  probes: readonly SockoptProbe[],
): Map<string, MptcpRefusal> {
  const fd = socket(familyNumber(family), SOCK_STREAM | SOCK_NONBLOCK, protocol);
  try {
    const probeSpec: NetworkSocketSpec = { ...spec, protocol: protocol === IPPROTO_MPTCP ? 'mptcp' : 'tcp' };
    const refused = new Map<string, MptcpRefusal>();
    const warnings: OptionWarning[] = [];
    try {
      applyBindTimeOptions(fd, probeSpec, warnings, {
        fail: (err, what) => {
          throw new FatalOption(what, isSystemError(err) ? err.code : String(err));
        },
      });
    } catch (err) {
      if (!(err instanceof FatalOption)) throw err;
      refused.set(err.what, { option: err.what, sockopt: err.what, code: err.code });
    }
    warnings.push(...applyConnectionOptions(fd, probeSpec));
    for (const w of warnings)
      refused.set(w.sockopt, { option: w.option, sockopt: w.sockopt, code: w.error.code });
    for (const probe of probes) tryProbe(fd, family, probe, refused);
    return refused;
  } finally {
    closeQuietly(fd);
  }
}

function tryProbe(
  fd: Fd,
  family: 'inet' | 'inet6',
  probe: SockoptProbe,
  refused: Map<string, MptcpRefusal>,
): void {
  const c = probe.call(family);
  try {
    setsockopt(fd, c.level, c.option, c.value, c.sockopt);
  } catch (err) {
    if (!isSystemError(err)) throw err;
    refused.set(`service:${probe.name}`, { option: probe.name, sockopt: c.sockopt, code: err.code });
  }
}
