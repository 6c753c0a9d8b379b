import { randomBytes } from 'node:crypto';

/** The Redis the tests use: REDIS_URL when set (CI starts one), else the local default. */
export const TEST_REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

/** A prefix no other test uses, so tests can share one Redis. */
export function uniquePrefix(label: string): string {
  return `rolecall-test-${label}-${randomBytes(4).toString('hex')}`;
}
