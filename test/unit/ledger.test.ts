import { describe, expect, it } from 'vitest';
import {
  decideApply,
  decideRevoke,
  EMPTY_LEDGER,
  type Ledger,
  type RoleHolder,
  releaseOps,
  roleStandingOf,
} from '../../src/grants/ledger.js';
import { decodeLedger, encodeLedgerWrite } from '../../src/grants/ledger-store.js';
import { redisKeys } from '../../src/lib/redis-keys.js';

const NOW = 1_800_000_000_000;
const HOUR = 3_600_000;
const READ = 'GROUP_DATA_ACCESS_READ_ONLY';
const BASE = 'GROUP_READ_ONLY';

const ledger = (holders: RoleHolder[], membershipBy: string | null = null): Ledger => ({
  holders,
  membershipBy,
});
const holder = (role: string, requestId: string, until: number | null): RoleHolder => ({
  role,
  requestId,
  until,
});

describe('decideApply', () => {
  it.each([
    {
      name: 'adds a role nobody holds',
      current: [BASE],
      ledger: EMPTY_LEDGER,
      roles: [READ],
      add: [READ],
      joined: [],
      outside: [],
    },
    {
      name: 'joins a role another temporary grant holds (overlapping pair)',
      current: [BASE, READ],
      ledger: ledger([holder(READ, 'AR-1', NOW + HOUR)]),
      roles: [READ],
      add: [],
      joined: ['AR-1'],
      outside: [],
    },
    {
      name: 'leaves a role held outside Rolecall alone',
      current: [BASE, READ],
      ledger: EMPTY_LEDGER,
      roles: [READ],
      add: [],
      joined: [],
      outside: [READ],
    },
    {
      name: 'adds again a role removed by hand, closing the stale holder as drift',
      current: [BASE],
      ledger: ledger([holder(READ, 'AR-1', NOW + HOUR)]),
      roles: [READ],
      add: [READ],
      joined: [],
      outside: [],
    },
    {
      name: 'owns a role an interrupted earlier run of itself added',
      current: [BASE, READ],
      ledger: EMPTY_LEDGER,
      roles: [READ],
      alreadyAdded: [READ],
      add: [],
      joined: [],
      outside: [],
    },
  ])('$name', (row) => {
    const decision = decideApply({
      requestId: 'AR-2',
      roles: row.roles,
      current: row.current,
      ledger: row.ledger,
      alreadyAdded: row.alreadyAdded ?? [],
      now: NOW,
    });
    expect(decision.add).toEqual(row.add);
    expect(decision.joined.map((h) => h.requestId)).toEqual(row.joined);
    expect(decision.outside).toEqual(row.outside);
    expect(decision.hold).toEqual(row.outside.length > 0 ? [] : row.roles);
    expect(decision.next).toEqual([...new Set([...row.current, ...row.add])]);
  });

  it('closes as drift only active holders of other requests whose role Atlas lost', () => {
    const decision = decideApply({
      requestId: 'AR-3',
      roles: [READ],
      current: [BASE],
      ledger: ledger([holder(READ, 'AR-1', NOW + HOUR), holder(READ, 'AR-2', NOW - 1)]),
      alreadyAdded: [],
      now: NOW,
    });
    expect(decision.drifted).toEqual([holder(READ, 'AR-1', NOW + HOUR)]);
  });
});

describe('decideRevoke', () => {
  it('removes a role when its last holder ends', () => {
    const decision = decideRevoke({
      requestId: 'AR-1',
      kind: 'project',
      current: [BASE, READ],
      ledger: ledger([holder(READ, 'AR-1', NOW)]),
      alreadyRemoving: [],
      now: NOW,
    });
    expect(decision).toMatchObject({
      remove: [READ],
      removed: [READ],
      kept: [],
      next: [BASE],
      leaveProject: false,
    });
  });

  it('keeps a role another holder still covers, naming the one that lasts longest', () => {
    const decision = decideRevoke({
      requestId: 'AR-1',
      kind: 'project',
      current: [BASE, READ],
      ledger: ledger([
        holder(READ, 'AR-1', NOW),
        holder(READ, 'AR-2', NOW + 8 * HOUR),
        holder(READ, 'AR-3', NOW + HOUR),
      ]),
      alreadyRemoving: [],
      now: NOW,
    });
    expect(decision.remove).toEqual([]);
    expect(decision.kept).toEqual([holder(READ, 'AR-2', NOW + 8 * HOUR)]);
    expect(decision.release).toEqual([READ]);
  });

  it('lets no holder past its end keep a role (its own revocation may be failing)', () => {
    const decision = decideRevoke({
      requestId: 'AR-2',
      kind: 'project',
      current: [BASE, READ],
      ledger: ledger([holder(READ, 'AR-1', NOW - HOUR), holder(READ, 'AR-2', NOW)]),
      alreadyRemoving: [],
      now: NOW,
    });
    expect(decision).toMatchObject({ remove: [READ], kept: [], next: [BASE] });
  });

  it('lets a permanent holder outlast every temporary one', () => {
    const decision = decideRevoke({
      requestId: 'AR-1',
      kind: 'project',
      current: [BASE, READ],
      ledger: ledger([
        holder(READ, 'AR-1', NOW),
        holder(READ, 'AR-4', null),
        holder(READ, 'AR-2', NOW + HOUR),
      ]),
      alreadyRemoving: [],
      now: NOW,
    });
    expect(decision.kept).toEqual([holder(READ, 'AR-4', null)]);
  });

  it('reports a role already gone, or removed by an interrupted earlier run', () => {
    const gone = decideRevoke({
      requestId: 'AR-1',
      kind: 'project',
      current: [BASE],
      ledger: ledger([holder(READ, 'AR-1', NOW)]),
      alreadyRemoving: [],
      now: NOW,
    });
    expect(gone).toMatchObject({ remove: [], removed: [], gone: [READ] });
    const resumed = decideRevoke({
      requestId: 'AR-1',
      kind: 'project',
      current: [BASE],
      ledger: ledger([holder(READ, 'AR-1', NOW)]),
      alreadyRemoving: [READ],
      now: NOW,
    });
    expect(resumed).toMatchObject({ remove: [], removed: [READ], gone: [] });
  });

  it('takes the person out of a project Rolecall added them to when the last role goes', () => {
    const decision = decideRevoke({
      requestId: 'AR-1',
      kind: 'project',
      current: [READ],
      ledger: ledger([holder(READ, 'AR-1', NOW)], 'AR-1'),
      alreadyRemoving: [],
      now: NOW,
    });
    expect(decision).toMatchObject({ remove: [READ], next: [], leaveProject: true });
    expect(releaseOps(ledger([holder(READ, 'AR-1', NOW)], 'AR-1'), 'AR-1', [READ])).toEqual([
      { op: 'release', role: READ, requestId: 'AR-1' },
      { op: 'membership', requestId: null },
    ]);
  });

  it('keeps the person in the project when someone gave them a role of their own meanwhile', () => {
    const decision = decideRevoke({
      requestId: 'AR-1',
      kind: 'project',
      current: [READ, BASE],
      ledger: ledger([holder(READ, 'AR-1', NOW)], 'AR-1'),
      alreadyRemoving: [],
      now: NOW,
    });
    expect(decision).toMatchObject({ remove: [READ], next: [BASE], leaveProject: false });
  });
});

describe('roleStandingOf', () => {
  it('counts a role whose only holder is past its end (revocation pending) as temporary, not outside', () => {
    const [standing] = roleStandingOf([READ], [BASE, READ], ledger([holder(READ, 'AR-1', NOW - HOUR)]), NOW);
    expect(standing?.kind).toBe('temporary');
  });

  it('tells new, temporary, permanent and outside roles apart', () => {
    const standing = roleStandingOf(
      ['GROUP_A', 'GROUP_B', 'GROUP_C', 'GROUP_D'],
      ['GROUP_B', 'GROUP_C', 'GROUP_D'],
      ledger([
        holder('GROUP_B', 'AR-1', NOW + HOUR),
        holder('GROUP_C', 'AR-2', null),
        holder('GROUP_C', 'AR-3', NOW + HOUR),
      ]),
      NOW,
    );
    expect(standing.map((s) => [s.role, s.kind])).toEqual([
      ['GROUP_A', 'new'],
      ['GROUP_B', 'temporary'],
      ['GROUP_C', 'permanent'],
      ['GROUP_D', 'outside'],
    ]);
  });
});

describe('ledger encoding', () => {
  it('round-trips holders and the membership marker through the Redis hash layout', () => {
    const keys = redisKeys('p');
    const write = encodeLedgerWrite(keys, {
      email: 'Dana.Smith@Example.com',
      target: { kind: 'project', id: '5f1a2b3c4d5e6f7a8b9c0d1e' },
      ops: [
        { op: 'hold', role: READ, requestId: 'AR-0001', until: NOW },
        { op: 'hold', role: BASE, requestId: 'AR-0002', until: null },
        { op: 'membership', requestId: 'AR-0001' },
        { op: 'release', role: READ, requestId: 'AR-0000' },
      ],
      ending: { requestId: 'AR-0001', at: NOW },
    });
    expect(write.key).toBe('p:grants:project:5f1a2b3c4d5e6f7a8b9c0d1e:dana.smith@example.com');
    expect(write.hdel).toEqual([`hold:${READ}:AR-0000`]);
    expect(write.ending).toEqual({ member: 'AR-0001', score: String(NOW) });
    expect(decodeLedger(Object.fromEntries(write.hset))).toEqual({
      holders: [holder(READ, 'AR-0001', NOW), holder(BASE, 'AR-0002', null)].sort((a, b) =>
        a.role.localeCompare(b.role),
      ),
      membershipBy: 'AR-0001',
    });
  });
});
