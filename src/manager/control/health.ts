// Health for orchestrators, on the --metrics address: /healthz answers while the manager's event
// loop runs (a liveness probe: a manager that stopped answering is restarted), /readyz answers
// 200 once every socket unit listens and the boot target, if any, is active (a readiness probe:
// no traffic before that), 503 with the reasons otherwise.

import type { Manager } from '../manager.js';
import { systemSummary } from '../system-state.js';

export interface HealthAnswer {
  status: 200 | 503;
  body: string;
}

/** The answer for `path` (`/healthz`, `/readyz`), or undefined for another path. */
export function healthAnswer(path: string, manager: Manager): HealthAnswer | undefined {
  if (path !== '/healthz' && path !== '/readyz') return undefined;
  const report = manager.systemReport();
  if (path === '/healthz') return { status: 200, body: `ok: ${report.state}\n` };
  if (report.ready) return { status: 200, body: `ready: ${systemSummary(report)}\n` };
  const why: string[] = [];
  if (report.state === 'starting' || report.state === 'stopping') why.push(`the manager is ${report.state}`);
  for (const s of report.notListening) why.push(`not listening: ${s}`);
  if (why.length === 0) why.push('the boot target is not active');
  return { status: 503, body: `not ready: ${why.join('; ')}\n` };
}
