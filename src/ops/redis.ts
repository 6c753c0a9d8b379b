import { Redis } from 'ioredis';
import { AppError } from '../errors.js';
import type { Logger } from './logger.js';

/** Which kind of connection: commands fail fast; workers block and wait forever, as BullMQ needs. */
export type RedisRole = 'commands' | 'worker';

/** Opens a Redis connection and waits until it answers; a start-up failure is an AppError. */
export async function connectRedis(url: string, role: RedisRole, logger: Logger): Promise<Redis> {
  const redis = new Redis(url, {
    lazyConnect: true,
    maxRetriesPerRequest: role === 'worker' ? null : 3,
    enableReadyCheck: true,
    // Commands issued in the same tick share one write: fewer syscalls when many Slack payloads
    // arrive at once. The blocking worker connection keeps one command per write, as BullMQ expects.
    enableAutoPipelining: role === 'commands',
    retryStrategy: (times) => Math.min(times * 200, 2_000),
  });
  let lastError: Error | undefined;
  let started = false;
  redis.on('error', (error: Error) => {
    lastError = error;
    if (started) logger.warn('redis connection error; retrying', { role, error: error.message });
  });
  try {
    await redis.connect();
    await redis.ping();
  } catch (cause) {
    redis.disconnect();
    const why = lastError?.message ?? (cause as Error).message;
    throw new AppError('STORAGE_UNAVAILABLE', `Cannot reach Redis at ${redactUrl(url)}: ${why}`, { cause });
  }
  started = true;
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
