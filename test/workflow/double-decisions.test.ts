import { Queue } from 'bullmq';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { waitUntil } from '../../dev/http-util.js';
import { createRequestStore } from '../../dev/request-store.js';
import { CHANNELS, PEOPLE, type Sandbox, startSandbox } from '../../dev/sandbox.js';
import {
  ephemeralTexts,
  requestIdIn,
  waitForApprovalMessage,
  waitForDm,
  waitForEphemeral,
} from '../../dev/slack-flow.js';
import type { RedisClient } from '../../src/lib/redis-client.js';
import { createRedisClient } from '../../src/ops/redis.js';
import { buildDenyModal } from '../../src/slack/blocks/deny-modal.js';
import { uniquePrefix } from '../support/redis.js';
import { REDIS_BACKENDS, useRedisBackend } from '../support/redis-cluster.js';

describe.each(REDIS_BACKENDS)('double decisions on $backend', ({ cluster }) => {
  let sandbox: Sandbox;
  let redis: RedisClient;
  const backend = useRedisBackend(cluster);

  beforeEach(async () => {
    sandbox = await startSandbox({ ...backend.sandboxRedis(), prefix: uniquePrefix('double') });
    redis = createRedisClient(sandbox.config.redis, 'commands');
  });

  afterEach(async () => {
    await sandbox.stop();
    await redis.quit();
  });

  const request = async () => {
    await sandbox.driver.command(
      PEOPLE.alice,
      'request GROUP_DATA_ACCESS_READ_ONLY on payments-prod because race',
      CHANNELS.general,
    );
    const id = requestIdIn(
      await waitForEphemeral(sandbox.slack, PEOPLE.alice.id, /Request \*AR-[0-9A-Z]+\*/),
    );
    return { id, approval: await waitForApprovalMessage(sandbox.slack, id) };
  };

  const decisionsOf = async (id: string) => {
    const store = createRequestStore(redis, { prefix: sandbox.config.redis.prefix });
    return (await store.audit(id)).filter((e) => e.from === 'pending');
  };

  it('turns 50 concurrent Approve clicks into one decision, one job, one Atlas call', async () => {
    const { id, approval } = await request();
    const clickers = Array.from({ length: 50 }, (_, i) => (i % 2 === 0 ? PEOPLE.bob : PEOPLE.carol));
    const answers = await Promise.all(
      clickers.map((user) => sandbox.driver.clickButton(user, approval, 'request_approve')),
    );
    expect(answers.every((a) => a.status === 200)).toBe(true);

    await waitForDm(sandbox.slack, PEOPLE.alice.id, /applied/);
    const refusals = await waitUntil(
      () => {
        const texts = [
          ...ephemeralTexts(sandbox.slack, PEOPLE.bob.id),
          ...ephemeralTexts(sandbox.slack, PEOPLE.carol.id),
        ];
        const found = texts.filter((t) => /was already approved.* by <@U0(BOB|CAROL)>/.test(t));
        return found.length === 49 ? found : undefined;
      },
      10_000,
      '49 refusals',
    );
    expect(refusals).toHaveLength(49);

    const decisions = await decisionsOf(id);
    expect(decisions.map((d) => d.to)).toEqual(['approved']);
    const apply = new Queue('apply', { connection: redis, prefix: sandbox.config.redis.prefix });
    // The one apply job ran and is gone (completed jobs are removed); none waits or failed.
    expect(await apply.getJobCounts('completed', 'waiting', 'active', 'delayed', 'failed')).toEqual({
      completed: 0,
      waiting: 0,
      active: 0,
      delayed: 0,
      failed: 0,
    });
    await apply.close();
    expect(sandbox.atlas.authenticatedCalls().filter((c) => c.method === 'PUT')).toHaveLength(1);
    // The request's expiry (REQUEST_TTL) was dropped when it was decided, not kept until it would run.
    const expire = new Queue('expire', { connection: redis, prefix: sandbox.config.redis.prefix });
    const expiry = await waitUntil(
      async () => ((await expire.getJob(`expire-${id}`)) === undefined ? 'gone' : undefined),
      5_000,
      'the expiry job dropped',
    );
    expect(expiry).toBe('gone');
    await expire.close();
  });

  it('lets exactly one of 25 Approve clicks and 25 Deny submissions win, and explains it to the others', async () => {
    const { id, approval } = await request();
    const denyView = { ...buildDenyModal(id), id: 'V0DENY' } as unknown as Record<string, unknown>;
    const reason = { reason: { value: { type: 'plain_text_input', value: 'not now' } } };
    const answers = await Promise.all(
      Array.from({ length: 50 }, (_, i) =>
        i % 2 === 0
          ? sandbox.driver.clickButton(PEOPLE.bob, approval, 'request_approve')
          : sandbox.driver.submitView(PEOPLE.carol, denyView, reason),
      ),
    );
    const decisions = await decisionsOf(id);
    expect(decisions).toHaveLength(1);
    const winner = decisions[0]?.to;
    const notDenied = answers.filter((a) => a.json?.response_action === 'update');
    if (winner === 'approved') {
      await waitForDm(sandbox.slack, PEOPLE.alice.id, /applied/);
      expect(notDenied).toHaveLength(25);
      expect(JSON.stringify(notDenied[0]?.json)).toContain('was already approved by <@U0BOB>');
      expect(sandbox.atlas.authenticatedCalls().filter((c) => c.method === 'PUT')).toHaveLength(1);
    } else {
      expect(winner).toBe('denied');
      await waitForDm(sandbox.slack, PEOPLE.alice.id, /denied/);
      expect(notDenied).toHaveLength(24);
      await waitUntil(
        () =>
          ephemeralTexts(sandbox.slack, PEOPLE.bob.id).filter((t) =>
            t.includes('was already denied by <@U0CAROL>'),
          ).length === 25
            ? true
            : undefined,
        10_000,
        '25 refusals',
      );
      expect(sandbox.atlas.authenticatedCalls().filter((c) => c.method === 'PUT')).toHaveLength(0);
    }
  });
});
