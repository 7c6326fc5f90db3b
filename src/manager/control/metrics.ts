// `sockunit run --metrics ADDR`: Prometheus text exposition through prom-client (the ecosystem's
// standard). Values are read from the manager and, for connections, from the kernel's socket
// diagnostics at scrape time, so a scrape always shows the present and costs nothing between
// scrapes. Accept=yes instances (`foo@N-….service`) are left out of the service metrics: one
// label set per connection would grow without bound; their socket's counters cover them.

import http from 'node:http';
import { Counter, Gauge, Registry } from 'prom-client';
import type { Logger } from '../log.js';
import type { Manager } from '../manager.js';
import type { SocketUnit } from '../socket/socket-unit.js';
import { registerCgroupMetrics } from './cgroup-metrics.js';
import { type UnitConnections, unitConnections } from './connections.js';
import { healthAnswer } from './health.js';
import { registerUpstreamMetric } from './upstream-metrics.js';

export interface MetricsAddress {
  host: string;
  port: number;
}

/** `127.0.0.1:9101`, `[::1]:9101`, or a bare port (loopback). */
export function parseMetricsAddress(text: string): MetricsAddress {
  const bare = /^\d+$/.test(text);
  const m = bare
    ? ['', '127.0.0.1', text]
    : (/^\[([^\]]+)\]:(\d+)$/.exec(text) ?? /^([^:]+):(\d+)$/.exec(text));
  const port = Number(m?.[2]);
  const host = m?.[1];
  if (!host || !Number.isInteger(port) || port < 0 || port > 65535)
    throw new Error(
      `--metrics ${JSON.stringify(text)}: expected HOST:PORT, [IPv6]:PORT or PORT, e.g. 127.0.0.1:9101`,
    );
  return { host, port };
}

/** Build the registry whose collectors read `manager` at each scrape. */
export function managerRegistry(manager: Manager): Registry {
  const registry = new Registry();
  const socketCounter = (name: string, help: string, read: (s: SocketUnit) => number) =>
    new Counter({
      name,
      help,
      labelNames: ['unit'],
      registers: [registry],
      collect() {
        this.reset();
        for (const s of manager.sockets.values()) this.inc({ unit: s.name }, read(s));
      },
    });
  socketCounter(
    'sockunit_socket_accepted_total',
    'Connections accepted by an Accept=yes socket unit.',
    (s) => s.accepted,
  );
  socketCounter(
    'sockunit_socket_refused_total',
    'Connections refused by MaxConnections=/MaxConnectionsPerSource=.',
    (s) => s.refused,
  );
  socketCounter(
    'sockunit_socket_triggers_total',
    'Activations: service starts or accepted connections.',
    (s) => s.triggers,
  );
  new Gauge({
    name: 'sockunit_socket_connected',
    help: 'Live Accept=yes instances of a socket unit.',
    labelNames: ['unit'],
    registers: [registry],
    collect() {
      this.reset();
      for (const s of manager.sockets.values()) this.set({ unit: s.name }, s.connected);
    },
  });
  new Gauge({
    name: 'sockunit_socket_active',
    help: '1 when the socket unit is listening or running, 0 when dead or failed.',
    labelNames: ['unit', 'state'],
    registers: [registry],
    collect() {
      this.reset();
      for (const s of manager.sockets.values())
        this.set({ unit: s.name, state: s.state }, s.activeState === 'active' ? 1 : 0);
    },
  });

  new Counter({
    name: 'sockunit_notify_messages_total',
    help: 'sd_notify messages on the notify socket: accepted, or refused (malformed, unknown sender, NotifyAccess=).',
    labelNames: ['outcome'],
    registers: [registry],
    collect() {
      this.reset();
      this.inc({ outcome: 'accepted' }, manager.notifyCounts.accepted);
      this.inc({ outcome: 'refused' }, manager.notifyCounts.refused);
    },
  });

  // One kernel dump per scrape, shared by the connection gauges below.
  let snapshot: { at: number; data: UnitConnections[] } | undefined;
  const connections = (): UnitConnections[] => {
    const now = Date.now();
    if (!snapshot || now - snapshot.at > 100)
      snapshot = { at: now, data: [...manager.sockets.values()].map((s) => unitConnections(s)) };
    return snapshot.data;
  };
  new Gauge({
    name: 'sockunit_socket_connections',
    help: 'Live connections on the unit’s TCP/MPTCP ports now, by what they run: mptcp (runs MPTCP), mptcp->tcp (fell back), tcp (plain TCP), from sock_diag. TIME-WAIT and other sockets that are not live are not counted.',
    labelNames: ['unit', 'protocol'],
    registers: [registry],
    collect() {
      this.reset();
      for (const c of connections()) {
        if (c.ports.length === 0) continue;
        this.set({ unit: c.unit, protocol: 'mptcp' }, c.mptcp);
        this.set({ unit: c.unit, protocol: 'mptcp->tcp' }, c.fallenBack);
        this.set({ unit: c.unit, protocol: 'tcp' }, c.tcp);
      }
    },
  });
  new Gauge({
    name: 'sockunit_socket_mptcp_subflows',
    help: 'Subflows of the MPTCP connections on the unit’s ports now.',
    labelNames: ['unit'],
    registers: [registry],
    collect() {
      this.reset();
      for (const c of connections()) if (c.ports.length > 0) this.set({ unit: c.unit }, c.subflows);
    },
  });
  new Gauge({
    name: 'sockunit_socket_mptcp_several_paths_connections',
    help: 'MPTCP connections on the unit’s ports that use several paths now (more than one subflow established).',
    labelNames: ['unit'],
    registers: [registry],
    collect() {
      this.reset();
      for (const c of connections()) if (c.ports.length > 0) this.set({ unit: c.unit }, c.severalPaths);
    },
  });
  new Gauge({
    name: 'sockunit_socket_not_live_sockets',
    help: 'Sockets on the unit’s ports that are not live connections (TIME-WAIT, SYN-RECV, CLOSE), counted apart.',
    labelNames: ['unit'],
    registers: [registry],
    collect() {
      this.reset();
      for (const c of connections()) if (c.ports.length > 0) this.set({ unit: c.unit }, c.notLive);
    },
  });

  const services = () => [...manager.services.values()].filter((s) => !s.name.includes('@'));
  new Counter({
    name: 'sockunit_service_starts_total',
    help: 'Starts of a service (activations and restarts).',
    labelNames: ['unit'],
    registers: [registry],
    collect() {
      this.reset();
      for (const s of services()) this.inc({ unit: s.name }, s.starts);
    },
  });
  new Counter({
    name: 'sockunit_service_restarts_total',
    help: 'Automatic restarts of a service (Restart=).',
    labelNames: ['unit'],
    registers: [registry],
    collect() {
      this.reset();
      for (const s of services()) this.inc({ unit: s.name }, s.restarts);
    },
  });
  new Counter({
    name: 'sockunit_service_exits_total',
    help: 'Main process exits of a service by how it ended: code=exited with status N, or code=signal with the signal.',
    labelNames: ['unit', 'code', 'status'],
    registers: [registry],
    collect() {
      this.reset();
      for (const s of services())
        for (const [key, n] of s.exits) {
          const [code = key, status = ''] = key.split('=');
          this.inc({ unit: s.name, code: code === 'status' ? 'exited' : code, status }, n);
        }
    },
  });
  new Gauge({
    name: 'sockunit_service_active',
    help: '1 when the service is active or activating.',
    labelNames: ['unit', 'state'],
    registers: [registry],
    collect() {
      this.reset();
      for (const s of services()) this.set({ unit: s.name, state: s.state }, s.isActiveOrActivating ? 1 : 0);
    },
  });
  registerCgroupMetrics(registry, services);
  registerUpstreamMetric(registry, manager);
  return registry;
}

export class MetricsServer {
  readonly address: MetricsAddress;
  private readonly server: http.Server;

  private constructor(server: http.Server, address: MetricsAddress) {
    this.server = server;
    this.address = address;
  }

  /** Serve `GET /metrics`, `/healthz` and `/readyz` on `address`. Resolves once listening (port 0 picks one). */
  static async listen(manager: Manager, address: MetricsAddress, log: Logger): Promise<MetricsServer> {
    const registry = managerRegistry(manager);
    const server = http.createServer((req, res) => {
      const path = (req.url ?? '/').split('?')[0] ?? '/';
      const health = req.method === 'GET' ? healthAnswer(path, manager) : undefined;
      if (health) {
        res.writeHead(health.status, { 'content-type': 'text/plain' }).end(health.body);
        return;
      }
      if (req.method !== 'GET' || (path !== '/metrics' && path !== '/')) {
        res
          .writeHead(404, { 'content-type': 'text/plain' })
          .end('not found: GET /metrics, /healthz or /readyz\n');
        return;
      }
      registry.metrics().then(
        (text) => res.writeHead(200, { 'content-type': registry.contentType }).end(text),
        (err: unknown) => {
          log.error(`metrics: ${(err as Error).message}`);
          res.writeHead(500, { 'content-type': 'text/plain' }).end(`${(err as Error).message}\n`);
        },
      );
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(address.port, address.host, () => {
        server.off('error', reject);
        resolve();
      });
    }).catch((err: unknown) => {
      throw new Error(
        `cannot serve metrics on ${address.host}:${address.port}: ${(err as Error).message}; pick another --metrics address`,
      );
    });
    const bound = server.address();
    const port = typeof bound === 'object' && bound ? bound.port : address.port;
    server.on('error', (err) => log.error(`metrics server: ${err.message}`));
    return new MetricsServer(server, { host: address.host, port });
  }

  async close(): Promise<void> {
    await new Promise<void>((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
  }
}
