import { Redis } from 'ioredis';
import { AppError } from '../errors.js';

/** Which kind of connection: commands fail fast; workers block and wait forever, as BullMQ needs. */
export type RedisRole = 'commands' | 'worker';

/** Opens a Redis connection and waits until it answers; a start-up failure is an AppError. */
export async function connectRedis(url: string, role: RedisRole): Promise<Redis> {
  const redis = new Redis(url, {
    lazyConnect: true,
    maxRetriesPerRequest: role === 'worker' ? null : 3,
    enableReadyCheck: true,
    retryStrategy: (times) => Math.min(times * 200, 2_000),
  });
  try {
    await redis.connect();
    await redis.ping();
  } catch (cause) {
    redis.disconnect();
    throw new AppError(
      'STORAGE_UNAVAILABLE',
      `Cannot reach Redis at ${redactUrl(url)}: ${(cause as Error).message}`,
      {
        cause,
      },
    );
  }
  return redis;
}

/** A Redis URL without its password, for messages. */
export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    return 'the configured REDIS_URL';
  }
}
