// A service's output as log lines: bytes from its pipe in, whole lines out. UTF-8 sequences and
// lines split across reads are joined; the last line needs no newline at end of file. Used where
// output is read: on the main thread (process.ts) and on the accept thread (accept/worker.ts).

import { StringDecoder } from 'node:string_decoder';

export class OutputLines {
  private readonly decoder = new StringDecoder('utf8');
  private pending = '';

  /** The lines `bytes` completes (none while a line is still open). */
  push(bytes: Buffer): string[] {
    return this.split(this.pending + this.decoder.write(bytes));
  }

  /** End of file: what is left, as a last line (none if nothing is). */
  end(): string[] {
    const rest = this.pending + this.decoder.end();
    this.pending = '';
    return rest === '' ? [] : [rest];
  }

  private split(text: string): string[] {
    const lines: string[] = [];
    let start = 0;
    for (let nl = text.indexOf('\n'); nl >= 0; nl = text.indexOf('\n', start)) {
      lines.push(text.slice(start, nl));
      start = nl + 1;
    }
    this.pending = text.slice(start);
    return lines;
  }
}
