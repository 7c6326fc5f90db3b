// Room manager/control/: what users and orchestrators see of a running manager — the control
// socket and its protocol (server.ts, protocol.ts), start/stop/reload of units on request
// (unit-control.ts), the records status and list-* print (snapshot.ts), the kernel's view of
// live connections (connections.ts) and Prometheus metrics (metrics.ts). The one room above
// manager.ts: it is handed a running Manager and reads it; cli/run.ts wires the two together.
//
// What `sockunit run` serves besides its units: the control socket (always) and the Prometheus
// endpoint (with --metrics). Kept out of cli/run.ts so the run command only wires it in.

import type { Logger } from '../log.js';
import type { Manager } from '../manager.js';
import type { MetricsServer } from './metrics.js';
import { defaultControlSocketPath } from './protocol.js';
import { ControlServer } from './server.js';

export interface ControlPlaneOptions {
  /** --control-socket: a path given explicitly must work, or the run fails. */
  controlSocket?: string | undefined;
  /** --control-socket-mode, octal text (tests: 0666 lets a stranger reach the SO_PEERCRED check). */
  controlSocketMode?: string | undefined;
  /** --metrics ADDR. */
  metrics?: string | undefined;
  env?: NodeJS.ProcessEnv;
}

export interface ControlPlane {
  control: ControlServer | undefined;
  metrics: MetricsServer | undefined;
  close(): Promise<void>;
}

function parseMode(text: string): number {
  if (!/^0?[0-7]{3}$/.test(text))
    throw new Error(
      `--control-socket-mode ${JSON.stringify(text)}: expected an octal file mode such as 0600`,
    );
  return Number.parseInt(text, 8);
}

/**
 * Start the control socket and, when asked, the metrics server. Throws (with what to do) when an
 * explicit --control-socket or --metrics cannot be served. The default control socket path is
 * best effort: when another manager holds it, this one runs without a control socket and warns.
 */
export async function startControlPlane(
  manager: Manager,
  log: Logger,
  options: ControlPlaneOptions,
): Promise<ControlPlane> {
  const mode = options.controlSocketMode !== undefined ? parseMode(options.controlSocketMode) : 0o600;
  // prom-client and its dependencies take ~40 ms to load: only when --metrics asks for them.
  const metricsModule = options.metrics !== undefined ? await import('./metrics.js') : undefined;
  const metricsAddress =
    metricsModule && options.metrics !== undefined
      ? metricsModule.parseMetricsAddress(options.metrics)
      : undefined;
  const explicit =
    options.controlSocket ?? options.env?.SOCKUNIT_CONTROL_SOCKET ?? process.env.SOCKUNIT_CONTROL_SOCKET;
  const path = explicit ?? defaultControlSocketPath(options.env ?? process.env);
  let control: ControlServer | undefined;
  try {
    control = await ControlServer.listen({ path, manager, log, mode });
    log.info(`Control socket: ${path}`, undefined, { controlSocket: path });
  } catch (err) {
    if (explicit !== undefined) throw err;
    log.warning(`${(err as Error).message}. Running without a control socket.`);
  }
  let metrics: MetricsServer | undefined;
  if (metricsModule && metricsAddress) {
    try {
      metrics = await metricsModule.MetricsServer.listen(manager, metricsAddress, log);
    } catch (err) {
      await control?.close();
      throw err;
    }
    const { host, port } = metrics.address;
    log.info(`Metrics: http://${host.includes(':') ? `[${host}]` : host}:${port}/metrics`, undefined, {
      metrics: `${host}:${port}`,
    });
  }
  return {
    control,
    metrics,
    async close() {
      await Promise.all([control?.close(), metrics?.close()]);
    },
  };
}
