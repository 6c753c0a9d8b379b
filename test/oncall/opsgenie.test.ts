import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type OpsgenieSimulator, startOpsgenieSimulator } from '../../dev/opsgenie-simulator.js';
import { createOnCallSchedules } from '../../src/oncall/create-on-call.js';
import type { ScheduleRef } from '../../src/oncall/on-call.js';
import { DEFAULT_PAGERDUTY_API_URL } from '../../src/oncall/on-call-options.js';
import { capturedLogger, sleep } from './log-lines.js';

const API_KEY = 'eb24a1f0-faa2-4ba2-a551-1a1f565c8891';
const PAYMENTS: ScheduleRef = { provider: 'opsgenie', id: 'd875a1f4-9b4e-4219-a1f3-0c26936d18de' };
const SEARCH: ScheduleRef = { provider: 'opsgenie', id: 'c569c016-a1fc-4e20-8a28-bd5dc33b798e' };
const LOCKED: ScheduleRef = { provider: 'opsgenie', id: '0b8e6f0e-1d2c-4f6a-9c1e-5a7d3e2b4c10' };

describe('Opsgenie on-call schedules', () => {
  let sim: OpsgenieSimulator;

  beforeAll(async () => {
    sim = await startOpsgenieSimulator({
      apiKey: API_KEY,
      schedules: [
        { id: PAYMENTS.id, name: 'payments-primary' },
        { id: SEARCH.id, name: 'search-primary' },
        { id: LOCKED.id, name: 'finance-primary', onCall: ['alice@example.com'], forbidden: true },
      ],
    });
  });
  afterAll(async () => sim.close());
  beforeEach(() => {
    sim.outage = undefined;
    sim.delayMs = 0;
    sim.setOnCall(PAYMENTS.id, ['alice@example.com']);
    sim.setOnCall(SEARCH.id, ['carol@example.com', 'erin@example.com']);
  });

  const checkWith = (
    overrides: { apiKey?: string | undefined; cacheTtlMs?: number; timeoutMs?: number } = {},
  ) => {
    const log = capturedLogger();
    const check = createOnCallSchedules(
      {
        pagerduty: { apiUrl: DEFAULT_PAGERDUTY_API_URL, token: undefined },
        opsgenie: { apiUrl: sim.apiUrl, apiKey: 'apiKey' in overrides ? overrides.apiKey : API_KEY },
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
  const unknownOnly = (...schedules: ScheduleRef[]) => ({ onCall: false, unknown: schedules });

  it('says a person on call now is on call, with the schedule name from _parent', async () => {
    const { check } = checkWith();
    const mark = sim.calls.length;
    await expect(check.isOnCall('erin@example.com', [PAYMENTS, SEARCH])).resolves.toEqual({
      onCall: true,
      schedule: { provider: 'opsgenie', id: SEARCH.id, name: 'search-primary' },
    });
    const mine = callsSince(mark).find((call) => call.path === `/v2/schedules/${SEARCH.id}/on-calls`);
    expect(mine).toMatchObject({ authorized: true, status: 200 });
    expect(mine?.query).toEqual({ scheduleIdentifierType: ['id'], flat: ['true'] });
  });

  it('compares emails without case', async () => {
    sim.setOnCall(PAYMENTS.id, ['Alice.Smith@Example.com']);
    const { check } = checkWith();
    await expect(check.isOnCall('alice.smith@example.COM', [PAYMENTS])).resolves.toMatchObject({
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
    await expect(check.isOnCall('alice@example.com', [PAYMENTS])).resolves.toMatchObject({ onCall: true });
    expect(callsSince(mark)).toHaveLength(0);
    await sleep(200);
    await expect(check.isOnCall('alice@example.com', [PAYMENTS])).resolves.toEqual({ onCall: false });
    await expect(check.isOnCall('dave@example.com', [PAYMENTS])).resolves.toMatchObject({ onCall: true });
    expect(callsSince(mark)).toHaveLength(1);
    expect(
      sim
        .history(PAYMENTS.id)
        .map((shift) => shift.emails)
        .slice(-2),
    ).toEqual([['alice@example.com'], ['dave@example.com']]);
  });

  it('asks once for concurrent questions about the same schedule', async () => {
    const { check } = checkWith();
    const mark = sim.calls.length;
    const answers = await Promise.all([
      check.isOnCall('alice@example.com', [PAYMENTS]),
      check.isOnCall('bob@example.com', [PAYMENTS]),
    ]);
    expect(answers.map((answer) => answer.onCall)).toEqual([true, false]);
    expect(callsSince(mark)).toHaveLength(1);
  });

  it('fails closed on a refused key (401), warning with Opsgenie’s words and without the key', async () => {
    const { check, lines, warnings } = checkWith({ apiKey: 'aaaaaaaa-0000-4000-8000-000000000000' });
    await expect(check.isOnCall('alice@example.com', [PAYMENTS])).resolves.toEqual(unknownOnly(PAYMENTS));
    expect(warnings()).toEqual([
      expect.objectContaining({
        provider: 'opsgenie',
        scheduleId: PAYMENTS.id,
        status: 401,
        reason: 'Opsgenie answered 401 (Could not authenticate)',
      }),
    ]);
    expect(lines.join('\n')).not.toContain('aaaaaaaa-0000-4000-8000-000000000000');
    expect(lines.join('\n')).not.toContain(API_KEY);
  });

  it('fails closed on a schedule the key may not read (403) or that does not exist (404)', async () => {
    const { check, warnings } = checkWith();
    const missing: ScheduleRef = { provider: 'opsgenie', id: 'no-such-schedule' };
    await expect(check.isOnCall('alice@example.com', [LOCKED, missing])).resolves.toEqual(
      unknownOnly(LOCKED, missing),
    );
    expect(warnings().map((line) => line.status)).toEqual([403, 404]);
  });

  it('fails closed on a 429 and asks no more until the throttle period has passed', async () => {
    const { check, warnings } = checkWith({ cacheTtlMs: 0 });
    sim.rateLimit(1, 1);
    const mark = sim.calls.length;
    await expect(check.isOnCall('alice@example.com', [PAYMENTS])).resolves.toEqual(unknownOnly(PAYMENTS));
    await expect(check.isOnCall('alice@example.com', [PAYMENTS])).resolves.toEqual(unknownOnly(PAYMENTS));
    expect(callsSince(mark).map((call) => call.status)).toEqual([429]);
    expect(warnings()).toEqual([expect.objectContaining({ status: 429 })]);
    await sleep(1100);
    await expect(check.isOnCall('alice@example.com', [PAYMENTS])).resolves.toMatchObject({ onCall: true });
  });

  it('fails closed during an outage (500s) and answers again when it ends', async () => {
    const { check, warnings } = checkWith({ cacheTtlMs: 0 });
    sim.outage = 'error';
    const mark = sim.calls.length;
    await expect(check.isOnCall('alice@example.com', [PAYMENTS])).resolves.toEqual(unknownOnly(PAYMENTS));
    expect(callsSince(mark).map((call) => call.status)).toEqual([500, 500]);
    expect(warnings()[0]).toMatchObject({ reason: 'Opsgenie answered 500 (Internal Server Error)' });
    sim.outage = undefined;
    await expect(check.isOnCall('alice@example.com', [PAYMENTS])).resolves.toMatchObject({ onCall: true });
  });

  it('fails closed when Opsgenie answers later than the deadline', async () => {
    const { check, warnings } = checkWith({ timeoutMs: 200 });
    sim.delayMs = 1000;
    await expect(check.isOnCall('alice@example.com', [PAYMENTS])).resolves.toEqual(unknownOnly(PAYMENTS));
    expect(warnings()[0]).toMatchObject({ reason: 'Opsgenie no answer in time' });
  });

  it('says not on call, and asks nobody, when OPSGENIE_API_KEY is not configured', async () => {
    const { check, warnings } = checkWith({ apiKey: undefined });
    const mark = sim.calls.length;
    await expect(check.isOnCall('alice@example.com', [PAYMENTS])).resolves.toEqual(unknownOnly(PAYMENTS));
    expect(callsSince(mark)).toHaveLength(0);
    expect(warnings()[0]).toMatchObject({ reason: 'Opsgenie is not configured (OPSGENIE_API_KEY is unset)' });
  });
});
