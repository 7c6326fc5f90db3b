// Which Accept=yes units the accept thread may start instances for, and how: those whose
// instances all start the same way, so that everything but a few per-connection variables can
// be decided once. Anything that needs work per start (ExecStartPre=, EnvironmentFile=, `$VAR`
// in the command line, User=, output files, notify or watchdog protocols, unix sockets with
// their peer credentials in the name) keeps the main thread's path, which
// does all of it. The plan is rebuilt on every reload, as the units are.

import { existsSync, readFileSync } from 'node:fs';
import type { SocketSpec } from '../../net/spec.js';
import { listenPidWrap } from '../../sys/listen-pid-helper.js';
import { expandCommandVariables } from '../../unit/exec-command.js';
import type { ServiceUnitConfig } from '../../unit/service-config.js';
import type { SocketUnitConfig } from '../../unit/socket-config.js';
import { serviceEnvironment } from '../exec/environment.js';
import { resolveExecutable, stdioTargets } from '../exec/process.js';
import { planSandbox, runsOneProcess, SandboxRuntime, wrapWithSandbox } from '../exec/sandbox.js';
import type { AcceptPlan, PlanStdio } from './protocol.js';

/** Set by the accept thread per connection: a unit that sets them itself keeps the main path. */
const PER_CONNECTION = ['INVOCATION_ID', 'REMOTE_ADDR', 'REMOTE_PORT', 'SO_COOKIE'];
const PROTOCOL = [...PER_CONNECTION, 'LISTEN_FDS', 'LISTEN_FDNAMES', 'LISTEN_PID', 'SYSTEMD_EXEC_PID'];

/** The manager's umask, read without changing it (umask(2) always sets one). The accept thread
 * must not touch the process-wide umask, so only units whose UMask= equals it qualify. */
function currentUmask(): number | undefined {
  try {
    const m = /^Umask:\s*([0-7]+)$/m.exec(readFileSync('/proc/self/status', 'latin1'));
    return m ? Number.parseInt(m[1] as string, 8) : undefined;
  } catch {
    return undefined;
  }
}

function onlyInetStreams(specs: readonly SocketSpec[]): boolean {
  return specs.every(
    (s) =>
      s.kind === 'socket' &&
      s.type === 'stream' &&
      (s.address.family === 'inet' || s.address.family === 'inet6'),
  );
}

/** The plan for `socket`'s instances of `template`, or why there is none (for the debug log). */
export function acceptPlanFor(
  socket: SocketUnitConfig,
  specs: readonly SocketSpec[],
  template: ServiceUnitConfig,
  managerEnv: NodeJS.ProcessEnv,
): AcceptPlan | { reason: string } {
  const s = socket.socket;
  const svc = template.service;
  const e = template.exec;
  const off = process.env.SOCKUNIT_ACCEPT_THREAD;
  if (off !== undefined && /^(0|no|false|off)$/i.test(off.trim()))
    return { reason: `SOCKUNIT_ACCEPT_THREAD=${off}` };
  if (!onlyInetStreams(specs)) return { reason: 'not only IP stream listeners' };
  if (svc.type !== 'simple' && svc.type !== 'exec') return { reason: `Type=${svc.type}` };
  const cmd = svc.execStart[0];
  if (!cmd || svc.execStart.length !== 1) return { reason: 'not exactly one ExecStart=' };
  if (svc.execStartPre.length > 0 || svc.execStartPost.length > 0) return { reason: 'ExecStartPre=/Post=' };
  if (svc.watchdogUsec > 0 || svc.fileDescriptorStoreMax > 0 || svc.notifyAccess !== 'none')
    return { reason: 'watchdog, fd store or notify access' };
  // Dependencies, conditions and reactions to its state go through the main thread's jobs room.
  const u = template.unit;
  if (
    [u.requires, u.requisite, u.wants, u.bindsTo, u.upholds, u.conflicts, u.onFailure, u.onSuccess].some(
      (list) => list.length > 0,
    ) ||
    u.conditions.length > 0 ||
    u.asserts.length > 0 ||
    u.stopWhenUnneeded
  )
    return { reason: 'dependencies, conditions or OnFailure=/OnSuccess=' };
  if (cmd.viaShell || cmd.fullPrivileges || cmd.noSetCredentials) return { reason: 'command prefix' };
  if (!cmd.noEnvironmentExpansion && cmd.argv.slice(1).some((a) => a.replaceAll('$$', '').includes('$')))
    return { reason: '$VAR in the command line' };
  if (e.user !== undefined || e.group !== undefined || e.supplementaryGroups.length > 0)
    return { reason: 'User=/Group=' };
  if (e.environmentFiles.length > 0) return { reason: 'EnvironmentFile=' };
  const touches = (name: string) => PROTOCOL.includes(name.split('=')[0] as string);
  if (
    e.environment.some(([name]) => touches(name)) ||
    e.passEnvironment.some(touches) ||
    e.unsetEnvironment.some(touches)
  )
    return { reason: 'Environment= sets a protocol variable' };
  const umask = currentUmask();
  if (umask === undefined || umask !== e.umask) return { reason: 'UMask= differs from the manager' };
  let cwd = '/';
  if (e.workingDirectory) {
    if (e.workingDirectory.path === '~') return { reason: 'WorkingDirectory=~' };
    cwd = e.workingDirectory.path;
    if (!existsSync(cwd)) return { reason: 'WorkingDirectory= missing' };
  }
  const stdinSocket = e.standardInput === 'socket';
  if (!stdinSocket && e.standardInput !== 'null') return { reason: `StandardInput=${e.standardInput}` };
  const t = stdioTargets(e.standardInput, e.standardOutput, e.standardError, stdinSocket);
  if (typeof t.stdout === 'object' || typeof t.stderr === 'object') return { reason: 'output to a file' };
  let file: string;
  try {
    file = resolveExecutable(cmd.path);
  } catch (err) {
    return { reason: (err as Error).message };
  }
  const protocol: Record<string, string> = stdinSocket
    ? {}
    : { LISTEN_FDS: '1', LISTEN_FDNAMES: s.fileDescriptorName };
  const env = serviceEnvironment({ exec: e, managerEnv, protocol, invocationId: 'unused' });
  delete env.INVOCATION_ID;
  // Only `$$` escapes are left: the expansion does not depend on the environment.
  const argv = expandCommandVariables(cmd, {}).argv;
  // SYSTEMD_EXEC_PID for every instance, as systemd sets it; LISTEN_PID with the connection as fd 3.
  // Killed when the manager dies: the accept thread that spawns it lives as long as the manager.
  // Sandboxing keys whose plan is the same for every instance go along: the helper runs it in
  // each instance. What instances would share (a PrivateTmp= directory, a network or IPC
  // namespace kept by the manager) is per unit: those keep the main thread's path.
  const sb = template.sandbox;
  const single = runsOneProcess(template);
  if (sb.privateTmp === 'yes' || ((sb.privateNetwork || sb.privateIPC) && !single))
    return {
      reason:
        'PrivateTmp=, or PrivateNetwork=/PrivateIPC= shared by several commands (kept by the main thread)',
    };
  let launch: ReturnType<typeof planSandbox>;
  try {
    launch = planSandbox({
      unit: template.name,
      sandbox: sb,
      switchesUser: false,
      runtime: new SandboxRuntime(template.name),
      cwd,
      singleProcess: single,
    });
  } catch (err) {
    return { reason: (err as Error).message };
  }
  if (launch && launch.omitted.length > 0) return { reason: 'sandboxing keys left out (best-effort)' };
  // The same chain as the main thread's (exec/process.ts): filters innermost.
  const filtered = wrapWithSandbox(launch, 'late', file, argv);
  const start = listenPidWrap(
    filtered.file,
    filtered.argv,
    env,
    stdinSocket ? ['SYSTEMD_EXEC_PID'] : ['LISTEN_PID', 'SYSTEMD_EXEC_PID'],
    { parentPid: process.pid },
  );
  const sandboxed = wrapWithSandbox(launch, 'early', start.file, [...start.argv]);
  return {
    file: sandboxed.file,
    argv: sandboxed.argv,
    env: Object.entries(start.env).map(([k, v]) => `${k}=${v}`),
    listenFds: !stdinSocket,
    stdin: t.stdin === 'connection' ? 'connection' : 'null',
    stdout: t.stdout as PlanStdio,
    stderr: t.stderr as PlanStdio,
    cwd,
    nonBlocking: svc.nonBlocking,
    maxConnections: s.maxConnections,
    maxConnectionsPerSource: s.maxConnectionsPerSource,
    triggerLimit: { intervalUsec: s.triggerLimitIntervalUsec, burst: s.triggerLimitBurst },
    pollLimit: { intervalUsec: s.pollLimitIntervalUsec, burst: s.pollLimitBurst },
  };
}
