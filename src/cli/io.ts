import type { Writable } from 'node:stream';

/** Where a command writes. Commands never touch process.stdout directly, so tests can call them
 * in-process and the CLI stays a thin shell over the layers below. */
export interface CommandIO {
  stdout: Writable;
  stderr: Writable;
}

export type Command = (argv: string[], io: CommandIO) => Promise<number>;
