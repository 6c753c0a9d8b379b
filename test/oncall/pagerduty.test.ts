import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type PagerDutySimulator, startPagerDutySimulator } from '../../dev/pagerduty-simulator.js';
import { createOnCallSchedules } from '../../src/oncall/create-on-call.js';
import type { ScheduleRef } from '../../src/oncall/on-call.js';
import { createOnCallCheck } from '../../src/oncall/on-call-check.js';
import { DEFAULT_OPSGENIE_API_URL } from '../../src/oncall/on-call-options.js';
import { createPagerDutyReader } from '../../src/oncall/pagerduty.js';
import { capturedLogger, sleep } from './log-lines.js';

const TOKEN = 'u+pd-simulated-token-7f3a';
const PAYMENTS: ScheduleRef = { provider: 'pagerduty', id: 'PPAYMNT' };
const SEARCH: ScheduleRef = { provider: 'pagerduty', id: 'PSEARCH' };

describe('PagerDuty on-call schedules', () => {
  let sim: PagerDutySimulator;

  beforeAll(async () => {
    sim = await startPagerDutySimulator({
      token: TOKEN,
      schedules: [
        { id: PAYMENTS.id, name: 'payments-primary' },
        { id: SEARCH.id, name: 'search-primary' },
      ],
    });
  });
  afterAll(async () => sim.close());
  beforeEach(() => {
    sim.outage = undefined;
    sim.delayMs = 0;
    sim.setOnCall(PAYMENTS.id, ['alice@example.com']);
    sim.setOnCall(SEARCH.id, ['carol@example.com']);
  });

  const checkWith = (
    overrides: { token?: string | undefined; cacheTtlMs?: number; timeoutMs?: number } = {},
  ) => {
    const log = capturedLogger();
    const check = createOnCallSchedules(
      {
        pagerduty: { apiUrl: sim.apiUrl, token: 'token' in overrides ? overrides.token : TOKEN },
        opsgenie: { apiUrl: DEFAULT_OPSGENIE_API_URL, apiKey: undefined },
      },
      {
        logger: log.logger,
        cacheTtlMs: overrides.cacheTtlMs ?? 30_000,
        timeoutMs: overrides.timeoutMs ?? 3000,
      },
    );
    return { check, ...log };
  };
  const callsSince = (mark: number) => sim.calls.slice(mark);

  it('says a person on call now is on call, with the schedule name PagerDuty gives', async () => {
    const { check } = checkWith();
    const mark = sim.calls.length;
    await expect(check.isOnCall('alice@example.com', [SEARCH, PAYMENTS])).resolves.toEqual({
      onCall: true,
      schedule: { provider: 'pagerduty', id: PAYMENTS.id, name: 'payments-primary' },
    });
    const [first] = callsSince(mark);
    expect(first).toMatchObject({ path: '/oncalls', authorized: true, status: 200 });
    expect(first?.accept).toBe('application/vnd.pagerduty+json;version=2');
    expect(first?.query).toMatchObject({ 'include[]': ['users'], earliest: ['true'], limit: ['100'] });
    expect(first?.query.since).toEqual(first?.query.until);
  });

  it('compares emails without case', async () => {
    sim.setOnCall(PAYMENTS.id, ['Alice.Smith@Example.com']);
    const { check } = checkWith();
    await expect(check.isOnCall('  alice.smith@EXAMPLE.com', [PAYMENTS])).resolves.toMatchObject({
      onCall: true,
    });
  });

  it('says a person on no schedule is not on call, with nothing unknown', async () => {
    const { check, warnings } = checkWith();
    await expect(check.isOnCall('bob@example.com', [PAYMENTS, SEARCH])).resolves.toEqual({ onCall: false });
    expect(warnings()).toEqual([]);
  });

  it('no longer counts the person who went off call once the cache has expired', async () => {
    const { check } = checkWith({ cacheTtlMs: 150 });
    await expect(check.isOnCall('alice@example.com', [PAYMENTS])).resolves.toMatchObject({ onCall: true });
    sim.setOnCall(PAYMENTS.id, ['dave@example.com']);
    const mark = sim.calls.length;
    // Within the cache's life the earlier answer stands, without asking PagerDuty.
    await expect(check.isOnCall('alice@example.com', [PAYMENTS])).resolves.toMatchObject({ onCall: true });
    expect(callsSince(mark)).toHaveLength(0);
    await sleep(200);
    await expect(check.isOnCall('alice@example.com', [PAYMENTS])).resolves.toEqual({ onCall: false });
    await expect(check.isOnCall('dave@example.com', [PAYMENTS])).resolves.toMatchObject({ onCall: true });
    expect(callsSince(mark)).toHaveLength(1);
    const history = sim.history(PAYMENTS.id);
    expect(history.at(-1)).toMatchObject({ emails: ['dave@example.com'], until: null });
    expect(history.at(-2)?.emails).toEqual(['alice@example.com']);
  });

  it('reads every page when a schedule has more on-calls than one page holds', async () => {
    const crowd = Array.from({ length: 7 }, (_, i) => `oncall-${i}@example.com`);
    sim.setOnCall(SEARCH.id, crowd);
    const { logger } = capturedLogger();
    const reader = createPagerDutyReader({ apiUrl: sim.apiUrl, token: TOKEN, pageSize: 3 });
    const check = createOnCallCheck({ readers: [reader], logger });
    const mark = sim.calls.length;
    await expect(check.isOnCall('oncall-6@example.com', [SEARCH])).resolves.toMatchObject({ onCall: true });
    expect(callsSince(mark).map((call) => call.query.offset?.[0])).toEqual(['0', '3', '6']);
  });

  it('fails closed on a refused token (401), naming the schedule unknown and warning without the token', async () => {
    const { check, lines, warnings } = checkWith({ token: 'u+wrong-token-1234' });
    await expect(check.isOnCall('alice@example.com', [PAYMENTS])).resolves.toEqual({
      onCall: false,
      unknown: [PAYMENTS],
    });
    expect(warnings()).toEqual([
      expect.objectContaining({
        msg: 'on-call schedule could not be read; counted as not on call',
        provider: 'pagerduty',
        scheduleId: PAYMENTS.id,
        status: 401,
        reason: 'PagerDuty answered 401 (Authentication failed)',
      }),
    ]);
    expect(lines.join('\n')).not.toContain('u+wrong-token-1234');
    expect(lines.join('\n')).not.toContain(TOKEN);
  });

  it('fails closed on a 429 and asks no more until ratelimit-reset has passed', async () => {
    const { check, warnings } = checkWith({ cacheTtlMs: 0 });
    sim.rateLimit(1, 1);
    const mark = sim.calls.length;
    await expect(check.isOnCall('alice@example.com', [PAYMENTS])).resolves.toEqual({
      onCall: false,
      unknown: [PAYMENTS],
    });
    await expect(check.isOnCall('alice@example.com', [PAYMENTS])).resolves.toEqual({
      onCall: false,
      unknown: [PAYMENTS],
    });
    expect(callsSince(mark).map((call) => call.status)).toEqual([429]);
    expect(warnings()).toHaveLength(1);
    expect(warnings()[0]).toMatchObject({
      status: 429,
      reason: 'PagerDuty answered 429 (Rate Limit Exceeded)',
    });
    await sleep(1100);
    await expect(check.isOnCall('alice@example.com', [PAYMENTS])).resolves.toMatchObject({ onCall: true });
  });

  it('fails closed during an outage (500s, tried twice) and warns once a minute per schedule', async () => {
    const { check, warnings } = checkWith({ cacheTtlMs: 0 });
    sim.outage = 'error';
    const mark = sim.calls.length;
    await expect(check.isOnCall('alice@example.com', [PAYMENTS, SEARCH])).resolves.toEqual({
      onCall: false,
      unknown: [PAYMENTS, SEARCH],
    });
    await expect(check.isOnCall('alice@example.com', [PAYMENTS])).resolves.toEqual({
      onCall: false,
      unknown: [PAYMENTS],
    });
    expect(callsSince(mark).map((call) => call.status)).toEqual([500, 500, 500, 500, 500, 500]);
    expect(warnings().map((line) => line.scheduleId)).toEqual([PAYMENTS.id, SEARCH.id]);
    sim.outage = undefined;
    await expect(check.isOnCall('alice@example.com', [PAYMENTS])).resolves.toMatchObject({ onCall: true });
  });

  it('fails closed when the connection drops without an answer', async () => {
    const { check, warnings } = checkWith();
    sim.outage = 'drop';
    await expect(check.isOnCall('alice@example.com', [PAYMENTS])).resolves.toEqual({
      onCall: false,
      unknown: [PAYMENTS],
    });
    expect(String(warnings()[0]?.reason)).toMatch(/^PagerDuty no answer \(/);
  });

  it('fails closed when PagerDuty answers later than the deadline', async () => {
    const { check, warnings } = checkWith({ timeoutMs: 200 });
    sim.delayMs = 1000;
    const started = Date.now();
    await expect(check.isOnCall('alice@example.com', [PAYMENTS])).resolves.toEqual({
      onCall: false,
      unknown: [PAYMENTS],
    });
    expect(Date.now() - started).toBeLessThan(900);
    expect(warnings()[0]).toMatchObject({ reason: 'PagerDuty no answer in time' });
  });

  it('says not on call, and asks nobody, when PAGERDUTY_TOKEN is not configured', async () => {
    const { check, warnings } = checkWith({ token: undefined });
    const mark = sim.calls.length;
    await expect(check.isOnCall('alice@example.com', [PAYMENTS])).resolves.toEqual({
      onCall: false,
      unknown: [PAYMENTS],
    });
    expect(callsSince(mark)).toHaveLength(0);
    expect(warnings()[0]).toMatchObject({ reason: 'PagerDuty is not configured (PAGERDUTY_TOKEN is unset)' });
  });

  it('still finds the person on call on one schedule when another cannot be read', async () => {
    const { logger } = capturedLogger();
    const good = createPagerDutyReader({ apiUrl: sim.apiUrl, token: TOKEN });
    const check = createOnCallCheck({ readers: [good], logger });
    const elsewhere: ScheduleRef = { provider: 'opsgenie', id: 'f3a1-unconfigured' };
    await expect(check.isOnCall('carol@example.com', [elsewhere, SEARCH])).resolves.toEqual({
      onCall: true,
      schedule: { provider: 'pagerduty', id: SEARCH.id, name: 'search-primary' },
    });
  });
});
