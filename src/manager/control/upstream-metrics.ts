// The proxy's other side as a Prometheus metric: the connections each socket unit's service
// opened itself (upstream.ts finds them). Apart from upstream.ts because it needs prom-client,
// which only `--metrics` may load: `connections` and the control server use upstream.ts on every
// start, and prom-client is ~40 ms of CPU and a few MiB to import.

import { Gauge, type Registry } from 'prom-client';
import type { Manager } from '../manager.js';
import { type ConnectedSockets, connectedSockets, upstreamConnections } from './upstream.js';

/** `sockunit_service_upstream_connections{unit,protocol}`: the connections each socket unit's
 * service opened itself, read at scrape time like the other connection gauges. */
export function registerUpstreamMetric(registry: Registry, manager: Manager): void {
  new Gauge({
    name: 'sockunit_service_upstream_connections',
    help: 'Connections a socket unit’s service opened itself now (a proxy’s connections to its target), by protocol, from sock_diag.',
    labelNames: ['unit', 'protocol'],
    registers: [registry],
    collect() {
      this.reset();
      let shared: ConnectedSockets | undefined;
      const sockets = () => {
        shared ??= connectedSockets();
        return shared;
      };
      for (const socket of manager.sockets.values()) {
        const up = upstreamConnections(manager, socket, sockets);
        if (up.pid === undefined) continue;
        for (const protocol of ['mptcp', 'mptcp->tcp', 'tcp'] as const)
          this.set(
            { unit: up.service, protocol },
            up.connections.filter((c) => c.protocol === protocol).length,
          );
      }
    },
  });
}
