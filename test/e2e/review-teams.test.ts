import { Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import { waitUntil } from '../../dev/http-util.js';
import { ATLAS, CHANNELS, PEOPLE, SANDBOX_POLICY, type Sandbox, startSandbox } from '../../dev/sandbox.js';
import { blockText } from '../../dev/slack-flow.js';
import { redisKeys } from '../../src/lib/redis-keys.js';
import type { AccessReview } from '../../src/reviews/model.js';
import { expectValidMessageBlocks } from '../support/block-kit.js';
import { FLOW_FLAVORS, type FlowFlavor } from '../support/flow-flavors.js';
import { ephemeralAfter, ORG, PROJECT } from '../support/grant-flow.js';
import { TEST_REDIS_URL, uniquePrefix } from '../support/redis.js';
import { reviewFlow } from '../support/review-flow.js';

const ONCALL = { id: '6d0000000000000000000001', name: 'platform-oncall' };
const READERS = { id: '6d0000000000000000000002', name: 'data-readers' };
const DANA = PEOPLE.dana.email.toLowerCase();

// The org target (acme, last in the sandbox policy) offers data-readers; nothing offers platform-oncall.
const POLICY = `${SANDBOX_POLICY}    teams: [${READERS.name}]
`;

/** The buttons (action_id and text) of line `n`'s actions block, on whichever message shows it. */
function buttonsOf(message: { blocks?: unknown }, review: AccessReview, n: number) {
  const block = ((message.blocks ?? []) as { block_id?: string; elements?: unknown[] }[]).find(
    (b) => b.block_id === `review:${review.id}:${n}`,
  );
  return ((block?.elements ?? []) as { action_id: string; text: { text: string } }[]).map((e) => [
    e.action_id,
    e.text.text,
  ]);
}

describe('access reviews and teams (end to end)', () => {
  let sandbox: Sandbox;
  let redis: Redis;
  afterEach(async () => {
    await redis.quit();
    await sandbox.stop();
  });

  const start = async (label: string, api: FlowFlavor['api']) => {
    sandbox = await startSandbox({
      redisUrl: TEST_REDIS_URL,
      prefix: uniquePrefix(label),
      env: { JOB_BACKOFF_MS: '50' },
      policy: POLICY,
      atlasApi: api,
      atlas: {
        teams: [
          {
            ...ONCALL,
            orgId: ATLAS.org.id,
            members: [PEOPLE.mallory.email],
            projectRoles: { [ATLAS.project.id]: ['GROUP_DATA_ACCESS_READ_ONLY'] },
          },
          {
            ...READERS,
            orgId: ATLAS.org.id,
            members: [DANA],
            projectRoles: { [ATLAS.project.id]: ['GROUP_DATA_ACCESS_READ_WRITE'] },
          },
        ],
      },
    });
    redis = new Redis(TEST_REDIS_URL);
  };
  const { reviews, postedNth, messageOf, clickLine } = reviewFlow(
    () => sandbox,
    () => redis,
  );
  const reviewAudit = async () =>
    (await redis.xrange(redisKeys(sandbox.config.redis.prefix).audit, '-', '+'))
      .map(([, f]) =>
        Object.fromEntries(Array.from({ length: f.length / 2 }, (_, i) => [f[2 * i], f[2 * i + 1]])),
      )
      .filter((e) => e.kind === 'review');
  const threadTexts = (review: AccessReview) => {
    const first = messageOf(review, 0);
    return sandbox.slack
      .messagesIn(CHANNELS.approvals)
      .filter((m) => m.threadTs === first.ts)
      .map((m) => m.text);
  };

  describe.each(FLOW_FLAVORS)('on ATLAS_API=$api', (flavor) => {
    it('shows roles held through teams, offers leaving an offered team instead of a per-person removal, and removes the person only from the team', async () => {
      await start('review-teams', flavor.api);
      const before = sandbox.atlas.authenticatedCalls().length;
      await sandbox.driver.command(PEOPLE.carol, 'review payments-prod', CHANNELS.general);
      const review = await postedNth();
      const startCalls = sandbox.atlas
        .authenticatedCalls()
        .slice(before)
        .filter((c) => c.method === 'GET');
      expect(review.lines.map((l) => [l.n, l.username, l.role, l.team?.item ?? null])).toEqual([
        [1, 'alice@example.com', 'GROUP_READ_ONLY', null],
        [2, 'bob@example.com', 'GROUP_OWNER', null],
        [3, DANA, 'GROUP_READ_ONLY', null],
        [4, DANA, 'GROUP_DATA_ACCESS_READ_WRITE', `team:${READERS.name}`],
        [5, PEOPLE.mallory.email, 'GROUP_DATA_ACCESS_READ_ONLY', `team:${ONCALL.name}`],
      ]);
      expect(review.lines[3]?.team).toEqual({
        item: `team:${READERS.name}`,
        orgId: ATLAS.org.id,
        offeredOn: ATLAS.org.name,
      });
      expect(review.lines[4]?.team?.offeredOn).toBeNull();
      // Mallory is on the project only through her team: she counts.
      expect(review.counts).toEqual({ people: 4, temporary: 0, standing: 5 });
      // Once per project, nothing per person: the project's teams, then the organization's members (one
      // page) and its teams; the project's organization is looked up at most once.
      const count = (pattern: RegExp) => startCalls.filter((c) => pattern.test(c.path)).length;
      expect(count(new RegExp(`/groups/${ATLAS.project.id}/teams`))).toBe(1);
      expect(count(new RegExp(`/orgs/${ATLAS.org.id}/users\\?(?!.*itemsPerPage=1&)`))).toBe(1);
      expect(count(new RegExp(`/orgs/${ATLAS.org.id}/teams`))).toBeLessThanOrEqual(1);
      expect(count(/\/users\/[0-9a-f]{24}(\?|$)|\/byName\//)).toBe(0);

      const message = messageOf(review, 0);
      expectValidMessageBlocks(message.blocks);
      expect(blockText(message)).toContain(
        `*4.* ${DANA} · \`GROUP_DATA_ACCESS_READ_WRITE\` through \`team:${READERS.name}\``,
      );
      expect(blockText(message)).toContain(
        `\`team:${ONCALL.name}\` · _not offered on an organization target of the policy: only an organization owner can take them out of the team_`,
      );
      expect(buttonsOf(message, review, 3)).toEqual([
        ['review_keep', 'Keep'],
        ['review_revoke', 'Revoke'],
      ]);
      expect(buttonsOf(message, review, 4)).toEqual([
        ['review_keep', 'Keep'],
        ['review_revoke', `Remove from team:${READERS.name}`],
      ]);
      expect(buttonsOf(message, review, 5)).toEqual([['review_keep', 'Keep']]);

      // Bob approves the project but not the team on acme: leaving it is not his to decide.
      let since = sandbox.slack.events.length;
      await clickLine(PEOPLE.bob, review, 4, 'review_revoke');
      expect(await ephemeralAfter(sandbox, PEOPLE.bob, since, /can keep or revoke it/)).toContain(
        `Only the approvers of team:${READERS.name} on ${ATLAS.org.name}`,
      );
      expect((await reviews().decisions(review.id)).has(4)).toBe(false);

      // Line 5 has no Revoke: a forged one is refused in words, and nothing is decided.
      since = sandbox.slack.events.length;
      const forged = {
        type: 'actions',
        block_id: `review:${review.id}:5`,
        elements: [
          {
            type: 'button',
            action_id: 'review_revoke',
            text: { type: 'plain_text', text: 'Revoke' },
            value: `${review.id}:5`,
          },
        ],
      };
      await sandbox.driver.clickButton(PEOPLE.carol, { ...message, blocks: [forged] }, 'review_revoke');
      expect(await ephemeralAfter(sandbox, PEOPLE.carol, since, /not offered/)).toContain(
        `team:${ONCALL.name} is not offered on an organization target of the policy`,
      );
      expect((await reviews().decisions(review.id)).has(5)).toBe(false);

      since = sandbox.slack.events.length;
      await clickLine(PEOPLE.carol, review, 4, 'review_revoke');
      expect(await ephemeralAfter(sandbox, PEOPLE.carol, since, /Removing/)).toContain(
        `Removing ${DANA} from \`team:${READERS.name}\` now`,
      );
      const decided = await waitUntil(
        async () => {
          const d = (await reviews().decisions(review.id)).get(4);
          return d?.outcome ? d : undefined;
        },
        10_000,
        'the team removal',
      );
      expect(decided.outcome).toBe('revoked');
      expect(decided.detail).toBe(
        `removed ${DANA} from team:${READERS.name}, through which they held GROUP_DATA_ACCESS_READ_WRITE on payments-prod; their own roles are untouched`,
      );
      expect(sandbox.atlas.teamMembers(READERS.id)).not.toContain(DANA);
      // Nothing removed per person: her own roles are as they were, on the project and on acme.
      expect(sandbox.atlas.rolesOf(DANA, PROJECT)).toEqual(['GROUP_READ_ONLY']);
      expect(sandbox.atlas.timeline(DANA, PROJECT).map((t) => t.roles)).toEqual([['GROUP_READ_ONLY']]);
      expect(sandbox.atlas.rolesOf(DANA, ORG)).toEqual(['ORG_MEMBER']);
      expect(sandbox.atlas.teamMembers(ONCALL.id)).toEqual([PEOPLE.mallory.email]);
      const thread = await waitUntil(
        () => threadTexts(review).find((t) => t.includes('line 4')),
        5_000,
        'the outcome in the thread',
      );
      expect(thread).toContain(`removed ${DANA} from team:${READERS.name}`);
      const audit = await reviewAudit();
      expect(audit.filter((e) => e.line === '4').map((e) => [e.actor, e.detail])).toEqual([
        [PEOPLE.carol.id, 'revoke'],
        ['system', `revoked: ${decided.detail}`],
      ]);
      await waitUntil(
        () =>
          sandbox.slack
            .messagesIn(sandbox.slack.dmChannelOf(PEOPLE.dana.id))
            .find((m) => m.text.includes(`removed you from team:${READERS.name}`)),
        5_000,
        'the DM to dana',
      );
      const shown = await waitUntil(
        () => (blockText(messageOf(review, 0)).includes('Removed from the team by') ? true : undefined),
        5_000,
        'the decision on the review message',
      );
      expect(shown).toBe(true);
      expectValidMessageBlocks(messageOf(review, 0).blocks);
    }, 30_000);
  });

  it('lists team memberships in an organization review, and removing one removes the person from the team, never an organization role', async () => {
    await start('review-org-teams', 'atlas-v2-2025');
    await sandbox.driver.command(PEOPLE.carol, 'review acme', CHANNELS.general);
    const review = await postedNth();
    const teamLines = review.lines.filter((l) => l.role.startsWith('team:'));
    expect(teamLines.map((l) => [l.username, l.role, l.outsidePolicy])).toEqual([
      [DANA, `team:${READERS.name}`, false],
      [PEOPLE.mallory.email, `team:${ONCALL.name}`, true],
    ]);
    const orgRolesBefore = sandbox.atlas.rolesOf(DANA, ORG);
    const line = teamLines[0];
    if (!line) throw new Error('no team line');
    await clickLine(PEOPLE.carol, review, line.n, 'review_revoke');
    const decided = await waitUntil(
      async () => {
        const d = (await reviews().decisions(review.id)).get(line.n);
        return d?.outcome ? d : undefined;
      },
      10_000,
      'the team removal',
    );
    expect(decided).toMatchObject({
      outcome: 'revoked',
      detail: `removed ${DANA} from team:${READERS.name}; their organization roles are untouched`,
    });
    expect(sandbox.atlas.teamMembers(READERS.id)).not.toContain(DANA);
    expect(sandbox.atlas.rolesOf(DANA, ORG)).toEqual(orgRolesBefore);
    expect(sandbox.atlas.timeline(DANA, ORG).map((t) => t.roles)).toEqual([orgRolesBefore]);
    expect(
      sandbox.atlas
        .authenticatedCalls()
        .filter((c) => c.method !== 'GET' && c.path.includes(`/orgs/${ATLAS.org.id}/users/`)),
    ).toEqual([]);
    expectValidMessageBlocks(messageOf(review, 0).blocks);
  }, 30_000);
});
