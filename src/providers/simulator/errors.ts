/** OpenAI's error bodies, as the simulator sends them. */

/** The JSON body of every error answer: `{ error: { message, type, param, code } }`. */
export interface OpenAIErrorBody {
  error: { message: string; type: string; param: string | null; code: string | null };
}

/** An error answer: status, body and any extra headers. */
export interface ErrorAnswer {
  status: number;
  body: OpenAIErrorBody;
  headers?: Record<string, string>;
}

function answer(
  status: number,
  message: string,
  type: string,
  param: string | null,
  code: string | null,
  headers?: Record<string, string>,
): ErrorAnswer {
  const result: ErrorAnswer = { status, body: { error: { message, type, param, code } } };
  if (headers !== undefined) result.headers = headers;
  return result;
}

/** 400: the request is not what the endpoint takes. */
export function invalidRequest(message: string, param: string | null = null): ErrorAnswer {
  return answer(400, message, 'invalid_request_error', param, null);
}

/** 400: the body is not JSON. */
export function malformedJson(): ErrorAnswer {
  return answer(
    400,
    'We could not parse the JSON body of your request. (HINT: This likely means you aren’t using your HTTP library correctly. The OpenAI API expects a JSON payload.)',
    'invalid_request_error',
    null,
    null,
  );
}

/** 401: missing or wrong API key. The key itself is never echoed. */
export function invalidApiKey(): ErrorAnswer {
  return answer(
    401,
    'Incorrect API key provided. You can find your API key at https://platform.openai.com/account/api-keys.',
    'invalid_request_error',
    null,
    'invalid_api_key',
  );
}

/** 404: a model the simulator does not serve. */
export function modelNotFound(model: string): ErrorAnswer {
  return answer(
    404,
    `The model \`${model}\` does not exist or you do not have access to it.`,
    'invalid_request_error',
    'model',
    'model_not_found',
  );
}

/** 404: no such route. */
export function unknownUrl(method: string, path: string): ErrorAnswer {
  return answer(
    404,
    `Unknown request URL: ${method} ${path}. Please check the URL for typos.`,
    'invalid_request_error',
    null,
    'unknown_url',
  );
}

/** 405: a known route with the wrong method. */
export function methodNotAllowed(method: string, path: string, allow: string): ErrorAnswer {
  return answer(
    405,
    `Method ${method} is not allowed on ${path}; use ${allow}.`,
    'invalid_request_error',
    null,
    null,
    { allow },
  );
}

/** 413: the body is larger than the simulator reads. */
export function bodyTooLarge(limitBytes: number): ErrorAnswer {
  return answer(
    413,
    `The request body is larger than ${limitBytes} bytes.`,
    'invalid_request_error',
    null,
    null,
  );
}

/** 429: a rate limit (real or injected), with `retry-after` headers when retrying can help. */
export function rateLimitExceeded(
  message: string,
  type: 'requests' | 'tokens',
  retryAfterMs: number,
): ErrorAnswer {
  const headers: Record<string, string> = Number.isFinite(retryAfterMs)
    ? retryAfterHeaders(retryAfterMs)
    : {};
  return answer(429, message, type, null, 'rate_limit_exceeded', headers);
}

/** 429 `insufficient_quota`: the account has no credit left; no `retry-after` (waiting cannot help). */
export function outOfCredit(): ErrorAnswer {
  return answer(
    429,
    'You exceeded your current quota, please check your plan and billing details (injected by the simulator).',
    'insufficient_quota',
    null,
    'insufficient_quota',
  );
}

/** 500: an (injected) internal error. */
export function serverError(): ErrorAnswer {
  return answer(
    500,
    'The server had an error while processing your request. Sorry about that!',
    'server_error',
    null,
    null,
  );
}

/** 503: (injected) overload, with `retry-after`. */
export function serviceUnavailable(retryAfterMs: number): ErrorAnswer {
  return answer(
    503,
    'The server is overloaded or not ready yet.',
    'server_error',
    null,
    null,
    retryAfterHeaders(retryAfterMs),
  );
}

/** `retry-after` (whole seconds, rounded up) and `retry-after-ms` (whole milliseconds). */
export function retryAfterHeaders(ms: number): Record<string, string> {
  const wholeMs = Math.max(0, Math.ceil(ms));
  return { 'retry-after': String(Math.ceil(wholeMs / 1000)), 'retry-after-ms': String(wholeMs) };
}
