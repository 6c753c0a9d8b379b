import { writeFile } from 'node:fs/promises';
import { Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import { waitUntil } from '../../dev/http-util.js';
import { PEOPLE, SANDBOX_POLICY, type Sandbox, startSandbox, storedRequestIds } from '../../dev/sandbox.js';
import { blockText, waitForApprovalMessage } from '../../dev/slack-flow.js';
import type { SimulatedMessage } from '../../dev/slack-simulator.js';
import { redisKeys } from '../../src/lib/redis-keys.js';
import { expectValidMessageBlocks } from '../support/block-kit.js';
import { ephemeralAfter, nthApproval, type Person, sleep, waitForState } from '../support/grant-flow.js';
import { TEST_REDIS_URL, uniquePrefix } from '../support/redis.js';

const READ = 'GROUP_DATA_ACCESS_READ_ONLY';
const STEP = 'request_atlas_access';

describe('Workflow Builder step on behalf of someone else (end to end)', () => {
  let sandbox: Sandbox;
  afterEach(async () => {
    await sandbox.stop();
  });
  const start = async (label: string) => {
    sandbox = await startSandbox({ redisUrl: TEST_REDIS_URL, prefix: uniquePrefix(label) });
  };

  /** The step's inputs as Workflow Builder sends them: `runBy` started it, the author fixed `user`. */
  const inputs = (runBy: Person, user: Person | undefined, reason = 'onboarding workflow') => ({
    target: 'payments-prod',
    roles: READ,
    duration: '1h',
    reason,
    interactivity: { interactivity_pointer: '1.2.abc', interactor: { id: runBy.id, secret: 'x' } },
    ...(user ? { user: user.id } : {}),
  });
  /** The DM that asks `person` to confirm, as it stands now. */
  const askTo = (person: Person) =>
    waitUntil(
      () =>
        sandbox.slack
          .messagesIn(sandbox.slack.dmChannelOf(person.id))
          .find((m) => m.text.includes('in your name')),
      5_000,
      `the confirmation DM to ${person.name}`,
    );
  const buttonsOf = (message: SimulatedMessage) =>
    JSON.stringify(message.blocks ?? []).match(/"action_id":"[a-z_]+"/g) ?? [];
  /** Asserts that the requests stored are exactly `ids`: none (nothing filed), or one (nothing filed twice). */
  const expectStored = async (...ids: string[]) =>
    expect(await storedRequestIds(sandbox.config.redis)).toEqual(ids);
  const outcomeOf = (executionId: string, timeoutMs = 5_000) =>
    waitUntil(() => sandbox.slack.functionOutcome(executionId), timeoutMs, 'the step to end');

  it('asks the person who ran it and files nothing until Confirm; then one request, completed at its decision', async () => {
    await start('confirm');
    const run = await sandbox.driver.executeFunction(STEP, inputs(PEOPLE.bob, PEOPLE.alice));
    expect(run.status).toBe(200);
    const ask = await askTo(PEOPLE.bob);
    expectValidMessageBlocks(ask.blocks);
    const shown = blockText(ask);
    expect(shown).toContain('*Who gets access:* <@U0ALICE>');
    expect(shown).toContain(`*Roles:* \`${READ}\``);
    expect(shown).toContain('*Target:* project *payments-prod*');
    expect(shown).toContain('*Duration:* 1h, then revoked automatically');
    expect(shown).toContain('> onboarding workflow');
    expect(shown).toContain('This request comes from a workflow step set up by its author');
    expect(buttonsOf(ask)).toEqual(['"action_id":"workflow_confirm"', '"action_id":"workflow_cancel"']);
    // Posted with the step's own token, so Slack ties the buttons to the step.
    expect(ask.functionExecutionId).toBe(run.executionId);

    await sleep(300);
    await expectStored();
    expect(sandbox.slack.callsTo('chat.postMessage').filter((c) => c.args.channel === 'C0APPROVALS')).toEqual(
      [],
    );
    expect(sandbox.slack.functionOutcome(run.executionId)).toBeUndefined();

    await sandbox.driver.clickButton(PEOPLE.bob, ask, 'workflow_confirm');
    const id = await waitUntil(
      () => /filed it as \*(AR-[0-9A-Z]{7})\*/.exec(ask.text)?.[1],
      5_000,
      'the DM to say what was filed',
    );
    const pending = await waitForState(sandbox, id, 'pending');
    expect(pending).toMatchObject({
      requesterId: PEOPLE.bob.id,
      granteeId: PEOPLE.alice.id,
      roles: [READ],
      durationSeconds: 3600,
      reason: 'onboarding workflow',
      workflow: { executionId: run.executionId },
    });
    expect(buttonsOf(ask)).toEqual([]);
    await waitUntil(
      () =>
        sandbox.slack
          .messagesIn(sandbox.slack.dmChannelOf(PEOPLE.alice.id))
          .find((m) => m.text.includes('Not me')),
      5_000,
      'the Not me notice',
    );
    const approval = await waitForApprovalMessage(sandbox.slack, id);
    expect(sandbox.slack.functionOutcome(run.executionId)).toBeUndefined();
    await sandbox.driver.clickButton(PEOPLE.carol, approval, 'request_approve');
    await waitForState(sandbox, id, 'applied');
    expect(await outcomeOf(run.executionId, 10_000)).toMatchObject({
      outcome: 'success',
      outputs: { request_id: id, state: 'applied' },
    });
    await expectStored(id);
  });

  it('ends the step with an error and files nothing when the person presses Cancel; a second click is told', async () => {
    await start('confirm-cancel');
    const run = await sandbox.driver.executeFunction(STEP, inputs(PEOPLE.bob, PEOPLE.alice));
    const ask = await askTo(PEOPLE.bob);
    // The message as it was asked (chat.update changes `ask` in place): a second device, a double click.
    const asked = { ...ask, blocks: structuredClone(ask.blocks) };
    await sandbox.driver.clickButton(PEOPLE.bob, ask, 'workflow_cancel');
    expect(await outcomeOf(run.executionId)).toMatchObject({
      outcome: 'error',
      error:
        'The person who ran the workflow cancelled the Atlas access request this step would have filed in their name; nothing was filed.',
    });
    await waitUntil(() => (ask.text.includes('You cancelled') ? true : undefined), 5_000, 'the DM updated');
    expect(buttonsOf(ask)).toEqual([]);
    const since = sandbox.slack.events.length;
    await sandbox.driver.clickButton(PEOPLE.bob, asked, 'workflow_confirm');
    expect(await ephemeralAfter(sandbox, PEOPLE.bob, since, /Already settled/)).toContain('You cancelled');
    await sleep(200);
    await expectStored();
    expect(sandbox.slack.callsTo('functions.completeError')).toHaveLength(1);
  });

  it('refuses a click by anyone but the person who ran the workflow', async () => {
    await start('confirm-stranger');
    const run = await sandbox.driver.executeFunction(STEP, inputs(PEOPLE.bob, PEOPLE.alice));
    const ask = await askTo(PEOPLE.bob);
    const since = sandbox.slack.events.length;
    // A forged click in mallory's name (and one in alice's, the grantee) on bob's DM.
    await sandbox.driver.clickButton(PEOPLE.mallory, ask, 'workflow_confirm');
    await sandbox.driver.clickButton(PEOPLE.alice, ask, 'workflow_cancel');
    expect(await ephemeralAfter(sandbox, PEOPLE.mallory, since, /Only/)).toBe(
      ':no_entry: Only <@U0BOB>, who ran the workflow, can confirm or cancel this request.',
    );
    await ephemeralAfter(sandbox, PEOPLE.alice, since, /Only <@U0BOB>/);
    await sleep(200);
    await expectStored();
    expect(ask.updates).toBe(0);
    expect(sandbox.slack.functionOutcome(run.executionId)).toBeUndefined();
    await sandbox.driver.clickButton(PEOPLE.bob, ask, 'workflow_confirm');
    const { id } = await nthApproval(sandbox);
    expect(await waitForState(sandbox, id, 'pending')).toMatchObject({ requesterId: PEOPLE.bob.id });
  });

  it('asks once when Slack delivers the execution twice, and files one request', async () => {
    await start('confirm-twice');
    const run = await sandbox.driver.executeFunction(STEP, inputs(PEOPLE.bob, PEOPLE.alice));
    const ask = await askTo(PEOPLE.bob);
    expect((await run.redeliver()).status).toBe(200);
    await sleep(300);
    const asks = () =>
      sandbox.slack
        .callsTo('chat.postMessage')
        .filter((c) => c.args.channel === sandbox.slack.dmChannelOf(PEOPLE.bob.id));
    expect(asks()).toHaveLength(1);
    await sandbox.driver.clickButton(PEOPLE.bob, ask, 'workflow_confirm');
    const { id } = await nthApproval(sandbox);
    await waitForState(sandbox, id, 'pending');
    expect((await run.redeliver()).status).toBe(200);
    await sleep(300);
    await expectStored(id);
    expect(asks().filter((c) => String(c.args.text).includes('in your name'))).toHaveLength(1);
  });

  it('still files on Confirm after a restart between the ask and the click', async () => {
    await start('confirm-restart');
    const run = await sandbox.driver.executeFunction(STEP, inputs(PEOPLE.bob, PEOPLE.alice));
    const ask = await askTo(PEOPLE.bob);
    await sandbox.restart();
    await sandbox.driver.clickButton(PEOPLE.bob, ask, 'workflow_confirm');
    const { id, approval } = await nthApproval(sandbox);
    await waitForState(sandbox, id, 'pending');
    await sandbox.driver.clickButton(PEOPLE.carol, approval, 'request_approve');
    expect(await outcomeOf(run.executionId, 10_000)).toMatchObject({
      outcome: 'success',
      outputs: { request_id: id, state: 'applied' },
    });
  });

  it('files a request for the person who ran it at once, without asking', async () => {
    await start('confirm-self');
    const run = await sandbox.driver.executeFunction(STEP, inputs(PEOPLE.alice, PEOPLE.alice));
    const { id } = await nthApproval(sandbox);
    expect(await waitForState(sandbox, id, 'pending')).toMatchObject({
      requesterId: PEOPLE.alice.id,
      granteeId: PEOPLE.alice.id,
      workflow: { executionId: run.executionId },
    });
    expect(
      sandbox.slack
        .messagesIn(sandbox.slack.dmChannelOf(PEOPLE.alice.id))
        .filter((m) => m.text.includes('in your name')),
    ).toEqual([]);
  });

  it('ends the step with an error when nobody confirms in time, and tells a late click', async () => {
    await start('confirm-expire');
    const run = await sandbox.driver.executeFunction(STEP, inputs(PEOPLE.bob, PEOPLE.alice));
    const ask = await askTo(PEOPLE.bob);
    const asked = { ...ask, blocks: structuredClone(ask.blocks) };
    // An hour passes: the stored deadline moves into the past, as the clock would have moved it.
    const redis = new Redis(TEST_REDIS_URL);
    const keys = redisKeys(sandbox.config.redis.prefix);
    const key = keys.stepConfirmation(run.executionId);
    const record = JSON.parse(String(await redis.get(key))) as { deadline: number; askedAt: number };
    const shift = record.deadline - Date.now() + 1_000;
    await redis.set(
      key,
      JSON.stringify({ ...record, askedAt: record.askedAt - shift, deadline: record.deadline - shift }),
      'KEEPTTL',
    );
    await redis.zadd(keys.stepConfirmationsDue, record.deadline - shift, run.executionId);
    await redis.quit();
    expect(await outcomeOf(run.executionId, 10_000)).toMatchObject({
      outcome: 'error',
      error:
        'The Atlas access request this step would have filed in the name of the person who ran the workflow was not confirmed within 1h; nothing was filed.',
    });
    await waitUntil(
      () => (ask.text.includes('Nobody confirmed') ? true : undefined),
      5_000,
      'the DM updated',
    );
    const since = sandbox.slack.events.length;
    await sandbox.driver.clickButton(PEOPLE.bob, asked, 'workflow_confirm');
    expect(await ephemeralAfter(sandbox, PEOPLE.bob, since, /Already settled/)).toContain('Nobody confirmed');
    await sleep(200);
    await expectStored();
  });

  it('ends the step saying why when Slack will not take the DM that asks', async () => {
    await start('confirm-no-dm');
    sandbox.slack.fail({ method: 'chat.postMessage', error: 'channel_not_found' });
    const run = await sandbox.driver.executeFunction(STEP, inputs(PEOPLE.bob, PEOPLE.alice));
    expect(await outcomeOf(run.executionId)).toMatchObject({
      outcome: 'error',
      error:
        'Rolecall could not ask the person who ran the workflow to confirm the request in a direct message (Slack said: channel_not_found); nothing was filed.',
    });
    await expectStored();
  });

  it('ends the step once Slack takes it when the first functions.completeError fails', async () => {
    await start('confirm-complete-retry');
    const run = await sandbox.driver.executeFunction(STEP, inputs(PEOPLE.bob, PEOPLE.alice));
    const ask = await askTo(PEOPLE.bob);
    sandbox.slack.fail({ method: 'functions.completeError', error: 'internal_error' });
    await sandbox.driver.clickButton(PEOPLE.bob, ask, 'workflow_cancel');
    await waitUntil(() => (ask.text.includes('You cancelled') ? true : undefined), 5_000, 'the DM updated');
    expect(await outcomeOf(run.executionId, 25_000)).toMatchObject({ outcome: 'error' });
    expect(sandbox.slack.callsTo('functions.completeError').map((c) => c.ok)).toEqual([false, true]);
  });

  it('files under the policy in force at the click: someone no longer allowed to ask for others is refused', async () => {
    await start('confirm-policy');
    const run = await sandbox.driver.executeFunction(STEP, inputs(PEOPLE.bob, PEOPLE.alice));
    const ask = await askTo(PEOPLE.bob);
    await writeFile(
      sandbox.config.policyFile,
      SANDBOX_POLICY.replace('approvers: [U0BOB, U0CAROL]', 'approvers: [U0CAROL]'),
    );
    await sandbox.rolecall.reloadPolicy();
    await sandbox.driver.clickButton(PEOPLE.bob, ask, 'workflow_confirm');
    expect(await outcomeOf(run.executionId)).toMatchObject({
      outcome: 'error',
      error: expect.stringContaining('You can’t ask for access for someone else on payments-prod'),
    });
    await waitUntil(
      () => (ask.text.includes('Rolecall did not file') ? true : undefined),
      5_000,
      'the DM updated',
    );
    await expectStored();
  });

  it('escapes the author’s words once and stays within Block Kit’s limits', async () => {
    await start('confirm-escape');
    const hostile = `<!channel> *urgent* & <https://evil.example|click> ${'x'.repeat(400)}`;
    await sandbox.driver.executeFunction(STEP, inputs(PEOPLE.bob, PEOPLE.alice, hostile));
    const ask = await askTo(PEOPLE.bob);
    expectValidMessageBlocks(ask.blocks);
    const reason = (ask.blocks as { text?: { text: string; verbatim?: boolean } }[]).find((b) =>
      b.text?.text.startsWith('*Reason:*'),
    )?.text;
    expect(reason?.verbatim).toBe(true);
    expect(reason?.text).toContain('> &lt;!channel&gt; *urgent* &amp; &lt;https://evil.example|click&gt;');
    expect(reason?.text).not.toContain('&amp;lt;');
    expect(ask.text).not.toContain('<!channel>');
  });
});
