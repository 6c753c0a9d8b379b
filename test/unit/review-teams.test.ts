import { describe, expect, it } from 'vitest';
import type { Ledger } from '../../src/grants/ledger.js';
import { type AccessReview, classifyMembers, offeredItem } from '../../src/reviews/model.js';
import { holdingsThroughTeams } from '../../src/reviews/team-holdings.js';
import { buildReviewMessage } from '../../src/slack/blocks/review-message.js';
import { expectValidMessageBlocks } from '../support/block-kit.js';

const NOW = 1_800_000_000_000;
const ORG_ID = '5f1a2b3c4d5e6f7a8b9c0d10';
const READERS = '6d0000000000000000000002';
const ONCALL = '6d0000000000000000000001';

describe('holdingsThroughTeams', () => {
  it('gives every member of a team with roles on the project those roles, named as the client names the team', () => {
    const holdings = holdingsThroughTeams(
      [
        { teamId: READERS, roles: ['GROUP_DATA_ACCESS_READ_WRITE', 'GROUP_READ_ONLY'] },
        { teamId: ONCALL, roles: [] },
      ],
      [
        {
          userId: 'u1',
          username: 'Dana@Example.com',
          roles: ['ORG_MEMBER', 'team:oncall', 'team:data-readers'],
          teamIds: [ONCALL, READERS],
        },
        { userId: 'u2', username: 'bob@example.com', roles: ['ORG_OWNER'], teamIds: [] },
      ],
    );
    expect(holdings).toEqual([
      {
        userId: 'u1',
        username: 'dana@example.com',
        role: 'GROUP_DATA_ACCESS_READ_WRITE',
        team: 'team:data-readers',
      },
      { userId: 'u1', username: 'dana@example.com', role: 'GROUP_READ_ONLY', team: 'team:data-readers' },
    ]);
  });

  it('names a team by its id when the items do not line up with the ids', () => {
    const holdings = holdingsThroughTeams(
      [{ teamId: READERS, roles: ['GROUP_READ_ONLY'] }],
      [{ userId: 'u1', username: 'a@example.com', roles: ['ORG_MEMBER'], teamIds: [READERS] }],
    );
    expect(holdings.map((h) => h.team)).toEqual([`team:${READERS}`]);
  });
});

describe('classifyMembers with teams', () => {
  const holdings = [
    {
      userId: 'u1',
      username: 'dana@example.com',
      role: 'GROUP_DATA_ACCESS_READ_WRITE',
      team: 'team:Data-Readers',
    },
    { userId: 'u3', username: 'mallory@example.com', role: 'GROUP_READ_ONLY', team: 'team:oncall' },
    { userId: 'u4', username: 'erin@example.com', role: 'GROUP_READ_ONLY', team: 'team:data-readers' },
  ];
  const erin: Ledger = {
    holders: [{ role: 'team:data-readers', requestId: 'AR-0009', until: NOW + 60_000 }],
    membershipBy: null,
  };

  it('lists each role held through a team after the person’s own, offered where the org target offers the team, explained by a Rolecall grant of the team', () => {
    const { lines, counts } = classifyMembers(
      ['GROUP_READ_ONLY', 'GROUP_DATA_ACCESS_READ_WRITE'],
      [{ userId: 'u1', username: 'dana@example.com', roles: ['GROUP_READ_ONLY'] }],
      new Map(),
      NOW,
      {
        orgId: ORG_ID,
        holdings,
        orgLedgers: new Map([['erin@example.com', erin]]),
        orgTarget: { name: 'acme', roles: ['ORG_READ_ONLY', 'team:data-readers'] },
      },
    );
    expect(counts).toEqual({ people: 3, temporary: 1, standing: 3 });
    expect(lines).toEqual([
      {
        n: 1,
        atlasUserId: 'u1',
        username: 'dana@example.com',
        role: 'GROUP_READ_ONLY',
        outsidePolicy: false,
      },
      {
        n: 2,
        atlasUserId: 'u1',
        username: 'dana@example.com',
        role: 'GROUP_DATA_ACCESS_READ_WRITE',
        outsidePolicy: false,
        team: { item: 'team:data-readers', orgId: ORG_ID, offeredOn: 'acme' },
      },
      {
        n: 3,
        atlasUserId: 'u3',
        username: 'mallory@example.com',
        role: 'GROUP_READ_ONLY',
        outsidePolicy: false,
        team: { item: 'team:oncall', orgId: ORG_ID, offeredOn: null },
      },
    ]);
  });

  it('offers no team when the policy has no target for the organization', () => {
    expect(offeredItem(undefined, 'team:oncall')).toBeUndefined();
    const { lines } = classifyMembers([], [], new Map(), NOW, {
      orgId: ORG_ID,
      holdings: holdings.slice(0, 1),
      orgLedgers: new Map(),
      orgTarget: undefined,
    });
    expect(lines.map((l) => l.team?.offeredOn)).toEqual([null]);
  });
});

describe('buildReviewMessage with team lines', () => {
  it('offers “Remove from team:NAME” within Slack’s limits, and only Keep where no target offers the team', () => {
    const longTeam = `team:${'x'.repeat(64)}`;
    const review: AccessReview = {
      id: 'RV-0001',
      target: { name: 'payments-prod', kind: 'project', id: '5f1a2b3c4d5e6f7a8b9c0d1e' },
      startedBy: 'U0CAROL',
      createdAt: NOW,
      policy: 'abcdefabcdef',
      counts: { people: 2, temporary: 0, standing: 2 },
      lines: [
        {
          n: 1,
          atlasUserId: 'u1',
          username: 'dana@example.com',
          role: 'GROUP_READ_ONLY',
          outsidePolicy: false,
          team: { item: longTeam, orgId: ORG_ID, offeredOn: 'acme' },
        },
        {
          n: 2,
          atlasUserId: 'u3',
          username: 'mallory@example.com',
          role: 'GROUP_READ_ONLY',
          outsidePolicy: false,
          team: { item: 'team:oncall', orgId: ORG_ID, offeredOn: null },
        },
      ],
      messages: [],
      closedAt: null,
      teamsNote: 'Atlas refused to list the organization’s members.',
    };
    const message = buildReviewMessage(review, new Map(), 0);
    expectValidMessageBlocks(message.blocks);
    const actions = message.blocks.filter((b) => b.type === 'actions') as {
      elements: { action_id: string; text: { text: string } }[];
    }[];
    expect(actions.map((a) => a.elements.map((e) => e.action_id))).toEqual([
      ['review_keep', 'review_revoke'],
      ['review_keep'],
    ]);
    const remove = actions[0]?.elements[1]?.text.text ?? '';
    expect(remove.startsWith('Remove from team:xxx')).toBe(true);
    expect(remove.length).toBeLessThanOrEqual(75);
    expect(JSON.stringify(message.blocks)).toContain(
      'Roles held through teams are not listed: Atlas refused to list the organization’s members.',
    );
  });
});
