// `sockunit enable|disable|is-enabled UNIT...`: the [Install] symlinks, as `systemctl enable`
// makes them (src/unit/install.ts), so a container image can enable units from packages and boot
// them with `sockunit run --system --target multi-user.target`.

import { parseArgs } from 'node:util';
import {
  applyInstallChanges,
  enablementState,
  type InstallChange,
  InstallError,
  planDisable,
  planEnable,
} from '../unit/install.js';
import { resolveSearchPath } from '../unit/load.js';
import type { Command, CommandIO } from './io.js';

type Verb = 'enable' | 'disable' | 'is-enabled';

const SYSTEM_DIR = '/etc/systemd/system';

const WHAT: Record<Verb, string> = {
  enable: `Create the symlinks the units' [Install] sections ask for: WantedBy=T makes T.wants/UNIT,
RequiredBy=T makes T.requires/UNIT, UpheldBy=T makes T.upholds/UNIT, Alias=NAME makes NAME, Also=
enables those units too; a template is enabled as its DefaultInstance= unless an instance is named.`,
  disable: `Remove every symlink to the units' files (and their Also= units') that enable made.`,
  'is-enabled': `Print enabled, disabled, static (no [Install]), alias, indirect, masked or not-found for
each unit. Exit status 0 when every unit is enabled, static, alias or indirect, else 1.`,
};

function usage(verb: Verb): string {
  return `Usage: sockunit ${verb} [OPTIONS] UNIT...

${WHAT[verb]}

Options:
  -p, --unit-path DIR     search DIR for units first (repeatable); links are made in the first
                          DIR given, else in ${SYSTEM_DIR} (as systemctl enable does)
  -q, --quiet             print nothing but errors
  -h, --help              show this help
`;
}

function describe(c: InstallChange): string {
  return c.type === 'symlink' ? `Created symlink ${c.path} → ${c.target}.` : `Removed "${c.path}".`;
}

function installCommand(verb: Verb): Command {
  return async (argv: string[], io: CommandIO) => {
    let args: ReturnType<typeof parse>;
    try {
      args = parse(argv);
    } catch (err) {
      io.stderr.write(`sockunit ${verb}: ${(err as Error).message}\n${usage(verb)}`);
      return 2;
    }
    if (args.values.help) {
      io.stdout.write(usage(verb));
      return 0;
    }
    const units = args.positionals;
    if (units.length === 0) {
      io.stderr.write(`sockunit ${verb}: no unit given\n${usage(verb)}`);
      return 2;
    }
    const dirs = args.values['unit-path'] ?? [];
    const searchPath = [...dirs, ...resolveSearchPath()];
    const into = dirs[0] ?? SYSTEM_DIR;
    const quiet = args.values.quiet === true;
    if (verb === 'is-enabled') {
      let ok = true;
      for (const u of units) {
        const state = enablementState(u, searchPath);
        if (!quiet) io.stdout.write(`${state}\n`);
        if (!['enabled', 'static', 'alias', 'indirect'].includes(state)) ok = false;
      }
      return ok ? 0 : 1;
    }
    try {
      const changes =
        verb === 'enable' ? planEnable(units, into, searchPath) : planDisable(units, into, searchPath);
      applyInstallChanges(changes);
      if (!quiet) for (const c of changes) io.stdout.write(`${describe(c)}\n`);
      return 0;
    } catch (err) {
      if (!(err instanceof InstallError) && !(err as NodeJS.ErrnoException).code) throw err;
      io.stderr.write(`sockunit ${verb}: ${(err as Error).message}\n`);
      return 1;
    }
  };
}

function parse(argv: string[]) {
  return parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      'unit-path': { type: 'string', short: 'p', multiple: true },
      quiet: { type: 'boolean', short: 'q' },
      help: { type: 'boolean', short: 'h' },
    },
  });
}

export const enableCommand = installCommand('enable');
export const disableCommand = installCommand('disable');
export const isEnabledCommand = installCommand('is-enabled');
