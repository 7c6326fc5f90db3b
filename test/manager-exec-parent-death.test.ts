// A change of user clears PR_SET_PDEATHSIG, which the LISTEN_PID helper arms so that the processes
// a manager starts die with it (manager-crash.test.ts). The exec-context helper arms it again
// after its setresuid: a User= service — on the main thread and an Accept=yes instance on the
// accept thread — still ends when its manager is killed with SIGKILL.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { killManagerAndWaitForItsProcesses } from './fixtures/manager/crash.js';
import {
  connectTcp,
  freePort,
  managerSuite,
  processesWith,
  rootUnavailable,
} from './fixtures/manager/harness.js';
import { procFacts } from './fixtures/manager/proc.js';

const NOBODY = 65534;

describe('a User= service and a manager killed with SIGKILL', () => {
  const suite = managerSuite('exec-pdeath');

  test('the service, run as another user, ends with the manager, on both threads', async (t) => {
    const why = rootUnavailable();
    if (why) return t.skip(why);
    const main = await freePort();
    const accept = await freePort();
    const tag = `${process.pid}${Date.now() % 100_000}`;
    // sleep's argument marks each process in ps; it prints its pid first.
    const markers = [`1${tag}.5`, `2${tag}.5`];
    const service = (marker: string) =>
      [
        '[Service]',
        'User=nobody',
        'StandardInput=socket',
        `ExecStart=/bin/sh -c 'echo $$$$; exec sleep ${marker}'`,
        '',
      ].join('\n');
    const m = await suite.start(
      () => ({
        'one.socket': `[Socket]\nListenStream=127.0.0.1:${main}\nAccept=yes\n`,
        // ExecStartPre= keeps this template on the main thread (see plan.ts).
        'one@.service': service(markers[0] as string).replace(
          '[Service]',
          '[Service]\nExecStartPre=/bin/true',
        ),
        'two.socket': `[Socket]\nListenStream=127.0.0.1:${accept}\nAccept=yes\n`,
        'two@.service': service(markers[1] as string),
      }),
      { args: ['--log-level=debug'] },
    );
    try {
      await m.waitFor(/^two\.socket: instances start on the accept thread\.$/);
      await m.waitFor(/^one\.socket: instances start on the main thread/);
      const pids: number[] = [];
      const sockets = [];
      for (const port of [main, accept]) {
        const socket = await connectTcp(port);
        sockets.push(socket);
        pids.push(
          await new Promise<number>((resolve, reject) => {
            socket.once('data', (d: Buffer) => resolve(Number(d.toString().trim())));
            socket.once('error', reject);
          }),
        );
      }
      for (const pid of pids) assert.equal(procFacts(pid).uid, NOBODY, 'the user changed');

      // Bounded by the event: both instances end with their manager.
      await killManagerAndWaitForItsProcesses(m, markers);
      for (const s of sockets) s.destroy();
    } finally {
      for (const k of markers) for (const pid of processesWith(k)) process.kill(pid, 'SIGKILL');
    }
  });
});
