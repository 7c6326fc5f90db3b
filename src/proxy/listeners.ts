// Where `sockunit proxy` takes its listening sockets from: the fds of socket activation
// (LISTEN_FDS, as systemd-socket-proxyd takes them: every one must be a listening stream socket,
// i.e. a ListenStream= port of an Accept=no socket unit), and the ports of --listen, opened the
// way a ListenStream= line opens them (manager/socket/listen-spec.ts, as `sockunit activate` does).

import { type ListenFd, listenFds } from '../activation/listen-fds.js';
import { socketOptionsFor, specFor } from '../manager/socket/listen-spec.js';
import { isNoMptcpError } from '../mptcp/probe.js';
import { openSocket } from '../net/open.js';
import { formatSockAddr } from '../sys/sockaddr.js';
import { closeQuietly, type Fd, setNonBlocking } from '../sys/socket.js';
import { parseSocketAddress, type SocketListenDirective } from '../unit/listen.js';
import { defaultSocketSection, type SocketSection } from '../unit/socket-config.js';

export interface ProxyListener {
  fd: Fd;
  /** `127.0.0.1:8080`, `[::]:80`, `/run/app.sock`. */
  address: string;
  /** `tcp`, `mptcp`, or '' for unix sockets. */
  protocol: string;
  /** Passed through LISTEN_FDS rather than opened here. */
  inherited: boolean;
}

/** Thrown for anything the user must fix; `message` says what and how. */
export class ProxyError extends Error {
  override name = 'ProxyError';
}

/** The listening sockets passed by socket activation. Throws ProxyError for an fd that is not a
 * listening stream socket, naming it and what it is. */
export function passedListeners(): ProxyListener[] {
  let fds: readonly ListenFd[];
  try {
    fds = listenFds();
  } catch (err) {
    throw new ProxyError(`Failed to receive sockets from parent: ${(err as Error).message}`);
  }
  return fds.map(({ fd, name, description: d }) => {
    if (d.kind !== 'socket' || d.type !== 'stream' || !d.listening) {
      const what =
        d.kind !== 'socket'
          ? `a ${d.kind}`
          : d.type !== 'stream'
            ? `a ${d.type} socket`
            : 'a connection (Accept=yes passes connections)';
      throw new ProxyError(
        `Passed fd ${fd} (${name}) is not a listening stream socket but ${what}; sockunit proxy serves the ListenStream= ports of a socket unit with Accept=no.`,
      );
    }
    return {
      fd,
      address: d.local ? formatSockAddr(d.local) : '(unknown)',
      protocol: d.protocol ?? '',
      inherited: true,
    };
  });
}

/** Open each --listen value (ListenStream= syntax: PORT, ADDR:PORT, [IPV6]:PORT, /path, @name)
 * with `protocol` for IP ports. All or nothing: on a failure the ones opened are closed. */
export function openListeners(values: readonly string[], protocol: 'tcp' | 'mptcp'): ProxyListener[] {
  const opened: ProxyListener[] = [];
  try {
    for (const value of values) opened.push(openListener(value, protocol));
  } catch (err) {
    for (const l of opened) closeQuietly(l.fd);
    throw err;
  }
  return opened;
}

function openListener(value: string, protocol: 'tcp' | 'mptcp'): ProxyListener {
  let directive: SocketListenDirective;
  try {
    directive = { kind: 'stream', address: parseSocketAddress(value) };
  } catch (err) {
    throw new ProxyError(`--listen=${value}: ${(err as Error).message}`);
  }
  const section: SocketSection = { ...defaultSocketSection(), listen: [directive] };
  if (protocol === 'mptcp') section.socketProtocol = 'mptcp';
  const spec = specFor(directive, section, socketOptionsFor(section));
  if (protocol === 'mptcp' && spec.kind === 'socket' && spec.family !== 'inet' && spec.family !== 'inet6')
    throw new ProxyError(
      `--listen=${value}: MPTCP runs over IP only; give [ADDR:]PORT, or drop --protocol=mptcp`,
    );
  try {
    const s = openSocket(spec);
    return {
      fd: s.fd,
      address: s.address ? formatSockAddr(s.address) : value,
      protocol: spec.kind === 'socket' ? (spec.protocol ?? (spec.family === 'unix' ? '' : 'tcp')) : '',
      inherited: false,
    };
  } catch (err) {
    const hint = isNoMptcpError(err) ? '; or listen with --protocol=tcp' : '';
    throw new ProxyError(`Failed to listen on ${value}: ${(err as Error).message}${hint}`);
  }
}

/** The relay thread accepts without blocking (systemd-socket-proxyd sets the flag too): another
 * process sharing the listener may take a connection between the wake-up and the accept. */
export function prepareListeners(listeners: readonly ProxyListener[]): void {
  for (const l of listeners) setNonBlocking(l.fd, true);
}
