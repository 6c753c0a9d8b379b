import { describe, expect, it } from 'vitest';
import { SANDBOX_POLICY } from '../../src/dev/sandbox.js';
import { AppError } from '../../src/errors.js';
import { parsePolicy } from '../../src/policy/load-policy.js';
import { checkDecider, checkRequestAllowed, findTarget } from '../../src/policy/policy.js';
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
  it('reads targets with their scope, approvers, roles and limits', () => {
    const policy = parsePolicy(`approvalsChannel: C0APPROVALS
targets:
  - name: payments-prod
    project: 5f1a2b3c4d5e6f7a8b9c0d1e
    approvers: [U0BOB]
    roles: [GROUP_READ_ONLY]
    maxDuration: 8h
`);
    expect(policy).toEqual({
      approvalsChannel: 'C0APPROVALS',
      targets: [
        {
          name: 'payments-prod',
          kind: 'project',
          id: '5f1a2b3c4d5e6f7a8b9c0d1e',
          approvers: ['U0BOB'],
          roles: ['GROUP_READ_ONLY'],
          maxDurationSeconds: 8 * 3600,
        },
      ],
    });
  });

  it('names the line of every problem at once', () => {
    const error = errorOf(() =>
      parsePolicy(`approvalsChannel: C0APPROVALS
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
`),
    );
    expect(error.code).toBe('POLICY_INVALID');
    expect(error.message).toContain('policy.yml line 4 (targets[0].project): project must be a 24-character');
    expect(error.message).toContain(
      'policy.yml line 5 (targets[0].approvers[1]): approvers must be Slack user ids',
    );
    expect(error.message).toContain(
      'policy.yml line 6 (targets[0].roles[1]): ORG_MEMBER cannot be granted on a project',
    );
    expect(error.message).toContain('(targets[1]): unknown key(s): colour');
  });

  it('rejects a target with both or neither of project and org', () => {
    const error = errorOf(() =>
      parsePolicy(
        'approvalsChannel: C0A\ntargets:\n  - name: x\n    approvers: [U0B]\n    roles: [GROUP_READ_ONLY]\n',
      ),
    );
    expect(error.message).toContain(
      'line 3 (targets[0].project): a target needs exactly one of project or org',
    );
  });

  it('reports YAML syntax errors with their line', () => {
    expect(errorOf(() => parsePolicy('approvalsChannel: C0A\ntargets: [\n')).message).toMatch(
      /not valid YAML:\n {2}- policy.yml line \d/,
    );
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
    expect(errorOf(() => checkRequestAllowed(project, ['GROUP_OWNER'], undefined)).message).toContain(
      'GROUP_OWNER cannot be requested on payments-prod',
    );
  });

  it('lets only named approvers decide, and never on their own request', () => {
    const parties = { requesterId: 'U0ALICE', granteeId: 'U0ALICE' };
    expect(() => checkDecider(project, 'U0BOB', parties)).not.toThrow();
    expect(errorOf(() => checkDecider(project, 'U0MALLORY', parties)).code).toBe('NOT_AN_APPROVER');
    expect(
      errorOf(() => checkDecider(project, 'U0BOB', { requesterId: 'U0BOB', granteeId: 'U0BOB' })).code,
    ).toBe('SELF_APPROVAL');
    expect(
      errorOf(() => checkDecider(project, 'U0BOB', { requesterId: 'U0ALICE', granteeId: 'U0BOB' })).code,
    ).toBe('SELF_APPROVAL');
  });

  it('enforces maxDuration and refuses permanent access where it is set', () => {
    const limited = { ...project, maxDurationSeconds: 3600 };
    expect(errorOf(() => checkRequestAllowed(limited, ['GROUP_READ_ONLY'], 7200)).message).toContain(
      'at most 1h',
    );
    expect(errorOf(() => checkRequestAllowed(limited, ['GROUP_READ_ONLY'], undefined)).message).toContain(
      'must be temporary',
    );
  });
});
