// Start-up benchmark (issue 21): time from exec to "listening" and the memory after start, for
// `sockunit run` with one MPTCP socket unit and with 1,000 unix socket units, beside Node's own
// start (`node -e 0`) and systemd-socket-activate (exec to its "Listening on … as 3." line), all
// interleaved in one run. Targets: time to listening ≤ 3x `node -e 0`; RSS ≤ 52 MiB for one unit,
// ≤ 75 MiB for 1,000.
//
// NODE_EXTRA_CA_CERTS (set in some environments) adds ~85 ms to every Node start: it is removed
// from every child's environment, and the header says whether it was set.
//
// With SOCKUNIT_BASELINE=/path/to/another/build/src/cli/bin.js (e.g. a build of main), that build's
// `sockunit run` rows are measured too, interleaved with this one's: a change and the code before
// it in the same run, so the machine's drift cancels out of their ratio.
//
// Run: npx tsc -p tsconfig.test.json && node .test-build/bench/startup.js [runs]

import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, release, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const BIN = fileURLToPath(new URL('../src/cli/bin.js', import.meta.url));
const RUNS = Number(process.argv[2] ?? 15);
const BASELINE = process.env.SOCKUNIT_BASELINE;
/** How long after "listening" the RSS is read: start-up garbage is part of what a user pays. */
const SETTLE_MS = 300;
const env = { ...process.env };
const extraCerts = env.NODE_EXTRA_CA_CERTS !== undefined;
delete env.NODE_EXTRA_CA_CERTS;

interface Sample {
  ms: number;
  /** CPU time of every thread of the process (schedstat, ns precision) when `ready` showed: what
   * the start costs, which a loaded machine does not stretch as it stretches wall time. */
  cpuMs?: number;
  rssMiB?: number;
}

function cpuMsOf(pid: number): number | undefined {
  try {
    let ns = 0;
    for (const task of readdirSync(`/proc/${pid}/task`))
      ns += Number(readFileSync(`/proc/${pid}/task/${task}/schedstat`, 'utf8').split(' ')[0]);
    return ns / 1e6;
  } catch {
    return undefined;
  }
}

function rssMiB(pid: number): number | undefined {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : undefined;
  } catch {
    return undefined;
  }
}

/** Spawn `argv`, resolve when `ready` appears on stderr: ms since exec, and the RSS a moment
 * later; then SIGTERM and wait for the exit. */
function timeToLine(argv: string[], ready: RegExp): Promise<Sample> {
  return new Promise((resolve, reject) => {
    const t0 = process.hrtime.bigint();
    const [file, ...args] = argv as [string, ...string[]];
    const child = spawn(file, args, { env, stdio: ['ignore', 'ignore', 'pipe'] });
    let text = '';
    let sample: Sample | undefined;
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    child.stderr?.on('data', (d: Buffer) => {
      text += d.toString();
      if (sample || !ready.test(text)) return;
      sample = { ms: Number(process.hrtime.bigint() - t0) / 1e6 };
      const cpu = child.pid ? cpuMsOf(child.pid) : undefined;
      if (cpu !== undefined) sample.cpuMs = cpu;
      setTimeout(() => {
        if (sample && child.pid) {
          const rss = rssMiB(child.pid);
          if (rss !== undefined) sample.rssMiB = rss;
        }
        child.kill('SIGTERM');
      }, SETTLE_MS);
    });
    child.on('exit', () => {
      clearTimeout(timer);
      if (sample) resolve(sample);
      else reject(new Error(`${argv.join(' ')} exited before ${ready}:\n${text}`));
    });
  });
}

/** `node -e 0`, and the CPU it used (getrusage of itself, printed at exit). */
function nodeStart(): Sample {
  const t0 = process.hrtime.bigint();
  const r = spawnSync(
    process.execPath,
    [
      '-e',
      "process.on('exit',()=>{const u=process.cpuUsage();process.stderr.write(String((u.user+u.system)/1000))})",
    ],
    { env, encoding: 'utf8' },
  );
  return { ms: Number(process.hrtime.bigint() - t0) / 1e6, cpuMs: Number(r.stderr) };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
}

async function main(): Promise<void> {
  const one = mkdtempSync(join(tmpdir(), 'sockunit-bench-startup-1-'));
  const many = mkdtempSync(join(tmpdir(), 'sockunit-bench-startup-1000-'));
  try {
    const port = 20000 + (process.pid % 20000);
    writeFileSync(
      join(one, 'web.socket'),
      `[Socket]\nListenStream=127.0.0.1:${port}\nSocketProtocol=mptcp\n`,
    );
    writeFileSync(join(one, 'web.service'), '[Service]\nExecStart=/bin/true\n');
    for (let i = 0; i < 1000; i++) {
      writeFileSync(join(many, `u${i}.socket`), `[Socket]\nListenStream=${many}/u${i}.sock\n`);
      writeFileSync(join(many, `u${i}.service`), '[Service]\nExecStart=/bin/true\n');
    }
    const runCases = (label: string, bin: string): [string, () => Promise<Sample>][] => [
      [
        `${label} (1 MPTCP unit)`,
        () =>
          timeToLine(
            [process.execPath, bin, 'run', one, '--control-socket', join(one, 'c.sock')],
            /socket units listening\./,
          ),
      ],
      [
        `${label} (1,000 unix units)`,
        () =>
          timeToLine(
            [process.execPath, bin, 'run', many, '--control-socket', join(many, 'c.sock')],
            /socket units listening\./,
          ),
      ],
    ];
    const cases: [string, () => Promise<Sample> | Sample][] = [
      ['node -e 0', nodeStart],
      [
        'systemd-socket-activate -l (1 port)',
        () =>
          timeToLine(
            ['systemd-socket-activate', '-l', `127.0.0.1:${port + 1}`, '--', '/bin/true'],
            /Listening on/,
          ),
      ],
      ...runCases('sockunit run', BIN),
      ...(BASELINE ? runCases('baseline run', BASELINE) : []),
    ];
    const results = new Map<string, Sample[]>(cases.map(([name]) => [name, []]));
    for (let r = 0; r < RUNS; r++) for (const [name, run] of cases) results.get(name)?.push(await run());

    console.log(
      `# ${cpus().length} x ${cpus()[0]?.model ?? '?'}, Linux ${release()}, Node ${process.version}, load ${loadavg()
        .map((l) => l.toFixed(2))
        .join(
          ' ',
        )}; ${RUNS} runs interleaved${BASELINE ? `; baseline ${BASELINE}` : ''}; NODE_EXTRA_CA_CERTS ${extraCerts ? 'was set (removed for the children)' : 'not set'}`,
    );
    const nodeSamples = results.get('node -e 0') ?? [];
    const floor = median(nodeSamples.map((s) => s.ms));
    const cpuFloor = median(nodeSamples.map((s) => s.cpuMs ?? 0));
    console.log('| case | median ms to ready | x node -e 0 | median CPU ms | x node -e 0 | median RSS MiB |');
    console.log('| --- | ---: | ---: | ---: | ---: | ---: |');
    for (const [name, samples] of results) {
      const ms = median(samples.map((s) => s.ms));
      const cpu = median(samples.map((s) => s.cpuMs ?? 0));
      const rss = samples.flatMap((s) => (s.rssMiB === undefined ? [] : [s.rssMiB]));
      console.log(
        `| ${name} | ${ms.toFixed(1)} | ${(ms / floor).toFixed(2)} | ${cpu.toFixed(1)} | ${(cpu / cpuFloor).toFixed(2)} | ${rss.length > 0 ? median(rss).toFixed(1) : '-'} |`,
      );
    }
  } finally {
    rmSync(one, { recursive: true, force: true });
    rmSync(many, { recursive: true, force: true });
  }
}

await main();
