import { parse } from 'csv-parse/sync';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { waitUntil } from '../../dev/http-util.js';
import { PEOPLE, type Sandbox, startSandbox } from '../../dev/sandbox.js';
import { redisKeys } from '../../src/lib/redis-keys.js';
import { REVIEW_EXPORT_COLUMNS } from '../../src/reviews/review-export.js';
import { createReviewStore } from '../../src/reviews/review-store.js';
import { runRolecall } from '../support/cli.js';
import { requestAs, waitForState } from '../support/grant-flow.js';
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
    await createReviewStore(redis, redisKeys(prefix)).close(id, at + 3_600_000, 'test');
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
    for (const args of [
      [],
      ['--review', 'RV-1;DROP'],
      ['--review', id, '--format', 'xml'],
      ['--bogus'],
      ['--review', id, '--review', 'RV-0002'],
    ]) {
      const { code, stderr } = await audit(env, ...args);
      expect(code).toBe(2);
      expect(stderr).toContain('rolecall audit --review ID [--format csv|json]');
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

describe('rolecall audit --since (the audit trail of a real run)', () => {
  let sandbox: Sandbox;
  let redis: Redis;
  afterEach(async () => {
    await redis.quit();
    await sandbox.stop();
  });

  it('exports a request’s transitions as JSON lines and CSV, and trims entries past AUDIT_RETENTION', async () => {
    const prefix = uniquePrefix('audit-trail');
    const env = { REDIS_URL: TEST_REDIS_URL, QUEUE_PREFIX: prefix };
    redis = new Redis(TEST_REDIS_URL);
    const audit = redisKeys(prefix).audit;
    const now = Date.now();
    // Written before the app starts: one entry past the one-hour retention, one within it.
    await redis.xadd(
      audit,
      `${now - 2 * 3_600_000}-0`,
      'request',
      'AR-0900',
      'to',
      'applied',
      'actor',
      'old',
    );
    await redis.xadd(audit, `${now - 1_800_000}-0`, 'request', 'AR-0901', 'to', 'applied', 'actor', 'recent');
    sandbox = await startSandbox({
      redisUrl: TEST_REDIS_URL,
      prefix,
      env: { RECONCILE_INTERVAL: '1s', AUDIT_RETENTION: '1h' },
    });
    const { id, approval } = await requestAs(
      sandbox,
      PEOPLE.alice,
      'request GROUP_DATA_ACCESS_READ_ONLY on payments-prod for 1h because audit export',
    );
    await sandbox.driver.clickButton(PEOPLE.bob, approval, 'request_approve');
    await waitForState(sandbox, id, 'applied');

    // Timeline: the two-hour-old entry goes at the next reconciliation; the rest stays.
    await waitUntil(
      async () => ((await redis.xrange(audit, '-', `${now - 3_600_000}`)).length === 0 ? true : undefined),
      10_000,
      'the old entry to be trimmed',
    );
    const actors = (await redis.xrange(audit, '-', '+')).map(([, f]) => f[f.indexOf('actor') + 1]);
    expect(actors).not.toContain('old');
    expect(actors).toContain('recent');

    const today = new Date(now - 86_400_000).toISOString().slice(0, 10);
    const jsonl = await runRolecall(['audit', '--since', today], env);
    expect(jsonl.code).toBe(0);
    const entries = jsonl.stdout
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as Record<string, string>);
    expect(entries[0]).toMatchObject({ request: 'AR-0901', actor: 'recent', kind: 'request' });
    const mine = entries.filter((e) => e.request === id);
    expect(mine.map((e) => e.to)).toEqual(expect.arrayContaining(['pending', 'approved', 'applied']));
    expect(mine.find((e) => e.to === 'approved')?.actor).toBe(PEOPLE.bob.id);
    expect(entries.every((e) => /^\d{4}-\d{2}-\d{2}T/.test(e.time ?? ''))).toBe(true);

    const forRequest = await runRolecall(
      ['audit', '--since', today, '--request', id, '--format', 'csv'],
      env,
    );
    expect(forRequest.code).toBe(0);
    const rows = parse(forRequest.stdout, { columns: true }) as Record<string, string>[];
    expect(rows.map((r) => r.request)).toEqual(rows.map(() => id));
    expect(rows.map((r) => r.to)).toEqual(mine.map((e) => e.to));
    expect(rows.map((r) => [r.actor, r.detail])).toEqual(mine.map((e) => [e.actor, e.detail]));

    // A window before anything happened: a header and nothing else.
    const empty = await runRolecall(
      ['audit', '--since', '2020-01-01', '--until', '2020-01-02', '--format', 'csv'],
      env,
    );
    expect(empty.code).toBe(0);
    expect(empty.stdout.trim()).toBe(
      'id,time,kind,request,review,offboarding,line,from,to,action,actor,code,detail,policy,ticket,ticket_url',
    );
    const bad = await runRolecall(['audit', '--since', 'yesterday'], env);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--since must be an ISO 8601 date');
  });
});

describe('rolecall audit dates', () => {
  const prefix = uniquePrefix('audit-dates');
  const env = { REDIS_URL: TEST_REDIS_URL, QUEUE_PREFIX: prefix };
  const run = (extra: Record<string, string>, ...args: string[]) =>
    runRolecall(['audit', ...args], { ...env, ...extra });
  const MARCH_1 = Date.UTC(2026, 2, 1, 12, 0);
  const NOV_1_10H = Date.UTC(2026, 10, 1, 10, 0);
  let redis: Redis;
  beforeAll(async () => {
    redis = new Redis(TEST_REDIS_URL);
    for (const at of [MARCH_1, NOV_1_10H]) {
      await redis.xadd(
        `${prefix}:audit`,
        `${at}-0`,
        'request',
        'AR-0001',
        'at',
        String(at),
        'to',
        'approved',
      );
    }
  });
  afterAll(async () => {
    await redis.del(`${prefix}:audit`);
    await redis.quit();
  });

  it('refuses a day that does not exist (2026-02-30) instead of rolling it over to 2 March', async () => {
    const result = await run({}, '--since', '2026-02-30', '--until', '2026-03-31');
    expect(result.code).toBe(2);
    expect(result.stdout).toBe('');
    expect(result.stderr).toContain('--since 2026-02-30 is not a day of the calendar');
  });

  it('reads a date-time without an offset as UTC whatever the machine’s time zone, and honours an offset', async () => {
    const utc = await run(
      { TZ: 'America/New_York' },
      '--since',
      '2026-11-01T09:30',
      '--until',
      '2026-11-01T10:30',
    );
    expect(utc.code).toBe(0);
    expect(utc.stdout).toContain('"time":"2026-11-01T10:00:00.000Z"');
    const offset = await run({}, '--since', '2026-11-01T10:30+01:00', '--until', '2026-11-01T11:30+01:00');
    expect(offset.stdout.trim().split('\n')).toHaveLength(1);
    expect(offset.stdout).toContain('"time":"2026-11-01T10:00:00.000Z"');
    const before = await run({}, '--since', '2026-11-01T10:00:01Z');
    expect(before.stdout).toBe('');
  });
});
