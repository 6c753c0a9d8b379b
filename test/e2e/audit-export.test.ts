import { parse } from 'csv-parse/sync';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { redisKeys } from '../../src/lib/redis-keys.js';
import { REVIEW_EXPORT_COLUMNS } from '../../src/reviews/review-export.js';
import { createReviewStore } from '../../src/reviews/review-store.js';
import { runRolecall } from '../support/cli.js';
import { TEST_REDIS_URL, uniquePrefix } from '../support/redis.js';

const audit = (env: Record<string, string>, ...args: string[]) => runRolecall(['audit', ...args], env);

describe('rolecall audit --review', () => {
  const prefix = uniquePrefix('audit-export');
  const env = { REDIS_URL: TEST_REDIS_URL, QUEUE_PREFIX: prefix };
  let redis: Redis;
  let id: string;
  const at = Date.UTC(2026, 10, 2, 9, 30);

  beforeAll(async () => {
    redis = new Redis(TEST_REDIS_URL);
    const store = createReviewStore(redis, redisKeys(prefix));
    const review = await store.create({
      target: { kind: 'project', id: '5f1a2b3c4d5e6f7a8b9c0d1e', name: 'payments, prod' },
      startedBy: 'U0CAROL',
      createdAt: at,
      policy: '0123456789ab',
      counts: { people: 3, temporary: 1, standing: 3 },
      lines: [
        {
          n: 1,
          atlasUserId: 'a'.repeat(24),
          username: 'alice@example.com',
          role: 'GROUP_READ_ONLY',
          outsidePolicy: false,
        },
        {
          n: 2,
          atlasUserId: 'b'.repeat(24),
          username: '=cmd@example.com',
          role: 'GROUP_OWNER',
          outsidePolicy: true,
        },
        {
          n: 3,
          atlasUserId: 'c'.repeat(24),
          username: 'dana@example.com',
          role: 'GROUP_READ_ONLY',
          outsidePolicy: false,
        },
      ],
    });
    id = review.id;
    await store.decide(id, 1, { decision: 'keep', by: 'U0BOB', at: at + 60_000, policy: '0123456789ab' });
    await store.decide(id, 3, {
      decision: 'revoke',
      by: 'U0CAROL',
      at: at + 120_000,
      policy: 'ba9876543210',
    });
    await store.recordOutcome(id, 3, {
      outcome: 'left',
      detail: 'removed from the project, "GROUP_READ_ONLY" was their last role\nthere',
    });
  });
  afterAll(async () => {
    const keys = await redis.keys(`${prefix}:*`);
    if (keys.length > 0) await redis.del(...keys);
    await redis.quit();
  });

  it('prints one CSV row per line with the decision, quoting commas, quotes and newlines once', async () => {
    const { code, stdout, stderr } = await audit(env, '--review', id, '--format', 'csv');
    expect(stderr).toBe('');
    expect(code).toBe(0);
    const rows = parse(stdout, { columns: true }) as Record<string, string>[];
    expect(Object.keys(rows[0] ?? {})).toEqual([...REVIEW_EXPORT_COLUMNS]);
    expect(
      rows.map((r) => [r.line, r.username, r.role, r.outside_policy, r.decision, r.decided_by, r.outcome]),
    ).toEqual([
      ['1', 'alice@example.com', 'GROUP_READ_ONLY', 'no', 'keep', 'U0BOB', 'kept'],
      // A cell a spreadsheet would run as a formula is written with a leading quote.
      ['2', "'=cmd@example.com", 'GROUP_OWNER', 'yes', '', '', ''],
      ['3', 'dana@example.com', 'GROUP_READ_ONLY', 'no', 'revoke', 'U0CAROL', 'left'],
    ]);
    expect(rows[0]).toMatchObject({
      review: id,
      target: 'payments, prod',
      target_kind: 'project',
      opened_at: '2026-11-02T09:30:00.000Z',
      opened_by: 'U0CAROL',
      closed_at: '',
      decided_at: '2026-11-02T09:31:00.000Z',
      decided_under_policy: '0123456789ab',
    });
    expect(rows[2]?.decided_under_policy).toBe('ba9876543210');
    expect(rows[2]?.detail).toBe('removed from the project, "GROUP_READ_ONLY" was their last role\nthere');
  });

  it('prints the review and its rows as JSON with --format json', async () => {
    await createReviewStore(redis, redisKeys(prefix)).close(id, at + 3_600_000);
    const { code, stdout } = await audit(env, '--review', id, '--format', 'json');
    expect(code).toBe(0);
    const doc = JSON.parse(stdout) as { review: Record<string, unknown>; rows: Record<string, string>[] };
    expect(doc.review).toMatchObject({ id, startedBy: 'U0CAROL', closedAt: at + 3_600_000 });
    expect(doc.review).not.toHaveProperty('messages');
    expect(doc.rows.map((r) => [r.username, r.closed_at])).toEqual([
      ['alice@example.com', '2026-11-02T10:30:00.000Z'],
      ['=cmd@example.com', '2026-11-02T10:30:00.000Z'],
      ['dana@example.com', '2026-11-02T10:30:00.000Z'],
    ]);
  });

  it('says so on stderr and exits 1 when the review does not exist', async () => {
    const { code, stdout, stderr } = await audit(env, '--review', 'RV-9999');
    expect(code).toBe(1);
    expect(stdout).toBe('');
    expect(stderr).toContain(`There is no review RV-9999 under QUEUE_PREFIX ${prefix}`);
  });

  it('exits 2 with the usage for a missing or malformed review id or format', async () => {
    for (const args of [[], ['--review', 'RV-1;DROP'], ['--review', id, '--format', 'xml'], ['--bogus']]) {
      const { code, stderr } = await audit(env, ...args);
      expect(code).toBe(2);
      expect(stderr).toContain('usage: rolecall audit --review ID');
    }
  });

  it('exits 1 naming Redis, without a stack trace, when Redis cannot be reached', async () => {
    const { code, stdout, stderr } = await audit(
      { ...env, REDIS_URL: 'redis://127.0.0.1:1' },
      '--review',
      id,
    );
    expect(code).toBe(1);
    expect(stdout).toBe('');
    expect(stderr).toContain('STORAGE_UNAVAILABLE: Cannot reach Redis at redis://127.0.0.1:1');
    expect(stderr).not.toMatch(/\n\s+at /);
  });
});
