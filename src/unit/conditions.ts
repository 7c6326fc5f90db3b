// Condition*= and Assert*= (systemd.unit(5)): their grammar, and their evaluation against facts
// about the machine. Pure: the facts are handed in (manager/jobs/condition-facts.ts reads them
// from /proc, /sys and /etc), so every rule here is tested without touching the host.

import { ValueError } from './values.js';

/** Every condition systemd knows. `evaluated` ones are checked before a unit starts; the others
 * are accepted and reported by verify as not evaluated (their facts do not exist here). */
export const EVALUATED_CONDITIONS = [
  'PathExists',
  'PathExistsGlob',
  'PathIsDirectory',
  'PathIsSymbolicLink',
  'PathIsMountPoint',
  'PathIsReadWrite',
  'DirectoryNotEmpty',
  'FileNotEmpty',
  'FileIsExecutable',
  'Environment',
  'Host',
  'KernelCommandLine',
  'Virtualization',
  'Architecture',
  'KernelVersion',
  'OSRelease',
  'User',
  'Group',
  'Capability',
  'Memory',
  'CPUs',
  'ControlGroupController',
  'ACPower',
  'FirstBoot',
  'CPUFeature',
  'NeedsUpdate',
  'KernelModuleLoaded',
  'Credential',
  'Version',
  'Security',
  'Firmware',
] as const;

export type ConditionKind = (typeof EVALUATED_CONDITIONS)[number];

/** Conditions whose facts sockunit cannot know, with the reason verify gives. */
export const UNEVALUATED_CONDITIONS: Readonly<Record<string, string>> = {
  PathIsEncrypted:
    'finding whether a path lies on dm-crypt needs the block device stack, which sockunit does not read',
  MemoryPressure: 'pressure is measured on the unit’s slice, and sockunit has no slices',
  CPUPressure: 'pressure is measured on the unit’s slice, and sockunit has no slices',
  IOPressure: 'pressure is measured on the unit’s slice, and sockunit has no slices',
};

const PATH_CONDITIONS: ReadonlySet<ConditionKind> = new Set([
  'PathExists',
  'PathExistsGlob',
  'PathIsDirectory',
  'PathIsSymbolicLink',
  'PathIsMountPoint',
  'PathIsReadWrite',
  'FileNotEmpty',
  'DirectoryNotEmpty',
  'FileIsExecutable',
  'NeedsUpdate',
]);

export interface Condition {
  kind: ConditionKind;
  /** `!`: the check passes when the fact is false. */
  negate: boolean;
  /** `|`: a triggering condition; the unit runs if any triggering condition holds. */
  triggering: boolean;
  /** The argument, prefixes removed and specifiers expanded. */
  value: string;
}

/** Parses one `ConditionX=`/`AssertX=` value (`|` then `!` prefixes, then the argument). */
export function parseCondition(kind: ConditionKind, value: string): Condition {
  let rest = value;
  let triggering = false;
  let negate = false;
  if (rest.startsWith('|')) {
    triggering = true;
    rest = rest.slice(1).trimStart();
  }
  if (rest.startsWith('!')) {
    negate = true;
    rest = rest.slice(1).trimStart();
  }
  if (rest === '') throw new ValueError('the condition has no argument; expected [|][!]ARGUMENT');
  if (PATH_CONDITIONS.has(kind) && !rest.startsWith('/')) {
    throw new ValueError(`'${rest}' is not an absolute path; expected [|][!]/PATH`);
  }
  checkArgument(kind, rest);
  return { kind, negate, triggering, value: rest };
}

/** Arguments systemd refuses when it loads the unit (not when it evaluates). */
function checkArgument(kind: ConditionKind, value: string): void {
  switch (kind) {
    case 'NeedsUpdate':
      if (value !== '/etc' && value !== '/var')
        throw new ValueError(`'${value}' is not /etc or /var; expected ConditionNeedsUpdate=/etc or /var`);
      return;
    case 'Memory':
    case 'CPUs':
      comparison(value, kind === 'Memory' ? parseBytes : parseCount);
      return;
    case 'OSRelease':
      keyComparison(value);
      return;
    case 'ACPower':
    case 'FirstBoot':
      parseBooleanLike(value);
      return;
    default:
      return;
  }
}

export function formatCondition(c: Condition): string {
  return `${c.triggering ? '|' : ''}${c.negate ? '!' : ''}${c.value}`;
}

/** What the evaluator needs to know about the machine and the manager. */
export interface ConditionFacts {
  /** lstat-like facts about a path, undefined if it does not exist. `target` follows symlinks. */
  path(path: string):
    | {
        isSymbolicLink: boolean;
        target?: {
          type: 'file' | 'directory' | 'other';
          size: number;
          executable: boolean;
          entries?: number;
        };
      }
    | undefined;
  /** The paths a glob pattern matches (ConditionPathExistsGlob=). */
  glob(pattern: string): readonly string[];
  /** The mount a path lies on: whether `path` is its mount point, and whether it is read-only. */
  mount(path: string): { isMountPoint: boolean; readOnly: boolean } | undefined;
  environment: Readonly<Record<string, string | undefined>>;
  hostname: string;
  machineId?: string;
  kernelCommandLine: string;
  /** `none`, or the technology (`kvm`, `docker`…) and whether it is a VM or a container. */
  virtualization: { id: string; class: 'vm' | 'container' | 'none' };
  /** systemd's name of the machine's architecture (`x86-64`, `arm64`…). */
  architecture: string;
  /** `uname -r`. */
  kernelRelease: string;
  /** /etc/os-release (or /usr/lib/os-release) as key → value. */
  osRelease: Readonly<Record<string, string>>;
  /** The manager's own user and groups. */
  user: { uid: number; name: string | undefined; gids: readonly number[]; groupNames: readonly string[] };
  /** Capability names (`CAP_NET_ADMIN`) in the manager's bounding set. */
  capabilities: ReadonlySet<string>;
  /** Physical memory in bytes, and the CPUs this process may run on. */
  memoryBytes: number;
  cpus: number;
  /** cgroup controllers available, and which hierarchy (1 or 2) is the manager's. */
  cgroup: { version: 1 | 2 | undefined; controllers: ReadonlySet<string> };
  /** True when on mains power, or when the machine has no power supply to ask. */
  acPower: boolean;
  /** /etc/machine-id missing or `uninitialized`: systemd's first boot. */
  firstBoot: boolean;
  /** CPU feature flags (/proc/cpuinfo). */
  cpuFeatures: ReadonlySet<string>;
  /** ConditionNeedsUpdate=: whether /usr is newer than `<dir>/.updated`. */
  needsUpdate(dir: '/etc' | '/var'): boolean;
  /** Kernel modules loaded or built in (/sys/module), `-` written as `_`. */
  kernelModules(name: string): boolean;
  /** Names of the credentials the manager itself was given ($CREDENTIALS_DIRECTORY). */
  credentials: ReadonlySet<string>;
  /** glibc's version (`2.36`), and the systemd release whose unit semantics sockunit follows. */
  glibcVersion: string | undefined;
  systemdVersion: number;
  /** Security frameworks active (`selinux`, `apparmor`, `smack`, `tomoyo`, `ima`, `audit`, `tpm2`…). */
  security: ReadonlySet<string>;
  /** Firmware facts: `uefi`, `device-tree`, compatible strings, SMBIOS fields. */
  firmware: {
    uefi: boolean;
    deviceTree: boolean;
    compatible: readonly string[];
    smbios(field: string): string | undefined;
  };
}

// ---- comparisons as systemd writes them -------------------------------------------------------

const OPERATORS = ['<=', '>=', '!=', '$=', '!$=', '=', '<', '>'] as const;
type Operator = (typeof OPERATORS)[number];

function splitOperator(value: string): { op: Operator; rest: string } | undefined {
  const trimmed = value.trimStart();
  // Longest first, so `<=` is not read as `<`.
  for (const op of ['!$=', '<=', '>=', '!=', '$=', '=', '<', '>'] as const)
    if (trimmed.startsWith(op)) return { op, rest: trimmed.slice(op.length).trim() };
  return undefined;
}

function compareWith(order: number, op: Operator): boolean {
  switch (op) {
    case '<':
      return order < 0;
    case '<=':
      return order <= 0;
    case '>':
      return order > 0;
    case '>=':
      return order >= 0;
    case '=':
      return order === 0;
    case '!=':
      return order !== 0;
    default:
      return false;
  }
}

/** systemd's version order (strverscmp_improved, simplified): digit runs compare as numbers,
 * other characters as text; `~` sorts before everything, as in package versions. */
export function compareVersions(a: string, b: string): number {
  const parts = (s: string) => s.match(/\d+|[^\d.\-_+~]+|~/g) ?? [];
  const x = parts(a);
  const y = parts(b);
  for (let i = 0; i < Math.max(x.length, y.length); i++) {
    const p = x[i];
    const q = y[i];
    if (p === undefined) return q === '~' ? 1 : -1;
    if (q === undefined) return p === '~' ? -1 : 1;
    if (p === q) continue;
    if (p === '~') return -1;
    if (q === '~') return 1;
    const pn = /^\d+$/.test(p);
    const qn = /^\d+$/.test(q);
    if (pn && qn) return Number(p) - Number(q) < 0 ? -1 : 1;
    if (pn !== qn) return pn ? 1 : -1;
    return p < q ? -1 : 1;
  }
  return 0;
}

/** fnmatch(3) with `*`, `?` and `[...]`, as systemd's glob comparisons use it. */
export function globMatches(pattern: string, text: string): boolean {
  let re = '^';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i] as string;
    if (c === '*') re += '.*';
    else if (c === '?') re += '.';
    else if (c === '[') {
      const end = pattern.indexOf(']', i + 2);
      if (end < 0) re += '\\[';
      else {
        const body = pattern
          .slice(i + 1, end)
          .replace(/^!/, '^')
          .replace(/\\/g, '\\\\');
        re += `[${body}]`;
        i = end;
      }
    } else re += c.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
  }
  return new RegExp(`${re}$`, 's').test(text);
}

function parseBytes(s: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*([KMGTPE]?)(i?B?)$/i.exec(s.trim());
  if (!m) throw new ValueError(`'${s}' is not a size; expected bytes with an optional K, M, G, T suffix`);
  const power = ' KMGTPE'.indexOf((m[2] ?? '').toUpperCase() || ' ');
  return Number(m[1]) * 1024 ** Math.max(0, power);
}

function parseCount(s: string): number {
  if (!/^\d+$/.test(s.trim())) throw new ValueError(`'${s}' is not a number of CPUs; expected e.g. >=2`);
  return Number(s.trim());
}

/** `[OP]NUMBER` (ConditionMemory=, ConditionCPUs=): `=` when no operator is given. */
function comparison(value: string, parse: (s: string) => number): { op: Operator; n: number } {
  const split = splitOperator(value);
  const op = split?.op ?? '=';
  if (op === '$=' || op === '!$=')
    throw new ValueError(`'${op}' compares text; expected <, <=, =, !=, >= or >`);
  return { op, n: parse(split?.rest ?? value) };
}

/** `KEY OP VALUE` (ConditionOSRelease=, SMBIOS fields): several operators, no spaces needed. */
function keyComparison(value: string): { key: string; op: Operator; expected: string } {
  const m = /^\s*([A-Za-z0-9_]+)\s*(!\$=|<=|>=|!=|\$=|=|<|>)\s*(.*?)\s*$/.exec(value);
  if (!m)
    throw new ValueError(`'${value}' is not KEY OPERATOR VALUE; expected e.g. ID=debian or VERSION_ID>=12`);
  return { key: m[1] as string, op: m[2] as Operator, expected: (m[3] as string).replace(/^"(.*)"$/, '$1') };
}

function matchesValue(actual: string | undefined, op: Operator, expected: string): boolean {
  if (op === '$=') return actual !== undefined && globMatches(expected, actual);
  if (op === '!$=') return actual === undefined || !globMatches(expected, actual);
  if (op === '=') return (actual ?? '') === expected;
  if (op === '!=') return (actual ?? '') !== expected;
  if (actual === undefined) return false;
  return compareWith(compareVersions(actual, expected), op);
}

function parseBooleanLike(s: string): boolean {
  const w = s.toLowerCase();
  if (['1', 'yes', 'y', 'true', 't', 'on'].includes(w)) return true;
  if (['0', 'no', 'n', 'false', 'f', 'off'].includes(w)) return false;
  throw new ValueError(`'${s}' is not a boolean; expected yes or no`);
}

const SYSTEM_UID_MAX = 999;

// ---- the facts, one kind at a time -----------------------------------------------------------

function pathFact(c: Condition, facts: ConditionFacts): boolean {
  const p = facts.path(c.value);
  const t = p?.target;
  switch (c.kind) {
    case 'PathExists':
      return p !== undefined;
    case 'PathIsDirectory':
      return t?.type === 'directory';
    case 'PathIsSymbolicLink':
      return p?.isSymbolicLink === true;
    case 'FileNotEmpty':
      return t?.type === 'file' && t.size > 0;
    case 'DirectoryNotEmpty':
      return t?.type === 'directory' && (t.entries ?? 0) > 0;
    case 'FileIsExecutable':
      return t?.type === 'file' && t.executable;
    case 'PathIsMountPoint':
      return facts.mount(c.value)?.isMountPoint === true;
    case 'PathIsReadWrite': {
      const m = facts.mount(c.value);
      return m !== undefined && !m.readOnly;
    }
    default:
      return false;
  }
}

function versionFact(value: string, facts: ConditionFacts): boolean {
  // `[systemd|kernel|glibc] OP VERSION`; systemd: the release whose semantics sockunit follows.
  const m = /^\s*(systemd|kernel|glibc)?\s*(.*)$/.exec(value);
  const which = m?.[1] ?? 'systemd';
  const rest = m?.[2] ?? value;
  const actual =
    which === 'kernel'
      ? facts.kernelRelease
      : which === 'glibc'
        ? facts.glibcVersion
        : String(facts.systemdVersion);
  const split = splitOperator(rest);
  if (!split) return actual !== undefined && globMatches(rest.trim(), actual);
  return matchesValue(actual, split.op, split.rest);
}

function firmwareFact(value: string, facts: ConditionFacts): boolean {
  const f = facts.firmware;
  if (value === 'uefi') return f.uefi;
  if (value === 'device-tree') return f.deviceTree;
  const compatible = /^device-tree-compatible\((.*)\)$/.exec(value);
  if (compatible) return f.compatible.includes((compatible[1] as string).trim());
  const smbios = /^smbios-field\((.*)\)$/.exec(value);
  if (smbios) {
    const { key, op, expected } = keyComparison(smbios[1] as string);
    return matchesValue(f.smbios(key), op, expected);
  }
  return false;
}

function factHolds(c: Condition, facts: ConditionFacts): boolean {
  const v = c.value;
  switch (c.kind) {
    case 'PathExistsGlob':
      return facts.glob(v).length > 0;
    case 'Environment': {
      const eq = v.indexOf('=');
      if (eq < 0) return facts.environment[v] !== undefined;
      return facts.environment[v.slice(0, eq)] === v.slice(eq + 1);
    }
    case 'Host': {
      const want = v.toLowerCase();
      return want === facts.hostname.toLowerCase() || want === facts.machineId?.toLowerCase();
    }
    case 'KernelCommandLine': {
      const words = facts.kernelCommandLine.split(/\s+/).filter((w) => w !== '');
      if (v.includes('=')) return words.includes(v);
      return words.some((w) => w === v || w.startsWith(`${v}=`));
    }
    case 'Virtualization': {
      const virt = facts.virtualization;
      if (v === 'vm') return virt.class === 'vm';
      if (v === 'container') return virt.class === 'container';
      if (v === 'private-users') return false;
      try {
        return (virt.class !== 'none') === parseBooleanLike(v);
      } catch {
        return virt.id === v;
      }
    }
    case 'Architecture':
      return v === 'native' || v === facts.architecture;
    case 'KernelVersion': {
      // Several space-separated expressions, all of which must hold.
      return v.split(/\s+(?=[<>=!$])/).every((expr) => {
        const split = splitOperator(expr);
        return split
          ? matchesValue(facts.kernelRelease, split.op, split.rest)
          : globMatches(expr.trim(), facts.kernelRelease);
      });
    }
    case 'OSRelease': {
      const { key, op, expected } = keyComparison(v);
      return matchesValue(facts.osRelease[key], op, expected);
    }
    case 'User': {
      const u = facts.user;
      if (v === '@system') return u.uid <= SYSTEM_UID_MAX;
      return /^\d+$/.test(v) ? Number(v) === u.uid : v === u.name;
    }
    case 'Group': {
      const u = facts.user;
      return /^\d+$/.test(v) ? u.gids.includes(Number(v)) : u.groupNames.includes(v);
    }
    case 'Capability':
      return facts.capabilities.has(v.toUpperCase());
    case 'Memory': {
      const { op, n } = comparison(v, parseBytes);
      return compareWith(facts.memoryBytes - n, op);
    }
    case 'CPUs': {
      const { op, n } = comparison(v, parseCount);
      return compareWith(facts.cpus - n, op);
    }
    case 'ControlGroupController': {
      // As systemd's condition_test_control_group_controller(): `v1`/`v2` only as the whole
      // value; controller names it does not know are ignored, and a list without a known one holds.
      if (v === 'v1') return facts.cgroup.version === 1;
      if (v === 'v2') return facts.cgroup.version === 2;
      const known = v.split(/\s+/).filter((name) => CGROUP_CONTROLLER_NAMES.has(name));
      return known.every((name) => facts.cgroup.controllers.has(name));
    }
    case 'ACPower':
      return facts.acPower === parseBooleanLike(v);
    case 'FirstBoot':
      return facts.firstBoot === parseBooleanLike(v);
    case 'CPUFeature':
      return facts.cpuFeatures.has(v.toLowerCase());
    case 'NeedsUpdate':
      return facts.needsUpdate(v as '/etc' | '/var');
    case 'KernelModuleLoaded':
      return facts.kernelModules(v.replaceAll('-', '_'));
    case 'Credential':
      return facts.credentials.has(v);
    case 'Version':
      return versionFact(v, facts);
    case 'Security':
      return facts.security.has(v);
    case 'Firmware':
      return firmwareFact(v, facts);
    default:
      return pathFact(c, facts);
  }
}

/** The controller names systemd's cg_mask_from_string() knows (cgroup-util.c's table); the bpf-*
 * ones are systemd's own pseudo-controllers, which sockunit's facts never list. */
const CGROUP_CONTROLLER_NAMES: ReadonlySet<string> = new Set([
  'cpu',
  'cpuacct',
  'cpuset',
  'io',
  'blkio',
  'memory',
  'devices',
  'pids',
  'bpf-firewall',
  'bpf-devices',
  'bpf-foreign',
  'bpf-socket-bind',
  'bpf-restrict-network-interfaces',
]);

/** Whether one condition holds, its `!` applied (its `|` is the caller's business). */
export function conditionHolds(c: Condition, facts: ConditionFacts): boolean {
  return factHolds(c, facts) !== c.negate;
}

/** systemd's rule: every non-triggering condition must hold, and if there are triggering ones, at
 * least one of them must. Returns the first failing condition, if any. */
export function evaluateConditions(
  conditions: readonly Condition[],
  facts: ConditionFacts,
): { ok: true } | { ok: false; failed: Condition } {
  let triggeringSeen: Condition | undefined;
  let triggeringHeld = false;
  for (const c of conditions) {
    const holds = conditionHolds(c, facts);
    if (c.triggering) {
      triggeringSeen ??= c;
      triggeringHeld ||= holds;
    } else if (!holds) {
      return { ok: false, failed: c };
    }
  }
  if (triggeringSeen !== undefined && !triggeringHeld) return { ok: false, failed: triggeringSeen };
  return { ok: true };
}
