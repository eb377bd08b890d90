/**
 * Light, deterministic text normalisation shared by the local embedder and query analysis:
 * lower case, accents folded, possessives dropped, common English stop words removed and a light
 * suffix stemmer (plurals, -ing, -ed, -ly, -ment …) so "painting", "paints" and "painted" meet.
 */

const STOP_WORDS = new Set(
  (
    'a an and are as at be been being but by can could did do does doing for from had has have having he her ' +
    'hers him his how i if in into is it its just me my myself no nor not of off on once only or our ours ' +
    'out over own so some such than that the their theirs them then there these they this those through to ' +
    'too under until up very was we were what when where which while who whom why will with would you your ' +
    'yours yourself also about again any all am both each few more most other same should s t don now ' +
    'hey hi oh yeah yes wow really so gonna got get like lot thanks thank'
  ).split(' '),
);

/** True for words too common to say anything about a memory. */
export function isStopWord(word: string): boolean {
  return STOP_WORDS.has(word);
}

/** Lower-case, fold accents, unify apostrophes. */
export function normalise(text: string): string {
  return text
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .toLowerCase()
    .replace(/[’‘`]/g, "'");
}

/** Word tokens (letters/digits), possessive 's removed. */
export function words(text: string): string[] {
  const tokens = normalise(text).match(/[\p{L}\p{N}]+(?:'[\p{L}]+)?/gu) ?? [];
  return tokens.map((token) => token.replace(/'(s|re|ve|ll|d|m|t)$/, ''));
}

const SUFFIXES: Array<[string, string, number]> = [
  // [suffix, replacement, minimum stem length left]
  ['ational', 'ate', 3],
  ['ization', 'ize', 3],
  ['fulness', 'ful', 3],
  ['iveness', 'ive', 3],
  ['ements', '', 4],
  ['ement', '', 4],
  ['ments', '', 4],
  ['ment', '', 4],
  ['ness', '', 4],
  ['ingly', '', 4],
  ['edly', '', 4],
  ['ies', 'y', 2],
  ['ied', 'y', 2],
  ['ing', '', 3],
  ['ers', '', 3],
  ['er', '', 4],
  ['ed', '', 3],
  ['ly', '', 4],
  ['es', '', 4],
  ['s', '', 3],
];

/** A light suffix stemmer: deterministic, conservative, English-leaning. */
export function stem(word: string): string {
  if (word.length <= 3 || /\d/.test(word)) return word;
  if (word.endsWith('ss')) return word;
  for (const [suffix, replacement, minimum] of SUFFIXES) {
    if (word.endsWith(suffix) && word.length - suffix.length >= minimum) {
      let base = word.slice(0, word.length - suffix.length) + replacement;
      // "running" → "runn" → "run"; "hoped" → "hop" is accepted (it still meets "hoping").
      if (replacement === '' && /([b-df-hj-np-tv-z])\1$/.test(base) && !/(ll|ss|zz|ff)$/.test(base))
        base = base.slice(0, -1);
      if (replacement === '' && base.endsWith('e') && base.length > 4) base = base.slice(0, -1);
      return base;
    }
  }
  if (word.endsWith('e') && word.length > 4) return word.slice(0, -1);
  return word;
}

/** Content terms of a text: words without stop words, stemmed. */
export function contentTerms(text: string): string[] {
  return words(text)
    .filter((word) => !isStopWord(word) && word.length > 1)
    .map(stem);
}
