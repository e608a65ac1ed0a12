/**
 * Words of a text, as the simulator uses them: the vocabulary of generated answers and the word
 * features of embeddings.
 */

/** Frequent English words that carry no topic, left out of answers and embedding features. */
const STOP_WORDS: ReadonlySet<string> = new Set(
  (
    'a an and are as at be been but by can could do does for from had has have how i if in into ' +
    'is it its me my no not of on or our over please so such than that the their them then there ' +
    'these they this those to under up us was we were what when where which while who why will ' +
    'with would you your'
  ).split(' '),
);

/** Used when a prompt has no usable word at all. */
const FALLBACK_WORDS: readonly string[] = ['simulated', 'answer', 'sample', 'value', 'result'];

const WORD = /[\p{L}\p{N}][\p{L}\p{N}_'’-]*/gu;

/** Every word of `text`, lowercased, in order (stop words included). */
export function tokenizeWords(text: string): string[] {
  return (text.toLowerCase().match(WORD) ?? []).map((w) => w.replace(/['’-]+$/, ''));
}

/** Whether `word` (lowercase) is a stop word. */
export function isStopWord(word: string): boolean {
  return STOP_WORDS.has(word);
}

/**
 * How much of each text `vocabulary` reads: enough for its words, and a bound on the work a huge
 * prompt costs.
 */
const VOCABULARY_SCAN_CHARS = 64 * 1024;

/**
 * The distinct topical words of `texts`, in order of first appearance (at most `limit`), or a
 * small fixed vocabulary when there are none. Only the first 64 Ki characters of each text are
 * read.
 */
export function vocabulary(texts: readonly string[], limit = 256): string[] {
  const seen = new Set<string>();
  for (const text of texts) {
    for (const word of tokenizeWords(text.slice(0, VOCABULARY_SCAN_CHARS))) {
      if (word.length < 2 || isStopWord(word)) continue;
      seen.add(word);
      if (seen.size >= limit) return [...seen];
    }
  }
  return seen.size > 0 ? [...seen] : [...FALLBACK_WORDS];
}
