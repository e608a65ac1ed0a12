/**
 * What the Redis store sends and reads back: its scripts as ioredis commands, the arguments of a
 * commit, the JSON of records and ledger entries, and the order of members across indexes.
 */

import type { Redis } from 'ioredis';
import { ValidationError } from '../errors.js';
import { toJson } from '../stores/query.js';
import type { LedgerEntry, StoreWrite, TaskRecord } from '../stores/types.js';
import { recordArgs } from './keys.js';
import {
  COMMIT_SCRIPT,
  COMPACT_SCRIPT,
  PAGE_SCRIPT,
  RELEASE_SCRIPT,
  REMOVE_FINISHED_SCRIPT,
  RENEW_SCRIPT,
} from './scripts.js';

/** The scripts, as ioredis defines them on the connection (EVALSHA, reloaded after a restart). */
export interface ScriptCommands {
  aitqCommit(...args: string[]): Promise<[string, ...string[]] | [string, number]>;
  aitqPage(...args: string[]): Promise<string[]>;
  aitqRemoveFinished(...args: string[]): Promise<number>;
  aitqCompact(...args: string[]): Promise<number>;
  aitqRenew(...args: string[]): Promise<number>;
  aitqRelease(...args: string[]): Promise<number>;
}

export const SCRIPTS: Record<keyof ScriptCommands, string> = {
  aitqCommit: COMMIT_SCRIPT,
  aitqPage: PAGE_SCRIPT,
  aitqRemoveFinished: REMOVE_FINISHED_SCRIPT,
  aitqCompact: COMPACT_SCRIPT,
  aitqRenew: RENEW_SCRIPT,
  aitqRelease: RELEASE_SCRIPT,
};

/** A page of members and bodies from one index, in its order. */
export interface IndexedBody {
  member: string;
  body: string;
}

/** A record's JSON; a `ValidationError` naming it when it has none. */
export function bodyOf(record: TaskRecord): string {
  const body = toJson(record, `task '${record.id}'`);
  if (body === undefined) throw new ValidationError(`invalid task '${record.id}': no JSON form`);
  return body;
}

/** A ledger entry's JSON as stored (its `seq` is put before it by the server). */
export function ledgerJson(entry: LedgerEntry, what: string): string {
  toJson(entry.event, what);
  const stored =
    entry.taskId === undefined
      ? { at: entry.at, event: entry.event }
      : { at: entry.at, taskId: entry.taskId, event: entry.event };
  return JSON.stringify(stored);
}

/** `a` and `b` in Redis's member order (bytes of their UTF-8, which is code point order). */
export function compareBytes(a: string, b: string): number {
  if (a === b) return 0;
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

/** The replies of a pipeline, or its first error. */
export async function execPipeline(pipeline: ReturnType<Redis['pipeline']>): Promise<unknown[]> {
  const results = (await pipeline.exec()) ?? [];
  return results.map(([error, value]) => {
    if (error) throw error;
    return value;
  });
}

/** The arguments of `COMMIT_SCRIPT` for `write` (checked), with the write's id. */
export function commitArgs(
  prefix: string,
  token: string,
  writeId: string,
  write: StoreWrite,
): string[] {
  const insert = write.insert ?? [];
  const update = write.update ?? [];
  const remove = write.remove ?? [];
  const ledger = write.ledger ?? [];
  const args: string[] = [
    prefix,
    token,
    writeId,
    String(insert.length),
    String(update.length),
    String(remove.length),
    String(ledger.length),
  ];
  for (const record of [...insert, ...update]) args.push(...recordArgs(record, bodyOf(record)));
  args.push(...remove);
  ledger.forEach((entry, index) => {
    args.push(ledgerJson(entry, `ledger[${index}].event`));
  });
  return args;
}
