// The manager's end of sd_notify(3): one unix datagram socket with SO_PASSCRED, whose address is
// given to services as NOTIFY_SOCKET. Each datagram is parsed as systemd does (socket-units.md
// §5.3) and handed, with the sender's kernel-vouched pid, to whoever owns that pid. Garbage never
// reaches a unit and never stops the socket.

import { mkdirSync, unlinkSync } from 'node:fs';
import { dirname } from 'node:path';
import { AF_UNIX, SO_PASSCRED, SOCK_DGRAM, SOCK_NONBLOCK, SOL_SOCKET } from '../../sys/constants.js';
import { type Credentials, receiveMessage } from '../../sys/msg.js';
import { bind, closeQuietly, type Fd, setsockoptInt, socket } from '../../sys/socket.js';
import { type Watch, watchReadable } from '../../sys/watch.js';

/** systemd drops larger datagrams (PIPE_BUF). */
export const NOTIFY_MAX_BYTES = 4096;
/** systemd accepts at most this many fds in one message. */
export const NOTIFY_MAX_FDS = 768;
/** Datagrams read per wake-up, so a flood cannot starve the event loop. */
const MESSAGES_PER_WAKEUP = 64;

export interface NotifyMessage {
  /** Field name -> value; a repeated field keeps its last value, as systemd does. */
  fields: Map<string, string>;
  /** fds sent with SCM_RIGHTS (FDSTORE=1); the receiver owns them and must close what it keeps not. */
  fds: Fd[];
  sender: Credentials;
}

export type NotifyRejection = 'no-credentials' | 'too-large' | 'embedded-nul' | 'control-truncated';

export interface NotifySocketHooks {
  message(message: NotifyMessage): void;
  /** A datagram systemd would drop; logged by the caller. */
  rejected(reason: NotifyRejection, sender: Credentials | undefined): void;
}

/** Parse a notify datagram's text into fields (newline-separated `NAME=value`; lines without `=`
 * are ignored, as systemd ignores unknown content). */
export function parseNotifyText(text: string): Map<string, string> {
  const fields = new Map<string, string>();
  for (const line of text.split('\n')) {
    const eq = line.indexOf('=');
    if (eq <= 0) continue;
    fields.set(line.slice(0, eq), line.slice(eq + 1));
  }
  return fields;
}

export class NotifySocket {
  /** What services get as NOTIFY_SOCKET: a path, or `@name` for the abstract namespace. */
  readonly address: string;
  private fd: Fd | undefined;
  private watch: Watch | undefined;
  private readonly hooks: NotifySocketHooks;
  // Invalid UTF-8 does not drop a message: systemd checks it per field (STATUS= must be UTF-8).
  private readonly decoder = new TextDecoder('utf-8');

  constructor(address: string, hooks: NotifySocketHooks) {
    this.address = address;
    this.hooks = hooks;
  }

  open(): void {
    const fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK, 0);
    try {
      if (!this.address.startsWith('@')) {
        mkdirSync(dirname(this.address), { recursive: true, mode: 0o755 });
        try {
          unlinkSync(this.address);
        } catch {}
      }
      bind(fd, { family: 'unix', path: this.address });
      setsockoptInt(fd, SOL_SOCKET, SO_PASSCRED, 1, 'SO_PASSCRED');
    } catch (err) {
      closeQuietly(fd);
      throw err;
    }
    this.fd = fd;
    this.watch = watchReadable(fd, () => this.drain());
  }

  /** Read every datagram queued now. Also called before a main process's exit is handled: what
   * it sent before it died is in the queue, and must reach its service while its pid is still
   * the main pid (systemd, too, reads the notify socket before SIGCHLD). */
  drain(): void {
    const fd = this.fd;
    if (fd === undefined) return;
    for (let i = 0; i < MESSAGES_PER_WAKEUP; i++) {
      let msg: ReturnType<typeof receiveMessage>;
      try {
        // One byte more than the limit tells an oversize datagram from one of exactly 4096 bytes.
        msg = receiveMessage(fd, { maxBytes: NOTIFY_MAX_BYTES + 1, maxFds: NOTIFY_MAX_FDS });
      } catch {
        break;
      }
      if (!msg) break;
      this.dispatch(msg);
    }
    this.watch?.rearm();
  }

  private dispatch(msg: NonNullable<ReturnType<typeof receiveMessage>>): void {
    const reject = (reason: NotifyRejection) => {
      for (const f of msg.fds) closeQuietly(f);
      this.hooks.rejected(reason, msg.credentials);
    };
    let problem: NotifyRejection | undefined;
    if (!msg.credentials || msg.credentials.pid <= 0) problem = 'no-credentials';
    else if (msg.truncated || msg.data.length > NOTIFY_MAX_BYTES) problem = 'too-large';
    else if (msg.controlTruncated) problem = 'control-truncated';
    else if (msg.data.includes(0)) problem = 'embedded-nul';
    if (problem !== undefined || !msg.credentials) {
      reject(problem ?? 'no-credentials');
      return;
    }
    const text = this.decoder.decode(msg.data);
    this.hooks.message({ fields: parseNotifyText(text), fds: msg.fds, sender: msg.credentials });
  }

  close(): void {
    if (this.watch) this.watch.close();
    else closeQuietly(this.fd);
    this.watch = undefined;
    this.fd = undefined;
    if (!this.address.startsWith('@')) {
      try {
        unlinkSync(this.address);
      } catch {}
    }
  }
}
