// The typed [Unit] section shared by every unit type, and the Condition*/Assert* checks that
// sockunit evaluates. Evaluation is pure: the caller supplies the facts (file system, host).

import { ValueError } from './values.js';

export type ConditionKind =
  | 'PathExists'
  | 'PathIsDirectory'
  | 'PathIsSymbolicLink'
  | 'FileNotEmpty'
  | 'DirectoryNotEmpty'
  | 'FileIsExecutable'
  | 'Environment'
  | 'Host'
  | 'KernelCommandLine'
  | 'Virtualization';

export const CONDITION_KINDS: readonly ConditionKind[] = [
  'PathExists',
  'PathIsDirectory',
  'PathIsSymbolicLink',
  'FileNotEmpty',
  'DirectoryNotEmpty',
  'FileIsExecutable',
  'Environment',
  'Host',
  'KernelCommandLine',
  'Virtualization',
];

const PATH_CONDITIONS: ReadonlySet<ConditionKind> = new Set([
  'PathExists',
  'PathIsDirectory',
  'PathIsSymbolicLink',
  'FileNotEmpty',
  'DirectoryNotEmpty',
  'FileIsExecutable',
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

export interface UnitSection {
  description: string;
  documentation: string[];
  requires: string[];
  requisite: string[];
  wants: string[];
  bindsTo: string[];
  partOf: string[];
  conflicts: string[];
  before: string[];
  after: string[];
  /** Microseconds; 0 disables start rate limiting. */
  startLimitIntervalUsec: number;
  startLimitBurst: number;
  conditions: Condition[];
  asserts: Condition[];
}

export const DEFAULT_START_LIMIT_INTERVAL_USEC = 10_000_000;
export const DEFAULT_START_LIMIT_BURST = 5;

export function defaultUnitSection(): UnitSection {
  return {
    description: '',
    documentation: [],
    requires: [],
    requisite: [],
    wants: [],
    bindsTo: [],
    partOf: [],
    conflicts: [],
    before: [],
    after: [],
    startLimitIntervalUsec: DEFAULT_START_LIMIT_INTERVAL_USEC,
    startLimitBurst: DEFAULT_START_LIMIT_BURST,
    conditions: [],
    asserts: [],
  };
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
  return { kind, negate, triggering, value: rest };
}

export function formatCondition(c: Condition): string {
  return `${c.triggering ? '|' : ''}${c.negate ? '!' : ''}${c.value}`;
}

/** What the evaluator needs to know about the machine. */
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
  environment: Readonly<Record<string, string | undefined>>;
  hostname: string;
  machineId?: string;
  kernelCommandLine: string;
  /** `none`, or the technology (`kvm`, `docker`…) and whether it is a VM or a container. */
  virtualization: { id: string; class: 'vm' | 'container' | 'none' };
}

function factHolds(c: Condition, facts: ConditionFacts): boolean {
  switch (c.kind) {
    case 'PathExists':
      return facts.path(c.value) !== undefined;
    case 'PathIsDirectory':
      return facts.path(c.value)?.target?.type === 'directory';
    case 'PathIsSymbolicLink':
      return facts.path(c.value)?.isSymbolicLink === true;
    case 'FileNotEmpty': {
      const t = facts.path(c.value)?.target;
      return t?.type === 'file' && t.size > 0;
    }
    case 'DirectoryNotEmpty': {
      const t = facts.path(c.value)?.target;
      return t?.type === 'directory' && (t.entries ?? 0) > 0;
    }
    case 'FileIsExecutable': {
      const t = facts.path(c.value)?.target;
      return t?.type === 'file' && t.executable;
    }
    case 'Environment': {
      const eq = c.value.indexOf('=');
      if (eq < 0) return facts.environment[c.value] !== undefined;
      return facts.environment[c.value.slice(0, eq)] === c.value.slice(eq + 1);
    }
    case 'Host': {
      const want = c.value.toLowerCase();
      return want === facts.hostname.toLowerCase() || want === facts.machineId?.toLowerCase();
    }
    case 'KernelCommandLine': {
      const words = facts.kernelCommandLine.split(/\s+/).filter((w) => w !== '');
      if (c.value.includes('=')) return words.includes(c.value);
      return words.some((w) => w === c.value || w.startsWith(`${c.value}=`));
    }
    case 'Virtualization': {
      const v = facts.virtualization;
      if (c.value === 'vm') return v.class === 'vm';
      if (c.value === 'container') return v.class === 'container';
      if (c.value === 'private-users') return false;
      try {
        return (v.class !== 'none') === parseBooleanLike(c.value);
      } catch {
        return v.id === c.value;
      }
    }
  }
}

function parseBooleanLike(s: string): boolean {
  const w = s.toLowerCase();
  if (['1', 'yes', 'y', 'true', 't', 'on'].includes(w)) return true;
  if (['0', 'no', 'n', 'false', 'f', 'off'].includes(w)) return false;
  throw new ValueError('not a boolean');
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
    const holds = factHolds(c, facts) !== c.negate;
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
