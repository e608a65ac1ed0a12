/**
 * The bounds of a generated answer: the longest string, the largest array or record, the most
 * bytes and the most generation steps, and the error that refuses a schema asking for more.
 */

/** The longest string the simulator generates: a larger `minLength` is refused. */
export const MAX_STRING_LENGTH = 10_000;
/**
 * The most items of a generated array, and entries of a generated record: a larger `minItems`
 * (or `minProperties`) is refused.
 */
export const MAX_ARRAY_ITEMS = 1_000;
/** The most bytes of the content of a completion (its choices together): a larger one is refused. */
export const MAX_ANSWER_BYTES = 1024 * 1024;
/**
 * The most schema nodes one answer may visit, discarded `uniqueItems` duplicates and `allOf`
 * merges included: bounds the work of schemas whose answers are small but whose generation is
 * not (an `allOf` of `$ref`s to the root doubles at every level).
 */
export const MAX_GENERATION_STEPS = 4_000_000;

/**
 * A schema asks for more than the simulator generates: a string longer than
 * {@link MAX_STRING_LENGTH}, an array or record larger than {@link MAX_ARRAY_ITEMS}, or an answer
 * larger than {@link MAX_ANSWER_BYTES}. The message names the keyword, its value and where in the
 * answer it applies; the simulator answers it with a 400.
 */
export class AnswerLimitError extends Error {
  override readonly name = 'AnswerLimitError';
}

/** The refusal of an answer of `bytes` (or more) when at most `maxBytes` are allowed. */
export function tooLarge(bytes: number, maxBytes: number): AnswerLimitError {
  return new AnswerLimitError(
    `the answer to this schema would be larger than ${maxBytes} bytes (${bytes} or more); the simulator answers at most ${MAX_ANSWER_BYTES} bytes (1 MiB) per completion`,
  );
}
