/**
 * `aitq run` with an own prompt (`--prompt`, `--prompt-file`, `--schema`) or an own task type
 * module (`--task-type`) over plain records. The CLI runs as a child process against a simulator
 * started here, whose request log tells what was sent. Real time, short, nothing asserted on
 * timings.
 */

import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { EXIT_CODES } from '../../src/cli/errors.js';
import { CliSummarySchema } from '../../src/cli/render.js';
import { resultLines } from './result-lines.js';
import { ROOT, runCliToEnd } from './run-cli.js';
import { useTestSimulator } from './test-simulator.js';

const simulator = useTestSimulator('aitq-own-');
const { dir, chatsSince, mark } = simulator;

/** A new file in the test's folder. */
function file(name: string, content: string): string {
  const path = join(dir, name);
  writeFileSync(path, content);
  return path;
}

/** Records as JSON Lines. */
function records(name: string, items: readonly unknown[]): string {
  return file(name, `${items.map((item) => JSON.stringify(item)).join('\n')}\n`);
}

const ANIMALS = [
  { id: 'a', animal: { name: 'zebra' } },
  { id: 'b', animal: { name: 'giraffe' } },
  { id: 'c', animal: { name: 'pelican' } },
];

/** `aitq run` of `input` against the test's simulator, results in `out`, the summary as JSON. */
function run(input: string, out: string, ...more: string[]) {
  return runCliToEnd([
    ...[
      'run',
      input,
      '--base-url',
      simulator.sim.url,
      '--progress',
      'none',
      '--json',
      '--out',
      out,
    ],
    ...more,
  ]);
}

describe('aitq run --prompt', () => {
  it('fills {{field.path}} placeholders from each record: one chat call each, the answer text as the result', async () => {
    const input = records('animals.jsonl', ANIMALS);
    const out = join(dir, 'animals.results.jsonl');
    const from = mark();
    const result = await run(input, out, '--prompt', '{{animal.name}}');
    expect(result.code).toBe(EXIT_CODES.ok);
    expect(CliSummarySchema.parse(JSON.parse(result.stdout))).toMatchObject({
      total: 3,
      completed: 3,
    });
    const lines = resultLines(out).sort((a, b) => a.index - b.index);
    expect(lines.map((l) => [l.taskType, l.status])).toEqual(
      Array(3).fill(['PROMPT', 'completed']),
    );
    // The simulator answers with the prompt's words: each prompt was its own record's.
    lines.forEach((line, i) => {
      expect(typeof line.result).toBe('string');
      expect(line.result).toContain(ANIMALS[i]?.animal.name);
      expect(line.metadata).toEqual({ line: i + 1, index: i });
    });
    expect(chatsSince(from)).toHaveLength(3);
  });

  it('refuses the job when a record lacks a placeholder field: exit 2, the line and the field named, nothing sent or written', async () => {
    const input = records('missing.jsonl', [...ANIMALS, { id: 'd', animal: {} }]);
    const out = join(dir, 'missing.results.jsonl');
    const from = mark();
    const result = await run(input, out, '--prompt', 'About {{animal.name}}: {{id}}');
    expect(result.code).toBe(EXIT_CODES.badInput);
    expect(result.stderr).toBe(
      `aitq: ${input}: line 4 (index 3): --prompt: the record has no field "animal.name" (placeholder {{animal.name}})\n`,
    );
    expect(existsSync(out)).toBe(false);
    expect(existsSync(`${out}.db`)).toBe(false);
    expect(chatsSince(from)).toHaveLength(0);
  });

  it('reads the template from --prompt-file; a template without placeholders gets the record appended', async () => {
    const input = records('files.jsonl', ANIMALS);
    const template = file('prompt.txt', 'Describe the animal {{animal.name}}.\n');
    const withFile = await run(input, join(dir, 'files.results.jsonl'), '--prompt-file', template);
    expect(withFile.code).toBe(EXIT_CODES.ok);
    const described = resultLines(join(dir, 'files.results.jsonl'));
    expect(described.every((l) => l.status === 'completed' && typeof l.result === 'string')).toBe(
      true,
    );

    // Without a placeholder, each record is appended: a longer record is a longer prompt.
    const sized = records('sized.jsonl', [{ text: 'short' }, { text: 'word '.repeat(60) }]);
    const from = mark();
    const bare = await run(sized, join(dir, 'bare.results.jsonl'), '--prompt', 'Describe');
    expect(bare.code).toBe(EXIT_CODES.ok);
    const tokens = chatsSince(from)
      .map((entry) => entry.promptTokens)
      .sort((a, b) => a - b);
    expect(tokens).toHaveLength(2);
    expect((tokens[1] ?? 0) - (tokens[0] ?? 0)).toBeGreaterThan(50);
  });
});

describe('aitq run --prompt --schema', () => {
  const schema = {
    type: 'object',
    properties: {
      kind: { type: 'string', enum: ['mammal', 'bird', 'fish'] },
      legs: { type: 'integer', minimum: 0, maximum: 8 },
    },
    required: ['kind', 'legs'],
    additionalProperties: false,
  };

  /** A job of the animals with `--schema` (`name`.schema.json holds `value`), and its calls. */
  async function runSchema(name: string, value: unknown, ...more: string[]) {
    const input = records(`${name}.jsonl`, ANIMALS);
    const out = join(dir, `${name}.results.jsonl`);
    const schemaFile = file(`${name}.schema.json`, JSON.stringify(value));
    const from = mark();
    const result = await run(
      input,
      out,
      ...['--prompt', 'Classify {{animal.name}}', '--schema', schemaFile, ...more],
    );
    return { result, out, chats: chatsSince(from) };
  }

  it('asks the model for the schema (json_schema) and writes the validated answers', async () => {
    const { result, out, chats } = await runSchema('schema', schema);
    expect(result.code).toBe(EXIT_CODES.ok);
    for (const line of resultLines(out)) {
      expect(line.status).toBe('completed');
      const answer = line.result as { kind: string; legs: number };
      expect(Object.keys(answer).sort()).toEqual(['kind', 'legs']);
      expect(['mammal', 'bird', 'fish']).toContain(answer.kind);
      expect(Number.isInteger(answer.legs) && answer.legs >= 0 && answer.legs <= 8).toBe(true);
    }
    expect(chats).toHaveLength(3);
    // Sent as a json_schema response format: the simulator counts the schema's prompt tokens.
    expect(chats.every((entry) => (entry.schemaTokens ?? 0) > 0)).toBe(true);
  });

  it('uses JSON mode when the config file sets structuredOutputs: "json_object"', async () => {
    const config = file('aitq.json', JSON.stringify({ structuredOutputs: 'json_object' }));
    const { result, out, chats } = await runSchema('json-mode', schema, '--config', config);
    expect(result.code).toBe(EXIT_CODES.ok);
    expect(resultLines(out).map((l) => l.status)).toEqual(Array(3).fill('completed'));
    expect(chats).toHaveLength(3);
    expect(chats.every((entry) => entry.schemaTokens === undefined)).toBe(true);
  });

  it('refuses a schema file that is not a valid JSON Schema: exit 2 before anything starts', async () => {
    const { result, out, chats } = await runSchema('bad', { type: 'object', properties: [] });
    expect(result.code).toBe(EXIT_CODES.badInput);
    expect(result.stderr).toMatch(
      /^aitq: --schema .*bad\.schema\.json: not a valid JSON Schema \(draft 2020-12\): \/properties: must be object\n$/,
    );
    expect(existsSync(out)).toBe(false);
    expect(chats).toHaveLength(0);
  });

  it('treats an answer the schema refuses as invalid: retried, then failed with INVALID_ANSWER', async () => {
    // The simulator generates answers from `properties` and ignores `dependentRequired`: every
    // answer lacks `reason`, which Ajv requires once `label` is there.
    const dependent = {
      type: 'object',
      properties: { label: { type: 'string' } },
      required: ['label'],
      dependentRequired: { label: ['reason'] },
    };
    const { result, out, chats } = await runSchema('invalid', dependent, '--max-retries', '1');
    expect(result.code).toBe(EXIT_CODES.someFailed);
    const lines = resultLines(out);
    expect(lines).toHaveLength(3);
    for (const line of lines) {
      expect(line.status).toBe('failed');
      expect(line.error?.code).toBe('INVALID_ANSWER');
      expect(line.error?.message).toContain(
        'must have property reason when property label is present',
      );
    }
    // One retry each: two answered calls per task.
    const perTask = new Map<string, number>();
    for (const { taskId } of chats) {
      if (taskId !== undefined) perTask.set(taskId, (perTask.get(taskId) ?? 0) + 1);
    }
    expect([...perTask.values()]).toEqual([2, 2, 2]);
  });
});

describe('aitq run --task-type', () => {
  const module = join(ROOT, 'test/cli/fixtures/shout.task-type.mjs');

  it("runs each record as the module's task type's data", async () => {
    const input = records('shout.jsonl', [{ text: 'hello there' }, { text: 'one two three' }]);
    const out = join(dir, 'shout.results.jsonl');
    const result = await run(input, out, '--task-type', module);
    expect(result.code).toBe(EXIT_CODES.ok);
    const lines = resultLines(out).sort((a, b) => a.index - b.index);
    expect(lines.map((l) => [l.taskType, l.status])).toEqual([
      ['SHOUT', 'completed'],
      ['SHOUT', 'completed'],
    ]);
    const results = lines.map((l) => l.result as { answer: string; words: number });
    expect(results.map((r) => r.words)).toEqual([2, 3]);
    expect(results.every((r) => r.answer === r.answer.toUpperCase())).toBe(true);
  });

  it("refuses records the task type's input schema refuses, and a module without a task type: exit 2", async () => {
    const input = records('shout-bad.jsonl', [{ text: 'fine' }, { text: '' }]);
    const out = join(dir, 'shout-bad.results.jsonl');
    const bad = await run(input, out, '--task-type', module);
    expect(bad.code).toBe(EXIT_CODES.badInput);
    expect(bad.stderr).toMatch(/^aitq: .*shout-bad\.jsonl: line 2 \(index 1\): invalid data: /);
    expect(existsSync(out)).toBe(false);

    const none = await run(input, out, '--task-type', 'test/cli/fixtures/no-task-type.mjs');
    expect(none.code).toBe(EXIT_CODES.badInput);
    expect(none.stderr).toBe(
      'aitq: --task-type test/cli/fixtures/no-task-type.mjs: the module exports no task type: export default a task type { name, input, output, estimate, run } (see docs/task-types.md)\n',
    );
  });
});

describe('resuming an own prompt', () => {
  it('reuses the results of the same prompt, never those of a changed one (content keys and --key)', async () => {
    const input = records('resume.jsonl', ANIMALS);
    for (const key of [[], ['--key', 'id']]) {
      const out = join(dir, `resume${key.length}.results.jsonl`);
      const first = await run(input, out, '--prompt', 'Tell me about {{animal.name}}', ...key);
      expect(first.code).toBe(EXIT_CODES.ok);

      let from = mark();
      const same = await run(input, out, '--prompt', 'Tell me about {{animal.name}}', ...key);
      expect(CliSummarySchema.parse(JSON.parse(same.stdout))).toMatchObject({
        completed: 3,
        reused: 3,
      });
      expect(chatsSince(from)).toHaveLength(0);

      from = mark();
      const changed = await run(input, out, '--prompt', 'Draw a {{animal.name}}', ...key);
      expect(changed.code).toBe(EXIT_CODES.ok);
      expect(CliSummarySchema.parse(JSON.parse(changed.stdout))).toMatchObject({
        completed: 3,
        reused: 0,
      });
      expect(chatsSince(from)).toHaveLength(3);
      expect(readFileSync(out, 'utf8').trimEnd().split('\n')).toHaveLength(3);
    }
    // Six runs of the CLI, each a process of its own: 20 s was too short on 2 busy cores.
  }, 60_000);
});
