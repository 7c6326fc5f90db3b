// Keys of systemd.exec(5) and systemd.kill(5) that sockunit acts on, shared by [Service] and
// [Socket] (where they govern the socket's own ExecStartPre= etc.), and the Exec*= row builder.

import {
  applyEnvironment,
  type EnvironmentAssignment,
  isValidEnvironmentName,
  parseEnvironmentAssignments,
} from '../environment.js';
import {
  type ExecCommand,
  execLineIgnoresErrors,
  formatExecCommand,
  parseExecLine,
} from '../exec-command.js';
import type {
  EnvironmentFileRef,
  ExecContext,
  KillContext,
  StandardInput,
  StandardOutput,
  WorkingDirectory,
} from '../exec-context.js';
import { parseUserName, ValueError } from '../values.js';
import { quoteWord, unescapeC } from '../words.js';
import {
  type ApplyContext,
  bool,
  type KeyDef,
  listRow,
  mode,
  oneOf,
  type SectionName,
  scalarRow,
  signal,
  splitBlank,
  type ValueType,
} from './define.js';

type WithExec = { exec: ExecContext; kill: KillContext };
const exec = (c: WithExec): ExecContext => c.exec;
const kill = (c: WithExec): KillContext => c.kill;

/** An `Exec*=` row: the line's `-` prefix decides whether a bad line is a warning or an error. */
export function execRow<C, O>(
  section: SectionName,
  name: string,
  owner: (config: C) => O,
  field: { [K in keyof O]: O[K] extends ExecCommand[] ? K : never }[keyof O],
  doc: string,
): KeyDef<C> {
  return {
    section,
    name,
    doc,
    type: 'command line',
    default: '',
    repetition: 'list',
    specifiers: 'all',
    expandsOwnSpecifiers: true,
    enforcement: { enforced: true },
    apply: (config, value, ctx) => {
      const o = owner(config) as Record<typeof field, ExecCommand[]>;
      if (value === '') {
        o[field] = [];
        return;
      }
      try {
        const parsed = parseExecLine(value, (word) => ctx.expand(word, 'all'));
        for (const n of parsed.notices) ctx.notice(n);
        const origin = { file: ctx.file, line: ctx.line };
        for (const c of parsed.commands) {
          c.origin = origin;
          o[field].push(c);
        }
      } catch (e) {
        if (!(e instanceof ValueError)) throw e;
        if (execLineIgnoresErrors(value)) ctx.warn(`${e.message} (the line is ignored)`);
        else ctx.error(e.message);
      }
    },
    show: (config) => (owner(config) as Record<typeof field, ExecCommand[]>)[field].map(formatExecCommand),
  };
}

const user: ValueType<string> = { name: 'user name or id', parse: parseUserName, format: (v) => v };

const workingDirectory: ValueType<WorkingDirectory> = {
  name: '[-]absolute path or ~',
  parse: (s) => {
    const missingOk = s.startsWith('-');
    const path = missingOk ? s.slice(1) : s;
    if (path !== '~' && !path.startsWith('/')) {
      throw new ValueError(`'${path}' is not an absolute path; expected /path, ~ or -/path`);
    }
    return { path, missingOk };
  },
  format: (v) => `${v.missingOk ? '-' : ''}${v.path}`,
};

const STANDARD_INPUT = ['null', 'tty', 'tty-force', 'tty-fail', 'data', 'socket'] as const;
const STANDARD_OUTPUT = [
  'inherit',
  'null',
  'tty',
  'journal',
  'kmsg',
  'journal+console',
  'kmsg+console',
  'socket',
] as const;
// Old names systemd still accepts and maps onto the journal.
const OUTPUT_ALIASES: Record<string, StandardOutput> = {
  syslog: 'journal',
  'syslog+console': 'journal+console',
};

function parseStream(s: string, words: readonly string[], prefixes: readonly string[]): string {
  if (words.includes(s)) return s;
  const alias = OUTPUT_ALIASES[s];
  if (alias !== undefined && words.includes('journal')) return alias;
  for (const p of prefixes) {
    if (!s.startsWith(p)) continue;
    const arg = s.slice(p.length);
    if (p === 'fd:') {
      if (arg === '' || arg.includes(':'))
        throw new ValueError(`'${s}' has no valid fd name; expected fd:NAME`);
    } else if (!arg.startsWith('/')) {
      throw new ValueError(`'${s}' needs an absolute path; expected ${p}/PATH`);
    }
    return s;
  }
  throw new ValueError(
    `'${s}' is not a valid value; expected one of ${[...words, ...prefixes.map((p) => `${p}…`)].join(', ')}`,
  );
}

const standardInput: ValueType<StandardInput> = {
  name: 'input',
  parse: (s) => parseStream(s, STANDARD_INPUT, ['file:', 'fd:']) as StandardInput,
  format: (v) => v,
};
const standardOutput: ValueType<StandardOutput> = {
  name: 'output',
  parse: (s) => parseStream(s, STANDARD_OUTPUT, ['file:', 'append:', 'truncate:', 'fd:']) as StandardOutput,
  format: (v) => v,
};

function parseEnvironmentItems(value: string, ctx: ApplyContext): EnvironmentAssignment[] {
  const parsed = parseEnvironmentAssignments(value);
  for (const w of parsed.warnings) ctx.warn(`${w}; the item is ignored`);
  return parsed.assignments;
}

function parseEnvironmentFiles(value: string): EnvironmentFileRef[] {
  const missingOk = value.startsWith('-');
  const path = missingOk ? value.slice(1) : value;
  if (!path.startsWith('/'))
    throw new ValueError(`'${path}' is not an absolute path; expected /path or -/path`);
  return [{ path, missingOk }];
}

function parseVariableNames(value: string, ctx: ApplyContext): string[] {
  const names: string[] = [];
  // UnsetEnvironment= also takes NAME=value (unset only that exact assignment).
  for (const word of splitBlank(value)) {
    if (isValidEnvironmentName(word.split('=')[0] ?? '')) names.push(word);
    else ctx.warn(`'${word}' is not a valid variable name, ignoring it; expected letters, digits and '_'`);
  }
  return names;
}

function parseGroups(value: string): string[] {
  return splitBlank(value).map(parseUserName);
}

/** ExecSearchPath=: colon-separated absolute directories (systemd's colon-separated paths). */
function parseSearchPath(value: string): string[] {
  const dirs = value.split(':').filter((d) => d !== '');
  for (const d of dirs)
    if (!d.startsWith('/')) throw new ValueError(`'${d}' is not an absolute path; expected /dir1:/dir2`);
  return dirs;
}

export function execContextKeys(section: 'Service' | 'Socket'): KeyDef<WithExec>[] {
  return [
    scalarRow(section, 'User', exec, 'user', user, 'user the processes run as', {
      specifiers: 'all',
      default: 'root',
      emptyResetsTo: { value: undefined },
    }),
    scalarRow(
      section,
      'Group',
      exec,
      'group',
      user,
      'group the processes run as (default: the user’s primary group)',
      {
        specifiers: 'all',
        emptyResetsTo: { value: undefined },
      },
    ),
    listRow(
      section,
      'SupplementaryGroups',
      exec,
      'supplementaryGroups',
      parseGroups,
      (v) => v.join(' '),
      'additional groups',
      {
        type: 'group names',
        specifiers: 'all',
      },
    ),
    scalarRow(
      section,
      'WorkingDirectory',
      exec,
      'workingDirectory',
      workingDirectory,
      'working directory ("-": may be missing; "~": home of User=)',
      {
        specifiers: 'all',
        default: '/',
        emptyResetsTo: { value: undefined },
      },
    ),
    scalarRow(section, 'UMask', exec, 'umask', mode, 'file mode creation mask', { default: '0022' }),
    listRow(
      section,
      'ExecSearchPath',
      exec,
      'execSearchPath',
      parseSearchPath,
      (v) => v.join(':'),
      'where a bare executable name is looked up (and the default $PATH)',
      {
        type: 'colon-separated absolute paths',
        specifiers: 'all',
        default: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin',
      },
    ),
    listRow(
      section,
      'Environment',
      exec,
      'environment',
      parseEnvironmentItems,
      (v) =>
        Object.entries(applyEnvironment({}, v))
          .map(([k, x]) => quoteWord(`${k}=${x}`))
          .join(' '),
      'environment variables NAME=value (quoting as for command lines)',
      { type: 'NAME=value list', specifiers: 'all' },
    ),
    listRow(
      section,
      'EnvironmentFile',
      exec,
      'environmentFiles',
      parseEnvironmentFiles,
      (v) => v.map((f) => `${f.missingOk ? '-' : ''}${f.path}`),
      'files of NAME=value lines read at start ("-": may be missing)',
      { type: '[-]absolute path', specifiers: 'all' },
    ),
    listRow(
      section,
      'PassEnvironment',
      exec,
      'passEnvironment',
      parseVariableNames,
      (v) => v.join(' '),
      'variables passed on from the manager’s environment',
      {
        type: 'variable names',
        specifiers: 'all',
      },
    ),
    listRow(
      section,
      'UnsetEnvironment',
      exec,
      'unsetEnvironment',
      parseVariableNames,
      (v) => v.join(' '),
      'variables (or NAME=value pairs) removed last',
      {
        type: 'variable names',
        specifiers: 'all',
      },
    ),
    scalarRow(
      section,
      'StandardInput',
      exec,
      'standardInput',
      standardInput,
      'what fd 0 is (socket: the connection, Accept=yes)',
      {
        default: 'null',
      },
    ),
    scalarRow(section, 'StandardOutput', exec, 'standardOutput', standardOutput, 'what fd 1 is', {
      default: 'inherit if stdin is a tty/socket/fd, else journal',
    }),
    scalarRow(section, 'StandardError', exec, 'standardError', standardOutput, 'what fd 2 is', {
      default: 'inherit',
    }),
    {
      section,
      name: 'StandardInputText',
      doc: 'a line of text fed to stdin (StandardInput=data)',
      type: 'text with C escapes',
      default: '',
      repetition: 'list',
      specifiers: 'all',
      enforcement: { enforced: true },
      apply: (c, value) => {
        c.exec.standardInputData = value === '' ? '' : `${c.exec.standardInputData}${unescapeC(value)}\n`;
      },
    },
    {
      section,
      name: 'StandardInputData',
      doc: 'base64 data fed to stdin (StandardInput=data)',
      type: 'base64',
      default: '',
      repetition: 'list',
      specifiers: 'none',
      enforcement: { enforced: true },
      apply: (c, value) => {
        if (value === '') {
          c.exec.standardInputData = '';
          return;
        }
        const compact = value.replace(/\s+/g, '');
        if (!/^[A-Za-z0-9+/]*={0,2}$/.test(compact))
          throw new ValueError('not base64; expected base64-encoded data');
        c.exec.standardInputData += Buffer.from(compact, 'base64').toString('latin1');
      },
    },
    scalarRow(
      section,
      'KillMode',
      kill,
      'killMode',
      oneOf(['control-group', 'mixed', 'process', 'none']),
      'which processes are signalled on stop',
      {
        default: 'control-group',
      },
    ),
    scalarRow(
      section,
      'KillSignal',
      kill,
      'killSignal',
      signal,
      'first signal sent on stop (followed by SIGCONT)',
      {
        default: 'SIGTERM',
      },
    ),
    scalarRow(
      section,
      'RestartKillSignal',
      kill,
      'restartKillSignal',
      signal,
      'signal sent on stop for a restart',
      {
        default: 'KillSignal=',
      },
    ),
    scalarRow(
      section,
      'FinalKillSignal',
      kill,
      'finalKillSignal',
      signal,
      'signal sent to what survives the stop timeout',
      {
        default: 'SIGKILL',
      },
    ),
    scalarRow(
      section,
      'WatchdogSignal',
      kill,
      'watchdogSignal',
      signal,
      'signal sent when the watchdog expires',
      {
        default: 'SIGABRT',
      },
    ),
    scalarRow(
      section,
      'SendSIGKILL',
      kill,
      'sendSIGKILL',
      bool,
      'send FinalKillSignal= when processes outlive the stop timeout',
      {
        default: 'yes',
      },
    ),
    scalarRow(section, 'SendSIGHUP', kill, 'sendSIGHUP', bool, 'send SIGHUP right after KillSignal=', {
      default: 'no',
    }),
  ];
}
