import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRequestStore, type RequestStore } from '../../dev/request-store.js';
import { deleteKeys } from '../../dev/sandbox.js';
import type { RequestDraft, RequestState } from '../../src/requests/model.js';
import { canTransition, isFinal, TRANSITIONS } from '../../src/requests/state-machine.js';
import { appErrorOf } from '../support/errors.js';
import { TEST_REDIS_URL, uniquePrefix } from '../support/redis.js';

/**
 * The request states and their moves, written out here as the README and state-machine.ts describe
 * them: the oracle the code's table is held to, so a move added or dropped by accident fails here.
 */
const ALLOWED: Readonly<Record<RequestState, readonly RequestState[]>> = {
  submitted: ['pending', 'refused', 'expired', 'cancelled'],
  pending: ['approved', 'denied', 'expired', 'cancelled'],
  approved: ['applying', 'cancelled'],
  applying: ['applied', 'failed', 'cancelled'],
  applied: ['revoking'],
  revoking: ['revoked', 'revoke_failed'],
  failed: ['approved', 'cancelled'],
  revoke_failed: ['revoking'],
  revoked: [],
  denied: [],
  expired: [],
  cancelled: [],
  refused: [],
};

const STATES = Object.keys(ALLOWED) as RequestState[];

/** Every (from, to) pair, allowed or not: 13 × 13 rows. */
const PAIRS = STATES.flatMap((from) =>
  STATES.map((to) => ({ from, to, allowed: ALLOWED[from].includes(to) })),
);

/** The shortest way from `submitted` to each state, through the table's own moves. */
function pathTo(state: RequestState): RequestState[] {
  const paths = new Map<RequestState, RequestState[]>([['submitted', ['submitted']]]);
  const queue: RequestState[] = ['submitted'];
  for (let next = queue.shift(); next !== undefined; next = queue.shift()) {
    for (const to of ALLOWED[next]) {
      if (paths.has(to)) continue;
      paths.set(to, [...(paths.get(next) ?? []), to]);
      queue.push(to);
    }
  }
  const path = paths.get(state);
  if (!path) throw new Error(`${state} cannot be reached from submitted`);
  return path;
}

const DRAFT: RequestDraft = {
  requesterId: 'U0ALICE',
  granteeId: 'U0ALICE',
  granteeEmail: 'alice@example.com',
  target: { name: 'payments-prod', kind: 'project', id: '5f1a2b3c4d5e6f7a8b9c0d1e' },
  roles: ['GROUP_READ_ONLY'],
  durationSeconds: 3600,
  reason: 'state table',
  sourceChannelId: null,
  replyUrl: null,
  rolesAtRequest: [],
  holdersAtRequest: [],
  addsToProject: false,
  extends: null,
};

describe('request state table', () => {
  it('knows exactly the states of the table, no more, no fewer', () => {
    expect(Object.keys(TRANSITIONS).sort()).toEqual([...STATES].sort());
  });

  it.each(PAIRS)('$from -> $to: allowed $allowed', ({ from, to, allowed }) => {
    expect(canTransition(from, to)).toBe(allowed);
  });

  it.each(STATES)('calls %s final only when nothing leaves it', (state) => {
    expect(isFinal(state)).toBe(ALLOWED[state].length === 0);
  });
});

describe('request store keeps to the state table (real Redis)', () => {
  const prefix = uniquePrefix('state-table');
  let redis: Redis;
  let store: RequestStore;

  beforeAll(() => {
    redis = new Redis(TEST_REDIS_URL);
    store = createRequestStore(redis, { prefix });
  });

  afterAll(async () => {
    await deleteKeys(TEST_REDIS_URL, prefix);
    await redis.quit();
  });

  /** A stored request brought to `state` the way requests get there: submitted, then move by move. */
  const requestIn = async (state: RequestState) => {
    const path = pathTo(state);
    let request = await store.create(DRAFT, 'U0ALICE', 'submitted');
    for (let i = 1; i < path.length; i += 1) {
      const moved = await store.transition(request.id, {
        from: path[i - 1] as RequestState,
        to: path[i] as RequestState,
        actor: 'system',
      });
      if (!moved.ok) throw new Error(`could not bring ${request.id} to ${state}`);
      request = moved.request;
    }
    expect(request.state).toBe(state);
    return { request, trail: path.length };
  };

  it('reaches every state from submitted', () => {
    for (const state of STATES) expect(pathTo(state).at(-1)).toBe(state);
  });

  it.each(STATES)(
    'moves a %s request along every allowed move and refuses every other one, changing nothing',
    async (from) => {
      for (const to of STATES) {
        const { request, trail } = await requestIn(from);
        if (ALLOWED[from].includes(to)) {
          const moved = await store.transition(request.id, { from, to, actor: 'system' });
          expect(moved.ok, `${from} -> ${to}`).toBe(true);
          expect((await store.require(request.id)).state).toBe(to);
          const audit = await store.audit(request.id);
          expect(audit.at(-1)).toMatchObject({ from, to, actor: 'system' });
        } else {
          const refused = await appErrorOf(() => store.transition(request.id, { from, to, actor: 'system' }));
          expect(refused.code, `${from} -> ${to}`).toBe('INTERNAL');
          expect(refused.message).toBe(`The state machine does not allow ${from} -> ${to}.`);
          // Refused before any write: the request and its trail are as they were.
          expect(await store.require(request.id)).toEqual(request);
          expect(await store.audit(request.id)).toHaveLength(trail);
        }
      }
    },
  );

  it.each(STATES.filter((state) => ALLOWED[state].length > 0))(
    'refuses an allowed move out of %s when the request is no longer there (a lost race), changing nothing',
    async (from) => {
      const to = ALLOWED[from][0] as RequestState;
      const other = STATES.find((state) => state !== from && !ALLOWED[state].includes(to)) ?? 'revoked';
      const { request } = await requestIn(other);
      const moved = await store.transition(request.id, { from, to, actor: 'system' });
      expect(moved.ok).toBe(false);
      expect(!moved.ok && moved.current.state).toBe(other);
      expect(await store.require(request.id)).toEqual(request);
    },
  );
});
