import { Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import { waitUntil } from '../../dev/http-util.js';
import { CHANNELS, PEOPLE, SANDBOX_POLICY, type Sandbox, startSandbox } from '../../dev/sandbox.js';
import { blockText, offboardingIdIn } from '../../dev/slack-flow.js';
import type { AtlasScope } from '../../src/lib/scope.js';
import { expectValidMessageBlocks } from '../support/block-kit.js';
import { ephemeralAfter, ORG, PROJECT, readRequest, requestAs, waitForState } from '../support/grant-flow.js';
import { TEST_REDIS_URL, uniquePrefix } from '../support/redis.js';
import { offboardingFlow } from '../support/review-flow.js';

const BETA: AtlasScope = { kind: 'org', id: '5f1a2b3c4d5e6f7a8b9c0d20' };
const GAMMA: AtlasScope = { kind: 'org', id: '5f1a2b3c4d5e6f7a8b9c0d30' };
const ANALYTICS: AtlasScope = { kind: 'project', id: '5f1a2b3c4d5e6f7a8b9c0d2e' };
const DANA = PEOPLE.dana.email.toLowerCase();

/** Two organizations and three projects' worth of targets: acme (with payments-prod), beta, and a project of gamma. */
const POLICY = `${SANDBOX_POLICY.replace(
  'approvalsChannel: C0APPROVALS\n',
  'approvalsChannel: C0APPROVALS\noffboarders: [U0CAROL]\noffboardApprovers: [U0BOB]\n',
)}  - name: beta
    org: ${BETA.id}
    approvers: [U0BOB]
    roles: [ORG_READ_ONLY]
  - name: analytics
    project: ${ANALYTICS.id}
    approvers: [U0BOB]
    roles: [GROUP_READ_ONLY]
`;

describe('offboarding (end to end)', () => {
  let sandbox: Sandbox;
  let redis: Redis;
  afterEach(async () => {
    await redis.quit();
    await sandbox.stop();
  });

  const start = async (label: string) => {
    sandbox = await startSandbox({
      redisUrl: TEST_REDIS_URL,
      prefix: uniquePrefix(label),
      policy: POLICY,
      env: { JOB_BACKOFF_MS: '50' },
      atlas: {
        orgs: [
          { id: BETA.id, name: 'beta' },
          { id: GAMMA.id, name: 'gamma' },
        ],
        projects: [{ id: ANALYTICS.id, name: 'analytics', orgId: GAMMA.id }],
      },
    });
    redis = new Redis(TEST_REDIS_URL);
    // By hand, as an owner would: dana's standing access on the other targets.
    sandbox.atlas.setRoles(DANA, BETA, ['ORG_READ_ONLY']);
    sandbox.atlas.setRoles(DANA, GAMMA, ['ORG_MEMBER']);
    sandbox.atlas.setRoles(DANA, ANALYTICS, ['GROUP_READ_ONLY']);
  };
  const { stored, messageOf, posted, askedId } = offboardingFlow(
    () => sandbox,
    () => redis,
  );

  it('removes a leaving person from every target once approved, retrying the target that fails', async () => {
    await start('offboard');
    const granted = await requestAs(
      sandbox,
      PEOPLE.dana,
      'request GROUP_DATA_ACCESS_READ_ONLY on payments-prod for 1h because x',
    );
    await sandbox.driver.clickButton(PEOPLE.bob, granted.approval, 'request_approve');
    await waitForState(sandbox, granted.id, 'applied');
    const waiting = await requestAs(
      sandbox,
      PEOPLE.dana,
      'request GROUP_DATA_ACCESS_READ_WRITE on payments-prod for 1h because y',
    );

    let since = sandbox.slack.events.length;
    await sandbox.driver.command(
      PEOPLE.mallory,
      'offboard dana.smith@example.com because I said so',
      CHANNELS.general,
    );
    expect(await ephemeralAfter(sandbox, PEOPLE.mallory, since, /offboard/)).toContain(
      'Only the people the policy names under offboarders: can offboard someone.',
    );

    await sandbox.driver.command(
      PEOPLE.carol,
      'offboard Dana.Smith@Example.com because she left the company',
      CHANNELS.general,
    );
    const asked = await ephemeralAfter(sandbox, PEOPLE.carol, since, /Offboarding \*OB-[0-9A-Z]{7}\*/);
    expect(asked).toContain('is waiting for approval in <#C0APPROVALS>');
    const id = offboardingIdIn(asked);
    const pending = await posted(id);
    const message = messageOf(pending);
    expectValidMessageBlocks(message.blocks);
    expect(blockText(message)).toContain(
      'asks to remove *dana.smith@example.com* from every organization and project',
    );

    since = sandbox.slack.events.length;
    await sandbox.driver.clickButton(PEOPLE.carol, message, 'offboard_approve');
    await ephemeralAfter(sandbox, PEOPLE.carol, since, /can’t decide on an offboarding that you asked for/);

    // beta's removal fails twice (Atlas 503), then works; the other targets do not wait for it.
    sandbox.atlas.inject({
      method: 'DELETE',
      path: new RegExp(`/orgs/${BETA.id}/users/`),
      status: 503,
      times: 2,
      body: { error: 503, errorCode: 'SERVICE_UNAVAILABLE', detail: 'down' },
    });
    await sandbox.driver.clickButton(PEOPLE.bob, message, 'offboard_approve');
    const done = await waitUntil(
      async () => {
        const found = await stored().get(id);
        return found?.state === 'done' ? found : undefined;
      },
      20_000,
      'the offboarding to finish',
    );

    expect(done.cancelled).toEqual([waiting.id]);
    expect(done.ended).toEqual([granted.id]);
    expect((await readRequest(sandbox, waiting.id)).state).toBe('cancelled');
    for (const scope of [ORG, PROJECT, BETA, ANALYTICS])
      expect(sandbox.atlas.rolesOf(DANA, scope)).toEqual([]);
    const outcomes = Object.fromEntries(done.outcomes.map((o) => [o.target.name, o.outcome]));
    expect(outcomes).toEqual({
      acme: 'removed',
      beta: 'removed',
      'payments-prod': expect.stringMatching(/^(removed|not a member)$/),
      analytics: 'removed',
    });
    expect(done.outcomes.find((o) => o.target.name === 'beta')?.before).toEqual(['ORG_READ_ONLY']);
    const betaDeletes = sandbox.atlas
      .authenticatedCalls()
      .filter((c) => c.method === 'DELETE' && c.path.includes(`/orgs/${BETA.id}/users/`));
    expect(betaDeletes.map((c) => c.status)).toEqual([503, 503, 204]);

    await waitUntil(
      () => (blockText(message).includes('*done*') ? true : undefined),
      5_000,
      'the table to finish',
    );
    expectValidMessageBlocks(message.blocks);
    const table = blockText(message);
    expect(table).toContain(
      'org *beta* · before: `ORG_READ_ONLY` · :white_check_mark: removed from the organization and its projects',
    );
    expect(table).toContain(
      'project *analytics* · before: `GROUP_READ_ONLY` · :white_check_mark: removed from the project',
    );
    expect(table).not.toContain('offboard_approve');
  });

  it('never removes the last owner of an organization, and says why', async () => {
    await start('offboard-owner');
    sandbox.atlas.setRoles(DANA, BETA, ['ORG_OWNER']);
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
    expect(done.outcomes.find((o) => o.target.name === 'beta')).toMatchObject({
      outcome: 'refused',
      detail: expect.stringContaining('last owner of the organization'),
    });
    expect(sandbox.atlas.rolesOf(DANA, BETA)).toEqual(['ORG_OWNER']);
    expect(sandbox.atlas.rolesOf(DANA, ORG)).toEqual([]);
  });

  it('lets a Deny end it with nothing changed', async () => {
    await start('offboard-deny');
    await sandbox.driver.command(
      PEOPLE.carol,
      'offboard dana.smith@example.com because she left',
      CHANNELS.general,
    );
    const offboarding = await posted(await askedId(PEOPLE.carol));
    await sandbox.driver.clickButton(PEOPLE.bob, messageOf(offboarding), 'offboard_deny');
    await waitUntil(
      async () => ((await stored().get(offboarding.id))?.state === 'denied' ? true : undefined),
      5_000,
    );
    await waitUntil(
      () => (blockText(messageOf(offboarding)).includes('*Denied* by <@U0BOB>') ? true : undefined),
      5_000,
    );
    expect(sandbox.atlas.rolesOf(DANA, BETA)).toEqual(['ORG_READ_ONLY']);
    expect(sandbox.atlas.authenticatedCalls().filter((c) => c.method === 'DELETE')).toEqual([]);
  });
});
