/**
 * Prose made of the prompt's own words: the material of an answer ({@link AnswerSource}), random
 * draws from it, sentences, and the text of a string field chosen by its property name.
 */

import type { RandomSource } from '../../time/clock.js';

/** The material an answer is made of. */
export interface AnswerSource {
  /** The prompt's topical words (never empty). */
  words: readonly string[];
  /** Seeded from the request body and the simulator's seed. */
  random: RandomSource;
}

export function pick<T>(items: readonly T[], random: RandomSource): T | undefined {
  return items[Math.floor(random() * items.length)];
}

export function intBetween(min: number, max: number, random: RandomSource): number {
  return min + Math.floor(random() * (max - min + 1));
}

export function word(source: AnswerSource): string {
  return pick(source.words, source.random) ?? 'value';
}

/** `min`..`max` words of the prompt, distinct while the vocabulary allows it. */
export function words(source: AnswerSource, min: number, max: number): string[] {
  const count = intBetween(min, max, source.random);
  const pool = [...source.words];
  const out: string[] = [];
  for (let i = 0; i < count; i++) {
    if (pool.length === 0) pool.push(...source.words);
    const index = Math.floor(source.random() * pool.length);
    out.push(pool.splice(index, 1)[0] ?? 'value');
  }
  return out;
}

/** Sentence shapes; each `%` is replaced by a word (or two) of the prompt. */
const SENTENCE_TEMPLATES: readonly string[] = [
  '% is closely related to %.',
  'In short, % depends on % and %.',
  'Consider % together with %.',
  'The key point about % is %.',
  '% and % should be reviewed first.',
  'A practical view of % starts from %.',
  'Most of the % comes down to % and %.',
  'Compared with %, % is the better fit here.',
];

export function sentence(source: AnswerSource): string {
  const template = pick(SENTENCE_TEMPLATES, source.random) ?? '% %.';
  const slots = template.split('%').length - 1;
  const chosen = words(source, slots * 2, slots * 2);
  let slot = 0;
  const text = template.replace(/%/g, () => {
    const first = chosen[slot * 2] ?? 'value';
    const second = chosen[slot * 2 + 1];
    slot++;
    return source.random() < 0.3 && second !== undefined ? `${first} ${second}` : first;
  });
  return `${text.charAt(0).toUpperCase()}${text.slice(1)}`;
}

/** Property names whose strings are sentences rather than a few words. */
const SENTENCE_HINT =
  /summary|description|explanation|reason|rationale|text|content|answer|analysis|comment|detail|message|overview|justification|notes?$/i;
/** Property names whose strings are a word or two. */
const SHORT_HINT = /name|title|label|category|topic|language|tag|keyword|type|kind|key|id$/i;

/** The text of a string field named `hint`: sentences, a word or two, or a few words. */
export function hintedText(source: AnswerSource, hint: string): string {
  if (SENTENCE_HINT.test(hint)) {
    const first = sentence(source);
    return source.random() < 0.5 ? first : `${first} ${sentence(source)}`;
  }
  if (SHORT_HINT.test(hint)) return words(source, 1, 2).join(' ');
  return words(source, 1, 4).join(' ');
}
