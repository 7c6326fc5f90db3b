// The service side of socket activation: `import { listenFds, listen, notify } from 'sockunit'`.

export type {
  FdDescription,
  FileDescription,
  SocketDescription,
} from '../net/describe.js';
export {
  connectionSocket,
  datagramSockets,
  type ListenFallback,
  type ListenOptions,
  type ListenResult,
  listen,
  rawFds,
  streamListeners,
} from './listen.js';
export {
  LISTEN_ENVIRONMENT,
  LISTEN_FDS_START,
  type ListenFd,
  ListenFdsError,
  type ListenFdsOptions,
  listenFds,
  resetListenFdsCache,
} from './listen-fds.js';
export {
  errno,
  extendTimeout,
  fdStore,
  fdStoreRemove,
  formatNotifyMessage,
  mainPid,
  monotonicUsec,
  NOTIFY_MAX_BYTES,
  type NotifyFields,
  type NotifyOptions,
  notify,
  notifyAddress,
  ready,
  reloading,
  status,
  stopping,
  watchdog,
  watchdogTrigger,
} from './notify.js';
export {
  type StartWatchdogOptions,
  startWatchdog,
  type WatchdogOptions,
  type WatchdogTimer,
  watchdogEnabled,
} from './watchdog.js';
