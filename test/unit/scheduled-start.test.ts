import { describe, expect, it } from 'vitest';
import { parseCommand } from '../../src/requests/parse-command.js';
import {
  decideBy,
  endOfGrant,
  parseStart,
  resolveStart,
  waitsForStart,
} from '../../src/requests/scheduled-start.js';

/** 2026-12-07 15:00 UTC (16:00 in Amsterdam, 07:00 in Los Angeles). */
const NOW = Date.UTC(2026, 11, 7, 15, 0);

describe('parseStart', () => {
  it('reads a time of day, a local date and time, and an instant with a zone', () => {
    expect(parseStart('22:00')).toEqual({ kind: 'clock', hour: 22, minute: 0 });
    expect(parseStart('7:05')).toEqual({ kind: 'clock', hour: 7, minute: 5 });
    expect(parseStart('2026-12-08T22:00')).toEqual({
      kind: 'local',
      year: 2026,
      month: 12,
      day: 8,
      hour: 22,
      minute: 0,
    });
    expect(parseStart('2026-12-08T22:00:30Z')).toEqual({
      kind: 'instant',
      at: Date.UTC(2026, 11, 8, 22, 0, 30),
    });
    expect(parseStart('2026-12-08T22:00+01:00')).toEqual({
      kind: 'instant',
      at: Date.UTC(2026, 11, 8, 21, 0),
    });
  });

  it('refuses what is not a start, in words', () => {
    for (const text of ['tonight', '24:00', '2026-02-30T10:00', '2026-12-08', '22h']) {
      expect(() => parseStart(text)).toThrow(/is not a start/);
    }
  });
});

describe('resolveStart', () => {
  it('takes a time of day as its next occurrence in the person’s time zone', () => {
    // 22:00 in Amsterdam (UTC+1 in December) is 21:00 UTC, later today.
    expect(resolveStart({ kind: 'clock', hour: 22, minute: 0 }, 'Europe/Amsterdam', NOW)).toBe(
      Date.UTC(2026, 11, 7, 21, 0),
    );
    // 15:30 in Amsterdam has passed (it is 16:00 there): tomorrow's.
    expect(resolveStart({ kind: 'clock', hour: 15, minute: 30 }, 'Europe/Amsterdam', NOW)).toBe(
      Date.UTC(2026, 11, 8, 14, 30),
    );
    // The same words in Los Angeles (UTC-8) mean another instant.
    expect(resolveStart({ kind: 'clock', hour: 22, minute: 0 }, 'America/Los_Angeles', NOW)).toBe(
      Date.UTC(2026, 11, 8, 6, 0),
    );
  });

  it('reads a local date and time in the person’s zone, and UTC when Slack names none or an unknown one', () => {
    const local = { kind: 'local', year: 2026, month: 12, day: 8, hour: 22, minute: 0 } as const;
    expect(resolveStart(local, 'Asia/Kolkata', NOW)).toBe(Date.UTC(2026, 11, 8, 16, 30));
    expect(resolveStart(local, null, NOW)).toBe(Date.UTC(2026, 11, 8, 22, 0));
    expect(resolveStart(local, 'Mars/Olympus_Mons', NOW)).toBe(Date.UTC(2026, 11, 8, 22, 0));
  });

  it('refuses a start that has passed, is under 10 seconds away, or is over 30 days away', () => {
    expect(() => resolveStart({ kind: 'instant', at: NOW - 1 }, null, NOW)).toThrow(/has passed/);
    expect(() => resolveStart({ kind: 'instant', at: NOW + 5_000 }, null, NOW)).toThrow(/10 seconds/);
    expect(() => resolveStart({ kind: 'instant', at: NOW + 31 * 86_400_000 }, null, NOW)).toThrow(
      /more than 30 days away/,
    );
    expect(resolveStart({ kind: 'instant', at: NOW + 10_000 }, null, NOW)).toBe(NOW + 10_000);
  });
});

describe('scheduled grant times', () => {
  const at = Date.UTC(2026, 11, 7, 21, 0);

  it('counts the end from the start when there is one, else from when it was applied', () => {
    expect(endOfGrant({ durationSeconds: 7200, startsAt: at }, at + 60_000)).toBe(at + 7_200_000);
    expect(endOfGrant({ durationSeconds: 7200, startsAt: null }, at)).toBe(at + 7_200_000);
    expect(endOfGrant({ durationSeconds: null, startsAt: at }, at)).toBeNull();
  });

  it('lets a scheduled request wait for a decision no later than its end', () => {
    const request = { createdAt: NOW, durationSeconds: 3600, startsAt: at };
    expect(decideBy(request, 86_400_000)).toBe(at + 3_600_000);
    expect(decideBy({ ...request, startsAt: null }, 86_400_000)).toBe(NOW + 86_400_000);
    expect(decideBy({ ...request, startsAt: NOW + 2 * 86_400_000 }, 86_400_000)).toBe(NOW + 86_400_000);
  });

  it('waits for its start only while approved and before the start', () => {
    expect(waitsForStart({ state: 'approved', startsAt: at }, at - 1)).toBe(true);
    expect(waitsForStart({ state: 'approved', startsAt: at }, at)).toBe(false);
    expect(waitsForStart({ state: 'pending', startsAt: at }, at - 1)).toBe(false);
    expect(waitsForStart({ state: 'approved', startsAt: null }, at - 1)).toBe(false);
  });
});

describe('parseCommand with a start', () => {
  it('reads `from` before or after the duration', () => {
    const before = parseCommand(
      'request GROUP_READ_ONLY on payments-prod from 22:00 for 2h because migration',
    );
    const after = parseCommand(
      'request GROUP_READ_ONLY on payments-prod for 2h from 22:00 ticket OPS-1 because m',
    );
    expect(before).toMatchObject({
      kind: 'request',
      durationSeconds: 7200,
      start: { kind: 'clock', hour: 22 },
    });
    expect(after).toMatchObject({
      durationSeconds: 7200,
      ticket: 'OPS-1',
      start: { kind: 'clock', hour: 22 },
    });
    expect(parseCommand('request GROUP_READ_ONLY on payments-prod for 2h because m')).not.toHaveProperty(
      'start',
    );
  });

  it('refuses two starts, and a start on break-glass', () => {
    expect(() => parseCommand('request GROUP_READ_ONLY on p from 22:00 for 2h from 23:00 because m')).toThrow(
      /one start/,
    );
    expect(() => parseCommand('breakglass GROUP_OWNER on p from 22:00 for 1h because outage')).toThrow(
      /Break-glass access starts now/,
    );
  });
});
