// The two-path test bed of mptcp.md §8: a client and a server network namespace joined by two
// veth links on different subnets, each end of each link rate-limited, MPTCP limits and endpoints
// set so every MPTCP connection gets exactly two subflows (one per link). Reusable by tests and
// benchmarks. Names are unique per run (pid + random) so parallel runs never collide, and the bed
// is always torn down: by `destroy()` (call it in a finally / after hook), on SIGINT/SIGTERM and
// at process exit. Needs root (CAP_NET_ADMIN); outside CI it is skipped with the reason.

import { type ChildProcess, execFileSync, type SpawnOptions, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';

/** Which side of the bed a command runs in. */
export type Side = 'client' | 'server';

/** How extra subflows are created: the server announces its second address (`signal`, the
 * recipe's default), or the client opens one from its own second address (`subflow`, the kernel
 * selftests' style). Either way each connection has two subflows. */
export type EndpointMode = 'signal' | 'subflow';

export interface TestnetOptions {
  /** Rate of each link in Mbit/s, both directions (default 20 for both). */
  rateMbit?: number | readonly [number, number];
  /** One-way delay per link end in ms. Applied with netem only where the kernel has netem
   * (this VM has not: baselines.md surprise 5); `delayApplied` says whether it was. Default 0. */
  delayMs?: number;
  /** tbf queue length in ms (`latency`); the recipe uses 100. */
  queueMs?: number;
  endpoints?: EndpointMode;
  /** Part of the namespace names, for `ip netns list` readers. */
  purpose?: string;
}

/** One of the two veth links. Link 1 carries the initial subflow (clients connect to its server
 * address); link 2 the extra one. */
export interface Link {
  index: 1 | 2;
  clientDev: string;
  serverDev: string;
  clientAddress: string;
  serverAddress: string;
  rateMbit: number;
}

/** Why the bed cannot be built here, or undefined when it can. In CI it must run (and fail
 * loudly if something is missing). */
export function testnetUnavailable(): string | undefined {
  if (process.env.CI) return undefined;
  if (process.getuid?.() !== 0)
    return 'needs root (CAP_NET_ADMIN) to create network namespaces and veth links; run as root or with CI=true';
  try {
    execFileSync('ip', ['-V'], { stdio: 'ignore' });
    execFileSync('tc', ['-V'], { stdio: 'ignore' });
  } catch {
    return 'needs iproute2 (ip, tc): apt-get install iproute2';
  }
  return undefined;
}

const live = new Set<Testnet>();
let hooksInstalled = false;

function destroyAll(): void {
  for (const bed of [...live]) bed.destroy();
}

/** Tear every live bed down on exit and on SIGINT/SIGTERM; the signal is re-raised afterwards
 * so the process still ends the way the sender asked. */
function installHooks(): void {
  if (hooksInstalled) return;
  hooksInstalled = true;
  process.on('exit', destroyAll);
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    const onSignal = () => {
      destroyAll();
      process.removeListener(signal, onSignal);
      process.kill(process.pid, signal);
    };
    process.on(signal, onSignal);
  }
}

function run(file: string, args: readonly string[]): string {
  try {
    return execFileSync(file, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (err) {
    const e = err as { stderr?: string; status?: number };
    throw new Error(`${file} ${args.join(' ')} failed (exit ${e.status}): ${(e.stderr ?? '').trim()}`);
  }
}

export class Testnet {
  readonly client: string;
  readonly server: string;
  readonly links: readonly [Link, Link];
  readonly endpoints: EndpointMode;
  /** Whether `delayMs` was applied (netem exists) or only tbf shapes the links. */
  readonly delayApplied: boolean;
  readonly delayMs: number;
  private readonly children = new Set<ChildProcess>();
  private destroyed = false;

  private constructor(options: TestnetOptions) {
    const tag = `${process.pid}-${randomBytes(3).toString('hex')}`;
    const purpose = options.purpose ? `${options.purpose}-` : '';
    this.client = `su-${purpose}${tag}-c`;
    this.server = `su-${purpose}${tag}-s`;
    const [r1, r2] =
      typeof options.rateMbit === 'number'
        ? [options.rateMbit, options.rateMbit]
        : (options.rateMbit ?? [20, 20]);
    this.links = [
      {
        index: 1,
        clientDev: 'c1',
        serverDev: 's1',
        clientAddress: '10.0.1.1',
        serverAddress: '10.0.1.2',
        rateMbit: r1,
      },
      {
        index: 2,
        clientDev: 'c2',
        serverDev: 's2',
        clientAddress: '10.0.2.1',
        serverAddress: '10.0.2.2',
        rateMbit: r2,
      },
    ];
    this.endpoints = options.endpoints ?? 'signal';
    this.delayMs = options.delayMs ?? 0;
    this.delayApplied = false;
    installHooks();
    live.add(this);
    try {
      this.build(options.queueMs ?? 100);
      this.delayApplied = this.delayMs > 0 && this.tryNetem();
    } catch (err) {
      this.destroy();
      throw err;
    }
  }

  /** Builds a new bed. Throws (after removing whatever it had made) when a step fails. */
  static create(options: TestnetOptions = {}): Testnet {
    return new Testnet(options);
  }

  private ns(side: Side): string {
    return side === 'client' ? this.client : this.server;
  }

  private build(queueMs: number): void {
    run('ip', ['netns', 'add', this.client]);
    run('ip', ['netns', 'add', this.server]);
    for (const side of ['client', 'server'] as const) {
      this.ip(side, 'link', 'set', 'lo', 'up');
      // rp_filter would drop the second subflow's packets when they arrive on "the other" link.
      this.exec(
        side,
        'sysctl',
        '-qw',
        'net.mptcp.enabled=1',
        'net.ipv4.conf.all.rp_filter=0',
        'net.ipv4.conf.default.rp_filter=0',
      );
    }
    for (const link of this.links) {
      // Created directly inside the namespaces, so the short device names never meet the host's.
      this.ip(
        'client',
        'link',
        'add',
        link.clientDev,
        'type',
        'veth',
        'peer',
        'name',
        link.serverDev,
        'netns',
        this.server,
      );
      this.ip('client', 'addr', 'add', `${link.clientAddress}/24`, 'dev', link.clientDev);
      this.ip('server', 'addr', 'add', `${link.serverAddress}/24`, 'dev', link.serverDev);
      this.ip('client', 'link', 'set', link.clientDev, 'up');
      this.ip('server', 'link', 'set', link.serverDev, 'up');
      for (const [side, dev] of [
        ['client', link.clientDev],
        ['server', link.serverDev],
      ] as const) {
        // Both ends shaped: tbf only adds queueing delay, which is all this kernel offers.
        const burst = Math.max(16, Math.ceil(link.rateMbit / 1.25)); // ~ rate * 1 ms at least 16 kB
        run('tc', [
          '-n',
          this.ns(side),
          'qdisc',
          'add',
          'dev',
          dev,
          'root',
          'handle',
          '1:',
          'tbf',
          'rate',
          `${link.rateMbit}mbit`,
          'burst',
          `${burst}kb`,
          'latency',
          `${queueMs}ms`,
        ]);
      }
    }
    const [, second] = this.links;
    if (this.endpoints === 'signal') {
      this.ip('server', 'mptcp', 'endpoint', 'add', second.serverAddress, 'dev', second.serverDev, 'signal');
      this.ip('server', 'mptcp', 'limits', 'set', 'subflows', '2', 'add_addr_accepted', '0');
      this.ip('client', 'mptcp', 'limits', 'set', 'subflows', '2', 'add_addr_accepted', '2');
    } else {
      this.ip('client', 'mptcp', 'endpoint', 'add', second.clientAddress, 'dev', second.clientDev, 'subflow');
      this.ip('server', 'mptcp', 'limits', 'set', 'subflows', '1', 'add_addr_accepted', '0');
      this.ip('client', 'mptcp', 'limits', 'set', 'subflows', '1', 'add_addr_accepted', '0');
    }
  }

  /** Adds netem delay under tbf on every link end; false (nothing changed) where the kernel has
   * no sch_netem. */
  private tryNetem(): boolean {
    const ends = this.links.flatMap((l) => [
      ['client', l.clientDev] as const,
      ['server', l.serverDev] as const,
    ]);
    for (const [side, dev] of ends) {
      try {
        run('tc', [
          '-n',
          this.ns(side),
          'qdisc',
          'add',
          'dev',
          dev,
          'parent',
          '1:1',
          'handle',
          '10:',
          'netem',
          'delay',
          `${this.delayMs}ms`,
        ]);
      } catch {
        for (const [s, d] of ends) {
          try {
            run('tc', ['-n', this.ns(s), 'qdisc', 'del', 'dev', d, 'parent', '1:1', 'handle', '10:']);
          } catch {
            // not added on this end
          }
        }
        return false;
      }
    }
    return true;
  }

  /** The link by number. */
  link(index: 1 | 2): Link {
    return this.links[index - 1] as Link;
  }

  /** `ip -n NS ARGS…`, synchronously; throws with ip's stderr. */
  ip(side: Side, ...args: string[]): string {
    return run('ip', ['-n', this.ns(side), ...args]);
  }

  /** `ip netns exec NS CMD ARGS…`, synchronously; returns stdout, throws with stderr. */
  exec(side: Side, cmd: string, ...args: string[]): string {
    return run('ip', ['netns', 'exec', this.ns(side), cmd, ...args]);
  }

  /** Starts `cmd args` inside the namespace (via `ip netns exec`, which execs, so the child's pid
   * is the command's). The child is killed by `destroy()` if still running. */
  spawnIn(side: Side, cmd: string, args: readonly string[] = [], options: SpawnOptions = {}): ChildProcess {
    const child = spawn('ip', ['netns', 'exec', this.ns(side), cmd, ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
      ...options,
    });
    this.children.add(child);
    child.once('exit', () => this.children.delete(child));
    return child;
  }

  /** Takes a link down or up on the client side (as mptcp_join.sh does with its ns1ethN). */
  setLink(index: 1 | 2, state: 'up' | 'down', side: Side = 'client'): void {
    const link = this.link(index);
    this.ip(side, 'link', 'set', side === 'client' ? link.clientDev : link.serverDev, state);
  }

  /** The MPTCP MIB counters of a namespace (`nstat -asz MPTcpExt*`), absolute since it was made. */
  mptcpCounters(side: Side): Record<string, number> {
    const out = this.exec(side, 'nstat', '-asz', 'MPTcpExt*');
    const counters: Record<string, number> = {};
    for (const line of out.split('\n')) {
      const m = /^MPTcpExt(\w+)\s+(\d+)/.exec(line);
      if (m?.[1] && m[2]) counters[m[1]] = Number(m[2]);
    }
    return counters;
  }

  /** The physical limit of the two links together, Mbit/s. */
  get totalRateMbit(): number {
    return this.links[0].rateMbit + this.links[1].rateMbit;
  }

  /** Kills what runs in the namespaces (children we spawned and anything they started there)
   * and deletes both namespaces, which removes the veth links. Idempotent; never throws. */
  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    live.delete(this);
    for (const child of this.children) child.kill('SIGKILL');
    for (const ns of [this.client, this.server]) {
      try {
        // Processes keep a namespace alive after `ip netns del`: end the ones inside ours.
        const pids = execFileSync('ip', ['netns', 'pids', ns], {
          encoding: 'utf8',
          stdio: ['ignore', 'pipe', 'ignore'],
        });
        for (const pid of pids
          .split('\n')
          .map(Number)
          .filter((p) => p > 0 && p !== process.pid)) {
          try {
            process.kill(pid, 'SIGKILL');
          } catch {
            // already gone
          }
        }
      } catch {
        // namespace never created
      }
      try {
        execFileSync('ip', ['netns', 'del', ns], { stdio: 'ignore' });
      } catch {
        // never created, or already deleted
      }
    }
  }
}

/** Builds a bed, runs `body`, and always tears the bed down. */
export async function withTestnet<T>(
  options: TestnetOptions,
  body: (bed: Testnet) => Promise<T>,
): Promise<T> {
  const bed = Testnet.create(options);
  try {
    return await body(bed);
  } finally {
    bed.destroy();
  }
}
