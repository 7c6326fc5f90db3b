// The `sockunit` command: a table of sub-commands, each a function in its own file. Modules are
// imported on demand so `sockunit verify` does not pay for loading the manager.

import { didYouMean } from '../unit/suggest.js';
import type { Command, CommandIO } from './io.js';

interface CommandEntry {
  summary: string;
  load: () => Promise<Command>;
}

const commands: Record<string, CommandEntry> = {};

/** Register a sub-command. Kept as a function so each command's line below reads as a table row. */
function command(name: string, summary: string, load: () => Promise<Command>): void {
  commands[name] = { summary, load };
}

command('run', 'open the listeners of socket units and start services on traffic', async () => {
  return (await import('./run.js')).runCommand;
});
command(
  'activate',
  'listen on sockets and start a command on traffic (systemd-socket-activate)',
  async () => {
    return (await import('./activate.js')).activateCommand;
  },
);
command(
  'proxy',
  'proxy connections to a TCP or unix socket, MPTCP on either side (systemd-socket-proxyd)',
  async () => {
    return (await import('./proxy.js')).proxyCommand;
  },
);
command('verify', 'check unit files and print every problem as file:line: message', async () => {
  return (await import('./verify.js')).verifyCommand;
});
command('cat', 'print a unit file with its drop-ins', async () => {
  return (await import('./cat.js')).catCommand;
});
command('show', 'print the effective settings of a unit, defaults included', async () => {
  return (await import('./show.js')).showCommand;
});
command('enable', "create the symlinks a unit's [Install] section asks for (systemctl enable)", async () => {
  return (await import('./enable.js')).enableCommand;
});
command('disable', 'remove the symlinks enable made', async () => {
  return (await import('./enable.js')).disableCommand;
});
command('is-enabled', 'tell whether units are enabled (enabled, disabled, static, …)', async () => {
  return (await import('./enable.js')).isEnabledCommand;
});
command(
  'security',
  'assess the sandboxing of services as sockunit runs them (systemd-analyze security)',
  async () => {
    return (await import('./security.js')).securityCommand;
  },
);
command('doctor', 'explain whether MPTCP works and can use several paths here, with fixes', async () => {
  return (await import('./doctor.js')).doctorCommand;
});

command(
  'status',
  'show the runtime state of units of the running manager, with recent log lines',
  async () => {
    return (await import('./status.js')).statusCommand;
  },
);
command(
  'list-sockets',
  'list the listening ports of the running manager (LISTEN TYPE PROTOCOL UNIT)',
  async () => {
    return (await import('./list-sockets.js')).listSocketsCommand;
  },
);
command('list-units', 'list the units of the running manager with load, active and sub state', async () => {
  return (await import('./list-units.js')).listUnitsCommand;
});
command('start', 'start units of the running manager', async () => {
  return (await import('./unit-commands.js')).startCommand;
});
command('stop', 'stop units of the running manager (a socket closes its listeners)', async () => {
  return (await import('./unit-commands.js')).stopCommand;
});
command('restart', 'stop, then start units of the running manager', async () => {
  return (await import('./unit-commands.js')).restartCommand;
});
command('reload', 'reload units of the running manager (ExecReload=)', async () => {
  return (await import('./unit-commands.js')).reloadCommand;
});
command('daemon-reload', 'make the running manager re-read its unit files', async () => {
  return (await import('./unit-commands.js')).daemonReloadCommand;
});
command('connections', 'list the connections on a socket unit, with MPTCP subflows', async () => {
  return (await import('./connections.js')).connectionsCommand;
});
command('logs', "print a unit's recent log lines and output; -f follows", async () => {
  return (await import('./logs.js')).logsCommand;
});
command('is-system-running', "print the running manager's state (running, degraded, starting…)", async () => {
  return (await import('./is-system-running.js')).isSystemRunningCommand;
});

function usage(): string {
  const width = Math.max(...Object.keys(commands).map((n) => n.length));
  const rows = Object.entries(commands)
    .map(([name, c]) => `  ${name.padEnd(width)}  ${c.summary}`)
    .join('\n');
  return `Usage: sockunit COMMAND [OPTIONS]\n\nsystemd socket activation and Multipath TCP for Linux.\n\nCommands:\n${rows}\n\nRun 'sockunit help COMMAND' (or 'sockunit COMMAND --help') for a command's options.\n`;
}

export async function main(argv: string[], io: CommandIO): Promise<number> {
  const [name, ...rest] = argv;
  // `sockunit help CMD` is `sockunit CMD --help`, as git and systemctl's habits go.
  if (name === 'help' && rest[0] !== undefined) return main([rest[0], '--help'], io);
  if (name === undefined || name === '-h' || name === '--help' || name === 'help') {
    io.stdout.write(usage());
    return name === undefined ? 2 : 0;
  }
  if (name === '--version' || name === '-V') {
    io.stdout.write(`sockunit ${await packageVersion()}\n`);
    return 0;
  }
  const entry = commands[name];
  if (!entry) {
    const hint = didYouMean(name, Object.keys(commands));
    io.stderr.write(
      `sockunit: unknown command '${name}'${hint ? `; ${hint}` : '.'} Run 'sockunit help' for the list.\n`,
    );
    return 2;
  }
  const run = await entry.load();
  return run(rest, io);
}

/** The version in sockunit's package.json, found by walking up from this file (dist/cli/ when
 * installed, another build directory in development). */
export async function packageVersion(): Promise<string> {
  const { readFile } = await import('node:fs/promises');
  const { dirname, join } = await import('node:path');
  const { fileURLToPath } = await import('node:url');
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    try {
      const pkg = JSON.parse(await readFile(join(dir, 'package.json'), 'utf8')) as {
        name?: string;
        version?: string;
      };
      if (pkg.name === 'sockunit' && pkg.version) return pkg.version;
    } catch {}
    dir = dirname(dir);
  }
  return 'unknown';
}
