/** `aitq --help`. */

import { DEFAULT_MAX_RECORD_BYTES } from './input.js';
import { DEFAULT_CONFIG_FILE } from './job-options.js';

export const HELP = `aitq: run LLM tasks from a file under concurrency, rate limits and budgets

Usage:
  aitq analyze <file> [options]   one REPOSITORY_ANALYSIS task per repository (JSON array or JSONL)
  aitq run <file> [options]       any task types, JSONL lines
                                  { taskType, data, priority?, config?, metadata? }
  aitq run <file> --prompt <template> [--schema <file>]
                                  an own prompt over plain records (any JSON object a line)
  aitq simulate [options]         the built-in OpenAI-compatible simulator on a port
  aitq --help | --version         (-h, -v)

  <file> may be - for stdin (copied to a temporary file first, then read like a file).

Options of analyze and run:
  --concurrency <n>      calls running at once (maxConcurrent)
  --rpm <n>              requests per minute (requestsPerMinute)
  --rph <n>              requests per hour (requestsPerHour)
  --tpm <n>              tokens per minute (tokensPerMinute)
  --budget <usd>         total budget in dollars (budgetLimit)
  --daily-budget <usd>   per calendar day (dailyLimit)
  --hourly-budget <usd>  per calendar hour (hourlyLimit)
  --model <name>         chat model (model)
  --base-url <url>       OpenAI-compatible API, e.g. http://127.0.0.1:11434/v1 (baseURL)
  --api-key <key>        API key (apiKey); default OPENAI_API_KEY; "" counts as none
  --simulator            use the built-in simulator in this process, whatever the key;
                         without it, a job with no key and no loopback --base-url is refused
  --priority <p>         LOW, MEDIUM, HIGH or URGENT for tasks that set none
  --max-retries <n>      retries after the first attempt (taskDefaults.maxRetries)
  --timeout <s>          how long one attempt may take: seconds, or with units (90s, 1m30s)
  -o, --out <file>       results as JSONL (default <input>.results.jsonl next to the input;
                         never the input file itself); rewritten whole at the end of each run;
                         - for stdout (the default for stdin input; the summary then goes
                         to stderr, and there is no store unless --store names one)
  --json                 print the summary as one JSON object
  --progress <mode>      auto, tty, plain or none (default auto; progress goes to stderr)
  -q, --quiet            no progress and no notices: only the summary
  --dry-run              estimate cost and time, send nothing
  -c, --config <file>    manager options as JSON (default ./${DEFAULT_CONFIG_FILE} if present);
                         flags win over the file
  --max-record-size <bytes>
                         the largest line (or array item) of the input file, in bytes
                         (default ${DEFAULT_MAX_RECORD_BYTES}: 64 MiB); a larger one is bad input

Own prompts and task types (run only; each input line is a plain record, not a task):
  --prompt <template>    one chat call per record; {{field}} and {{a.b}} are the record's
                         fields, {{.}} the whole record, \\{{ a literal {{; without any
                         placeholder the record is appended; a record missing a field is
                         bad input. The result is the answer text
  --prompt-file <file>   the template from a file
  --schema <file.json>   a JSON Schema (draft 2020-12 unless $schema says 2019-09 or
                         draft-07) the model is asked for and each answer validated by (Ajv);
                         an answer that does not match is retried like any invalid answer
  --task-type <module>   a module (.mjs) whose default export is a task type
                         { name, input, output, estimate, run }; each record is its data
  The config file may set structuredOutputs ("auto", "json_schema", "json_object") and
  countSchemaTokens for --schema and the built-in chat types. A changed prompt, schema or
  module never reuses the results of the old one.

Resume (a run keeps its tasks in a SQLite store; the same command again runs only what is left):
  --store <file>         the store (default <out>.db next to the results file)
  --no-store             keep tasks in memory only: nothing to resume
  --fresh                delete the store and start over (also allows replacing a results
                         file that has no store)
  --key <field>          key each record by this field (a dotted path such as metadata.id;
                         a unique string or number) instead of a hash of its content

Options of simulate (all but --port, --host and --api-key also shape the built-in simulator
of analyze and run when it is used):
  --port <n>             port (default 0: a free one)    --host <addr>  default 127.0.0.1
  --sim-rpm <n>          requests per window             --sim-tpm <n>  tokens per window
  --sim-window <ms>      window length (default 60000)
  --latency <spec>       fixed:MS | uniform:MIN-MAX | lognormal:MEDIAN[,SIGMA]
  --per-token-ms <ms>    extra wait per generated token
  --error-rate <p>       probability of a 500           --fault-503 <p>, --fault-429 <p>,
  --fault-timeout <p>, --fault-malformed <p>, --fault-no-usage <p>   other faults (0..1)
  --seed <n>             seed of answers, faults and latency
  --api-key <key>        require this key (401 otherwise)

Exit codes: 0 every task completed, 1 some tasks failed, were cancelled or never ended
(e.g. the provider refused the API key: 401/403 stops the job), 2 bad input (a store that
cannot be opened too), 130 interrupted.
`;
