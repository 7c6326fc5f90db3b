// Sandboxing keys of systemd.exec(5) that sockunit enforces in [Service] (manager/exec/sandbox.ts
// says how), and X-Sockunit-Sandbox=. In [Socket] they shape the socket's own commands, which
// sockunit does not run, so socket.ts reports them as not enforced there.

import {
  ADDRESS_FAMILIES,
  type BindPath,
  filterEntryCalls,
  NAMESPACE_FLAGS,
  type NameList,
  parseErrno,
  type SandboxContext,
  type SandboxPath,
  type TemporaryFileSystem,
} from '../sandbox-config.js';
import { parseBoolean, ValueError } from '../values.js';
import { splitWords } from '../words.js';
import {
  type ApplyContext,
  absolutePath,
  bool,
  type KeyDef,
  listRow,
  oneOf,
  type SectionName,
  scalarRow,
} from './define.js';

type WithSandbox = { sandbox: SandboxContext };
const sandbox = (c: WithSandbox): SandboxContext => c.sandbox;

function words(value: string): string[] {
  return splitWords(value, { unquote: true, cunescape: false, relax: true });
}

/** A boolean or one of `words`, with the whole choice in the error. */
function boolOr<const W extends string>(words: readonly W[]): (s: string) => W | 'yes' | 'no' {
  return (s) => {
    if ((words as readonly string[]).includes(s)) return s as W;
    try {
      return parseBoolean(s) ? 'yes' : 'no';
    } catch {
      throw new ValueError(`'${s}' is not valid; expected yes, no, ${words.join(' or ')}`);
    }
  };
}

function absolute(path: string, what: string): string {
  if (!path.startsWith('/'))
    throw new ValueError(`${what} '${path}' is not an absolute path; expected /path (or -/path, +/path)`);
  return path.replace(/\/+$/, '') || '/';
}

/** `[-][+]/path` items: `-` skips a missing path; `+` (relative to RootDirectory=) is read as
 * the path itself, since sockunit has no RootDirectory=. */
function parsePaths(value: string): SandboxPath[] {
  return words(value).map((w) => {
    let word = w;
    let missingOk = false;
    while (word.startsWith('-') || word.startsWith('+')) {
      if (word.startsWith('-')) missingOk = true;
      word = word.slice(1);
    }
    return { path: absolute(word, 'path'), missingOk };
  });
}

function formatPaths(paths: readonly SandboxPath[]): string {
  return paths.map((p) => `${p.missingOk ? '-' : ''}${p.path}`).join(' ');
}

/** `[-]SOURCE[:DESTINATION[:OPTIONS]]` items of BindPaths=/BindReadOnlyPaths=. */
function parseBinds(value: string): BindPath[] {
  return words(value).map((w) => {
    const missingOk = w.startsWith('-');
    const [source = '', destination, options] = (missingOk ? w.slice(1) : w).split(':');
    if (options !== undefined && options !== 'rbind' && options !== 'norbind')
      throw new ValueError(`bind option '${options}' is not valid; expected rbind or norbind`);
    return {
      source: absolute(source, 'bind source'),
      destination: absolute(destination ?? source, 'bind destination'),
      missingOk,
      recursive: options !== 'norbind',
    };
  });
}

function formatBinds(binds: readonly BindPath[]): string {
  return binds
    .map((b) => `${b.missingOk ? '-' : ''}${b.source}:${b.destination}${b.recursive ? '' : ':norbind'}`)
    .join(' ');
}

function parseTemporary(value: string): TemporaryFileSystem[] {
  return words(value).map((w) => {
    const at = w.indexOf(':');
    const path = at < 0 ? w : w.slice(0, at);
    return { path: absolute(path, 'path'), options: at < 0 ? '' : w.slice(at + 1) };
  });
}

/** A `[~]item…` list: the first assignment decides allow or deny; later ones of the same kind
 * add, of the other kind remove (systemd's rule for these keys). */
function mergeList(current: NameList | undefined, value: string, check: (name: string) => string): NameList {
  const deny = value.startsWith('~');
  const names = words(deny ? value.slice(1) : value).map(check);
  if (!current) return { allowList: !deny, names };
  if (current.allowList === !deny) return { ...current, names: [...new Set([...current.names, ...names])] };
  return { ...current, names: current.names.filter((n) => !names.includes(n)) };
}

function formatList(list: NameList | undefined): string {
  if (!list) return '';
  return `${list.allowList ? '' : '~'}${list.names.join(' ')}`;
}

function applySyscallFilter(c: WithSandbox, value: string): void {
  if (value === '') {
    delete c.sandbox.systemCallFilter;
    return;
  }
  const deny = value.startsWith('~');
  c.sandbox.systemCallFilter ??= { allowList: !deny, entries: new Map() };
  const filter = c.sandbox.systemCallFilter;
  // Groups are expanded here, as systemd does: a later `~@privileged` then takes exactly those
  // calls out of an earlier `@system-service` allow-list.
  for (const word of words(deny ? value.slice(1) : value)) {
    const [name = '', errno] = word.split(':');
    const action = errno === undefined ? undefined : errno === 'kill' ? undefined : parseErrno(errno);
    for (const call of filterEntryCalls(name)) {
      if (filter.allowList === !deny) filter.entries.set(call, action);
      else filter.entries.delete(call);
    }
  }
}

function applyAddressFamilies(c: WithSandbox, value: string): void {
  if (value === '') {
    delete c.sandbox.restrictAddressFamilies;
    return;
  }
  if (value === 'none') {
    c.sandbox.restrictAddressFamilies = { allowList: true, names: [] };
    return;
  }
  c.sandbox.restrictAddressFamilies = mergeList(c.sandbox.restrictAddressFamilies, value, (name) => {
    if (ADDRESS_FAMILIES[name] === undefined)
      throw new ValueError(
        `'${name}' is not an address family; expected names such as AF_UNIX AF_INET AF_INET6`,
      );
    return name;
  });
}

function applyNamespaces(c: WithSandbox, value: string): void {
  if (value === '') {
    delete c.sandbox.restrictNamespaces;
    return;
  }
  let asBool: boolean | undefined;
  try {
    asBool = parseBoolean(value);
  } catch {}
  if (asBool !== undefined) {
    // yes: no namespace may be made (an empty allow-list); no: no restriction.
    if (asBool) c.sandbox.restrictNamespaces = { allowList: true, names: [] };
    else delete c.sandbox.restrictNamespaces;
    return;
  }
  c.sandbox.restrictNamespaces = mergeList(c.sandbox.restrictNamespaces, value, (name) => {
    if (NAMESPACE_FLAGS[name] === undefined)
      throw new ValueError(
        `'${name}' is not a namespace type; expected ${Object.keys(NAMESPACE_FLAGS).join(', ')}`,
      );
    return name;
  });
}

const ERRNO_ACTION = {
  name: 'errno name, kill or log',
  parse: (s: string): number | 'kill' | 'log' => (s === 'kill' || s === 'log' ? s : parseErrno(s)),
  format: (v: number | 'kill' | 'log') => String(v),
};

function customRow(
  section: SectionName,
  name: string,
  doc: string,
  type: string,
  apply: (c: WithSandbox, value: string, ctx: ApplyContext) => void,
  show: (c: WithSandbox) => string,
): KeyDef<WithSandbox> {
  return {
    section,
    name,
    doc,
    type,
    default: '',
    repetition: 'list',
    specifiers: 'none',
    enforcement: { enforced: true },
    apply,
    show,
  };
}

function pathRow(
  section: SectionName,
  name: string,
  field: 'readWritePaths' | 'readOnlyPaths' | 'inaccessiblePaths' | 'execPaths' | 'noExecPaths',
  doc: string,
  aliasOf?: string,
): KeyDef<WithSandbox> {
  return listRow(section, name, sandbox, field, parsePaths, formatPaths, doc, {
    type: '[-]absolute paths',
    specifiers: 'all',
    ...(aliasOf ? { aliasOf } : {}),
  });
}

export function sandboxKeys(section: SectionName): KeyDef<WithSandbox>[] {
  const S = section;
  const flag = (name: string, field: keyof SandboxContext, doc: string, since?: number) =>
    scalarRow(S, name, sandbox, field as 'privateDevices', bool, doc, {
      default: 'no',
      ...(since ? { since } : {}),
    });
  return [
    scalarRow(
      S,
      'PrivateTmp',
      sandbox,
      'privateTmp',
      {
        name: 'boolean or disconnected',
        parse: boolOr(['disconnected']),
        format: (v) => v,
      },
      'private /tmp and /var/tmp, shared by the unit’s processes',
      { default: 'no' },
    ),
    scalarRow(
      S,
      'ProtectSystem',
      sandbox,
      'protectSystem',
      {
        name: 'boolean, full or strict',
        parse: boolOr(['full', 'strict']),
        format: (v) => v,
      },
      'read-only /usr and /boot (yes), also /etc (full), the whole tree but /dev /proc /sys (strict)',
      { default: 'no' },
    ),
    scalarRow(
      S,
      'ProtectHome',
      sandbox,
      'protectHome',
      {
        name: 'boolean, read-only or tmpfs',
        parse: boolOr(['read-only', 'tmpfs']),
        format: (v) => v,
      },
      '/home, /root and /run/user inaccessible (yes), read-only, or empty (tmpfs)',
      { default: 'no' },
    ),
    pathRow(S, 'ReadWritePaths', 'readWritePaths', 'paths that stay writable'),
    pathRow(S, 'ReadOnlyPaths', 'readOnlyPaths', 'paths made read-only'),
    pathRow(S, 'InaccessiblePaths', 'inaccessiblePaths', 'paths made inaccessible'),
    pathRow(S, 'ExecPaths', 'execPaths', 'paths where programs may run (with NoExecPaths=)'),
    pathRow(S, 'NoExecPaths', 'noExecPaths', 'paths mounted noexec'),
    pathRow(S, 'ReadWriteDirectories', 'readWritePaths', 'old name of ReadWritePaths=', 'ReadWritePaths'),
    pathRow(S, 'ReadOnlyDirectories', 'readOnlyPaths', 'old name of ReadOnlyPaths=', 'ReadOnlyPaths'),
    pathRow(
      S,
      'InaccessibleDirectories',
      'inaccessiblePaths',
      'old name of InaccessiblePaths=',
      'InaccessiblePaths',
    ),
    listRow(
      S,
      'BindPaths',
      sandbox,
      'bindPaths',
      parseBinds,
      formatBinds,
      'bind mounts SRC[:DEST[:rbind|norbind]]',
      {
        type: '[-]SRC[:DEST[:OPTIONS]]',
        specifiers: 'all',
      },
    ),
    listRow(
      S,
      'BindReadOnlyPaths',
      sandbox,
      'bindReadOnlyPaths',
      parseBinds,
      formatBinds,
      'read-only bind mounts',
      { type: '[-]SRC[:DEST[:OPTIONS]]', specifiers: 'all' },
    ),
    listRow(
      S,
      'TemporaryFileSystem',
      sandbox,
      'temporaryFileSystem',
      parseTemporary,
      (v) => v.map((t) => (t.options ? `${t.path}:${t.options}` : t.path)).join(' '),
      'empty tmpfs mounts PATH[:OPTIONS]',
      { type: 'PATH[:OPTIONS]', specifiers: 'all' },
    ),
    flag(
      'PrivateDevices',
      'privateDevices',
      'a minimal /dev (null, zero, full, random, urandom, tty, pts, shm)',
    ),
    flag('ProtectKernelTunables', 'protectKernelTunables', 'read-only /proc/sys, /sys and friends'),
    flag('ProtectKernelModules', 'protectKernelModules', 'no module loading, /usr/lib/modules hidden'),
    flag('ProtectKernelLogs', 'protectKernelLogs', 'no access to the kernel log'),
    flag('ProtectControlGroups', 'protectControlGroups', 'read-only /sys/fs/cgroup'),
    scalarRow(
      S,
      'ProtectProc',
      sandbox,
      'protectProc',
      oneOf(['default', 'invisible', 'ptraceable', 'noaccess']),
      "/proc's hidepid= for other users' processes",
      { default: 'default' },
    ),
    scalarRow(
      S,
      'ProcSubset',
      sandbox,
      'procSubset',
      oneOf(['all', 'pid']),
      '/proc with process directories only (pid)',
      {
        default: 'all',
      },
    ),
    flag('PrivateMounts', 'privateMounts', 'a mount namespace of its own'),
    flag(
      'PrivateNetwork',
      'privateNetwork',
      'a network namespace with only lo (activated sockets still work)',
    ),
    flag('PrivateIPC', 'privateIPC', 'an IPC namespace of its own'),
    flag('ProtectHostname', 'protectHostname', 'a UTS namespace; the host name cannot be changed'),
    flag('ProtectClock', 'protectClock', 'the clocks cannot be set'),
    scalarRow(
      S,
      'NetworkNamespacePath',
      sandbox,
      'networkNamespacePath',
      absolutePath,
      'join this network namespace',
      {
        specifiers: 'all',
        emptyResetsTo: { value: undefined },
      },
    ),
    scalarRow(S, 'IPCNamespacePath', sandbox, 'ipcNamespacePath', absolutePath, 'join this IPC namespace', {
      specifiers: 'all',
      emptyResetsTo: { value: undefined },
    }),
    customRow(
      S,
      'SystemCallFilter',
      'system calls allowed, or denied with ~ (@groups, NAME:ERRNO)',
      '[~]calls and @groups',
      (c, v) => applySyscallFilter(c, v),
      (c) => {
        const f = c.sandbox.systemCallFilter;
        if (!f) return '';
        const items = [...f.entries].map(([n, e]) => (e === undefined ? n : `${n}:${e}`));
        return `${f.allowList ? '' : '~'}${items.join(' ')}`;
      },
    ),
    scalarRow(
      S,
      'SystemCallErrorNumber',
      sandbox,
      'systemCallErrorNumber',
      ERRNO_ACTION,
      'errno a filtered call returns (default: the process is killed)',
      { emptyResetsTo: { value: undefined } },
    ),
    listRow(
      S,
      'SystemCallArchitectures',
      sandbox,
      'systemCallArchitectures',
      (v) =>
        words(v).map((a) => {
          if (!['native', 'x86-64', 'x86', 'x32', 'arm64', 'arm'].includes(a))
            throw new ValueError(
              `'${a}' is not an architecture sockunit knows; expected native, x86-64, x86, x32, arm64 or arm`,
            );
          return a;
        }),
      (v) => v.join(' '),
      'ABIs whose system calls are allowed (native: only this one)',
      { type: 'architectures' },
    ),
    customRow(
      S,
      'RestrictAddressFamilies',
      'socket address families allowed, or denied with ~ (none: no sockets)',
      '[~]AF_… | none',
      (c, v) => applyAddressFamilies(c, v),
      (c) => formatList(c.sandbox.restrictAddressFamilies),
    ),
    customRow(
      S,
      'RestrictNamespaces',
      'namespace types that may be created (yes: none)',
      'boolean or [~]types',
      (c, v) => applyNamespaces(c, v),
      (c) => formatList(c.sandbox.restrictNamespaces),
    ),
    flag('RestrictRealtime', 'restrictRealtime', 'no realtime scheduling'),
    flag('RestrictSUIDSGID', 'restrictSUIDSGID', 'no set-user-ID/set-group-ID files'),
    flag('LockPersonality', 'lockPersonality', 'the execution domain cannot be changed'),
    flag('MemoryDenyWriteExecute', 'memoryDenyWriteExecute', 'no memory both writable and executable'),
    scalarRow(
      S,
      'X-Sockunit-Sandbox',
      sandbox,
      'bestEffort',
      {
        name: 'strict | best-effort',
        parse: (s) => {
          if (s === 'best-effort') return true;
          if (s === 'strict') return false;
          throw new ValueError(`'${s}' is not valid; expected strict or best-effort`);
        },
        format: (v) => (v ? 'best-effort' : 'strict'),
      },
      'sockunit: where the kernel refuses a sandboxing key, run without it (and say so) instead of failing',
      { default: 'strict' },
    ),
  ];
}
