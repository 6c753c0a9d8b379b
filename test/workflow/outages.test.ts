import { afterEach, describe, expect, it } from 'vitest';
import { waitUntil } from '../../dev/http-util.js';
import { ATLAS, CHANNELS, PEOPLE, type Sandbox, startSandbox } from '../../dev/sandbox.js';
import {
  blockText,
  postedIn,
  requestIdIn,
  waitForApprovalMessage,
  waitForDm,
  waitForEphemeral,
  waitForThreadReply,
} from '../../dev/slack-flow.js';
import { waitForQueuesDone } from '../support/grant-flow.js';
import { TEST_REDIS_URL, uniquePrefix } from '../support/redis.js';

describe('outages', () => {
  let sandbox: Sandbox;

  afterEach(async () => {
    await sandbox.stop();
  });

  const requestAndWait = async (line: string) => {
    await sandbox.driver.command(PEOPLE.alice, `request ${line}`, CHANNELS.general);
    const id = requestIdIn(
      await waitForEphemeral(sandbox.slack, PEOPLE.alice.id, /Request \*AR-[0-9A-Z]+\*/),
    );
    return { id, approval: await waitForApprovalMessage(sandbox.slack, id) };
  };

  it('delivers every notice once through Slack 429s and errors, respecting Retry-After, without re-running Atlas', async () => {
    sandbox = await startSandbox({
      redisUrl: TEST_REDIS_URL,
      prefix: uniquePrefix('slack-out'),
      env: { JOB_BACKOFF_MS: '100' },
    });
    const { id, approval } = await requestAndWait(
      'GROUP_DATA_ACCESS_READ_ONLY on payments-prod because outage',
    );
    const { slack } = sandbox;
    slack.fail({ method: 'chat.postMessage', error: 'ratelimited', status: 429, retryAfter: 1, times: 2 });
    slack.fail({ method: 'conversations.open', error: 'internal_error', times: 2 });
    slack.fail({ method: 'chat.update', error: 'ratelimited', status: 429, retryAfter: 1, times: 1 });

    await sandbox.driver.clickButton(PEOPLE.bob, approval, 'request_approve');
    await waitForDm(slack, PEOPLE.alice.id, /applied/, 20_000);
    await waitForThreadReply(slack, approval, /applied/, 20_000);
    await waitUntil(() => (/applied\* in Atlas/.test(blockText(approval)) ? true : undefined), 20_000);
    // Every notice job has run its course (none waits for a retry): the counts below are final.
    await waitForQueuesDone(sandbox, id, ['notify'], 20_000);

    expect(postedIn(slack, approval.channel, approval.ts).filter((m) => /applied/.test(m.text))).toHaveLength(
      1,
    );
    expect(
      slack.messagesIn(slack.dmChannelOf(PEOPLE.alice.id)).filter((m) => /applied/.test(m.text)),
    ).toHaveLength(1);
    expect(sandbox.atlas.authenticatedCalls().filter((c) => c.method === 'PUT')).toHaveLength(1);
    const posts = slack.callsTo('chat.postMessage').slice(1);
    const limited = posts.filter((c) => c.error === 'ratelimited');
    expect(limited).toHaveLength(2);
    const firstOk = posts.find((c) => c.ok);
    expect((firstOk?.at ?? 0) - (limited[0]?.at ?? 0)).toBeGreaterThanOrEqual(1_000);
  }, 40_000);

  it('gives up on a notice Slack will never accept, and still delivers the others', async () => {
    sandbox = await startSandbox({
      redisUrl: TEST_REDIS_URL,
      prefix: uniquePrefix('slack-gone'),
      env: { JOB_BACKOFF_MS: '100' },
    });
    const { id, approval } = await requestAndWait(
      'GROUP_DATA_ACCESS_READ_ONLY on payments-prod because deleted message',
    );
    sandbox.slack.fail({ method: 'chat.update', error: 'message_not_found', times: 100 });
    await sandbox.driver.clickButton(PEOPLE.bob, approval, 'request_approve');
    await waitForDm(sandbox.slack, PEOPLE.alice.id, /applied/);
    // No notice job is left to retry the update: the calls below are all there will be.
    await waitForQueuesDone(sandbox, id);
    expect(sandbox.slack.callsTo('chat.update').map((c) => c.error)).toEqual([
      'message_not_found',
      'message_not_found',
    ]);
  });

  it('fails after the Atlas retry budget with the reason in the channel, and an approver can press Retry', async () => {
    sandbox = await startSandbox({
      redisUrl: TEST_REDIS_URL,
      prefix: uniquePrefix('atlas-out'),
      env: { ATLAS_MAX_RETRIES: '1', JOB_BACKOFF_MS: '50' },
    });
    const { id, approval } = await requestAndWait(
      'GROUP_DATA_ACCESS_READ_ONLY on payments-prod because atlas down',
    );
    sandbox.atlas.inject({
      method: 'PUT',
      status: 503,
      body: { error: 503, errorCode: 'SERVICE_UNAVAILABLE', detail: 'Atlas is down for maintenance.' },
      times: 10,
    });
    await sandbox.driver.clickButton(PEOPLE.bob, approval, 'request_approve');
    const failed = await waitForThreadReply(sandbox.slack, approval, /could not be applied/, 30_000);
    expect(failed.text).toContain('(Atlas SERVICE_UNAVAILABLE)');
    expect(failed.text).not.toContain('Atlas is down for maintenance');
    expect(failed.text).toContain('An approver can press Retry');
    await waitUntil(() => (blockText(approval).includes('request_retry') ? true : undefined), 5_000);
    expect(sandbox.atlas.authenticatedCalls().filter((c) => c.method === 'PUT')).toHaveLength(10);

    await sandbox.driver.clickButton(PEOPLE.mallory, approval, 'request_retry');
    await waitForEphemeral(sandbox.slack, PEOPLE.mallory.id, /can’t retry this/);

    await sandbox.driver.clickButton(PEOPLE.carol, approval, 'request_retry');
    await waitForDm(sandbox.slack, PEOPLE.alice.id, /approved by .* and applied/, 10_000);
    expect(
      sandbox.atlas.rolesOf(PEOPLE.alice.email, { kind: 'project', id: ATLAS.project.id }).sort(),
    ).toEqual(['GROUP_DATA_ACCESS_READ_ONLY', 'GROUP_READ_ONLY']);
    await waitUntil(() => (/applied\* in Atlas/.test(blockText(approval)) ? true : undefined), 5_000);
    expect(blockText(approval)).not.toContain('request_retry');
    expect(id).toMatch(/^AR-/);
    const everythingSlackSaw = JSON.stringify(sandbox.slack.calls);
    for (const secret of [ATLAS.apiKey.privateKey, sandbox.signingSecret])
      expect(everythingSlackSaw).not.toContain(secret);
  }, 45_000);
});
