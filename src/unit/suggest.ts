// "Did you mean …?" for a misspelt name: the known names one or two edits away (an edit is a
// letter inserted, removed, replaced, or two neighbours swapped). Used for unit-file keys and
// sections, and for command-line options.

/** Optimal-string-alignment distance: Levenshtein plus the swap of two adjacent letters, the
 * commonest typo (`Acecpt`). Case counts: systemd's keys are case-sensitive. */
export function editDistance(a: string, b: string): number {
  const rows = a.length + 1;
  const cols = b.length + 1;
  const d: number[][] = Array.from({ length: rows }, (_, i) =>
    Array.from({ length: cols }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)),
  );
  const at = (i: number, j: number): number => d[i]?.[j] ?? Number.POSITIVE_INFINITY;
  for (let i = 1; i < rows; i++) {
    for (let j = 1; j < cols; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let best = Math.min(at(i - 1, j) + 1, at(i, j - 1) + 1, at(i - 1, j - 1) + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1])
        best = Math.min(best, at(i - 2, j - 2) + 1);
      (d[i] as number[])[j] = best;
    }
  }
  return at(a.length, b.length);
}

/**
 * The known names closest to `word`, when one is at most two edits away (one for words of three
 * letters or fewer, where two edits reach almost anything). Ties are all returned, in the order
 * given; nothing close returns [].
 */
export function closestNames(word: string, known: Iterable<string>): string[] {
  const limit = word.length <= 3 ? 1 : 2;
  let best = limit + 1;
  let found: string[] = [];
  for (const name of known) {
    if (name === word) continue;
    const distance = editDistance(word, name);
    if (distance < best) {
      best = distance;
      found = [name];
    } else if (distance === best) found.push(name);
  }
  return best <= limit ? found : [];
}

/** `did you mean Accept=?` / `did you mean A= or B=?`, or '' when nothing is close. */
export function didYouMean(word: string, known: Iterable<string>, format = (n: string) => n): string {
  const names = closestNames(word, known).slice(0, 3).map(format);
  if (names.length === 0) return '';
  const last = names.pop() as string;
  return `did you mean ${names.length > 0 ? `${names.join(', ')} or ${last}` : last}?`;
}
