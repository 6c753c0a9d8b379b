import { writeFile } from 'node:fs/promises';
import { Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import { waitUntil } from '../../dev/http-util.js';
import { ATLAS, CHANNELS, PEOPLE, type Sandbox, startSandbox } from '../../dev/sandbox.js';
import type { ViewValues } from '../../dev/slack-driver.js';
import { blockText, offboardingIdIn, waitForApprovalMessage, waitForDm } from '../../dev/slack-flow.js';
import type { SimulatedMessage } from '../../dev/slack-simulator.js';
import { redisKeys } from '../../src/lib/redis-keys.js';
import type { AccessRequest } from '../../src/requests/model.js';
import { buildDenyModal } from '../../src/slack/blocks/deny-modal.js';
import { expectValidHomeView, expectValidMessageBlocks, expectValidModal } from '../support/block-kit.js';
import {
  ephemeralAfter,
  ORG,
  type Person,
  PROJECT,
  readAudit,
  readRequest,
  spansOf,
  waitForState,
} from '../support/grant-flow.js';
import { TEST_REDIS_URL, uniquePrefix } from '../support/redis.js';
import { offboardingFlow } from '../support/review-flow.js';

/**
 * Both targets are approved by Bob and Carol; Dave approves the project only. Carol offboards, Bob
 * approves offboardings.
 */
const TARGETS = `approvalsChannel: ${CHANNELS.approvals}
offboarders: [${PEOPLE.carol.id}]
offboardApprovers: [${PEOPLE.bob.id}]
targets:
  - name: ${ATLAS.project.name}
    project: ${ATLAS.project.id}
    approvers: [${PEOPLE.bob.id}, ${PEOPLE.carol.id}, ${PEOPLE.dave.id}]
    roles: [GROUP_READ_ONLY, GROUP_DATA_ACCESS_READ_ONLY, GROUP_DATA_ACCESS_READ_WRITE]
  - name: ${ATLAS.org.name}
    org: ${ATLAS.org.id}
    approvers: [${PEOPLE.bob.id}, ${PEOPLE.carol.id}]
    roles: [ORG_READ_ONLY, ORG_BILLING_READ_ONLY, ORG_GROUP_CREATOR]
    maxDuration: 4h
`;

const BUNDLE = `bundles:
  incident-responder:
    - GROUP_DATA_ACCESS_READ_ONLY on ${ATLAS.project.name}
    - ORG_READ_ONLY on ${ATLAS.org.name}
`;

const POLICY = `${TARGETS}${BUNDLE}`;

/** The organization's role write on the default sandbox flavor (atlas-v2: one PUT of the role list). */
const ORG_ROLE_WRITE = {
  method: 'PUT',
  path: /^\/api\/atlas\/v2\/orgs\/[0-9a-f]{24}\/users\/[0-9a-f]{24}\/roles$/,
};

/** A refusal Atlas gives for good: the part it hits fails at once and gets Retry. */
const REJECTED = {
  status: 400,
  body: { error: 400, errorCode: 'INVALID_ATTRIBUTE', detail: 'simulated refusal', reason: 'Bad Request' },
};

const DECIDED: readonly AccessRequest['state'][] = ['approved', 'applying', 'applied', 'failed'];

describe('bundles under attack (end to end)', () => {
  let sandbox: Sandbox;
  let redis: Redis | undefined;

  afterEach(async () => {
    await redis?.quit();
    redis = undefined;
    await sandbox.stop();
  });

  const start = async (
    label: string,
    options: {
      policy?: string;
      env?: Record<string, string>;
      projects?: { id: string; name: string }[];
    } = {},
  ) => {
    sandbox = await startSandbox({
      redisUrl: TEST_REDIS_URL,
      prefix: uniquePrefix(label),
      env: {
        JOB_BACKOFF_MS: '50',
        ATLAS_MAX_RETRIES: '0',
        RECONCILE_INTERVAL: '1h',
        REMIND_BEFORE: '0',
        ...options.env,
      },
      policy: options.policy ?? POLICY,
      ...(options.projects
        ? { atlas: { projects: options.projects.map((p) => ({ ...p, orgId: ATLAS.org.id })) } }
        : {}),
    });
  };

  /** `person` asks for a bundle; returns the parts' ids in the policy's order. */
  const askForBundle = async (
    person: Person,
    text: string,
    name = 'incident-responder',
  ): Promise<string[]> => {
    const since = sandbox.slack.events.length;
    await sandbox.driver.command(person, text, CHANNELS.general);
    const filed = await ephemeralAfter(sandbox, person, since, new RegExp(`Bundle \\*${name}\\* is filed`));
    return [...filed.matchAll(/AR-[0-9A-Z]+/g)].map((m) => m[0]);
  };

  /** Both parts of incident-responder for `person`, each posted with its Approve button. */
  const bundleFor = async (person: Person, duration = '1h') => {
    const [project, org] = await askForBundle(
      person,
      `request bundle:incident-responder for ${duration} because incident 42`,
    );
    if (!project || !org) throw new Error('two parts expected');
    return {
      project,
      org,
      projectMessage: await postedForDecision(project),
      orgMessage: await postedForDecision(org),
    };
  };

  /** The approval message of a part, once its Approve button is there (it was checked against Atlas). */
  const postedForDecision = async (id: string): Promise<SimulatedMessage> => {
    const message = await waitForApprovalMessage(sandbox.slack, id);
    await waitUntil(
      () => (blockText(message).includes('request_approve') ? true : undefined),
      5_000,
      `${id} posted`,
    );
    return message;
  };

  /** What `person` is told in an ephemeral reply after clicking `actionId` on `message`. */
  const clickAndHear = async (
    person: Person,
    message: SimulatedMessage,
    actionId: string,
    pattern: RegExp,
  ) => {
    const since = sandbox.slack.events.length;
    await sandbox.driver.clickButton(person, message, actionId);
    return ephemeralAfter(sandbox, person, since, pattern);
  };

  /** What `person` is told after typing `/atlas-access text`. */
  const typeAndHear = async (person: Person, text: string, pattern: RegExp) => {
    const since = sandbox.slack.events.length;
    await sandbox.driver.command(person, text, CHANNELS.general);
    return ephemeralAfter(sandbox, person, since, pattern);
  };

  const statesOf = async (...ids: string[]) =>
    Promise.all(ids.map(async (id) => (await readRequest(sandbox, id)).state));

  it("refuses a stranger's Approve, Deny, Cancel, End now, Revoke now and Retry on every part, changing nothing", async () => {
    await start('bundle-stranger');
    sandbox.atlas.inject({ ...ORG_ROLE_WRITE, ...REJECTED, times: 1 });
    const { project, org, projectMessage, orgMessage } = await bundleFor(PEOPLE.alice);
    const mallory = PEOPLE.mallory;
    for (const message of [projectMessage, orgMessage]) {
      expect(await clickAndHear(mallory, message, 'request_approve', /decided as a whole/)).toContain(
        'only someone allowed on every part may',
      );
      expect(await clickAndHear(mallory, message, 'request_deny', /decided as a whole/)).toContain(
        'You can’t deny this',
      );
    }
    expect(await typeAndHear(mallory, `cancel ${org}`, /can cancel it/)).toContain(
      `Only the person who asked for ${project}, or the person it is for, can cancel it.`,
    );
    expect(await statesOf(project, org)).toEqual(['pending', 'pending']);

    await sandbox.driver.clickButton(PEOPLE.carol, projectMessage, 'request_approve');
    await waitForState(sandbox, project, 'applied');
    await waitForState(sandbox, org, 'failed');
    await waitUntil(
      () => (blockText(orgMessage).includes('request_retry') ? true : undefined),
      5_000,
      'Retry',
    );
    await waitUntil(
      () => (blockText(projectMessage).includes('grant_revoke_now') ? true : undefined),
      5_000,
      'Revoke now',
    );
    expect(await typeAndHear(mallory, `end ${project}`, /can end it/)).toContain(
      `Only the person who holds ${project}, or an approver of its roles, can end it.`,
    );
    expect(await clickAndHear(mallory, projectMessage, 'grant_revoke_now', /can end it/)).toContain(
      `Only the person who holds ${project}, or an approver of its roles, can end it.`,
    );
    expect(await clickAndHear(mallory, orgMessage, 'request_retry', /can’t|only/i)).toContain(
      'You can’t retry this',
    );
    expect(await statesOf(project, org)).toEqual(['applied', 'failed']);
    expect(sandbox.atlas.rolesOf(PEOPLE.alice.email, PROJECT)).toContain('GROUP_DATA_ACCESS_READ_ONLY');
    expect(sandbox.atlas.rolesOf(PEOPLE.alice.email, ORG)).not.toContain('ORG_READ_ONLY');
  });

  it('refuses the requester approving or denying their own bundle, though they approve every part', async () => {
    await start('bundle-self');
    // Carol approves both targets; she asks for herself (a member of acme, not yet of the project).
    sandbox.atlas.setRoles(PEOPLE.carol.email, ORG, ['ORG_MEMBER']);
    const { project, org, projectMessage, orgMessage } = await bundleFor(PEOPLE.carol);
    for (const message of [projectMessage, orgMessage]) {
      expect(await clickAndHear(PEOPLE.carol, message, 'request_approve', /decided as a whole/)).toContain(
        'You can’t decide on a request that you made or that gives you access.',
      );
      expect(await clickAndHear(PEOPLE.carol, message, 'request_deny', /decided as a whole/)).toContain(
        'You can’t decide on a request that you made',
      );
    }
    expect(await statesOf(project, org)).toEqual(['pending', 'pending']);
    // Bob decides it.
    await sandbox.driver.clickButton(PEOPLE.bob, orgMessage, 'request_approve');
    expect((await waitForState(sandbox, project, 'applied')).decision?.by).toBe(PEOPLE.bob.id);
    expect((await waitForState(sandbox, org, 'applied')).decision?.by).toBe(PEOPLE.bob.id);
  });

  it('refuses an approver allowed on one part only, on either part’s message, for Approve, Deny and Revoke now', async () => {
    await start('bundle-one-part');
    const { project, org, projectMessage, orgMessage } = await bundleFor(PEOPLE.alice);
    const dave = PEOPLE.dave;
    const partOf = `Part ${org} (ORG_READ_ONLY on acme): You can’t`;
    for (const message of [orgMessage, projectMessage]) {
      expect(await clickAndHear(dave, message, 'request_approve', /decided as a whole/)).toContain(partOf);
      expect(await clickAndHear(dave, message, 'request_deny', /decided as a whole/)).toContain(partOf);
    }
    expect(await statesOf(project, org)).toEqual(['pending', 'pending']);
    await sandbox.driver.clickButton(PEOPLE.carol, orgMessage, 'request_approve');
    await waitForState(sandbox, project, 'applied');
    await waitForState(sandbox, org, 'applied');
    await waitUntil(
      () => (blockText(projectMessage).includes('grant_revoke_now') ? true : undefined),
      5_000,
      'Revoke now',
    );
    // Dave approves payments-prod, but the bundle ends as a whole: Revoke now is for someone allowed on every part.
    expect(await clickAndHear(dave, projectMessage, 'grant_revoke_now', /can end it/)).toContain(
      `Part ${org} (ORG_READ_ONLY on acme): Only the person who holds ${org}, or an approver of its roles, can end it.`,
    );
    expect(await statesOf(project, org)).toEqual(['applied', 'applied']);
  });

  it('turns Approve clicks by two approvers on two different parts at the same moment into one decision', async () => {
    await start('bundle-two-approvers');
    for (const grantee of [PEOPLE.alice, PEOPLE.dana, PEOPLE.mallory]) {
      const { project, org, projectMessage, orgMessage } = await bundleFor(grantee);
      const since = sandbox.slack.events.length;
      await Promise.all([
        sandbox.driver.clickButton(PEOPLE.bob, projectMessage, 'request_approve'),
        sandbox.driver.clickButton(PEOPLE.carol, orgMessage, 'request_approve'),
      ]);
      const parts = [
        await waitForState(sandbox, project, 'applied'),
        await waitForState(sandbox, org, 'applied'),
      ];
      // One decision: one decider, one instant, one end; each part approved once and applied once.
      expect(new Set(parts.map((p) => p.decision?.by)).size).toBe(1);
      expect(parts[1]?.decision?.at).toBe(parts[0]?.decision?.at);
      expect(parts[1]?.grant?.revokeAt).toBe(parts[0]?.grant?.revokeAt);
      for (const id of [project, org]) {
        expect((await readAudit(sandbox, id)).filter((e) => e.to === 'approved')).toHaveLength(1);
      }
      const email = grantee.email.toLowerCase();
      expect(spansOf(sandbox.atlas.timeline(email, PROJECT), 'GROUP_DATA_ACCESS_READ_ONLY')).toHaveLength(1);
      expect(spansOf(sandbox.atlas.timeline(email, ORG), 'ORG_READ_ONLY')).toHaveLength(1);
      // The approver who did not decide is told who did, as with a request of its own.
      const decider = parts[0]?.decision?.by === PEOPLE.bob.id ? PEOPLE.bob : PEOPLE.carol;
      const other = decider === PEOPLE.bob ? PEOPLE.carol : PEOPLE.bob;
      expect(await ephemeralAfter(sandbox, other, since, /already approved/)).toContain(
        `by <@${decider.id}>`,
      );
    }
  });

  it('never leaves a bundle half decided when one approver denies on one part while another approves the other', async () => {
    await start('bundle-deny-race');
    for (const grantee of [PEOPLE.alice, PEOPLE.dana, PEOPLE.mallory]) {
      const { project, org, orgMessage } = await bundleFor(grantee);
      const denyView = { ...buildDenyModal(project), id: `V0DENY${grantee.name}` } as unknown as Record<
        string,
        unknown
      >;
      const reason = { reason: { value: { type: 'plain_text_input', value: 'not now' } } };
      await Promise.all([
        sandbox.driver.submitView(PEOPLE.bob, denyView, reason),
        sandbox.driver.clickButton(PEOPLE.carol, orgMessage, 'request_approve'),
      ]);
      const states = await waitUntil(
        async () => {
          const now = await statesOf(project, org);
          return now.includes('pending') ? undefined : now;
        },
        5_000,
        'both parts decided',
      );
      const denied = states.every((s) => s === 'denied');
      const approved = states.every((s) => DECIDED.includes(s));
      expect({ states, whole: denied || approved }).toEqual({ states, whole: true });
    }
  });

  it('never leaves a bundle half decided when the requester cancels at the moment an approver approves', async () => {
    await start('bundle-cancel-race');
    for (const grantee of [PEOPLE.alice, PEOPLE.dana, PEOPLE.mallory]) {
      const { project, org, orgMessage } = await bundleFor(grantee);
      await Promise.all([
        sandbox.driver.command(grantee, `cancel ${project}`, CHANNELS.general),
        sandbox.driver.clickButton(PEOPLE.carol, orgMessage, 'request_approve'),
      ]);
      const states = await waitUntil(
        async () => {
          const now = await statesOf(project, org);
          return now.includes('pending') ? undefined : now;
        },
        5_000,
        'both parts decided',
      );
      const cancelled = states.every((s) => s === 'cancelled');
      const approved = states.every((s) => DECIDED.includes(s));
      expect({ states, whole: cancelled || approved }).toEqual({ states, whole: true });
    }
  });

  it('withdraws the other part and takes its buttons away when a part is refused after reading Atlas', async () => {
    await start('bundle-refused-part');
    // Alice holds ORG_READ_ONLY already, outside Rolecall: that part is refused as nothing to request.
    sandbox.atlas.setRoles(PEOPLE.alice.email, ORG, ['ORG_MEMBER', 'ORG_READ_ONLY']);
    const [project, org] = await askForBundle(
      PEOPLE.alice,
      'request bundle:incident-responder for 1h because incident 1',
    );
    if (!project || !org) throw new Error('two parts expected');
    await waitForState(sandbox, org, 'refused');
    await waitForState(sandbox, project, 'cancelled');
    const message = await waitForApprovalMessage(sandbox.slack, project).catch(() => undefined);
    if (message) {
      await waitUntil(
        () => (blockText(message).includes('request_approve') ? undefined : true),
        5_000,
        'the withdrawn part without Approve',
      );
      expect(blockText(message)).not.toContain('request_approve');
    }
    // Nothing was granted, and an approver's late click is refused.
    expect(sandbox.atlas.rolesOf(PEOPLE.alice.email, PROJECT)).not.toContain('GROUP_DATA_ACCESS_READ_ONLY');
    expect(await statesOf(project, org)).toEqual(['cancelled', 'refused']);
  });

  it('grants nothing when Redis lost one part before the decision, and says why', async () => {
    await start('bundle-lost-pending');
    const { project, org, projectMessage } = await bundleFor(PEOPLE.alice);
    redis = new Redis(TEST_REDIS_URL);
    // One part's record gone (an eviction, a failover to a replica that never got it, a filing cut short).
    await redis.del(redisKeys(sandbox.config.redis.prefix).request(org));
    const said = await clickAndHear(PEOPLE.carol, projectMessage, 'request_approve', /cannot go ahead/);
    expect(said).toContain(`Bundle incident-responder cannot go ahead: part ${org}`);
    expect((await waitForState(sandbox, project, 'cancelled')).decision?.note).toContain(
      'goes ahead only as a whole',
    );
    expect(sandbox.atlas.rolesOf(PEOPLE.alice.email, PROJECT)).not.toContain('GROUP_DATA_ACCESS_READ_ONLY');
  });

  it('still ends every part it still has on time when Redis lost one applied part', async () => {
    await start('bundle-lost-applied');
    const { project, org, projectMessage } = await bundleFor(PEOPLE.alice, '6s');
    await sandbox.driver.clickButton(PEOPLE.carol, projectMessage, 'request_approve');
    const applied = await waitForState(sandbox, project, 'applied');
    await waitForState(sandbox, org, 'applied');
    redis = new Redis(TEST_REDIS_URL);
    await redis.del(redisKeys(sandbox.config.redis.prefix).request(org));
    const end = applied.grant?.revokeAt ?? 0;
    const ended = await waitForState(sandbox, project, 'revoked', 20_000);
    expect(ended.revocation?.revokedAt).toBeGreaterThanOrEqual(end);
    expect(ended.revocation?.revokedAt).toBeLessThan(end + 4_000);
    expect(sandbox.atlas.rolesOf(PEOPLE.alice.email, PROJECT)).not.toContain('GROUP_DATA_ACCESS_READ_ONLY');
  });

  it('refuses a retry of a failed part once the bundle’s time is over, and never grants it past the end', async () => {
    await start('bundle-retry-late');
    sandbox.atlas.inject({ ...ORG_ROLE_WRITE, ...REJECTED, times: 1 });
    const { project, org, projectMessage, orgMessage } = await bundleFor(PEOPLE.alice, '5s');
    await sandbox.driver.clickButton(PEOPLE.carol, projectMessage, 'request_approve');
    await waitForState(sandbox, org, 'failed');
    const ended = await waitForState(sandbox, project, 'revoked', 20_000);
    const said = await clickAndHear(PEOPLE.carol, orgMessage, 'request_retry', /has ended/);
    expect(said).toContain(`${org} is part of bundle incident-responder, whose access has ended`);
    expect((await readRequest(sandbox, org)).state).toBe('failed');
    expect(spansOf(sandbox.atlas.timeline(PEOPLE.alice.email, ORG), 'ORG_READ_ONLY')).toEqual([]);
    expect(ended.grant?.revokeAt).toBe((ended.decision?.at ?? 0) + 5_000);
  });

  it('never lets a failed part retried at the moment End now ends the bundle outlive it', async () => {
    await start('bundle-retry-end-race');
    for (const grantee of [PEOPLE.alice, PEOPLE.dana, PEOPLE.mallory]) {
      sandbox.atlas.inject({ ...ORG_ROLE_WRITE, ...REJECTED, times: 1 });
      const { project, org, projectMessage, orgMessage } = await bundleFor(grantee);
      await sandbox.driver.clickButton(PEOPLE.carol, projectMessage, 'request_approve');
      await waitForState(sandbox, project, 'applied');
      await waitForState(sandbox, org, 'failed');
      await waitUntil(
        () => (blockText(orgMessage).includes('request_retry') ? true : undefined),
        5_000,
        'Retry',
      );
      // The grantee ends the bundle (on the failed part's id) while Carol retries that part.
      const since = sandbox.slack.events.length;
      await Promise.all([
        sandbox.driver.command(grantee, `end ${org}`, CHANNELS.general),
        sandbox.driver.clickButton(PEOPLE.carol, orgMessage, 'request_retry'),
      ]);
      await waitForState(sandbox, project, 'revoked');
      // Settled: the retry was refused (told to Carol), or it ran (a second attempt) and ended where it
      // cannot hold the role: failed as BUNDLE_ENDED, or applied and ended with the bundle.
      const refused = () =>
        sandbox.slack.events
          .slice(since)
          .some(
            (e) => e.kind === 'ephemeral' && e.user === PEOPLE.carol.id && e.text.includes('ended early'),
          );
      const final = await waitUntil(
        async () => {
          const part = await readRequest(sandbox, org);
          const settled = ['failed', 'revoked'].includes(part.state) && (part.attempt > 1 || refused());
          return settled ? part : undefined;
        },
        10_000,
        `${org} settled`,
      );
      expect(final.state === 'revoked' ? final.endedEarly?.by : final.failure?.code).toBe(
        final.state === 'revoked' ? grantee.id : final.attempt > 1 ? 'BUNDLE_ENDED' : 'ATLAS_REJECTED',
      );
      await waitUntil(
        () =>
          sandbox.atlas.rolesOf(grantee.email.toLowerCase(), ORG).includes('ORG_READ_ONLY')
            ? undefined
            : true,
        5_000,
        'ORG_READ_ONLY gone',
      );
      expect(sandbox.atlas.rolesOf(grantee.email.toLowerCase(), ORG)).not.toContain('ORG_READ_ONLY');
    }
  });

  it('refuses to extend one part, by command, and offers no Extend on the reminder', async () => {
    await start('bundle-extend', { env: { REMIND_BEFORE: '15s' } });
    const { project, org, projectMessage } = await bundleFor(PEOPLE.alice, '20s');
    await sandbox.driver.clickButton(PEOPLE.carol, projectMessage, 'request_approve');
    await waitForState(sandbox, project, 'applied');
    await waitForState(sandbox, org, 'applied');
    expect(await typeAndHear(PEOPLE.alice, `extend ${org} for 1h because more`, /end together/)).toContain(
      `${org} is part of bundle incident-responder, whose parts end together; one part cannot be extended.`,
    );
    // The reminder before the end offers End now, no Extend, and does not invite to extend either.
    const reminder = await waitForDm(
      sandbox.slack,
      PEOPLE.alice.id,
      /:alarm_clock: Your Atlas access/,
      15_000,
    );
    expect(blockText(reminder)).toContain('grant_end');
    expect(blockText(reminder)).not.toContain('grant_extend');
    const dms = sandbox.slack.messagesIn(sandbox.slack.dmChannelOf(PEOPLE.alice.id));
    expect(dms.map((m) => blockText(m)).some((text) => text.includes('grant_extend'))).toBe(false);
    expect(reminder.text).not.toContain('Extend it');
  });

  it('lets the approvers deny, and nobody approve, a pending bundle whose target a reload removed', async () => {
    await start('bundle-reload-target');
    const { project, org, projectMessage, orgMessage } = await bundleFor(PEOPLE.alice);
    // acme leaves the policy, and the bundle with it (a bundle naming a target the policy lacks is refused).
    await writeFile(
      sandbox.config.policyFile,
      TARGETS.slice(0, TARGETS.indexOf(`  - name: ${ATLAS.org.name}`)),
    );
    await sandbox.rolecall.reloadPolicy();
    const said = await clickAndHear(
      PEOPLE.carol,
      projectMessage,
      'request_approve',
      /no longer in the policy/,
    );
    expect(said).toContain(`acme is no longer in the policy, so ${org} can no longer be granted.`);
    expect(await statesOf(project, org)).toEqual(['pending', 'pending']);
    // Carol still approves what is left; she denies the bundle on acme's message: both parts are denied.
    await sandbox.driver.clickButton(PEOPLE.carol, orgMessage, 'request_deny');
    const denyView = await waitUntil(
      () =>
        sandbox.slack.events.find(
          (e) => e.kind === 'view' && e.user === PEOPLE.carol.id && JSON.stringify(e.view).includes(org),
        ),
      5_000,
      'the deny modal',
    ).then((e) => (e.kind === 'view' ? e.view : {}));
    await sandbox.driver.submitView(PEOPLE.carol, denyView, {
      reason: { value: { type: 'plain_text_input', value: 'acme is gone' } },
    });
    await waitForState(sandbox, project, 'denied');
    await waitForState(sandbox, org, 'denied');
    expect(sandbox.atlas.rolesOf(PEOPLE.alice.email, PROJECT)).not.toContain('GROUP_DATA_ACCESS_READ_ONLY');
  });

  it('keeps counting when a reload makes one pending part need two approvals', async () => {
    await start('bundle-reload-approvals');
    const { project, org, projectMessage } = await bundleFor(PEOPLE.alice);
    await writeFile(
      sandbox.config.policyFile,
      POLICY.replace(
        '    maxDuration: 4h\n',
        `    maxDuration: 4h\n    rules:\n      - roles: [ORG_READ_ONLY]\n        approvals: 2\n        approvers: [${PEOPLE.bob.id}, ${PEOPLE.carol.id}]\n`,
      ),
    );
    await sandbox.rolecall.reloadPolicy();
    await sandbox.driver.clickButton(PEOPLE.carol, projectMessage, 'request_approve');
    await waitUntil(
      async () => ((await readRequest(sandbox, org)).approvals.length === 1 ? true : undefined),
      5_000,
      'the first approval',
    );
    expect(await statesOf(project, org)).toEqual(['pending', 'pending']);
    await sandbox.driver.clickButton(PEOPLE.bob, projectMessage, 'request_approve');
    const parts = [
      await waitForState(sandbox, project, 'applied'),
      await waitForState(sandbox, org, 'applied'),
    ];
    expect(parts[0]?.decision?.at).toBe(parts[1]?.decision?.at);
  });

  it('ends the applied part and cancels the failed one when the grantee is offboarded mid-bundle', async () => {
    await start('bundle-offboard');
    redis = new Redis(TEST_REDIS_URL);
    const { posted, messageOf } = offboardingFlow(
      () => sandbox,
      () => redis as Redis,
    );
    sandbox.atlas.inject({ ...ORG_ROLE_WRITE, ...REJECTED, times: 1 });
    const { project, org, projectMessage, orgMessage } = await bundleFor(PEOPLE.alice);
    await sandbox.driver.clickButton(PEOPLE.carol, projectMessage, 'request_approve');
    await waitForState(sandbox, project, 'applied');
    await waitForState(sandbox, org, 'failed');
    const asked = await typeAndHear(
      PEOPLE.carol,
      'offboard alice@example.com because she left',
      /Offboarding \*OB-[0-9A-Z]+\*/,
    );
    const offboarding = await posted(offboardingIdIn(asked));
    await sandbox.driver.clickButton(PEOPLE.bob, messageOf(offboarding), 'offboard_approve');
    // The applied part is ended (its revocation may race the offboarding's own removal from the project:
    // a revocation that then finds her gone is not a bundle matter), the failed part cancelled.
    await waitForState(sandbox, project, ['revoking', 'revoked', 'revoke_failed'], 20_000);
    await waitForState(sandbox, org, 'cancelled', 20_000);
    await waitUntil(
      () => (sandbox.atlas.rolesOf(PEOPLE.alice.email, PROJECT).length === 0 ? true : undefined),
      20_000,
      'alice out of the project',
    );
    // The failed part's Retry is taken away: nothing can grant it to someone offboarded.
    await waitUntil(
      () => (blockText(orgMessage).includes('request_retry') ? undefined : true),
      5_000,
      'Retry taken away',
    );
    expect(blockText(orgMessage)).not.toContain('request_retry');
    expect(sandbox.atlas.rolesOf(PEOPLE.alice.email, ORG)).not.toContain('ORG_READ_ONLY');
  });

  it('shows every part of a bundle of 10 long-named targets on each part’s message, within Block Kit’s limits', async () => {
    const projects = Array.from({ length: 10 }, (_, i) => ({
      id: `5f1a2b3c4d5e6f7a8b9c${String(i).padStart(4, '0')}`,
      name: `p${i}-${'x'.repeat(61)}`.slice(0, 64),
    }));
    const roles = [
      'GROUP_READ_ONLY',
      'GROUP_DATA_ACCESS_READ_ONLY',
      'GROUP_CLUSTER_MANAGER',
      'GROUP_DATA_ACCESS_READ_WRITE',
    ];
    const targets = projects
      .map(
        (p) =>
          `  - name: ${p.name}\n    project: ${p.id}\n    approvers: [${PEOPLE.carol.id}]\n    roles: [${roles.join(', ')}]\n`,
      )
      .join('');
    const entries = projects.flatMap((p) => roles.map((r) => `    - ${r} on ${p.name}\n`)).join('');
    await start('bundle-many', {
      policy: `approvalsChannel: ${CHANNELS.approvals}\ntargets:\n${targets}bundles:\n  wide_bundle-x:\n${entries}`,
      projects,
    });
    const ids = await askForBundle(
      PEOPLE.alice,
      'request bundle:wide_bundle-x for 1h because drill',
      'wide_bundle-x',
    );
    // The requester's answer names every part.
    expect(ids).toHaveLength(10);
    for (const id of ids) {
      const message = await postedForDecision(id);
      expectValidMessageBlocks(message.blocks);
      const text = blockText(message);
      // Approving here approves every part: the approver sees them all.
      for (const other of ids) expect(text).toContain(other);
      expect(text).toContain(`${id} \``);
      expect(text).toContain('(this message)');
    }
    // Carol's Home tab lists the ten parts waiting for her, as valid Block Kit.
    await sandbox.driver.openHome(PEOPLE.carol);
    const home = await waitUntil(
      () => {
        const view = sandbox.slack.homeOf(PEOPLE.carol.id);
        return view && ids.every((id) => JSON.stringify(view).includes(id)) ? view : undefined;
      },
      8_000,
      'carol’s Home tab',
    );
    expectValidHomeView(home);
    // help lists the bundle, valid too.
    const help = await sandbox.driver.command(PEOPLE.alice, 'help', CHANNELS.general);
    expectValidMessageBlocks((help.json as { blocks?: unknown[] }).blocks);
  });

  it('escapes a reason with mentions and links on every part, and a bundle name typed with mentions', async () => {
    await start('bundle-escape');
    const [project, org] = await askForBundle(
      PEOPLE.alice,
      'request bundle:incident-responder for 1h because <!channel> *urgent* <https://evil.example|click> & more',
    );
    if (!project || !org) throw new Error('two parts expected');
    for (const id of [project, org]) {
      const text = JSON.stringify((await postedForDecision(id)).blocks);
      expect(text).not.toContain('<!channel>');
      expect(text).not.toContain('<https://evil.example');
      expect(text).toContain('&lt;!channel&gt;');
    }
    const said = await typeAndHear(PEOPLE.alice, 'request bundle:<!here> because x', /bundle name/);
    expect(said).not.toContain('<!here>');
    const odd = await typeAndHear(PEOPLE.alice, 'request bundle:a*b_c` because x', /bundle name/);
    expect(odd).toContain('is not a bundle name');
  });

  it('refuses, on the duration field and naming the part, a form duration one part does not allow', async () => {
    await start('bundle-form-duration');
    // From the Home tab: Request access opens the form.
    await sandbox.driver.openHome(PEOPLE.alice);
    const home = await waitUntil(() => sandbox.slack.homeOf(PEOPLE.alice.id), 5_000, 'alice’s Home tab');
    const before = sandbox.slack.events.length;
    await sandbox.driver.clickInView(PEOPLE.alice, home, 'home_request_access');
    const view = await waitUntil(
      () => sandbox.slack.events.slice(before).find((e) => e.kind === 'view' && e.user === PEOPLE.alice.id),
      5_000,
      'the form',
    ).then((event) => (event.kind === 'view' ? event.view : {}));
    const choice: ViewValues[string] = {
      value: {
        type: 'static_select',
        selected_option: {
          text: { type: 'plain_text', text: 'bundle:incident-responder' },
          value: 'bundle:incident-responder',
        },
      },
    };
    await sandbox.driver.chooseInView(PEOPLE.alice, view, 'target', { target: choice });
    const viewId = String(view.id);
    const guided = await waitUntil(
      () =>
        sandbox.slack.callsTo('views.update').some((c) => c.args.view_id === viewId)
          ? sandbox.slack.viewById(viewId)
          : undefined,
      5_000,
      'the bundle form',
    );
    expectValidModal(guided);
    const duration = (value: string): ViewValues[string] => ({
      value: { type: 'static_select', selected_option: { text: { type: 'plain_text', text: value }, value } },
    });
    const reason = { value: { type: 'plain_text_input', value: 'incident 11' } };
    for (const asked of ['8h', 'permanent']) {
      const answer = await sandbox.driver.submitView(PEOPLE.alice, guided ?? view, {
        target: choice,
        duration: duration(asked),
        reason,
      });
      const errors = (answer.json as { errors?: Record<string, string> } | undefined)?.errors ?? {};
      expect(Object.keys(errors)).toEqual(['duration']);
      expect(errors.duration).toContain('ORG_READ_ONLY on acme');
    }
    // A reload between opening the form and sending it: acme now allows 1h; the 2h offered is refused.
    await writeFile(sandbox.config.policyFile, POLICY.replace('maxDuration: 4h', 'maxDuration: 1h'));
    await sandbox.rolecall.reloadPolicy();
    const late = await sandbox.driver.submitView(PEOPLE.alice, guided ?? view, {
      target: choice,
      duration: duration('2h'),
      reason,
    });
    expect((late.json as { errors?: Record<string, string> } | undefined)?.errors?.duration).toContain(
      'at most 1h',
    );
    expect(sandbox.slack.messagesIn(CHANNELS.approvals)).toEqual([]);
  });
});
