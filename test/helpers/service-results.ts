// What sandboxing tests read back from a service: the `R key=value` lines it printed (into the
// manager's log as `unit[pid]: R …`, or to a client), and the skip every such test starts with
// (namespaces, chroot and seccomp need root; in CI they must run).

import assert from 'node:assert/strict';
import { chmodSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  type ManagerProcess,
  type managerSuite,
  rootUnavailable,
  SYSTEM_PYTHON,
} from '../fixtures/manager/harness.js';

/** The `R key=value` lines as a map; with `unit`, only that unit's lines of a manager's log. */
export function serviceResults(text: string, unit?: string): Map<string, string> {
  const out = new Map<string, string>();
  const prefix = unit ? `${unit.replace('.', '\\.')}\\[\\d+\\]: ` : '';
  for (const line of text.split('\n')) {
    const m = new RegExp(`${prefix}R (\\S+)=(.*)$`).exec(line);
    if (m) out.set(m[1] as string, m[2] as string);
  }
  return out;
}

/** A test's first line: true (and skipped, saying `why`) when not root outside CI; in CI, fails. */
export function skipWithoutRoot(why: string): (t: { skip(m: string): void }) => boolean {
  const missing = rootUnavailable();
  return (t) => {
    if (missing === undefined) return false;
    if (process.env.CI) assert.fail(`${missing} — CI runs as root`);
    t.skip(`${missing}: ${why}`);
    return true;
  };
}

/** A manager running `unit` (a socket on `port` and its service running `script` with python3,
 * plus `keys`), triggered once; resolves when the service has printed `R ${readyKey}=`. */
export async function triggeredPythonService(
  suite: ReturnType<typeof managerSuite>,
  options: { unit: string; port: number; script: string; keys: readonly string[]; readyKey: string },
): Promise<ManagerProcess> {
  const { unit, port, script, keys, readyKey } = options;
  const m = await suite.start((dir) => {
    writeFileSync(join(dir, `${unit}.py`), script);
    chmodSync(dir, 0o755); // the script is read by User= too
    return {
      [`${unit}.socket`]: `[Socket]\nListenStream=127.0.0.1:${port}\n`,
      [`${unit}.service`]: ['[Service]', ...keys, `ExecStart=${SYSTEM_PYTHON} ${dir}/${unit}.py`, ''].join(
        '\n',
      ),
    };
  });
  await suite.trigger(port);
  await m.waitFor(new RegExp(`${unit}\\.service\\[\\d+\\]: R ${readyKey}=`), 10_000);
  return m;
}
