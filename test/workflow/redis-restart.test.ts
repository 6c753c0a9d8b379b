import { afterEach, describe, expect, it } from 'vitest';
import { waitUntil } from '../../dev/http-util.js';
import { redisAnswers } from '../../dev/local-redis.js';
import { ATLAS, CHANNELS, PEOPLE, type Sandbox, startSandbox } from '../../dev/sandbox.js';
import { requestIdIn, waitForApprovalMessage, waitForDm } from '../../dev/slack-flow.js';
import { type OwnRedis, startOwnRedis } from '../support/own-redis.js';

describe('Redis restart', () => {
  let redis: OwnRedis | undefined;
  let sandbox: Sandbox | undefined;

  afterEach(async () => {
    await sandbox?.stop();
    await redis?.stop();
  });

  it('brings pending, approved-in-flight and scheduled requests to their final state after Redis comes back', async () => {
    redis = await startOwnRedis();
    sandbox = await startSandbox({
      redisUrl: redis.url,
      prefix: 'rolecall-restart',
      env: { WORKER_LOCK_MS: '2000', JOB_BACKOFF_MS: '200', SWEEP_INTERVAL: '2s' },
    });
    const { slack, driver, atlas } = sandbox;
    const submit = async (user: (typeof PEOPLE)[keyof typeof PEOPLE], line: string) => {
      const before = slack.events.length;
      await driver.command(user, `request ${line}`, CHANNELS.general);
      const text = await waitUntil(() => {
        const event = slack.events
          .slice(before)
          .find((e) => e.kind === 'ephemeral' && /Request \*AR-[0-9A-Z]+\*/.test(e.text));
        return event?.kind === 'ephemeral' ? event.text : undefined;
      });
      const id = requestIdIn(text);
      return { id, approval: await waitForApprovalMessage(slack, id) };
    };

    // A temporary grant whose revocation is a delayed job across the restart.
    const temporary = await submit(
      PEOPLE.alice,
      'GROUP_DATA_ACCESS_READ_ONLY on payments-prod for 4s because restart',
    );
    await driver.clickButton(PEOPLE.bob, temporary.approval, 'request_approve');
    await waitForDm(slack, PEOPLE.alice.id, new RegExp(`${temporary.id} approved .* applied`));
    // A pending request nobody has decided on yet.
    const pending = await submit(PEOPLE.alice, 'ORG_READ_ONLY on acme because restart');
    // An approved request whose Atlas call is in flight when Redis goes away.
    const inFlight = await submit(PEOPLE.mallory, 'ORG_BILLING_READ_ONLY on acme because restart');
    atlas.inject({ method: 'PUT', path: /\/orgs\//, delayMs: 2_500 });
    await driver.clickButton(PEOPLE.carol, inFlight.approval, 'request_approve');
    await waitUntil(() => atlas.received.find((r) => r.method === 'PUT' && r.path.includes('/orgs/')), 5_000);

    await redis.restart();
    expect(await redisAnswers(redis.url)).toBe(true);

    await driver.clickButton(PEOPLE.carol, pending.approval, 'request_approve');
    const org = { kind: 'org', id: ATLAS.org.id } as const;
    await waitForDm(slack, PEOPLE.alice.id, new RegExp(`${pending.id} approved .* applied`), 20_000);
    await waitForDm(slack, PEOPLE.mallory.id, new RegExp(`${inFlight.id} approved .* applied`), 20_000);
    await waitForDm(slack, PEOPLE.alice.id, new RegExp(`${temporary.id} ended`), 20_000);

    expect(atlas.rolesOf(PEOPLE.alice.email, org).sort()).toEqual(['ORG_MEMBER', 'ORG_READ_ONLY']);
    expect(atlas.rolesOf(PEOPLE.mallory.email, org).sort()).toEqual(['ORG_BILLING_READ_ONLY', 'ORG_MEMBER']);
    expect(atlas.rolesOf(PEOPLE.alice.email, { kind: 'project', id: ATLAS.project.id })).toEqual([
      'GROUP_READ_ONLY',
    ]);
  }, 60_000);
});
