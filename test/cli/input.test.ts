import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { CliInputError } from '../../src/cli/errors.js';
import { DEFAULT_MAX_RECORD_BYTES, type InputItem, readJsonItems } from '../../src/cli/input.js';
import {
  lineTask,
  readRepositories,
  readTaskLines,
  repositoryTask,
} from '../../src/cli/records.js';

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

describe('readJsonItems: the largest record', () => {
  const small = { maxRecordBytes: 1024 };
  const over = 'the record is over 1024 bytes, the maximum record size (--max-record-size)';

  /** The values read before the failure, and the failure. */
  async function readUntilFailure(path: string) {
    const values: unknown[] = [];
    const error = await failure(
      (async function* () {
        for await (const item of readJsonItems(path, small)) {
          values.push(item.value);
          yield item;
        }
      })(),
    );
    return { values, error };
  }

  it('is 64 MiB by default', () => {
    expect(DEFAULT_MAX_RECORD_BYTES).toBe(64 * 1024 * 1024);
  });

  it('refuses a JSON Lines line over the limit, naming the line and the limit, after the lines before it', async () => {
    const big = JSON.stringify({ text: 'x'.repeat(5000) });
    const path = file(`{"a":1}\n${big}\n{"a":3}\n`, 'jsonl');
    const { values, error } = await readUntilFailure(path);
    expect(values).toEqual([{ a: 1 }]);
    expect([error.line, error.column, error.index]).toEqual([2, undefined, undefined]);
    expect(error.message).toBe(`${path}: line 2: ${over}`);
  });

  it('refuses an item of a JSON array over the limit, naming its line and index', async () => {
    const big = JSON.stringify({ text: 'x'.repeat(5000) });
    const path = file(`[\n  {"a": 1},\n  ${big},\n  {"a": 3}\n]\n`);
    const { values, error } = await readUntilFailure(path);
    expect(values).toEqual([{ a: 1 }]);
    expect([error.line, error.index]).toEqual([3, 1]);
    expect(error.message).toBe(`${path}: line 3 (index 1): ${over}`);
  });

  it('refuses an array item over the limit that spans many chunks of the stream', async () => {
    const path = file(`[1, ${JSON.stringify('x'.repeat(300_000))}]`);
    const { values, error } = await readUntilFailure(path);
    expect(values).toEqual([1]);
    expect(error.message).toBe(`${path}: line 1 (index 1): ${over}`);
  });

  it('counts bytes, not characters: 1024 bytes pass, 1025 do not', async () => {
    // "é" is two bytes in UTF-8: 2 quotes + 511 × 2 = 1024 bytes in 513 characters.
    const fits = JSON.stringify('é'.repeat(511));
    const tooBig = JSON.stringify(`${'é'.repeat(511)}x`);
    for (const [content, ext] of [
      [`${fits}\r\n${tooBig}\n`, 'jsonl'],
      [`[${fits},\n${tooBig}]`, 'json'],
    ] as const) {
      const { values, error } = await readUntilFailure(file(content, ext));
      expect(values, ext).toEqual(['é'.repeat(511)]);
      expect(error.line, ext).toBe(2);
      expect(error.message, ext).toContain(over);
    }
  });

  it('splits lines at \\n, \\r\\n and \\r, even when a \\r\\n straddles two chunks', async () => {
    // The first line's 65,535 bytes put its \r last in the first 64 KiB chunk, its \n first
    // in the next.
    const long = 'x'.repeat(65_533);
    const path = file(`${JSON.stringify(long)}\r\n{"a":2}\r{"a":3}\n\n{"a":4}`, 'jsonl');
    const items = await collect(readJsonItems(path));
    expect(items.map((i) => [i.value, i.line, i.index])).toEqual([
      [long, 1, 0],
      [{ a: 2 }, 2, 1],
      [{ a: 3 }, 3, 2],
      [{ a: 4 }, 5, 3],
    ]);
  });

  it('gives back any JSON Lines, whatever the line endings and however long the lines', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(
          fc.tuple(
            fc.oneof(fc.jsonValue(), fc.string({ minLength: 20_000, maxLength: 70_000 })),
            fc.constantFrom('\n', '\r\n', '\r', '\n\n', '\r\n \r\n'),
          ),
          { maxLength: 6 },
        ),
        async (entries) => {
          // A first line that is an object: a file that starts with [ is read as a JSON array.
          const lines = [[{ first: true }, '\n'] as const, ...entries];
          const text = lines.map(([value, end]) => JSON.stringify(value) + end).join('');
          const items = await collect(readJsonItems(file(text, 'jsonl')));
          expect(items.map((i) => i.value)).toEqual(
            lines.map(([value]) => JSON.parse(JSON.stringify(value))),
          );
          expect(items.map((i) => i.index)).toEqual(lines.map((_, i) => i));
        },
      ),
      { numRuns: 40 },
    );
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

  it.each([
    ['config', 'jsonl'],
    ['metadata', 'jsonl'],
    ['config', 'json'],
    ['metadata', 'json'],
  ])('refuses a "__proto__" key in %s (%s), naming the line and the field', async (field, ext) => {
    const lines = [
      '{"taskType":"OK","data":1}',
      `{"taskType":"OK","data":1,"${field}":{"a":1,"__proto__":{"maxRetries":0}}}`,
    ];
    const text = ext === 'json' ? `[\n${lines.join(',\n')}\n]` : lines.join('\n');
    const path = file(text, ext);
    const error = await failure(readTaskLines(path));
    expect([error.line, error.index]).toEqual([ext === 'json' ? 3 : 2, 1]);
    expect(error.message).toBe(
      `${path}: line ${error.line} (index 1): task field "${field}.__proto__": a "__proto__" key is refused: it would be dropped, or become the object's prototype (received an object)`,
    );
  });

  it('keeps a "__proto__" key deeper inside metadata as it is', async () => {
    const path = file('{"taskType":"OK","data":1,"metadata":{"a":{"__proto__":1}}}\n', 'jsonl');
    const [item] = await collect(readTaskLines(path));
    expect(item === undefined ? undefined : JSON.stringify(lineTask(item).metadata)).toBe(
      '{"a":{"__proto__":1},"line":1,"index":0}',
    );
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
