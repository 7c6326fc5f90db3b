// `sockunit logs UNIT... [-f]`: the unit's recent log records and captured output, as the
// manager keeps them; -f keeps printing new ones until interrupted or the manager stops.

import type { LogRecord } from '../manager/log.js';
import { CLIENT_OPTIONS_HELP, callControl, runClient } from './control-client.js';
import type { CommandIO } from './io.js';
import { formatLogRecord } from './status.js';

const USAGE = `Usage: sockunit logs [OPTIONS] UNIT...

Print the recent log lines and captured output of units of the running manager.

Options:
  -f, --follow             keep printing new lines until interrupted
${CLIENT_OPTIONS_HELP}`;

export interface LogsOptions {
  /** Ends following (tests; the CLI ends on SIGINT/SIGTERM). */
  signal?: AbortSignal;
}

export function logsCommandWith(options: LogsOptions) {
  return (argv: string[], io: CommandIO): Promise<number> =>
    runClient('logs', USAGE, argv, io, { follow: { type: 'boolean', short: 'f' } }, async (args) => {
      if (args.positionals.length === 0) {
        io.stderr.write(`sockunit logs: no unit given\n${USAGE}`);
        return 2;
      }
      const follow = args.values.follow === true;
      const print = (r: LogRecord) =>
        io.stdout.write(args.json ? `${JSON.stringify(r)}\n` : `${formatLogRecord(r)}\n`);
      let stop: AbortController | undefined;
      let onSignal: (() => void) | undefined;
      if (follow && !options.signal) {
        const controller = new AbortController();
        stop = controller;
        onSignal = () => controller.abort();
        process.once('SIGINT', onSignal);
        process.once('SIGTERM', onSignal);
      }
      try {
        const signal = options.signal ?? stop?.signal;
        await callControl(args.path, 'logs', {
          units: args.positionals,
          follow,
          onResult: (result) => {
            for (const r of mergeRecords(result as { records: LogRecord[] }[])) print(r);
          },
          onEvent: (e) => print(e as LogRecord),
          ...(follow && signal ? { signal } : {}),
        });
      } finally {
        if (onSignal) {
          process.off('SIGINT', onSignal);
          process.off('SIGTERM', onSignal);
        }
      }
      return 0;
    });
}

/** Records of several units in time order. */
export function mergeRecords(result: { records: LogRecord[] }[]): LogRecord[] {
  return result.flatMap((u) => u.records).sort((a, b) => a.time.localeCompare(b.time));
}

export const logsCommand = logsCommandWith({});
