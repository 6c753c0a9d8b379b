import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import { waitUntil } from '../../dev/http-util.js';
import { ATLAS, CHANNELS, PEOPLE, SANDBOX_POLICY, type Sandbox, startSandbox } from '../../dev/sandbox.js';
import {
  blockText,
  requestIdIn,
  waitForDm,
  waitForEphemeral,
  waitForThreadReply,
} from '../../dev/slack-flow.js';
import type { SimulatedMessage } from '../../dev/slack-simulator.js';
import type { AtlasApiFlavor } from '../../src/atlas/atlas-options.js';
import { createLedgerStore } from '../../src/grants/ledger-store.js';
import { redisKeys } from '../../src/lib/redis-keys.js';
import type { AtlasScope } from '../../src/lib/scope.js';
import { createRedisClient } from '../../src/ops/redis.js';
import {
  dmsTo,
  ephemeralAfter,
  holdRevocations,
  ORG,
  type Person,
  PROJECT,
  readAudit,
  repliesTo,
  requestAs,
  rolesAt,
  spansOf,
  waitForState,
} from '../support/grant-flow.js';
import { TEST_REDIS_URL, uniquePrefix } from '../support/redis.js';
import { offboardingFlow } from '../support/review-flow.js';

const READ = 'GROUP_DATA_ACCESS_READ_ONLY';
const APPROVERS = /<@U0BOB>|<@U0CAROL>/;

describe.each(['atlas-v2-2025', 'atlas-v2'] as AtlasApiFlavor[])(
  'a target or person deleted in Atlas, with ATLAS_API=%s (end to end)',
  (api) => {
    let sandbox: Sandbox;

    afterEach(async () => {
      await sandbox.stop();
    });

    // A failing revocation would be tried again every second and escalated every second: a loop shows.
    const start = async (label: string) => {
      sandbox = await startSandbox({
        redisUrl: TEST_REDIS_URL,
        prefix: uniquePrefix(label),
        env: {
          ATLAS_API: api,
          JOB_BACKOFF_MS: '10',
          ATLAS_MAX_RETRIES: '0',
          RECONCILE_INTERVAL: '1h',
          REVOKE_RETRY_INTERVAL: '1s',
          REVOKE_ESCALATE_EVERY: '1s',
        },
      });
    };

    const grant = async (line: string, approver: Person = PEOPLE.bob) => {
      const { id, approval } = await requestAs(sandbox, PEOPLE.alice, `request ${line}`);
      await sandbox.driver.clickButton(approver, approval, 'request_approve');
      return { id, approval, applied: await waitForState(sandbox, id, 'applied') };
    };

    it('ends a grant on a project deleted in Atlas as revoked, in words, told once, with no revoke_failed and no pings', async () => {
      await start('gone-project');
      // The grant cannot end before the project is deleted, however slow the run.
      const hold = await holdRevocations(sandbox);
      const { id, approval, applied } = await grant(`${READ} on payments-prod for 3s because gone project`);
      const deletedAt = Date.now();
      sandbox.atlas.deleteProject(ATLAS.project.id);
      const deleted = Date.now();
      await hold.release();
      const revoked = await waitForState(sandbox, id, 'revoked', 15_000);

      expect(revoked.revocation).toMatchObject({ vanished: 'target', removed: [], gone: [READ] });
      // Ended at its time, not before: the revocation ran when the grant was due.
      expect(revoked.revocation?.revokedAt).toBeGreaterThanOrEqual(applied.grant?.revokeAt ?? 0);
      const reply = await waitForThreadReply(sandbox.slack, approval, new RegExp(`${id} ended`));
      expect(reply.text).toContain('the project no longer exists in Atlas');
      const dm = await waitForDm(sandbox.slack, PEOPLE.alice.id, new RegExp(`${id} ended`));
      expect(dm.text).toContain('the project no longer exists in Atlas');
      await expectToldOnce(id, approval, applied.updatedAt);
      await expectAudited(id, 'the project no longer exists in Atlas');
      await expectLedgerEmpty(PEOPLE.alice.email, PROJECT);
      expect(blockText(approval)).toContain('no longer exists in Atlas');
      expect(blockText(approval)).not.toContain('Retry revocation');
      // What held when: the role was Alice's until the project went, and never came back.
      const timeline = sandbox.atlas.timeline(PEOPLE.alice.email, PROJECT);
      expect(rolesAt(timeline, deletedAt - 1)).toContain(READ);
      expect(spansOf(timeline, READ)).toHaveLength(1);
      expect(spansOf(timeline, READ)[0]?.to).toBeGreaterThanOrEqual(deletedAt);
      expect(spansOf(timeline, READ)[0]?.to).toBeLessThanOrEqual(deleted);
    }, 40_000);

    it('ends a grant whose grantee’s Atlas account was deleted as revoked, in words, told once', async () => {
      await start('gone-user');
      const hold = await holdRevocations(sandbox);
      const { id, approval, applied } = await grant(`${READ} on payments-prod for 3s because gone user`);
      sandbox.atlas.deleteUser(PEOPLE.alice.email);
      await hold.release();
      const revoked = await waitForState(sandbox, id, 'revoked', 15_000);

      expect(revoked.revocation).toMatchObject({ vanished: 'user', removed: [], gone: [READ] });
      const reply = await waitForThreadReply(sandbox.slack, approval, new RegExp(`${id} ended`));
      expect(reply.text).toContain('the user no longer exists in Atlas');
      const dm = await waitForDm(sandbox.slack, PEOPLE.alice.id, new RegExp(`${id} ended`));
      expect(dm.text).toContain('the user no longer exists in Atlas');
      await expectToldOnce(id, approval, applied.updatedAt);
      await expectAudited(id, 'the user no longer exists in Atlas');
      await expectLedgerEmpty(PEOPLE.alice.email, PROJECT);
      // Nothing was written for her after the deletion: her last state there is "none".
      expect(sandbox.atlas.timeline(PEOPLE.alice.email, PROJECT).at(-1)?.roles).toEqual([]);
    }, 40_000);

    it('fails at once, in words, to apply a grant on a project deleted after it was asked for', async () => {
      await start('gone-apply');
      const { id, approval } = await requestAs(
        sandbox,
        PEOPLE.alice,
        `request ${READ} on payments-prod for 1h because apply gone`,
      );
      sandbox.atlas.deleteProject(ATLAS.project.id);
      await sandbox.driver.clickButton(PEOPLE.bob, approval, 'request_approve');
      const failed = await waitForState(sandbox, id, 'failed', 15_000);

      expect(failed.failure?.code).toBe('ATLAS_TARGET_GONE');
      expect(failed.failure?.message).toContain('The project no longer exists in Atlas');
      const reply = await waitForThreadReply(sandbox.slack, approval, /could not be applied/);
      expect(reply.text).toContain('The project no longer exists in Atlas');
      expect(reply.text).not.toContain('press Retry');
      await waitUntil(() => !blockText(approval).includes('"Retry"') || undefined, 5_000, 'no Retry');
      expect(blockText(approval)).toContain('failed');
      // Not retried: one try of the apply job, one move into applying.
      const connection = createRedisClient(sandbox.config.redis, 'commands');
      const apply = new Queue('apply', { connection, prefix: sandbox.config.redis.prefix });
      try {
        expect((await apply.getJob(`apply-${id}-1`))?.attemptsMade).toBe(1);
      } finally {
        await apply.close();
        connection.disconnect();
      }
      expect((await readAudit(sandbox, id)).filter((e) => e.to === 'applying')).toHaveLength(1);
      expect(sandbox.atlas.timeline(PEOPLE.alice.email, PROJECT).flatMap((c) => c.roles)).not.toContain(READ);
    }, 40_000);

    /** One ending told in the thread and to Alice, nothing else after it was applied: no loop, no pings. */
    const expectToldOnce = async (id: string, approval: SimulatedMessage, appliedAt: number) => {
      await waitForQuietQueues();
      expect(repliesTo(sandbox, approval, new RegExp(`${id} ended`))).toHaveLength(1);
      expect(dmsTo(sandbox, PEOPLE.alice, new RegExp(`${id} ended`))).toHaveLength(1);
      expect(repliesTo(sandbox, approval, /has not been revoked yet|removed .* outside Rolecall/)).toEqual(
        [],
      );
      const after = sandbox.slack
        .messagesIn(CHANNELS.approvals)
        .filter((m) => Number(m.ts) * 1000 > appliedAt && !/ and applied/.test(m.text));
      expect(after.filter((m) => APPROVERS.test(m.text)).map((m) => m.text)).toEqual([]);
      const trail = await readAudit(sandbox, id);
      expect(trail.filter((e) => e.to === 'revoke_failed')).toEqual([]);
    };

    const expectAudited = async (id: string, words: string) => {
      const trail = await readAudit(sandbox, id);
      const ended = trail.filter((e) => e.to === 'revoked');
      expect(ended).toHaveLength(1);
      expect(ended[0]).toMatchObject({ from: 'revoking', actor: 'system' });
      expect(ended[0]?.detail).toContain(words);
      expect(ended[0]?.detail).toContain(`released ${READ}`);
    };

    const expectLedgerEmpty = async (email: string, target: AtlasScope) => {
      const redis = createRedisClient(sandbox.config.redis, 'commands');
      try {
        const ledger = await createLedgerStore(redis, redisKeys(sandbox.config.redis.prefix)).read(
          email,
          target,
        );
        expect(ledger).toEqual({ holders: [], membershipBy: null });
      } finally {
        redis.disconnect();
      }
    };

    /** Waits until no notice, revocation or grant job is left to run (stored state, not a fixed delay). */
    const waitForQuietQueues = async () => {
      const connection = createRedisClient(sandbox.config.redis, 'commands');
      const queues = ['notify', 'revoke', 'apply'].map(
        (name) => new Queue(name, { connection, prefix: sandbox.config.redis.prefix }),
      );
      try {
        await waitUntil(
          async () => {
            const counts = await Promise.all(
              queues.map((q) => q.getJobCounts('waiting', 'active', 'delayed', 'prioritized')),
            );
            return counts.every((c) => Object.values(c).every((n) => n === 0)) || undefined;
          },
          10_000,
          'queues to drain',
        );
      } finally {
        await Promise.all(queues.map((q) => q.close()));
        connection.disconnect();
      }
    };

    if (api === 'atlas-v2-2025') {
      it('ends a grant on an organization deleted in Atlas as revoked, saying the organization no longer exists', async () => {
        await start('gone-org');
        const hold = await holdRevocations(sandbox);
        const { id, approval, applied } = await grant(
          'ORG_READ_ONLY on acme for 3s because gone org',
          PEOPLE.carol,
        );
        // Atlas deletes an organization only once its projects are gone (ORG_NOT_EMPTY).
        sandbox.atlas.deleteProject(ATLAS.project.id);
        sandbox.atlas.deleteOrg(ATLAS.org.id);
        await hold.release();
        const revoked = await waitForState(sandbox, id, 'revoked', 15_000);
        expect(revoked.revocation).toMatchObject({ vanished: 'target', gone: ['ORG_READ_ONLY'] });
        const reply = await waitForThreadReply(sandbox.slack, approval, new RegExp(`${id} ended`));
        expect(reply.text).toContain('the organization no longer exists in Atlas');
        await expectToldOnce(id, approval, applied.updatedAt);
        await expectLedgerEmpty(PEOPLE.alice.email, ORG);
      }, 40_000);

      it('refuses a new request for a deleted project at once, in words, with nothing for approvers', async () => {
        await start('gone-request');
        sandbox.atlas.deleteProject(ATLAS.project.id);
        await sandbox.driver.command(
          PEOPLE.alice,
          `request ${READ} on payments-prod for 1h because gone`,
          CHANNELS.general,
        );
        const said = await waitForEphemeral(sandbox.slack, PEOPLE.alice.id, /was not filed/);
        expect(said).toContain('The project does not exist in Atlas (any more)');
        const refused = await waitForState(sandbox, requestIdIn(said), 'refused');
        expect(refused.failure?.code).toBe('ATLAS_TARGET_GONE');
        expect(sandbox.slack.messagesIn(CHANNELS.approvals)).toEqual([]);
      }, 30_000);

      it('explains a 403 IP_ADDRESS_NOT_ON_ACCESS_LIST as the API access list, not as a role the key lacks', async () => {
        await start('access-list');
        const { id, approval } = await requestAs(
          sandbox,
          PEOPLE.alice,
          `request ${READ} on payments-prod for 1h because access list`,
        );
        sandbox.atlas.restrictApiAccess(['198.51.100.7']);
        await sandbox.driver.clickButton(PEOPLE.bob, approval, 'request_approve');
        const failed = await waitForState(sandbox, id, 'failed', 15_000);

        expect(failed.failure?.code).toBe('ATLAS_AUTH_FAILED');
        expect(failed.failure?.detail).toBe('IP address 127.0.0.1 is not allowed to access this resource.');
        const reply = await waitForThreadReply(sandbox.slack, approval, /could not be applied/);
        const dm = await waitForDm(sandbox.slack, PEOPLE.alice.id, /could not be applied/);
        for (const text of [reply.text, dm.text]) {
          expect(text).toContain("Rolecall's IP address is not on the API key's access list");
          expect(text).toContain("The key's roles are not the problem.");
          expect(text).toContain('(Atlas IP_ADDRESS_NOT_ON_ACCESS_LIST)');
          expect(text).not.toContain('Project Read Only');
          expect(text).not.toContain('127.0.0.1');
        }
        const refused = sandbox.atlas.authenticatedCalls().filter((c) => c.status === 403);
        expect(refused.length).toBeGreaterThanOrEqual(1);
        expect(refused[0]?.response).toMatchObject({
          errorCode: 'IP_ADDRESS_NOT_ON_ACCESS_LIST',
          error: 403,
        });
      }, 40_000);
    }
  },
);

describe('reviews and offboarding on a project deleted in Atlas (end to end, ATLAS_API=atlas-v2-2025)', () => {
  let sandbox: Sandbox;
  let redis: Redis;

  afterEach(async () => {
    await redis.quit();
    await sandbox.stop();
  });

  const start = async (label: string, policy?: string) => {
    sandbox = await startSandbox({
      redisUrl: TEST_REDIS_URL,
      prefix: uniquePrefix(label),
      env: { ATLAS_API: 'atlas-v2-2025', JOB_BACKOFF_MS: '10', ATLAS_MAX_RETRIES: '0' },
      ...(policy === undefined ? {} : { policy }),
    });
    redis = new Redis(TEST_REDIS_URL);
  };
  const { stored, messageOf, posted } = offboardingFlow(
    () => sandbox,
    () => redis,
  );

  it('says an access review of it cannot start because it no longer exists, once, and what to do', async () => {
    await start('gone-review');
    sandbox.atlas.deleteProject(ATLAS.project.id);
    await sandbox.driver.command(PEOPLE.carol, 'review payments-prod', CHANNELS.general);
    const said = await waitUntil(
      () => sandbox.slack.messagesIn(CHANNELS.approvals).find((m) => /could not start/.test(m.text)),
      10_000,
      'the review to say it could not start',
    );
    expect(said.text).toContain('The project does not exist in Atlas (any more)');
    expect(said.text).toContain('Remove *payments-prod* from the policy, or correct its id');
    expect(said.text).not.toContain('try again');
    expect(
      sandbox.slack.messagesIn(CHANNELS.approvals).filter((m) => /could not start/.test(m.text)),
    ).toHaveLength(1);
  }, 30_000);

  it('records an offboarding’s removal from it as nothing to remove, in words, instead of a failure', async () => {
    await start(
      'gone-offboard',
      SANDBOX_POLICY.replace(
        'approvalsChannel: C0APPROVALS\n',
        'approvalsChannel: C0APPROVALS\noffboarders: [U0CAROL]\noffboardApprovers: [U0BOB]\n',
      ),
    );
    sandbox.atlas.deleteProject(ATLAS.project.id);
    const since = sandbox.slack.events.length;
    await sandbox.driver.command(
      PEOPLE.carol,
      'offboard dana.smith@example.com because she left',
      CHANNELS.general,
    );
    const asked = await ephemeralAfter(sandbox, PEOPLE.carol, since, /OB-[0-9A-Z]+/);
    const id = /OB-[0-9A-Z]+/.exec(asked)?.[0] ?? 'no offboarding id';
    const offboarding = await posted(id);
    await sandbox.driver.clickButton(PEOPLE.bob, messageOf(offboarding), 'offboard_approve');
    const done = await waitUntil(
      async () => {
        const found = await stored().get(id);
        return found?.state === 'done' ? found : undefined;
      },
      20_000,
      'the offboarding to finish',
    );
    expect(done.outcomes.find((o) => o.target.name === 'payments-prod')).toMatchObject({
      outcome: 'not a member',
      detail: 'the project no longer exists in Atlas; nothing to remove',
    });
    expect(done.outcomes.find((o) => o.target.name === 'acme')?.outcome).toBe('removed');
    await waitUntil(
      () => (blockText(messageOf(offboarding)).includes('no longer exists in Atlas') ? true : undefined),
      5_000,
      'the table to say so',
    );
  }, 40_000);
});
