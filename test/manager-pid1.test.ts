// `sockunit run` as PID 1 of a container (a new PID namespace): orphans re-parented to it are
// reaped (no zombie stays), and SIGTERM to PID 1, which the kernel only delivers to a namespace's
// init when it has a handler, shuts it down cleanly with exit status 0.

import assert from 'node:assert/strict';
import { readdirSync, readFileSync, readlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import {
  connectTcp,
  freePort,
  ManagerProcess,
  processesWith,
  rootUnavailable,
  SYSTEM_PYTHON,
  tempDir,
  waitUntil,
} from './fixtures/manager/harness.js';

interface ProcInfo {
  pid: number;
  ppid: number;
  state: string;
  comm: string;
}

function procInfo(pid: number): ProcInfo | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const close = stat.lastIndexOf(')');
    const [state, ppid] = stat.slice(close + 2).split(' ');
    return { pid, ppid: Number(ppid), state: state ?? '?', comm: stat.slice(stat.indexOf('(') + 1, close) };
  } catch {
    return undefined;
  }
}

/** Host pids of every process in the PID namespace whose init is `init` (seen from outside). */
function namespaceProcesses(init: number): ProcInfo[] {
  const ns = readlinkSync(`/proc/${init}/ns/pid`);
  const out: ProcInfo[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readlinkSync(`/proc/${entry}/ns/pid`) !== ns) continue;
    } catch {
      continue;
    }
    const info = procInfo(Number(entry));
    if (info) out.push(info);
  }
  return out;
}

function childrenOf(pid: number, tid = pid): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${tid}/children`, 'utf8')
      .trim()
      .split(/\s+/)
      .filter(Boolean)
      .map(Number);
  } catch {
    return [];
  }
}

describe('sockunit run as PID 1 in a new PID namespace', () => {
  let manager: ManagerProcess | undefined;
  after(async () => {
    await manager?.dispose();
  });

  test('reaps an orphaned grandchild and exits 0 on SIGTERM', async (t) => {
    const why = rootUnavailable();
    if (why) return t.skip(why);
    const port = await freePort();
    const dir = tempDir('pid1');
    const go = join(dir, 'go');
    manager = await ManagerProcess.start({
      dir,
      wrapper: ['unshare', '--pid', '--fork', '--mount-proc', '--kill-child'],
      args: ['--log-level=debug'],
      units: {
        // Accept=yes: the connection is taken at once, so nothing re-triggers while we watch.
        'orphan.socket': `[Socket]\nListenStream=127.0.0.1:${port}\nAccept=yes\n`,
        // The service exits at once, leaving a grandchild that outlives it (re-parented to PID 1)
        // until the test says go (at most 30 s): the test waits for events, never for a time.
        'orphan@.service': `[Service]\nExecStart=/bin/sh -c '(i=0; while [ ! -e ${go} ] && [ $$i -lt 600 ]; do sleep 0.05; i=$$((i+1)); done) & echo spawned; exit 0'\n`,
      },
    });
    const unsharePid = manager.pid;
    const init = await waitUntil('the namespace init', () => childrenOf(unsharePid)[0]);
    assert.equal(procInfo(init)?.comm, 'node', 'node is the init of the namespace');

    (await connectTcp(port)).destroy();
    await manager.waitFor(/^orphan@0-.*\.service: Deactivated successfully\.$/);
    const adopted = await waitUntil('the orphan re-parented to PID 1', () => {
      const orphan = namespaceProcesses(init).find(
        (p) => p.pid !== init && p.ppid === init && p.state !== 'Z',
      );
      return orphan;
    });
    assert.ok(adopted, 'the grandchild now belongs to the manager');
    writeFileSync(go, '');
    await waitUntil(
      'the orphan reaped (nothing but PID 1 left, no zombie)',
      () => {
        const left = namespaceProcesses(init).filter((p) => p.pid !== init);
        return left.length === 0 ? true : undefined;
      },
      6000,
    );
    // The line comes through the manager's stdout pipe: it may still be on its way when /proc
    // already shows the orphan gone.
    await manager.waitFor(/Reaped orphan \d+\./, 3000);

    process.kill(init, 'SIGTERM');
    const { code } = await manager.stop(null);
    assert.equal(code, 0, `unshare passes on PID 1's exit status:\n${manager.log}`);
    await manager.waitFor(/^sockunit: stopped\.$/);
  });
});

describe('sockunit run as a child subreaper under a storm of orphans', () => {
  let manager: ManagerProcess | undefined;
  after(async () => {
    await manager?.dispose();
  });

  test('1,000 orphans made as fast as a service can: every zombie is reaped, none piles up', async () => {
    const port = await freePort();
    const dir = tempDir('orphans');
    const orphans = 1000;
    writeFileSync(
      join(dir, 'orphans.py'),
      [
        'import os, sys, time',
        // Each round: a child that forks a grandchild and exits at once; the grandchild exits
        // too, and is re-parented (as a zombie, or to become one) to the subreaper.
        'for i in range(int(sys.argv[1])):',
        '    pid = os.fork()',
        '    if pid == 0:',
        '        os.fork()',
        '        os._exit(0)',
        '    os.waitpid(pid, 0)',
        'print("made all orphans", flush=True)',
        'time.sleep(60)',
        '',
      ].join('\n'),
    );
    manager = await ManagerProcess.start({
      dir,
      // Made a subreaper before node starts (prctl PR_SET_CHILD_SUBREAPER survives execve).
      wrapper: [
        SYSTEM_PYTHON,
        '-c',
        'import ctypes, os, sys; assert ctypes.CDLL(None, use_errno=True).prctl(36, 1, 0, 0, 0) == 0; os.execv(sys.argv[1], sys.argv[1:])',
      ],
      units: {
        'storm.socket': `[Socket]\nListenStream=127.0.0.1:${port}\n`,
        'storm.service': `[Service]\nExecStart=${SYSTEM_PYTHON} ${dir}/orphans.py ${orphans}\n`,
      },
    });
    const pid = manager.pid;
    (await connectTcp(port)).destroy();
    await manager.waitFor(/^storm\.service\[\d+\]: made all orphans$/, 60_000);
    // Bounded by the event, not by a rate: the old one-second tick of 64 needed 16 s for these.
    await waitUntil(
      'no zombie left among the manager children',
      () => (zombieChildren(pid).length === 0 ? true : undefined),
      8000,
    );
    assert.ok(manager.running, 'the manager lives');
    const service = processesWith(`${dir}/orphans.py`);
    assert.equal(service.length, 1, 'its own service is still running, not reaped by mistake');
  });
});

/** Children of `pid` (any of its threads) that are zombies. */
function zombieChildren(pid: number): number[] {
  const out: number[] = [];
  let tasks: string[];
  try {
    tasks = readdirSync(`/proc/${pid}/task`);
  } catch {
    return out;
  }
  for (const tid of tasks) {
    for (const child of childrenOf(pid, Number(tid))) if (procInfo(child)?.state === 'Z') out.push(child);
  }
  return out;
}
