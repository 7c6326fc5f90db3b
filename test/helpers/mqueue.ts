// Whether a POSIX message queue exists, asked by opening it by name (no /dev/mqueue needed).

import { O_RDONLY } from '../../src/sys/constants.js';
import { hasCode } from '../../src/sys/errors.js';
import { mqOpen } from '../../src/sys/fs.js';
import { closeQuietly } from '../../src/sys/socket.js';

export function messageQueueExists(name: string): boolean {
  try {
    closeQuietly(mqOpen(name, O_RDONLY, 0));
    return true;
  } catch (err) {
    if (hasCode(err, 'ENOENT')) return false;
    throw err;
  }
}
