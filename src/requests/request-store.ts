import type { RedisClient } from '../lib/redis-client.js';
import { createRequestReader, type RequestReader } from './request-reader.js';
import { createRequestWriter, type RequestWriter, type RequestWriterOptions } from './request-writer.js';

/** Request persistence in Redis: the reader (for everyone) and the writer (for the lifecycle) together. */
export type RequestStore = RequestReader & RequestWriter;

/** Options for {@link createRequestStore}: the writer's, whose prefix the reader shares. */
export type RequestStoreOptions = RequestWriterOptions;

/** Creates the Redis-backed request store: a reader and a writer over one connection and prefix. */
export function createRequestStore(redis: RedisClient, options: RequestStoreOptions): RequestStore {
  return { ...createRequestReader(redis, options), ...createRequestWriter(redis, options) };
}
