// Reading facts from /proc, /sys and files the services write, where "absent" is an answer.

import { readFileSync } from 'node:fs';

/** The file's text, or undefined when it does not exist (or cannot be read). */
export function readIfPresent(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}
