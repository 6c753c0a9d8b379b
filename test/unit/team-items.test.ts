import { describe, expect, it } from 'vitest';
import { isAppError } from '../../src/errors.js';
import { isTeamItem, rolesAmong, teamOfItem } from '../../src/lib/access-items.js';
import { checkRequestAllowed, findTarget, requirementsOf } from '../../src/policy/policy.js';
import { parsePolicy, readPolicy } from '../../src/policy/read-policy.js';
import { parseRequestLine } from '../../src/requests/parse-command.js';

const POLICY = `approvalsChannel: C0APPROVALS
targets:
  - name: acme
    org: '6a0000000000000000000001'
    approvers: [U0LEAD]
    roles: [ORG_READ_ONLY]
    teams: [platform-oncall, 6d0000000000000000000009]
    maxDuration: 8h
    rules:
      - roles: [team:platform-oncall]
        autoApprove: true
        maxDuration: 4h
`;

describe('team items', () => {
  it('parses team:NAME beside roles, keeping the name as typed and upper-casing roles', () => {
    const line = parseRequestLine('team:Platform-Oncall, org_read_only on acme for 2h because incident 7');
    expect(line.roles).toEqual(['team:Platform-Oncall', 'ORG_READ_ONLY']);
    expect(line.scope).toBe('org');
    expect(rolesAmong(line.roles)).toEqual(['ORG_READ_ONLY']);
    expect(teamOfItem('team:x')).toBe('x');
    expect(isTeamItem('GROUP_READ_ONLY')).toBe(false);
  });

  it('refuses a team beside project roles, and a team name with odd characters', () => {
    const mixed = (() => {
      try {
        parseRequestLine('team:oncall,GROUP_READ_ONLY on acme for 2h because x');
      } catch (error) {
        return isAppError(error, 'COMMAND_INVALID') ? error.message : 'other';
      }
      return 'none';
    })();
    expect(mixed).toContain('separate requests');
    expect(() => parseRequestLine('team:on*call on acme for 2h because x')).toThrow(/team:NAME/);
  });

  it('offers the teams of an org target as items that rules govern like roles', () => {
    const policy = parsePolicy(POLICY);
    const acme = findTarget(policy, 'acme');
    expect(acme?.roles).toEqual(['ORG_READ_ONLY', 'team:platform-oncall', 'team:6d0000000000000000000009']);
    if (!acme) throw new Error('no target');
    const team = requirementsOf(acme, ['team:platform-oncall']);
    expect(team.autoApprove).toBe(true);
    expect(team.maxDurationSeconds).toBe(4 * 3600);
    expect(() => checkRequestAllowed(acme, ['team:platform-oncall'], 5 * 3600)).toThrow(/at most 4h/);
    expect(() => checkRequestAllowed(acme, ['team:strangers'], 3600)).toThrow(/cannot be requested on acme/);
  });

  it('refuses teams on a project target and a rule naming a team the target does not offer', () => {
    const reading = readPolicy(`approvalsChannel: C0APPROVALS
targets:
  - name: payments
    project: '6b0000000000000000000001'
    approvers: [U0LEAD]
    roles: [GROUP_READ_ONLY]
    teams: [oncall]
  - name: acme
    org: '6a0000000000000000000001'
    approvers: [U0LEAD]
    roles: [ORG_READ_ONLY]
    teams: [oncall]
    rules:
      - roles: [team:others]
        autoApprove: true
`);
    expect(reading.ok).toBe(false);
    const problems = reading.ok ? [] : reading.problems.map((p) => p.message);
    expect(problems).toEqual(
      expect.arrayContaining([
        'targets[0].teams: teams belong to an organization: offer them on the org target, not on a project',
        "targets[1].rules[0].roles[0]: team:others is not one of this target's roles or teams; a rule may only name what the target offers",
      ]),
    );
  });
});
