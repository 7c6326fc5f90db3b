// `sockunit status [UNIT]...`: what `systemctl status` shows for a unit of the running manager:
// state and since when, listen addresses, accepted/connected/refused, activations, main pid,
// last exit, STATUS= text, fd store, and the unit's last log lines. No UNIT: every unit.

import type {
  BrokenStatus,
  ServiceStatus,
  SocketStatus,
  TargetStatus,
  UnitStatus,
} from '../manager/control/snapshot.js';
import type { LogRecord } from '../manager/log.js';
import { connectionCountsLine } from './connections.js';
import { CLIENT_OPTIONS_HELP, callControl, runClient } from './control-client.js';
import type { CommandIO } from './io.js';

const USAGE = `Usage: sockunit status [OPTIONS] [UNIT]...

Show the runtime state of units of the running manager (every unit without UNIT), with their
last log lines. Exit status: 0 all active, 3 some unit inactive or failed, 4 unknown unit.

Options:
${CLIENT_OPTIONS_HELP}`;

export async function statusCommand(argv: string[], io: CommandIO): Promise<number> {
  return runClient('status', USAGE, argv, io, {}, async (args) => {
    const units = args.positionals;
    const statuses = (await callControl(
      args.path,
      'status',
      units.length > 0 ? { units } : {},
    )) as UnitStatus[];
    if (args.json) io.stdout.write(`${JSON.stringify(statuses, null, 2)}\n`);
    else io.stdout.write(statuses.map((s) => formatStatus(s)).join('\n'));
    return statuses.every((s) => s.activeState === 'active') ? 0 : 3;
  });
}

function bullet(activeState: string): string {
  return activeState === 'failed' ? '×' : activeState === 'inactive' ? '○' : '●';
}

/** `Wed 2026-11-25 15:40:00 UTC; 3min 2s ago`, as systemctl words it. */
export function formatSince(iso: string, now = Date.now()): string {
  const d = new Date(iso);
  const day = d.toUTCString().slice(0, 3);
  const stamp = `${day} ${d.toISOString().slice(0, 19).replace('T', ' ')} UTC`;
  const sec = Math.max(0, Math.floor((now - d.getTime()) / 1000));
  const ago =
    sec < 60
      ? `${sec}s`
      : sec < 3600
        ? `${Math.floor(sec / 60)}min ${sec % 60}s`
        : `${Math.floor(sec / 3600)}h ${Math.floor((sec % 3600) / 60)}min`;
  return `${stamp}; ${ago} ago`;
}

export function formatLogRecord(r: LogRecord): string {
  // As the manager's own log: a message that names its unit already is not prefixed again.
  if (r.pid !== undefined) return `${r.time} ${r.unit}[${r.pid}]: ${r.message}`;
  if (r.unit === undefined || r.message.includes(r.unit)) return `${r.time} ${r.message}`;
  return `${r.time} ${r.unit}: ${r.message}`;
}

function field(label: string, value: string): string {
  return `${label.padStart(11)}: ${value}\n`;
}

function active(s: { activeState: string; subState: string; result?: string; since?: string }): string {
  const result = s.activeState === 'failed' && s.result ? ` (Result: ${s.result})` : '';
  const since = s.since ? ` since ${formatSince(s.since)}` : '';
  // systemctl: `active (running)`, but `failed (Result: …)` without repeating the sub-state.
  const sub = s.subState === s.activeState ? '' : ` (${s.subState})`;
  return `${s.activeState}${sub}${result}${since}`;
}

/** systemctl's `Docs:` block: the first URI on the label's line, the rest aligned under it. */
function docsLines(documentation: readonly string[]): string {
  return documentation
    .map((uri, i) => (i === 0 ? field('Docs', uri) : `${''.padStart(13)}${uri}\n`))
    .join('');
}

function socketLines(s: SocketStatus): string {
  let out = field('Loaded', 'loaded');
  out += field('Active', active(s));
  if (s.hint) out += field('Hint', s.hint);
  out += field('Triggers', s.accept ? `${s.triggers} (one instance per connection)` : `● ${s.triggers}`);
  out += docsLines(s.documentation);
  s.listen.forEach((l, i) => {
    const kept = l.notUpgraded ? `; not upgraded to MPTCP: ${l.notUpgraded}` : '';
    out +=
      i === 0
        ? field('Listen', `${l.listen} (${l.type}, ${l.protocol}${kept})`)
        : `${''.padStart(13)}${l.listen} (${l.type}, ${l.protocol}${kept})\n`;
  });
  if (s.accept)
    out += field(
      'Accepted',
      `${s.accepted}; Connected: ${s.connected}${s.refused > 0 ? `; Refused: ${s.refused}` : ''}`,
    );
  else if (s.refused > 0) out += field('Refused', String(s.refused));
  out += field('Activations', String(s.triggerCount));
  if (s.connections) out += field('Connections', connectionCountsLine(s.connections));
  return out;
}

function serviceLines(s: ServiceStatus): string {
  let out = field('Loaded', 'loaded');
  out += field('Active', active(s));
  if (s.triggeredBy.length > 0) out += field('TriggeredBy', s.triggeredBy.map((t) => `● ${t}`).join(' '));
  out += docsLines(s.documentation);
  if (s.mainPid !== null) out += field('Main PID', String(s.mainPid));
  if (s.statusText !== null) out += field('Status', JSON.stringify(s.statusText));
  if (s.sandboxLeftOut?.length)
    out += field('Sandbox', `best-effort: running WITHOUT ${s.sandboxLeftOut.join('; ')}`);
  const stored = s.fdStore.names.length > 0 ? `: ${s.fdStore.names.join(', ')}` : '';
  out += field('FD Store', `${s.fdStore.count} (limit: ${s.fdStore.limit})${stored}`);
  if (s.lastExit !== null) out += field('Last exit', s.lastExit);
  out += field('Starts', `${s.starts}; Restarts: ${s.restarts}`);
  const exits = Object.entries(s.exits);
  if (exits.length > 0) out += field('Exits', exits.map(([k, n]) => `${k} x${n}`).join(', '));
  if (s.condition) {
    // systemctl: "Condition: start condition unmet at …" then the failed check, indented.
    const what = s.condition.kind === 'condition' ? 'Condition' : 'Assert';
    const unmet = s.condition.kind === 'condition' ? 'start condition unmet' : 'start assertion failed';
    out += field(what, `${unmet} at ${formatSince(s.condition.at)}`);
    out += `${''.padStart(13)}└─ ${s.condition.failed} was not met\n`;
  }
  return out;
}

function targetLines(s: TargetStatus): string {
  let out = field('Loaded', 'loaded');
  out += field('Active', active(s));
  out += docsLines(s.documentation);
  if (s.job) out += field('Job', `${s.job} (running)`);
  if (s.requires.length > 0) out += field('Requires', s.requires.join(' '));
  if (s.wants.length > 0) out += field('Wants', s.wants.join(' '));
  return out;
}

function brokenLines(s: BrokenStatus): string {
  return (
    field('Loaded', `${s.loadState} (Reason: ${s.reason})`) +
    field('Active', `${s.activeState} (${s.subState})`)
  );
}

export function formatStatus(s: UnitStatus): string {
  const description = s.kind !== 'broken' && s.description ? ` - ${s.description}` : '';
  let out = `${bullet(s.activeState)} ${s.unit}${description}\n`;
  out +=
    s.kind === 'socket'
      ? socketLines(s)
      : s.kind === 'service'
        ? serviceLines(s)
        : s.kind === 'target'
          ? targetLines(s)
          : brokenLines(s);
  if (s.logs.length > 0) out += `\n${s.logs.map((r) => `${formatLogRecord(r)}\n`).join('')}`;
  return out;
}
