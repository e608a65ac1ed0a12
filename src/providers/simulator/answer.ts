/**
 * Deterministic answers: JSON generated from the request's JSON schema (so that it validates for
 * any task type), a small JSON object, or plain text, all made of the prompt's own words so that
 * different inputs get different answers. This module picks the kind by `response_format`; the
 * schema answers are made in `schema-answer.ts`, their bounds set in `answer-limits.ts`.
 */

import { MAX_ANSWER_BYTES, tooLarge } from './answer-limits.js';
import { type AnswerSource, intBetween, sentence, words } from './prose.js';
import { generateFromSchema } from './schema-answer.js';

/** What a chat request asked for (`response_format`). */
export type AnswerFormat =
  | { type: 'text' }
  | { type: 'json_object' }
  | { type: 'json_schema'; schema: unknown };

/** Plain text: a topic line and one to three sentences of the prompt's words. */
export function generateText(source: AnswerSource): string {
  const count = intBetween(1, 3, source.random);
  const topic = words(source, 2, 3);
  const last = topic.pop() ?? 'value';
  const list = topic.length > 0 ? `${topic.join(', ')} and ${last}` : last;
  const sentences = [`Simulated answer about ${list}.`];
  for (let i = 0; i < count; i++) sentences.push(sentence(source));
  return sentences.join(' ');
}

/** The small object answered to `response_format: {type: 'json_object'}`. */
export function generateJsonObject(source: AnswerSource): Record<string, unknown> {
  return {
    answer: sentence(source),
    topics: words(source, 2, 4),
    confidence: Math.round(source.random() * 100) / 100,
  };
}

/**
 * The answer's content for `format`, deterministic for a given source.
 *
 * @throws AnswerLimitError when the content would be larger than `maxBytes` (UTF-8), or the
 * schema asks for a string, array or record larger than the simulator generates.
 */
export function generateAnswer(
  format: AnswerFormat,
  source: AnswerSource,
  maxBytes = MAX_ANSWER_BYTES,
): string {
  let content: string;
  switch (format.type) {
    case 'text':
      content = generateText(source);
      break;
    case 'json_object':
      content = JSON.stringify(generateJsonObject(source));
      break;
    case 'json_schema':
      content = JSON.stringify(generateFromSchema(format.schema, source, maxBytes));
      break;
  }
  const bytes = Buffer.byteLength(content);
  if (bytes > maxBytes) throw tooLarge(bytes, maxBytes);
  return content;
}
