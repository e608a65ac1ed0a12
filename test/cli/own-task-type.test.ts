/**
 * The pieces of `aitq run --prompt / --schema / --task-type`, in process: templates, schema
 * files, the task types built from them, the flags and the config file's structured-output keys,
 * resume keys with an identity, and stdin copied from any readable stream.
 */

import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, describe, expect, it } from 'vitest';
import { type JobArgs, parseCliArgs } from '../../src/cli/args.js';
import { CliUsageError } from '../../src/cli/errors.js';
import type { CliIO } from '../../src/cli/io.js';
import { isStrictSchema, loadJsonSchema } from '../../src/cli/json-schema.js';
import { TaskKeys } from '../../src/cli/keys.js';
import { loadOwnTaskType, PROMPT_TASK_TYPE } from '../../src/cli/own-task-type.js';
import { inputSource } from '../../src/cli/stdio.js';
import { PromptTemplate } from '../../src/cli/template.js';
import { ManagerOptionsSchema } from '../../src/config/index.js';
import { InvalidAnswerError, type TaskContext } from '../../src/index.js';

const cwd = mkdtempSync(join(tmpdir(), 'aitq-own-unit-'));
afterAll(() => rmSync(cwd, { recursive: true, force: true }));

function file(name: string, content: string): string {
  writeFileSync(join(cwd, name), content);
  return name;
}

/** The CliUsageError message of `run`, or of the schema file. */
function problem(run: () => unknown): string {
  try {
    run();
  } catch (error) {
    if (error instanceof CliUsageError) return error.message;
    throw error;
  }
  throw new Error('expected a CliUsageError');
}

function job(argv: string[]): JobArgs {
  const args = parseCliArgs(argv, {}, cwd);
  if (args.command !== 'run' && args.command !== 'analyze') throw new Error(args.command);
  return args;
}

describe('PromptTemplate', () => {
  const template = (text: string) => PromptTemplate.parse(text, '--prompt');

  it('fills dotted paths, array indexes and {{.}}; strings as they are, anything else as JSON', () => {
    const record = { user: { name: 'Ann', tags: ['a', 'b'] }, n: 3, ok: null, obj: { x: 1 } };
    expect(
      template('{{ user.name }} {{user.tags.1}} {{n}} {{ok}} {{obj}} {{user.tags}}').render(record),
    ).toBe('Ann b 3 null {"x":1} ["a","b"]');
    expect(template('All: {{.}}').render({ a: 1 })).toBe('All: {"a":1}');
    expect(template('literal \\{{name}} and {{name}}').render({ name: 'x' })).toBe(
      'literal {{name}} and x',
    );
  });

  it('appends the record to a template without placeholders', () => {
    const bare = template('Summarize this');
    expect(bare.hasPlaceholders).toBe(false);
    expect(bare.render({ a: 'b' })).toBe('Summarize this\n\n{"a":"b"}');
    expect(bare.problem('any value')).toBeUndefined();
  });

  it('names the first placeholder a record cannot fill', () => {
    const t = template('{{a}} {{b.c}}');
    expect(t.problem({ a: 1, b: { c: 0 } })).toBeUndefined();
    expect(t.problem({ a: 1, b: {} })).toBe('the record has no field "b.c" (placeholder {{b.c}})');
    expect(t.problem({ a: 1, b: 'text' })).toBe(
      'the record has no field "b.c" (placeholder {{b.c}})',
    );
    // Inherited properties are no fields.
    expect(t.problem({ b: { c: 1 } })).toBe('the record has no field "a" (placeholder {{a}})');
    expect(template('{{toString}}').problem({})).toMatch(/no field "toString"/);
    expect(t.problem([1, 2])).toMatch(/^the record is not a JSON object/);
    expect(template('{{.}}').problem(42)).toBeUndefined();
  });

  it('refuses an empty template, an unclosed placeholder and an empty or malformed path', () => {
    expect(problem(() => template('  '))).toBe('--prompt: the prompt is empty');
    expect(problem(() => template('Hi {{name'))).toMatch(/^--prompt: a placeholder is not closed/);
    for (const bad of ['{{}}', '{{ }}', '{{a..b}}', '{{a.}}', '{{a b}}']) {
      expect(problem(() => template(bad))).toMatch(/is not a placeholder: expected \{\{field\}\}/);
    }
  });
});

describe('--schema files', () => {
  it('reads draft 2020-12 by default, and the dialect $schema names', () => {
    const plain = loadJsonSchema(file('a.json', '{"type":"object"}'), cwd);
    expect(plain.dialect).toBe('draft 2020-12');
    const seven = loadJsonSchema(
      file(
        'b.json',
        '{"$schema":"http://json-schema.org/draft-07/schema#","type":"array","items":[{"type":"string"}]}',
      ),
      cwd,
    );
    expect(seven.dialect).toBe('draft-07');
    expect(seven.validate(['x'])).toBe(true);
    // http or https, with or without the final #: the same dialect.
    for (const uri of [
      'https://json-schema.org/draft-07/schema',
      'http://json-schema.org/draft/2019-09/schema#',
    ]) {
      const text = JSON.stringify({ $schema: uri, type: 'object' });
      expect(loadJsonSchema(file('v.json', text), cwd).validate({})).toBe(true);
    }
  });

  it('refuses what is not a usable JSON Schema, naming the file', () => {
    const cases: Array<[string, RegExp]> = [
      ['not json', /^--schema c0\.json: line 1, column 2: bad JSON: /],
      ['[1]', /expected a JSON Schema object \(received an array of 1\)/],
      ['{"type":"strin"}', /not a valid JSON Schema \(draft 2020-12\): \/type: must be equal/],
      ['{"type":"object","requird":["a"]}', /unknown keyword: "requird"/],
      ['{"$ref":"#/$defs/none"}', /not a usable JSON Schema .*can't resolve reference/],
      ['{"$schema":"http://json-schema.org/draft-04/schema#"}', /is not a dialect aitq reads/],
    ];
    cases.forEach(([text, expected], i) => {
      expect(problem(() => loadJsonSchema(file(`c${i}.json`, text), cwd))).toMatch(expected);
    });
    expect(problem(() => loadJsonSchema('none.json', cwd))).toBe(
      '--schema none.json: no such file',
    );
  });

  it('leaves `format` unchecked (an annotation)', () => {
    const loaded = loadJsonSchema(file('f.json', '{"type":"string","format":"email"}'), cwd);
    expect(loaded.validate('not an email')).toBe(true);
  });

  it('tells OpenAI-strict schemas from the others', () => {
    const strict = {
      type: 'object',
      properties: {
        label: { type: 'string', enum: ['a', 'b'] },
        items: {
          type: 'array',
          items: {
            type: 'object',
            properties: { x: { type: 'number' } },
            required: ['x'],
            additionalProperties: false,
          },
        },
      },
      required: ['label', 'items'],
      additionalProperties: false,
    };
    expect(isStrictSchema(strict)).toBe(true);
    expect(isStrictSchema({ ...strict, required: ['label'] })).toBe(false);
    expect(isStrictSchema({ ...strict, additionalProperties: true })).toBe(false);
    expect(isStrictSchema({ ...strict, minProperties: 1 })).toBe(false);
    expect(isStrictSchema({ type: 'array', items: { type: 'string' } })).toBe(false);
  });
});

/** A task context whose chat answers `content`. */
function contextOf(data: unknown, content: string): TaskContext {
  return {
    taskId: 't1',
    data,
    attempt: 1,
    signal: new AbortController().signal,
    env: { model: 'gpt-4o-mini', embeddingModel: 'text-embedding-3-small', maxTokens: 256 },
    chat: async () => ({ content, finishReason: 'stop', model: 'gpt-4o-mini' }),
    embed: () => Promise.reject(new Error('no embeddings')),
    progress: () => {},
    runChildren: () => Promise.reject(new Error('no children')),
  };
}

describe('the own prompt task type', () => {
  const schemaFile = file(
    'label.json',
    JSON.stringify({
      title: 'ticket label',
      type: 'object',
      properties: { label: { enum: ['bug', 'feature'] } },
      required: ['label'],
      additionalProperties: false,
    }),
  );

  it('with a schema: asks for it, returns the valid answer, and an invalid one is a retryable InvalidAnswerError', async () => {
    const args = job([
      'run',
      't.jsonl',
      '--simulator',
      '--prompt',
      'Label: {{text}}',
      '--schema',
      schemaFile,
    ]);
    const own = await loadOwnTaskType(args.own as NonNullable<JobArgs['own']>, {}, cwd);
    const { definition } = own;
    expect(definition.name).toBe(PROMPT_TASK_TYPE);
    const estimate = definition.estimate(
      { text: 'crash' },
      { model: 'gpt-4o-mini', embeddingModel: 'e', maxTokens: 256 },
    );
    expect(estimate.promptTokens).toBeGreaterThan(10);
    await expect(definition.run(contextOf({ text: 'crash' }, '{"label":"bug"}'))).resolves.toEqual({
      label: 'bug',
    });
    const invalid = definition.run(contextOf({ text: 'crash' }, '{"label":"chore"}'));
    await expect(invalid).rejects.toBeInstanceOf(InvalidAnswerError);
    await expect(invalid).rejects.toMatchObject({
      retryable: true,
      message: expect.stringMatching(
        /^the ticket_label answer does not match its schema: label: must be equal to one of the allowed values \("bug", "feature"\)/,
      ),
    });
    expect(definition.input.safeParse({ other: 1 }).success).toBe(false);
  });

  it('without a schema: the answer text; its identity changes with the template and the schema', async () => {
    const identity = async (argv: string[]) =>
      (
        await loadOwnTaskType(
          job(['run', 't.jsonl', '--simulator', ...argv]).own as NonNullable<JobArgs['own']>,
          {},
          cwd,
        )
      ).identity;
    const plain = await loadOwnTaskType(
      job(['run', 't.jsonl', '--simulator', '--prompt', 'Say {{text}}']).own as NonNullable<
        JobArgs['own']
      >,
      {},
      cwd,
    );
    await expect(plain.definition.run(contextOf({ text: 'hi' }, 'hello'))).resolves.toBe('hello');
    const a = await identity(['--prompt', 'Say {{text}}']);
    expect(await identity(['--prompt', 'Say {{text}}'])).toBe(a);
    expect(await identity(['--prompt-file', file('p.txt', 'Say {{text}}\n')])).toBe(a);
    expect(await identity(['--prompt', 'Tell {{text}}'])).not.toBe(a);
    expect(await identity(['--prompt', 'Say {{text}}', '--schema', schemaFile])).not.toBe(a);
  });
});

describe('the flags of own task types', () => {
  it('excludes what cannot go together, and applies to run only', () => {
    const run = (...argv: string[]) =>
      problem(() => job(['run', 't.jsonl', '--simulator', ...argv]));
    expect(run('--prompt', 'a', '--prompt-file', 'p.txt')).toBe(
      '--prompt and --prompt-file: choose one',
    );
    expect(run('--task-type', 'm.mjs', '--prompt', 'a')).toBe(
      '--task-type and --prompt: choose one (the module makes its own prompt)',
    );
    expect(run('--task-type', 'm.mjs', '--schema', 's.json')).toMatch(/^--task-type and --schema/);
    expect(run('--schema', 's.json')).toBe(
      '--schema needs --prompt or --prompt-file: the prompt the answers follow',
    );
    expect(run('--prompt-file', 'missing.txt')).toBe('--prompt-file missing.txt: no such file');
    expect(problem(() => job(['analyze', 'r.json', '--simulator', '--prompt', 'a']))).toBe(
      "option '--prompt' applies to 'run' only (analyze's prompt is REPOSITORY_ANALYSIS's)",
    );
    expect(job(['run', 't.jsonl', '--simulator']).own).toBeUndefined();
  });

  it("takes the config file's structuredOutputs and countSchemaTokens, and checks them", () => {
    const config = file(
      'c.json',
      '{"structuredOutputs":"json_object","countSchemaTokens":false,"maxConcurrent":2}',
    );
    const args = job(['run', 't.jsonl', '--simulator', '--config', join(cwd, config)]);
    expect(args.structured).toEqual({ structuredOutputs: 'json_object', countSchemaTokens: false });
    expect(args.manager).toEqual({ maxConcurrent: 2 });
    const bad = file('d.json', '{"structuredOutputs":"xml"}');
    expect(problem(() => job(['run', 't.jsonl', '--simulator', '--config', join(cwd, bad)]))).toBe(
      `${join(cwd, bad)}: structuredOutputs: expected 'json_schema', 'json_object' or 'auto' (received "xml")`,
    );
    const notBool = file('e.json', '{"countSchemaTokens":"no"}');
    expect(
      problem(() => job(['run', 't.jsonl', '--simulator', '--config', join(cwd, notBool)])),
    ).toBe(`${join(cwd, notBool)}: countSchemaTokens: expected true or false (received "no")`);
    const misspelt = file('f.json', '{"structuredOutput":"json_object"}');
    expect(
      problem(() => job(['run', 't.jsonl', '--simulator', '--config', join(cwd, misspelt)])),
    ).toMatch(/Unrecognized key: "structuredOutput" \(did you mean "structuredOutputs"\?\)/);
  });

  it('reads - as stdin, with the results on stdout and no store by default', () => {
    expect(job(['run', '-', '--simulator'])).toMatchObject({
      spool: true,
      out: '-',
      store: undefined,
    });
    expect(job(['run', '-', '--simulator', '-o', 'r.jsonl'])).toMatchObject({
      spool: true,
      out: 'r.jsonl',
      store: 'r.jsonl.db',
    });
    expect(job(['run', 't.jsonl', '--simulator', '-o', '-'])).toMatchObject({
      spool: false,
      out: '-',
      store: undefined,
    });
    expect(job(['run', '-', '--simulator', '--store', 's.db']).store).toBe('s.db');
  });
});

describe('resume keys of an own task type', () => {
  it('carry its identity, in content keys and in --key field keys', () => {
    const settings = ManagerOptionsSchema.parse({});
    const item = { value: { id: 7, text: 'x' }, line: 1, index: 0 };
    const task = { taskType: PROMPT_TASK_TYPE, data: item.value, metadata: {} };
    const key = (field: string[] | undefined, identity?: string) =>
      new TaskKeys('in.jsonl', settings, field, identity).next(item, task);
    expect(key(undefined, 'a'.repeat(64))).not.toBe(key(undefined, 'b'.repeat(64)));
    expect(key(undefined)).not.toBe(key(undefined, 'a'.repeat(64)));
    expect(key(['id'])).toBe('field:id=7');
    expect(key(['id'], `${'c'.repeat(16)}${'d'.repeat(48)}`)).toBe(`field:id=7@${'c'.repeat(16)}`);
  });
});

describe('inputSource', () => {
  const io = (stdin: Readable): CliIO => ({
    stdin,
    stdout: { write: () => true },
    stderr: { write: () => true },
    env: {},
    cwd,
    onSignal: () => () => {},
  });

  it('copies any readable stream to a temporary file, named stdin, deleted by remove()', async () => {
    const text = '{"a":1}\n{"a":2}\n'.repeat(1_000);
    const source = await inputSource(
      '-',
      true,
      io(Readable.from([text.slice(0, 7), text.slice(7)])),
    );
    expect(source.label).toBe('stdin');
    expect(readFileSync(source.path, 'utf8')).toBe(text);
    await source.remove();
    expect(existsSync(source.path)).toBe(false);
  });

  it('reads a file in place', async () => {
    const source = await inputSource('t.jsonl', false, io(Readable.from([])));
    expect(source).toMatchObject({ path: 't.jsonl', label: 't.jsonl' });
  });
});
