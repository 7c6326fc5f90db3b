// One shape for every message about a unit file: `file:line: Key=value: what is wrong; what is
// expected` (STYLE.md). Warnings drop the line and keep going (systemd's behaviour); errors fail
// the unit they belong to, and only that unit.

export type Severity = 'error' | 'warning' | 'notice';

export interface Diagnostic {
  severity: Severity;
  /** Path of the file the line is in (the unit file or one of its drop-ins). */
  file: string;
  /** 1-based line number; for a continued line, the last physical line (as systemd reports). 0
   * when the diagnostic is about the whole unit. */
  line: number;
  /** The key concerned, when there is one. */
  key?: string;
  /** The value as written, when there is one. */
  value?: string;
  /** What is wrong and what is expected, without the `file:line: Key=value:` prefix. */
  message: string;
}

export function formatDiagnostic(d: Diagnostic): string {
  const where = d.line > 0 ? `${d.file}:${d.line}` : d.file;
  const subject = d.key !== undefined ? ` ${d.key}=${d.value ?? ''}:` : '';
  return `${where}:${subject} ${d.message}`;
}
