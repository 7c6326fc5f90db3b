// Keys of systemd.exec(5) about what a unit gets on disk before its processes start: the
// RuntimeDirectory=/StateDirectory=/CacheDirectory=/LogsDirectory=/ConfigurationDirectory= lists
// and their *Mode=, RuntimeDirectoryPreserve=, and the credentials (LoadCredential=,
// SetCredential=, ImportCredential=). Read as systemd's load-fragment.c reads them.

import type {
  DirectoryKind,
  ExecContext,
  ExecCredentials,
  ExecDirectory,
  RuntimeDirectoryPreserve,
} from '../exec-context.js';
import { parseBoolean, parseMode, ValueError } from '../values.js';
import { splitWords, unescapeC } from '../words.js';
import { type KeyDef, listRow, mode, type SectionName } from './define.js';

type WithExec = { exec: ExecContext };

const DIRECTORY_KEYS: Readonly<Record<DirectoryKind, string>> = {
  runtime: 'Runtime',
  state: 'State',
  cache: 'Cache',
  logs: 'Logs',
  configuration: 'Configuration',
};

const WHERE: Readonly<Record<DirectoryKind, string>> = {
  runtime: '/run (user manager: $XDG_RUNTIME_DIR)',
  state: '/var/lib (user manager: $XDG_STATE_HOME)',
  cache: '/var/cache (user manager: $XDG_CACHE_HOME)',
  logs: '/var/log (user manager: $XDG_STATE_HOME/log)',
  configuration: '/etc (user manager: $XDG_CONFIG_HOME)',
};

/** A relative path as systemd's path_simplify() leaves it; throws when it leaves its root. */
function relativePath(text: string, key: string): string {
  if (text.startsWith('/'))
    throw new ValueError(`'${text}' is an absolute path; expected a path relative to the ${key} root`);
  const parts = text.split('/').filter((p) => p !== '' && p !== '.');
  if (parts.length === 0) throw new ValueError(`'${text}' names no directory; expected e.g. myservice`);
  if (parts.includes('..')) throw new ValueError(`'${text}' contains '..'; expected a path below the root`);
  return parts.join('/');
}

function parseDirectoryItems(value: string, key: string): ExecDirectory[] {
  const items: ExecDirectory[] = [];
  for (const word of splitWords(value, { unquote: true, cunescape: true, relax: false })) {
    const [source = '', ...links] = word.split(':');
    const path = relativePath(source, key);
    if (path === 'private' || path.startsWith('private/'))
      throw new ValueError(`${key}= path can't be 'private' (DynamicUser= uses it); expected another name`);
    items.push({ path, symlinks: links.filter((l) => l !== '').map((l) => relativePath(l, key)) });
  }
  return items;
}

function directoryRows(section: SectionName, kind: DirectoryKind): KeyDef<WithExec>[] {
  const key = `${DIRECTORY_KEYS[kind]}Directory`;
  return [
    {
      section,
      name: key,
      doc: `directories created under ${WHERE[kind]}, owned by User=, exported as $${kind.toUpperCase()}_DIRECTORY`,
      type: 'relative paths (path[:symlink])',
      default: '',
      repetition: 'list',
      specifiers: 'all',
      enforcement: { enforced: true },
      apply: (c, value) => {
        const d = c.exec.directories[kind];
        if (value === '') d.items = [];
        else d.items.push(...parseDirectoryItems(value, key));
      },
      show: (c) => c.exec.directories[kind].items.map((i) => [i.path, ...i.symlinks].join(':')).join(' '),
    },
    {
      section,
      name: `${key}Mode`,
      doc: `access mode of ${key}= directories`,
      type: mode.name,
      default: '0755',
      repetition: 'scalar',
      specifiers: 'none',
      enforcement: { enforced: true },
      apply: (c, value) => {
        c.exec.directories[kind].mode = parseMode(value);
      },
      show: (c) => mode.format(c.exec.directories[kind].mode),
    },
  ];
}

function parsePreserve(value: string): RuntimeDirectoryPreserve {
  if (value === 'restart') return 'restart';
  try {
    return parseBoolean(value) ? 'yes' : 'no';
  } catch {
    throw new ValueError(`'${value}' is not valid; expected yes, no or restart`);
  }
}

/** systemd's credential_name_valid(): a file name without control characters. */
export function isCredentialName(name: string): boolean {
  return (
    name !== '' &&
    name !== '.' &&
    name !== '..' &&
    Buffer.byteLength(name) <= 255 &&
    !name.includes('/') &&
    !/[\x00-\x1f\x7f]/.test(name)
  );
}

function credentialId(text: string, key: string): string {
  if (!isCredentialName(text))
    throw new ValueError(
      `'${text}' is not a credential name; expected a file name such as ${key === 'SetCredential' ? 'token' : 'tls.key'}`,
    );
  return text;
}

function parseLoadCredential(value: string): ExecCredentials['load'] {
  const colon = value.indexOf(':');
  const id = credentialId(colon < 0 ? value : value.slice(0, colon), 'LoadCredential');
  const path = colon < 0 || value.slice(colon + 1) === '' ? id : value.slice(colon + 1);
  if (!path.startsWith('/') && !isCredentialName(path))
    throw new ValueError(
      `'${path}' is neither an absolute path nor a credential name; expected /path/to/file or the name of a credential passed to sockunit`,
    );
  return [{ id, path }];
}

function parseSetCredential(value: string): ExecCredentials['set'] {
  const colon = value.indexOf(':');
  if (colon < 0) throw new ValueError(`'${value}' has no ':'; expected ID:DATA`);
  return [
    { id: credentialId(value.slice(0, colon), 'SetCredential'), data: unescapeC(value.slice(colon + 1)) },
  ];
}

function parseImportCredential(value: string): ExecCredentials['import'] {
  const [glob = '', rename, ...rest] = value.split(':');
  const globName = glob.endsWith('*') ? glob.slice(0, -1) : glob;
  if (rest.length > 0 || (globName !== '' && !isCredentialName(globName)) || globName.includes('*'))
    throw new ValueError(
      `'${value}' is not a credential glob; expected a credential name with an optional trailing '*', then :NEWNAME`,
    );
  if (rename !== undefined && rename !== '' && !isCredentialName(rename))
    throw new ValueError(`'${rename}' is not a credential name to rename to`);
  return [rename ? { glob, rename } : { glob }];
}

// Assignments append; for one ID the last LoadCredential=/SetCredential= counts (systemd keeps
// them in a hashmap): credentials.ts reads them that way.
function credentialRows(section: SectionName): KeyDef<WithExec>[] {
  const creds = (c: WithExec): ExecCredentials => c.exec.credentials;
  return [
    listRow(
      section,
      'LoadCredential',
      creds,
      'load',
      parseLoadCredential,
      (v) => v.map((l) => `${l.id}:${l.path}`),
      'a file, a directory of files, or a credential the manager got, passed as $CREDENTIALS_DIRECTORY/ID',
      { type: 'ID[:PATH]', specifiers: 'all' },
    ),
    listRow(
      section,
      'SetCredential',
      creds,
      'set',
      parseSetCredential,
      (v) => v.map((s) => `${s.id}:${s.data.length} bytes`),
      'a credential given in the unit (C escapes allowed); the default for a missing LoadCredential= of the same ID',
      { type: 'ID:DATA', specifiers: 'all' },
    ),
    listRow(
      section,
      'ImportCredential',
      creds,
      'import',
      parseImportCredential,
      (v) => v.map((i) => (i.rename ? `${i.glob}:${i.rename}` : i.glob)),
      "the manager's own credentials ($CREDENTIALS_DIRECTORY) whose names match, optionally renamed",
      { type: 'GLOB[:RENAME]', specifiers: 'all' },
    ),
  ];
}

export function execDirectoryKeys(section: SectionName): KeyDef<WithExec>[] {
  return [
    ...(['runtime', 'state', 'cache', 'logs', 'configuration'] as const).flatMap((k) =>
      directoryRows(section, k),
    ),
    {
      section,
      name: 'RuntimeDirectoryPreserve',
      doc: 'keep RuntimeDirectory= when the unit stops (restart: across restarts only)',
      type: 'yes | no | restart',
      default: 'no',
      repetition: 'scalar',
      specifiers: 'none',
      enforcement: { enforced: true },
      apply: (c, value) => {
        c.exec.runtimeDirectoryPreserve = parsePreserve(value);
      },
      show: (c) => c.exec.runtimeDirectoryPreserve,
    },
    ...credentialRows(section),
  ];
}
