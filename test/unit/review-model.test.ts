import { describe, expect, it } from 'vitest';
import { EMPTY_LEDGER, type Ledger } from '../../src/grants/ledger.js';
import { type AccessReview, classifyMembers, messageIndexOf, tally } from '../../src/reviews/model.js';

const NOW = 1_800_000_000_000;

describe('classifyMembers', () => {
  it('counts roles held through active Rolecall grants and lists every other (person, role) as standing', () => {
    const members = [
      { userId: 'u2', username: 'bob@example.com', roles: ['GROUP_OWNER'] },
      {
        userId: 'u1',
        username: 'alice@example.com',
        roles: ['GROUP_READ_ONLY', 'GROUP_DATA_ACCESS_READ_ONLY'],
      },
      { userId: 'u3', username: 'carol@example.com', roles: ['GROUP_READ_ONLY'] },
    ];
    const alice: Ledger = {
      holders: [{ role: 'GROUP_DATA_ACCESS_READ_ONLY', requestId: 'AR-0001', until: NOW + 60_000 }],
      membershipBy: null,
    };
    const carol: Ledger = {
      // Ended: its role is standing now (someone kept it by hand, or the revocation is late).
      holders: [{ role: 'GROUP_READ_ONLY', requestId: 'AR-0002', until: NOW - 1 }],
      membershipBy: null,
    };
    const { lines, counts } = classifyMembers(
      ['GROUP_READ_ONLY', 'GROUP_DATA_ACCESS_READ_ONLY'],
      members,
      new Map([
        ['alice@example.com', alice],
        ['carol@example.com', carol],
        ['bob@example.com', EMPTY_LEDGER],
      ]),
      NOW,
    );
    expect(counts).toEqual({ people: 3, temporary: 1, standing: 3 });
    expect(lines).toEqual([
      {
        n: 1,
        atlasUserId: 'u1',
        username: 'alice@example.com',
        role: 'GROUP_READ_ONLY',
        outsidePolicy: false,
      },
      { n: 2, atlasUserId: 'u2', username: 'bob@example.com', role: 'GROUP_OWNER', outsidePolicy: true },
      {
        n: 3,
        atlasUserId: 'u3',
        username: 'carol@example.com',
        role: 'GROUP_READ_ONLY',
        outsidePolicy: false,
      },
    ]);
  });
});

describe('review messages and tallies', () => {
  it('puts 20 lines in each message', () => {
    expect([1, 20, 21, 40, 41].map(messageIndexOf)).toEqual([0, 0, 1, 1, 2]);
  });

  it('tells kept, revoked, failed, running and undecided lines apart', () => {
    const review = {
      lines: [1, 2, 3, 4, 5].map((n) => ({
        n,
        atlasUserId: 'u',
        username: 'x@example.com',
        role: 'R',
        outsidePolicy: false,
      })),
    } as unknown as AccessReview;
    const decided = (decision: 'keep' | 'revoke', outcome?: 'revoked' | 'failed') => ({
      decision,
      by: 'U0BOB',
      at: 1,
      policy: 'v',
      ...(outcome ? { outcome, detail: '' } : {}),
    });
    const counts = tally(
      review,
      new Map([
        [1, decided('keep')],
        [2, decided('revoke', 'revoked')],
        [3, decided('revoke', 'failed')],
        [4, decided('revoke')],
      ]),
    );
    expect(counts).toEqual({ kept: 1, revoked: 1, failed: 1, running: 1, undecided: 1 });
  });
});
