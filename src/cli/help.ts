/** `aitq --help`, and each command's own help (`aitq help <command>`, `aitq <command> --help`). */

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
  aitq worker --redis <url> [options]
                                  run the tasks of a queue shared on Redis (BullMQ), with the
                                  limits and budget kept together with every other worker
  aitq help <command>             one command's usage, flags and an example
                                  (also aitq <command> --help)
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
  --dashboard            serve the live dashboard while the job runs (127.0.0.1, a free
                         port; its URL, with a token, is printed on stderr)
  --dashboard-port <n>   the dashboard's port (default 0: a free one)
  --dashboard-wait       keep the dashboard once the job ended, until Ctrl-C
  --inspect              watch the actor system in the Stately inspector: its page on
                         127.0.0.1, URL on stderr (task data, results and keys left out)
  --inspect-url <ws://…> send them to an inspector server of your own instead

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

Several runs at once (on one machine or many, against one API key):
  --shared-limits <url>  keep the rate limits and the budget together with every run given the
                         same Redis (redis:// or rediss://; needs npm install ioredis)
  --shared-prefix <name> which limits on that Redis (default aitq)

One queue, many workers (needs npm install ioredis bullmq):
  aitq worker --redis <url>   takes the queue's tasks when it has room, until Ctrl-C (once:
                         finish what runs, give back what waits; twice: give back all);
                         takes the manager options above, --simulator, and
  --task-types <module>  a module (.mjs) whose default export is a task type or an array
                         of them, besides the built-in ones
  aitq analyze <file> --redis <url>   submits each record to the queue instead of running it,
                         waits, and writes the results; the same command again resumes (a
                         record's task is keyed by its content or --key)
  --prefix <name>        the queue's key prefix on that Redis (default aitq)
  --queue <name>         the queue's name under the prefix (default tasks)

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

/** The commands `aitq help <command>` and `aitq <command> --help` know. */
export const COMMANDS = ['analyze', 'run', 'simulate', 'worker'] as const;
export type Command = (typeof COMMANDS)[number];

const JOB_FLAGS = `  --concurrency <n>        calls running at once
  --rpm <n>                requests per minute
  --rph <n>                requests per hour
  --tpm <n>                tokens per minute
  --budget <usd>           total budget in dollars
  --daily-budget <usd>     budget per calendar day
  --hourly-budget <usd>    budget per calendar hour
  --model <name>           chat model
  --base-url <url>         OpenAI-compatible API (a loopback one needs no key)
  --api-key <key>          API key (default OPENAI_API_KEY)
  --simulator              the built-in simulator in this process, whatever the key
  --priority <p>           LOW, MEDIUM, HIGH or URGENT for tasks that set none
  --max-retries <n>        retries after the first attempt
  --timeout <s>            one attempt's limit: seconds, or with units (90s, 1m30s)
  -o, --out <file>         results as JSONL (default <input>.results.jsonl; - for stdout)
  --json                   the summary as one JSON object
  --progress <mode>        auto, tty, plain or none (on stderr)
  -q, --quiet              only the summary
  --dry-run                estimate cost and time, send nothing
  -c, --config <file>      manager options as JSON (default ./${DEFAULT_CONFIG_FILE}); flags win
  --max-record-size <b>    the largest input record in bytes (default 64 MiB)
  --store <file>           the SQLite store to resume from (default <out>.db)
  --no-store               keep tasks in memory only: nothing to resume
  --fresh                  delete the store and start over
  --key <field>            key each record by this field (metadata.id) instead of its hash
  --shared-limits <url>    rate limits and budget kept with every run given this Redis
  --shared-prefix <name>   which limits on that Redis (default aitq)
  --redis <url>            submit to a queue shared on Redis instead (its workers run it)
  --prefix <name>          that queue's key prefix (default aitq)
  --queue <name>           that queue's name (default tasks)
  --dashboard              the live dashboard while the job runs (URL printed on stderr)
  --dashboard-port <n>     its port (default 0: a free one)
  --dashboard-wait         keep it once the job ended, until Ctrl-C
  --inspect                the Stately inspector, its page on loopback (URL on stderr)
  --inspect-url <ws://…>   send to an inspector server of your own instead
  simulator shaping (with --simulator): --latency, --per-token-ms, --error-rate, --fault-*,
                           --sim-rpm, --sim-tpm, --sim-window, --seed (see aitq help simulate)
`;

const OWN_FLAGS = `  --prompt <template>      one chat call per plain record; {{field}}, {{a.b}}, {{.}}
  --prompt-file <file>     the template from a file
  --schema <file.json>     a JSON Schema the answers are asked for and validated by
  --task-type <module>     a module (.mjs) whose default export is a task type
`;

const FOOTER =
  '\nExit codes: 0 all completed, 1 some failed or were cancelled, 2 bad input, 130 interrupted.\nEverything: aitq --help\n';

/** `aitq help <command>`, `aitq <command> --help`: usage, each flag in one line, an example. */
export const COMMAND_HELP: Readonly<Record<Command, string>> = {
  analyze: `aitq analyze: one REPOSITORY_ANALYSIS task per repository

Usage:
  aitq analyze <file> [options]   <file>: a JSON array or JSONL of repositories; - for stdin

Options:
${JOB_FLAGS}
Example:
  aitq analyze repos.jsonl --concurrency 4 --rpm 60 --budget 2 -o analysis.jsonl
${FOOTER}`,
  run: `aitq run: tasks of any type, or an own prompt or task type over plain records

Usage:
  aitq run <file> [options]       JSONL lines { taskType, data, priority?, config?, metadata? }
  aitq run <file> --prompt <template> [--schema <file.json>] [options]
  aitq run <file> --task-type <module.mjs> [options]
                                  <file>: - for stdin

Own prompts and task types (each input line is then a plain record):
${OWN_FLAGS}
Options:
${JOB_FLAGS}
Example:
  aitq run reviews.jsonl --prompt 'Sentiment of: {{text}}' --schema sentiment.json --budget 1
${FOOTER}`,
  worker: `aitq worker: run the tasks of a queue shared on Redis (BullMQ)

Usage:
  aitq worker --redis <url> [options]   until Ctrl-C (once: finish what runs and give back
                                        what waits; twice: give back everything)

Options:
  --redis <url>            the queue's Redis (redis:// or rediss://); the limits and budget
                           are kept there too, together with every worker of the queue
  --prefix <name>          the queue's key prefix (default aitq)
  --queue <name>           the queue's name under the prefix (default tasks)
  --task-types <module>    a module (.mjs) whose default export is a task type or an array
  --concurrency <n>        calls running at once in this worker
  --rpm, --rph, --tpm, --budget, --daily-budget, --hourly-budget
                           the queue's limits (the same on every worker)
  --model, --base-url, --api-key, --max-retries, --timeout, -c/--config, -q/--quiet
  --simulator              the built-in simulator in this process (and its shaping flags)

Example:
  aitq worker --redis redis://10.0.0.5:6379 --concurrency 20 --rpm 3000 --budget 50
  aitq analyze repos.jsonl --redis redis://10.0.0.5:6379 -o analysis.jsonl
${FOOTER}`,
  simulate: `aitq simulate: the built-in OpenAI-compatible simulator on a port

Usage:
  aitq simulate [options]         serves until stopped (Ctrl-C)

Options:
  --port <n>               port (default 0: a free one)
  --host <addr>            address (default 127.0.0.1)
  --api-key <key>          require this key (401 otherwise)
  --sim-rpm <n>            requests per window
  --sim-tpm <n>            tokens per window
  --sim-window <ms>        window length (default 60000)
  --latency <spec>         fixed:MS | uniform:MIN-MAX | lognormal:MEDIAN[,SIGMA]
  --per-token-ms <ms>      extra wait per generated token
  --error-rate <p>         probability of a 500
  --fault-503 <p>          probability of a 503
  --fault-429 <p>          probability of a 429
  --fault-timeout <p>      probability of a call that never answers
  --fault-malformed <p>    probability of a malformed answer
  --fault-no-usage <p>     probability of an answer without usage
  --seed <n>               seed of answers, faults and latency

Example:
  aitq simulate --port 8080 --latency lognormal:400,0.5 --error-rate 0.05
${FOOTER}`,
};
