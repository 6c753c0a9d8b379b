import { Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import { waitUntil } from '../../dev/http-util.js';
import { ATLAS, CHANNELS, PEOPLE, SANDBOX_POLICY, type Sandbox, startSandbox } from '../../dev/sandbox.js';
import { blockText } from '../../dev/slack-flow.js';
import { ephemeralAfter, PROJECT, readRequest, requestAs, waitForState } from '../support/grant-flow.js';
import { TEST_REDIS_URL, uniquePrefix } from '../support/redis.js';
import { offboardingFlow } from '../support/review-flow.js';

const DANA = PEOPLE.dana.email.toLowerCase();

/** The sandbox policy with offboarders (carol) and offboarding approvers (bob). */
const POLICY = SANDBOX_POLICY.replace(
  'approvalsChannel: C0APPROVALS\n',
  'approvalsChannel: C0APPROVALS\noffboarders: [U0CAROL]\noffboardApprovers: [U0BOB]\n',
);
/** The same, with only the project as a target (the organization is run by hand). */
const PROJECT_ONLY = POLICY.slice(0, POLICY.indexOf(`  - name: ${ATLAS.org.name}`));

describe('offboarding under failures and abuse', () => {
  let sandbox: Sandbox;
  let redis: Redis;
  afterEach(async () => {
    await redis?.quit();
    await sandbox?.stop();
  });
  const start = async (label: string, policy = POLICY, env: Record<string, string> = {}) => {
    sandbox = await startSandbox({
      redisUrl: TEST_REDIS_URL,
      prefix: uniquePrefix(label),
      policy,
      env: { JOB_BACKOFF_MS: '50', ...env },
    });
    redis = new Redis(TEST_REDIS_URL);
  };
  const { stored, messageOf, posted, askedId } = offboardingFlow(
    () => sandbox,
    () => redis,
  );

  it('finishes an offboarding even when Slack fails a few message updates while the targets are removed', async () => {
    await start('res-ob-slack');
    await sandbox.driver.command(
      PEOPLE.carol,
      'offboard dana.smith@example.com because she left',
      CHANNELS.general,
    );
    const offboarding = await posted(await askedId(PEOPLE.carol));
    sandbox.slack.fail({ method: 'chat.update', error: 'internal_error', times: 6 });
    await sandbox.driver.clickButton(PEOPLE.bob, messageOf(offboarding), 'offboard_approve');
    await waitUntil(
      async () => ((await stored().get(offboarding.id))?.outcomes.length === 2 ? true : undefined),
      10_000,
      'both targets to have an outcome',
    );
    expect(sandbox.atlas.rolesOf(DANA, PROJECT)).toEqual([]);
    const done = await waitUntil(
      async () => {
        const found = await stored().get(offboarding.id);
        return found?.state === 'done' ? found : undefined;
      },
      15_000,
      'the offboarding to finish',
    );
    expect(done.outcomes.map((o) => o.outcome).sort()).toEqual(['not a member', 'removed']);
    await waitUntil(
      () =>
        sandbox.slack
          .messagesIn(CHANNELS.approvals)
          .find((m) => m.text.includes(`Offboarding ${offboarding.id} of`)),
      15_000,
      'the summary in the thread',
    );
  });

  it('does not let an approver’s Retry of a failed grant give an offboarded person access again', async () => {
    await start('res-ob-retry', PROJECT_ONLY, { ATLAS_MAX_RETRIES: '0', JOB_BACKOFF_MS: '10' });
    const { id, approval } = await requestAs(
      sandbox,
      PEOPLE.dana,
      'request GROUP_DATA_ACCESS_READ_ONLY on payments-prod for 1h because analysis',
    );
    // A short Atlas outage for writes: the grant fails and gets a Retry button.
    const until = Date.now() + 3_000;
    for (const method of ['PUT', 'PATCH', 'POST'])
      sandbox.atlas.inject({
        method,
        status: 503,
        body: { error: 503, errorCode: 'SERVICE_UNAVAILABLE', detail: 'down' },
        untilMs: until,
      });
    await sandbox.driver.clickButton(PEOPLE.bob, approval, 'request_approve');
    await waitForState(sandbox, id, 'failed', 20_000);
    await waitUntil(() => (blockText(approval).includes('request_retry') ? true : undefined), 5_000);
    // What an approver's Slack client still shows if it missed the update that removes the button.
    const stale = structuredClone(approval);
    await new Promise((r) => setTimeout(r, Math.max(0, until - Date.now() + 200)));

    // Dana leaves: carol asks, bob approves, she is removed from the project.
    await sandbox.driver.command(
      PEOPLE.carol,
      'offboard dana.smith@example.com because she left',
      CHANNELS.general,
    );
    const offboarding = await posted(await askedId(PEOPLE.carol));
    await sandbox.driver.clickButton(PEOPLE.bob, messageOf(offboarding), 'offboard_approve');
    const done = await waitUntil(
      async () => {
        const found = await stored().get(offboarding.id);
        return found?.state === 'done' ? found : undefined;
      },
      20_000,
      'the offboarding to finish',
    );
    expect(sandbox.atlas.rolesOf(DANA, PROJECT)).toEqual([]);
    const left = { cancelled: done.cancelled, state: (await readRequest(sandbox, id)).state };

    // The failed request was cancelled with the rest, so its message has no Retry any more.
    expect(blockText(approval)).not.toContain('request_retry');
    // Carol, an approver, presses Retry on the stale copy of the approval message.
    await sandbox.driver.clickButton(PEOPLE.carol, stale, 'request_retry');
    await new Promise((r) => setTimeout(r, 4_000));
    expect({
      ...left,
      after: (await readRequest(sandbox, id)).state,
      roles: sandbox.atlas.rolesOf(DANA, PROJECT),
    }).toEqual({ cancelled: [id], state: 'cancelled', after: 'cancelled', roles: [] });

    // Asking again afterwards: approved, but the worker refuses to grant an offboarded person anything.
    const again = await requestAs(
      sandbox,
      PEOPLE.dana,
      'request GROUP_DATA_ACCESS_READ_ONLY on payments-prod for 1h because back again',
    );
    await sandbox.driver.clickButton(PEOPLE.bob, again.approval, 'request_approve');
    const refused = await waitForState(sandbox, again.id, 'cancelled');
    expect(refused.decision?.note).toBe(
      `dana.smith@example.com was offboarded (${offboarding.id}); Rolecall grants them nothing for 90 days after it`,
    );
    await waitUntil(
      () => (blockText(again.approval).includes('Cancelled by Rolecall') ? true : undefined),
      5_000,
    );
    expect(blockText(again.approval)).not.toContain('request_retry');
    expect(sandbox.atlas.rolesOf(DANA, PROJECT)).toEqual([]);
  });

  it('refuses strangers, the subject and the asker', async () => {
    await start('res-ob-refuse');
    let since = sandbox.slack.events.length;
    await sandbox.driver.command(PEOPLE.dana, 'offboard carol@example.com because revenge', CHANNELS.general);
    await ephemeralAfter(sandbox, PEOPLE.dana, since, /offboarders/);
    await sandbox.driver.command(PEOPLE.carol, 'offboard carol@example.com because bye', CHANNELS.general);
    await ephemeralAfter(sandbox, PEOPLE.carol, since, /offboard yourself/);
    await sandbox.driver.command(
      PEOPLE.carol,
      `offboard <mailto:dana.smith@example.com|dana.smith@example.com> because <!channel> *bold* &lt;!here&gt; ${'x'.repeat(400)}`,
      CHANNELS.general,
    );
    const offboarding = await posted(await askedId(PEOPLE.carol));
    const message = messageOf(offboarding);
    since = sandbox.slack.events.length;
    await sandbox.driver.clickButton(PEOPLE.mallory, message, 'offboard_approve');
    await ephemeralAfter(sandbox, PEOPLE.mallory, since, /offboarding approvers/);
    expect(blockText(message)).not.toContain('<!channel>');
    expect(offboarding.email).toBe(DANA);
  });

  it('keeps the list of cancelled requests and ended grants when the run job is retried', async () => {
    await start('res-ob-rerun', PROJECT_ONLY);
    const granted = await requestAs(
      sandbox,
      PEOPLE.dana,
      'request GROUP_DATA_ACCESS_READ_ONLY on payments-prod for 1h because x',
    );
    await sandbox.driver.clickButton(PEOPLE.bob, granted.approval, 'request_approve');
    await waitForState(sandbox, granted.id, 'applied', 10_000);
    const waiting = await requestAs(
      sandbox,
      PEOPLE.dana,
      'request GROUP_DATA_ACCESS_READ_WRITE on payments-prod for 1h because y',
    );
    await sandbox.driver.command(
      PEOPLE.carol,
      'offboard dana.smith@example.com because she left',
      CHANNELS.general,
    );
    const offboarding = await posted(await askedId(PEOPLE.carol));
    // One Slack hiccup on the table update at the end of the run job (and the separate show job's).
    sandbox.slack.fail({ method: 'chat.update', error: 'internal_error', times: 4 });
    // Atlas is slow to remove her, so the run job's retry comes before the target is done.
    sandbox.atlas.inject({ method: 'DELETE', path: /\/groups\/.*\/users\//, delayMs: 2_000, times: 1 });
    await sandbox.driver.clickButton(PEOPLE.bob, messageOf(offboarding), 'offboard_approve');
    await waitForState(sandbox, waiting.id, 'cancelled', 10_000);
    const after = await waitUntil(
      async () => {
        const found = await stored().get(offboarding.id);
        return found?.state === 'done' ? found : undefined;
      },
      15_000,
      'the offboarding to finish',
    );
    expect({ state: after?.state, cancelled: after?.cancelled, ended: after?.ended }).toEqual({
      state: 'done',
      cancelled: [waiting.id],
      ended: [granted.id],
    });
  });

  it('removes the person from Atlas even when Slack cannot look their email up (Slack must not hold an offboarding back)', async () => {
    await start('res-ob-lookup', PROJECT_ONLY);
    await sandbox.driver.command(
      PEOPLE.carol,
      'offboard dana.smith@example.com because she left',
      CHANNELS.general,
    );
    const offboarding = await posted(await askedId(PEOPLE.carol));
    // Slack's users.lookupByEmail is down for a while (every attempt of the run job).
    sandbox.slack.fail({ method: 'users.lookupByEmail', error: 'internal_error', times: 1000 });
    await sandbox.driver.clickButton(PEOPLE.bob, messageOf(offboarding), 'offboard_approve');
    const after = await waitUntil(
      async () => {
        const found = await stored().get(offboarding.id);
        return found?.state === 'done' ? found : undefined;
      },
      15_000,
      'the offboarding to finish without Slack',
    );
    const { Queue } = await import('bullmq');
    const queue = new Queue('offboard', { connection: redis, prefix: sandbox.config.redis.prefix });
    const job = await queue.getJob(`offboard-run-${offboarding.id}`);
    const jobState = await job?.getState();
    await queue.close();
    expect({
      state: after.state,
      roles: sandbox.atlas.rolesOf(DANA, PROJECT),
      runJob: jobState,
      attempts: job?.attemptsMade,
    }).toEqual({ state: 'done', roles: [], runJob: 'completed', attempts: 1 });
  });

  it('a request approved before the offboarding whose apply runs after it is not left failed with a Retry button', async () => {
    await start('res-ob-late-apply', PROJECT_ONLY, { ATLAS_MAX_RETRIES: '0', JOB_BACKOFF_MS: '3000' });
    const { id, approval } = await requestAs(
      sandbox,
      PEOPLE.dana,
      'request GROUP_DATA_ACCESS_READ_WRITE on payments-prod for 1h because analysis',
    );
    // The grant's Atlas write fails once (retryable): the request waits in `applying` for its retry.
    sandbox.atlas.inject({
      method: 'PATCH',
      status: 503,
      body: { error: 503, errorCode: 'SERVICE_UNAVAILABLE', detail: 'down' },
      times: 1,
    });
    sandbox.atlas.inject({
      method: 'PUT',
      status: 503,
      body: { error: 503, errorCode: 'SERVICE_UNAVAILABLE', detail: 'down' },
      times: 1,
    });
    await sandbox.driver.clickButton(PEOPLE.bob, approval, 'request_approve');
    await waitForState(sandbox, id, 'applying', 5_000);
    await sandbox.driver.command(
      PEOPLE.carol,
      'offboard dana.smith@example.com because she left',
      CHANNELS.general,
    );
    const offboarding = await posted(await askedId(PEOPLE.carol));
    await sandbox.driver.clickButton(PEOPLE.bob, messageOf(offboarding), 'offboard_approve');
    await waitUntil(
      async () => ((await stored().get(offboarding.id))?.state === 'done' ? true : undefined),
      10_000,
    );
    await waitUntil(async () => {
      const s = (await readRequest(sandbox, id)).state;
      return s !== 'applying' && s !== 'approved' ? true : undefined;
    }, 15_000);
    const request = await readRequest(sandbox, id);
    await waitUntil(() => (blockText(approval).includes('Cancelled by Rolecall') ? true : undefined), 5_000);
    expect(sandbox.atlas.rolesOf(DANA, PROJECT)).not.toContain('GROUP_DATA_ACCESS_READ_WRITE');
    // Expected: cancelled like the rest of her requests (or at least no Retry that can never work).
    expect({ state: request.state, retry: blockText(approval).includes('request_retry') }).toEqual({
      state: 'cancelled',
      retry: false,
    });
  });

  it('cancels the waiting requests of a person Slack no longer finds by email (deactivated first, as IT usually does)', async () => {
    await start('res-ob-deactivated', PROJECT_ONLY);
    const waiting = await requestAs(
      sandbox,
      PEOPLE.dana,
      'request GROUP_DATA_ACCESS_READ_WRITE on payments-prod for 1h because y',
    );
    await sandbox.driver.command(
      PEOPLE.carol,
      'offboard dana.smith@example.com because she left',
      CHANNELS.general,
    );
    const offboarding = await posted(await askedId(PEOPLE.carol));
    // Her Slack account was deactivated: users.lookupByEmail no longer finds her (the simulator's answer for a deleted user).
    sandbox.slack.fail({ method: 'users.lookupByEmail', error: 'users_not_found', times: 1 });
    await sandbox.driver.clickButton(PEOPLE.bob, messageOf(offboarding), 'offboard_approve');
    const done = await waitUntil(async () => {
      const found = await stored().get(offboarding.id);
      return found?.state === 'done' ? found : undefined;
    }, 10_000);
    await waitUntil(
      () => (blockText(waiting.approval).includes('request_approve') ? undefined : true),
      5_000,
    );
    expect({
      cancelled: done.cancelled,
      state: (await readRequest(sandbox, waiting.id)).state,
      approveButton: blockText(waiting.approval).includes('request_approve'),
    }).toEqual({ cancelled: [waiting.id], state: 'cancelled', approveButton: false });
  });

  it('org first: when the organization removal fails for good the projects still go, one summary', async () => {
    await start('res-ob-orgfail', POLICY, { ATLAS_MAX_RETRIES: '0' });
    sandbox.atlas.inject({
      method: 'DELETE',
      path: /\/orgs\//,
      status: 500,
      times: 1000,
      body: { error: 500, errorCode: 'UNEXPECTED_ERROR', detail: 'boom' },
    });
    await sandbox.driver.command(
      PEOPLE.carol,
      'offboard dana.smith@example.com because she left',
      CHANNELS.general,
    );
    const offboarding = await posted(await askedId(PEOPLE.carol));
    await sandbox.driver.clickButton(PEOPLE.bob, messageOf(offboarding), 'offboard_approve');
    const done = await waitUntil(async () => {
      const found = await stored().get(offboarding.id);
      return found?.state === 'done' ? found : undefined;
    }, 20_000);
    await waitUntil(
      () =>
        sandbox.slack
          .messagesIn(CHANNELS.approvals)
          .find((m) => m.text.includes(`:white_check_mark: Offboarding ${offboarding.id} of`)),
      5_000,
    );
    const summaries = sandbox.slack
      .messagesIn(CHANNELS.approvals)
      .filter((m) => m.text.includes(`:white_check_mark: Offboarding ${offboarding.id} of`));
    expect({
      outcomes: done.outcomes.map((o) => `${o.target.kind}:${o.outcome}`).sort(),
      project: sandbox.atlas.rolesOf(DANA, PROJECT),
      summaries: summaries.map((m) => m.text.slice(0, 120)),
    }).toEqual({
      outcomes: ['org:failed', 'project:removed'],
      project: [],
      summaries: [expect.stringContaining('is done')],
    });
  });
});
