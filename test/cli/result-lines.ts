/** The results file the CLI writes, read back and checked line by line (for the e2e tests). */
import { readFileSync } from 'node:fs';
import { z } from 'zod';

export const ResultLineSchema = z.strictObject({
  index: z.int().nonnegative(),
  line: z.int().positive(),
  taskId: z.string().nullable(),
  taskType: z.string(),
  status: z.enum(['completed', 'failed', 'cancelled']),
  result: z.unknown().optional(),
  error: z.strictObject({ code: z.string(), message: z.string() }).optional(),
  cost: z.number().nonnegative().optional(),
  tokens: z.int().nonnegative().optional(),
  metadata: z.record(z.string(), z.unknown()),
});

export type ResultLine = z.output<typeof ResultLineSchema>;

/** Every line of a results file, parsed and checked. */
export function resultLines(path: string): ResultLine[] {
  return readFileSync(path, 'utf8')
    .trimEnd()
    .split('\n')
    .map((line) => ResultLineSchema.parse(JSON.parse(line)));
}
