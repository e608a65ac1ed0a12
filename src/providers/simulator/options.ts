import { z } from 'zod';
import { parseOrThrow } from '../../internal/validate.js';

/** The default of `maxBodyBytes`: 4 MiB. */
export const DEFAULT_MAX_BODY_BYTES = 4 * 1024 * 1024;
/** The largest `maxBodyBytes` accepted: 256 MiB. */
const MAX_BODY_BYTES = 256 * 1024 * 1024;

/** The models the simulator accepts when the `models` option is not given. */
export const DEFAULT_SIMULATOR_MODELS: readonly string[] = [
  'gpt-4o-mini',
  'gpt-4o',
  'gpt-4.1-mini',
  'text-embedding-3-small',
];

const nonNegative = (field: string) =>
  z
    .number({ error: `${field} must be a number` })
    .finite()
    .nonnegative();

const probability = z
  .number({ error: 'expected a probability between 0 and 1' })
  .min(0, { error: 'expected a probability between 0 and 1' })
  .max(1, { error: 'expected a probability between 0 and 1' })
  .default(0);

/** How long the simulator waits before it answers (on top of `perOutputTokenMs`). */
export const LatencySchema = z.discriminatedUnion(
  'kind',
  [
    z.strictObject({
      kind: z.literal('fixed'),
      /** Every answer waits exactly this long. */
      ms: nonNegative('ms').default(0),
    }),
    z
      .strictObject({
        kind: z.literal('uniform'),
        minMs: nonNegative('minMs'),
        maxMs: nonNegative('maxMs'),
      })
      .refine((l) => l.minMs <= l.maxMs, {
        error: 'minMs must not exceed maxMs',
        path: ['maxMs'],
      }),
    z.strictObject({
      kind: z.literal('lognormal'),
      /** The median wait; half of the answers are faster. */
      medianMs: nonNegative('medianMs'),
      /** Spread of the underlying normal distribution (0 = always the median). */
      sigma: nonNegative('sigma').default(0.5),
    }),
  ],
  { error: "expected latency.kind to be 'fixed', 'uniform' or 'lognormal'" },
);

/** The simulator's own rate limits, in one sliding window (or one per model, `perModel`). */
export const SimulatorLimitsSchema = z.strictObject({
  /** Most requests in any `windowMs` span; absent = no request limit. */
  requests: z.int().positive().optional(),
  /** Most tokens (prompt + `max_tokens` reserved) in any `windowMs` span; absent = no limit. */
  tokens: z.int().positive().optional(),
  /** Length of the sliding window in milliseconds. */
  windowMs: z.int().positive().default(60_000),
  /**
   * One window per model, as OpenAI counts (each model has its own limits, and the headers of an
   * answer report its model's window); `false` (default): one window shared by every model.
   */
  perModel: z.boolean().default(false),
});

/** Probabilities (0..1, summing to at most 1) of each injected fault, drawn per request. */
export const SimulatorFaultsSchema = z
  .strictObject({
    /** 500 with OpenAI's `server_error` body. */
    error500: probability,
    /** 503 (overloaded) with `retry-after`. */
    error503: probability,
    /** 429 with `retry-after` although no limit was hit. */
    error429: probability,
    /** No answer at all, until the client aborts or the simulator closes. */
    timeout: probability,
    /** 200 with a body that is not valid JSON. */
    malformed: probability,
    /** A normal answer without `usage`. */
    noUsage: probability,
    /** 429 `insufficient_quota`: the account is out of credit (no `retry-after`; waiting cannot help). */
    outOfCredit: probability,
  })
  .refine(
    (f) =>
      f.error500 + f.error503 + f.error429 + f.timeout + f.malformed + f.noUsage + f.outOfCredit <=
      1 + 1e-9,
    { error: 'the fault probabilities must sum to at most 1' },
  );

const nowFunction = z.custom<() => number>((value) => typeof value === 'function', {
  error: 'expected a function returning the time in milliseconds',
});

/**
 * Every option of `startSimulator`, each with its default. Unknown keys are refused, so a
 * misspelt option fails loudly instead of being ignored.
 */
export const SimulatorOptionsSchema = z.strictObject({
  /** TCP port on 127.0.0.1; 0 picks a free ephemeral port. */
  port: z.int().min(0).max(65_535).default(0),
  /** When set, every request must carry `Authorization: Bearer <apiKey>`; absent = no auth. */
  apiKey: z.string().min(1).optional(),
  /** The model ids that requests may name (and `GET /v1/models` lists). */
  models: z
    .array(z.string().min(1))
    .min(1)
    .default(() => [...DEFAULT_SIMULATOR_MODELS]),
  /** Length of the embedding vectors (a request's `dimensions` may ask for fewer). */
  embeddingDimensions: z.int().min(2).max(8_192).default(256),
  /** Rate limits in one sliding window; none by default. */
  limits: SimulatorLimitsSchema.prefault({}),
  /**
   * The largest request body read, in bytes; a larger one is answered 413 without being parsed.
   * 4 MiB holds any prompt that fits a 128k-token context; raise it for 1M-token models.
   */
  maxBodyBytes: z
    .int({ error: 'maxBodyBytes must be a whole number of bytes' })
    .min(1_024, { error: 'maxBodyBytes must be at least 1024 bytes' })
    .max(MAX_BODY_BYTES, {
      error: `maxBodyBytes must be at most ${MAX_BODY_BYTES} bytes (256 MiB)`,
    })
    .default(DEFAULT_MAX_BODY_BYTES),
  /** Tokens reserved for the answer of a chat request that sets no `max_tokens`. */
  defaultMaxTokens: z.int().positive().default(4_096),
  /** Wait before each answer. */
  latency: LatencySchema.prefault({ kind: 'fixed' }),
  /** Extra wait per generated (completion) token, in milliseconds. */
  perOutputTokenMs: nonNegative('perOutputTokenMs').default(0),
  /** Fault injection; none by default. */
  faults: SimulatorFaultsSchema.prefault({}),
  /** Seed of the PRNG (mulberry32) behind faults, latency and generated answers. */
  seed: z.int().default(1),
  /** How many entries `stats().log` keeps (the most recent); 0 keeps none. */
  logLimit: z.int().min(0).default(10_000),
  /** The clock, in milliseconds: windows, `created`, log times. */
  now: nowFunction.default(() => Date.now),
});

/** The options of `startSimulator`, as callers write them (every field optional). */
export type SimulatorOptions = z.input<typeof SimulatorOptionsSchema>;
/** The options with every default applied. */
export type ResolvedSimulatorOptions = z.output<typeof SimulatorOptionsSchema>;
/** The latency model. */
export type LatencyOptions = z.output<typeof LatencySchema>;
/** The simulator's rate limits. */
export type SimulatorLimits = z.output<typeof SimulatorLimitsSchema>;
/** The fault probabilities. */
export type SimulatorFaults = z.output<typeof SimulatorFaultsSchema>;

/**
 * Validates options and applies the defaults.
 *
 * @throws ValidationError naming each bad field and the value it received, e.g.
 * `invalid simulator options: port: Too big: expected number to be <=65535 (received 70000)`.
 */
export function resolveSimulatorOptions(options: SimulatorOptions = {}): ResolvedSimulatorOptions {
  return parseOrThrow(SimulatorOptionsSchema, options, 'simulator options', {
    pathPrefix: '',
    redact: ['apiKey'],
  });
}
