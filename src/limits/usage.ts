/**
 * Whether a provider's reported usage is believable, and what to charge for it. Pure: the prompt
 * count is a parameter, called only when the reported prompt is above the estimate.
 *
 * A believable usage is made of finite, non-negative numbers (fractional counts are rounded up),
 * its completion is at most the request's `max_tokens`, and its prompt is within reason of the
 * prompt the library counts itself (the messages plus the response schema). A usage above what
 * the request allowed is charged as if the call had used what it allowed (`max_tokens`, and the
 * counted prompt), so no server can bill a call above its worst case; the caller says so with a
 * `usage.suspect` event.
 */

/**
 * A reported prompt above `PROMPT_FACTOR × counted + PROMPT_SLACK` is not believed: providers add
 * a few tokens per message and bill a response schema their own way, never twice the prompt.
 */
export const PROMPT_FACTOR = 2;
export const PROMPT_SLACK = 256;

/** What a call allowed. */
export interface UsageBounds {
  /** The request's `max_tokens` (0 for embeddings). */
  maxCompletionTokens: number;
  /** The prompt tokens the task reserved: a report at or below it is believed without counting. */
  promptEstimate: number;
  /** The prompt as the library counts it (messages plus schema), computed only when needed. */
  countPrompt(): number;
}

/** A usage as charged: whole, finite counts, and whether the report was above what was allowed. */
export interface JudgedUsage {
  promptTokens: number;
  completionTokens: number;
  suspect: boolean;
}

/** A whole token count, or `undefined` for a value that is no count (NaN, negative, a string). */
export function tokenCount(value: unknown): number | undefined {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) return undefined;
  return Math.min(Math.ceil(value), Number.MAX_SAFE_INTEGER);
}

/**
 * The usage to charge for a call's reported `prompt` and `completion` tokens, or `undefined` when
 * they are not counts (the caller then counts the call with the tokenizer, as for no usage).
 */
export function judgeUsage(
  prompt: unknown,
  completion: unknown,
  bounds: UsageBounds,
): JudgedUsage | undefined {
  const promptTokens = tokenCount(prompt);
  const completionTokens = tokenCount(completion);
  if (promptTokens === undefined || completionTokens === undefined) return undefined;
  const judged: JudgedUsage = { promptTokens, completionTokens, suspect: false };
  if (completionTokens > bounds.maxCompletionTokens) {
    judged.completionTokens = bounds.maxCompletionTokens;
    judged.suspect = true;
  }
  if (promptTokens > bounds.promptEstimate) {
    const counted = bounds.countPrompt();
    if (promptTokens > PROMPT_FACTOR * counted + PROMPT_SLACK) {
      judged.promptTokens = counted;
      judged.suspect = true;
    }
  }
  return judged;
}
