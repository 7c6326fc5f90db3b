// What setting LISTEN_PID costs per service start: /bin/true started and reaped directly,
// through the static LISTEN_PID helper, and through the /bin/sh trampoline, each with Node's
// child_process.spawn (the same launcher for all three: a fair comparison) and with sockunit's
// spawnProcess (posix_spawn + pidfd), one start at a time. And what the exec-context helper
// adds after the LISTEN_PID helper for a unit with LimitNOFILE=, Nice=, CapabilityBoundingSet=
// and NoNewPrivileges= (its steps compiled as the manager compiles them).
//
// Run: npx tsc -p tsconfig.test.json && node .test-build/bench/listen-pid.js [count] [rounds]
// Bounded: `count` starts per cell (default 300), `rounds` passes over all cells (default 2,
// in alternating order so drift spreads evenly), and a 60 s deadline per cell.

import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { cpus, release } from 'node:os';
import { contextSteps } from '../src/manager/exec/context-steps.js';
import { feasible } from '../src/manager/exec/feasibility.js';
import { resolveIdentity } from '../src/manager/exec/identity.js';
import { managerPowers } from '../src/manager/exec/manager-powers.js';
import { contextHelperImage, contextHelperWrap } from '../src/sys/context-helper.js';
import {
  listenPidHelperImage,
  listenPidShellWrap,
  listenPidWrap,
  type SpawnRequest,
} from '../src/sys/listen-pid-helper.js';
import { onExit } from '../src/sys/process.js';
import { spawnProcess } from '../src/sys/spawn.js';
import { typeUnit } from '../src/unit/load-unit.js';
import type { ServiceUnitConfig } from '../src/unit/service-config.js';
import { parseUnitText } from '../src/unit/syntax.js';

const COUNT = Number(process.argv[2] ?? 300);
const ROUNDS = Number(process.argv[3] ?? 2);
const CELL_DEADLINE_MS = 60_000;
const ENV = { PATH: '/usr/bin:/bin', LISTEN_FDS: '1' };
const TRUE = '/bin/true';

type Request = SpawnRequest<Record<string, string>>;
type Launcher = (request: Request) => Promise<void>;

/** The LISTEN_PID helper, then the exec-context helper with the steps of `keys`. */
function withContext(keys: string): Request {
  const config = typeUnit('bench.service', [
    {
      path: 'bench.service',
      entries: parseUnitText(`[Service]\nExecStart=${TRUE}\n${keys}`, 'bench.service').entries,
    },
  ]).config as ServiceUnitConfig;
  const command = config.service.execStart[0]!;
  const powers = managerPowers();
  const possible = feasible(config.exec, powers);
  const identity = resolveIdentity({
    exec: config.exec,
    command,
    euid: powers.euid,
    egid: powers.egid,
    switchUsers: possible.switchUsers,
  });
  const inner = contextHelperWrap(
    TRUE,
    ['true'],
    contextSteps({ exec: config.exec, command, identity, feasible: possible, powers }),
  );
  return listenPidWrap(inner.file, inner.argv, ENV);
}

const requests: Record<string, Request> = {
  direct: { file: TRUE, argv: ['true'], env: ENV },
  ...(listenPidHelperImage() ? { helper: listenPidWrap(TRUE, ['true'], ENV) } : {}),
  'sh trampoline': listenPidShellWrap(TRUE, ['true'], ENV),
  ...(contextHelperImage()
    ? {
        'helper + exec-context helper (limit, nice, capabilities, no_new_privs)': withContext(
          'LimitNOFILE=4096\nNice=1\nCapabilityBoundingSet=~CAP_SYS_ADMIN\nNoNewPrivileges=yes\n',
        ),
      }
    : {}),
};

const launchers: Record<string, Launcher> = {
  'child_process.spawn': (request) =>
    new Promise((resolve, reject) => {
      const child = spawn(request.file, request.argv.slice(1), {
        argv0: request.argv[0],
        env: request.env,
        stdio: 'ignore',
      });
      child.once('error', reject);
      child.once('exit', (code) =>
        code === 0 ? resolve() : reject(new Error(`${request.file} exited ${code}`)),
      );
    }),
  spawnProcess: async (request) => {
    const child = spawnProcess({ ...request, stdout: 'null', stderr: 'null' });
    const exit = await onExit(child.pid, child.pidfd); // owns and closes the pidfd
    if (exit.code !== 'exited' || exit.status !== 0)
      throw new Error(`${request.file} ended with ${exit.code} ${exit.status}`);
  },
};

// Reaped children's CPU time, from /proc/self/stat (cutime + cstime, in clock ticks of 10 ms
// on Linux's usual USER_HZ = 100): wall-clock rates swing with other load on a small machine,
// CPU per start much less.
const TICK_MS = 10;
function childrenCpuMs(): number {
  const stat = readFileSync('/proc/self/stat', 'latin1');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[13]) + Number(fields[14])) * TICK_MS;
}

interface Cell {
  perSecond: number;
  /** This process's and the children's CPU per start. */
  cpuMs: number;
  /** Each start-to-reaped time, ms. The minimum is the least disturbed by other load. */
  latenciesMs: number[];
}

/** `COUNT` starts one after another (fewer if the deadline passes). */
async function measure(launch: Launcher, request: Request): Promise<Cell> {
  const begin = performance.now();
  const cpuBefore = process.cpuUsage();
  const childrenBefore = childrenCpuMs();
  const latenciesMs: number[] = [];
  while (latenciesMs.length < COUNT && performance.now() - begin < CELL_DEADLINE_MS) {
    const start = performance.now();
    await launch(request);
    latenciesMs.push(performance.now() - start);
  }
  const elapsed = performance.now() - begin;
  const own = process.cpuUsage(cpuBefore);
  const cpuMs = (own.user + own.system) / 1000 + (childrenCpuMs() - childrenBefore);
  const done = latenciesMs.length;
  return { perSecond: (done / elapsed) * 1000, cpuMs: cpuMs / done, latenciesMs };
}

async function main(): Promise<void> {
  const cells = Object.keys(launchers).flatMap((launcher) =>
    Object.keys(requests).map((how) => ({ launcher, how })),
  );
  const results = new Map<string, Cell[]>();
  for (const { launcher, how } of cells) await measure(launchers[launcher]!, requests[how]!); // warm-up
  for (let round = 0; round < ROUNDS; round++) {
    const order = round % 2 === 0 ? cells : [...cells].reverse();
    for (const { launcher, how } of order) {
      const key = `${launcher}|${how}`;
      const cell = await measure(launchers[launcher]!, requests[how]!);
      results.set(key, [...(results.get(key) ?? []), cell]);
    }
  }
  const mean = (values: number[]) => values.reduce((a, b) => a + b, 0) / values.length;
  const quantile = (values: number[], q: number) => {
    const sorted = [...values].sort((a, b) => a - b);
    return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
  };
  console.log(
    `# /bin/true started and reaped one at a time, ${COUNT} per cell, ${ROUNDS} rounds (rates and CPU: means; latencies: all starts)`,
  );
  console.log(
    `# node ${process.version}, Linux ${release()}, ${cpus().length} CPUs (${cpus()[0]?.model ?? '?'})`,
  );
  console.log(
    '| launcher | LISTEN_PID via | starts/s | ratio to direct | min ms | p50 ms | p50 extra ms | CPU ms per start |',
  );
  console.log('|---|---|---|---|---|---|---|---|');
  for (const launcher of Object.keys(launchers)) {
    const cellsOf = (how: string) => results.get(`${launcher}|${how}`)!;
    const direct = mean(cellsOf('direct').map((cell) => cell.perSecond));
    const latencies = (how: string) => cellsOf(how).flatMap((cell) => cell.latenciesMs);
    const directP50 = quantile(latencies('direct'), 0.5);
    for (const how of Object.keys(requests)) {
      const perSecond = mean(cellsOf(how).map((cell) => cell.perSecond));
      const cpuMs = mean(cellsOf(how).map((cell) => cell.cpuMs));
      const p50 = quantile(latencies(how), 0.5);
      const extraMs = how === 'direct' ? '' : (p50 - directP50).toFixed(2);
      console.log(
        `| ${launcher} | ${how === 'direct' ? '(not set: direct)' : how} | ${perSecond.toFixed(0)} | ` +
          `${(perSecond / direct).toFixed(2)} | ${Math.min(...latencies(how)).toFixed(2)} | ${p50.toFixed(2)} | ` +
          `${extraMs} | ${cpuMs.toFixed(2)} |`,
      );
    }
  }
}

await main();
