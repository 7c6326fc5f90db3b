// Why MPTCP is (or is not) multi-path on this machine, in plain words with the command that fixes
// each problem: the facts behind `sockunit doctor`. Everything here is per network namespace (the
// sysctls, the path manager's limits and endpoints, which protocols socket() accepts), so the
// report names the namespace it looked at. Facts come from /proc/sys, from `ip mptcp` (iproute2)
// and from socket() probes; nothing is changed.

import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync, readlinkSync, statSync } from 'node:fs';
import { networkInterfaces, release } from 'node:os';
import { join } from 'node:path';
import {
  AF_INET,
  AF_INET6,
  IPPROTO_MPTCP,
  IPPROTO_SCTP,
  IPPROTO_UDPLITE,
  SOCK_DGRAM,
  SOCK_STREAM,
} from '../sys/constants.js';
import { closeQuietly, socket } from '../sys/socket.js';
import { noMptcpReason } from './probe.js';

/** `problem`: something is broken (MPTCP cannot work here, or a manager's MPTCP listener runs as
 * plain TCP): the only status that makes `doctor` exit 1. `warning`: it works but connections
 * stay single-path (or partly) although they could use more; `note`: advice, nothing wrong;
 * `skipped`: could not be checked (the message says why). */
export type CheckStatus = 'ok' | 'note' | 'warning' | 'problem' | 'skipped';

export interface DoctorCheck {
  id: string;
  status: CheckStatus;
  title: string;
  /** What was found, in plain words. */
  message: string;
  /** Commands that fix it, in order. */
  fix?: string[];
}

export interface DoctorReport {
  /** The network namespace looked at: its name under /run/netns when it has one, else net:[inode]. */
  netns: string;
  kernel: string;
  checks: DoctorCheck[];
  /** True when no check is a problem: nothing is broken (warnings and notes are advice). The
   * exit status is 0 exactly when this is true. */
  ok: boolean;
}

/** What a running manager says about its MPTCP sockets (through its control socket). */
export interface ManagerMptcpReport {
  /** Where the manager was asked (the control socket's path). */
  source: string;
  /** The manager's pid, as the kernel reported the control socket's peer (SO_PEERCRED). */
  pid?: number;
  /** Listeners of `SocketProtocol=mptcp` units; `tcp` means MPTCP was asked for and the manager
   * opened plain TCP instead (X-Sockunit-MPTCPFallback / --mptcp-fallback). */
  listeners: { unit: string; listen: string; running: 'mptcp' | 'tcp' }[];
  /** Live connections on those units' ports, counted as `sockunit connections` counts them. */
  connections: {
    unit: string;
    mptcp: number;
    severalPaths: number;
    fallenBack: number;
    tcp: number;
    notLive: number;
  }[];
}

/** How `doctor` learns which MPTCP sockets of a running manager fell back. The mptcp layer cannot
 * reach the manager itself (layering), so the caller (the CLI, over the control socket) passes
 * this; without it the check is reported as skipped, never as passed. */
export type ManagerSocketsSource = () => Promise<ManagerMptcpReport | { unavailable: string }>;

export interface DoctorOptions {
  /** Where the sysctls are read (default /proc/sys). */
  procSys?: string;
  /** Where netstat's MIB counters are read (default /proc/net). */
  procNet?: string;
  /** The iproute2 `ip` binary (default: `ip` in PATH). */
  ipCommand?: string;
  managerSockets?: ManagerSocketsSource;
}

/** `ip mptcp limits show`. */
export interface MptcpLimits {
  subflows: number;
  addAddrAccepted: number;
}

/** One line of `ip mptcp endpoint show`. */
export interface MptcpEndpoint {
  address: string;
  id?: number;
  port?: number;
  dev?: string;
  /** signal, subflow, backup, fullmesh, implicit, laminar… */
  flags: string[];
}

const ENDPOINT_FLAGS = new Set([
  'signal',
  'subflow',
  'backup',
  'fullmesh',
  'implicit',
  'laminar',
  'nobackup',
]);

/** Parses `ip mptcp endpoint show` output. */
export function parseEndpoints(text: string): MptcpEndpoint[] {
  const endpoints: MptcpEndpoint[] = [];
  for (const line of text.split('\n')) {
    const words = line.trim().split(/\s+/).filter(Boolean);
    const [address, ...rest] = words;
    if (!address) continue;
    const endpoint: MptcpEndpoint = { address, flags: [] };
    for (let i = 0; i < rest.length; i++) {
      const word = rest[i] as string;
      const value = rest[i + 1];
      if (word === 'id' && value !== undefined) endpoint.id = Number(rest[++i]);
      else if (word === 'port' && value !== undefined) endpoint.port = Number(rest[++i]);
      else if (word === 'dev' && value !== undefined) endpoint.dev = rest[++i] as string;
      else if (ENDPOINT_FLAGS.has(word)) endpoint.flags.push(word);
    }
    endpoints.push(endpoint);
  }
  return endpoints;
}

/** Parses `ip mptcp limits show` output (`add_addr_accepted 0 subflows 2`). */
export function parseLimits(text: string): MptcpLimits | undefined {
  const subflows = /\bsubflows (\d+)/.exec(text)?.[1];
  const accepted = /\badd_addr_accepted (\d+)/.exec(text)?.[1];
  if (subflows === undefined || accepted === undefined) return undefined;
  return { subflows: Number(subflows), addAddrAccepted: Number(accepted) };
}

function readSysctl(procSys: string, name: string): string | undefined {
  try {
    return readFileSync(join(procSys, ...name.split('.')), 'utf8').trim();
  } catch {
    return undefined;
  }
}

/** The errno code socket(family, type, protocol) fails with, or undefined when it works. */
function socketProbe(family: number, type: number, protocol: number): string | undefined {
  try {
    closeQuietly(socket(family, type, protocol));
    return undefined;
  } catch (err) {
    return (err as { code?: string }).code ?? 'UNKNOWN';
  }
}

/** This process's network namespace, by its /run/netns name when `ip netns add` made it. */
export function currentNetns(): string {
  const id = readlinkSync('/proc/self/ns/net');
  try {
    const inode = statSync('/proc/self/ns/net').ino;
    for (const name of readdirSync('/run/netns')) {
      if (statSync(join('/run/netns', name)).ino === inode) return `${name} (${id})`;
    }
  } catch {
    // no /run/netns: not made by ip netns
  }
  return id;
}

type IpResult = { stdout: string } | { missing: true } | { failed: string };

function runIp(ipCommand: string, args: string[]): IpResult {
  try {
    return {
      stdout: execFileSync(ipCommand, args, {
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'pipe'],
        timeout: 5000,
      }),
    };
  } catch (err) {
    const e = err as { code?: string; stderr?: string };
    if (e.code === 'ENOENT') return { missing: true };
    return { failed: (e.stderr ?? String(err)).trim() };
  }
}

/** Addresses an endpoint could use: global addresses of this namespace's interfaces. */
function candidateEndpoints(): { address: string; dev: string }[] {
  const out: { address: string; dev: string }[] = [];
  for (const [dev, addrs] of Object.entries(networkInterfaces())) {
    for (const a of addrs ?? []) {
      if (a.internal || a.address.startsWith('fe80:')) continue;
      out.push({ address: a.address, dev });
    }
  }
  return out;
}

function checkKernel(procSys: string): DoctorCheck {
  const enabled = readSysctl(procSys, 'net.mptcp.enabled');
  if (enabled === undefined)
    return {
      id: 'mptcp-enabled',
      status: 'problem',
      title: 'MPTCP in the kernel',
      message: `${join(procSys, 'net/mptcp')} does not exist: this kernel (${release()}) was built without MPTCP or is older than 5.6. Every MPTCP socket falls back to plain TCP or fails.`,
      fix: ['use a kernel built with CONFIG_MPTCP=y (5.6 or later; 6.x recommended)'],
    };
  if (enabled === '0')
    return {
      id: 'mptcp-enabled',
      status: 'problem',
      title: 'MPTCP enabled',
      message:
        'net.mptcp.enabled is 0 in this network namespace: socket(..., IPPROTO_MPTCP) fails with ENOPROTOOPT, so MPTCP units fail (or fall back to TCP with X-Sockunit-MPTCPFallback=yes). The setting is per network namespace.',
      fix: [
        'sysctl -w net.mptcp.enabled=1',
        "echo 'net.mptcp.enabled = 1' > /etc/sysctl.d/90-mptcp.conf   # to keep it after a reboot",
      ],
    };
  return { id: 'mptcp-enabled', status: 'ok', title: 'MPTCP enabled', message: 'net.mptcp.enabled = 1' };
}

function checkSockets(): DoctorCheck {
  const failures: string[] = [];
  for (const [family, label] of [
    [AF_INET, 'AF_INET'],
    [AF_INET6, 'AF_INET6'],
  ] as const) {
    const code = socketProbe(family, SOCK_STREAM, IPPROTO_MPTCP);
    // An IPv6-less host is not an MPTCP problem.
    if (code === undefined || (family === AF_INET6 && code === 'EAFNOSUPPORT')) continue;
    failures.push(
      `socket(${label}, SOCK_STREAM, IPPROTO_MPTCP) fails with ${code}: ${noMptcpReason(code) ?? 'an error TCP would hit too'}`,
    );
  }
  if (failures.length === 0)
    return {
      id: 'mptcp-socket',
      status: 'ok',
      title: 'MPTCP sockets',
      message: 'socket(..., IPPROTO_MPTCP) works for IPv4 and IPv6',
    };
  return {
    id: 'mptcp-socket',
    status: 'problem',
    title: 'MPTCP sockets',
    message: `${failures.join('; ')}.`,
  };
}

function checkPathManager(procSys: string): DoctorCheck[] {
  // net.mptcp.path_manager (6.15+) names it; older kernels have only pm_type (0 kernel, 1 userspace).
  const byName = readSysctl(procSys, 'net.mptcp.path_manager');
  const pmType = readSysctl(procSys, 'net.mptcp.pm_type');
  const pm = byName ?? (pmType === '1' ? 'userspace' : pmType === '0' ? 'kernel' : undefined);
  const checks: DoctorCheck[] = [];
  if (pm === undefined)
    checks.push({
      id: 'path-manager',
      status: 'skipped',
      title: 'Path manager',
      message:
        'neither net.mptcp.path_manager nor net.mptcp.pm_type exists (kernel older than 5.19): the in-kernel path manager is the only one',
    });
  else if (pm === 'kernel')
    checks.push({
      id: 'path-manager',
      status: 'ok',
      title: 'Path manager',
      message:
        'in-kernel (net.mptcp.path_manager = kernel): extra subflows follow the limits and endpoints below',
    });
  else
    checks.push({
      id: 'path-manager',
      status: 'warning',
      title: 'Path manager',
      message: `${pm} (net.mptcp.path_manager): a daemon such as mptcpd must create the extra subflows; without one, connections stay single-path and the endpoints below are not used`,
      fix: [
        byName !== undefined ? 'sysctl -w net.mptcp.path_manager=kernel' : 'sysctl -w net.mptcp.pm_type=0',
        'or run mptcpd',
      ],
    });
  const scheduler = readSysctl(procSys, 'net.mptcp.scheduler');
  if (scheduler !== undefined) {
    const available = readSysctl(procSys, 'net.mptcp.available_schedulers');
    checks.push({
      id: 'scheduler',
      status: 'ok',
      title: 'Packet scheduler',
      message: `${scheduler}${available ? ` (available: ${available})` : ''}`,
    });
  }
  return checks;
}

function ipUnavailable(
  id: string,
  title: string,
  result: IpResult,
  ipCommand: string,
): DoctorCheck | undefined {
  if ('missing' in result)
    return {
      id,
      status: 'skipped',
      title,
      message: `'${ipCommand}' (iproute2) is not installed, so the limits and endpoints cannot be read`,
      fix: ['apt-get install iproute2   # Debian/Ubuntu; dnf install iproute on Fedora'],
    };
  if ('failed' in result) {
    const old = /unknown|Object "mptcp"/i.test(result.failed);
    return {
      id,
      status: 'skipped',
      title,
      message: old
        ? `this iproute2 has no 'ip mptcp' (it needs 5.8 or later): ${result.failed}`
        : `ip mptcp failed: ${result.failed}`,
      ...(old ? { fix: ['install iproute2 5.8 or later'] } : {}),
    };
  }
  return undefined;
}

function checkLimits(ipCommand: string): { check: DoctorCheck; limits?: MptcpLimits } {
  const title = 'Path manager limits';
  const result = runIp(ipCommand, ['mptcp', 'limits', 'show']);
  const unavailable = ipUnavailable('limits', title, result, ipCommand);
  if (unavailable) return { check: unavailable };
  const limits = parseLimits((result as { stdout: string }).stdout);
  if (!limits)
    return {
      check: {
        id: 'limits',
        status: 'skipped',
        title,
        message: `could not read 'ip mptcp limits show': ${(result as { stdout: string }).stdout.trim()}`,
      },
    };
  const shown = `subflows ${limits.subflows}, add_addr_accepted ${limits.addAddrAccepted}`;
  if (limits.subflows === 0)
    return {
      limits,
      check: {
        id: 'limits',
        status: 'warning',
        title,
        message: `${shown}: no extra subflow is allowed, so every MPTCP connection keeps one path`,
        fix: ['ip mptcp limits set subflows 2 add_addr_accepted 2'],
      },
    };
  if (limits.addAddrAccepted === 0)
    return {
      limits,
      check: {
        id: 'limits',
        status: 'note',
        title,
        message: `${shown}: addresses a server announces (its 'signal' endpoints) are ignored; as a client this host opens extra subflows only from its own 'subflow' endpoints`,
        fix: [
          `ip mptcp limits set subflows ${limits.subflows} add_addr_accepted 2   # to follow servers' announced addresses`,
        ],
      },
    };
  return { limits, check: { id: 'limits', status: 'ok', title, message: shown } };
}

function checkEndpoints(ipCommand: string, limits: MptcpLimits | undefined): DoctorCheck {
  const title = 'MPTCP endpoints';
  const result = runIp(ipCommand, ['mptcp', 'endpoint', 'show']);
  const unavailable = ipUnavailable('endpoints', title, result, ipCommand);
  if (unavailable) return unavailable;
  const endpoints = parseEndpoints((result as { stdout: string }).stdout);
  if (endpoints.length === 0 && limits && limits.addAddrAccepted > 0 && limits.subflows > 0)
    return {
      id: 'endpoints',
      status: 'note',
      title,
      message: `none: this host opens no extra subflow from its own addresses, but as a client it follows up to ${limits.addAddrAccepted} addresses a server announces (add_addr_accepted), so connections to servers with 'signal' endpoints still use several paths. To open paths itself: ip mptcp endpoint add ADDR dev IFACE subflow`,
    };
  if (endpoints.length === 0) {
    const candidates = candidateEndpoints();
    const devices = new Set(candidates.map((c) => c.dev));
    // An endpoint on the address the connection already uses adds no path: with one interface,
    // the honest fix is a second interface first.
    const oneInterface =
      devices.size <= 1
        ? ` This namespace has ${devices.size === 0 ? 'no interface with a global address' : `one interface with global addresses (${[...devices].join('')})`}, so there is one path: an extra path needs another interface (a second NIC, Wi-Fi, LTE) and then its endpoint.`
        : '';
    const examples =
      devices.size > 1
        ? candidates.map((c) => `ip mptcp endpoint add ${c.address} dev ${c.dev} subflow`)
        : ['ip mptcp endpoint add ADDR dev IFACE subflow'];
    // With one interface there is one path: advice (a note), not something wrong. With several,
    // connections could use more paths and do not: a warning. Neither is broken.
    return {
      id: 'endpoints',
      status: devices.size > 1 ? 'warning' : 'note',
      title,
      message: `none: MPTCP connections from this host stay single-path (one subflow, like TCP) unless the peer opens more. Add one endpoint per extra path: 'subflow' on clients (open a subflow from this address), 'signal' on servers (announce this address to clients).${oneInterface}`,
      fix: examples,
    };
  }
  const listed = endpoints
    .map((e) => `${e.address}${e.dev ? ` dev ${e.dev}` : ''} ${e.flags.join(',') || '(no flags)'}`)
    .join('; ');
  const subflowEndpoints = endpoints.filter((e) => e.flags.includes('subflow')).length;
  if (limits && subflowEndpoints > limits.subflows)
    return {
      id: 'endpoints',
      status: 'warning',
      title,
      message: `${listed}: ${subflowEndpoints} subflow endpoints but the limit is ${limits.subflows} extra subflows, so only ${limits.subflows} are used`,
      fix: [
        `ip mptcp limits set subflows ${Math.min(8, subflowEndpoints)} add_addr_accepted ${limits.addAddrAccepted}`,
      ],
    };
  const unflagged = endpoints.filter(
    (e) => e.flags.length === 0 || (e.flags.length === 1 && e.flags[0] === 'backup'),
  );
  if (unflagged.length > 0)
    return {
      id: 'endpoints',
      status: 'warning',
      title,
      message: `${listed}: ${unflagged.map((e) => e.address).join(', ')} has neither 'subflow' nor 'signal', so the in-kernel path manager uses it only to accept subflows the peer opens`,
      fix: unflagged.flatMap((e) => [
        `ip mptcp endpoint delete id ${e.id ?? 'ID'}`,
        `ip mptcp endpoint add ${e.address}${e.dev ? ` dev ${e.dev}` : ' dev IFACE'} subflow   # 'signal' on a server`,
      ]),
    };
  return { id: 'endpoints', status: 'ok', title, message: listed };
}

function checkProtocol(
  id: string,
  title: string,
  type: number,
  protocol: number,
  fix: string,
  users: string,
): DoctorCheck {
  const code = socketProbe(AF_INET, type, protocol);
  if (code === undefined) return { id, status: 'ok', title, message: 'available' };
  return {
    id,
    status: 'note',
    title,
    message: `unavailable (socket() fails with ${code}): ${users} fail to listen`,
    fix: [fix],
  };
}

function plural(n: number, one: string, many = `${one}s`): string {
  return `${n} ${n === 1 ? one : many}`;
}

async function checkManagerSockets(source: ManagerSocketsSource | undefined): Promise<DoctorCheck> {
  const id = 'manager-fallback';
  const title = 'Running manager: MPTCP listeners and connections';
  if (!source)
    return {
      id,
      status: 'skipped',
      title,
      message: 'not checked: no way to ask a running manager was given',
    };
  const report = await source();
  if ('unavailable' in report)
    return { id, status: 'skipped', title, message: `not checked: ${report.unavailable}` };
  const { listeners, connections } = report;
  const manager = `the manager on ${report.source}${report.pid ? ` (pid ${report.pid})` : ''}`;
  if (listeners.length === 0) return { id, status: 'ok', title, message: `${manager} has no MPTCP listener` };
  const total = connections.reduce(
    (t, c) => ({
      mptcp: t.mptcp + c.mptcp,
      severalPaths: t.severalPaths + c.severalPaths,
      fallenBack: t.fallenBack + c.fallenBack,
      tcp: t.tcp + c.tcp,
    }),
    { mptcp: 0, severalPaths: 0, fallenBack: 0, tcp: 0 },
  );
  const live = `live connections on them: ${total.mptcp} mptcp (${total.severalPaths} on several paths now), ${total.fallenBack} mptcp->tcp, ${total.tcp} tcp`;
  const tcpListeners = listeners.filter((l) => l.running === 'tcp');
  if (tcpListeners.length > 0)
    return {
      id,
      status: 'problem',
      title,
      message: `${tcpListeners.map((l) => `${l.unit} ${l.listen}`).join(', ')} ${tcpListeners.length === 1 ? 'runs' : 'run'} as plain TCP: MPTCP was asked for (SocketProtocol=mptcp) but the manager's network namespace refused MPTCP sockets when it opened them, so no client gets MPTCP there. ${live}.`,
      fix: [
        "sysctl -w net.mptcp.enabled=1   # in the manager's network namespace",
        'then restart sockunit run (or reload it with SIGHUP after changing the unit) so it opens the listeners again',
      ],
    };
  const listening = `${manager} has ${plural(listeners.length, 'MPTCP listener')}, all running MPTCP; ${live}`;
  if (total.fallenBack > 0)
    return {
      id,
      status: 'warning',
      title,
      message: `${listening}. ${plural(total.fallenBack, 'connection')} (${connections
        .filter((c) => c.fallenBack > 0)
        .map((c) => `${c.fallenBack} on ${c.unit}`)
        .join(
          ', ',
        )}) began MPTCP and fell back to plain TCP on the way: something between the peers removed or changed MPTCP options (a middlebox), or the peer's MPTCP failed.`,
      fix: ['sockunit connections UNIT   # which peers; then look at the path to them'],
    };
  if (total.tcp > 0)
    return {
      id,
      status: 'note',
      title,
      message: `${listening}. ${plural(total.tcp, 'client')} used plain TCP: ${total.tcp === 1 ? 'it' : 'they'} did not ask for MPTCP, or something on the path removed it (the server cannot tell which); check with a client known to use MPTCP.`,
      fix: ['mptcpize run curl http://HOST:PORT/   # (Debian package mptcpize) a client that asks for MPTCP'],
    };
  return { id, status: 'ok', title, message: listening };
}

/** The fallback counters of the kernel's MPTcpExt MIB (/proc/net/netstat, this network
 * namespace, since it was created): how often a handshake or a connection fell back. The
 * per-connection picture is the manager's; these are the only trace of a handshake that fell
 * back on a server, whose connection the kernel hands over as plain TCP. */
const FALLBACK_COUNTERS: readonly [string, string][] = [
  [
    'MPCapableFallbackACK',
    'server handshakes that began MPTCP (SYN with MP_CAPABLE) and went on as plain TCP (the ACK came without it)',
  ],
  [
    'MPCapableFallbackSYNACK',
    'client handshakes answered without MP_CAPABLE (a server without MPTCP, or the option removed on the way)',
  ],
  [
    'MPCapableDataFallback',
    'connections whose first data after the handshake carried no MPTCP option (DSS or MP_CAPABLE)',
  ],
  ['DssFallback', 'connections that fell back later: data arrived with a missing or bad DSS mapping'],
  ['DSSCorruptionFallback', 'connections that fell back after a corrupted DSS mapping'],
  ['InfiniteMapRx', 'connections whose peer fell back after a checksum failure (infinite mapping)'],
  ['MPCapableSYNTXDrop', 'client SYNs with MP_CAPABLE that got no answer (retried as plain TCP)'],
];

/** Parse the MPTcpExt lines of /proc/net/netstat (a names line, then a values line). */
export function parseMptcpCounters(netstat: string): Record<string, number> | undefined {
  const lines = netstat.split('\n').filter((l) => l.startsWith('MPTcpExt:'));
  const [names, values] = lines.map((l) => l.split(/\s+/).slice(1));
  if (!names || !values) return undefined;
  return Object.fromEntries(names.map((n, i) => [n, Number(values[i] ?? 0)]));
}

function checkFallbackCounters(procNet: string): DoctorCheck {
  const id = 'fallback-counters';
  const title = 'MPTCP fallbacks counted by the kernel';
  let counters: Record<string, number> | undefined;
  try {
    counters = parseMptcpCounters(readFileSync(join(procNet, 'netstat'), 'utf8'));
  } catch (err) {
    return {
      id,
      status: 'skipped',
      title,
      message: `cannot read ${join(procNet, 'netstat')}: ${(err as Error).message}`,
    };
  }
  if (!counters)
    return {
      id,
      status: 'skipped',
      title,
      message: `${join(procNet, 'netstat')} has no MPTcpExt counters (kernel without MPTCP)`,
    };
  const seen = FALLBACK_COUNTERS.filter(([name]) => (counters[name] ?? 0) > 0);
  if (seen.length === 0)
    return { id, status: 'ok', title, message: 'none in this network namespace (MPTcpExt counters)' };
  return {
    id,
    status: 'note',
    title,
    message: `since this network namespace was created: ${seen.map(([name, what]) => `${counters[name]} ${what} (MPTcpExt${name})`).join('; ')}. Counters are per namespace, not per connection; 'sockunit connections' shows the live ones.`,
  };
}

/** Runs every check in this process's network namespace. */
export async function doctor(options: DoctorOptions = {}): Promise<DoctorReport> {
  const procSys = options.procSys ?? '/proc/sys';
  const ipCommand = options.ipCommand ?? 'ip';
  const checks: DoctorCheck[] = [checkKernel(procSys), checkSockets(), ...checkPathManager(procSys)];
  const { check: limitsCheck, limits } = checkLimits(ipCommand);
  checks.push(limitsCheck, checkEndpoints(ipCommand, limits));
  checks.push(
    checkProtocol(
      'sctp',
      'SCTP',
      SOCK_STREAM,
      IPPROTO_SCTP,
      'modprobe sctp   # the kernel module; some distributions blacklist it',
      'SocketProtocol=sctp units',
    ),
    checkProtocol(
      'udplite',
      'UDP-Lite',
      SOCK_DGRAM,
      IPPROTO_UDPLITE,
      'use a kernel built with UDP-Lite (removed from recent kernels) or plain UDP',
      'SocketProtocol=udplite units',
    ),
  );
  checks.push(checkFallbackCounters(options.procNet ?? '/proc/net'));
  checks.push(await checkManagerSockets(options.managerSockets));
  return {
    netns: currentNetns(),
    kernel: release(),
    checks,
    ok: checks.every((c) => c.status !== 'problem'),
  };
}
