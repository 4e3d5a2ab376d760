import { closest, distance } from 'fastest-levenshtein';

/** The closest candidate within a small edit distance, for "did you mean" hints. */
export function suggest(word: string, candidates: readonly string[]): string | undefined {
  if (candidates.length === 0) return undefined;
  const best = closest(word, candidates as string[]);
  const limit = Math.max(2, Math.floor(word.length / 3));
  return distance(word.toLowerCase(), best.toLowerCase()) <= limit ? best : undefined;
}

export function didYouMean(word: string, candidates: readonly string[]): string {
  const hint = suggest(word, candidates);
  return hint ? `; did you mean "${hint}"?` : '';
}

/** The quick fix for a diagnostic whose whole range is `word`, when a candidate is close enough. */
export function suggestionFix(word: string, candidates: readonly string[]): { fix: { replace: string } } | Record<string, never> {
  const hint = suggest(word, candidates);
  return hint ? { fix: { replace: hint } } : {};
}
