// The second part of `sockunit connections UNIT`: the connections the unit's service opened
// itself (manager/control/upstream.ts), such as a proxy's connections to its target. Printed only
// when there are some, under the unit's own table.

import type { UpstreamConnections } from '../manager/control/upstream.js';
import { formatTable } from './control-client.js';

export const UPSTREAM_HEADER = ['LOCAL', 'PEER', 'PROTOCOL', 'STATE', 'SUBFLOWS'];

export function formatUpstream(upstream: UpstreamConnections | undefined): string {
  if (!upstream || upstream.connections.length === 0) return '';
  const rows = upstream.connections.map((c) => [
    c.local,
    c.remote,
    c.protocol,
    c.state,
    String(c.subflowCount),
  ]);
  const warnings = upstream.warnings.map((w) => `warning: ${w}\n`).join('');
  return `opened by ${upstream.service} (pid ${upstream.pid}):\n${formatTable(UPSTREAM_HEADER, rows)}${warnings}`;
}
