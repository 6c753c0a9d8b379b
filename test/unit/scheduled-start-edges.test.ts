import { DateTime } from 'luxon';
import { describe, expect, it } from 'vitest';
import { SANDBOX_POLICY } from '../../dev/sandbox.js';
import { parsePolicy } from '../../src/policy/read-policy.js';
import type { AccessRequest, RequestState } from '../../src/requests/model.js';
import { parseCommand } from '../../src/requests/parse-command.js';
import {
  decideBy,
  endOfGrant,
  MAX_START_AHEAD_DAYS,
  parseStart,
  resolveStart,
  type StartAt,
} from '../../src/requests/scheduled-start.js';
import { buildApprovalMessage } from '../../src/slack/blocks/approval-message.js';
import { buildHomeView } from '../../src/slack/blocks/home-view.js';
import { buildOutcomeText } from '../../src/slack/blocks/outcome-message.js';
import { describeScheduledApproval } from '../../src/slack/blocks/scheduled-start.js';
import {
  buildConfirmation,
  buildListMessage,
  buildOnBehalfNotice,
  buildStatusMessage,
} from '../../src/slack/blocks/status-message.js';
import { readRequestForm } from '../../src/slack/handlers/request-form.js';
import { expectValidHomeView, expectValidMessageBlocks } from '../support/block-kit.js';
import { accessRequest } from '../support/request-fixture.js';

const AMSTERDAM = 'Europe/Amsterdam';

/** An instant given as a wall time in a zone with its offset, e.g. `2026-03-29T03:10+02:00`. */
const at = (iso: string): number => DateTime.fromISO(iso, { setZone: true }).toMillis();

const clock = (hour: number, minute: number): StartAt => ({ kind: 'clock', hour, minute });

describe('resolveStart at the edges of a day', () => {
  it('refuses `from 22:00` typed 5 seconds before 22:00 instead of moving it a whole day on', () => {
    // The next 22:00 is 5 seconds away: too close to schedule. Moving it silently to tomorrow's 22:00
    // grants access 24 hours later than the person asked for.
    const now = at('2026-12-07T21:59:55+01:00');
    expect(() => resolveStart(clock(22, 0), AMSTERDAM, now)).toThrow(/less than 10 seconds away/);
  });

  it('takes `from 00:00` typed a minute before midnight as tonight’s midnight, the next day', () => {
    const now = at('2026-12-07T23:59:00+01:00');
    expect(resolveStart(clock(0, 0), AMSTERDAM, now)).toBe(at('2026-12-08T00:00+01:00'));
  });

  it('refuses `from 00:00` typed 5 seconds before midnight, in words', () => {
    const now = at('2026-12-07T23:59:55+01:00');
    expect(() => resolveStart(clock(0, 0), AMSTERDAM, now)).toThrow(/less than 10 seconds away/);
  });

  it('refuses 24:00 as a time of day but reads a date at 24:00 as the next midnight (ISO 8601)', () => {
    expect(() => parseStart('24:00')).toThrow(/is not a start/);
    const start = parseStart('2026-12-08T24:00');
    expect(resolveStart(start, AMSTERDAM, at('2026-12-07T12:00+01:00'))).toBe(at('2026-12-09T00:00+01:00'));
  });

  it('refuses seconds in a time of day or a zoneless date, and takes them with a zone', () => {
    expect(() => parseStart('22:00:30')).toThrow(/is not a start/);
    expect(() => parseStart('2026-12-08T22:00:30')).toThrow(/is not a start/);
    expect(parseStart('2026-12-08T22:00:30Z')).toEqual({
      kind: 'instant',
      at: Date.UTC(2026, 11, 8, 22, 0, 30),
    });
  });

  it('refuses an offset no time zone has (beyond ±14:00)', () => {
    expect(() => parseStart('2026-12-08T22:00+25:00')).toThrow(/is not a start/);
    expect(() => parseStart('2026-12-08T22:00-99:00')).toThrow(/is not a start/);
    expect(parseStart('2026-12-08T22:00+14:00')).toEqual({
      kind: 'instant',
      at: Date.UTC(2026, 11, 8, 8, 0),
    });
  });

  it('takes the 30 days ahead as 30 × 24 hours, across a DST change', () => {
    const now = at('2026-03-20T12:00+01:00');
    const edge = now + MAX_START_AHEAD_DAYS * 86_400_000;
    expect(resolveStart({ kind: 'instant', at: edge }, AMSTERDAM, now)).toBe(edge);
    expect(() => resolveStart({ kind: 'instant', at: edge + 60_000 }, AMSTERDAM, now)).toThrow(
      /more than 30 days away/,
    );
  });
});

describe('resolveStart across DST in Europe/Amsterdam', () => {
  it('moves a time of day the spring-forward gap skips (02:30) to the hour after it', () => {
    // 2026-03-29: 02:00 CET jumps to 03:00 CEST. Asked at 01:00 CET, 02:30 never comes: 03:30 CEST.
    const now = at('2026-03-29T01:00+01:00');
    expect(resolveStart(clock(2, 30), AMSTERDAM, now)).toBe(at('2026-03-29T03:30+02:00'));
    // Asked the day before, "tomorrow's 02:30" moves forward the same way.
    expect(resolveStart(clock(2, 30), AMSTERDAM, at('2026-03-28T12:00+01:00'))).toBe(
      at('2026-03-29T03:30+02:00'),
    );
    // A date and time in the gap moves forward too.
    expect(resolveStart(parseStart('2026-03-29T02:30'), AMSTERDAM, now)).toBe(at('2026-03-29T03:30+02:00'));
  });

  it('keeps the wall time on the day after a DST change (a day of 23 or 25 hours)', () => {
    // Asked at 12:00 CET the day before the change, 11:00 the next day is 22 real hours away, not 23.
    const now = at('2026-03-28T12:00+01:00');
    expect(resolveStart(clock(11, 0), AMSTERDAM, now)).toBe(at('2026-03-29T11:00+02:00'));
    expect(resolveStart(clock(11, 0), AMSTERDAM, at('2026-10-24T12:00+02:00'))).toBe(
      at('2026-10-25T11:00+01:00'),
    );
  });

  it('takes `from 02:30` typed at 02:45 CEST on the fall-back day as the 02:30 CET 45 minutes later', () => {
    // 2026-10-25: 03:00 CEST goes back to 02:00 CET, so 02:30 comes twice. At 02:45 CEST the second
    // 02:30 is still ahead: that is the next 02:30, not tomorrow's.
    const now = at('2026-10-25T02:45+02:00');
    expect(resolveStart(clock(2, 30), AMSTERDAM, now)).toBe(at('2026-10-25T02:30+01:00'));
  });

  it('takes `from 02:30` typed at 02:15 CET (the second 02:15) as 15 minutes later', () => {
    const now = at('2026-10-25T02:15+01:00');
    expect(resolveStart(clock(2, 30), AMSTERDAM, now)).toBe(at('2026-10-25T02:30+01:00'));
  });

  it('reads a date and time the clock repeats as its first occurrence, as the code promises', () => {
    // scheduled-start.ts: "one it repeats is the first". The first 02:30 is 02:30 CEST (00:30 UTC).
    const now = at('2026-10-24T12:00+02:00');
    expect(resolveStart(parseStart('2026-10-25T02:30'), AMSTERDAM, now)).toBe(at('2026-10-25T02:30+02:00'));
  });
});

describe('parseCommand: `from` inside other words', () => {
  it('leaves a "from 22:00" in the reason alone', () => {
    const line = parseCommand(
      'request GROUP_READ_ONLY on payments-prod for 2h because restore from 22:00 backup',
    );
    expect(line).toMatchObject({
      kind: 'request',
      reason: 'restore from 22:00 backup',
      durationSeconds: 7200,
    });
    expect(line).not.toHaveProperty('start');
  });

  it('reads FROM in capitals, and a permanent scheduled request (no duration)', () => {
    expect(parseCommand('request GROUP_READ_ONLY on payments-prod FROM 22:00 because m')).toMatchObject({
      start: { kind: 'clock', hour: 22, minute: 0 },
      durationSeconds: undefined,
    });
  });

  it('refuses a start placed after the ticket, in words', () => {
    expect(() =>
      parseCommand('request GROUP_READ_ONLY on payments-prod for 2h ticket OPS-1 from 22:00 because m'),
    ).toThrow(/must read/);
  });
});

describe('scheduled grant times', () => {
  it('lets a permanent scheduled request wait REQUEST_TTL, past its start', () => {
    const created = Date.UTC(2026, 11, 7, 12);
    const startsAt = created + 60_000;
    expect(decideBy({ createdAt: created, startsAt, durationSeconds: null }, 86_400_000)).toBe(
      created + 86_400_000,
    );
    expect(endOfGrant({ durationSeconds: null, startsAt }, startsAt + 1)).toBeNull();
  });
});

/** A scheduled request as stored, in `state`, with hostile text where a person typed it. */
function scheduled(state: RequestState, overrides: Partial<AccessRequest> = {}): AccessRequest {
  return accessRequest({
    id: 'AR-2QKJ5TX',
    state,
    requesterId: 'U0ALICE',
    granteeId: 'U0DAVE',
    granteeEmail: 'dave@example.com',
    target: { name: 'payments_*prod*', kind: 'project', id: '5f1a2b3c4d5e6f7a8b9c0d1e' },
    durationSeconds: 7200,
    startsAt: Date.now() + 3_600_000,
    reason: '<!channel> <@U0BOSS> & <https://evil.example|click me> '.repeat(9),
    approvalMessage: { channelId: 'C0APPROVALS', ts: '1.2' },
    approversAtRequest: ['U0BOB'],
    decision: state === 'pending' ? null : { by: 'U0BOB', at: Date.now(), note: null },
    ...overrides,
  });
}

describe('scheduled messages', () => {
  it('shows the start on the approval message of a permanent scheduled request', () => {
    const request = scheduled('pending', { durationSeconds: null });
    const text = JSON.stringify(buildApprovalMessage(request).blocks);
    // The approver must see that it starts later, permanent or not.
    expect(text).toContain(`<!date^${Math.floor((request.startsAt ?? 0) / 1000)}^`);
  });

  it('builds valid Block Kit for every message of a scheduled grant waiting for its start', () => {
    const approved = scheduled('approved');
    const approval = buildApprovalMessage(approved);
    expectValidMessageBlocks(approval.blocks);
    expect(JSON.stringify(approval.blocks)).toContain('request_cancel_scheduled');
    expectValidMessageBlocks(buildApprovalMessage(scheduled('pending')).blocks);
    expectValidMessageBlocks(buildConfirmation(approved, 'C0APPROVALS').blocks);
    expectValidMessageBlocks(buildOnBehalfNotice(scheduled('pending')).blocks);
    expectValidMessageBlocks(buildStatusMessage(approved, []).blocks);
    const list = buildListMessage({ mine: [approved], toDecide: [scheduled('pending')] });
    expectValidMessageBlocks(list.blocks);
  });

  it('escapes the target name and never repeats the reason in the scheduled-approval notice', () => {
    const text = describeScheduledApproval(scheduled('approved'), '<@U0BOB>');
    expect(text).not.toContain('<!channel>');
    expect(text).toContain('/atlas-access cancel AR-2QKJ5TX');
    expect(text).toMatch(/applies it in Atlas <!date\^\d+\^[^>]+> and revokes it <!date\^\d+\^/);
  });

  it('offers no Retry on a grant whose whole window passed, in the message or in the words', () => {
    const failed = scheduled('failed', {
      startsAt: Date.now() - 7_300_000,
      failure: {
        code: 'REQUEST_WINDOW_PASSED',
        message: 'AR-2QKJ5TX was to start at … that time passed before it could be applied.',
        at: Date.now(),
      },
    });
    expect(JSON.stringify(buildApprovalMessage(failed).blocks)).not.toContain('request_retry');
    expect(buildOutcomeText(failed, 'failed')).not.toContain('Retry');
  });
});

describe('scheduled start on the Home tab and the form', () => {
  it('builds a valid Home tab saying when an approved grant starts', () => {
    const approved = scheduled('approved');
    const view = buildHomeView(
      {
        grants: [],
        requests: [approved],
        toDecide: [scheduled('pending', { id: 'AR-2QKJ5TY', durationSeconds: null })],
        decided: [approved],
        policy: parsePolicy(SANDBOX_POLICY),
      },
      'U0BOB',
    );
    expectValidHomeView(view);
    expect(JSON.stringify(view)).toContain(
      `approved, starts <!date^${Math.floor((approved.startsAt ?? 0) / 1000)}^`,
    );
  });

  it('refuses a past start on the form’s field in the form’s words (there is no "from" to leave out)', () => {
    const option = (value: string) => ({ text: { type: 'plain_text' as const, text: value }, value });
    const pick = (seconds: number): Parameters<typeof readRequestForm>[0] => ({
      target: { value: { type: 'static_select', selected_option: option('payments-prod') } },
      roles: { value: { type: 'checkboxes', selected_options: [option('GROUP_READ_ONLY')] } },
      duration: { value: { type: 'static_select', selected_option: option('1h') } },
      reason: { value: { type: 'plain_text_input', value: 'migration' } },
      start: { value: { type: 'datetimepicker', selected_date_time: seconds } },
    });
    const result = readRequestForm(pick(Math.floor(Date.now() / 1000) - 60), 'U0ALICE');
    expect(result).toHaveProperty('errors.start');
    const words = 'errors' in result ? (result.errors.start ?? '') : '';
    expect(words).toMatch(/has passed/);
    expect(words).not.toContain('"from"');
    expect(words.length).toBeLessThanOrEqual(150);
  });
});
