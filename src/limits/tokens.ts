import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { BytePairEncoding } from './bpe.js';

/**
 * Token counting with OpenAI's own byte-pair encodings, as providers count prompts when they
 * bill them and when they apply tokens-per-minute limits. The ranks are OpenAI's published
 * `.tiktoken` files, as the `gpt-tokenizer` package ships them; the encoding itself is ours
 * (`bpe.ts`), with its tables off the JavaScript heap.
 *
 * An encoding is loaded (`o200k_base`: about 90 ms, 4 MB outside the heap) synchronously on the
 * first count that needs it, or by `preloadEncoding`, which the manager's `start()` calls when
 * the built-in task types are in use; then it is kept. Importing this module costs nothing.
 */

/** The byte-pair encodings used by current OpenAI chat and embedding models. */
export type EncodingName = 'o200k_base' | 'cl100k_base';

/** `tiktoken`'s pre-tokenization patterns: a text is split with them before pairs are merged. */
const CONTRACTION = "'(?:[sS]|[dD]|[mM]|[tT]|[lL][lL]|[vV][eE]|[rR][eE])";
const SPLIT_PATTERNS: Record<EncodingName, string> = {
  cl100k_base: String.raw`${CONTRACTION}|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s+$|\s*[\r\n]|\s+(?!\S)|\s`,
  o200k_base:
    String.raw`[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?:${CONTRACTION})?` +
    String.raw`|[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?:${CONTRACTION})?` +
    String.raw`|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+`,
};

const requireCjs = createRequire(import.meta.url);
const loaded = new Map<EncodingName, BytePairEncoding>();

function load(encoding: EncodingName): BytePairEncoding {
  let bpe = loaded.get(encoding);
  if (bpe === undefined) {
    const file = readFileSync(requireCjs.resolve(`gpt-tokenizer/data/${encoding}.tiktoken`));
    bpe = BytePairEncoding.fromTiktoken(file, new RegExp(SPLIT_PATTERNS[encoding], 'gu'));
    loaded.set(encoding, bpe);
  }
  return bpe;
}

/** Whether `encoding` is loaded (for tests of when loading happens). */
export function isEncodingLoaded(encoding: EncodingName): boolean {
  return loaded.has(encoding);
}

/**
 * Loads the encoding `model` counts with now, if it is not loaded yet (the manager's `start()`
 * does, so that the first submission does not wait for it). Resolves with the encoding and how
 * long the load took (0 when it was loaded already).
 */
export function preloadEncoding(model: string): { encoding: EncodingName; ms: number } {
  const encoding = encodingForModel(model);
  if (loaded.has(encoding)) return { encoding, ms: 0 };
  const started = performance.now();
  load(encoding);
  return { encoding, ms: performance.now() - started };
}

/** Models (and the dated snapshots of them) that use `cl100k_base`. */
const CL100K_PREFIXES = [
  'gpt-4-',
  'gpt-3.5',
  'gpt-35-', // Azure OpenAI's spelling of gpt-3.5
  'text-embedding-3-',
  'text-embedding-ada-002',
] as const;

/**
 * The encoding a model uses.
 *
 * `cl100k_base` for `gpt-4`, `gpt-4-turbo`, `gpt-4-32k` and their snapshots, `gpt-3.5*`,
 * `text-embedding-3-*` and `text-embedding-ada-002`; `o200k_base` for `gpt-4o*`, `gpt-4.1*`,
 * `gpt-4.5*`, `gpt-5*`, the `o1` / `o3` / `o4` families, and, by documented default, for any
 * model this function does not know (local and third-party models behind an OpenAI-compatible
 * API included): counts then follow the encoding of OpenAI's current models.
 *
 * A provider prefix such as `openai/gpt-4` is ignored, and a fine-tuned model
 * (`ft:gpt-4o-mini-2024-07-18:org::id`) counts as its base model.
 */
export function encodingForModel(model: string): EncodingName {
  const slash = model.lastIndexOf('/');
  let name = (slash >= 0 ? model.slice(slash + 1) : model).toLowerCase();
  // A fine-tuned model (`ft:gpt-3.5-turbo-0125:org::id`) uses its base model's encoding.
  if (name.startsWith('ft:')) name = name.slice(3).split(':')[0] ?? '';
  if (name === 'gpt-4') return 'cl100k_base';
  // `gpt-4-…` is cl100k (gpt-4-turbo, gpt-4-0613, gpt-4-32k); `gpt-4o…` and `gpt-4.1…` are not
  // matched by this prefix because the character after `gpt-4` is not a dash.
  for (const prefix of CL100K_PREFIXES) {
    if (name.startsWith(prefix)) return 'cl100k_base';
  }
  return 'o200k_base';
}

/** The tokens of `text` in the encoding of `model`. */
export function encodeText(text: string, model: string): number[] {
  return load(encodingForModel(model)).encode(text);
}

/**
 * The number of tokens in `text` for `model`. Special-token markers in the text are counted as
 * plain text.
 */
export function countTextTokens(text: string, model: string): number {
  if (text.length === 0) return 0;
  return load(encodingForModel(model)).count(text);
}

/**
 * Prompt tokens reserved for how a provider frames a response schema in the prompt, on top of the
 * schema's own text. The one public measurement (openai-cookbook issue 2140) found OpenAI's
 * addition to be the schema's JSON without `required` and `additionalProperties`, plus 9 tokens;
 * 16 leaves room for a message of its own (3 tokens and a role) and a few more.
 */
export const SCHEMA_OVERHEAD_TOKENS = 16;

/**
 * The prompt tokens of a `json_schema` response format as a provider that bills it counts them,
 * erring high: the tokens of the `json_schema` object as the request carries it (`{"name":…,
 * "schema":…,"strict":…}`, compact JSON) plus {@link SCHEMA_OVERHEAD_TOKENS}. OpenAI adds the
 * schema to the prompt server-side and publishes no rule for the count (docs/providers.md).
 */
export function countResponseSchemaTokens(
  jsonSchema: { name: string; schema: unknown; strict?: boolean | undefined },
  model: string,
): number {
  const sent = { name: jsonSchema.name, schema: jsonSchema.schema, strict: jsonSchema.strict };
  return countTextTokens(JSON.stringify(sent), model) + SCHEMA_OVERHEAD_TOKENS;
}

/** Tokens the chat format adds around every message (`<|start|>{role}<|message|>…<|end|>`). */
const TOKENS_PER_MESSAGE = 3;
/** Tokens added when a message carries a `name`, on top of the name's own tokens. */
const TOKENS_PER_NAME = 1;
/** Every reply is primed with `<|start|>assistant<|message|>`. */
const REPLY_PRIMING_TOKENS = 3;

/**
 * The prompt tokens of a chat request, counted as OpenAI bills them: 3 tokens per message, plus
 * the tokens of its role and content, plus the tokens of its `name` and 1 more when it has one,
 * plus 3 tokens priming the reply (the method of OpenAI's cookbook "How to count tokens with
 * tiktoken", which matches the `usage.prompt_tokens` the API returns for text messages).
 *
 * Tools, function definitions and images are not counted here.
 */
export function countChatTokens(
  messages: readonly { role: string; content: string; name?: string }[],
  model: string,
): number {
  let total = REPLY_PRIMING_TOKENS;
  for (const message of messages) {
    total += TOKENS_PER_MESSAGE;
    total += countTextTokens(message.role, model);
    total += countTextTokens(message.content, model);
    if (message.name !== undefined) {
      total += countTextTokens(message.name, model) + TOKENS_PER_NAME;
    }
  }
  return total;
}

/**
 * The longest prefix of `text` that is at most `maxTokens` tokens long for `model`. The text is
 * returned unchanged when it already fits; the result never ends in half a character.
 */
export function truncateToTokens(text: string, maxTokens: number, model: string): string {
  const limit = Math.max(0, Math.floor(maxTokens));
  if (text.length === 0) return text;
  if (limit === 0) return '';
  const tokens = encodeText(text, model);
  if (tokens.length <= limit) return text;
  const bpe = load(encodingForModel(model));
  // A token boundary can fall inside a multi-byte character, and re-encoding a cut string can in
  // rare cases take more tokens than the cut sequence did: step back until both are fine.
  for (let keep = limit; keep > 0; keep--) {
    const prefix = bpe.decode(tokens.slice(0, keep));
    if (text.startsWith(prefix) && countTextTokens(prefix, model) <= limit) return prefix;
  }
  return '';
}
