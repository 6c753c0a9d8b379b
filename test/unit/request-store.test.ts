import { readFileSync } from 'node:fs';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRequestStore, type RequestStore } from '../../dev/request-store.js';
import { deleteKeys } from '../../dev/sandbox.js';
import { isAppError } from '../../src/errors.js';
import type { AccessRequest, RequestDraft } from '../../src/requests/model.js';
import {
  DECISIONS_KEPT,
  FLAT_REQUEST_SCHEMA,
  REQUEST_SCHEMA_VERSION,
} from '../../src/requests/request-codec.js';
import { COMPRESSED_REQUEST_SCHEMA } from '../../src/requests/settled-record.js';
import { TEST_REDIS_URL, uniquePrefix } from '../support/redis.js';

const DRAFT: RequestDraft = {
  requesterId: 'U0ALICE',
  granteeId: 'U0ALICE',
  granteeEmail: 'alice@example.com',
  target: { name: 'payments-prod', kind: 'project', id: '5f1a2b3c4d5e6f7a8b9c0d1e' },
  roles: ['GROUP_READ_ONLY'],
  durationSeconds: 3600,
  reason: 'incident 42',
  sourceChannelId: 'C0GENERAL',
  replyUrl: null,
  rolesAtRequest: [],
  holdersAtRequest: [],
  addsToProject: false,
  extends: null,
};

type Grant = NonNullable<AccessRequest['grant']>;

/** GROUP_READ_ONLY applied now, ending at `revokeAt` (null: for good). */
function grantOf(revokeAt: number | null, extra: Partial<Grant> = {}): Grant {
  return {
    rolesAfter: ['GROUP_READ_ONLY'],
    appliedAt: Date.now(),
    revokeAt,
    held: ['GROUP_READ_ONLY'],
    joined: [],
    outside: [],
    addedToProject: false,
    ...extra,
  };
}

/** Moves a pending request through approved (by U0BOB) and applying to applied with `grant`. */
async function applyThrough(store: RequestStore, id: string, grant: Grant) {
  await store.transition(id, { from: 'pending', to: 'approved', actor: 'U0BOB' });
  await store.transition(id, { from: 'approved', to: 'applying', actor: 'system' });
  return store.transition(id, { from: 'applying', to: 'applied', actor: 'system', patch: { grant } });
}

/** The fields of a stored request hash, sorted; the chunks of a compressed one (`z0`, `z1`, …) as `z…`. */
async function storedFields(redis: Redis, key: string): Promise<string[]> {
  const fields = (await redis.hkeys(key)).map((field) => (/^z\d+$/.test(field) ? 'z…' : field));
  return [...new Set(fields)].sort();
}

/** A store on real Redis under a prefix of its own, cleaned up after the suite. */
function useStore(label: string): {
  readonly redis: Redis;
  readonly store: RequestStore;
  readonly prefix: string;
} {
  const prefix = uniquePrefix(label);
  const parts = {} as { redis: Redis; store: RequestStore; prefix: string };
  beforeAll(() => {
    parts.redis = new Redis(TEST_REDIS_URL);
    parts.store = createRequestStore(parts.redis, { prefix });
    parts.prefix = prefix;
  });
  afterAll(async () => {
    await deleteKeys(TEST_REDIS_URL, prefix);
    await parts.redis.quit();
  });
  return parts;
}

describe('request store (real Redis)', () => {
  const context = useStore('store');

  it('creates pending requests with sequential ids and round-trips every field', async () => {
    const first = await context.store.create(DRAFT, 'U0ALICE', 'pending');
    const second = await context.store.create(DRAFT, 'U0ALICE', 'pending');
    expect(first.state).toBe('pending');
    expect(Number(second.id.slice(3))).toBe(Number(first.id.slice(3)) + 1);
    expect(await context.store.get(first.id)).toEqual(first);
    expect(first).toMatchObject({ ...DRAFT, approvalMessage: null, plan: null });
  });

  it('moves a request when it is in an expected state, and reports the current state when not', async () => {
    const request = await context.store.create(DRAFT, 'U0ALICE', 'pending');
    const approved = await context.store.transition(request.id, {
      from: 'pending',
      to: 'approved',
      actor: 'U0BOB',
      patch: { decision: { by: 'U0BOB', at: 1, note: null } },
    });
    expect(approved.ok && approved.request.decision).toEqual({ by: 'U0BOB', at: 1, note: null });
    const late = await context.store.transition(request.id, {
      from: 'pending',
      to: 'denied',
      actor: 'U0CAROL',
    });
    expect(late.ok).toBe(false);
    expect(!late.ok && late.current.state).toBe('approved');
  });

  it('lets exactly one of 50 concurrent decisions win', async () => {
    const request = await context.store.create(DRAFT, 'U0ALICE', 'pending');
    const results = await Promise.all(
      Array.from({ length: 50 }, (_, i) =>
        context.store.transition(request.id, {
          from: 'pending',
          to: i % 2 === 0 ? 'approved' : 'denied',
          actor: `U0${i}`,
        }),
      ),
    );
    expect(results.filter((r) => r.ok)).toHaveLength(1);
    const audit = await context.store.audit(request.id);
    expect(audit.map((e) => e.to)).toEqual(['pending', results.find((r) => r.ok)?.request?.state]);
  });

  it('refuses moves the state machine does not allow, before touching Redis', async () => {
    const request = await context.store.create(DRAFT, 'U0ALICE', 'pending');
    await expect(
      context.store.transition(request.id, { from: 'pending', to: 'applied', actor: 'system' }),
    ).rejects.toSatisfy((e: unknown) => isAppError(e, 'INTERNAL'));
    expect((await context.store.require(request.id)).state).toBe('pending');
  });

  it('writes an audit entry per transition to the global stream and to the trail the request keeps', async () => {
    const request = await context.store.create(DRAFT, 'U0ALICE', 'pending');
    await context.store.transition(request.id, {
      from: 'pending',
      to: 'denied',
      actor: 'U0BOB',
      detail: 'not today',
      policyVersion: 'c107cc2d043a',
    });
    const trail = await context.store.audit(request.id);
    expect(trail.map(({ from, to, actor, detail, policy }) => ({ from, to, actor, detail, policy }))).toEqual(
      [
        { from: null, to: 'pending', actor: 'U0ALICE', detail: 'requested', policy: null },
        { from: 'pending', to: 'denied', actor: 'U0BOB', detail: 'not today', policy: 'c107cc2d043a' },
      ],
    );
    const global = await context.redis.xrange(`${context.prefix}:audit`, '-', '+');
    const entries = global.filter(([, fields]) => fields.includes(request.id));
    expect(entries).toHaveLength(2);
    // The request keeps its trail in its own hash, no key of its own; the same entries, field for field.
    expect(await context.redis.exists(`${context.prefix}:request:${request.id}:audit`)).toBe(0);
    const fields = (flat: string[]) =>
      Object.fromEntries(flat.flatMap((v, i) => (i % 2 === 0 ? [[v, flat[i + 1] ?? '']] : [])));
    expect((await context.store.trail(request.id)).map((e) => e.fields)).toEqual(
      entries.map(([, flat]) => fields(flat)),
    );
    expect(await context.redis.pttl(`${context.prefix}:request:${request.id}`)).toBeGreaterThan(0);
  });

  it('patches fields only while the request is in an allowed state', async () => {
    const request = await context.store.create(DRAFT, 'U0ALICE', 'pending');
    const patched = await context.store.patch(request.id, ['pending'], {
      approvalMessage: { channelId: 'C1', ts: '1.2' },
    });
    expect(patched.ok && patched.request.approvalMessage).toEqual({ channelId: 'C1', ts: '1.2' });
    const refused = await context.store.patch(request.id, ['applying'], { approvalMessage: null });
    expect(refused.ok).toBe(false);
    expect((await context.store.require(request.id)).approvalMessage).toEqual({ channelId: 'C1', ts: '1.2' });
  });

  it('says a missing request does not exist', async () => {
    await expect(context.store.require('AR-999999')).rejects.toThrow('There is no request AR-999999.');
  });
});

describe('request store indexes (real Redis)', () => {
  const context = useStore('index');

  it('lists a requester’s requests newest first, pending ones per target, and active ones for the sweeper', async () => {
    const first = await context.store.create(DRAFT, 'U0ALICE', 'pending');
    const second = await context.store.create({ ...DRAFT, requesterId: 'U0DAVE' }, 'U0DAVE', 'pending');
    const third = await context.store.create(DRAFT, 'U0ALICE', 'pending');
    expect((await context.store.listByRequester('U0ALICE', 10)).map((r) => r.id)).toEqual([
      third.id,
      first.id,
    ]);
    expect((await context.store.listPending([DRAFT.target.id])).map((r) => r.id)).toEqual([
      first.id,
      second.id,
      third.id,
    ]);

    await context.store.transition(first.id, { from: 'pending', to: 'denied', actor: 'U0BOB' });
    await context.store.transition(second.id, { from: 'pending', to: 'approved', actor: 'U0BOB' });
    expect((await context.store.listPending([DRAFT.target.id])).map((r) => r.id)).toEqual([third.id]);
    const active = await context.store.listActive(Date.now() + 1, 10);
    expect(active.map((r) => r.id).sort()).toEqual([second.id, third.id].sort());
  });

  it('lists what gives a person access (their own requests for themselves, and those others made for them), newest first', async () => {
    const own = await context.store.create(
      { ...DRAFT, requesterId: 'U0ERIN', granteeId: 'U0ERIN' },
      'U0ERIN',
      'pending',
    );
    const forErin = await context.store.create(
      { ...DRAFT, requesterId: 'U0FRANK', granteeId: 'U0ERIN' },
      'U0FRANK',
      'pending',
    );
    const forOthers = await context.store.create(
      { ...DRAFT, requesterId: 'U0ERIN', granteeId: 'U0GINA' },
      'U0ERIN',
      'pending',
    );
    const ownAgain = await context.store.create(
      { ...DRAFT, requesterId: 'U0ERIN', granteeId: 'U0ERIN' },
      'U0ERIN',
      'pending',
    );
    expect((await context.store.listByGrantee('U0ERIN', 10)).map((r) => r.id)).toEqual([
      ownAgain.id,
      forErin.id,
      own.id,
    ]);
    expect((await context.store.listByGrantee('U0ERIN', 2)).map((r) => r.id)).toEqual([
      ownAgain.id,
      forErin.id,
    ]);
    expect((await context.store.listByGrantee('U0GINA', 10)).map((r) => r.id)).toEqual([forOthers.id]);
    // A request for oneself is in one index, not two; one for someone else in both.
    expect(await context.redis.zrange(`${context.prefix}:index:grantee:U0ERIN`, 0, -1)).toEqual([forErin.id]);
    expect(await context.redis.zrange(`${context.prefix}:index:requester:U0ERIN`, 0, -1)).toEqual([
      own.id,
      forOthers.id,
      ownAgain.id,
    ]);
  });

  it("keeps a person's latest DECISIONS_KEPT decisions, newest first", async () => {
    const ids: string[] = [];
    for (let i = 0; i < DECISIONS_KEPT + 3; i += 1) {
      const request = await context.store.create({ ...DRAFT, requesterId: 'U0HAL' }, 'U0HAL', 'pending');
      await context.store.transition(request.id, {
        from: 'pending',
        to: 'denied',
        actor: 'U0IVY',
        policyVersion: 'c107cc2d043a',
      });
      ids.push(request.id);
    }
    const decided = await context.store.listDecidedBy('U0IVY', 500);
    expect(decided.map((r) => r.id)).toEqual(ids.slice(3).reverse());
    expect(await context.redis.object('ENCODING', `${context.prefix}:index:decider:U0IVY`)).toBe('listpack');
  });

  it('keeps an applied grant active only while it has a revocation ahead', async () => {
    const temporary = await context.store.create(DRAFT, 'U0ALICE', 'pending');
    const permanent = await context.store.create({ ...DRAFT, durationSeconds: null }, 'U0ALICE', 'pending');
    for (const [request, revokeAt] of [
      [temporary, Date.now() + 60_000],
      [permanent, null],
    ] as const) {
      await applyThrough(context.store, request.id, grantOf(revokeAt));
    }
    const active = (await context.store.listActive(Date.now() + 1, 100)).map((r) => r.id);
    expect(active).toContain(temporary.id);
    expect(active).not.toContain(permanent.id);
  });
});

describe('request store: settled requests', () => {
  const context = useStore('settled');

  const applyPermanent = async () => {
    const created = await context.store.create({ ...DRAFT, durationSeconds: null }, 'U0ALICE', 'pending');
    await context.store.transition(created.id, { from: 'pending', to: 'approved', actor: 'U0BOB' });
    await context.store.transition(created.id, { from: 'approved', to: 'applying', actor: 'system' });
    const applying = await context.store.require(created.id);
    const grant = grantOf(null);
    await context.store.transition(created.id, {
      from: 'applying',
      to: 'applied',
      actor: 'system',
      patch: { grant },
    });
    return { id: created.id, applying, grant };
  };

  it('keeps a settled request compressed in one field, reads it back unchanged, and unpacks it on the next write', async () => {
    const { id, applying, grant } = await applyPermanent();
    const key = `${context.prefix}:request:${id}`;
    expect(await storedFields(context.redis, key)).toEqual(['schema', 'state', 'z…']);
    expect(await context.redis.hget(key, 'schema')).toBe(String(COMPRESSED_REQUEST_SCHEMA));
    expect(COMPRESSED_REQUEST_SCHEMA).toBe(REQUEST_SCHEMA_VERSION);
    const settled = await context.store.require(id);
    expect(settled).toEqual({ ...applying, state: 'applied', grant, updatedAt: settled.updatedAt });
    // What compressing is for: a settled request, its trail included, costs well under the ~1.3 KB it
    // took packed (its trail another ~900 B in a list of its own), and the ~3 KB of a hash field per field.
    expect(await context.redis.object('ENCODING', key)).toBe('listpack');
    expect(Number(await context.redis.memory('USAGE', key, 'SAMPLES', '0'))).toBeLessThan(600);

    // Ending the grant early moves it on, from a process that never saw it (who it is about comes
    // from the compressed field too): the fields are back, one per hash field, unchanged, and the
    // hash says schema 2 again (the previous release can read it).
    const other = createRequestStore(context.redis, { prefix: context.prefix });
    const moved = await other.transition(id, { from: 'applied', to: 'revoking', actor: 'U0BOB' });
    expect(moved.ok).toBe(true);
    expect(await context.redis.hget(key, 'schema')).toBe(String(FLAT_REQUEST_SCHEMA));
    expect(await storedFields(context.redis, key)).not.toContain('z…');
    expect(await context.redis.hexists(key, 'packed')).toBe(0);
    expect(await context.redis.hget(key, 'grant')).toBe(JSON.stringify(grant));
    expect(await context.store.require(id)).toEqual({
      ...settled,
      state: 'revoking',
      updatedAt: expect.any(Number),
    });

    // A final state compresses again and keeps the retention TTL.
    await context.store.transition(id, { from: 'revoking', to: 'revoked', actor: 'system' });
    expect(await storedFields(context.redis, key)).toEqual(['schema', 'state', 'z…']);
    expect(await context.redis.pttl(key)).toBeGreaterThan(0);
    expect((await context.store.audit(id)).map((e) => [e.from, e.to, e.actor])).toEqual([
      [null, 'pending', 'U0ALICE'],
      ['pending', 'approved', 'U0BOB'],
      ['approved', 'applying', 'system'],
      ['applying', 'applied', 'system'],
      ['applied', 'revoking', 'U0BOB'],
      ['revoking', 'revoked', 'system'],
    ]);
  });

  it('tells the write counts in the order of the writes while settling requests are being compressed', async () => {
    const counts: number[] = [];
    const counting = createRequestStore(context.redis, {
      prefix: context.prefix,
      onWrites: (count) => counts.push(count),
    });
    const created = await Promise.all(
      Array.from({ length: 20 }, () => counting.create(DRAFT, 'U0ALICE', 'pending')),
    );
    // Every other request settles (denied: compressed after its write), the others only get a note.
    await Promise.all(
      created.map((request, i) =>
        i % 2 === 0
          ? counting.transition(request.id, { from: 'pending', to: 'denied', actor: 'U0BOB' })
          : counting.note(request.id, { whileIn: ['pending'], actor: 'U0BOB', detail: 'looking' }),
      ),
    );
    expect(counts).toHaveLength(40);
    expect(counts).toEqual([...counts].sort((a, b) => a - b));
    for (const [i, request] of created.entries()) {
      const fields = await storedFields(context.redis, `${context.prefix}:request:${request.id}`);
      expect(fields.includes('z…')).toBe(i % 2 === 0);
    }
  });

  it('checks expectations against a compressed request, a field left out as its default included', async () => {
    const { id } = await applyPermanent();
    const stale = await context.store.transition(id, {
      from: 'applied',
      to: 'revoking',
      actor: 'U0BOB',
      expect: { attempt: 99 },
    });
    expect(stale.ok).toBe(false);
    expect(!stale.ok && stale.current).toEqual(await context.store.require(id));
    expect(await storedFields(context.redis, `${context.prefix}:request:${id}`)).toContain('z…');
    // `extensions: []` and `endedEarly: null` are their defaults, so packing left them out.
    const current = await context.store.transition(id, {
      from: 'applied',
      to: 'revoking',
      actor: 'U0BOB',
      expect: { extensions: [], endedEarly: null },
    });
    expect(current.ok).toBe(true);
  });
});

describe('request store: an id that names another request than the one a process remembers', () => {
  const context = useStore('reused-id');
  const MALLORY: RequestDraft = {
    ...DRAFT,
    requesterId: 'U0MALLORY',
    granteeId: 'U0MALLORY',
    granteeEmail: 'mallory@example.com',
    target: { name: 'analytics', kind: 'project', id: '5f1a2b3c4d5e6f7a8b9c0d2e' },
  };

  it("writes under the stored request's own people and target, not those a process remembers for the id", async () => {
    // Ids are never issued twice (lib/ids.ts); a restore or a hand edit can still put another request
    // under a key. Another process worked on Alice's request and remembers who it was about.
    const other = createRequestStore(context.redis, { prefix: context.prefix });
    const alices = await context.store.create(DRAFT, 'U0ALICE', 'pending');
    await other.transition(alices.id, { from: 'pending', to: 'approved', actor: 'U0BOB' });

    // Redis loses everything, and Mallory's pending request comes back under Alice's id.
    await deleteKeys(TEST_REDIS_URL, context.prefix);
    const mallorys = await context.store.create(MALLORY, 'U0MALLORY', 'pending');
    await context.redis.rename(
      `${context.prefix}:request:${mallorys.id}`,
      `${context.prefix}:request:${alices.id}`,
    );
    await context.redis.srem(`${context.prefix}:index:pending:${MALLORY.target.id}`, mallorys.id);
    await context.redis.sadd(`${context.prefix}:index:pending:${MALLORY.target.id}`, alices.id);
    const moved = await other.transition(alices.id, { from: 'pending', to: 'denied', actor: 'U0CAROL' });
    expect(moved.ok).toBe(true);
    expect(moved.ok && moved.request.requesterId).toBe('U0MALLORY');

    // Alice's indexes stay empty; Mallory's target no longer lists it as pending.
    const index = (name: string) => context.redis.zrange(`${context.prefix}:index:${name}`, 0, -1);
    expect(await index('requester:U0ALICE')).toEqual([]);
    expect(await index('grantee:U0ALICE')).toEqual([]);
    expect(await context.store.listByRequester('U0ALICE', 10)).toEqual([]);
    expect(await context.redis.smembers(`${context.prefix}:index:open:U0ALICE`)).toEqual([]);
    expect(await context.redis.smembers(`${context.prefix}:index:pending:${MALLORY.target.id}`)).toEqual([]);
    expect(await context.redis.smembers(`${context.prefix}:index:pending:${DRAFT.target.id}`)).toEqual([]);
  });

  it('accepts a stored requester spelled differently in JSON but equal (compares values, not text)', async () => {
    const created = await context.store.create(DRAFT, 'U0ALICE', 'pending');
    await context.redis.hset(`${context.prefix}:request:${created.id}`, 'requesterId', '"U0\\u0041LICE"');
    const other = createRequestStore(context.redis, { prefix: context.prefix });
    const denied = await other.transition(created.id, { from: 'pending', to: 'denied', actor: 'U0BOB' });
    expect(denied.ok).toBe(true);
  });

  it('keeps moving a request whose target name or grant holds half an emoji (fields the script decodes)', async () => {
    const created = await context.store.create(
      { ...DRAFT, target: { ...DRAFT.target, name: 'pay \ud83d' } },
      'U0ALICE',
      'pending',
    );
    const applied = await applyThrough(
      context.store,
      created.id,
      grantOf(Date.now() + 60_000, { dryRun: ['not sent: x \ud83d'] }),
    );
    expect(applied.ok).toBe(true);
    const stored = await context.store.require(created.id);
    expect(stored.target.name).toBe('pay \ufffd');
    expect(stored.grant?.dryRun).toEqual(['not sent: x \ufffd']);
  });

  it('stores a detail with half an emoji (a lone surrogate) instead of failing the write', async () => {
    const created = await context.store.create(DRAFT, 'U0ALICE', 'pending');
    const denied = await context.store.transition(created.id, {
      from: 'pending',
      to: 'denied',
      actor: 'U0BOB',
      detail: 'cut emoji \ud83d',
      patch: { decision: { by: 'U0BOB', at: Date.now(), note: 'cut emoji \ud83d' } },
    });
    expect(denied.ok).toBe(true);
    expect((await context.store.audit(created.id)).at(-1)?.detail).toBe('cut emoji \ufffd');
  });
});

describe('request store: stored format across releases', () => {
  const context = useStore('stored-format');
  const fixture = JSON.parse(
    readFileSync(new URL('../fixtures/stored/request-applied-2026-11-30.json', import.meta.url), 'utf8'),
  ) as { id: string; hash: Record<string, string> };

  it('reads a request stored by the previous release (no schema field) and moves it on', async () => {
    expect(fixture.hash).not.toHaveProperty('schema');
    await context.redis.hset(`${context.prefix}:request:${fixture.id}`, fixture.hash);
    await context.redis.set(`${context.prefix}:request:seq`, '1');
    const request = await context.store.require(fixture.id);
    expect(request).toMatchObject({
      id: 'AR-0001',
      state: 'applied',
      granteeEmail: 'alice@example.com',
      target: { kind: 'project', id: '5f1a2b3c4d5e6f7a8b9c0d1e', name: 'payments-prod' },
      roles: ['GROUP_DATA_ACCESS_READ_ONLY'],
      durationSeconds: 3600,
      approvals: [{ by: 'U0BOB', note: null }],
      plan: { added: ['GROUP_DATA_ACCESS_READ_ONLY'], addsToProject: false },
      attempt: 1,
    });
    expect(request.grant?.revokeAt).toBe(request.grant ? request.grant.appliedAt + 3_600_000 : null);
    const moved = await context.store.transition(fixture.id, {
      from: 'applied',
      to: 'revoking',
      actor: 'system',
      detail: 'ends',
    });
    expect(moved.ok).toBe(true);
    expect((await context.store.require(fixture.id)).state).toBe('revoking');
  });

  it('reads requests and trails stored by the schema-2 release, and packs one when it settles', async () => {
    const captured = JSON.parse(
      readFileSync(new URL('../fixtures/stored/requests-schema-2-2026-11-30.json', import.meta.url), 'utf8'),
    ) as Record<'applied' | 'denied', { id: string; hash: Record<string, string>; trail: string[] }>;
    for (const { id, hash, trail } of [captured.applied, captured.denied]) {
      expect(hash.schema).toBe('2');
      // The tests of this describe share a prefix: start from the captured keys alone.
      await context.redis.del(`${context.prefix}:request:${id}`, `${context.prefix}:request:${id}:audit`);
      await context.redis.hset(`${context.prefix}:request:${id}`, hash);
      await context.redis.rpush(`${context.prefix}:request:${id}:audit`, ...trail);
    }
    await context.redis.set(`${context.prefix}:request:seq`, '2');

    const denied = await context.store.require('AR-0002');
    expect(denied).toMatchObject({ state: 'denied', decision: { by: 'U0CAROL', note: 'not now' } });
    expect(denied.reason).toBe('capture "deny" ✓');
    // Old trail entries carry every field; they read like the compact ones.
    expect((await context.store.audit('AR-0002')).map((e) => [e.requestId, e.from, e.to, e.actor])).toEqual([
      ['AR-0002', null, 'submitted', 'U0ALICE'],
      ['AR-0002', 'submitted', 'pending', 'system'],
      ['AR-0002', 'pending', 'denied', 'U0CAROL'],
    ]);

    const applied = await context.store.require('AR-0001');
    expect(applied.grant?.revokeAt).toBe(applied.grant ? applied.grant.appliedAt + 3_600_000 : null);
    await context.store.transition('AR-0001', { from: 'applied', to: 'revoking', actor: 'system' });
    await context.store.transition('AR-0001', { from: 'revoking', to: 'revoked', actor: 'system' });
    const key = `${context.prefix}:request:AR-0001`;
    expect(await context.redis.hget(key, 'schema')).toBe(String(REQUEST_SCHEMA_VERSION));
    expect(await storedFields(context.redis, key)).toEqual(['schema', 'state', 'z…']);
    expect(await context.store.require('AR-0001')).toEqual({
      ...applied,
      state: 'revoked',
      updatedAt: expect.any(Number),
    });
    expect((await context.store.audit('AR-0001')).map((e) => e.to)).toEqual([
      'submitted',
      'pending',
      'approved',
      'applying',
      'applied',
      'revoking',
      'revoked',
    ]);
  });

  it('writes schema 2 on a new (flat) request, which the previous release reads, and refuses one written by a newer release', async () => {
    const created = await context.store.create(DRAFT, 'U0ALICE', 'pending');
    expect(await context.redis.hget(`${context.prefix}:request:${created.id}`, 'schema')).toBe(
      String(FLAT_REQUEST_SCHEMA),
    );
    await context.redis.hset(`${context.prefix}:request:${created.id}`, 'schema', '99');
    const error = await context.store.get(created.id).catch((e: unknown) => e);
    expect(isAppError(error, 'STORAGE_UNAVAILABLE')).toBe(true);
    expect((error as Error).message).toContain('stored by a newer Rolecall (schema 99)');
  });
});

/** A captured request: its hash (a compressed one's chunks in base64), its own trail key if any, its global stream entries. */
interface CapturedRequest {
  readonly id: string;
  readonly hash: Record<string, string>;
  readonly trail?: readonly string[];
  readonly stream: readonly [string, string[]][];
}

/** Stores a captured request under `prefix` as the release that wrote it left it. */
async function storeCaptured(redis: Redis, prefix: string, captured: CapturedRequest): Promise<void> {
  const key = `${prefix}:request:${captured.id}`;
  await redis.hset(
    key,
    Object.fromEntries(
      Object.entries(captured.hash).map(([field, value]) => [
        field,
        /^z\d+$/.test(field) ? Buffer.from(value, 'base64') : value,
      ]),
    ),
  );
  if (captured.trail) await redis.rpush(`${key}:audit`, ...captured.trail);
  for (const [id, fields] of captured.stream) await redis.xadd(`${prefix}:audit`, id, ...fields);
  await redis.set(`${prefix}:request:seq`, '1');
}

const captured = (file: string) =>
  JSON.parse(readFileSync(new URL(`../fixtures/stored/${file}`, import.meta.url), 'utf8')) as CapturedRequest;

describe('request store: a settled request stored packed by the previous release (schema 3)', () => {
  const context = useStore('stored-packed');
  const fixture = captured('request-packed-2026-12-07.json');

  it('reads it and its own trail (once, though the global stream has the entries too), and compresses it on its next write', async () => {
    expect(fixture.hash.schema).toBe('3');
    await storeCaptured(context.redis, context.prefix, fixture);
    const request = await context.store.require(fixture.id);
    expect(request).toMatchObject({
      state: 'revoked',
      requesterId: 'U0ALICE',
      reason: 'capture "end" ✓',
      ticket: 'OPS-7',
      durationSeconds: null,
      decision: { by: 'U0BOB', note: null },
      endedEarly: { by: 'U0ALICE' },
      revocation: { removed: ['GROUP_DATA_ACCESS_READ_ONLY'], leftProject: false },
      extensions: [],
      attempt: 1,
    });
    const trail = await context.store.audit(fixture.id);
    expect(trail.map((e) => [e.from, e.to, e.actor])).toEqual([
      [null, 'submitted', 'U0ALICE'],
      ['submitted', 'pending', 'system'],
      ['pending', 'approved', 'U0BOB'],
      ['approved', 'applying', 'system'],
      ['applying', 'applied', 'system'],
      ['applied', 'applied', 'U0ALICE'],
      ['applied', 'revoking', 'system'],
      ['revoking', 'revoked', 'U0ALICE'],
    ]);
    expect(trail[0]?.detail).toBe('requested with ticket OPS-7');
    expect(trail[2]?.policy).toBe('c107cc2d043a');

    // A note on it (the only kind of write a revoked request takes) goes on the trail it has.
    const noted = await context.store.note(fixture.id, {
      whileIn: ['revoked'],
      actor: 'system',
      detail: 'a note after the upgrade',
    });
    expect(noted.ok).toBe(true);
    expect(await context.redis.llen(`${context.prefix}:request:${fixture.id}:audit`)).toBe(9);
    expect((await context.store.audit(fixture.id)).at(-1)?.detail).toBe('a note after the upgrade');
    const key = `${context.prefix}:request:${fixture.id}`;
    expect(await storedFields(context.redis, key)).toEqual(['schema', 'state', 'z…']);
    expect(await context.store.require(fixture.id)).toEqual({ ...request, updatedAt: expect.any(Number) });
  });
});

describe('request store: a settled request stored compressed (schema 4)', () => {
  const context = useStore('stored-compressed');
  const fixture = captured('request-compressed-2026-12-07.json');

  it('reads a captured compressed request and the trail it keeps, as stored', async () => {
    expect(fixture.hash.schema).toBe(String(COMPRESSED_REQUEST_SCHEMA));
    await storeCaptured(context.redis, context.prefix, fixture);
    expect(await context.store.require(fixture.id)).toMatchObject({
      state: 'revoked',
      granteeEmail: 'alice@example.com',
      target: { kind: 'project', id: '5f1a2b3c4d5e6f7a8b9c0d1e', name: 'payments-prod' },
      roles: ['GROUP_DATA_ACCESS_READ_ONLY'],
      reason: 'capture "end" ✓',
      ticket: 'OPS-7',
      approversAtRequest: ['U0BOB', 'U0CAROL'],
      plan: { atlasUserId: '64b000000000000000000a11', added: ['GROUP_DATA_ACCESS_READ_ONLY'] },
      grant: { held: ['GROUP_DATA_ACCESS_READ_ONLY'], revokeAt: expect.any(Number) },
      revocation: { removed: ['GROUP_DATA_ACCESS_READ_ONLY'], rolesAfter: ['GROUP_READ_ONLY'] },
      holdersAtRequest: [],
      failure: null,
    });
    // Its trail is the global stream's entries for it, field for field.
    const fields = (flat: readonly string[]) =>
      Object.fromEntries(flat.flatMap((v, i) => (i % 2 === 0 ? [[v, flat[i + 1] ?? '']] : [])));
    expect((await context.store.trail(fixture.id)).map((e) => e.fields)).toEqual(
      fixture.stream.map(([, flat]) => fields(flat)),
    );

    // A write to it expands it (the script cannot), adds to its trail and compresses it again.
    const before = await context.store.require(fixture.id);
    const noted = await context.store.note(fixture.id, {
      whileIn: ['revoked'],
      actor: 'system',
      detail: 'a note after capture',
    });
    expect(noted.ok && noted.request).toEqual({ ...before, updatedAt: expect.any(Number) });
    expect(await context.store.trail(fixture.id)).toHaveLength(9);
    expect((await context.store.audit(fixture.id)).at(-1)).toMatchObject({
      from: 'revoked',
      to: 'revoked',
      detail: 'a note after capture',
    });
    const key = `${context.prefix}:request:${fixture.id}`;
    expect(await context.redis.hget(key, 'schema')).toBe('4');
    expect(await storedFields(context.redis, key)).toEqual(['schema', 'state', 'z…']);
  });
});
