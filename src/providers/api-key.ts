/**
 * Where an API key may be sent: an explicit key goes to the base URL given; the environment's
 * `OPENAI_API_KEY` only to OpenAI's own URL, or to `OPENAI_BASE_URL` when that is set; a loopback
 * server gets a placeholder. One rule for the client and the CLI.
 */

/** The official OpenAI endpoint, the default `baseURL`. */
export const DEFAULT_BASE_URL = 'https://api.openai.com/v1';
/** The key sent to a loopback server when none is configured (local servers ignore it). */
export const LOCAL_PLACEHOLDER_KEY = 'sk-local';

export function isOpenAIHost(baseURL: string): boolean {
  try {
    return new URL(baseURL).hostname.toLowerCase() === 'api.openai.com';
  } catch {
    return false;
  }
}

/** Whether `baseURL` points at this machine: `localhost`, `127.x.x.x` or `::1`. */
export function isLoopbackURL(baseURL: string): boolean {
  let host: string;
  try {
    host = new URL(baseURL).hostname.toLowerCase();
  } catch {
    return false;
  }
  return (
    host === 'localhost' ||
    host.endsWith('.localhost') ||
    host === '[::1]' ||
    /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host)
  );
}

/** The environment variables the key rule reads (`process.env`, or a test's own). */
export type KeyEnvironment = Readonly<Record<string, string | undefined>>;

/** `name`'s value in `env`, with an empty one taken as unset. */
function envValue(env: KeyEnvironment, name: string): string | undefined {
  const value = env[name];
  return value === undefined || value === '' ? undefined : value;
}

/**
 * The base URL used when none is given: `OPENAI_BASE_URL` when it is set (as the `openai` SDK
 * does), else {@link DEFAULT_BASE_URL}. Not checked here: a malformed one is refused where the
 * URL is validated.
 */
export function defaultBaseURL(env: KeyEnvironment = process.env): string {
  return envValue(env, 'OPENAI_BASE_URL') ?? DEFAULT_BASE_URL;
}

/** The URL without credentials, query or fragment, and without a trailing `/`. */
function endpointOf(url: string): string | undefined {
  if (!URL.canParse(url)) return undefined;
  const { protocol, host, pathname } = new URL(url);
  return `${protocol}//${host}${pathname.replace(/\/+$/, '')}`;
}

/**
 * Which key goes to a base URL, as {@link resolveApiKey} decided it.
 *
 * - `'explicit'`: the key given (`apiKey`, `--api-key`, a config file's `apiKey`);
 * - `'environment'`: `OPENAI_API_KEY`, because the URL is the environment's own endpoint;
 * - `'placeholder'`: {@link LOCAL_PLACEHOLDER_KEY}, for a loopback server;
 * - `'none'`: no key may go there; `problem` says why, without any key.
 */
export type KeyRoute =
  | {
      readonly source: 'explicit' | 'environment' | 'placeholder';
      readonly apiKey: string;
      readonly baseURL: string;
    }
  | {
      readonly source: 'none';
      readonly apiKey: undefined;
      readonly baseURL: string;
      /** `an API key is required for <host>: …`, no key in it; the caller adds how to pass one. */
      readonly problem: string;
    };

/**
 * The one rule for where a key is sent, used by the client and the CLI:
 *
 * 1. an explicit, non-empty `apiKey` goes to the base URL given (or the default one);
 * 2. the environment's `OPENAI_API_KEY` goes only to the environment's endpoint:
 *    `OPENAI_BASE_URL` when that is set, else OpenAI's {@link DEFAULT_BASE_URL} (same scheme,
 *    host, port and path, a trailing `/` aside). To any other URL nothing from the environment
 *    is sent;
 * 3. a loopback URL ({@link isLoopbackURL}) without a key gets {@link LOCAL_PLACEHOLDER_KEY};
 * 4. any other URL without a key gets none: `source: 'none'`, which callers refuse.
 *
 * `baseURL` defaults to {@link defaultBaseURL}. Pure apart from reading `env`; never throws.
 *
 * @example
 * resolveApiKey({ baseURL: 'https://llm.example.org/v1' }, { OPENAI_API_KEY: 'sk-…' }).source
 * // 'none': the environment's key is OpenAI's, not llm.example.org's
 */
export function resolveApiKey(
  config: { readonly apiKey?: string | undefined; readonly baseURL?: string | undefined },
  env: KeyEnvironment = process.env,
): KeyRoute {
  const baseURL = config.baseURL ?? defaultBaseURL(env);
  if (config.apiKey !== undefined && config.apiKey !== '') {
    return { source: 'explicit', apiKey: config.apiKey, baseURL };
  }
  const envKey = envValue(env, 'OPENAI_API_KEY');
  const envEndpoint = endpointOf(defaultBaseURL(env));
  const endpoint = endpointOf(baseURL);
  if (envKey !== undefined && endpoint !== undefined && endpoint === envEndpoint) {
    return { source: 'environment', apiKey: envKey, baseURL };
  }
  if (isLoopbackURL(baseURL)) {
    return { source: 'placeholder', apiKey: LOCAL_PLACEHOLDER_KEY, baseURL };
  }
  const host = URL.canParse(baseURL) ? new URL(baseURL).host : baseURL;
  const owner = envValue(env, 'OPENAI_BASE_URL') === undefined ? 'OpenAI' : 'OPENAI_BASE_URL';
  const why =
    endpoint !== undefined && endpoint === envEndpoint
      ? 'OPENAI_API_KEY is not set'
      : `the environment's OPENAI_API_KEY is sent only to ${owner} (${envEndpoint ?? 'not a URL'}), never to another URL`;
  return {
    source: 'none',
    apiKey: undefined,
    baseURL,
    problem: `an API key is required for ${host}: ${why}`,
  };
}
