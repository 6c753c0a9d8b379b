import { describe, expect, it } from 'vitest';
import { createMetrics, READ_TIMEOUT_MS } from '../../src/ops/metrics.js';
import { readOverdueGrants } from '../../src/requests/overdue-grants.js';
import { accessRequest } from '../support/request-fixture.js';
import { parseScrape, sampleOf } from './observability-support.js';

const READY = {
  ready: true,
  body: { status: 'ready', checks: { redis: { ok: true }, slack: { ok: true } } },
} as const;

describe('createMetrics: readings taken at scrape time', () => {
  it('reports readiness and each check from one report per scrape', async () => {
    const metrics = createMetrics();
    let reports = 0;
    metrics.watchReadiness(async () => {
      reports += 1;
      return {
        ready: false,
        body: {
          status: 'unavailable',
          checks: { redis: { ok: true }, slack: { ok: false } },
          failing: ['slack'],
        },
      };
    });
    const series = parseScrape(await metrics.registry.metrics());
    expect(sampleOf(series, 'rolecall_ready')).toBe(0);
    expect(sampleOf(series, 'rolecall_readiness_check_ok', { check: 'redis' })).toBe(1);
    expect(sampleOf(series, 'rolecall_readiness_check_ok', { check: 'slack' })).toBe(0);
    expect(reports).toBe(1);
  });

  it('reports grants past their end by state, with their ages, and 0 for the states with none', async () => {
    const metrics = createMetrics({ revokeEscalateEveryMs: 90 * 60_000 });
    const now = Date.now();
    metrics.watchOverdueGrants(async () => ({
      pastEnd: [
        { state: 'applied', count: 2, oldestEndAt: now - 30_000 },
        { state: 'revoke_failed', count: 1, oldestEndAt: now - 7_200_000 },
      ],
      failing: { count: 1, oldestSince: now - 3_600_000 },
    }));
    const series = parseScrape(await metrics.registry.metrics());
    expect(sampleOf(series, 'rolecall_grants_past_end', { state: 'applied' })).toBe(2);
    expect(sampleOf(series, 'rolecall_grants_past_end', { state: 'revoking' })).toBe(0);
    expect(sampleOf(series, 'rolecall_grants_past_end', { state: 'revoke_failed' })).toBe(1);
    expect(sampleOf(series, 'rolecall_oldest_grant_past_end_seconds', { state: 'applied' })).toBeCloseTo(
      30,
      0,
    );
    expect(sampleOf(series, 'rolecall_oldest_grant_past_end_seconds', { state: 'revoking' })).toBe(0);
    expect(sampleOf(series, 'rolecall_revocations_failing')).toBe(1);
    expect(sampleOf(series, 'rolecall_oldest_revocation_failing_seconds')).toBeCloseTo(3600, 0);
    expect(sampleOf(series, 'rolecall_revoke_escalate_every_seconds')).toBe(5400);
    // No readiness watched here: unknown, not "not ready".
    expect(sampleOf(series, 'rolecall_ready')).toBeNaN();
  });

  it('leaves out a reading that fails or does not answer in time, and still serves the rest', async () => {
    const metrics = createMetrics();
    metrics.watchReadiness(async () => READY);
    metrics.watchOverdueGrants(() => new Promise(() => undefined));
    metrics.watchQueues([
      {
        name: 'revoke',
        getJobCounts: async () => {
          throw new Error('Redis is gone');
        },
      },
    ]);
    const started = performance.now();
    const series = parseScrape(await metrics.registry.metrics());
    const tookMs = performance.now() - started;
    expect(tookMs).toBeGreaterThanOrEqual(READ_TIMEOUT_MS - 50);
    expect(tookMs).toBeLessThan(READ_TIMEOUT_MS + 1_000);
    expect(sampleOf(series, 'rolecall_ready')).toBe(1);
    expect(series.filter((s) => s.name === 'rolecall_queue_jobs')).toEqual([]);
    expect(series.filter((s) => s.name.startsWith('rolecall_grants_past_end'))).toEqual([]);
    // Unlabelled gauges cannot be left out: NaN says unknown, never a reassuring 0.
    expect(sampleOf(series, 'rolecall_revocations_failing')).toBeNaN();
    expect(sampleOf(series, 'rolecall_oldest_revocation_failing_seconds')).toBeNaN();
    expect(sampleOf(series, 'process_cpu_user_seconds_total')).toBeGreaterThan(0);
  });
});

describe('readOverdueGrants', () => {
  const target = { kind: 'project', id: '5f1a2b3c4d5e6f7a8b9c0d1e', name: 'payments-prod' } as const;
  const request = (id: string, fields: Partial<Parameters<typeof accessRequest>[0]>) =>
    accessRequest({
      id,
      state: 'applied',
      requesterId: 'U0ALICE',
      granteeId: 'U0ALICE',
      granteeEmail: 'alice@example.com',
      target,
      ...fields,
    });

  it('counts the grants past their end by state, skipping requests gone or final, and finds the oldest failure', async () => {
    const stored = new Map([
      [
        'AR-1',
        request('AR-1', {
          state: 'revoke_failed',
          revokeTrouble: { since: 5_000, failures: 3, escalatedAt: 5_000, nextTryAt: 9_000 },
        }),
      ],
      ['AR-2', request('AR-2', { state: 'applied' })],
      ['AR-3', request('AR-3', { state: 'revoked' })],
      [
        'AR-5',
        request('AR-5', {
          state: 'revoke_failed',
          revokeTrouble: { since: 4_000, failures: 1, escalatedAt: 4_000, nextTryAt: 9_000 },
        }),
      ],
      ['AR-6', request('AR-6', { state: 'applied' })],
    ]);
    let asked: { before: number; limit: number } | undefined;
    const reading = await readOverdueGrants(
      {
        ledgers: {
          listEnded: async (before, limit) => {
            asked = { before, limit };
            return [
              { requestId: 'AR-1', until: 1_000 },
              { requestId: 'AR-2', until: 2_000 },
              { requestId: 'AR-3', until: 2_500 },
              { requestId: 'AR-4', until: 2_600 },
              { requestId: 'AR-5', until: 3_000 },
              { requestId: 'AR-6', until: 3_500 },
            ];
          },
        },
        store: { get: async (id) => stored.get(id) },
      },
      10_000,
      50,
    );
    expect(asked).toEqual({ before: 10_000, limit: 50 });
    expect(reading.pastEnd).toEqual([
      { state: 'revoke_failed', count: 2, oldestEndAt: 1_000 },
      { state: 'applied', count: 2, oldestEndAt: 2_000 },
    ]);
    expect(reading.failing).toEqual({ count: 2, oldestSince: 4_000 });
  });

  it('reads nothing failing when no grant is past its end', async () => {
    const reading = await readOverdueGrants(
      { ledgers: { listEnded: async () => [] }, store: { get: async () => undefined } },
      10_000,
    );
    expect(reading).toEqual({ pastEnd: [], failing: { count: 0, oldestSince: null } });
  });
});
