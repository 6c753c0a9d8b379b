import type { RedisClient } from '../src/lib/redis-client.js';
import { createRequestReader, type RequestReader } from '../src/requests/request-reader.js';
import {
  createRequestWriter,
  type RequestWriter,
  type RequestWriterOptions,
} from '../src/requests/request-writer.js';

/**
 * Request persistence in Redis with both halves, for tests and benchmarks that seed and inspect
 * requests directly. In src/ only requests/lifecycle.ts holds the writer; everyone else reads.
 */
export type RequestStore = RequestReader & RequestWriter;

/** Options for {@link createRequestStore}: the writer's, whose prefix the reader shares. */
export type RequestStoreOptions = RequestWriterOptions;

/** Creates the Redis-backed request store: a reader and a writer over one connection and prefix. */
export function createRequestStore(redis: RedisClient, options: RequestStoreOptions): RequestStore {
  return { ...createRequestReader(redis, options), ...createRequestWriter(redis, options) };
}
