// `%` specifiers (systemd.unit(5), "Specifiers"), expanded when a unit is loaded. Only the ones
// that mean something outside PID 1; host facts are read from the machine once per process.
// Note the manager's user, not `User=`, fills %u %U %g %G %h %s (as in systemd).

import { readFileSync } from 'node:fs';
import { hostname, machine, release, userInfo } from 'node:os';
import { dirname, isAbsolute } from 'node:path';
import { parseUnitName, unescapePath, unescapeUnitNamePart } from './names.js';
import { ValueError } from './values.js';

export type ManagerKind = 'system' | 'user';

/** Facts about the machine, the same for every unit. Absent when the machine does not provide them. */
export interface HostFacts {
  hostname: string;
  /** `PRETTY_HOSTNAME=` of /etc/machine-info, when set. */
  prettyHostname?: string;
  /** /etc/machine-id (32 hex digits). */
  machineId?: string;
  /** The boot ID as 32 hex digits without dashes. */
  bootId?: string;
  /** `uname -r`. */
  kernelRelease: string;
  /** systemd's architecture name (`x86-64`, `arm64`…). */
  architecture: string;
  /** os-release fields (ID, VERSION_ID, VARIANT_ID, IMAGE_ID, IMAGE_VERSION, BUILD_ID…). */
  osRelease: Readonly<Record<string, string>>;
}

/** The user the manager runs as, and its directories (system: /run, /var/lib…; user: XDG). */
export interface ManagerFacts {
  userName: string;
  uid: number;
  groupName: string;
  gid: number;
  home: string;
  shell: string;
  /** %t; absent for a user manager without $XDG_RUNTIME_DIR. */
  runtimeDir?: string;
  stateDir: string;
  cacheDir: string;
  logsDir: string;
  configDir: string;
  dataDir: string;
  tempDir: string;
  varTempDir: string;
}

export interface SpecifierContext {
  unitName: string;
  /** The unit file that is being loaded (for %y, %Y). */
  fragmentPath?: string;
  manager: ManagerKind;
  host: HostFacts;
  managerFacts: ManagerFacts;
}

/** Letters allowed in unit-name keys (`Service=`, `Sockets=`…), as systemd restricts them. */
export const UNIT_NAME_SPECIFIERS = 'nNpijaAbBHlqmMovwWuUgG';

/** Every specifier letter sockunit expands. */
export const ALL_SPECIFIERS = 'nNpPiIjJfhsuUgGtSCLEDdTVyYHlqmbvaoMwWAB';

// Known to systemd but about the control group of a unit run by PID 1; sockunit has none.
const CGROUP_SPECIFIERS = 'crR';

function readText(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}

/** os-release is shell-like `KEY=value`, values optionally quoted; enough of the shell for it. */
export function parseOsRelease(text: string): Record<string, string> {
  const fields: Record<string, string> = {};
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const eq = line.indexOf('=');
    if (eq <= 0) continue;
    const key = line.slice(0, eq);
    let value = line.slice(eq + 1);
    const q = value[0];
    if ((q === '"' || q === "'") && value.length >= 2 && value.endsWith(q)) {
      value = value.slice(1, -1);
      if (q === '"') value = value.replace(/\\([\\"$`])/g, '$1');
    }
    fields[key] = value;
  }
  return fields;
}

// systemd's names for `uname -m` values.
const ARCHITECTURES: Record<string, string> = {
  x86_64: 'x86-64',
  i386: 'x86',
  i486: 'x86',
  i586: 'x86',
  i686: 'x86',
  aarch64: 'arm64',
  aarch64_be: 'arm64-be',
  armv7l: 'arm',
  armv6l: 'arm',
  ppc64le: 'ppc64-le',
  ppc64: 'ppc64',
  ppc: 'ppc',
  s390x: 's390x',
  s390: 's390',
  riscv64: 'riscv64',
  loongarch64: 'loongarch64',
  mips64: 'mips64',
  mips: 'mips',
  alpha: 'alpha',
  sparc64: 'sparc64',
};

function readHostFacts(): HostFacts {
  const machineId = readText('/etc/machine-id')?.trim();
  const bootId = readText('/proc/sys/kernel/random/boot_id')?.trim().replaceAll('-', '');
  const machineInfo = parseOsRelease(readText('/etc/machine-info') ?? '');
  const osRelease = parseOsRelease(readText('/etc/os-release') ?? readText('/usr/lib/os-release') ?? '');
  const m = machine();
  const facts: HostFacts = {
    hostname: hostname(),
    kernelRelease: release(),
    architecture: ARCHITECTURES[m] ?? m,
    osRelease,
  };
  if (machineId !== undefined && /^[0-9a-f]{32}$/.test(machineId)) facts.machineId = machineId;
  if (bootId !== undefined && /^[0-9a-f]{32}$/.test(bootId)) facts.bootId = bootId;
  if (machineInfo.PRETTY_HOSTNAME) facts.prettyHostname = machineInfo.PRETTY_HOSTNAME;
  return facts;
}

function groupNameOf(gid: number): string {
  for (const line of (readText('/etc/group') ?? '').split('\n')) {
    const [name, , id] = line.split(':');
    if (name !== undefined && id !== undefined && Number(id) === gid) return name;
  }
  return String(gid);
}

function absoluteEnv(env: NodeJS.ProcessEnv, name: string): string | undefined {
  const v = env[name];
  return v !== undefined && isAbsolute(v) ? v : undefined;
}

function readManagerFacts(manager: ManagerKind, env: NodeJS.ProcessEnv): ManagerFacts {
  const tempDir = absoluteEnv(env, 'TMPDIR') ?? absoluteEnv(env, 'TEMP') ?? absoluteEnv(env, 'TMP');
  if (manager === 'system') {
    return {
      userName: 'root',
      uid: 0,
      groupName: 'root',
      gid: 0,
      home: '/root',
      shell: '/bin/sh',
      runtimeDir: '/run',
      stateDir: '/var/lib',
      cacheDir: '/var/cache',
      logsDir: '/var/log',
      configDir: '/etc',
      dataDir: '/usr/share',
      tempDir: tempDir ?? '/tmp',
      varTempDir: tempDir ?? '/var/tmp',
    };
  }
  const me = userInfo();
  const home = absoluteEnv(env, 'HOME') ?? me.homedir;
  const stateDir = absoluteEnv(env, 'XDG_STATE_HOME') ?? `${home}/.local/state`;
  const facts: ManagerFacts = {
    userName: me.username,
    uid: me.uid,
    groupName: groupNameOf(me.gid),
    gid: me.gid,
    home,
    shell: absoluteEnv(env, 'SHELL') ?? me.shell ?? '/bin/sh',
    stateDir,
    cacheDir: absoluteEnv(env, 'XDG_CACHE_HOME') ?? `${home}/.cache`,
    logsDir: `${stateDir}/log`,
    configDir: absoluteEnv(env, 'XDG_CONFIG_HOME') ?? `${home}/.config`,
    dataDir: absoluteEnv(env, 'XDG_DATA_HOME') ?? `${home}/.local/share`,
    tempDir: tempDir ?? '/tmp',
    varTempDir: tempDir ?? '/var/tmp',
  };
  const runtimeDir = absoluteEnv(env, 'XDG_RUNTIME_DIR');
  if (runtimeDir !== undefined) facts.runtimeDir = runtimeDir;
  return facts;
}

let hostCache: HostFacts | undefined;
const managerCache = new Map<ManagerKind, ManagerFacts>();

/** Host facts, read once per process. */
export function hostFacts(): HostFacts {
  hostCache ??= readHostFacts();
  return hostCache;
}

/** The manager's user and directories, read once per process and manager kind. */
export function managerFacts(manager: ManagerKind): ManagerFacts {
  let facts = managerCache.get(manager);
  if (facts === undefined) {
    facts = readManagerFacts(manager, process.env);
    managerCache.set(manager, facts);
  }
  return facts;
}

/** The context for expanding one unit's values, with this machine's facts. */
export function specifierContext(
  unitName: string,
  fragmentPath?: string,
  manager: ManagerKind = 'system',
): SpecifierContext {
  const ctx: SpecifierContext = {
    unitName,
    manager,
    host: hostFacts(),
    managerFacts: managerFacts(manager),
  };
  if (fragmentPath !== undefined) ctx.fragmentPath = fragmentPath;
  return ctx;
}

function unavailable(letter: string, why: string, what: string): ValueError {
  return new ValueError(`specifier %${letter} cannot be expanded: ${why}; ${what}`);
}

function nameParts(ctx: SpecifierContext): { prefix: string; instance: string; stem: string } {
  const parsed = parseUnitName(ctx.unitName);
  const stem = ctx.unitName.slice(0, ctx.unitName.length - parsed.type.length - 1);
  return {
    prefix: parsed.template || parsed.instance !== undefined ? parsed.prefix : stem,
    instance: parsed.instance ?? '',
    stem,
  };
}

/** Text of `%p` after its last `-`, or all of it when there is none. */
function lastDashPart(prefix: string): string {
  const dash = prefix.lastIndexOf('-');
  return dash < 0 ? prefix : prefix.slice(dash + 1);
}

function expandOne(letter: string, ctx: SpecifierContext): string {
  const m = ctx.managerFacts;
  const h = ctx.host;
  switch (letter) {
    case 'n':
      return ctx.unitName;
    case 'N':
      return nameParts(ctx).stem;
    case 'p':
      return nameParts(ctx).prefix;
    case 'P':
      return unescapeUnitNamePart(nameParts(ctx).prefix);
    case 'i':
      return nameParts(ctx).instance;
    case 'I':
      return unescapeUnitNamePart(nameParts(ctx).instance);
    case 'j':
      return lastDashPart(nameParts(ctx).prefix);
    case 'J':
      return unescapeUnitNamePart(lastDashPart(nameParts(ctx).prefix));
    case 'f': {
      const { prefix, instance } = nameParts(ctx);
      return unescapePath(instance !== '' ? instance : prefix);
    }
    case 'h':
      return m.home;
    case 's':
      return m.shell;
    case 'u':
      return m.userName;
    case 'U':
      return String(m.uid);
    case 'g':
      return m.groupName;
    case 'G':
      return String(m.gid);
    case 't':
      if (m.runtimeDir === undefined) {
        throw unavailable(
          't',
          '$XDG_RUNTIME_DIR is not set for this user manager',
          'set it (e.g. /run/user/UID)',
        );
      }
      return m.runtimeDir;
    case 'd':
      if (m.runtimeDir === undefined) {
        throw unavailable(
          'd',
          '$XDG_RUNTIME_DIR is not set for this user manager',
          'set it (e.g. /run/user/UID)',
        );
      }
      return `${m.runtimeDir}/credentials/${ctx.unitName}`;
    case 'S':
      return m.stateDir;
    case 'C':
      return m.cacheDir;
    case 'L':
      return m.logsDir;
    case 'E':
      return m.configDir;
    case 'D':
      return m.dataDir;
    case 'T':
      return m.tempDir;
    case 'V':
      return m.varTempDir;
    case 'y':
    case 'Y': {
      if (ctx.fragmentPath === undefined) {
        throw unavailable(letter, 'the unit has no unit file', 'use it only in units loaded from a file');
      }
      return letter === 'y' ? ctx.fragmentPath : dirname(ctx.fragmentPath);
    }
    case 'H':
      return h.hostname;
    case 'l':
      return h.hostname.split('.')[0] ?? h.hostname;
    case 'q':
      return h.prettyHostname ?? h.hostname.split('.')[0] ?? h.hostname;
    case 'm':
      if (h.machineId === undefined) {
        throw unavailable(
          'm',
          '/etc/machine-id is missing or invalid',
          'create it with systemd-machine-id-setup',
        );
      }
      return h.machineId;
    case 'b':
      if (h.bootId === undefined) {
        throw unavailable('b', '/proc/sys/kernel/random/boot_id is not readable', 'mount /proc');
      }
      return h.bootId;
    case 'v':
      return h.kernelRelease;
    case 'a':
      return h.architecture;
    case 'o':
      return h.osRelease.ID ?? '';
    case 'w':
      return h.osRelease.VERSION_ID ?? '';
    case 'W':
      return h.osRelease.VARIANT_ID ?? '';
    case 'M':
      return h.osRelease.IMAGE_ID ?? '';
    case 'A':
      return h.osRelease.IMAGE_VERSION ?? '';
    case 'B':
      return h.osRelease.BUILD_ID ?? '';
    default:
      throw new ValueError(`unknown specifier %${letter}; expected one of the specifiers of systemd.unit(5)`);
  }
}

function specifierList(letters: string): string {
  return [...letters].map((l) => `%${l}`).join(' ');
}

/**
 * `value` with its specifiers replaced. `%%` is a literal `%`; `%` followed by anything other
 * than a letter or digit, or at the very end, stays as written (systemd's rule). An unknown
 * letter or digit, a letter outside `allowed`, or one whose fact is unavailable throws
 * ValueError naming it.
 */
export function expandSpecifiers(value: string, ctx: SpecifierContext, allowed?: string): string {
  let at = value.indexOf('%');
  if (at < 0) return value;
  let out = value.slice(0, at);
  while (at >= 0) {
    const letter = value[at + 1];
    let next = at + 2;
    if (letter === '%') out += '%';
    else if (letter === undefined || !/^[A-Za-z0-9]$/.test(letter)) {
      out += '%';
      next = at + 1;
    } else if (CGROUP_SPECIFIERS.includes(letter)) {
      throw new ValueError(
        `specifier %${letter} (control group path) is not supported by sockunit; expected a value without it`,
      );
    } else if (!ALL_SPECIFIERS.includes(letter)) {
      throw new ValueError(
        `unknown specifier %${letter}; expected one of ${specifierList(ALL_SPECIFIERS)}, or %% for a literal %`,
      );
    } else if (allowed !== undefined && !allowed.includes(letter)) {
      throw new ValueError(
        `specifier %${letter} is not allowed here; expected one of ${specifierList(allowed)}`,
      );
    } else out += expandOne(letter, ctx);
    at = value.indexOf('%', next);
    out += value.slice(next, at < 0 ? value.length : at);
  }
  return out;
}
