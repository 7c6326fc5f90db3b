// `node --import sockunit/mptcp/register app.js` (or NODE_OPTIONS=--import=sockunit/mptcp/register):
// Multipath TCP for a Node program that cannot change. Every net.Server that listens on an IP port
// listens with MPTCP (as the MPTCP maintainers advise for servers: plain TCP clients are served as
// before), unless SOCKUNIT_MPTCP_LISTEN=0; clients connect with MPTCP when SOCKUNIT_MPTCP_CONNECT=1,
// the user's choice, as Go leaves dialers off by default. A kernel or network namespace without
// MPTCP changes nothing, and says so once.

import cluster from 'node:cluster';
import { installConnectHook } from './connect-hook.js';
import { installListenHook } from './listen-hook.js';
import { available } from './probe.js';

/** A yes/no environment variable: systemd's boolean words; undefined when unset or unreadable. */
function flag(name: string): boolean | undefined {
  const value = process.env[name];
  if (value === undefined || value === '') return undefined;
  if (/^(1|yes|y|true|t|on)$/i.test(value)) return true;
  if (/^(0|no|n|false|f|off)$/i.test(value)) return false;
  notice(`${name}=${value} is not a yes/no value (1, yes, true, on or 0, no, false, off); it is ignored`);
  return undefined;
}

/** One line on stderr through Node's warnings (so --no-warnings silences it), from the primary
 * only: cluster workers run this same preload and would repeat it. */
function notice(message: string): void {
  if (!cluster.isWorker) process.emitWarning(message, { code: 'SOCKUNIT_MPTCP' });
}

const listen = flag('SOCKUNIT_MPTCP_LISTEN') ?? true;
const connect = flag('SOCKUNIT_MPTCP_CONNECT') ?? false;
const availability = available();
if (!availability.available) {
  // ENOPROTOOPT is the per-namespace sysctl; the other causes need another kernel or policy.
  const fix = availability.errno === 'ENOPROTOOPT' ? ' Enable it with sysctl -w net.mptcp.enabled=1.' : '';
  if (listen || connect)
    notice(
      `sockunit/mptcp/register: MPTCP is not available (${availability.reason}); servers and clients use plain TCP.${fix}`,
    );
} else {
  if (listen) installListenHook();
  if (connect) installConnectHook();
}
