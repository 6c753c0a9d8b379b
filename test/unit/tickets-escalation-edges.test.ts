import { describe, expect, it } from 'vitest';
import { findTarget, requirementsAt, requirementsOf } from '../../src/policy/policy.js';
import { readPolicy } from '../../src/policy/read-policy.js';

const POLICY = `approvalsChannel: C0APPROVALS
targets:
  - name: payments-prod
    project: 5f1a2b3c4d5e6f7a8b9c0d1e
    approvers: [U0BOB]
    roles: [GROUP_READ_ONLY, GROUP_OWNER]
    ticket:
      pattern: "[A-Z]+-[0-9]+"
    rules:
      - roles: [GROUP_READ_ONLY]
        escalate: {after: 1h, to: [U0MALLORY]}
      - roles: [GROUP_OWNER]
        approvers: [U0SECURITY]
`;

describe('ticket patterns', () => {
  it('refuses at load a pattern whose nested repetition backtracks catastrophically', () => {
    for (const pattern of ['([A-Z]+)+-[0-9]+', '(?:[A-Z0-9]+-?)*', '(\\w+\\d*){2,}X']) {
      const reading = readPolicy(POLICY.replace('"[A-Z]+-[0-9]+"', JSON.stringify(pattern)));
      expect(reading.ok, pattern).toBe(false);
      expect(reading.ok ? [] : reading.problems.map((p) => `${p.line}: ${p.message}`)).toEqual([
        '8: targets[0].ticket.pattern: pattern repeats a group that itself repeats (such as (a+)+), which can take a ticket minutes to check; write it without nesting',
      ]);
    }
  });

  it('still accepts the usual patterns, with groups, alternatives, anchors and escapes', () => {
    for (const pattern of [
      '[A-Z]+-[0-9]+',
      '^(OPS|CHG)-\\d{1,6}$',
      '(?:INC|CHG)[0-9]{7}',
      '[A-Z][A-Z0-9]+-[1-9][0-9]*',
      '\\(x+\\)+',
      '[(a+)+]',
      '(ab){2}',
    ]) {
      expect(readPolicy(POLICY.replace('"[A-Z]+-[0-9]+"', JSON.stringify(pattern))).ok, pattern).toBe(true);
    }
  });
});

describe('escalation over several roles', () => {
  const targetOf = (text: string) => {
    const reading = readPolicy(text);
    if (!reading.ok) throw new Error('the test policy is valid');
    const target = findTarget(reading.policy, 'payments-prod');
    if (!target) throw new Error('the test policy has payments-prod');
    return target;
  };
  const request = { roles: ['GROUP_READ_ONLY', 'GROUP_OWNER'], state: 'pending', createdAt: 0 };

  it('does not let one role’s fallback approvers decide a role whose rule does not escalate', () => {
    const target = targetOf(POLICY);
    expect(requirementsOf(target, request.roles).escalation).toBeUndefined();
    // Two hours on, GROUP_OWNER is still decided by Security alone, so Mallory decides nothing.
    expect(requirementsAt(target, request, 7_200_000).approverLists).toEqual([['U0BOB'], ['U0SECURITY']]);
    // Asked alone, GROUP_READ_ONLY is escalated to her as before.
    expect(
      requirementsAt(target, { ...request, roles: ['GROUP_READ_ONLY'] }, 3_600_000).approverLists,
    ).toEqual([['U0BOB', 'U0MALLORY']]);
  });

  it('escalates a request whose every role escalates at the latest after, each role to its own people', () => {
    const target = targetOf(
      POLICY.replace(
        'approvers: [U0SECURITY]',
        'approvers: [U0SECURITY]\n        escalate: {after: 2h, to: [U0DAVE]}',
      ),
    );
    expect(requirementsOf(target, request.roles).escalation).toEqual({
      afterSeconds: 7_200,
      to: ['U0MALLORY', 'U0DAVE'],
    });
    expect(requirementsAt(target, request, 7_200_000 - 1).approverLists).toEqual([['U0BOB'], ['U0SECURITY']]);
    expect(requirementsAt(target, request, 7_200_000).approverLists).toEqual([
      ['U0BOB', 'U0MALLORY'],
      ['U0SECURITY', 'U0DAVE'],
    ]);
  });
});
