// `sockunit proxy`: the command line of systemd-socket-proxyd (TARGET, -c/--connections-max=,
// --exit-idle-time=), plus --listen/--protocol to run without socket activation and
// --upstream-protocol to reach the target over MPTCP. The work is in proxy/proxy.ts.

import { parseArgs } from 'node:util';
import { openListeners, type ProxyListener, passedListeners } from '../proxy/listeners.js';
import { ProxyError, startProxy } from '../proxy/proxy.js';
import { formatTarget, parseTarget, TargetError } from '../proxy/target.js';
import { closeQuietly } from '../sys/socket.js';
import { parseTimespan, parseUnsigned } from '../unit/values.js';
import type { CommandIO } from './io.js';

const HELP = `Usage: sockunit proxy [OPTIONS...] HOST:PORT
       sockunit proxy [OPTIONS...] UNIX-DOMAIN-SOCKET-PATH

Bidirectionally proxy local sockets to another (possibly remote) socket, as
systemd-socket-proxyd does, with MPTCP on either side. The listening sockets are those passed
by socket activation (LISTEN_FDS: the ListenStream= ports of an Accept=no socket unit), and
those of --listen.

Options:
  -h --help                       Show this help and exit
     --version                    Print version string and exit
  -c --connections-max=N          Serve at most N connections at once (default 256); further
                                  clients wait in the listen backlog until one ends
     --exit-idle-time=TIME        Exit after TIME without a connection (e.g. 30, 5min 20s;
                                  default infinity)
  -l --listen=[ADDR:]PORT         Also listen here (ListenStream= syntax: PORT, ADDR:PORT,
                                  [IPV6]:PORT, /path, @name; repeatable)
     --protocol=tcp|mptcp         Protocol of the --listen ports (default tcp)
     --upstream-protocol=tcp|mptcp
                                  Connect to HOST:PORT with this protocol (default tcp)

HOST:PORT is an IP address or a host name (looked up for each connection) and a port number
(80 when left out); a path starting with / or @ is a unix socket.
`;

const OPTIONS = {
  help: { type: 'boolean', short: 'h' },
  version: { type: 'boolean' },
  'connections-max': { type: 'string', short: 'c' },
  'exit-idle-time': { type: 'string' },
  listen: { type: 'string', short: 'l', multiple: true },
  protocol: { type: 'string' },
  'upstream-protocol': { type: 'string' },
} as const;

class UsageError extends Error {}

export interface ProxyArguments {
  target: ReturnType<typeof parseTarget>;
  connectionsMax: number;
  exitIdleUsec: number;
  listen: string[];
  protocol: 'tcp' | 'mptcp';
  upstreamProtocol: 'tcp' | 'mptcp';
}

type Parsed = { kind: 'help' } | { kind: 'version' } | { kind: 'run'; args: ProxyArguments };

function protocolOption(name: string, value: string | undefined): 'tcp' | 'mptcp' {
  if (value === undefined) return 'tcp';
  const v = value.toLowerCase();
  if (v === 'tcp' || v === 'mptcp') return v;
  throw new UsageError(`--${name}=${value}: expected tcp or mptcp`);
}

/** Parse the arguments; throws UsageError (or TargetError) with a message for the user. */
export function parseProxyArguments(argv: string[]): Parsed {
  let parsed: ReturnType<
    typeof parseArgs<{ args: string[]; options: typeof OPTIONS; allowPositionals: true }>
  >;
  try {
    parsed = parseArgs({ args: argv, options: OPTIONS, allowPositionals: true });
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  const { values, positionals } = parsed;
  if (values.help) return { kind: 'help' };
  if (values.version) return { kind: 'version' };
  let connectionsMax = 256;
  if (values['connections-max'] !== undefined) {
    try {
      connectionsMax = parseUnsigned(values['connections-max']);
    } catch (err) {
      throw new UsageError(`Failed to parse --connections-max= argument: ${(err as Error).message}`);
    }
    if (connectionsMax < 1)
      throw new UsageError('Connection limit is too low: --connections-max must be 1 or more.');
  }
  let exitIdleUsec = Number.POSITIVE_INFINITY;
  if (values['exit-idle-time'] !== undefined) {
    try {
      exitIdleUsec = parseTimespan(values['exit-idle-time']);
    } catch (err) {
      throw new UsageError(`Failed to parse --exit-idle-time= argument: ${(err as Error).message}`);
    }
  }
  const listen = values.listen ?? [];
  if (values.protocol !== undefined && listen.length === 0)
    throw new UsageError(
      "--protocol applies to --listen ports; a passed socket's protocol is its socket unit's SocketProtocol=",
    );
  if (positionals.length === 0)
    throw new UsageError('Not enough parameters: the target (HOST:PORT or a unix socket path) is missing.');
  if (positionals.length > 1)
    throw new UsageError(
      `Too many parameters: one target expected, got ${positionals.map((p) => `'${p}'`).join(' ')}.`,
    );
  return {
    kind: 'run',
    args: {
      target: parseTarget(positionals[0] as string),
      connectionsMax,
      exitIdleUsec,
      listen,
      protocol: protocolOption('protocol', values.protocol),
      upstreamProtocol: protocolOption('upstream-protocol', values['upstream-protocol']),
    },
  };
}

export async function proxyCommand(argv: string[], io: CommandIO): Promise<number> {
  let parsed: Parsed;
  try {
    parsed = parseProxyArguments(argv);
  } catch (err) {
    if (!(err instanceof UsageError) && !(err instanceof TargetError)) throw err;
    io.stderr.write(`sockunit proxy: ${err.message}\nRun 'sockunit proxy --help' for the options.\n`);
    return 1;
  }
  if (parsed.kind !== 'run') {
    const { packageVersion } = await import('./main.js');
    io.stdout.write(parsed.kind === 'help' ? HELP : `sockunit ${await packageVersion()}\n`);
    return 0;
  }
  const { args } = parsed;
  const log = (line: string): void => {
    io.stderr.write(`${line}\n`);
  };
  let listeners: ProxyListener[] = [];
  let proxy: ReturnType<typeof startProxy>;
  try {
    listeners = [...passedListeners(), ...openListeners(args.listen, args.protocol)];
    proxy = startProxy({
      target: args.target,
      upstreamProtocol: args.upstreamProtocol,
      connectionsMax: args.connectionsMax,
      exitIdleUsec: args.exitIdleUsec,
      listeners,
      log,
    });
  } catch (err) {
    if (!(err instanceof ProxyError)) throw err;
    for (const l of listeners) if (!l.inherited) closeQuietly(l.fd);
    io.stderr.write(`sockunit proxy: ${err.message}\n`);
    return 1;
  }
  // A clean stop on SIGTERM/SIGINT: connections closed, exit status 0.
  const onSignal = (): void => proxy.stop();
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  const to = `${args.upstreamProtocol === 'mptcp' ? 'MPTCP ' : ''}${formatTarget(args.target)}`;
  for (const l of listeners)
    log(
      `${l.inherited ? 'Serving' : 'Listening on'} ${l.address}${l.protocol === 'mptcp' ? ' (MPTCP)' : ''}, proxying to ${to}.`,
    );
  try {
    return await proxy.done;
  } finally {
    process.removeListener('SIGTERM', onSignal);
    process.removeListener('SIGINT', onSignal);
  }
}
