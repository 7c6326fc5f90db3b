// `sockunit start|stop|restart|reload UNIT...` and `sockunit daemon-reload`: jobs on the running
// manager, with systemctl's semantics (stop on a socket closes its listeners; start on a service
// passes it its sockets). Quiet on success, like systemctl; --json prints the resulting states.

import type { ControlMethod } from '../manager/control/protocol.js';
import type { OperationResult } from '../manager/control/unit-control.js';
import { CLIENT_OPTIONS_HELP, callControl, runClient } from './control-client.js';
import type { Command, CommandIO } from './io.js';

type Operation = 'start' | 'stop' | 'restart' | 'reload';

const WHAT: Record<Operation, string> = {
  start:
    'Start units with their dependencies (Requires=, Wants=, ordered by After=/Before=; conditions\nchecked): a socket opens its listeners, a service starts with its sockets’ fds, a target is\nreached. Any unit on the manager’s unit path can be started.',
  stop: 'Stop units, and the units that Require=, BindsTo= or are PartOf= them: a socket closes its\nlisteners, a service is stopped with its timeouts.',
  restart: 'Stop, then start units (and the active units that Require= or are PartOf= them).',
  reload: 'Reload units (ExecReload=, or Type=notify-reload’s signal; PropagatesReloadTo= follows).',
};

function usage(op: Operation): string {
  return `Usage: sockunit ${op} [OPTIONS] UNIT...

${WHAT[op]} A name without a suffix means NAME.service, else NAME.socket, else NAME.target.

Options:
${CLIENT_OPTIONS_HELP}`;
}

function unitCommand(op: Operation): Command {
  return (argv: string[], io: CommandIO) =>
    runClient(op, usage(op), argv, io, {}, async (args) => {
      if (args.positionals.length === 0) {
        io.stderr.write(`sockunit ${op}: no unit given\n${usage(op)}`);
        return 2;
      }
      // One request per unit, in order, so a failure names its unit and stops the rest, as
      // systemctl does.
      const results: OperationResult[] = [];
      for (const unit of args.positionals) {
        const [r] = (await callControl(args.path, op as ControlMethod, {
          units: [unit],
        })) as OperationResult[];
        if (r) results.push(r);
      }
      if (args.json) io.stdout.write(`${JSON.stringify(results, null, 2)}\n`);
      return 0;
    });
}

export const startCommand = unitCommand('start');
export const stopCommand = unitCommand('stop');
export const restartCommand = unitCommand('restart');
export const reloadCommand = unitCommand('reload');

const DAEMON_RELOAD_USAGE = `Usage: sockunit daemon-reload [OPTIONS]

Re-read every unit file, as SIGHUP does: unchanged listeners stay open (no connection is
refused meanwhile), changed ones are re-opened, removed units are stopped.

Options:
${CLIENT_OPTIONS_HELP}`;

export async function daemonReloadCommand(argv: string[], io: CommandIO): Promise<number> {
  return runClient('daemon-reload', DAEMON_RELOAD_USAGE, argv, io, {}, async (args) => {
    const result = await callControl(args.path, 'daemon-reload');
    if (args.json) io.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
    return 0;
  });
}
