import type { WebClient } from '@slack/web-api';
import type { Job, Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { deleteKeys, SANDBOX_POLICY } from '../../dev/sandbox.js';
import type { AtlasRolesApi } from '../../src/atlas/roles-api.js';
import { EMPTY_LEDGER } from '../../src/grants/ledger.js';
import type { LedgerStore } from '../../src/grants/ledger-store.js';
import type { ReviewJob } from '../../src/jobs/queues.js';
import { createReviewProcessor } from '../../src/jobs/review-processor.js';
import type { UserLock } from '../../src/jobs/user-lock.js';
import { redisKeys } from '../../src/lib/redis-keys.js';
import type { Logger } from '../../src/ops/logger.js';
import { parsePolicy } from '../../src/policy/read-policy.js';
import { createReviewStore } from '../../src/reviews/review-store.js';
import { createSlackReviewNotifier } from '../../src/slack/review-notifier.js';
import { TEST_REDIS_URL, uniquePrefix } from '../support/redis.js';

/**
 * Review16: a review whose second chunk fails to post once (a Slack hiccup) is posted again from the
 * start on the job's retry, so the first chunk appears twice, both with live Keep/Revoke buttons.
 */
describe('review processor: posting a review in chunks', () => {
  const redis = new Redis(TEST_REDIS_URL);
  const prefix = uniquePrefix('res-partial-post');
  afterAll(async () => {
    await deleteKeys(TEST_REDIS_URL, prefix);
    await redis.quit();
  });

  it('posts each chunk once even when Slack fails one chunk and the job is retried', async () => {
    const posted: { thread_ts?: string; text: string }[] = [];
    let calls = 0;
    const client = {
      chat: {
        postMessage: async (args: { thread_ts?: string; text: string }) => {
          calls += 1;
          if (calls === 2)
            throw Object.assign(new Error('An API error occurred: internal_error'), {
              code: 'slack_webapi_platform_error',
              data: { ok: false, error: 'internal_error' },
            });
          posted.push(args);
          return { ok: true, channel: 'C0APPROVALS', ts: `1700000000.${String(calls).padStart(6, '0')}` };
        },
        update: async () => ({ ok: true }),
      },
    } as unknown as WebClient;
    const policy = parsePolicy(SANDBOX_POLICY);
    const members = Array.from({ length: 45 }, (_, i) => ({
      userId: `64b0000000000000000${String(i).padStart(5, '0')}`,
      username: `m${String(i).padStart(3, '0')}@example.com`,
      roles: ['GROUP_READ_ONLY'],
    }));
    const atlas = { members: { listMembers: async () => members } } as unknown as AtlasRolesApi;
    const ledgers = { read: async () => EMPTY_LEDGER } as unknown as LedgerStore;
    const lock = { run: async (_key: string, fn: () => Promise<unknown>) => fn() } as unknown as UserLock;
    const reviewJobs = { add: async () => undefined } as unknown as Queue<ReviewJob>;
    const logger = { warn() {}, info() {}, error() {}, debug() {} } as unknown as Logger;
    const process = createReviewProcessor({
      reviews: createReviewStore(redis, redisKeys(prefix)),
      ledgers,
      atlas,
      lock,
      notifier: createSlackReviewNotifier(client, { channelOf: () => 'C0APPROVALS' }),
      policy: () => policy,
      reviewJobs,
      logger,
      reviewTtlMs: 3_600_000,
    });
    const target = policy.targets.find((t) => t.kind === 'project');
    if (!target) throw new Error('no project');
    let data: ReviewJob = {
      kind: 'start',
      target: { name: target.name, kind: target.kind, id: target.id },
      startedBy: 'U0CAROL',
    };
    const job = {
      get data() {
        return data;
      },
      attemptsMade: 0,
      opts: { attempts: 8 },
      updateData: async (next: ReviewJob) => {
        data = next;
      },
    } as unknown as Job<ReviewJob>;
    await expect(process(job)).rejects.toThrow();
    await process(job); // BullMQ's retry
    // 45 lines: 3 chunks. Each should be in Slack once.
    const firstChunks = posted.filter((p) => p.thread_ts === undefined);
    expect({ messages: posted.length, channelMessages: firstChunks.length }).toEqual({
      messages: 3,
      channelMessages: 1,
    });
  });
});
