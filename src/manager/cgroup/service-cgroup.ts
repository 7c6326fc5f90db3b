// One service's cgroup (or one Accept=yes instance's): made before its first process starts, its
// resource settings written, every process of the service started inside it (sys/cgroup-enter.ts),
// signalled as a whole, ended as systemd ends what a service leaves behind, counted for status,
// and removed once empty.

import { readFileSync } from 'node:fs';
import {
  allProcesses,
  type CgroupFigures,
  type CgroupPath,
  cgroupFigures,
  createCgroup,
  isPopulated,
  removeCgroup,
  signalCgroup,
  waitUntilEmpty,
  writeAttribute,
} from '../../sys/cgroup.js';
import { signalName, signalNumber } from '../../sys/process.js';
import type { KillContext } from '../../unit/exec-context.js';
import type { Logger } from '../log.js';
import type { CgroupAttribute } from './attributes.js';

/** A process of the cgroup, as `systemctl status` lists it under CGroup:. */
export interface CgroupProcess {
  pid: number;
  command: string;
}

/** At most this many processes are named in a log line or a status. */
const NAMED = 16;
const SIGCONT = signalNumber('SIGCONT');
const SIGKILL = signalNumber('SIGKILL');
/** How long the last SIGKILL is waited for: the kernel ends a killed process at once, unless it
 * sleeps uninterruptibly (D state), which no signal can hurry. */
const AFTER_SIGKILL_MS = 10_000;

export class ServiceCgroup {
  readonly path: CgroupPath;
  readonly dir: string;

  constructor(path: CgroupPath, dir: string) {
    this.path = path;
    this.dir = dir;
  }

  /** Make the cgroup (it may exist from a run before) and write `attributes`. A process still in
   * it from that run is reported as systemd reports it, and left alone. A refused write is warned
   * (the setting then has no effect) and the start goes on, as under systemd. Throws when the
   * cgroup cannot be made: the start then fails. */
  prepare(attributes: readonly CgroupAttribute[], log: Logger, unit: string): void {
    createCgroup(this.dir);
    for (const p of this.processes())
      log.warning(
        `${unit}: Found left-over process ${p.pid} (${p.command}) in control group while starting unit. Ignoring.`,
        unit,
      );
    for (const a of attributes) {
      try {
        writeAttribute(this.dir, a.file, a.value);
      } catch (err) {
        log.warning(
          `${unit}: Failed to set '${a.file}' attribute on '${this.path}' to '${a.value}' (${a.key}=): ${(err as Error).message}`,
          unit,
        );
      }
    }
  }

  signal(signal: number): number {
    return signalCgroup(this.dir, signal);
  }

  get populated(): boolean {
    return isPopulated(this.dir);
  }

  waitUntilEmpty(timeoutMs: number | undefined): Promise<boolean> {
    return waitUntilEmpty(this.dir, timeoutMs);
  }

  /** rmdir once nothing runs in it; false while something does. */
  remove(): boolean {
    try {
      return removeCgroup(this.dir);
    } catch {
      return false;
    }
  }

  figures(): CgroupFigures {
    return cgroupFigures(this.dir);
  }

  /** Its processes, by pid, with their command lines (`[comm]` when there is none). */
  processes(): CgroupProcess[] {
    return allProcesses(this.dir)
      .sort((a, b) => a - b)
      .map((pid) => ({ pid, command: commandLine(pid) }));
  }

  /**
   * End what is left in the cgroup once the main process is gone, as systemd's stop-sigterm and
   * final-sigterm states do: KillMode=control-group sends KillSignal= (and SIGCONT) to everything
   * left, mixed and control-group send FinalKillSignal= to what is still there after
   * `timeoutMs` (at once for mixed, whose KillSignal= is for the main process only), unless
   * SendSIGKILL=no. KillMode=process and none leave the rest running, as systemd does. Resolves
   * once the cgroup is empty or there is nothing more to do.
   */
  async endRemaining(
    kill: KillContext,
    timeoutMs: number | undefined,
    log: Logger,
    unit: string,
  ): Promise<void> {
    if (kill.killMode === 'process' || kill.killMode === 'none' || !this.populated) return;
    if (kill.killMode === 'control-group') {
      this.logKilling(log, unit, kill.killSignal.number);
      this.signal(kill.killSignal.number);
      this.signal(SIGCONT);
      if (await this.waitUntilEmpty(timeoutMs)) return;
    }
    if (!kill.sendSIGKILL) return;
    if (kill.killMode === 'control-group')
      log.warning(
        `${unit}: Processes still around after ${signalLabel(kill.killSignal.number)}. Killing.`,
        unit,
      );
    this.logKilling(log, unit, kill.finalKillSignal.number);
    this.signal(kill.finalKillSignal.number);
    if (await this.waitUntilEmpty(kill.finalKillSignal.number === SIGKILL ? AFTER_SIGKILL_MS : timeoutMs))
      return;
    log.error(
      `${unit}: Processes still around after final ${signalLabel(kill.finalKillSignal.number)}.`,
      unit,
    );
  }

  private logKilling(log: Logger, unit: string, signal: number): void {
    const left = this.processes();
    for (const p of left.slice(0, NAMED))
      log.info(`${unit}: Killing process ${p.pid} (${p.command}) with signal ${signalLabel(signal)}.`, unit);
    if (left.length > NAMED) log.info(`${unit}: … and ${left.length - NAMED} more processes.`, unit);
  }
}

function signalLabel(signal: number): string {
  const name = signalName(signal);
  return name ? `SIG${name}` : String(signal);
}

/** /proc/PID/cmdline as words, or `[comm]` for a process without one (a kernel thread, a zombie). */
function commandLine(pid: number): string {
  try {
    const words = readFileSync(`/proc/${pid}/cmdline`, 'latin1')
      .split('\0')
      .filter((w) => w !== '');
    if (words.length > 0) return words.join(' ');
    return `[${readFileSync(`/proc/${pid}/comm`, 'latin1').trim()}]`;
  } catch {
    return '?';
  }
}
