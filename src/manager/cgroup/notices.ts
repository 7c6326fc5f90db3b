// The resource settings a unit asks for that cannot be applied on this machine, said when the
// unit loads, at the lines that set them, in the shape of every "not enforced" notice. Once per
// line: Accept=yes instances of a template are loaded again and again.

import { type Diagnostic, formatDiagnostic } from '../../unit/diagnostic.js';
import type { ServiceUnitConfig } from '../../unit/service-config.js';
import type { Logger } from '../log.js';
import { KEY_CONTROLLERS } from './attributes.js';
import type { CgroupTree } from './tree.js';

export class ResourceNotices {
  private readonly tree: CgroupTree | undefined;
  private readonly log: Logger;
  private readonly said = new Set<string>();

  constructor(tree: CgroupTree | undefined, log: Logger) {
    this.tree = tree;
    this.log = log;
  }

  /** Log a notice for each resource setting of `config` that has no effect here. */
  report(config: ServiceUnitConfig): void {
    for (const d of unenforcedResources(config, this.tree)) {
      const key = `${d.file}:${d.line}:${d.key}`;
      if (this.said.has(key)) continue;
      this.said.add(key);
      this.log.notice(formatDiagnostic(d), config.name);
    }
  }
}

/** A notice for each line of `config` that sets a resource limit this manager cannot apply:
 * without a cgroup tree none can be, with one those whose controller is not available to it. */
export function unenforcedResources(config: ServiceUnitConfig, tree: CgroupTree | undefined): Diagnostic[] {
  const reasons = tree
    ? tree.unenforced(config.origins)
    : Object.keys(KEY_CONTROLLERS)
        .filter((key) => config.origins[key] !== undefined)
        .map((key) => ({ key, reason: 'services run without cgroups here (see the notice at start-up)' }));
  return reasons.map(({ key, reason }) => {
    const origin = config.origins[key]!;
    return {
      severity: 'notice',
      file: origin.file,
      line: origin.line,
      key,
      value: origin.value,
      message: `not enforced by sockunit on this machine (${reason}); the line has no effect`,
    };
  });
}
