// A unit's execution environment across its starts: before each process, who it runs as
// (identity.ts), its directories (directories.ts) and credentials (credentials.ts), the variables
// that name them, and the exec-context helper's steps (context-steps.ts); when the unit stops,
// what systemd removes then — runtime directories (per RuntimeDirectoryPreserve=), credentials —
// and the dynamic user's id given back.

import type { ScriptStep } from '../../sys/syscall-script.js';
import type { ExecCommand } from '../../unit/exec-command.js';
import type { ExecContext } from '../../unit/exec-context.js';
import type { Logger } from '../log.js';
import { contextSteps } from './context-steps.js';
import { hasCredentials, removeCredentials, setUpCredentials } from './credentials.js';
import { removeRuntimeDirectories, setUpDirectories } from './directories.js';
import { acquireDynamicUser, type DynamicUser, dynamicUserName, releaseDynamicUser } from './dynamic-user.js';
import { feasible } from './feasibility.js';
import { type Identity, resolveIdentity } from './identity.js';
import { managerKind, managerPowers } from './manager-powers.js';
import { EXIT, ExecSetupError } from './setup-error.js';
import { lookupUser } from './users.js';

/** Only a manager running as root allocates dynamic users; their claims live under /run. */
const DYNAMIC_USER_RUNTIME = '/run';

/** What one process of the unit starts with, besides what it always gets. */
export interface PreparedExec {
  identity: Identity;
  /** RUNTIME_DIRECTORY=…, CREDENTIALS_DIRECTORY=… (systemd's own variables, before Environment=). */
  environment: Record<string, string>;
  /** Steps for the exec-context helper; empty: no helper in the chain. */
  steps: ScriptStep[];
  ignoreSigpipe: boolean;
}

export class UnitExecution {
  private dynamic: DynamicUser | undefined;
  private readonly unit: string;
  private readonly managerEnv: NodeJS.ProcessEnv;
  private readonly log: Logger | undefined;

  constructor(unit: string, managerEnv: NodeJS.ProcessEnv, log?: Logger) {
    this.unit = unit;
    this.managerEnv = managerEnv;
    this.log = log;
  }

  /** Sets up everything `command` needs before it starts; throws ExecSetupError. */
  prepare(
    exec: ExecContext,
    command: ExecCommand,
    sandboxDropped = 0n,
    userNamespace?: (identity: Identity) => ScriptStep[],
  ): PreparedExec {
    const manager = managerPowers();
    // Capabilities the sandbox's early plan took out of the bounding set before this helper runs.
    const powers =
      sandboxDropped === 0n ? manager : { ...manager, bounding: manager.bounding & ~sandboxDropped };
    const kind = managerKind(manager);
    const f = feasible(exec, manager);
    const identity = resolveIdentity({
      exec,
      command,
      euid: powers.euid,
      egid: powers.egid,
      switchUsers: f.switchUsers,
      ...(f.dynamicUser ? { dynamic: this.dynamicUser(exec) } : {}),
    });
    const owner = { uid: identity.ownerUid, gid: identity.ownerGid };
    const dirs = setUpDirectories(
      this.unit,
      exec,
      { ...owner, chown: kind === 'system', dynamicUser: f.dynamicUser },
      kind,
      this.log,
    );
    const environment = { ...dirs.environment };
    const credentials = setUpCredentials(
      this.unit,
      exec,
      { ...owner, privileged: kind === 'system' },
      kind,
      this.managerEnv,
      this.log,
    );
    if (credentials !== undefined) environment.CREDENTIALS_DIRECTORY = credentials;
    return {
      identity,
      environment,
      steps: contextSteps({
        exec,
        command,
        identity,
        feasible: f,
        powers,
        privateDirectories: dirs.privateDirectories,
        parentPid: process.pid,
        ...(userNamespace ? { userNamespace: userNamespace(identity) } : {}),
      }),
      ignoreSigpipe: exec.scheduling.ignoreSigpipe,
    };
  }

  private dynamicUser(exec: ExecContext): DynamicUser {
    const name = dynamicUserName(this.unit, exec.user);
    if (this.dynamic?.name === name) return this.dynamic;
    // A static user of that name, or a numeric User=, is used as it is, as systemd does (its
    // directories still go under private/).
    const existing = lookupUser(name);
    if (existing) {
      this.dynamic = { name, uid: existing.uid, gid: existing.gid };
      return this.dynamic;
    }
    try {
      this.dynamic = acquireDynamicUser(name, DYNAMIC_USER_RUNTIME);
    } catch (err) {
      throw new ExecSetupError(EXIT.USER, `DynamicUser=yes: ${(err as Error).message}`);
    }
    return this.dynamic;
  }

  /** The unit has stopped: remove what systemd removes then. `restarting`: an automatic restart
   * follows (RuntimeDirectoryPreserve=restart keeps the runtime directories). */
  stopped(exec: ExecContext, restarting: boolean): void {
    const kind = managerKind();
    const preserve = exec.runtimeDirectoryPreserve;
    try {
      if (preserve === 'no' || (preserve === 'restart' && !restarting)) removeRuntimeDirectories(exec, kind);
      if (hasCredentials(exec)) removeCredentials(this.unit, kind);
    } catch (err) {
      this.log?.warning(
        `${this.unit}: cannot remove its runtime files: ${(err as Error).message}`,
        this.unit,
      );
    }
    if (this.dynamic && !restarting) {
      releaseDynamicUser(this.dynamic, DYNAMIC_USER_RUNTIME);
      this.dynamic = undefined;
    }
  }
}

/** The directories a process's *_DIRECTORY variables name that it may write (all but
 * ConfigurationDirectory=, which systemd leaves read-only). */
export function writableDirectories(environment: Record<string, string>): string[] {
  return ['RUNTIME_DIRECTORY', 'STATE_DIRECTORY', 'CACHE_DIRECTORY', 'LOGS_DIRECTORY'].flatMap((name) =>
    (environment[name] ?? '').split(':').filter((path) => path !== ''),
  );
}
