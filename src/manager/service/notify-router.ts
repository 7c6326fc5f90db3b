// The manager's notify socket and where its messages go: each datagram (notify-socket.ts) is
// routed to the service its sender belongs to — by main pid, then control pid, then
// (NotifyAccess=all) session — checked against NotifyAccess= (notify-rules.ts), and handed to
// that service; refusals are logged in systemd's words and counted.

import { closeQuietly } from '../../sys/socket.js';
import type { Logger } from '../log.js';
import { belongsTo, checkNotifyAccess, defaultNotifySocketAddress, sessionOf } from './notify-rules.js';
import { type NotifyMessage, type NotifyRejection, NotifySocket } from './notify-socket.js';
import type { ServiceUnit } from './service-unit.js';

export class NotifyRouter {
  /** sd_notify messages taken, and refused (no such service, NotifyAccess=, malformed). */
  readonly counts = { accepted: 0, refused: 0 };
  private socket: NotifySocket | undefined;
  private readonly log: Logger;
  private readonly services: () => Iterable<ServiceUnit>;

  constructor(log: Logger, services: () => Iterable<ServiceUnit>) {
    this.log = log;
    this.services = services;
  }

  /** The socket's address once it is open (what services get as NOTIFY_SOCKET). */
  get address(): string | undefined {
    return this.socket?.address;
  }

  /** Open the notify socket. Without it services run, but none gets NOTIFY_SOCKET, so a
   * Type=notify service will fail its start timeout: logged as an error. */
  open(address: string = defaultNotifySocketAddress()): void {
    const socket = new NotifySocket(address, {
      message: (m) => this.route(m),
      rejected: (reason, sender) => this.rejected(reason, sender?.pid),
    });
    try {
      socket.open();
      this.socket = socket;
    } catch (err) {
      this.log.error(
        `Cannot open the notify socket ${address}: ${(err as Error).message}; services get no NOTIFY_SOCKET (Type=notify services will time out).`,
      );
    }
  }

  close(): void {
    this.socket?.close();
    this.socket = undefined;
  }

  /** What a ServiceUnit needs from the socket: its address, and a way to take queued messages. */
  serviceOptions(): { notifySocket?: string; drainNotifications?: () => void } {
    const socket = this.socket;
    if (!socket) return {};
    return { notifySocket: socket.address, drainNotifications: () => socket.drain() };
  }

  private rejected(reason: NotifyRejection, pid: number | undefined): void {
    this.counts.refused++;
    const what: Record<NotifyRejection, string> = {
      'no-credentials': 'without sender credentials',
      'too-large': 'larger than 4096 bytes',
      'embedded-nul': 'with an embedded NUL byte',
      'control-truncated': 'with truncated control data (too many fds?)',
    };
    this.log.warning(
      `Got notification message ${what[reason]}${pid !== undefined ? ` from PID ${pid}` : ''}, ignoring.`,
    );
  }

  /** Route a message to the service its sender belongs to, by pid: main pid first, then control
   * processes, then (NotifyAccess=all) the sessions the service's processes run in. */
  private route(message: NotifyMessage): void {
    const pid = message.sender.pid;
    const services = [...this.services()];
    let owner =
      services.find((s) => s.mainPid === pid) ?? services.find((s) => s.notifyPids().controlPids.has(pid));
    let session: number | undefined;
    if (!owner) {
      session = sessionOf(pid);
      owner = services.find((s) => belongsTo(s.notifyPids(), pid, session));
    }
    const refuse = (line: string, unit?: string) => {
      this.counts.refused++;
      for (const fd of message.fds) closeQuietly(fd);
      this.log.warning(line, unit);
    };
    if (!owner) {
      refuse(`Cannot find unit for notify message of PID ${pid}, ignoring.`);
      return;
    }
    const verdict = checkNotifyAccess(owner.notifyPids(), pid, session ?? sessionOf(pid));
    if (!verdict.accepted) {
      refuse(`${owner.name}: ${verdict.reason}`, owner.name);
      return;
    }
    this.counts.accepted++;
    owner.handleNotification(message.fields, message.fds, message.sender);
  }
}
