import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { AtlasSimulator } from '../../dev/atlas-simulator.js';
import { toAtlasAppError } from '../../src/atlas/atlas-error.js';
import { backoffDelay, retryAfterMs } from '../../src/atlas/retry.js';
import { FIXTURE, fixtureHttp, startFixtureSimulator } from '../support/atlas-fixture.js';
import { appErrorOf } from '../support/errors.js';

const READ = {
  method: 'GET',
  path: `/api/atlas/v2/users/byName/${encodeURIComponent(FIXTURE.alice.email)}`,
  mediaType: 'application/vnd.atlas.2023-01-01+json',
  operation: 'looking up a user',
} as const;

const rateLimited = (parameters: unknown[] = []) => ({
  error: 429,
  errorCode: 'RATE_LIMITED_TOKEN_BUCKET',
  detail: 'Rate limit exceeded.',
  parameters,
});

describe('Atlas HTTP client failure handling', () => {
  let simulator: AtlasSimulator;

  beforeEach(async () => {
    simulator = await startFixtureSimulator();
  });

  afterEach(async () => {
    await simulator.close();
  });

  const signedStatuses = () => simulator.authenticatedCalls().map((c) => c.status);

  it('waits the Retry-After header after a 429, then succeeds', async () => {
    simulator.inject({ status: 429, body: rateLimited(), headers: { 'retry-after': '3' } });
    const { http, sleeps } = fixtureHttp(simulator);
    expect((await http.send(READ)).status).toBe(200);
    expect(sleeps).toHaveLength(1);
    expect(sleeps[0]).toBeGreaterThanOrEqual(3_000);
    expect(sleeps[0]).toBeLessThan(3_250);
    expect(signedStatuses()).toEqual([429, 200]);
  });

  it('falls back to the retryAfter in the error parameters when there is no header', async () => {
    simulator.inject({ status: 429, body: rateLimited(['api/atlas/v2/users', 7, 10, 5, 60]) });
    const { http, sleeps } = fixtureHttp(simulator);
    await http.send(READ);
    expect(sleeps[0]).toBeGreaterThanOrEqual(7_000);
  });

  it.each([[['/api/atlas/v2/users', 100, 1]], [['/api/atlas/v2/users', 10, 1]]])(
    'reads an older RATE_LIMITED body %j as a quota, not a wait, and backs off with jitter',
    async (parameters) => {
      simulator.inject({
        status: 429,
        body: {
          error: 429,
          errorCode: 'RATE_LIMITED',
          detail: `Resource /api/atlas/v2/users is limited to ${parameters[1]} requests every 1 minutes.`,
          parameters,
        },
        times: 2,
      });
      const { http, sleeps } = fixtureHttp(simulator, {
        backoff: { baseMs: 100, capMs: 10_000, random: () => 0.999 },
      });
      expect((await http.send(READ)).status).toBe(200);
      expect(sleeps).toEqual([99, 199]);
      expect(signedStatuses()).toEqual([429, 429, 200]);
    },
  );

  it('backs off exponentially with full jitter when Atlas gives no hint', async () => {
    simulator.inject({ status: 429, body: rateLimited(), times: 3 });
    const { http, sleeps } = fixtureHttp(simulator, {
      backoff: { baseMs: 100, capMs: 10_000, random: () => 0.999 },
    });
    await http.send(READ);
    expect(sleeps).toEqual([99, 199, 399]);
    expect(signedStatuses()).toEqual([429, 429, 429, 200]);
  });

  it('hands a very long Retry-After back as a retryable error instead of holding the worker', async () => {
    simulator.inject({ status: 429, body: rateLimited(), headers: { 'retry-after': '120' } });
    const { http, sleeps } = fixtureHttp(simulator);
    const error = await appErrorOf(() => http.send(READ));
    expect(error.retryable).toBe(true);
    expect(error.message).toContain('asked to wait 120 s');
    expect(sleeps).toEqual([]);
  });

  it('retries 5xx a bounded number of times, then says Atlas is unavailable', async () => {
    simulator.inject({
      status: 503,
      body: { error: 503, errorCode: 'SERVICE_UNAVAILABLE', detail: 'down' },
      times: 10,
    });
    const { http, sleeps } = fixtureHttp(simulator, { maxRetries: 2 });
    const error = await appErrorOf(() => http.send(READ));
    expect(error.code).toBe('ATLAS_UNAVAILABLE');
    expect(error.retryable).toBe(true);
    expect(error.message).toContain('(Atlas SERVICE_UNAVAILABLE)');
    expect(signedStatuses()).toEqual([503, 503, 503]);
    expect(sleeps).toHaveLength(2);
  });

  it('retries after a connection reset', async () => {
    simulator.inject({ reset: true, times: 2 });
    const { http } = fixtureHttp(simulator);
    expect((await http.send(READ)).status).toBe(200);
    expect(signedStatuses()).toEqual([0, 0, 200]);
  });

  it('retries after a timeout', async () => {
    simulator.inject({ delayMs: 800, status: 200, body: {} });
    const { http } = fixtureHttp(simulator, { timeoutMs: 300 });
    const response = await http.send<{ id: string }>(READ);
    expect(response.body.id).toBe(FIXTURE.alice.id);
  });

  it('reports a timeout in words when every attempt times out', async () => {
    simulator.inject({ delayMs: 600, status: 200, body: {}, times: 3 });
    const { http } = fixtureHttp(simulator, { timeoutMs: 200, maxRetries: 2 });
    const error = await appErrorOf(() => http.send(READ));
    expect(error.message).toBe(
      'Atlas could not be reached while looking up a user (timed out, after 3 attempts).',
    );
  });

  it('does not retry other 4xx, and keeps the detail out of the message (it can name IPs and ids)', async () => {
    simulator.inject({
      status: 404,
      body: { error: 404, errorCode: 'USER_NOT_IN_GROUP', detail: 'User x is not in group y.' },
    });
    const { http } = fixtureHttp(simulator);
    const error = await appErrorOf(() => http.send(READ));
    expect(error.code).toBe('ATLAS_NOT_A_MEMBER');
    expect(error.details).toMatchObject({
      status: 404,
      errorCode: 'USER_NOT_IN_GROUP',
      detail: 'User x is not in group y.',
    });
    expect(error.message).toBe('The user is not a member of this project. (Atlas USER_NOT_IN_GROUP)');
    expect(signedStatuses()).toEqual([404]);
  });

  it('logs one deprecation warning per endpoint per process', async () => {
    const { http, lines } = fixtureHttp(simulator);
    await http.send(READ);
    await http.send(READ);
    await http.send({ ...READ, path: '/api/atlas/v2/users/byName/owner%40example.com' });
    const warnings = lines.filter((l) => l.includes('deprecated'));
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain('"endpoint":"GET /api/atlas/v2/users/byName/{name}"');
    expect(warnings[0]).toContain('"sunset":"Thu, 01 Jul 2027 00:00:00 GMT"');
  });
});

describe('human messages for Atlas errors', () => {
  const cases: [number, string, RegExp][] = [
    [403, 'CANNOT_DEMOTE_LAST_ORG_OWNER', /last owner of the organization/],
    [403, 'CANNOT_DELETE_LAST_ADMIN', /last owner of the organization/],
    [403, 'CANNOT_DEMOTE_LAST_OWNER', /last owner of the project/],
    [403, 'CANNOT_DELETE_LAST_OWNER', /last owner of the project/],
    [403, 'CANNOT_REMOVE_ALL_USER_ROLES', /must keep at least one role/],
    [404, 'USER_NOT_IN_ORG', /not a member of this organization/],
    [404, 'USER_NOT_IN_GROUP', /not a member of this project/],
    [404, 'USERNAME_NOT_FOUND', /No Atlas user has this email address/],
    [400, 'INVALID_ROLE_FOR_ORG', /does not accept this role for an organization/],
    [400, 'INVALID_ROLE_FOR_GROUP', /does not accept this role for a project/],
    [403, 'IP_ADDRESS_NOT_ON_WHITELIST', /IP address is not on the API key's access list/],
    [401, 'USER_UNAUTHORIZED', /needs the Organization Owner role there/],
    [403, 'ACCESS_FORBIDDEN', /needs the Organization Owner role there/],
  ];

  it.each(cases)('explains %i %s', (status, errorCode, words) => {
    const error = toAtlasAppError(
      status,
      { error: status, errorCode, detail: 'the detail' },
      {
        operation: 'updating organization roles',
        requiredRole: 'Organization Owner',
      },
    );
    expect(error.message).toMatch(words);
    expect(error.message).toContain(`(Atlas ${errorCode})`);
    expect(error.message).not.toContain('the detail');
    expect(error.details.detail).toBe('the detail');
    expect(error.retryable).toBe(false);
  });

  it.each([
    'CANNOT_DEMOTE_LAST_ORG_OWNER',
    'CANNOT_DELETE_LAST_ADMIN',
    'CANNOT_DEMOTE_LAST_OWNER',
    'CANNOT_DELETE_LAST_OWNER',
  ])('files %s under ATLAS_LAST_OWNER, saying what to do, not retryable', (errorCode) => {
    const error = toAtlasAppError(403, { error: 403, errorCode }, { operation: 'removing the user' });
    expect(error.code).toBe('ATLAS_LAST_OWNER');
    expect(error.message).toMatch(
      /Make someone else an? (Organization|Project) Owner first, then try again\./,
    );
    expect(error.retryable).toBe(false);
    expect(error.details).toMatchObject({ status: 403, errorCode });
  });
});

describe('retry arithmetic', () => {
  it('reads Retry-After as seconds or an HTTP date', () => {
    expect(retryAfterMs('5', undefined)).toBe(5_000);
    expect(
      retryAfterMs('Wed, 25 Nov 2026 10:00:30 GMT', undefined, Date.parse('Wed, 25 Nov 2026 10:00:00 GMT')),
    ).toBe(30_000);
    expect(
      retryAfterMs(undefined, { errorCode: 'RATE_LIMITED_TOKEN_BUCKET', parameters: ['p', 55, 10, 5, 60] }),
    ).toBe(55_000);
    expect(
      retryAfterMs(undefined, { errorCode: 'RATE_LIMITED_TOKEN_BUCKET', parameters: [] }),
    ).toBeUndefined();
    expect(retryAfterMs(undefined, { errorCode: 'RATE_LIMITED', parameters: ['p', 100, 1] })).toBeUndefined();
    expect(retryAfterMs(undefined, { parameters: ['p', 55, 10, 5, 60] })).toBeUndefined();
  });

  it('caps the backoff ceiling', () => {
    expect(backoffDelay(20, { baseMs: 100, capMs: 1_000, random: () => 0.5 })).toBe(500);
  });
});
