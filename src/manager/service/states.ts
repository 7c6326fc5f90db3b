// The states of a service unit, as systemd names them (service.c's SERVICE_* states), the
// active state each one shows as, and what a start is handed by the socket side.

import type { Fd } from '../../sys/socket.js';

export type ServiceState =
  | 'dead'
  | 'condition'
  | 'start-pre'
  | 'start'
  | 'start-post'
  | 'running'
  | 'reload'
  | 'exited'
  | 'stop'
  | 'stop-sigterm'
  | 'stop-sigkill'
  | 'stop-post'
  | 'auto-restart'
  | 'failed';

export type ActiveState = 'inactive' | 'activating' | 'active' | 'deactivating' | 'failed';

export function activeStateOf(state: ServiceState): ActiveState {
  switch (state) {
    case 'dead':
      return 'inactive';
    case 'failed':
      return 'failed';
    case 'running':
    case 'reload':
    case 'exited':
      return 'active';
    case 'condition':
    case 'start-pre':
    case 'start':
    case 'start-post':
    case 'auto-restart':
      return 'activating';
    default:
      return 'deactivating';
  }
}

/** An fd handed to a service, with the name it gets in LISTEN_FDNAMES. */
export interface PassedFd {
  fd: Fd;
  name: string;
}

/** What a start needs from the socket side: the fds (Accept=no: every triggering socket's ports;
 * Accept=yes: the connection), the extra protocol variables, and the flag NonBlocking= asks for. */
export interface StartRequest {
  fds: PassedFd[];
  environment?: Record<string, string>;
  /** StandardInput=socket: the single fd becomes stdin/stdout instead of LISTEN_FDS. */
  connection?: Fd;
}
