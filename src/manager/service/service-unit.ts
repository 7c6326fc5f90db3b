// Room manager/service/: a service unit's life — its states (states.ts) and state machine
// (lifecycle.ts), what its processes tell it over sd_notify and how it reloads (this file), how its
// commands run (commands.ts), Restart= (restart-policy.ts), the notify socket and its routing
// (notify-socket.ts, notify-router.ts; who may talk, timers: notify-rules.ts; what a message
// says: notification.ts), the fd store (fd-store.ts) and Type=forking daemons (forked-daemon.ts).
//
// ServiceUnit: the state machine of lifecycle.ts, plus what the service's processes tell it
// (READY=1, RELOADING=1, STOPPING=1, STATUS=, MAINPID=, WATCHDOG=, FDSTORE=…) and its reloads
// (ExecReload=, or Type=notify-reload's signal then RELOADING=1 … READY=1).

import type { Credentials } from '../../sys/msg.js';
import type { Fd } from '../../sys/socket.js';
import { formatSeconds, ServiceLifecycle, type ServiceUnitOptions } from './lifecycle.js';
import { applyFdStore, parseMainPid, readNotification } from './notification.js';
import { Deadline, followPid, type NotifyPids, sessionOf } from './notify-rules.js';
import type { ServiceState } from './states.js';

export type { ServiceUnitOptions };

export class ServiceUnit extends ServiceLifecycle {
  /** Who may talk for this service now, for the manager's routing and NotifyAccess= check. */
  notifyPids(): NotifyPids {
    return {
      access: this.config.service.notifyAccess,
      mainPid: this.mainPid,
      controlPids: this.commands.controlPids,
      sessions: this.commands.sessions,
    };
  }

  /** An sd_notify message the manager accepted for this service (NotifyAccess= already checked).
   * Takes ownership of `fds`: stored or closed. */
  handleNotification(fields: ReadonlyMap<string, string>, fds: Fd[], sender: Credentials): void {
    this.notifications++;
    const n = readNotification(fields);
    const s = this.config.service;
    const notifyType = s.type === 'notify' || s.type === 'notify-reload';
    if (n.mainPid !== undefined) this.changeMainPid(n.mainPid, sender);
    if (n.stopping) {
      if (this.state === 'running' || this.state === 'reload') {
        this.log.info(`${this.name}: Service is stopping (STOPPING=1).`, this.name);
        this.setState('stop-sigterm');
      }
    } else {
      if (n.reloading) {
        if (this.state === 'running') {
          this.log.info(`Reloading ${this.describe()}...`, this.name);
          this.setState('reload');
        }
        if (this.state === 'reload') this.reloadingSeen = true;
      }
      if (n.ready) {
        if (notifyType && this.state === 'start') this.startWaiter?.('ready');
        else if (this.state === 'reload' && this.reloadingSeen) {
          this.reloadingSeen = false;
          this.setState('running');
          this.log.info(`Reloaded ${this.describe()}.`, this.name);
          this.reloadWaiter?.();
        }
      }
    }
    if (n.status !== undefined) this.statusText = n.status === '' ? undefined : n.status;
    if (n.errno !== undefined) this.statusErrno = n.errno;
    if (n.extendTimeoutUsec !== undefined && this.deadline) {
      this.log.debug(
        `${this.name}: Timeout extended by ${formatSeconds(n.extendTimeoutUsec)} (EXTEND_TIMEOUT_USEC=).`,
        this.name,
      );
      this.deadline.extend(n.extendTimeoutUsec / 1000);
    }
    if (n.watchdog === 'ping') this.watchdog?.ping();
    else if (n.watchdog === 'trigger') this.watchdogExpired(true);
    if (n.watchdogUsec !== undefined && this.main) {
      if (this.watchdog) this.watchdog.setPeriod(n.watchdogUsec);
      else this.startWatchdog(n.watchdogUsec);
    }
    applyFdStore(n, fds, this.fdStore, this.log, this.name);
  }

  /** MAINPID=: the service names another process as its main one (a daemon it forked). Taken
   * from root, or when that process runs in one of the service's sessions. */
  private changeMainPid(text: string, sender: Credentials): void {
    const pid = parseMainPid(text);
    if (pid === undefined) {
      this.log.warning(
        `${this.name}: Failed to parse MAINPID=${text} field in notification message, ignoring.`,
        this.name,
      );
      return;
    }
    if (pid === this.mainPid) return;
    if (!['start', 'start-post', 'running', 'reload', 'stop', 'stop-sigterm'].includes(this.state)) return;
    const session = sessionOf(pid);
    if (session === undefined) {
      this.log.warning(`${this.name}: New main PID ${pid} does not exist or is a zombie.`, this.name);
      return;
    }
    if (sender.uid !== 0 && !this.commands.sessions.has(session)) {
      this.log.warning(
        `${this.name}: New main PID ${pid} does not belong to service, and PID ${sender.pid} is not privileged, refusing.`,
        this.name,
      );
      return;
    }
    const proc = followPid(pid, session);
    this.main = proc;
    this.mainPid = pid;
    this.commands.sessions.add(session);
    void proc.exit.then((exit) => this.onMainExit(proc, exit));
    this.log.info(`${this.name}: Main PID changed to ${pid} (MAINPID=).`, this.name, { pid });
  }

  /** ExecReload=: each command in turn with $MAINPID, in state `reload`, under
   * TimeoutStartSec=, as systemd runs them; a failing command ends the reload (the service keeps
   * running, as under systemd) and is reported. */
  private async reloadByCommands(): Promise<void> {
    const s = this.config.service;
    if (s.execReload.length === 0)
      throw new Error(
        `Job type reload is not applicable for unit ${this.name} (no ExecReload=); use restart`,
      );
    if (this.state !== 'running' && this.state !== 'exited')
      throw new Error(`${this.name} is not active (state ${this.state})`);
    const back = this.state;
    this.log.info(`Reloading ${this.describe()}...`, this.name);
    this.setState('reload');
    const extra: Record<string, string> = this.mainPid !== undefined ? { MAINPID: String(this.mainPid) } : {};
    let ok = true;
    for (const cmd of s.execReload)
      if (!(await this.commands.run(cmd, 'ExecReload', undefined, extra, this.startTimeoutMs()))) {
        ok = false;
        break;
      }
    if ((this.state as ServiceState) === 'reload') this.setState(back);
    if (!ok) {
      this.log.warning(
        `${this.name}: Reload failed (ExecReload= did not succeed); it keeps running.`,
        this.name,
      );
      throw new Error('ExecReload= failed; the service keeps running as it was');
    }
    this.log.info(`Reloaded ${this.describe()}.`, this.name);
  }

  /** Type=notify-reload: ReloadSignal= to the main process, then RELOADING=1 … READY=1 within
   * TimeoutStartSec=. Throws when the unit cannot be reloaded this way or the reload timed out. */
  async reload(): Promise<void> {
    const s = this.config.service;
    if (s.type !== 'notify-reload') return this.reloadByCommands();
    const main = this.main;
    if (this.state !== 'running' || !main)
      throw new Error(`${this.name} is not running (state ${this.state})`);
    this.reloadingSeen = false;
    this.log.info(`Reloading ${this.describe()}...`, this.name);
    this.setState('reload');
    const done = new Promise<void>((resolve) => {
      this.reloadWaiter = resolve;
    });
    const deadline = new Deadline(this.startTimeoutMs());
    this.deadline = deadline;
    main.signal(s.reloadSignal.number, false);
    const r = await deadline.race(Promise.race([done, main.exit]));
    deadline.cancel();
    this.deadline = undefined;
    this.reloadWaiter = undefined;
    if (r === 'timeout') {
      this.log.warning(`${this.name}: Reload operation timed out (no RELOADING=1 … READY=1).`, this.name);
      if ((this.state as ServiceState) === 'reload') this.setState('running');
      throw new Error(
        `${this.name}: reload timed out after TimeoutStartSec=; the service did not send RELOADING=1 then READY=1`,
      );
    }
  }
}
