import { Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import { waitUntil } from '../../dev/http-util.js';
import { createRequestStore } from '../../dev/request-store.js';
import { ATLAS, CHANNELS, PEOPLE, type Sandbox, startSandbox } from '../../dev/sandbox.js';
import {
  blockText,
  requestIdIn,
  waitForApprovalMessage,
  waitForDm,
  waitForEphemeral,
  waitForThreadReply,
} from '../../dev/slack-flow.js';
import type { SimulatedMessage, SlackEvent } from '../../dev/slack-simulator.js';
import { expectValidMessageBlocks } from '../support/block-kit.js';
import { FLOW_FLAVORS, writesIn } from '../support/flow-flavors.js';
import { TEST_REDIS_URL, uniquePrefix } from '../support/redis.js';

type Person = (typeof PEOPLE)[keyof typeof PEOPLE];

describe.each(FLOW_FLAVORS)('request lifecycle on ATLAS_API=$api', (flavor) => {
  let sandbox: Sandbox;

  afterEach(async () => {
    await sandbox.stop();
  });

  const start = async (env: Record<string, string> = {}) => {
    sandbox = await startSandbox({
      redisUrl: TEST_REDIS_URL,
      prefix: uniquePrefix('life'),
      atlasApi: flavor.api,
      env,
    });
  };

  const lastEphemeral = (
    user: Person,
    pattern: RegExp,
  ): Promise<Extract<SlackEvent, { kind: 'ephemeral' }>> =>
    waitUntil(
      () => {
        const found = sandbox.slack.events.filter(
          (e): e is Extract<SlackEvent, { kind: 'ephemeral' }> =>
            e.kind === 'ephemeral' && e.user === user.id && pattern.test(e.text),
        );
        return found[found.length - 1];
      },
      5_000,
      `ephemeral ${pattern}`,
    );

  /** An ephemeral message as the driver can click on it (Slack sends its blocks back in the payload). */
  const asMessage = (event: Extract<SlackEvent, { kind: 'ephemeral' }>): SimulatedMessage => ({
    channel: event.channel ?? CHANNELS.general,
    ts: `${event.at / 1000}`,
    threadTs: undefined,
    text: event.text,
    blocks: event.blocks,
    updates: 0,
  });

  const requestAs = async (user: Person, line: string) => {
    const before = sandbox.slack.events.length;
    await sandbox.driver.command(user, `request ${line}`, CHANNELS.general);
    const confirmation = await waitUntil(() => {
      const event = sandbox.slack.events
        .slice(before)
        .find((e) => e.kind === 'ephemeral' && /Request \*AR-[0-9A-Z]+\*/.test(e.text));
      return event?.kind === 'ephemeral' ? event : undefined;
    });
    const id = requestIdIn(confirmation.text);
    return { id, confirmation, approval: await waitForApprovalMessage(sandbox.slack, id) };
  };

  it('expires a request nobody decided on, tells the requester and refuses a late decision', async () => {
    await start({ REQUEST_TTL: '2s' });
    const { id, approval } = await requestAs(
      PEOPLE.alice,
      'GROUP_DATA_ACCESS_READ_ONLY on payments-prod because slow approvers',
    );
    const stale = { ...approval, blocks: [...(approval.blocks ?? [])] };
    const dm = await waitForDm(sandbox.slack, PEOPLE.alice.id, /expired/, 10_000);
    expect(dm.text).toContain(`${id} expired before anyone decided; nothing was changed.`);
    await waitForThreadReply(sandbox.slack, approval, /expired/);
    expect(blockText(approval)).toContain('*Expired* before anyone decided');
    expect(blockText(approval)).not.toContain('request_approve');
    await sandbox.driver.clickButton(PEOPLE.bob, stale, 'request_approve');
    expect(await waitForEphemeral(sandbox.slack, PEOPLE.bob.id, /expired/)).toContain(`${id} has expired.`);
    expect(writesIn(sandbox.atlas.calls)).toEqual([]);
  });

  it('lets the requester cancel with the button on the confirmation, and refuses an approval afterwards', async () => {
    await start();
    const { id, confirmation, approval } = await requestAs(
      PEOPLE.alice,
      'GROUP_DATA_ACCESS_READ_ONLY on payments-prod because oops',
    );
    expectValidMessageBlocks(confirmation.blocks);
    const stale = { ...approval, blocks: [...(approval.blocks ?? [])] };
    await sandbox.driver.clickButton(PEOPLE.alice, asMessage(confirmation), 'request_cancel');
    await lastEphemeral(PEOPLE.alice, new RegExp(`${id} is cancelled`));
    await waitForThreadReply(sandbox.slack, approval, /cancelled by <@U0ALICE>/);
    expect(blockText(approval)).toContain('*Cancelled*');

    await sandbox.driver.clickButton(PEOPLE.bob, stale, 'request_approve');
    expect(await waitForEphemeral(sandbox.slack, PEOPLE.bob.id, /was cancelled/)).toContain(
      `${id} was cancelled.`,
    );
    expect(writesIn(sandbox.atlas.calls)).toEqual([]);
  });

  it('cancels with /atlas-access cancel, for the requester only', async () => {
    await start();
    const { id } = await requestAs(PEOPLE.alice, 'GROUP_DATA_ACCESS_READ_ONLY on payments-prod because oops');
    await sandbox.driver.command(PEOPLE.mallory, `cancel ${id}`, CHANNELS.general);
    expect((await lastEphemeral(PEOPLE.mallory, /cancel/)).text).toContain(
      `Only the person who asked for ${id}, or the person it is for, can cancel it.`,
    );
    await sandbox.driver.command(PEOPLE.alice, `cancel ${id.toLowerCase()}`, CHANNELS.general);
    await lastEphemeral(PEOPLE.alice, new RegExp(`${id} is cancelled`));
    await sandbox.driver.command(PEOPLE.alice, `cancel ${id}`, CHANNELS.general);
    expect((await lastEphemeral(PEOPLE.alice, /was cancelled\./)).text).toContain(`${id} was cancelled.`);
  });

  it('shows the state and the audit trail with /atlas-access status, to the people it concerns', async () => {
    await start();
    const { id, approval } = await requestAs(
      PEOPLE.alice,
      'GROUP_DATA_ACCESS_READ_ONLY on payments-prod because trail',
    );
    await sandbox.driver.clickButton(PEOPLE.bob, approval, 'request_approve');
    await waitForDm(sandbox.slack, PEOPLE.alice.id, /and applied/);
    await sandbox.driver.command(PEOPLE.alice, `status ${id}`, CHANNELS.general);
    const status = await lastEphemeral(PEOPLE.alice, /: active/);
    expectValidMessageBlocks(status.blocks);
    const shown = JSON.stringify(status.blocks);
    expect(shown).toContain(`*${id}*`);
    expect(shown).toContain('submitted by <@U0ALICE>: requested');
    expect(shown).toContain('submitted → pending by Rolecall: checked against Atlas');
    expect(shown).toContain('pending → approved by <@U0BOB>');
    expect(shown).toContain('approved → applying by Rolecall');
    expect(shown).toContain('applying → applied by Rolecall: added GROUP_DATA_ACCESS_READ_ONLY');

    await sandbox.driver.command(PEOPLE.mallory, `status ${id}`, CHANNELS.general);
    expect((await lastEphemeral(PEOPLE.mallory, /not yours/)).text).toContain(`${id} is not yours to see`);
    await sandbox.driver.command(PEOPLE.carol, `status ${id}`, CHANNELS.general);
    await lastEphemeral(PEOPLE.carol, /: active/);
  });

  it('lists a requester’s open requests and what waits for an approver, who can approve from the list', async () => {
    await start();
    const { id } = await requestAs(PEOPLE.alice, 'GROUP_DATA_ACCESS_READ_ONLY on payments-prod because list');
    await sandbox.driver.command(PEOPLE.alice, 'list', CHANNELS.general);
    const mine = await lastEphemeral(PEOPLE.alice, /open request/);
    expect(JSON.stringify(mine.blocks)).toContain(`*${id}*`);
    expect(JSON.stringify(mine.blocks)).toContain('_waiting for approval_');

    await sandbox.driver.command(PEOPLE.bob, 'list', CHANNELS.general);
    const waiting = await lastEphemeral(PEOPLE.bob, /waiting for you/);
    expectValidMessageBlocks(waiting.blocks);
    expect(JSON.stringify(waiting.blocks)).toContain('*Waiting for your decision* (1)');
    await sandbox.driver.clickButton(PEOPLE.bob, asMessage(waiting), 'request_approve');
    await waitForDm(sandbox.slack, PEOPLE.alice.id, /and applied/);

    await sandbox.driver.command(PEOPLE.mallory, 'list', CHANNELS.general);
    const none = await lastEphemeral(PEOPLE.mallory, /open request/);
    expect(JSON.stringify(none.blocks)).toContain('_none_');
    expect(JSON.stringify(none.blocks)).not.toContain('Waiting for your decision');
  });

  it('repairs a request whose job was lost between its state change and the queue (the sweeper)', async () => {
    await start({ SWEEP_INTERVAL: '1s' });
    const { id } = await requestAs(
      PEOPLE.alice,
      'GROUP_DATA_ACCESS_READ_ONLY on payments-prod because sweeper',
    );
    const redis = new Redis(TEST_REDIS_URL);
    const store = createRequestStore(redis, { prefix: sandbox.config.redis.prefix });
    // Approve it the way a process would that died before queuing the apply job.
    await store.transition(id, {
      from: 'pending',
      to: 'approved',
      actor: PEOPLE.bob.id,
      patch: { decision: { by: PEOPLE.bob.id, at: Date.now(), note: null } },
    });
    await redis.quit();
    await waitForDm(sandbox.slack, PEOPLE.alice.id, /and applied/, 15_000);
    expect(sandbox.atlas.rolesOf(PEOPLE.alice.email, { kind: 'project', id: ATLAS.project.id })).toContain(
      'GROUP_DATA_ACCESS_READ_ONLY',
    );
  });
});
