import { Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import { waitUntil } from '../../dev/http-util.js';
import { ATLAS, CHANNELS, PEOPLE, type Sandbox, startSandbox } from '../../dev/sandbox.js';
import { blockText } from '../../dev/slack-flow.js';
import { DRY_RUN_TEXT } from '../../src/slack/dry-run-label.js';
import { FLOW_FLAVORS } from '../support/flow-flavors.js';
import { PROJECT, readAudit, requestAs, waitForState } from '../support/grant-flow.js';
import { TEST_REDIS_URL, uniquePrefix } from '../support/redis.js';
import { reviewFlow } from '../support/review-flow.js';

describe.each(FLOW_FLAVORS)('ATLAS_DRY_RUN on ATLAS_API=$api', (flavor) => {
  let sandbox: Sandbox;
  let redis: Redis | undefined;
  afterEach(async () => {
    await redis?.quit();
    redis = undefined;
    await sandbox.stop();
  });

  it('reads Atlas, sends it no write, records what it would have sent, and says dry run in every message', async () => {
    sandbox = await startSandbox({
      redisUrl: TEST_REDIS_URL,
      atlasApi: flavor.api,
      prefix: uniquePrefix('dry-run'),
      env: { ATLAS_DRY_RUN: 'true', RECONCILE_INTERVAL: '1h' },
    });
    // The slash command's own answer (Bolt's HTTP ack, not a Web API call) says it too.
    const help = await sandbox.driver.command(PEOPLE.alice, 'help', CHANNELS.general);
    expect(JSON.stringify(help.json)).toContain(DRY_RUN_TEXT);
    const before = sandbox.atlas.rolesOf(PEOPLE.alice.email, PROJECT);
    const since = sandbox.slack.events.length;
    const { id, approval } = await requestAs(
      sandbox,
      PEOPLE.alice,
      'request GROUP_DATA_ACCESS_READ_ONLY on payments-prod for 1h because dry run',
    );
    await sandbox.driver.clickButton(PEOPLE.bob, approval, 'request_approve');
    const applied = await waitForState(sandbox, id, 'applied');

    // Reads went to Atlas; not one write did, and the person's roles are as they were.
    const calls = sandbox.atlas.authenticatedCalls();
    expect(calls.some((c) => c.method === 'GET')).toBe(true);
    expect(calls.filter((c) => c.method !== 'GET')).toEqual([]);
    expect(sandbox.atlas.rolesOf(PEOPLE.alice.email, PROJECT)).toEqual(before);

    // Exactly the writes it would have sent, in the request and in its audit entry.
    const would = flavor
      .projectWrites(['GROUP_READ_ONLY'], ['GROUP_READ_ONLY', 'GROUP_DATA_ACCESS_READ_ONLY'])
      .map(
        (w) =>
          `${flavor.roleWrite.method} /api/atlas/v2/groups/${ATLAS.project.id}/users/${ATLAS.userIds.alice}${w.suffix} ${JSON.stringify(w.body)}`,
      );
    expect(applied.grant?.dryRun).toEqual(would);
    const entry = (await readAudit(sandbox, id)).find((e) => e.to === 'applied');
    expect(entry?.detail).toContain(`[dryRun: not sent: ${applied.grant?.dryRun?.[0]}]`);

    // Every message and view Rolecall sent says dry run (the outcome says what it would have sent).
    await waitUntil(() => (blockText(approval).includes('applied') ? true : undefined), 5_000);
    expect(blockText(approval)).toContain('DRY RUN');
    const outcome = await waitUntil(
      () =>
        sandbox.slack.events
          .slice(since)
          .map((e) => (e.kind === 'ephemeral' ? e.text : e.kind === 'message' ? e.message.text : ''))
          .find((t) => t.includes('would have sent')),
      5_000,
      'the outcome message',
    );
    expect(outcome).toContain('Dry run: nothing was sent to Atlas');
    const sent = sandbox.slack.calls.filter((c) =>
      ['chat.postMessage', 'chat.update', 'chat.postEphemeral', 'views.publish', 'response_url'].includes(
        c.method,
      ),
    );
    expect(sent.length).toBeGreaterThan(2);
    for (const call of sent) expect(String(call.args.text ?? ''), call.method).toContain(DRY_RUN_TEXT);

    // Revoked early by an approver: the revocation ends the grant and is a dry run too.
    await sandbox.driver.clickButton(PEOPLE.bob, approval, 'grant_revoke_now');
    const revoked = await waitForState(sandbox, id, 'revoked');
    const ended = (await readAudit(sandbox, id)).find((e) => e.to === 'revoked');
    // Nothing was added, so the role is found absent; nothing is sent to take it away either.
    expect(ended?.detail).toMatch(
      /^already gone: GROUP_DATA_ACCESS_READ_ONLY; \d+\.\d\d s after its end \[dryRun: not sent: nothing to send\]$/,
    );
    expect(revoked.revocation?.removed).toEqual([]);
    expect(sandbox.atlas.authenticatedCalls().filter((c) => c.method !== 'GET')).toEqual([]);

    const ready = (await (await fetch(`http://127.0.0.1:${sandbox.rolecall.port}/readyz`)).json()) as Record<
      string,
      unknown
    >;
    expect(ready).toMatchObject({ dryRun: true, status: 'ready' });
  });

  it('records an access review Revoke as not carried out, with the write it did not send', async () => {
    sandbox = await startSandbox({
      redisUrl: TEST_REDIS_URL,
      atlasApi: flavor.api,
      prefix: uniquePrefix('dry-run-review'),
      env: { ATLAS_DRY_RUN: 'true', RECONCILE_INTERVAL: '1h' },
    });
    const client = new Redis(TEST_REDIS_URL);
    redis = client;
    const flow = reviewFlow(
      () => sandbox,
      () => client,
    );
    const reviews = flow.reviews();
    await sandbox.driver.command(PEOPLE.carol, 'review payments-prod', CHANNELS.general);
    const review = await flow.postedNth();
    const line = review.lines.find((l) => l.username === 'alice@example.com');
    if (!line) throw new Error('no alice line');
    await flow.clickLine(PEOPLE.carol, review, line.n, 'review_revoke');
    const decision = await waitUntil(
      async () => {
        const d = (await reviews.decisions(review.id)).get(line.n);
        return d?.outcome ? d : undefined;
      },
      10_000,
      'the outcome',
    );
    // Nothing was sent: alice still holds the role in Atlas.
    expect(sandbox.atlas.rolesOf('alice@example.com', PROJECT)).toEqual(['GROUP_READ_ONLY']);
    expect(sandbox.atlas.authenticatedCalls().filter((c) => c.method !== 'GET')).toEqual([]);
    // The signed-off list must not tell an auditor the role is gone.
    expect(decision.detail).toMatch(
      /^DRY RUN, not carried out: removed alice@example\.com from the project: GROUP_READ_ONLY was their last role there \[dryRun: not sent: DELETE \/api\/atlas\/v2\/groups\/[0-9a-f]{24}\/users\/[0-9a-f]{24}\]$/,
    );
  });

  it('labels the Not denied notice, a view sent in an ack, too', async () => {
    sandbox = await startSandbox({
      redisUrl: TEST_REDIS_URL,
      atlasApi: flavor.api,
      prefix: uniquePrefix('dry-run-deny'),
      env: { ATLAS_DRY_RUN: 'true', RECONCILE_INTERVAL: '1h' },
    });
    const { id, approval } = await requestAs(
      sandbox,
      PEOPLE.alice,
      'request GROUP_DATA_ACCESS_READ_ONLY on payments-prod for 1h because deny race',
    );
    await sandbox.driver.clickButton(PEOPLE.carol, approval, 'request_deny');
    const opened = await waitUntil(() => sandbox.slack.callsTo('views.open')[0], 5_000, 'deny modal');
    const view = JSON.parse(String(opened.args.view)) as Record<string, unknown>;
    // The modal Slack shows carries the label...
    expect(JSON.stringify(view)).toContain('DRY RUN');
    // ...bob approves meanwhile, then carol submits her denial.
    await sandbox.driver.clickButton(PEOPLE.bob, approval, 'request_approve');
    await waitForState(sandbox, id, 'applied');
    const submit = await sandbox.driver.submitView(PEOPLE.carol, view, {
      reason: { value: { type: 'plain_text_input', value: 'too late' } },
    });
    expect(submit.json?.response_action).toBe('update');
    const shown = JSON.stringify(submit.json?.view);
    expect(shown).toContain('Not denied');
    expect(shown).toContain(DRY_RUN_TEXT);
  });

  it('labels a Workflow Builder step error (functions.completeError), shown to whoever ran the workflow', async () => {
    sandbox = await startSandbox({
      redisUrl: TEST_REDIS_URL,
      atlasApi: flavor.api,
      prefix: uniquePrefix('dry-run-workflow'),
      env: { ATLAS_DRY_RUN: 'true', RECONCILE_INTERVAL: '1h' },
    });
    await sandbox.driver.executeFunction('request_atlas_access', {
      target: 'nowhere',
      roles: 'GROUP_READ_ONLY',
      reason: 'workflow',
      interactivity: { interactor: { id: PEOPLE.alice.id }, interactivity_pointer: 'x' },
    });
    const call = await waitUntil(
      () => sandbox?.slack.callsTo('functions.completeError')[0],
      5_000,
      'functions.completeError',
    );
    expect(String(call.args.error)).toBe(
      'DRY RUN: There is no target called nowhere. Known targets: payments-prod, acme.',
    );
  });
});
