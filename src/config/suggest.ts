/**
 * "Did you mean ...?" for a misspelt key: the same letters ignoring case and separators, else the
 * nearest by edit distance if it is close (at most 2 edits, and fewer than a third of the letters).
 * `prefix` (such as `LALLY_`) is ignored when comparing.
 */
export function suggest(word: string, candidates: readonly string[], prefix = ''): string | undefined {
  const squash = (s: string): string =>
    (s.startsWith(prefix) ? s.slice(prefix.length) : s).toLowerCase().replace(/[-_]/g, '');
  const squashed = squash(word);
  const same = candidates.find((c) => squash(c) === squashed);
  if (same !== undefined) return same;
  let best: string | undefined;
  let bestDistance = Math.min(3, Math.ceil(squashed.length / 3));
  for (const candidate of candidates) {
    const d = editDistance(squashed, squash(candidate));
    if (d < bestDistance) {
      best = candidate;
      bestDistance = d;
    }
  }
  return best;
}

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const substitution = previous[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1);
      current.push(Math.min(previous[j]! + 1, current[j - 1]! + 1, substitution));
    }
    previous = current;
  }
  return previous[b.length]!;
}
