// `sockunit activate`: the command line of systemd-socket-activate, parsed as its getopt_long
// parses it ("+" mode: options end at the first non-option or at `--`), plus --protocol and
// --mptcp-fallback. The work is in manager/activate.ts.

import {
  ActivateError,
  type ActivateOptions,
  type ActivateProtocol,
  activate,
} from '../activate/activate.js';
import type { CommandIO } from './io.js';

const HELP = `Usage: sockunit activate [OPTIONS...] COMMAND [ARGS...]

Listen on sockets and launch COMMAND on connection, as systemd-socket-activate does.

Options:
  -h --help                  Show this help and exit
     --version               Print version string and exit
  -l --listen=ADDR           Listen at ADDR: PORT, A.B.C.D:PORT, [IPV6]:PORT, /path, @name,
                             vsock:CID:PORT (repeatable; fds 3, 4, ... in order)
  -d --datagram              Listen on datagram instead of stream socket
     --seqpacket             Listen on SOCK_SEQPACKET instead of stream socket
  -a --accept                Spawn separate child for each connection
  -E --setenv=NAME[=VALUE]   Pass an environment variable to children (--environment too)
     --fdname=NAME[:NAME...] Specify names for file descriptors
     --inetd                 Enable inetd file descriptor passing protocol
     --now                   Start COMMAND at once, without waiting for traffic
     --protocol=PROTO        tcp (default), mptcp, sctp (stream/seqpacket), udplite (datagram)
     --mptcp-fallback        Listen with TCP where the kernel has no MPTCP, with a warning

The command gets only TERM, COLORTERM, NO_COLOR, PATH, USER, HOME, the LISTEN_* variables and
-E variables. Without --accept it runs as a child of sockunit (Node cannot exec in place):
SIGTERM, SIGINT and SIGHUP are forwarded, and sockunit exits with the command's status (128 +
signal when killed). With --accept, SIGTERM/SIGINT/SIGHUP stop accepting, send SIGTERM to the
children still running, and exit 0.
`;

interface OptionSpec {
  long: string;
  short?: string;
  takesValue: boolean;
}

const OPTIONS: OptionSpec[] = [
  { long: 'help', short: 'h', takesValue: false },
  { long: 'version', takesValue: false },
  { long: 'datagram', short: 'd', takesValue: false },
  { long: 'seqpacket', takesValue: false },
  { long: 'listen', short: 'l', takesValue: true },
  { long: 'accept', short: 'a', takesValue: false },
  { long: 'setenv', short: 'E', takesValue: true },
  { long: 'environment', takesValue: true },
  { long: 'fdname', takesValue: true },
  { long: 'inetd', takesValue: false },
  { long: 'now', takesValue: false },
  { long: 'protocol', takesValue: true },
  { long: 'mptcp-fallback', takesValue: false },
];

const PROTOCOLS: Record<string, ActivateProtocol> = {
  tcp: 'tcp',
  '6': 'tcp',
  mptcp: 'mptcp',
  '262': 'mptcp',
  sctp: 'sctp',
  '132': 'sctp',
  udplite: 'udplite',
  '136': 'udplite',
};

class UsageError extends Error {}

/** One option as given: its canonical long name and value. */
interface ParsedOption {
  name: string;
  value?: string;
}

/** getopt_long's rules: exact long names or unambiguous prefixes, `--name=value` or
 * `--name value`, bundled short options (`-al 8080`, `-l8080`), and the first non-option (or
 * `--`) ends the options. */
export function splitArguments(argv: string[]): { options: ParsedOption[]; command: string[] } {
  const options: ParsedOption[] = [];
  let i = 0;
  const valueFor = (inline: string | undefined, shown: string): string => {
    if (inline !== undefined) return inline;
    const next = argv[i + 1];
    if (next === undefined) throw new UsageError(`option '${shown}' requires an argument`);
    i++;
    return next;
  };
  for (; i < argv.length; i++) {
    const arg = argv[i] as string;
    if (arg === '--') {
      i++;
      break;
    }
    if (arg.startsWith('--')) {
      const eq = arg.indexOf('=');
      const name = arg.slice(2, eq < 0 ? undefined : eq);
      const inline = eq < 0 ? undefined : arg.slice(eq + 1);
      const exact = OPTIONS.find((o) => o.long === name);
      const matches = exact ? [exact] : OPTIONS.filter((o) => o.long.startsWith(name));
      if (matches.length === 0) throw new UsageError(`unrecognized option '--${name}'`);
      if (matches.length > 1)
        throw new UsageError(
          `option '--${name}' is ambiguous; possibilities: ${matches.map((m) => `--${m.long}`).join(' ')}`,
        );
      const spec = matches[0] as OptionSpec;
      if (!spec.takesValue && inline !== undefined)
        throw new UsageError(`option '--${spec.long}' doesn't allow an argument`);
      options.push(
        spec.takesValue
          ? { name: spec.long, value: valueFor(inline, `--${spec.long}`) }
          : { name: spec.long },
      );
      continue;
    }
    if (arg.startsWith('-') && arg.length > 1) {
      for (let k = 1; k < arg.length; k++) {
        const letter = arg[k] as string;
        const spec = OPTIONS.find((o) => o.short === letter);
        if (!spec) throw new UsageError(`invalid option -- '${letter}'`);
        if (!spec.takesValue) {
          options.push({ name: spec.long });
          continue;
        }
        const rest = arg.slice(k + 1);
        options.push({
          name: spec.long,
          value: valueFor(rest === '' ? undefined : rest, `-${letter}`),
        });
        break;
      }
      continue;
    }
    break;
  }
  return { options, command: argv.slice(i) };
}

type Parsed =
  | { kind: 'help' }
  | { kind: 'version' }
  | { kind: 'run'; options: Omit<ActivateOptions, 'environment' | 'log'> };

export function parseActivateArguments(argv: string[]): Parsed {
  const { options, command } = splitArguments(argv);
  const listen: string[] = [];
  const setenv: string[] = [];
  let fdnames: string[] | undefined;
  let socketType: ActivateOptions['socketType'] = 'stream';
  let accept = false;
  let inetd = false;
  let now = false;
  let protocol: ActivateProtocol | undefined;
  let mptcpFallback = false;
  for (const { name, value = '' } of options) {
    switch (name) {
      case 'help':
        return { kind: 'help' };
      case 'version':
        return { kind: 'version' };
      case 'listen':
        listen.push(value);
        break;
      case 'datagram':
        if (socketType === 'seqpacket')
          throw new UsageError('--datagram may not be combined with --seqpacket.');
        socketType = 'datagram';
        break;
      case 'seqpacket':
        if (socketType === 'datagram')
          throw new UsageError('--seqpacket may not be combined with --datagram.');
        socketType = 'seqpacket';
        break;
      case 'accept':
        accept = true;
        break;
      case 'setenv':
      case 'environment':
        setenv.push(value);
        break;
      case 'fdname': {
        // systemd's strv_split coalesces separators; an empty value is one empty name.
        const names = value.split(':').filter((n) => n !== '');
        fdnames = [...(fdnames ?? []), ...(names.length === 0 ? [''] : names)];
        break;
      }
      case 'inetd':
        inetd = true;
        break;
      case 'now':
        now = true;
        break;
      case 'protocol': {
        const p = PROTOCOLS[value.toLowerCase()];
        if (!p) throw new UsageError(`--protocol=${value}: expected tcp, mptcp, sctp or udplite`);
        protocol = p;
        break;
      }
      case 'mptcp-fallback':
        mptcpFallback = true;
        break;
    }
  }
  const parsed: Omit<ActivateOptions, 'environment' | 'log'> = {
    listen,
    socketType,
    accept,
    inetd,
    now,
    mptcpFallback,
    setenv,
    command,
  };
  if (protocol !== undefined) parsed.protocol = protocol;
  if (fdnames !== undefined) parsed.fdnames = fdnames;
  return { kind: 'run', options: parsed };
}

const FORWARDED_SIGNALS = ['SIGTERM', 'SIGINT', 'SIGHUP'] as const;

export async function activateCommand(argv: string[], io: CommandIO): Promise<number> {
  let parsed: Parsed;
  try {
    parsed = parseActivateArguments(argv);
  } catch (err) {
    io.stderr.write(
      `sockunit activate: ${(err as Error).message}\nRun 'sockunit activate --help' for the options.\n`,
    );
    return 1;
  }
  if (parsed.kind === 'help') {
    io.stdout.write(HELP);
    return 0;
  }
  if (parsed.kind === 'version') {
    const { createRequire } = await import('node:module');
    const pkg = createRequire(import.meta.url)('../../package.json') as { version: string };
    io.stdout.write(`sockunit ${pkg.version}\n`);
    return 0;
  }
  const log = (line: string): void => {
    io.stderr.write(`${line}\n`);
  };
  let activation: ReturnType<typeof activate>;
  try {
    activation = activate({ ...parsed.options, environment: process.env, log });
  } catch (err) {
    const message = err instanceof ActivateError ? err.message : (err as Error).message;
    io.stderr.write(`sockunit activate: ${message}\n`);
    return 1;
  }
  const handlers = FORWARDED_SIGNALS.map((signal) => {
    const handler = (): void => activation.signal(signal);
    process.on(signal, handler);
    return [signal, handler] as const;
  });
  try {
    return await activation.done;
  } finally {
    for (const [signal, handler] of handlers) process.removeListener(signal, handler);
  }
}
