/**
 * What the CLI opens of `ai-task-queue/redis` (shared limits, a shared queue), for the flag that
 * asks for it. The module is loaded only then (ioredis and BullMQ are optional peer dependencies).
 */

import { CliUsageError } from './errors.js';

type RedisModule = typeof import('../redis/index.js');

const detail = (error: unknown) => (error instanceof Error ? error.message : String(error));

/**
 * Loads the Redis entry and opens what `open` makes of it.
 * @throws CliUsageError naming `flag`: `packages` are not installed, or the server cannot be used
 */
export async function openForFlag<T>(
  flag: string,
  packages: string,
  open: (redis: RedisModule) => Promise<T>,
): Promise<T> {
  let redis: RedisModule;
  try {
    redis = await import('../redis/index.js');
  } catch (error) {
    throw new CliUsageError(
      `${flag} needs the ${packages} package${packages.includes(' ') ? 's' : ''}: npm install ${packages} (${detail(error)})`,
    );
  }
  try {
    return await open(redis);
  } catch (error) {
    throw new CliUsageError(`${flag}: ${detail(error)}`);
  }
}
