// How many physical lines a unit file has, counted independently of the parser (src/unit/syntax.ts)
// so that tests can check the parser's diagnostics point at lines that exist: \n, \r, \r\n and NUL
// end a line; a final line break does not start an empty line; bytes that are not UTF-8 never
// end one.

export function countLines(text: string | Uint8Array): number {
  const decoded = typeof text === 'string' ? text : new TextDecoder('utf-8', { fatal: false }).decode(text);
  if (decoded === '') return 0;
  const lines = decoded.split(/\r\n|\r|\n|\0/);
  return lines.length > 1 && lines[lines.length - 1] === '' ? lines.length - 1 : lines.length;
}
