// PrivateUsers= (systemd.exec(5)): the service runs in a user namespace of its own where only
// root and its own user and group are mapped (to themselves), everything else being nobody.
//
// The maps of a new user namespace can be written only from outside it, by a process with
// CAP_SETUID/CAP_SETGID in the parent namespace; the process that made the namespace has lost
// those there. systemd forks a helper next to the service that waits for the unshare and writes
// them. Here the manager is that process, and the exec-context helper's steps (after the group
// change, before the user change, where systemd's executor sets the namespace up) talk to it
// through two one-page pipes the manager made for this start and opens again through
// /proc/MANAGER/fd/N:
//   1. open both pipes' write ends (before the unshare: /proc/MANAGER is out of reach after it);
//   2. unshare(CLONE_NEWUSER);
//   3. write a byte to the first pipe: the manager is woken up (it watches the read end);
//   4. write a byte to the second, which the manager filled: the write blocks until the manager
//      has written setgroups ("deny"), gid_map and uid_map, and then drains it.
// The helper has no read(2) or wait; a write into a full pipe is its way to wait. Should the
// manager never answer (it died), PR_SET_PDEATHSIG ends the process; should it fail to write the
// maps, it closes the pipe and the write fails.

import { writeFileSync, writeSync } from 'node:fs';
import { closePipe, openPipe, type Pipe } from '../../sys/relay.js';
import { closeQuietly, readSome } from '../../sys/socket.js';
import type { ScriptStep } from '../../sys/syscall-script.js';
import { type Watch, watchReadable } from '../../sys/watch.js';
import type { Logger } from '../log.js';
import { EXIT } from './setup-error.js';

const AT_FDCWD = -100;
const O_WRONLY = 1;
const O_CLOEXEC = 0o2000000;
const CLONE_NEWUSER = 0x10000000;
const PAGE = 4096;

/** The maps systemd writes: root and the service's uid/gid to themselves (the manager's own ids
 * for a manager that is not root, which may map only itself). */
export function userNamespaceMaps(
  uid: number,
  gid: number,
  managerUid: number,
  managerGid: number,
): { uidMap: string; gidMap: string } {
  const map = (own: number, id: number) =>
    own === id ? `${own} ${own} 1\n` : `${own} ${own} 1\n${id} ${id} 1\n`;
  return { uidMap: map(managerUid, uid), gidMap: map(managerGid, gid) };
}

/** One process's user namespace set-up: its steps for the exec-context helper, and the
 * manager's side, armed once the process is spawned. */
export class PrivateUsersHandshake {
  private readonly wake: Pipe;
  private readonly gate: Pipe;
  private watch: Watch | undefined;
  private closed = false;
  /** The pipes' ends the manager still holds. */
  private readonly fds = new Set<number>();
  private readonly maps: { uidMap: string; gidMap: string };
  private readonly unit: string;
  private readonly log: Logger | undefined;

  constructor(unit: string, maps: { uidMap: string; gidMap: string }, log?: Logger) {
    this.unit = unit;
    this.maps = maps;
    this.log = log;
    this.wake = openPipe(PAGE);
    try {
      this.gate = openPipe(PAGE);
    } catch (err) {
      closePipe(this.wake);
      throw err;
    }
    for (const fd of [this.wake.read, this.wake.write, this.gate.read, this.gate.write]) this.fds.add(fd);
    // Full, so the process's one-byte write waits for the manager.
    const page = Buffer.alloc(this.gate.size, 0x2e);
    try {
      while (writeSync(this.gate.write, page) > 0);
    } catch {} // EAGAIN: full
  }

  /** The exec-context helper's steps. `procPrefix` is how the process reaches the manager's
   * /proc at that point: `/proc`, or `proc` relative to the host's `/` inside RootDirectory=. */
  steps(procPrefix: string): ScriptStep[] {
    const fail = (what: string) => ({ failStatus: EXIT.USER, message: `PrivateUsers=: ${what}` });
    const reopen = (fd: number) => `${procPrefix}/${process.pid}/fd/${fd}`;
    return [
      {
        call: 'openat',
        args: [AT_FDCWD, { data: reopen(this.wake.write) }, O_WRONLY | O_CLOEXEC],
        slot: 14,
        ...fail("cannot reach the manager's pipe"),
      },
      {
        call: 'openat',
        args: [AT_FDCWD, { data: reopen(this.gate.write) }, O_WRONLY | O_CLOEXEC],
        slot: 15,
        ...fail("cannot reach the manager's pipe"),
      },
      { call: 'unshare', args: [CLONE_NEWUSER], ...fail('cannot make a user namespace (unshare)') },
      {
        call: 'write',
        args: [{ result: 14 }, { data: Buffer.from('u') }, 1],
        ...fail('cannot wake the manager'),
      },
      {
        call: 'write',
        args: [{ result: 15 }, { data: Buffer.from('g') }, 1],
        ...fail('the manager did not write the uid and gid maps'),
      },
      { call: 'close', args: [{ result: 14 }], ...fail('close') },
      { call: 'close', args: [{ result: 15 }], ...fail('close') },
    ];
  }

  /** The process is spawned: write its maps when it says it has unshared. */
  started(pid: number): void {
    if (this.closed) return;
    this.watch = watchReadable(this.wake.read, () => {
      const got = readSome(this.wake.read, Buffer.alloc(16));
      if (got === undefined) this.watch?.rearm();
      else this.answer(pid, got);
    });
  }

  private answer(pid: number, got: number): void {
    this.stopWatching(); // closes the wake pipe's read end
    this.closeFd(this.wake.write);
    if (got === 0) {
      this.close(); // it ended before the unshare
      return;
    }
    try {
      // The order the kernel asks for: setgroups before gid_map (a gid_map written without
      // "deny" would leave setgroups(2) open in the namespace), and each map written once.
      writeFileSync(`/proc/${pid}/setgroups`, 'deny');
      writeFileSync(`/proc/${pid}/gid_map`, this.maps.gidMap);
      writeFileSync(`/proc/${pid}/uid_map`, this.maps.uidMap);
    } catch (err) {
      // Closing the gate's last reader fails the process's waiting write (EPIPE): its step exits
      // with 217/USER naming PrivateUsers=, as systemd's start fails.
      this.log?.error(
        `${this.unit}: PrivateUsers=: cannot write the uid/gid maps of pid ${pid}: ${(err as Error).message} (mapping root takes CAP_SETUID, CAP_SETGID and CAP_SETFCAP)`,
        this.unit,
      );
      this.close();
      return;
    }
    // The process has both write ends open by now: the manager's own go, so the gate's read
    // end sees the end of file when the process closes its end. It stays open until then: a
    // writer woken by the drain that found no reader left would get EPIPE.
    this.closeFd(this.gate.write);
    this.drainGate();
  }

  /** Reads the gate empty (which lets the process's write through), then until the end of file:
   * the process may have written and closed its end before this runs. */
  private drainGate(): void {
    const page = Buffer.alloc(PAGE);
    for (;;) {
      const n = readSome(this.gate.read, page);
      if (n === 0) {
        this.close();
        return;
      }
      if (n !== undefined) continue;
      if (this.watch) this.watch.rearm();
      else this.watch = watchReadable(this.gate.read, () => this.drainGate());
      return;
    }
  }

  private stopWatching(): void {
    const w = this.watch;
    this.watch = undefined;
    if (w) {
      this.fds.delete(w.fd);
      w.close();
    }
  }

  private closeFd(fd: number): void {
    if (this.fds.delete(fd)) closeQuietly(fd);
  }

  /** Everything closed (the process has gone on, ended, or never started). */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.stopWatching();
    for (const fd of [...this.fds]) this.closeFd(fd);
  }
}
