// The resource settings a unit asks for that cannot be applied on this machine, said when the
// unit loads, at the lines that set them, in the shape of every "not enforced" notice. Once per
// line: Accept=yes instances of a template are loaded again and again.

import { availableControllers, cgroupDir, unifiedMounts } from '../../sys/cgroup.js';
import { type Diagnostic, formatDiagnostic } from '../../unit/diagnostic.js';
import type { ServiceUnitConfig } from '../../unit/service-config.js';
import type { Logger } from '../log.js';
import { type Controller, KEY_CONTROLLERS } from './attributes.js';
import { type CgroupTree, whyMissing } from './tree.js';

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

/** For `verify`: the resource settings of `config` a manager could not apply on this machine, as
 * far as the machine tells without starting one: no cgroup v2 hierarchy, or a controller cgroup
 * v2 does not have at its top (bound to cgroup v1, or not in the kernel). Whether the manager may
 * write to the hierarchy depends on how it is run, so that is not judged here. */
export function resourcesOnThisMachine(config: ServiceUnitConfig): Diagnostic[] {
  const h = unifiedMounts()[0];
  const top = h ? cgroupDir(h, h.root) : undefined;
  const available = top ? availableControllers(top) : new Set<string>();
  return Object.entries(KEY_CONTROLLERS).flatMap(([key, controller]): Diagnostic[] => {
    const origin = config.origins[key];
    if (origin === undefined || available.has(controller)) return [];
    const reason = h ? whyMissing(controller as Controller, h, h.root) : 'no cgroup v2 hierarchy is mounted';
    return [
      {
        severity: 'notice',
        file: origin.file,
        line: origin.line,
        key,
        value: origin.value,
        message: `not enforced by sockunit on this machine (${reason}); the line has no effect here`,
      },
    ];
  });
}
