// What the syntax layer produces: assignments with where they came from. Everything above
// (typing, verify, cat, show) works on these.

/** One `Key=value` assignment, after continuation lines were joined. */
export interface Entry {
  section: string;
  key: string;
  /** The raw value: blanks trimmed, no specifiers expanded, no quotes removed. */
  value: string;
  file: string;
  /** Line of the assignment (the last physical line of a continued one). */
  line: number;
}

/** One file (a unit file or a drop-in) split into assignments. */
export interface UnitFileText {
  path: string;
  entries: Entry[];
}
