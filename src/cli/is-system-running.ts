// `sockunit is-system-running`: the running manager's state in systemctl's words, for exec
// probes (Kubernetes, podman healthcheck) and scripts. Exit 0 only when it runs with nothing
// failed, as `systemctl is-system-running`.

import type { SystemReport } from '../manager/system-state.js';
import { CLIENT_OPTIONS_HELP, ControlClientError, callControl, runClient } from './control-client.js';
import type { CommandIO } from './io.js';

const USAGE = `Usage: sockunit is-system-running [OPTIONS]

Print the state of the running manager: starting (units are being started), running (every
unit up, none failed), degraded (some unit failed), stopping, or offline (no manager answers on
the control socket). Exit status 0 for running, 1 otherwise.

Options:
      --wait               while starting, wait until start-up is over, then answer
  -q, --quiet              print nothing, only set the exit status
${CLIENT_OPTIONS_HELP}`;

/** How often --wait asks again while the manager starts. */
const WAIT_POLL_MS = 100;

export async function isSystemRunningCommand(argv: string[], io: CommandIO): Promise<number> {
  return runClient(
    'is-system-running',
    USAGE,
    argv,
    io,
    { wait: { type: 'boolean' }, quiet: { type: 'boolean', short: 'q' } },
    async (args) => {
      let report: SystemReport | undefined;
      try {
        report = (await callControl(args.path, 'is-system-running')) as SystemReport;
        while (args.values.wait === true && report.state === 'starting') {
          await new Promise((resolve) => setTimeout(resolve, WAIT_POLL_MS));
          report = (await callControl(args.path, 'is-system-running')) as SystemReport;
        }
      } catch (err) {
        const code = err instanceof ControlClientError ? err.code : '';
        if (code !== 'ENOENT' && code !== 'ECONNREFUSED') throw err;
      }
      if (args.values.quiet !== true) {
        if (args.json) io.stdout.write(`${JSON.stringify(report ?? { state: 'offline' }, null, 2)}\n`);
        else io.stdout.write(`${report?.state ?? 'offline'}\n`);
      }
      return report?.state === 'running' ? 0 : 1;
    },
  );
}
