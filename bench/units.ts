// Unit-file benchmark: how fast unit text is parsed (and typed), and how long loading 10,000
// socket + service pairs from disk takes (target: under 1 s on a 2-core machine).
//
// Run: npx tsc -p tsconfig.test.json && node .test-build/bench/units.js [pairs] [runs]
// The units are generated in a temporary directory (removed at the end), with a realistic mix:
// TCP/MPTCP/UNIX/Accept=yes sockets, services with ExecStart lines, specifiers, a drop-in for
// one unit in ten and a `socket.d/` drop-in for all sockets.

import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, release, tmpdir } from 'node:os';
import { join } from 'node:path';
import { readUnitFiles, UnitPathIndex } from '../src/unit/load.js';
import { loadUnit, typeUnit } from '../src/unit/load-unit.js';
import { parseUnitText } from '../src/unit/syntax.js';

const PAIRS = Number(process.argv[2] ?? 10_000);
const RUNS = Number(process.argv[3] ?? 5);

function socketUnit(i: number): string {
  const listen = [
    `ListenStream=127.0.0.1:${10_000 + (i % 50_000)}`,
    `ListenStream=[::1]:${10_000 + (i % 50_000)}\nBindIPv6Only=ipv6-only`,
    `ListenStream=%t/app-${i}.sock\nSocketMode=0660`,
    `ListenStream=0.0.0.0:${20_000 + (i % 40_000)}\nSocketProtocol=mptcp\nBacklog=128`,
  ][i % 4];
  return `# Generated for the sockunit benchmark
[Unit]
Description=Benchmark socket ${i}
Documentation=man:sockunit(1)

[Socket]
${listen}
FileDescriptorName=bench-${i}
ReceiveBuffer=256K
KeepAlive=yes

[Install]
WantedBy=sockets.target
`;
}

function serviceUnit(i: number): string {
  return `[Unit]
Description=Benchmark service ${i}
Requires=app-${i}.socket
After=network.target app-${i}.socket

[Service]
Type=simple
ExecStart=/usr/bin/env APP_ID=${i} /usr/bin/cat \\
    --name "app %i" -v
Environment="MODE=bench" COUNT=${i}
Restart=on-failure
RestartSec=500ms
TimeoutStopSec=1min 30s
NonBlocking=yes

[Install]
WantedBy=multi-user.target
`;
}

function generate(dir: string, pairs: number): string[] {
  const names: string[] = [];
  mkdirSync(join(dir, 'socket.d'), { recursive: true });
  writeFileSync(join(dir, 'socket.d', '50-defaults.conf'), '[Socket]\nNoDelay=yes\n');
  for (let i = 0; i < pairs; i++) {
    writeFileSync(join(dir, `app-${i}.socket`), socketUnit(i));
    writeFileSync(join(dir, `app-${i}.service`), serviceUnit(i));
    if (i % 10 === 0) {
      mkdirSync(join(dir, `app-${i}.service.d`));
      writeFileSync(join(dir, `app-${i}.service.d`, 'override.conf'), '[Service]\nRestartSec=2s\n');
    }
    names.push(`app-${i}.socket`, `app-${i}.service`);
  }
  return names;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

function time(fn: () => void): number {
  const t0 = performance.now();
  fn();
  return performance.now() - t0;
}

function main(): void {
  const root = mkdtempSync(join(tmpdir(), 'sockunit-bench-units-'));
  try {
    const names = generate(root, PAIRS);
    const texts = names.map((n, i) => (n.endsWith('.socket') ? socketUnit(i >> 1) : serviceUnit(i >> 1)));

    const rows: [string, number[], (ms: number) => string][] = [];
    const perSecond = (count: number) => (ms: number) =>
      `${Math.round((count / ms) * 1000).toLocaleString('en')} units/s`;

    // 1. Parse only (text already in memory).
    rows.push([
      `parse ${texts.length} unit texts (in memory)`,
      Array.from({ length: RUNS }, () =>
        time(() => {
          for (let i = 0; i < texts.length; i++) parseUnitText(texts[i]!, names[i]!);
        }),
      ),
      perSecond(texts.length),
    ]);

    // 2. Find + read + parse, drop-ins included, one directory index per run.
    let errors = 0;
    rows.push([
      `load ${PAIRS} pairs: find + read + parse`,
      Array.from({ length: RUNS }, () =>
        time(() => {
          const index = new UnitPathIndex([root]);
          for (const n of names) if (readUnitFiles(n, index).loadState !== 'loaded') errors++;
        }),
      ),
      perSecond(names.length),
    ]);

    // 3. Typing alone (key table, specifiers), on files already read and parsed.
    const loaded = (() => {
      const index = new UnitPathIndex([root]);
      return names.map((n) => readUnitFiles(n, index));
    })();
    rows.push([
      `type ${names.length} parsed units (in memory)`,
      Array.from({ length: RUNS }, () =>
        time(() => {
          for (const u of loaded) typeUnit(u.id, u.files, { sections: u.sections });
        }),
      ),
      perSecond(names.length),
    ]);

    // 4. The same plus typing (key table, specifiers, socket -> service checks).
    let typedErrors = 0;
    rows.push([
      `load ${PAIRS} pairs: find + read + parse + type`,
      Array.from({ length: RUNS }, () =>
        time(() => {
          const index = new UnitPathIndex([root]);
          for (const n of names) if (loadUnit(n, { searchPath: index }).loadState !== 'loaded') typedErrors++;
        }),
      ),
      perSecond(names.length),
    ]);

    const cpu = cpus();
    console.log(
      `machine: ${cpu.length} x ${cpu[0]?.model ?? 'unknown CPU'}, Linux ${release()}, Node ${process.version}, load average ${loadavg()
        .map((l) => l.toFixed(2))
        .join(' ')} (other work on the machine skews the figures)`,
    );
    console.log(
      `${PAIRS} socket + service pairs (${names.length} files + ${PAIRS / 10 + 1} drop-ins), ${RUNS} runs each\n`,
    );
    console.log('| what | median ms | min ms | max ms | rate |');
    console.log('|---|---|---|---|---|');
    for (const [what, ms, rate] of rows) {
      const med = median(ms);
      console.log(
        `| ${what} | ${med.toFixed(0)} | ${Math.min(...ms).toFixed(0)} | ${Math.max(...ms).toFixed(0)} | ${rate(med)} |`,
      );
    }
    if (errors > 0 || typedErrors > 0) {
      console.log(`\nWARNING: ${errors} loads and ${typedErrors} typed loads were not 'loaded'`);
      process.exitCode = 1;
    }
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

main();
