import { describe, expect, it } from 'vitest';
import { SANDBOX_POLICY } from '../../dev/sandbox.js';
import { AppError } from '../../src/errors.js';
import {
  checkRequestAllowed,
  createMembership,
  findTarget,
  type PolicyTarget,
  requirementsOf,
  userGroupsIn,
} from '../../src/policy/policy.js';
import { parsePolicy, readPolicy } from '../../src/policy/read-policy.js';
import { defined } from '../support/defined.js';

function errorOf(run: () => unknown): AppError {
  try {
    run();
  } catch (error) {
    if (error instanceof AppError) return error;
    throw error;
  }
  throw new Error('expected an AppError');
}

describe('parsePolicy', () => {
  it('reads a version-1 file (one flat approver list) with the same meaning as before', () => {
    const text = `approvalsChannel: C0APPROVALS
targets:
  - name: payments-prod
    project: 5f1a2b3c4d5e6f7a8b9c0d1e
    approvers: [U0BOB]
    roles: [GROUP_READ_ONLY]
    maxDuration: 8h
`;
    const policy = parsePolicy(text);
    expect(policy).toEqual({
      approvalsChannel: 'C0APPROVALS',
      groups: {},
      version: expect.stringMatching(/^[0-9a-f]{12}$/),
      offboarders: [],
      offboardApprovers: undefined,
      bundles: [],
      targets: [
        {
          name: 'payments-prod',
          kind: 'project',
          id: '5f1a2b3c4d5e6f7a8b9c0d1e',
          approvers: ['U0BOB'],
          roles: ['GROUP_READ_ONLY'],
          maxDurationSeconds: 8 * 3600,
          approvalsChannel: 'C0APPROVALS',
          requesters: undefined,
          onBehalf: undefined,
          rules: [],
          reviewEverySeconds: undefined,
        },
      ],
    });
    const target = defined(policy.targets[0]);
    expect(requirementsOf(target, ['GROUP_READ_ONLY'])).toEqual({
      autoApprove: false,
      approvals: 1,
      maxDurationSeconds: 8 * 3600,
      approverLists: [['U0BOB']],
      breakGlassLists: [[]],
      rules: [],
      ticket: { required: false, patterns: [], url: undefined },
    });
  });

  it('gives the same version to the same text and another to any change', () => {
    const text =
      'approvalsChannel: C0A\ntargets:\n  - {name: a, org: 5f1a2b3c4d5e6f7a8b9c0d10, approvers: [U0B], roles: [ORG_MEMBER]}\n';
    expect(parsePolicy(text).version).toBe(parsePolicy(text).version);
    expect(parsePolicy(`${text}# a comment\n`).version).not.toBe(parsePolicy(text).version);
  });

  it('reads groups, per-target channels, requesters, onBehalf and rules', () => {
    const policy = parsePolicy(`approvalsChannel: C0APPROVALS
groups:
  dba: [U0BOB, S0DBA]
  oncall: [S0ONCALL]
targets:
  - name: payments-prod
    project: 5f1a2b3c4d5e6f7a8b9c0d1e
    approvalsChannel: C0PAYMENTS
    requesters: [S0ENG, U0ALICE]
    onBehalf: [dba]
    approvers: [dba, U0CAROL]
    roles: [GROUP_READ_ONLY, GROUP_DATA_ACCESS_READ_ONLY, GROUP_OWNER]
    maxDuration: 8h
    rules:
      - roles: [GROUP_READ_ONLY]
        autoApprove: true
        maxDuration: 24h
      - roles: [GROUP_OWNER]
        approvals: 2
        approvers: [dba]
        maxDuration: 1h
        breakGlass: [oncall]
`);
    expect(policy.groups).toEqual({ dba: ['U0BOB', 'S0DBA'], oncall: ['S0ONCALL'] });
    const target = defined(policy.targets[0]);
    expect(target).toMatchObject({
      approvalsChannel: 'C0PAYMENTS',
      requesters: ['S0ENG', 'U0ALICE'],
      onBehalf: ['dba'],
      approvers: ['dba', 'U0CAROL'],
    });
    expect(target.rules).toEqual([
      {
        position: 1,
        roles: ['GROUP_READ_ONLY'],
        autoApprove: true,
        approvals: 1,
        approvers: undefined,
        maxDurationSeconds: 24 * 3600,
        breakGlass: [],
      },
      {
        position: 2,
        roles: ['GROUP_OWNER'],
        autoApprove: false,
        approvals: 2,
        approvers: ['dba'],
        maxDurationSeconds: 3600,
        breakGlass: ['oncall'],
      },
    ]);
    expect(userGroupsIn(policy, target.approvers)).toEqual(['S0DBA']);
    expect(userGroupsIn(policy, ['oncall', 'U0X', 'S0ENG'])).toEqual(['S0ONCALL', 'S0ENG']);
  });

  it('names the line and column of every problem at once', () => {
    const error = errorOf(() =>
      parsePolicy(
        `approvalsChannel: C0APPROVALS
targets:
  - name: payments-prod
    project: 5f1a2b3c4d5e6f7a8b9c0d1
    approvers: [U0BOB, bob]
    roles: [GROUP_READ_ONLY, ORG_MEMBER]
  - name: acme
    org: 5f1a2b3c4d5e6f7a8b9c0d10
    approvers: [U0CAROL]
    roles: [ORG_MEMBER]
    colour: blue
`,
        'policy.yml',
      ),
    );
    expect(error.code).toBe('POLICY_INVALID');
    expect(error.message).toContain('policy.yml:4:14 targets[0].project: project must be a 24-character');
    expect(error.message).toContain(
      'policy.yml:5:24 targets[0].approvers[1]: bob is not a group under groups:',
    );
    expect(error.message).toContain(
      'policy.yml:6:30 targets[0].roles[1]: ORG_MEMBER cannot be granted on a project',
    );
    expect(error.message).toContain('policy.yml:11:5 targets[1]: unknown key colour');
  });

  it('rejects a rule naming a role its target does not offer, and other rule mistakes', () => {
    const reading = readPolicy(`approvalsChannel: C0A
groups:
  dba: [U0BOB]
targets:
  - name: p
    project: 5f1a2b3c4d5e6f7a8b9c0d1e
    approvers: [dba]
    roles: [GROUP_READ_ONLY]
    rules:
      - roles: [GROUP_OWNER]
        approvals: 2
      - roles: [GROUP_READ_ONLY]
        autoApprove: true
        approvals: 3
      - roles: [GROUP_READ_ONLY]
        breakGlass: [oncall]
        maxDuration: soon
`);
    expect(reading.ok).toBe(false);
    const lines = reading.ok ? [] : reading.problems.map((p) => `${p.line}:${p.col} ${p.message}`);
    expect(lines).toEqual(
      expect.arrayContaining([
        "10:17 targets[0].rules[0].roles[0]: GROUP_OWNER is not one of this target's roles or teams; a rule may only name what the target offers",
        '14:20 targets[0].rules[1].approvals: a rule cannot both approve automatically and need several approvals',
        '15:17 targets[0].rules[2].roles[0]: GROUP_READ_ONLY is already governed by rule 2; the first rule naming a role applies, so this one never would',
        '16:22 targets[0].rules[2].breakGlass[0]: oncall is not a group under groups:',
        '17:22 targets[0].rules[2].maxDuration: maxDuration must look like 30m, 4h or 7d',
      ]),
    );
    expect(lines).toHaveLength(5);
  });

  it('rejects a target with both or neither of project and org', () => {
    const error = errorOf(() =>
      parsePolicy(
        'approvalsChannel: C0A\ntargets:\n  - name: x\n    approvers: [U0B]\n    roles: [GROUP_READ_ONLY]\n',
      ),
    );
    expect(error.message).toContain(':3:5 targets[0].project: a target needs exactly one of project or org');
  });

  it('reports YAML syntax errors with their line', () => {
    const reading = readPolicy('approvalsChannel: C0A\ntargets: [\n');
    expect(reading.ok).toBe(false);
    expect(reading.ok ? [] : reading.problems[0]).toMatchObject({ line: expect.any(Number) });
  });

  it('rejects two targets with the same name or id', () => {
    const error = errorOf(() =>
      parsePolicy(`approvalsChannel: C0A
targets:
  - {name: a, project: 5f1a2b3c4d5e6f7a8b9c0d1e, approvers: [U0B], roles: [GROUP_READ_ONLY]}
  - {name: A, project: 5f1a2b3c4d5e6f7a8b9c0d1e, approvers: [U0B], roles: [GROUP_READ_ONLY]}
`),
    );
    expect(error.message).toContain('target name A is used twice');
    expect(error.message).toContain('is already the target at position 1');
  });
});

describe('policy evaluation', () => {
  const policy = parsePolicy(SANDBOX_POLICY);
  const project = defined(findTarget(policy, 'PAYMENTS-PROD'));

  it('finds targets by name or by Atlas id', () => {
    expect(project.kind).toBe('project');
    expect(findTarget(policy, '5f1a2b3c4d5e6f7a8b9c0d10')?.name).toBe('acme');
    expect(findTarget(policy, 'nope')).toBeUndefined();
  });

  it('refuses roles the target does not offer', () => {
    expect(
      errorOf(() => checkRequestAllowed(project, ['GROUP_SEARCH_INDEX_EDITOR'], undefined)).message,
    ).toContain('GROUP_SEARCH_INDEX_EDITOR cannot be requested on payments-prod');
  });

  it('enforces maxDuration and refuses permanent access where it is set', () => {
    const limited = { ...project, maxDurationSeconds: 3600, rules: [] };
    expect(errorOf(() => checkRequestAllowed(limited, ['GROUP_READ_ONLY'], 7200)).message).toContain(
      'at most 1h',
    );
    expect(errorOf(() => checkRequestAllowed(limited, ['GROUP_READ_ONLY'], undefined)).message).toContain(
      'must be temporary',
    );
  });
});

describe('requirementsOf', () => {
  const target: PolicyTarget = {
    name: 'payments-prod',
    kind: 'project',
    id: '5f1a2b3c4d5e6f7a8b9c0d1e',
    approvers: ['dba', 'U0CAROL'],
    roles: ['GROUP_READ_ONLY', 'GROUP_DATA_ACCESS_READ_ONLY', 'GROUP_OWNER', 'GROUP_CLUSTER_MANAGER'],
    maxDurationSeconds: 8 * 3600,
    approvalsChannel: 'C0APPROVALS',
    requesters: undefined,
    onBehalf: undefined,
    reviewEverySeconds: undefined,
    rules: [
      {
        position: 1,
        roles: ['GROUP_READ_ONLY'],
        autoApprove: true,
        approvals: 1,
        approvers: undefined,
        maxDurationSeconds: 24 * 3600,
        breakGlass: [],
      },
      {
        position: 2,
        roles: ['GROUP_OWNER'],
        autoApprove: false,
        approvals: 2,
        approvers: ['dba'],
        maxDurationSeconds: 3600,
        breakGlass: ['oncall'],
      },
      {
        position: 3,
        roles: ['GROUP_OWNER', 'GROUP_CLUSTER_MANAGER'],
        autoApprove: false,
        approvals: 3,
        approvers: ['U0ZED'],
        maxDurationSeconds: 600,
        breakGlass: ['U0ZED'],
      },
    ],
  };
  const H = 3600;

  it.each([
    // roles, autoApprove, approvals, maxDuration (s), approver lists, break-glass lists, rules
    [['GROUP_READ_ONLY'], true, 1, 24 * H, [['dba', 'U0CAROL']], [[]], [1]],
    [['GROUP_DATA_ACCESS_READ_ONLY'], false, 1, 8 * H, [['dba', 'U0CAROL']], [[]], []],
    [['GROUP_OWNER'], false, 2, H, [['dba']], [['oncall']], [2]],
    [['GROUP_CLUSTER_MANAGER'], false, 3, 600, [['U0ZED']], [['U0ZED']], [3]],
    [
      ['GROUP_READ_ONLY', 'GROUP_DATA_ACCESS_READ_ONLY'],
      false,
      1,
      8 * H,
      [
        ['dba', 'U0CAROL'],
        ['dba', 'U0CAROL'],
      ],
      [[], []],
      [1],
    ],
    [
      ['GROUP_READ_ONLY', 'GROUP_OWNER'],
      false,
      2,
      H,
      [['dba', 'U0CAROL'], ['dba']],
      [[], ['oncall']],
      [1, 2],
    ],
    [
      ['GROUP_OWNER', 'GROUP_CLUSTER_MANAGER'],
      false,
      3,
      600,
      [['dba'], ['U0ZED']],
      [['oncall'], ['U0ZED']],
      [2, 3],
    ],
  ] as const)('combines %j', (roles, autoApprove, approvals, max, approverLists, breakGlassLists, rules) => {
    expect(requirementsOf(target, roles)).toEqual({
      autoApprove,
      approvals,
      maxDurationSeconds: max,
      approverLists,
      breakGlassLists,
      rules,
      ticket: { required: false, patterns: [], url: undefined },
    });
  });

  it('lets a rule allow longer than the target, and keeps only the smallest across roles', () => {
    expect(() => checkRequestAllowed(target, ['GROUP_READ_ONLY'], 20 * H)).not.toThrow();
    expect(
      errorOf(() => checkRequestAllowed(target, ['GROUP_READ_ONLY', 'GROUP_OWNER'], 2 * H)).message,
    ).toContain('may last at most 1h');
  });

  it('sees no limit where neither the target nor any rule sets one', () => {
    const open = { ...target, maxDurationSeconds: undefined, rules: [] };
    expect(requirementsOf(open, ['GROUP_OWNER']).maxDurationSeconds).toBeUndefined();
    expect(() => checkRequestAllowed(open, ['GROUP_OWNER'], undefined)).not.toThrow();
  });
});

describe('createMembership', () => {
  const policy = parsePolicy(`approvalsChannel: C0A
groups:
  dba: [U0BOB, S0DBA]
targets:
  - {name: a, org: 5f1a2b3c4d5e6f7a8b9c0d10, approvers: [dba], roles: [ORG_MEMBER]}
`);
  const members = createMembership(policy, new Map([['S0DBA', new Set(['U0ERIN'])]]));

  it('finds people listed directly, through a group name and through a resolved user group', () => {
    expect(members.includes(['dba'], 'U0BOB')).toBe(true);
    expect(members.includes(['dba'], 'U0ERIN')).toBe(true);
    expect(members.includes(['S0DBA'], 'U0ERIN')).toBe(true);
    expect(members.includes(['dba'], 'U0MALLORY')).toBe(false);
  });

  it('fails closed for a user group never resolved', () => {
    expect(members.includes(['S0UNSEEN'], 'U0ERIN')).toBe(false);
  });

  it('tells a person named by their own id from one named through a user group', () => {
    expect(members.namesDirectly(['dba'], 'U0BOB')).toBe(true);
    expect(members.namesDirectly(['dba'], 'U0ERIN')).toBe(false);
  });
});

describe('readPolicy catches what would silently not work', () => {
  const problems = (text: string) => {
    const reading = readPolicy(text);
    return reading.ok ? [] : reading.problems.map((p) => `${p.line}:${p.col} ${p.message}`);
  };
  const TARGET = `approvalsChannel: C0A
targets:
  - name: p
    project: 5f1a2b3c4d5e6f7a8b9c0d1e
    approvers: [U0BOB]
    roles: [GROUP_READ_ONLY, GROUP_OWNER]
`;

  it('rejects a rule for a role an earlier rule already governs', () => {
    expect(
      problems(`${TARGET}    rules:
      - roles: [GROUP_OWNER, GROUP_READ_ONLY]
      - roles: [GROUP_READ_ONLY]
        autoApprove: true
`),
    ).toEqual([
      '9:17 targets[0].rules[1].roles[0]: GROUP_READ_ONLY is already governed by rule 1; the first rule naming a role applies, so this one never would',
    ]);
  });

  it('rejects approvals that the named approvers can never reach, unless a user group may hold more', () => {
    const rule = (approvers: string) => `${TARGET}    rules:
      - roles: [GROUP_OWNER]
        approvals: 2
        approvers: ${approvers}
`;
    expect(problems(rule('[U0BOB]'))).toEqual([
      '9:20 targets[0].rules[0].approvals: approvals: 2 can never be reached: only 1 approver(s) are named',
    ]);
    expect(problems(rule('[U0BOB, U0CAROL]'))).toEqual([]);
    expect(problems(rule('[U0BOB, S0DBA]'))).toEqual([]);
  });

  it('rejects break-glass without a maxDuration on the rule or the target', () => {
    const glass = `${TARGET}    rules:
      - roles: [GROUP_OWNER]
        breakGlass: [U0DANA]
`;
    expect(problems(glass)).toEqual([
      '9:21 targets[0].rules[0].breakGlass: break-glass access is always temporary: give the rule (or the target) a maxDuration',
    ]);
    expect(problems(`${glass}        maxDuration: 1h\n`)).toEqual([]);
  });

  it('points at each unknown key itself, in rules too', () => {
    expect(
      problems(`${TARGET}    requestors: [U0ALICE]
    rules:
      - roles: [GROUP_OWNER]
        aprovals: 2
aprovalsChannel: C0B
`),
    ).toEqual([
      '7:5 targets[0]: unknown key requestors',
      '10:9 targets[0].rules[0]: unknown key aprovals',
      '11:1 unknown key aprovalsChannel',
    ]);
  });

  it('says to quote an id that YAML reads as a number', () => {
    expect(
      problems(TARGET.replace('project: 5f1a2b3c4d5e6f7a8b9c0d1e', 'project: 512345678901234567890123')),
    ).toEqual([
      "4:14 targets[0].project: project must be text: put the id in quotes ('…') if YAML reads it as a number",
    ]);
  });

  it('says an empty list needs someone, not that it is missing', () => {
    expect(problems(TARGET.replace('approvers: [U0BOB]', 'approvers: [U0BOB]\n    requesters: []'))).toEqual([
      '6:17 targets[0].requesters: requesters needs at least one user, user group or group name',
    ]);
  });

  it('reports a bad alias or an alias bomb as a problem with its place, never an exception', () => {
    expect(problems('approvalsChannel: *nope\ntargets: []\n')).toEqual([
      '1:19 Unresolved alias (the anchor must be set before the alias): nope',
    ]);
    const bomb = [
      'a: &a [x, x, x, x, x, x, x, x, x, x]',
      'b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]',
      'c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]',
      'd: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]',
      'approvalsChannel: C0A',
      'targets: []',
    ].join('\n');
    expect(problems(bomb)).toEqual(['2:8 Excessive alias count indicates a resource exhaustion attack']);
  });
});
