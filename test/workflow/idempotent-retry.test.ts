import { WebClient } from '@slack/web-api';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AtlasSimulator } from '../../dev/atlas-simulator.js';
import { waitUntil } from '../../dev/http-util.js';
import { createRequestStore, type RequestStore } from '../../dev/request-store.js';
import { deleteKeys } from '../../dev/sandbox.js';
import { type SlackSimulator, startSlackSimulator } from '../../dev/slack-simulator.js';
import { createAtlasClient } from '../../src/atlas/create-atlas-client.js';
import { createLedgerStore } from '../../src/grants/ledger-store.js';
import { createApplyProcessor } from '../../src/jobs/apply-processor.js';
import { createExpireProcessor } from '../../src/jobs/expire-processor.js';
import { createNotifyProcessor } from '../../src/jobs/notify-processor.js';
import { createQueues, type Queues } from '../../src/jobs/queues.js';
import { createRemindProcessor } from '../../src/jobs/remind-processor.js';
import { createRevokeProcessor } from '../../src/jobs/revoke-processor.js';
import { createUserLock } from '../../src/jobs/user-lock.js';
import { createWorkQueue } from '../../src/jobs/work-queue.js';
import { createWorkers, type Workers } from '../../src/jobs/workers.js';
import { redisKeys } from '../../src/lib/redis-keys.js';
import { createLifecycle } from '../../src/requests/lifecycle.js';
import { createSlackNotifier } from '../../src/slack/notifier.js';
import { createReplier } from '../../src/slack/respond.js';
import {
  AUTHS,
  createCapturingLogger,
  FIXTURE,
  fixtureConfig,
  startFixtureSimulator,
} from '../support/atlas-fixture.js';
import { TEST_REDIS_URL, uniquePrefix } from '../support/redis.js';

describe('idempotent execution after a crash', () => {
  const prefix = uniquePrefix('idem');
  let redis: Redis;
  let workerRedis: Redis;
  let atlas: AtlasSimulator;
  let slack: SlackSimulator;
  let store: RequestStore;
  let queues: Queues;
  let workers: Workers;
  let crashes = 0;

  beforeAll(async () => {
    redis = new Redis(TEST_REDIS_URL);
    workerRedis = new Redis(TEST_REDIS_URL, { maxRetriesPerRequest: null });
    atlas = await startFixtureSimulator();
    slack = await startSlackSimulator({
      botToken: 'xoxb-idem',
      users: [{ id: 'U0ALICE', name: 'alice', email: FIXTURE.alice.email }],
      channels: ['C0APPROVALS'],
    });
    store = createRequestStore(redis, { prefix });
    // The process "dies" right after Atlas accepted the change, before the request is marked applied.
    const crashing: RequestStore = {
      ...store,
      async transition(id, input) {
        if (input.to === 'applied' && crashes === 0) {
          crashes += 1;
          throw new Error('the worker process died here');
        }
        return store.transition(id, input);
      },
    };
    queues = createQueues(redis, prefix, { backoffMs: 50 });
    const workQueue = createWorkQueue(queues);
    const { logger } = createCapturingLogger();
    const client = createAtlasClient(fixtureConfig(atlas, 'atlas-v2', AUTHS.digest), { logger });
    const lifecycle = createLifecycle({ writer: crashing, workQueue, requestTtlMs: 3_600_000 });
    const deps = {
      store: crashing,
      lifecycle,
      ledgers: createLedgerStore(redis, redisKeys(prefix)),
      atlas: client.roles,
      lock: createUserLock(redis, { prefix }),
      logger,
    };
    const web = new WebClient('xoxb-idem', {
      slackApiUrl: slack.apiUrl,
      retryConfig: { retries: 0 },
      rejectRateLimitedCalls: true,
    });
    const notifier = createSlackNotifier(web, {
      approvalsChannel: () => 'C0APPROVALS',
      replier: createReplier({ client: web, slackApiUrl: slack.apiUrl, logger }),
    });
    workers = createWorkers({
      connection: workerRedis,
      prefix,
      logger,
      processors: {
        enrich: async () => undefined,
        home: async () => undefined,
        review: async () => undefined,
        offboard: async () => undefined,
        database: async () => undefined,
        approvers: async () => undefined,
        apply: createApplyProcessor(deps),
        revoke: createRevokeProcessor({ ...deps, retryIntervalMs: 60_000, escalateEveryMs: 3_600_000 }),
        expire: createExpireProcessor({ store, lifecycle, logger }),
        notify: createNotifyProcessor({ store, notifier, lifecycle, logger }),
        remind: createRemindProcessor({ store, lifecycle, logger }),
        sweep: async () => undefined,
        reconcile: async () => undefined,
      },
    });
  });

  afterAll(async () => {
    await workers.close();
    await queues.close();
    await Promise.all([atlas.close(), slack.close()]);
    await deleteKeys(TEST_REDIS_URL, prefix);
    await Promise.all([redis.quit(), workerRedis.quit()]);
  });

  it('re-reads Atlas on the retry, changes nothing twice, and posts the outcome once', async () => {
    const request = await store.create(
      {
        requesterId: 'U0ALICE',
        granteeId: 'U0ALICE',
        granteeEmail: FIXTURE.alice.email,
        target: { name: 'payments-prod', kind: 'project', id: FIXTURE.project },
        roles: ['GROUP_DATA_ACCESS_READ_ONLY'],
        durationSeconds: 3600,
        reason: 'crash test',
        sourceChannelId: null,
        replyUrl: null,
        rolesAtRequest: ['GROUP_READ_ONLY'],
        holdersAtRequest: [],
        addsToProject: false,
        extends: null,
      },
      'U0ALICE',
      'pending',
    );
    const posted = await new WebClient('xoxb-idem', { slackApiUrl: slack.apiUrl }).chat.postMessage({
      channel: 'C0APPROVALS',
      text: `Access request ${request.id}`,
    });
    await store.patch(request.id, ['pending'], {
      approvalMessage: { channelId: 'C0APPROVALS', ts: posted.ts ?? '' },
    });
    await store.transition(request.id, {
      from: 'pending',
      to: 'approved',
      actor: 'U0BOB',
      patch: { decision: { by: 'U0BOB', at: 1, note: null } },
    });
    await createWorkQueue(queues).apply(request.id, 1);

    await waitUntil(
      () => slack.messagesIn(slack.dmChannelOf('U0ALICE')).find((m) => m.text.includes('applied')),
      10_000,
      'the applied DM',
    );
    const final = await store.require(request.id);
    expect(crashes).toBe(1);
    expect(final.state).toBe('applied');
    expect(final.plan?.added).toEqual(['GROUP_DATA_ACCESS_READ_ONLY']);
    expect(atlas.authenticatedCalls().filter((c) => c.method === 'PUT')).toHaveLength(1);
    expect(atlas.authenticatedCalls().filter((c) => c.method === 'GET')).toHaveLength(2);
    expect(atlas.rolesOf(FIXTURE.alice.email, { kind: 'project', id: FIXTURE.project }).sort()).toEqual([
      'GROUP_DATA_ACCESS_READ_ONLY',
      'GROUP_READ_ONLY',
    ]);
    // One crash, one retry: the job ran twice, the change was made once, and the job is gone.
    const applyQueue = new Queue('apply', { connection: redis, prefix });
    expect(await applyQueue.getJob(`apply-${request.id}-1`)).toBeUndefined();
    await applyQueue.close();
    const trail = await store.audit(request.id);
    expect(trail.filter((e) => e.to === 'applied')).toHaveLength(1);
    // No notice job for it waits, is delayed or runs: the messages below are all there will be.
    await waitUntil(
      async () =>
        (await queues.notify.getJobs(['wait', 'delayed', 'active', 'prioritized'])).some(
          (job) => job?.data.requestId === request.id,
        )
          ? undefined
          : true,
      10_000,
      'the notices to be sent',
    );
    expect(
      slack.messagesIn('C0APPROVALS').filter((m) => m.threadTs && m.text.includes('applied')),
    ).toHaveLength(1);
    expect(
      slack.messagesIn(slack.dmChannelOf('U0ALICE')).filter((m) => m.text.includes('applied')),
    ).toHaveLength(1);
  });
});
