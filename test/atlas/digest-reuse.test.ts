import { request } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import type { AtlasSimulator, AtlasSimulatorOptions, RecordedAtlasCall } from '../../dev/atlas-simulator.js';
import { toAtlasAppError } from '../../src/atlas/atlas-error.js';
import { buildDigestAuthorization, createCnonce, parseDigestChallenge } from '../../src/atlas/digest.js';
import { FIXTURE, fixtureHttp, startFixtureSimulator } from '../support/atlas-fixture.js';
import { defined } from '../support/defined.js';
import { appErrorOf } from '../support/errors.js';

const READ = {
  method: 'GET',
  path: `/api/atlas/v2/users/byName/${encodeURIComponent(FIXTURE.alice.email)}`,
  mediaType: 'application/vnd.atlas.2023-01-01+json',
  operation: 'looking up a user',
} as const;

const WRITE = {
  method: 'PUT',
  path: `/api/atlas/v2/groups/${FIXTURE.project}/users/${FIXTURE.alice.id}/roles`,
  body: { groupRoles: ['GROUP_READ_ONLY'] },
  mediaType: 'application/vnd.atlas.2023-01-01+json',
  operation: 'updating project roles',
  requiredRole: 'Project Owner',
} as const;

/**
 * The HTTP layer against the simulator, with room for a busy machine: these tests count exchanges
 * exactly, and a timed-out request would be sent again.
 */
const httpFor = (simulator: AtlasSimulator, overrides: Parameters<typeof fixtureHttp>[1] = {}) =>
  fixtureHttp(simulator, { timeoutMs: 10_000, ...overrides });

/** What a test reads off the simulator's record: challenges answered, signed requests, their nonces. */
const challenges = (calls: readonly RecordedAtlasCall[]) => calls.filter((c) => c.challenge !== undefined);
const signed = (calls: readonly RecordedAtlasCall[]) => calls.filter((c) => c.digest !== undefined);
const pairs = (calls: readonly RecordedAtlasCall[]) => calls.map((c) => `${c.digest?.nonce} ${c.digest?.nc}`);

describe('Digest nonce reuse', () => {
  let simulator: AtlasSimulator;
  const start = async (overrides: Partial<AtlasSimulatorOptions> = {}) => {
    simulator = await startFixtureSimulator(overrides);
    return simulator;
  };
  afterEach(async () => {
    await simulator.close();
  });

  it('costs one challenge for 10 calls in a row, then one signed exchange each on the same nonce', async () => {
    await start();
    const { http } = httpFor(simulator);
    for (let i = 0; i < 10; i += 1) expect((await http.send(READ)).status).toBe(200);
    await http.close();

    expect(simulator.calls).toHaveLength(11);
    expect(simulator.calls.filter((c) => c.auth === 'none')).toHaveLength(1);
    const [challenge] = challenges(simulator.calls);
    expect(challenges(simulator.calls)).toHaveLength(1);
    expect(challenge).toMatchObject({ status: 401, auth: 'none', challenge: { stale: false } });
    const nonce = defined(challenge?.challenge).nonce;
    expect(simulator.authenticatedCalls().map((c) => c.status)).toEqual(Array(10).fill(200));
    expect(pairs(simulator.authenticatedCalls())).toEqual(
      Array.from({ length: 10 }, (_, i) => `${nonce} ${(i + 1).toString(16).padStart(8, '0')}`),
    );
  });

  it('pays exactly one more exchange when the nonce goes stale in the middle, and goes on with the new nonce', async () => {
    await start();
    const { http } = httpFor(simulator);
    for (let i = 0; i < 4; i += 1) await http.send(READ);
    simulator.expireNonces();
    for (let i = 0; i < 6; i += 1) expect((await http.send(WRITE)).status).toBe(200);
    await http.close();

    // 10 calls: one challenge, ten signed requests, and the one the stale nonce cost.
    expect(simulator.calls).toHaveLength(12);
    const [first, stale] = challenges(simulator.calls);
    expect(challenges(simulator.calls)).toHaveLength(2);
    expect(stale).toMatchObject({ method: 'PUT', status: 401, auth: 'invalid', challenge: { stale: true } });
    const oldNonce = defined(first?.challenge).nonce;
    const newNonce = defined(stale?.challenge).nonce;
    expect(stale?.digest).toEqual({ nonce: oldNonce, nc: '00000005' });
    expect(simulator.calls.map((c) => [c.method, c.status])).toEqual([
      ['GET', 401],
      ...Array(4).fill(['GET', 200]),
      ['PUT', 401],
      ...Array(6).fill(['PUT', 200]),
    ]);
    expect(pairs(simulator.authenticatedCalls())).toEqual([
      ...[1, 2, 3, 4].map((nc) => `${oldNonce} 0000000${nc}`),
      ...[1, 2, 3, 4, 5, 6].map((nc) => `${newNonce} 0000000${nc}`),
    ]);
    // Every signed PUT carried its body.
    for (const call of simulator.calls.filter((c) => c.method === 'PUT'))
      expect(call.body).toEqual(WRITE.body);
  });

  it('uses a nonce until its lifetime ends, then takes the stale answer once and carries on', async () => {
    await start({ nonceLifetimeSeconds: 1 });
    const { http } = httpFor(simulator);
    await http.send(READ);
    await http.send(READ);
    const issuedAt = defined(challenges(simulator.calls)[0]).at;
    await new Promise((resolve) => setTimeout(resolve, 1_100));
    await http.send(READ);
    await http.send(READ);
    await http.close();

    // What held when: within the second the nonce was good; after it, one stale answer, then the new one.
    const timeline = simulator.calls.map((c) => ({
      late: c.at - issuedAt > 1_000,
      status: c.status,
      stale: c.challenge?.stale,
    }));
    expect(timeline).toEqual([
      { late: false, status: 401, stale: false },
      { late: false, status: 200, stale: undefined },
      { late: false, status: 200, stale: undefined },
      { late: true, status: 401, stale: true },
      { late: true, status: 200, stale: undefined },
      { late: true, status: 200, stale: undefined },
    ]);
    const renewed = defined(challenges(simulator.calls)[1]?.challenge).nonce;
    expect(pairs(simulator.authenticatedCalls().slice(2))).toEqual([
      `${renewed} 00000001`,
      `${renewed} 00000002`,
    ]);
  });

  it('answers 20 concurrent calls on a new client with one challenge, each signed with its own nc', async () => {
    await start();
    const { http } = httpFor(simulator);
    const statuses = await Promise.all(
      Array.from({ length: 20 }, async () => (await http.send(READ)).status),
    );
    await http.close();

    expect(statuses).toEqual(Array(20).fill(200));
    expect(simulator.calls).toHaveLength(21);
    expect(simulator.calls.filter((c) => c.auth === 'none')).toHaveLength(1);
    expect(challenges(simulator.calls)).toHaveLength(1);
    const nonce = defined(challenges(simulator.calls)[0]?.challenge).nonce;
    const used = signed(simulator.calls);
    expect(used.every((c) => c.digest?.nonce === nonce && c.status === 200)).toBe(true);
    expect(new Set(used.map((c) => c.digest?.nc))).toEqual(
      new Set(Array.from({ length: 20 }, (_, i) => (i + 1).toString(16).padStart(8, '0'))),
    );
  });

  /**
   * Three rounds of 20 concurrent reads; in the first two the first requests to arrive are held back
   * (the first four of the cold round, the handshake among them, then five), so the counts sent after
   * them are checked first, as on a real network.
   */
  const threeRounds = async () => {
    const { http } = httpFor(simulator);
    for (const held of [4, 5, 0]) {
      if (held > 0) simulator.inject({ method: 'GET', holdMs: 300, times: held });
      const statuses = await Promise.all(
        Array.from({ length: 20 }, async () => (await http.send(READ)).status),
      );
      expect(statuses).toEqual(Array(20).fill(200));
    }
    await http.close();
    expect(simulator.authenticatedCalls()).toHaveLength(60);
    expect(simulator.calls.filter((c) => c.auth === 'none')).toHaveLength(1);
    return simulator.calls.filter((c) => c.auth === 'invalid');
  };

  it('takes counts that arrive out of order without a single refusal on a server that checks for replays', async () => {
    await start();
    expect(await threeRounds()).toEqual([]);
    expect(simulator.calls).toHaveLength(61);
  });

  it('still gets every one of 20 concurrent calls through a server that wants each nc above the last', async () => {
    await start({ nonceCounting: 'strict' });
    const refused = await threeRounds();
    // The held counts arrived behind higher ones and were refused (stale=false); each was sent once
    // more, with count 1 of the nonce its own refusal brought, and got through: one extra exchange each.
    expect(refused.length).toBeGreaterThan(0);
    expect(refused.length).toBeLessThanOrEqual(3 + 5);
    expect(refused.every((c) => c.challenge?.stale === false)).toBe(true);
    for (const call of refused) {
      const resend = signed(simulator.calls).filter(
        (c) => c.digest?.nonce === call.challenge?.nonce && c.digest?.nc === '00000001',
      );
      expect(resend.map((c) => c.status)).toEqual([200]);
    }
    expect(simulator.calls).toHaveLength(1 + 60 + refused.length);
  });
});

describe('Digest against a server that takes no nonce twice', () => {
  let simulator: AtlasSimulator;
  afterEach(async () => {
    await simulator.close();
  });

  it('costs two exchanges a call, as it did before nonce reuse, and never fails a call', async () => {
    simulator = await startFixtureSimulator({ nonceCounting: 'once' });
    const { http } = httpFor(simulator);
    for (let i = 0; i < 5; i += 1) expect((await http.send(WRITE)).status).toBe(200);
    await http.close();
    // The first call: challenge and signed request. Each later one: the cached nonce refused, then
    // the nonce of that refusal, at nc 1.
    expect(simulator.calls.map((c) => [c.auth, c.status, c.digest?.nc])).toEqual([
      ['none', 401, undefined],
      ['digest', 200, '00000001'],
      ...Array.from({ length: 4 }, () => [
        ['invalid', 401, '00000002'],
        ['digest', 200, '00000001'],
      ]).flat(),
    ]);
    expect(simulator.calls).toHaveLength(2 * 5);
  });
});

describe('Digest with a wrong private key', () => {
  let simulator: AtlasSimulator;
  afterEach(async () => {
    await simulator.close();
  });

  it('fails with the same error as before, in two exchanges per call, cached nonce or not', async () => {
    simulator = await startFixtureSimulator();
    const { http } = httpFor(simulator, {
      auth: { kind: 'digest', publicKey: FIXTURE.apiKey.publicKey, privateKey: 'not-the-key' },
    });
    const expected = toAtlasAppError(
      401,
      { error: 401, errorCode: 'UNAUTHORIZED', detail: 'You are not authorized for this resource.' },
      WRITE,
    );
    for (let i = 0; i < 3; i += 1) {
      const error = await appErrorOf(() => http.send(WRITE));
      expect([error.code, error.message]).toEqual([expected.code, expected.message]);
      expect(error.code).toBe('ATLAS_AUTH_FAILED');
      expect(simulator.calls).toHaveLength(2 * (i + 1));
    }
    // First call: the challenge and the signed request; then the cached nonce and one resend with the
    // nonce its refusal brought, whose refusal ends it.
    expect(simulator.calls.map((c) => [c.auth, c.status])).toEqual([
      ['none', 401],
      ...Array(5).fill(['invalid', 401]),
    ]);
    expect(simulator.authenticatedCalls()).toEqual([]);
    await http.close();
  });

  it('fails 20 concurrent first calls in at most two exchanges each, plus the one challenge', async () => {
    simulator = await startFixtureSimulator();
    const { http } = httpFor(simulator, {
      auth: { kind: 'digest', publicKey: FIXTURE.apiKey.publicKey, privateKey: 'not-the-key' },
    });
    const codes = await Promise.all(
      Array.from({ length: 20 }, async () => (await appErrorOf(() => http.send(READ))).code),
    );
    await http.close();
    expect(codes).toEqual(Array(20).fill('ATLAS_AUTH_FAILED'));
    expect(simulator.calls.filter((c) => c.auth === 'none')).toHaveLength(1);
    expect(simulator.calls.length).toBeLessThanOrEqual(1 + 2 * 20);
    expect(simulator.authenticatedCalls()).toEqual([]);
  });
});

describe("the simulator's Digest checks (RFC 7616)", () => {
  let simulator: AtlasSimulator;
  afterEach(async () => {
    await simulator.close();
  });

  /** One raw request, signed with `nonce` and `nc` (and the right key unless told otherwise). */
  const send = async (nonce: string | undefined, nc = 1, privateKey: string = FIXTURE.apiKey.privateKey) => {
    const headers: Record<string, string> = { accept: READ.mediaType };
    if (nonce !== undefined) {
      headers.authorization = buildDigestAuthorization({
        username: FIXTURE.apiKey.publicKey,
        password: privateKey,
        method: 'GET',
        uri: READ.path,
        challenge: {
          realm: 'MMS Public API',
          nonce,
          algorithm: 'MD5',
          qop: 'auth',
          opaque: undefined,
          stale: false,
        },
        cnonce: createCnonce(),
        nc,
      });
    }
    const response = await request(`${simulator.url}${READ.path}`, { headers });
    await response.body.text();
    const header = response.headers['www-authenticate'];
    return {
      status: response.statusCode,
      challenge: parseDigestChallenge(typeof header === 'string' ? header : ''),
    };
  };
  const nonceOf = async () => defined((await send(undefined)).challenge).nonce;

  it('says stale=true only for a correct response on a nonce it issued that has expired', async () => {
    simulator = await startFixtureSimulator();
    const nonce = await nonceOf();
    expect((await send(nonce, 1)).status).toBe(200);
    simulator.expireNonces();
    const stale = await send(nonce, 2);
    expect(stale).toMatchObject({ status: 401, challenge: { stale: true } });
    expect(stale.challenge?.nonce).not.toBe(nonce);
    expect(await send(nonce, 3, 'wrong')).toMatchObject({ status: 401, challenge: { stale: false } });
    expect(await send('never-issued', 1)).toMatchObject({ status: 401, challenge: { stale: false } });
    expect((await send(defined(stale.challenge).nonce, 1)).status).toBe(200);
  });

  it('refuses an nc seen twice but takes counts out of order, unless told to be strict', async () => {
    simulator = await startFixtureSimulator();
    const nonce = await nonceOf();
    expect((await send(nonce, 3)).status).toBe(200);
    expect((await send(nonce, 1)).status).toBe(200);
    expect(await send(nonce, 3)).toMatchObject({ status: 401, challenge: { stale: false } });
    await simulator.close();

    simulator = await startFixtureSimulator({ nonceCounting: 'strict' });
    const strict = await nonceOf();
    expect((await send(strict, 3)).status).toBe(200);
    expect(await send(strict, 1)).toMatchObject({ status: 401, challenge: { stale: false } });
    expect((await send(strict, 4)).status).toBe(200);
  });
});

describe('RateLimit headers', () => {
  let simulator: AtlasSimulator;
  afterEach(async () => {
    await simulator.close();
  });
  const LIMITS = {
    org: { capacity: 50, refillPerMinute: 1 },
    project: { capacity: 50, refillPerMinute: 1 },
    user: { capacity: 40, refillPerMinute: 1 },
  };

  it('come on 2xx answers with the capacity and the whole tokens left, challenge included', async () => {
    simulator = await startFixtureSimulator({ rateLimits: LIMITS });
    const { http } = httpFor(simulator);
    const first = await http.send(READ);
    const second = await http.send(READ);
    // The challenge and the signed request took one token each, then the next call one.
    expect([first.headers['ratelimit-limit'], first.headers['ratelimit-remaining']]).toEqual(['40', '38']);
    expect(second.headers['ratelimit-remaining']).toBe('37');

    // Another client of the key spent most of the bucket: Atlas's count, not this client's, is told.
    simulator.setBucketTokens(READ.path, 5);
    expect((await http.send(READ)).headers['ratelimit-remaining']).toBe('4');
    simulator.setBucketTokens(READ.path, 0);
    const { http: once } = httpFor(simulator, { maxRetries: 0 });
    const error = await appErrorOf(() => once.send(READ));
    expect(error.details).toMatchObject({ status: 429 });
    const limited = simulator.calls.at(-1);
    expect(limited?.response).toMatchObject({
      errorCode: 'RATE_LIMITED_TOKEN_BUCKET',
      parameters: [READ.path, expect.any(Number), 40, 1, 60],
    });
    await once.close();
    await http.close();
  });

  it('are left out when turned off, as Atlas may', async () => {
    simulator = await startFixtureSimulator({ rateLimits: LIMITS, rateLimitHeaders: false });
    const { http } = httpFor(simulator);
    const response = await http.send(READ);
    await http.close();
    expect(response.status).toBe(200);
    expect(response.headers['ratelimit-limit']).toBeUndefined();
    expect(response.headers['ratelimit-remaining']).toBeUndefined();
  });
});
