/**
 * `ai-task-queue/limits`: the pure money, token and window arithmetic the queue uses, for
 * estimating or reporting outside it. Money here is in integer micro-dollars (`dollarsToMicros`,
 * `microsToDollars` convert); token counts use the same tokenizer as admission.
 * See `docs/api.md`.
 */

export { costMicros, worstCaseCostMicros } from './cost.js';
export {
  AUTO_PACING_MIN_WINDOW_MS,
  burstAllowance,
  PACING_BURST_FRACTION,
  pacedWindowMinimumMs,
  type TaskCost,
} from './pacing.js';
export {
  DEFAULT_PRICES,
  dollarsToMicros,
  type ModelPrice,
  microsToDollars,
  PRICE_TABLE_DATE,
  PRICE_TABLE_SOURCE,
  resolvePrice,
} from './prices.js';
export {
  countChatTokens,
  countTextTokens,
  type EncodingName,
  encodingForModel,
  truncateToTokens,
} from './tokens.js';
export {
  type PacingMode,
  type RateLimitShorthands,
  type ResolveWindowsOptions,
  resolveWindows,
  type WindowLimit,
} from './window-limits.js';
