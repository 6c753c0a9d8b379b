import { afterEach, describe, expect, it } from 'vitest';
import { waitUntil } from '../../dev/http-util.js';
import { ATLAS, CHANNELS, PEOPLE, SANDBOX_POLICY, type Sandbox, startSandbox } from '../../dev/sandbox.js';
import { waitForThreadReply } from '../../dev/slack-flow.js';
import type { FlowFlavor } from '../support/flow-flavors.js';
import { FLOW_FLAVORS } from '../support/flow-flavors.js';
import {
  ephemeralAfter,
  holdRevocations,
  ORG,
  PROJECT,
  readAudit,
  requestAs,
  waitForState,
} from '../support/grant-flow.js';
import { TEST_REDIS_URL, uniquePrefix } from '../support/redis.js';

const ONCALL = { id: '6d0000000000000000000001', name: 'platform-oncall' };
const READERS = { id: '6d0000000000000000000002', name: 'data-readers' };

const POLICY = `${SANDBOX_POLICY}    teams: [${ONCALL.name}, ${READERS.name}]
`;

/** Membership spans of one person in one team: [from, to) with to = Infinity while still in it. */
function spans(timeline: readonly { at: number; member: boolean }[]): [number, number][] {
  const out: [number, number][] = [];
  let from: number | null = null;
  for (const change of timeline) {
    if (change.member && from === null) from = change.at;
    if (!change.member && from !== null) {
      out.push([from, change.at]);
      from = null;
    }
  }
  if (from !== null) out.push([from, Number.POSITIVE_INFINITY]);
  return out;
}

describe('team grants (end to end)', () => {
  let sandbox: Sandbox;

  afterEach(async () => {
    await sandbox.stop();
  });

  const start = async (label: string, flavor?: FlowFlavor) => {
    sandbox = await startSandbox({
      redisUrl: TEST_REDIS_URL,
      prefix: uniquePrefix(label),
      env: { JOB_BACKOFF_MS: '50', RECONCILE_INTERVAL: '1h' },
      policy: POLICY,
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
            members: [PEOPLE.dana.email.toLowerCase()],
            projectRoles: { [ATLAS.project.id]: ['GROUP_DATA_ACCESS_READ_WRITE'] },
          },
        ],
      },
      ...(flavor ? { atlasApi: flavor.api } : {}),
    });
  };

  describe.each(FLOW_FLAVORS)('on ATLAS_API=$api', (flavor) => {
    it('adds a person to a team for the later of two overlapping grants, across a restart, and removes them once', async () => {
      await start('team-overlap', flavor);
      const hold = await holdRevocations(sandbox);
      const short = await requestAs(
        sandbox,
        PEOPLE.alice,
        `request team:${ONCALL.name} on acme for 2s because incident 7`,
      );
      // The approval message says what the team gives, read from Atlas when the request was checked.
      const gives = await waitUntil(
        () => {
          const blocks = JSON.stringify(sandbox.slack.message(CHANNELS.approvals, short.approval.ts)?.blocks);
          return blocks?.includes('gives') ? blocks : undefined;
        },
        5_000,
        'the team line of the approval message',
      );
      expect(gives).toContain(
        '`team:platform-oncall` gives `GROUP_DATA_ACCESS_READ_ONLY` on *payments-prod*',
      );
      const long = await requestAs(
        sandbox,
        PEOPLE.alice,
        `request team:${ONCALL.name} on acme for 6s because incident 7 runs on`,
      );
      await sandbox.driver.clickButton(PEOPLE.carol, short.approval, 'request_approve');
      const first = await waitForState(sandbox, short.id, 'applied');
      await sandbox.driver.clickButton(PEOPLE.carol, long.approval, 'request_approve');
      const second = await waitForState(sandbox, long.id, 'applied');
      expect(first.grant?.held).toEqual([`team:${ONCALL.name}`]);
      expect(second.grant?.joined.map((h) => h.requestId)).toEqual([short.id]);
      expect(sandbox.atlas.teamMembers(ONCALL.id)).toContain(PEOPLE.alice.email);
      await sandbox.restart();
      await hold.release();

      const ended = await waitForThreadReply(sandbox.slack, short.approval, /ended/, 10_000);
      expect(ended.text).toContain(`stays: ${long.id} still covers it until`);
      await waitForState(sandbox, long.id, 'revoked', 15_000);
      // What held when: one span in the team, from the first grant to the second one's end.
      const timeline = sandbox.atlas.teamTimeline(ONCALL.id, PEOPLE.alice.email);
      const held = spans(timeline);
      expect(held).toHaveLength(1);
      const [from, to] = held[0] ?? [0, 0];
      const end = second.grant?.revokeAt ?? 0;
      expect(from).toBeLessThanOrEqual(first.grant?.appliedAt ?? 0);
      expect(to).toBeGreaterThanOrEqual(end);
      expect(to).toBeLessThan(end + 5_000);
      expect(sandbox.atlas.teamMembers(ONCALL.id)).not.toContain(PEOPLE.alice.email);
      // Her organization roles were never touched.
      expect(sandbox.atlas.rolesOf(PEOPLE.alice.email, ORG)).toEqual(['ORG_MEMBER']);
      const audit = await readAudit(sandbox, long.id);
      expect(audit.map((e) => e.detail).join('\n')).toContain(`removed team:${ONCALL.name}`);
    }, 45_000);

    it('never removes a team someone was in before the grant', async () => {
      await start('team-outside', flavor);
      const both = await requestAs(
        sandbox,
        PEOPLE.mallory,
        `request team:${ONCALL.name},ORG_READ_ONLY on acme for 2s because audit`,
      );
      await sandbox.driver.clickButton(PEOPLE.carol, both.approval, 'request_approve');
      const applied = await waitForState(sandbox, both.id, 'applied');
      expect(applied.grant?.outside).toEqual([`team:${ONCALL.name}`]);
      expect(applied.grant?.held).toEqual(['ORG_READ_ONLY']);
      const revoked = await waitForState(sandbox, both.id, 'revoked', 15_000);
      expect(revoked.revocation?.removed).toEqual(['ORG_READ_ONLY']);
      expect(sandbox.atlas.teamMembers(ONCALL.id)).toContain(PEOPLE.mallory.email);
      expect(spans(sandbox.atlas.teamTimeline(ONCALL.id, PEOPLE.mallory.email))).toEqual([
        [expect.any(Number), Number.POSITIVE_INFINITY],
      ]);
      // Asking only for the team she is in adds nothing: refused in words.
      const since = sandbox.slack.events.length;
      await sandbox.driver.command(
        PEOPLE.mallory,
        `request team:${ONCALL.name} on acme for 1h because x`,
        CHANNELS.general,
      );
      const refusal = await ephemeralAfter(sandbox, PEOPLE.mallory, since, /nothing to request/);
      expect(refusal).toContain(`team:${ONCALL.name} (held outside Rolecall)`);
    }, 30_000);
  });

  it('shows a role held through a team, refuses asking for it, and never removes it per person', async () => {
    await start(
      'team-roles',
      FLOW_FLAVORS.find((f) => f.api === 'atlas-v2-2025'),
    );
    const since = sandbox.slack.events.length;
    await sandbox.driver.command(
      PEOPLE.dana,
      'request GROUP_DATA_ACCESS_READ_WRITE on payments-prod for 1h because load test',
      CHANNELS.general,
    );
    const refusal = await ephemeralAfter(sandbox, PEOPLE.dana, since, /nothing to request/);
    expect(refusal).toContain(`GROUP_DATA_ACCESS_READ_WRITE (through team:${READERS.name})`);

    // Asked together with a role she lacks: approvers see the role she holds through the team.
    const mixed = await requestAs(
      sandbox,
      PEOPLE.dana,
      'request GROUP_DATA_ACCESS_READ_WRITE,GROUP_DATA_ACCESS_READ_ONLY on payments-prod for 2s because load test',
    );
    const pending = await waitForState(sandbox, mixed.id, 'pending');
    expect(pending.rolesThroughTeamsAtRequest).toEqual([
      { role: 'GROUP_DATA_ACCESS_READ_WRITE', team: `team:${READERS.name}` },
    ]);
    await sandbox.driver.clickButton(PEOPLE.bob, mixed.approval, 'request_approve');
    await waitForState(sandbox, mixed.id, 'revoked', 15_000);
    // Her own roles are back to what they were; the team's role was never hers to remove.
    expect(sandbox.atlas.rolesOf(PEOPLE.dana.email.toLowerCase(), PROJECT).sort()).toEqual([
      'GROUP_READ_ONLY',
    ]);
    expect(sandbox.atlas.teamMembers(READERS.id)).toContain(PEOPLE.dana.email.toLowerCase());
  }, 30_000);
});
