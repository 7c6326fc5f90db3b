// The facts Condition*=/Assert*= are checked against, read from this machine as systemd reads
// them (/proc, /sys, /etc). Each fact is read when a condition first asks for it and kept for
// the rest of one check (a transaction), so a unit without conditions costs nothing.

import { accessSync, constants, lstatSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { availableParallelism, hostname, release, totalmem } from 'node:os';
import { join } from 'node:path';
import { glibcVersion } from '../../sys/process.js';
import { capabilitiesInMask } from '../../unit/capabilities.js';
import type { ConditionFacts } from '../../unit/conditions.js';
import { BASELINE_SYSTEMD } from '../../unit/key-table.js';
import { lookupUser } from '../exec/users.js';

function read(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}

function exists(path: string): boolean {
  try {
    lstatSync(path);
    return true;
  } catch {
    return false;
  }
}

function lazy<T>(get: () => T): () => T {
  let value: { v: T } | undefined;
  return () => {
    value ??= { v: get() };
    return value.v;
  };
}

// systemd's architecture names (architecture_to_string()) for the machines Node runs on.
const ARCHITECTURES: Record<string, string> = {
  x64: 'x86-64',
  ia32: 'x86',
  arm64: 'arm64',
  arm: 'arm',
  ppc64: 'ppc64-le',
  s390x: 's390x',
  riscv64: 'riscv64',
  loong64: 'loongarch64',
  mips: 'mips',
  mipsel: 'mips-le',
};

/** systemd-detect-virt's answer, from the files it reads first. */
function detectVirtualization(): ConditionFacts['virtualization'] {
  const pid1Env = read('/proc/1/environ')?.split('\0') ?? [];
  const container =
    pid1Env.find((e) => e.startsWith('container='))?.slice('container='.length) ??
    read('/run/systemd/container')?.trim() ??
    (exists('/run/.containerenv') ? 'podman' : exists('/.dockerenv') ? 'docker' : undefined);
  if (container) return { id: container, class: 'container' };
  const vendor = `${read('/sys/class/dmi/id/sys_vendor') ?? ''} ${read('/sys/class/dmi/id/product_name') ?? ''}`;
  const known: [RegExp, string][] = [
    [/QEMU/i, 'qemu'],
    [/KVM/i, 'kvm'],
    [/VMware/i, 'vmware'],
    [/VirtualBox|innotek/i, 'oracle'],
    [/Xen/i, 'xen'],
    [/Microsoft/i, 'microsoft'],
    [/Amazon EC2/i, 'amazon'],
    [/Google/i, 'google'],
  ];
  for (const [pattern, id] of known) if (pattern.test(vendor)) return { id, class: 'vm' };
  // No DMI (Firecracker and other minimal VMMs): the CPU says it runs under a hypervisor.
  if (/^flags\s*:.*\bhypervisor\b/m.test(read('/proc/cpuinfo') ?? '')) return { id: 'vm-other', class: 'vm' };
  return { id: 'none', class: 'none' };
}

function parseOsRelease(): Record<string, string> {
  const text = read('/etc/os-release') ?? read('/usr/lib/os-release') ?? '';
  const out: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const m = /^([A-Za-z0-9_]+)=(.*)$/.exec(line.trim());
    if (m) out[m[1] as string] = (m[2] as string).replace(/^(["'])(.*)\1$/, '$2');
  }
  return out;
}

/** The mount containing `path` (longest mount point prefix in /proc/self/mountinfo). */
function mountOf(path: string): { isMountPoint: boolean; readOnly: boolean } | undefined {
  const info = read('/proc/self/mountinfo');
  if (info === undefined || !exists(path)) return undefined;
  let best: { point: string; readOnly: boolean } | undefined;
  for (const line of info.split('\n')) {
    const fields = line.split(' ');
    const point = (fields[4] ?? '').replace(/\\040/g, ' ');
    const options = fields[5] ?? '';
    if (point === '') continue;
    const contains = path === point || point === '/' || path.startsWith(`${point}/`);
    if (contains && (!best || point.length >= best.point.length))
      best = { point, readOnly: options.split(',').includes('ro') };
  }
  if (!best) return undefined;
  return {
    isMountPoint: best.point === path.replace(/\/+$/, '') || (path === '/' && best.point === '/'),
    readOnly: best.readOnly,
  };
}

/** Paths matching a glob pattern, one path component at a time (`*`, `?`, `[…]` within a
 * component, as glob(3) does without `**`). */
function globPaths(pattern: string): string[] {
  const parts = pattern.split('/').filter((p) => p !== '');
  let matches = ['/'];
  for (const part of parts) {
    const next: string[] = [];
    const wild = /[*?[]/.test(part);
    for (const dir of matches) {
      if (!wild) {
        const p = join(dir, part);
        if (exists(p)) next.push(p);
        continue;
      }
      let names: string[];
      try {
        names = readdirSync(dir);
      } catch {
        continue;
      }
      const re = new RegExp(
        `^${part
          .replace(/[.+^${}()|\\]/g, '\\$&')
          .replace(/\*/g, '.*')
          .replace(/\?/g, '.')
          .replace(/\[!/g, '[^')}$`,
      );
      for (const n of names)
        if (re.test(n) && (!n.startsWith('.') || part.startsWith('.'))) next.push(join(dir, n));
    }
    matches = next;
    if (matches.length === 0) break;
  }
  return matches;
}

function powerSupplies(): boolean {
  let online = false;
  let offline = false;
  let names: string[] = [];
  try {
    names = readdirSync('/sys/class/power_supply');
  } catch {}
  for (const n of names) {
    if (read(join('/sys/class/power_supply', n, 'type'))?.trim() !== 'Mains') continue;
    if (read(join('/sys/class/power_supply', n, 'online'))?.trim() === '1') online = true;
    else offline = true;
  }
  // systemd's on_ac_power(): no mains supply to ask means a machine that is plugged in.
  return online || !offline;
}

function mtimeOf(path: string): number | undefined {
  try {
    return statSync(path).mtimeMs;
  } catch {
    return undefined;
  }
}

function groupNames(gids: readonly number[]): string[] {
  const out: string[] = [];
  for (const line of (read('/etc/group') ?? '').split('\n')) {
    const [name, , gid] = line.split(':');
    if (name && gid !== undefined && gids.includes(Number(gid))) out.push(name);
  }
  return out;
}

function cgroupFacts(): ConditionFacts['cgroup'] {
  const unified = read('/sys/fs/cgroup/cgroup.controllers');
  if (unified !== undefined)
    return { version: 2, controllers: new Set(unified.trim().split(/\s+/).filter(Boolean)) };
  const controllers = new Set<string>();
  for (const line of (read('/proc/cgroups') ?? '').split('\n')) {
    const [name, , , enabled] = line.split('\t');
    if (name && !name.startsWith('#') && enabled === '1') controllers.add(name);
  }
  return { version: controllers.size > 0 ? 1 : undefined, controllers };
}

function securityFacts(): Set<string> {
  const out = new Set<string>();
  for (const lsm of (read('/sys/kernel/security/lsm') ?? '').split(',')) if (lsm) out.add(lsm.trim());
  if (exists('/proc/self/loginuid')) out.add('audit');
  try {
    if (readdirSync('/sys/class/tpmrm').length > 0) out.add('tpm2');
  } catch {}
  return out;
}

/** The facts of this machine and manager, read on demand. */
export function hostConditionFacts(environment: NodeJS.ProcessEnv = process.env): ConditionFacts {
  const virtualization = lazy(detectVirtualization);
  const osRelease = lazy(parseOsRelease);
  const cpuinfo = lazy(() => read('/proc/cpuinfo') ?? '');
  const user = lazy(() => {
    const uid = process.getuid?.() ?? 0;
    const gids = [...new Set([process.getgid?.() ?? 0, ...(process.getgroups?.() ?? [])])];
    return { uid, name: lookupUser(String(uid))?.name, gids, groupNames: groupNames(gids) };
  });
  const capabilities = lazy(
    () =>
      new Set(
        capabilitiesInMask(/^CapBnd:\s*([0-9a-f]+)/m.exec(read('/proc/self/status') ?? '')?.[1] ?? '0'),
      ),
  );
  const cgroup = lazy(cgroupFacts);
  const acPower = lazy(powerSupplies);
  const cpuFeatures = lazy(
    () =>
      new Set((/^(?:flags|Features)\s*:\s*(.*)$/m.exec(cpuinfo())?.[1] ?? '').split(/\s+/).filter(Boolean)),
  );
  const credentials = lazy(() => {
    const dir = environment.CREDENTIALS_DIRECTORY;
    if (!dir) return new Set<string>();
    try {
      return new Set(readdirSync(dir));
    } catch {
      return new Set<string>();
    }
  });
  const glibc = lazy((): string | undefined => {
    try {
      return glibcVersion();
    } catch {
      return undefined; // not glibc
    }
  });
  const security = lazy(securityFacts);
  const machineId = lazy(() => read('/etc/machine-id')?.trim());
  return {
    path(path) {
      let l: ReturnType<typeof lstatSync>;
      try {
        l = lstatSync(path);
      } catch {
        return undefined;
      }
      let target: NonNullable<ReturnType<ConditionFacts['path']>>['target'];
      try {
        const st = statSync(path);
        let executable = false;
        try {
          accessSync(path, constants.X_OK);
          executable = st.isFile();
        } catch {}
        target = {
          type: st.isFile() ? 'file' : st.isDirectory() ? 'directory' : 'other',
          size: st.size,
          executable,
          ...(st.isDirectory() ? { entries: safeCount(path) } : {}),
        };
      } catch {}
      return { isSymbolicLink: l.isSymbolicLink(), ...(target ? { target } : {}) };
    },
    glob: globPaths,
    mount: mountOf,
    environment,
    get hostname() {
      return hostname();
    },
    get machineId() {
      return machineId();
    },
    get kernelCommandLine() {
      return read('/proc/cmdline')?.trim() ?? '';
    },
    get virtualization() {
      return virtualization();
    },
    architecture: ARCHITECTURES[process.arch] ?? process.arch,
    kernelRelease: release(),
    get osRelease() {
      return osRelease();
    },
    get user() {
      return user();
    },
    get capabilities() {
      return capabilities();
    },
    memoryBytes: totalmem(),
    cpus: availableParallelism(),
    get cgroup() {
      return cgroup();
    },
    get acPower() {
      return acPower();
    },
    get firstBoot() {
      const id = machineId();
      return id === undefined || id === '' || id === 'uninitialized';
    },
    get cpuFeatures() {
      return cpuFeatures();
    },
    needsUpdate(dir) {
      const usr = mtimeOf('/usr');
      const stamp = mtimeOf(join(dir, '.updated'));
      return usr !== undefined && (stamp === undefined || usr > stamp);
    },
    kernelModules: (name) => exists(join('/sys/module', name)),
    get credentials() {
      return credentials();
    },
    get glibcVersion() {
      return glibc();
    },
    systemdVersion: BASELINE_SYSTEMD,
    get security() {
      return security();
    },
    firmware: {
      get uefi() {
        return exists('/sys/firmware/efi');
      },
      get deviceTree() {
        return exists('/sys/firmware/devicetree/base') || exists('/proc/device-tree');
      },
      get compatible() {
        return (read('/proc/device-tree/compatible') ?? '').split('\0').filter(Boolean);
      },
      smbios: (field) => read(join('/sys/class/dmi/id', field))?.trim(),
    },
  };
}

function safeCount(dir: string): number {
  try {
    return readdirSync(dir).length;
  } catch {
    return 0;
  }
}
