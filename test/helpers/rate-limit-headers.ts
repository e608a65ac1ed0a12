/** The `x-ratelimit-*` headers OpenAI sends, and the two that say how long to wait. */
export const RATE_LIMIT_HEADERS = [
  'x-ratelimit-limit-requests',
  'x-ratelimit-remaining-requests',
  'x-ratelimit-reset-requests',
  'x-ratelimit-limit-tokens',
  'x-ratelimit-remaining-tokens',
  'x-ratelimit-reset-tokens',
] as const;

export const RETRY_AFTER_HEADERS = ['retry-after', 'retry-after-ms'] as const;
