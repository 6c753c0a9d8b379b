import { describe, expect, it } from 'vitest';
import {
  combineChases,
  escalationDueAt,
  isEscalated,
  MAX_APPROVER_REMINDERS,
  reminderSchedule,
} from '../../src/policy/approver-chase.js';
import { requirementsAt, requirementsOf } from '../../src/policy/policy.js';
import { readPolicy } from '../../src/policy/read-policy.js';
import { parseCommand } from '../../src/requests/parse-command.js';
import { defined } from '../support/defined.js';

const MINUTE = 60_000;

/** A policy whose project target chases with `target` lines and has two rules with their own. */
const POLICY = `approvalsChannel: C0APPROVALS
groups:
  leads: [U0LEAD, S0LEADS]
targets:
  - name: payments-prod
    project: 5f1a2b3c4d5e6f7a8b9c0d1e
    approvers: [U0BOB]
    roles: [GROUP_READ_ONLY, GROUP_DATA_ACCESS_READ_ONLY, GROUP_DATA_ACCESS_READ_WRITE]
    remindApprovers: 30m
    escalate: {after: 2h, to: [U0CAROL]}
    rules:
      - roles: [GROUP_DATA_ACCESS_READ_ONLY]
        remindApprovers: 15m
      - roles: [GROUP_DATA_ACCESS_READ_WRITE]
        approvers: [U0DBA]
        escalate: {after: 1h, to: [leads]}
`;

function target() {
  const reading = readPolicy(POLICY);
  if (!reading.ok) throw new Error(reading.problems.map((p) => p.message).join('; '));
  return defined(reading.policy.targets[0]);
}

describe('reminderSchedule', () => {
  it('reminds at 15m, 30m, 60m and 120m after the request for remindApprovers: 15m, and no more', () => {
    const createdAt = 1_000_000;
    const schedule = reminderSchedule(createdAt, 15 * 60);
    expect(schedule).toEqual([
      { round: 1, at: createdAt + 15 * MINUTE },
      { round: 2, at: createdAt + 30 * MINUTE },
      { round: 3, at: createdAt + 60 * MINUTE },
      { round: 4, at: createdAt + 120 * MINUTE },
    ]);
    expect(schedule).toHaveLength(MAX_APPROVER_REMINDERS);
  });

  it('schedules nothing when the policy does not remind', () => {
    expect(reminderSchedule(1_000, undefined)).toEqual([]);
  });
});

describe('requirementsOf (reminders and escalation)', () => {
  it('takes the target’s settings for an item no rule sets them for', () => {
    const needs = requirementsOf(target(), ['GROUP_READ_ONLY']);
    expect(needs.remindApproversSeconds).toBe(30 * 60);
    expect(needs.escalation).toEqual({ afterSeconds: 7_200, to: ['U0CAROL'] });
    expect(needs.approverLists).toEqual([['U0BOB']]);
  });

  it('takes the shortest reminder and the latest escalation of every requested item', () => {
    const needs = requirementsOf(target(), ['GROUP_DATA_ACCESS_READ_ONLY', 'GROUP_DATA_ACCESS_READ_WRITE']);
    expect(needs.remindApproversSeconds).toBe(15 * 60);
    expect(needs.escalation).toEqual({ afterSeconds: 7_200, to: ['U0CAROL', 'leads'] });
  });

  it('adds each item’s own escalation people to its approvers only once every item is due', () => {
    const t = target();
    const request = {
      roles: ['GROUP_READ_ONLY', 'GROUP_DATA_ACCESS_READ_WRITE'],
      state: 'pending',
      createdAt: 0,
    };
    // GROUP_DATA_ACCESS_READ_WRITE alone would escalate after 1h; GROUP_READ_ONLY only after 2h.
    expect(requirementsAt(t, request, 7_200_000 - 1).approverLists).toEqual([['U0BOB'], ['U0DBA']]);
    expect(requirementsAt(t, request, 7_200_000).approverLists).toEqual([
      ['U0BOB', 'U0CAROL'],
      ['U0DBA', 'leads'],
    ]);
    // A decided request is never escalated: its fallback approvers decide only what still waits.
    expect(requirementsAt(t, { ...request, state: 'approved' }, 9_999_999).approverLists).toEqual([
      ['U0BOB'],
      ['U0DBA'],
    ]);
  });

  it('escalates only when every item does, at the latest after, merging their people', () => {
    expect(
      combineChases([
        { escalation: { afterSeconds: 60, to: ['U0A'] } },
        { escalation: { afterSeconds: 60, to: ['U0B', 'U0A'] } },
        { escalation: { afterSeconds: 30, to: ['U0C'] }, remindApproversSeconds: 600 },
      ]),
    ).toEqual({ remindApproversSeconds: 600, escalation: { afterSeconds: 60, to: ['U0A', 'U0B', 'U0C'] } });
    // An item that does not escalate keeps the request from escalating.
    expect(
      combineChases([{ escalation: { afterSeconds: 30, to: ['U0C'] }, remindApproversSeconds: 600 }, {}]),
    ).toEqual({ remindApproversSeconds: 600, escalation: undefined });
    expect(combineChases([{}, {}])).toEqual({ remindApproversSeconds: undefined, escalation: undefined });
  });
});

describe('isEscalated', () => {
  it('is escalated from createdAt + after while pending, never once decided', () => {
    const escalation = { afterSeconds: 10, to: ['U0CAROL'] };
    expect(escalationDueAt(5_000, escalation)).toBe(15_000);
    expect(isEscalated({ state: 'pending', createdAt: 5_000 }, escalation, 14_999)).toBe(false);
    expect(isEscalated({ state: 'pending', createdAt: 5_000 }, escalation, 15_000)).toBe(true);
    expect(isEscalated({ state: 'denied', createdAt: 5_000 }, escalation, 15_000)).toBe(false);
    expect(isEscalated({ state: 'pending', createdAt: 5_000 }, undefined, 99_000)).toBe(false);
  });
});

describe('policy keys remindApprovers and escalate', () => {
  it('refuses a malformed duration and a group escalate.to does not define, with where they are', () => {
    const reading = readPolicy(`approvalsChannel: C0APPROVALS
targets:
  - name: payments-prod
    project: 5f1a2b3c4d5e6f7a8b9c0d1e
    approvers: [U0BOB]
    roles: [GROUP_READ_ONLY]
    remindApprovers: soon
    escalate: {after: 1h, to: [platform-leads]}
`);
    expect(reading.ok).toBe(false);
    const problems = reading.ok ? [] : reading.problems.map((p) => `${p.line}: ${p.message}`);
    expect(problems).toEqual([
      expect.stringMatching(/^7: .*remindApprovers must look like 15m, 1h or 30s$/),
      expect.stringMatching(/^8: .*platform-leads is not a group under groups:$/),
    ]);
  });

  it('refuses an escalation without `to`', () => {
    const reading = readPolicy(`approvalsChannel: C0APPROVALS
targets:
  - name: payments-prod
    project: 5f1a2b3c4d5e6f7a8b9c0d1e
    approvers: [U0BOB]
    roles: [GROUP_READ_ONLY]
    escalate: {after: 1h}
`);
    expect(reading.ok ? [] : reading.problems.map((p) => p.message)).toEqual([
      expect.stringContaining('escalate.to must be a list'),
    ]);
  });
});

describe('parseCommand nudge', () => {
  it('reads `nudge ID` (any case) and refuses it without an id', () => {
    expect(parseCommand('nudge ar-0042')).toEqual({ kind: 'nudge', id: 'AR-0042' });
    expect(() => parseCommand('nudge')).toThrow('Say which request: /atlas-access nudge AR-0042.');
  });
});
