// The execution environment of systemd.exec(5) as `sockunit run` gives it, checked from outside
// the service: /proc/PID/{status,limits,stat,oom_score_adj,coredump_filter,timerslack_ns,
// personality}, sched_getaffinity and the I/O priority of the running main process — a shell that
// execs a C program, a Node program, an Accept=yes instance started on the accept thread — and of
// every control command (ExecStartPre=/Post=, ExecReload=, ExecStop=, ExecStopPost=), whose
// /proc/self the kernel fills in. And the bad input of issue 17: a start fails with systemd's
// exit status and a log line naming the key, the value and what to change.

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { parseProcLimits } from '../src/manager/exec/manager-powers.js';
import type { ResourceLimit, RlimitName } from '../src/unit/exec-context.js';
import {
  BIN,
  connectTcp,
  freePort,
  managerSuite,
  rootUnavailable,
  waitUntil,
} from './fixtures/manager/harness.js';
import { openOutDir } from './fixtures/manager/out-dir.js';
import { capMask, procFacts, SIGPIPE_MASK } from './fixtures/manager/proc.js';

const CAP_NET_BIND_SERVICE = 10;
const CAP_NET_RAW = 13;
const CAP_SYS_ADMIN = 21;
const NOBODY = 65534;
const NOGROUP = 65534;
const ADM = 4;
/** personality(2): PER_LINUX32, what this machine's 32-bit Personality= gives. */
const PER_LINUX32 = 8;
const SECONDARY = process.arch === 'arm64' ? 'arm' : 'x86';
const SCHED_BATCH = 3;

/** What a Limit*= gives under this manager (the test's parent of it, with the same limits and
 * capabilities): the value asked for, or — above the manager's hard limit without
 * CAP_SYS_RESOURCE, as on a machine whose root lacks it — that value clamped, as systemd's
 * setrlimit_closest() clamps it. */
function expectedLimit(name: RlimitName, soft: number, hard: number): ResourceLimit {
  const own = parseProcLimits(readFileSync('/proc/self/limits', 'utf8'))[name];
  const capEff = BigInt(
    `0x${/^CapEff:\s*([0-9a-f]+)$/m.exec(readFileSync('/proc/self/status', 'utf8'))?.[1] ?? '0'}`,
  );
  const canRaise = (capEff & (1n << 24n)) !== 0n;
  if (hard <= own.hard || canRaise) return { soft, hard };
  return { soft: Math.min(soft, own.hard), hard: Math.min(hard, own.hard) };
}

/** A control command that saves what the kernel says of it (its own /proc/self) as `name`. */
const save = (dir: string, name: string) =>
  `/bin/sh -c 'cat /proc/self/status /proc/self/limits > ${dir}/out/${name}.txt'`;

/** The keys every command of the first unit gets, and what /proc must then show. */
const KEYS = [
  'User=nobody',
  'Group=nogroup',
  'SupplementaryGroups=adm',
  'LimitNOFILE=1000:2000',
  'LimitCORE=infinity',
  'LimitNICE=-5',
  'LimitCPU=1h',
  'LimitFSIZE=10M:20M',
  'LimitSTACK=16M',
  'LimitMEMLOCK=64K',
  'LimitMSGQUEUE=1M',
  'LimitSIGPENDING=500',
  'LimitNPROC=4000',
  'LimitRTPRIO=5',
  'LimitRTTIME=2s',
  'LimitLOCKS=64',
  'Nice=7',
  'OOMScoreAdjust=321',
  'CPUAffinity=0',
  'CPUSchedulingPolicy=batch',
  'IOSchedulingClass=idle',
  'TimerSlackNSec=77777',
  'CoredumpFilter=0x3f',
  `Personality=${SECONDARY}`,
  'CapabilityBoundingSet=CAP_NET_BIND_SERVICE CAP_NET_RAW',
  'AmbientCapabilities=CAP_NET_BIND_SERVICE',
  'NoNewPrivileges=yes',
];

function checkStatusText(text: string, what: string): void {
  const limits = parseProcLimits(text);
  assert.deepEqual(limits.NOFILE, { soft: 1000, hard: 2000 }, `${what}:\n${text}`);
  assert.deepEqual(limits.CPU, { soft: 3600, hard: 3600 }, what);
  assert.match(text, /^Uid:\s+65534\s/m, what);
  assert.match(text, /^CapBnd:\s+0000000000002400$/m, what);
  assert.match(text, /^CapAmb:\s+0000000000000400$/m, what);
  assert.match(text, /^NoNewPrivs:\s+1$/m, what);
}

describe('sockunit run: limits, scheduling and privileges, from outside the process', () => {
  const suite = managerSuite('exec-env', openOutDir);
  const { trigger } = suite;

  test('a shell that execs a C program, and each of its control commands', async (t) => {
    const why = rootUnavailable();
    if (why) return t.skip(why);
    const port = await freePort();
    const m = await suite.start((dir) => ({
      'env.socket': `[Socket]\nListenStream=127.0.0.1:${port}\n`,
      'env.service': [
        '[Service]',
        ...KEYS,
        `ExecStartPre=${save(dir, 'pre')}`,
        "ExecStart=/bin/sh -c 'echo main up; exec /bin/sleep 60'",
        `ExecStartPost=${save(dir, 'post')}`,
        `ExecReload=${save(dir, 'reload')}`,
        `ExecStop=${save(dir, 'stop')}`,
        `ExecStopPost=${save(dir, 'stop-post')}`,
        '',
      ].join('\n'),
    }));
    await trigger(port);
    const line = await m.waitFor(/^env\.service\[\d+\]: main up$/);
    await m.waitFor(/^Started env\.service\.$/);
    const pid = Number(/\[(\d+)\]/.exec(line)?.[1]);
    const p = procFacts(pid);
    assert.equal(p.uid, NOBODY);
    assert.equal(p.gid, NOGROUP);
    assert.deepEqual(
      [...p.groups].sort((a, b) => a - b),
      [ADM, NOGROUP],
    );
    assert.deepEqual(p.limits.NOFILE, expectedLimit('NOFILE', 1000, 2000));
    assert.deepEqual(
      p.limits.CORE,
      expectedLimit('CORE', Number.POSITIVE_INFINITY, Number.POSITIVE_INFINITY),
    );
    assert.deepEqual(p.limits.NICE, expectedLimit('NICE', 25, 25));
    assert.deepEqual(p.limits.CPU, expectedLimit('CPU', 3600, 3600));
    assert.deepEqual(p.limits.FSIZE, expectedLimit('FSIZE', 10 * 1024 * 1024, 20 * 1024 * 1024));
    assert.deepEqual(p.limits.STACK, expectedLimit('STACK', 16 * 1024 * 1024, 16 * 1024 * 1024));
    assert.deepEqual(p.limits.MEMLOCK, expectedLimit('MEMLOCK', 65536, 65536));
    assert.deepEqual(p.limits.MSGQUEUE, expectedLimit('MSGQUEUE', 1048576, 1048576));
    assert.deepEqual(p.limits.SIGPENDING, expectedLimit('SIGPENDING', 500, 500));
    assert.deepEqual(p.limits.NPROC, expectedLimit('NPROC', 4000, 4000));
    assert.deepEqual(p.limits.RTPRIO, expectedLimit('RTPRIO', 5, 5));
    assert.deepEqual(p.limits.RTTIME, expectedLimit('RTTIME', 2_000_000, 2_000_000));
    assert.deepEqual(p.limits.LOCKS, expectedLimit('LOCKS', 64, 64));
    assert.equal(p.nice, 7);
    assert.equal(p.oomScoreAdj, 321);
    assert.equal(p.affinityMask, '1', 'sched_getaffinity: CPU 0 only');
    assert.equal(p.policy, SCHED_BATCH);
    assert.equal(p.ioPriority, 'idle');
    assert.equal(p.timerSlackNs, 77777);
    assert.equal(p.coredumpFilter, 0x3f);
    assert.equal(p.personality, PER_LINUX32);
    assert.equal(p.capBnd, capMask(CAP_NET_BIND_SERVICE, CAP_NET_RAW));
    assert.equal(p.capAmb, capMask(CAP_NET_BIND_SERVICE));
    assert.equal(p.capPrm, capMask(CAP_NET_BIND_SERVICE), 'a non-root user keeps only its ambient set');
    assert.equal(p.capEff, capMask(CAP_NET_BIND_SERVICE));
    assert.equal(p.noNewPrivs, 1);
    assert.equal(p.sigIgn & SIGPIPE_MASK, SIGPIPE_MASK, 'IgnoreSIGPIPE=yes is the default');

    const sockunit = (...args: string[]) =>
      execFileSync(process.execPath, [BIN, ...args, '--control-socket', m.controlSocket], {
        encoding: 'utf8',
      });
    sockunit('reload', 'env.service');
    await waitUntil('ExecReload= ran', () => {
      try {
        return readFileSync(join(m.dir, 'out', 'reload.txt'), 'utf8') || undefined;
      } catch {
        return undefined;
      }
    });
    // The socket first: the trigger connection still waits in its queue (sleep accepts nothing),
    // and would start the service again — its ExecStartPre= rewriting pre.txt as it is read.
    sockunit('stop', 'env.socket');
    sockunit('stop', 'env.service');
    await m.waitFor(/^Stopped env\.service\.$/);
    for (const name of ['pre', 'post', 'reload', 'stop', 'stop-post'])
      checkStatusText(readFileSync(join(m.dir, 'out', `${name}.txt`), 'utf8'), `Exec${name}`);
  });

  test('a Node service, IgnoreSIGPIPE=no, and a bounding set given as all but one', async (t) => {
    const why = rootUnavailable();
    if (why) return t.skip(why);
    const port = await freePort();
    const m = await suite.start((dir) => {
      writeFileSync(join(dir, 'up.mjs'), "console.log('node up'); setInterval(() => {}, 1000);\n", {
        mode: 0o644,
      });
      return {
        'node.socket': `[Socket]\nListenStream=127.0.0.1:${port}\n`,
        'node.service': [
          '[Service]',
          'User=nobody',
          'LimitNOFILE=4096:8192',
          'Nice=3',
          'OOMScoreAdjust=100',
          'CapabilityBoundingSet=~CAP_SYS_ADMIN',
          'NoNewPrivileges=yes',
          `ExecStart=${process.execPath} ${dir}/up.mjs`,
          '',
        ].join('\n'),
      };
    });
    await trigger(port);
    const line = await m.waitFor(/^node\.service\[\d+\]: node up$/, 10_000);
    const p = procFacts(Number(/\[(\d+)\]/.exec(line)?.[1]));
    assert.equal(p.uid, NOBODY);
    // Node raises its own soft RLIMIT_NOFILE to the hard limit when it starts.
    assert.equal(p.limits.NOFILE.hard, 8192);
    assert.equal(p.nice, 3);
    assert.equal(p.oomScoreAdj, 100);
    assert.equal(p.capBnd & capMask(CAP_SYS_ADMIN), 0n);
    assert.equal(p.capBnd & capMask(CAP_NET_RAW), capMask(CAP_NET_RAW));
    assert.equal(p.capEff, 0n, 'nobody has no capabilities');
    assert.equal(p.noNewPrivs, 1);
  });

  test('IgnoreSIGPIPE=no leaves SIGPIPE at its default', async (t) => {
    const why = rootUnavailable();
    if (why) return t.skip(why);
    const port = await freePort();
    const m = await suite.start(() => ({
      'pipe.socket': `[Socket]\nListenStream=127.0.0.1:${port}\n`,
      'pipe.service': "[Service]\nIgnoreSIGPIPE=no\nExecStart=/bin/sh -c 'echo up; exec /bin/sleep 60'\n",
    }));
    await trigger(port);
    const line = await m.waitFor(/^pipe\.service\[\d+\]: up$/);
    assert.equal(procFacts(Number(/\[(\d+)\]/.exec(line)?.[1])).sigIgn & SIGPIPE_MASK, 0n);
  });

  test('Accept=yes: instances with User=, limits and capabilities start on the accept thread', async (t) => {
    const why = rootUnavailable();
    if (why) return t.skip(why);
    const port = await freePort();
    const m = await suite.start(
      () => ({
        'acc.socket': `[Socket]\nListenStream=127.0.0.1:${port}\nAccept=yes\n`,
        'acc@.service': [
          '[Service]',
          'User=nobody',
          'LimitNOFILE=512:1024',
          'Nice=4',
          'OOMScoreAdjust=50',
          'CPUAffinity=0',
          'CapabilityBoundingSet=CAP_NET_RAW',
          'NoNewPrivileges=yes',
          'StandardInput=socket',
          // $$ is the unit file's escape for $: the shell prints its own pid, then execs.
          "ExecStart=/bin/sh -c 'echo $$$$; exec /bin/sleep 30'",
          '',
        ].join('\n'),
      }),
      { args: ['--log-level=debug'] },
    );
    await m.waitFor(/^acc\.socket: instances start on the accept thread\.$/);
    const socket = await connectTcp(port);
    const pid = await new Promise<number>((resolve, reject) => {
      socket.once('data', (d: Buffer) => resolve(Number(d.toString().trim())));
      socket.once('error', reject);
    });
    try {
      const p = procFacts(pid);
      assert.equal(p.uid, NOBODY);
      assert.deepEqual(p.limits.NOFILE, { soft: 512, hard: 1024 });
      assert.equal(p.nice, 4);
      assert.equal(p.oomScoreAdj, 50);
      assert.equal(p.affinityMask, '1');
      assert.equal(p.capBnd, capMask(CAP_NET_RAW));
      assert.equal(p.noNewPrivs, 1);
      assert.equal(p.sigIgn & SIGPIPE_MASK, SIGPIPE_MASK);
    } finally {
      socket.destroy();
    }
  });

  test('Accept=yes: a template with directories or credentials keeps the main thread, and says why', async (t) => {
    const why = rootUnavailable();
    if (why) return t.skip(why);
    const port = await freePort();
    const m = await suite.start(
      () => ({
        'per.socket': `[Socket]\nListenStream=127.0.0.1:${port}\nAccept=yes\n`,
        'per@.service': '[Service]\nRuntimeDirectory=sockunit-test-per\nExecStart=/bin/true\n',
      }),
      { args: ['--log-level=debug'] },
    );
    await m.waitFor(
      /^per\.socket: instances start on the main thread \(RuntimeDirectory=\/StateDirectory=\/… or credentials/,
    );
  });
});

describe('sockunit run: bad input fails the start with systemd’s exit status and says what to change', () => {
  const suite = managerSuite('exec-bad');
  const { trigger } = suite;

  /** Starts `service` (the service of one socket) and waits for its first failure. The pending
   * connection triggers it again until the start limit, as under systemd: the first failure's
   * lines are the ones checked. */
  async function failing(
    service: string,
    t: { skip(m: string): void },
  ): Promise<{ log: string; lastExit: string }> {
    const why = rootUnavailable();
    if (why) {
      t.skip(why);
      return { log: '', lastExit: '' };
    }
    const port = await freePort();
    const m = await suite.start(() => ({
      'bad.socket': `[Socket]\nListenStream=127.0.0.1:${port}\n`,
      'bad.service': `[Service]\n${service}\n`,
    }));
    await trigger(port);
    const exited = await m.waitFor(/^bad\.service: Main process exited, /);
    await m.waitFor(/^bad\.service: Failed with result 'exit-code'\.$/);
    return { log: m.log, lastExit: exited.replace(/^bad\.service: Main process exited, /, '') };
  }

  test('User= that does not exist: 217/USER, naming the key and the fix', async (t) => {
    const r = await failing('User=sockunit-no-such-user\nExecStart=/bin/sleep 10', t);
    if (!r.log) return;
    assert.match(
      r.log,
      /User=sockunit-no-such-user: no such user on this machine \(\/etc\/passwd\); create it .* or change User=/,
    );
    assert.match(r.log, /Failed at step USER spawning \/bin\/sleep: status=217\/USER/);
    assert.equal(r.lastExit, 'code=exited, status=217/USER');
  });

  test('SupplementaryGroups= that does not exist: 216/GROUP', async (t) => {
    const r = await failing('SupplementaryGroups=sockunit-no-such-group\nExecStart=/bin/sleep 10', t);
    if (!r.log) return;
    assert.match(r.log, /SupplementaryGroups=sockunit-no-such-group: no such group on this machine/);
    assert.equal(r.lastExit, 'code=exited, status=216/GROUP');
  });

  test('a scheduling priority the policy does not take: 214/SETSCHEDULER, with the kernel’s errno', async (t) => {
    const r = await failing('CPUSchedulingPolicy=other\nCPUSchedulingPriority=5\nExecStart=/bin/sleep 10', t);
    if (!r.log) return;
    assert.match(
      r.log,
      /bad\.service\[\d+\]: CPUSchedulingPolicy=other CPUSchedulingPriority=5: sched_setattr refused it .*: errno 22$/m,
    );
    assert.equal(r.lastExit, 'code=exited, status=214/SETSCHEDULER');
  });

  test('an ambient capability outside the bounding set: 218/CAPABILITIES', async (t) => {
    const r = await failing(
      'User=nobody\nCapabilityBoundingSet=CAP_CHOWN\nAmbientCapabilities=CAP_NET_RAW\nExecStart=/bin/sleep 10',
      t,
    );
    if (!r.log) return;
    assert.match(r.log, /AmbientCapabilities=: cannot add them to the inheritable set: errno 1$/m);
    assert.equal(r.lastExit, 'code=exited, status=218/CAPABILITIES');
  });
});
