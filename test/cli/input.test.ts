import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { CliInputError } from '../../src/cli/errors.js';
import {
  type InputItem,
  lineTask,
  readJsonItems,
  readRepositories,
  readTaskLines,
  repositoryTask,
} from '../../src/cli/input.js';

const dir = mkdtempSync(join(tmpdir(), 'aitq-input-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let counter = 0;

function file(content: string, ext = 'json'): string {
  const path = join(dir, `f${counter++}.${ext}`);
  writeFileSync(path, content);
  return path;
}

async function collect<T>(items: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of items) out.push(item);
  return out;
}

async function failure(items: AsyncIterable<unknown>): Promise<CliInputError> {
  try {
    await collect(items);
  } catch (error) {
    if (error instanceof CliInputError) return error;
    throw error;
  }
  throw new Error('expected a CliInputError');
}

describe('readJsonItems', () => {
  it('reads a JSON array item by item, with the line each item starts on', async () => {
    const path = file('[\n  {"a": 1},\n  {"b": "x, ] }"},\n\n  [1, 2], 3, "s\\"]"\n]\n');
    const items = await collect(readJsonItems(path));
    expect(items).toEqual([
      { value: { a: 1 }, line: 2, index: 0 },
      { value: { b: 'x, ] }' }, line: 3, index: 1 },
      { value: [1, 2], line: 5, index: 2 },
      { value: 3, line: 5, index: 3 },
      { value: 's"]', line: 5, index: 4 },
    ]);
  });

  it('reads JSON Lines, skipping blank lines, CRLF and a byte-order mark', async () => {
    const path = file('\uFEFF{"a":1}\r\n\r\n{"a":2}\n   \n{"a":3}', 'jsonl');
    const items = await collect(readJsonItems(path));
    expect(items.map((i) => [i.value, i.line, i.index])).toEqual([
      [{ a: 1 }, 1, 0],
      [{ a: 2 }, 3, 1],
      [{ a: 3 }, 5, 2],
    ]);
  });

  it('reads an empty array and an empty file as no items', async () => {
    expect(await collect(readJsonItems(file(' [ ] ')))).toEqual([]);
    expect(await collect(readJsonItems(file('', 'jsonl')))).toEqual([]);
  });

  it('reads items that span many chunks of the stream', async () => {
    const big = Array.from({ length: 300 }, (_, i) => ({ i, text: 'x'.repeat(700 + i) }));
    const items = await collect(readJsonItems(file(JSON.stringify(big, null, 1))));
    expect(items.map((i) => i.value)).toEqual(big);
    expect(items[299]?.line).toBe(1 + 299 * 4 + 1);
  });

  it('gives back any array of JSON values, however it is indented', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.jsonValue(), { maxLength: 8 }),
        fc.constantFrom(0, 1, 2, '\t'),
        async (values, indent) => {
          const path = file(JSON.stringify(values, null, indent));
          const items = await collect(readJsonItems(path));
          expect(items.map((i) => i.value)).toEqual(JSON.parse(JSON.stringify(values)));
          expect(items.map((i) => i.index)).toEqual(values.map((_, i) => i));
        },
      ),
      { numRuns: 60 },
    );
  });

  it('names the file and the line of bad JSON in JSON Lines', async () => {
    const path = file('{"a":1}\n{"a":2}\n{"a":\n', 'jsonl');
    const error = await failure(readJsonItems(path));
    expect(error.line).toBe(3);
    expect(error.column).toBe(6);
    expect(error.message).toMatch(new RegExp(`^${path}: line 3, column 6: bad JSON: `));
  });

  it('names the line of bad JSON inside a multi-line array item', async () => {
    const path = file('[\n  {"a": 1},\n  {\n    "b": 2,\n    "c": nope\n  }\n]');
    const error = await failure(readJsonItems(path));
    expect(error.line).toBe(5);
    expect(error.index).toBe(1);
    // `"c": nope`: V8 stops at the `o` (an `n` could start `null`).
    expect(error.column).toBe(11);
    expect(error.message).toContain(': line 5, column 11 (index 1): bad JSON: ');
  });

  it.each([
    // V8 says "at position 5": of the line, not of the file.
    ['jsonl', '{"a":1}\n{"a" 1}\n', 2, 6, undefined],
    ['json', '[{"a": 1}, {"b" 2}]', 1, 17, 1],
    ['json', '[\n  {"a": 1},\n  {"b": 2} x\n]', 3, 12, 1],
    ['json', '\uFEFF[1, 2,]', 1, 7, 2],
  ])(
    'names the line and column of bad JSON within the file (%s %j)',
    async (ext, content, line, column, index) => {
      const error = await failure(readJsonItems(file(content, ext)));
      expect([error.line, error.column, error.index]).toEqual([line, column, index]);
      expect(error.message).toContain(`: line ${line}, column ${column}`);
      expect(error.message).not.toMatch(/position \d|\(line \d+ column/);
    },
  );

  it.each([
    ['[1, 2,]', 1, "unexpected ']'"],
    ['[1,\n,2]', 2, "unexpected ','"],
    ['[\n{"a": 1}\n', 3, 'the array is not closed (missing ])'],
    ['[1]\n[2]', 2, 'unexpected text after the closing ]'],
    ['[{"a": [1}]', 1, "unexpected '}'"],
  ])('refuses the broken array %j at line %i', async (content, line, problem) => {
    const error = await failure(readJsonItems(file(content)));
    expect(error.line).toBe(line);
    expect(error.message).toContain(`bad JSON: ${problem}`);
  });

  it('keeps a JSON error on one line', async () => {
    const path = file('[{"a":\n\n 1 x}]');
    const error = await failure(readJsonItems(path));
    expect(error.message).not.toContain('\n');
    expect(error.line).toBe(3);
  });

  it('says so when the file is missing or is a directory', async () => {
    const missing = join(dir, 'nope.json');
    expect((await failure(readJsonItems(missing))).message).toBe(`${missing}: no such file`);
    expect((await failure(readJsonItems(dir))).message).toBe(`${dir}: is a directory, not a file`);
  });
});

describe('readRepositories', () => {
  it('validates each repository and keeps keys it does not know', async () => {
    const path = file(
      JSON.stringify([{ name: 'flask', topics: ['python'], owner: { login: 'pallets' } }]),
    );
    const [item] = await collect(readRepositories(path));
    expect(item?.value).toEqual({ name: 'flask', topics: ['python'], owner: { login: 'pallets' } });
  });

  it('names the line and the index of a repository without a name', async () => {
    const path = file('[\n  {"name": "a"},\n  {"name": "b"},\n  {"description": "no name"}\n]');
    const error = await failure(readRepositories(path));
    expect(error.message).toBe(
      `${path}: line 4 (index 2): repository field "name": a repository needs a "name" (a non-empty string) (received undefined)`,
    );
  });

  it('names the field and the value of any other bad field', async () => {
    const path = file('{"name": "a", "stargazers_count": "many"}\n', 'jsonl');
    const error = await failure(readRepositories(path));
    expect(error.message).toMatch(
      /: line 1 \(index 0\): repository field "stargazers_count": .*\(received "many"\)$/,
    );
  });

  it('turns a repository into a REPOSITORY_ANALYSIS task', () => {
    const item: InputItem<{ name: string; language: string; readme: string }> = {
      value: { name: 'flask', language: 'Python', readme: 'Flask is small.' },
      line: 7,
      index: 3,
    };
    expect(repositoryTask(item, 'HIGH')).toEqual({
      taskType: 'REPOSITORY_ANALYSIS',
      data: {
        repo_info: { name: 'flask', language: 'Python' },
        readme_content: 'Flask is small.',
      },
      priority: 'HIGH',
      metadata: { name: 'flask', line: 7, index: 3 },
    });
  });
});

describe('readTaskLines', () => {
  it('reads task lines and lets a line’s own priority win over the default', async () => {
    const path = file(
      '{"taskType":"TEXT_CLASSIFICATION","data":{"text":"x"},"priority":"URGENT","metadata":{"k":1}}\n' +
        '{"taskType":"EMBEDDING_GENERATION","data":{"texts":["a"]}}\n',
      'jsonl',
    );
    const tasks = (await collect(readTaskLines(path))).map((item) => lineTask(item, 'LOW'));
    expect(tasks).toEqual([
      {
        taskType: 'TEXT_CLASSIFICATION',
        data: { text: 'x' },
        priority: 'URGENT',
        metadata: { k: 1, line: 1, index: 0 },
      },
      {
        taskType: 'EMBEDDING_GENERATION',
        data: { texts: ['a'] },
        priority: 'LOW',
        metadata: { line: 2, index: 1 },
      },
    ]);
  });

  it.each([
    ['{"data":{}}', 'task field "taskType": a task needs a "taskType" (a string)'],
    ['{"taskType":"X"}', 'task field "data": a task needs "data"'],
    ['{"taskType":"X","data":1,"priority":"SOON"}', 'task field "priority": '],
    ['{"taskType":"X","data":1,"task_type":"Y"}', 'task: Unrecognized key: "task_type"'],
    // The misspelt key is named, not the missing one it stands for.
    [
      '{"task_type":"X","data":1}',
      'task: Unrecognized key: "task_type" (did you mean "taskType"?)',
    ],
  ])('refuses %s', async (line, problem) => {
    const error = await failure(
      readTaskLines(file(`{"taskType":"OK","data":1}\n${line}\n`, 'jsonl')),
    );
    expect(error.line).toBe(2);
    expect(error.message).toContain(`: line 2 (index 1): ${problem}`);
  });

  it('reports the first fault in the file first, in a JSON array as in JSON Lines', async () => {
    const items = ['{"taskType":"OK","data":1}', '{"taskType":"X","dat":1}', '{"taskType":"Y",]'];
    for (const [text, kind] of [
      [`[\n${items.join(',\n')}\n]\n`, 'json'],
      [`${items.join('\n')}\n`, 'jsonl'],
    ] as const) {
      const error = await failure(readTaskLines(file(text, kind)));
      expect(error.message, kind).toContain('Unrecognized key: "dat"');
    }
  });
});
