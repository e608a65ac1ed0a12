/**
 * Resume keys: what names one input record's task from one run to the next, so that a run after
 * a crash finds the task it submitted before (`submitTask`'s `idempotencyKey`).
 *
 * - By default, a hash of what defines the call: `sha256:<hex>#<n>`, where `<hex>` is the
 *   SHA-256 of the task type, the data, the chat model, the embedding model and `max_tokens`
 *   (keys of objects sorted, so `{"a":1,"b":2}` and `{"b":2,"a":1}` are the same), and `<n>` is
 *   the record's occurrence among identical ones (1 for the first): identical records are
 *   distinct tasks. Priority and metadata do not count: they change no call.
 * - With `--key <field>`, the value of that field of the record (a dotted path:
 *   `metadata.id`), which must be a non-empty string or a number, unique in the file:
 *   `field:<path>=<JSON value>`.
 * - With an own task type (`--prompt`, `--schema`, `--task-type`), its identity (a hash of the
 *   template and the schema, or of the module's source) counts in either key: a changed prompt
 *   is a new task, never the result of the old one. Keys of the built-in types are unchanged.
 */

import { createHash } from 'node:crypto';
import { describeValue } from '../config/index.js';
import type { ResolvedManagerOptions } from '../index.js';
import { CliInputError } from './errors.js';
import type { InputItem } from './input.js';
import type { CliTask } from './records.js';

/** The longest idempotency key the queue takes (characters). */
const MAX_KEY_LENGTH = 512;

/** `value` as JSON with the keys of every object sorted. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, node: unknown) => {
    if (node === null || typeof node !== 'object' || Array.isArray(node)) return node;
    const record = node as Record<string, unknown>;
    const sorted: Record<string, unknown> = {};
    for (const key of Object.keys(record).sort()) {
      Object.defineProperty(sorted, key, {
        value: record[key],
        enumerable: true,
        configurable: true,
        writable: true,
      });
    }
    return sorted;
  });
}

export function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

/**
 * What defines a task's call, as the queue will make it with `settings`; `identity` is an own
 * task type's (left out for the built-in types, whose keys stay as they were).
 */
function callOf(
  task: CliTask,
  settings: ResolvedManagerOptions,
  identity: string | undefined,
): unknown {
  const config = task.config ?? {};
  const defaults = settings.taskDefaults;
  return {
    ...(identity === undefined ? {} : { definition: identity }),
    taskType: task.taskType,
    data: task.data,
    model: config.model ?? defaults.model ?? settings.model,
    embeddingModel: settings.embeddingModel,
    maxTokens: config.maxTokens ?? defaults.maxTokens ?? settings.maxTokens,
  };
}

/**
 * The keys of one pass over an input file, in order: make one per pass (a key depends on the
 * records before it).
 */
export class TaskKeys {
  /** Content keys: how many times each hash was seen. Field keys: the line of each value. */
  private readonly seen = new Map<string, number>();

  constructor(
    private readonly file: string,
    private readonly settings: ResolvedManagerOptions,
    private readonly field: readonly string[] | undefined,
    /** An own task type's identity (a hash of its template and schema, or of its module). */
    private readonly identity?: string,
  ) {}

  /**
   * The key of the next record.
   * @throws CliInputError `--key`'s field is missing, not a string or a number, or repeats a value
   */
  next(item: InputItem, task: CliTask): string {
    if (this.field === undefined) {
      const hash = sha256(canonicalJson(callOf(task, this.settings, this.identity)));
      const occurrence = (this.seen.get(hash) ?? 0) + 1;
      this.seen.set(hash, occurrence);
      return `sha256:${hash}#${occurrence}`;
    }
    const path = this.field.join('.');
    const fail = (problem: string) =>
      new CliInputError(this.file, `--key ${path}: ${problem}`, {
        line: item.line,
        index: item.index,
      });
    const value = fieldAt(item.value, this.field);
    if (value === undefined) throw fail(`the record has no field "${path}"`);
    if (!((typeof value === 'string' && value !== '') || Number.isFinite(value))) {
      throw fail(`expected a non-empty string or a number (received ${describeValue(value)})`);
    }
    const json = JSON.stringify(value);
    const first = this.seen.get(json);
    if (first !== undefined) {
      throw fail(`the value ${json} is also the key of line ${first}: keys must be unique`);
    }
    this.seen.set(json, item.line);
    const of = this.identity === undefined ? '' : `@${this.identity.slice(0, 16)}`;
    const key = `field:${path}=${json}${of}`;
    return key.length <= MAX_KEY_LENGTH ? key : `field:${path}#sha256:${sha256(json)}${of}`;
  }
}

/** The value at `path` of `record`, own properties only (`undefined`: no such field). */
export function fieldAt(record: unknown, path: readonly string[]): unknown {
  let node = record;
  for (const key of path) {
    if (node === null || typeof node !== 'object' || !Object.hasOwn(node, key)) return undefined;
    node = (node as Record<string, unknown>)[key];
  }
  return node;
}
