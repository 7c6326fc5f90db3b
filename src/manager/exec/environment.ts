// The environment a service starts with. Like systemd, and unlike a shell, sockunit does not pass
// its own environment on: a service sees PATH (ExecSearchPath= when set), LANG (when the manager
// has one), INVOCATION_ID, the protocol variables (LISTEN_*, REMOTE_*, NOTIFY_SOCKET, WATCHDOG_*,
// RUNTIME_DIRECTORY…, CREDENTIALS_DIRECTORY), USER/LOGNAME/HOME/SHELL when User= is set (HOME
// not when it is `/`, SHELL not when it is a nologin placeholder, as systemd leaves them out),
// PassEnvironment= names, then Environment=, then EnvironmentFile= (later wins), and
// UnsetEnvironment= last (socket-units.md §5.5, §6.5).

import { readFileSync } from 'node:fs';
import { crypto } from '../../sys/lazy-builtins.js';
import { parseEnvironmentFile } from '../../unit/environment.js';
import type { ExecContext } from '../../unit/exec-context.js';
import type { UserRecord } from './users.js';

/** systemd's PATH for system services. */
export const SERVICE_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin';

export interface EnvironmentInputs {
  exec: ExecContext;
  /** The manager's own environment, for LANG and PassEnvironment=. */
  managerEnv: NodeJS.ProcessEnv;
  user?: UserRecord;
  /** LISTEN_*, REMOTE_*, NOTIFY_SOCKET and other protocol variables. */
  protocol: Record<string, string>;
  invocationId?: string;
}

/** 128 random bits in hex, as systemd's INVOCATION_ID. randomUUID draws from a cached entropy
 * pool: one per service start, it is ~10x cheaper than randomBytes(16) (it showed in profiles of
 * Accept=yes load). Six of the bits are the UUID version and variant, which a reader of the id
 * never interprets. */
export function newInvocationId(): string {
  return crypto().randomUUID().replaceAll('-', '');
}

/** Reads EnvironmentFile= entries: a missing file is an error unless its `-` prefix says not. */
export function readEnvironmentFiles(exec: ExecContext): Record<string, string> {
  const out: Record<string, string> = {};
  for (const ref of exec.environmentFiles) {
    let text: string;
    try {
      text = readFileSync(ref.path, 'utf8');
    } catch (err) {
      if (ref.missingOk) continue;
      throw new Error(
        `EnvironmentFile=${ref.path}: ${(err as Error).message}; create it or write EnvironmentFile=-${ref.path}`,
      );
    }
    for (const [name, value] of parseEnvironmentFile(text).assignments) out[name] = value;
  }
  return out;
}

/** systemd's shell_is_placeholder(): a login shell that says "no login". */
const NOLOGIN_SHELLS = ['/bin/nologin', '/sbin/nologin', '/usr/bin/nologin', '/usr/sbin/nologin'];

export function serviceEnvironment(inputs: EnvironmentInputs): Record<string, string> {
  const search = inputs.exec.execSearchPath;
  const env: Record<string, string> = { PATH: search.length > 0 ? search.join(':') : SERVICE_PATH };
  for (const name of ['LANG', 'LANGUAGE', 'LC_ALL', 'TZ', 'TERM']) {
    const value = inputs.managerEnv[name];
    if (value !== undefined && name !== 'TERM') env[name] = value;
  }
  env.INVOCATION_ID = inputs.invocationId ?? newInvocationId();
  if (inputs.user) {
    env.USER = inputs.user.name;
    env.LOGNAME = inputs.user.name;
    if (inputs.user.home !== '/' && inputs.user.home !== '') env.HOME = inputs.user.home;
    if (!NOLOGIN_SHELLS.includes(inputs.user.shell) && inputs.user.shell !== '')
      env.SHELL = inputs.user.shell;
  }
  for (const name of inputs.exec.passEnvironment) {
    const value = inputs.managerEnv[name];
    if (value !== undefined) env[name] = value;
  }
  Object.assign(env, inputs.protocol);
  for (const [name, value] of inputs.exec.environment) env[name] = value;
  Object.assign(env, readEnvironmentFiles(inputs.exec));
  for (const item of inputs.exec.unsetEnvironment) {
    const eq = item.indexOf('=');
    if (eq < 0) delete env[item];
    else if (env[item.slice(0, eq)] === item.slice(eq + 1)) delete env[item.slice(0, eq)];
  }
  return env;
}
