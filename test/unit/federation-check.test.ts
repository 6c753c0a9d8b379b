import { describe, expect, it } from 'vitest';
import { checkFederatedGrant, describeSsoRemoval } from '../../src/access/federation-check.js';
import { type AppError, isAppError } from '../../src/errors.js';
import type { OrgRoleMappings } from '../../src/lib/role-mappings.js';
import type { AtlasScope } from '../../src/lib/scope.js';

const ORG_ID = '5f1a2b3c4d5e6f7a8b9c0d10';
const PROJECT_ID = '5f1a2b3c4d5e6f7a8b9c0d1e';
const ORG: AtlasScope = { kind: 'org', id: ORG_ID };
const PROJECT: AtlasScope = { kind: 'project', id: PROJECT_ID };

const MAPPINGS: OrgRoleMappings = {
  orgId: ORG_ID,
  identityProviderId: 'c2777a9eca931f29fc2f',
  mappings: [
    {
      externalGroupName: 'payments-writers',
      assignments: [
        { scope: ORG, role: 'ORG_MEMBER' },
        { scope: PROJECT, role: 'GROUP_DATA_ACCESS_READ_WRITE' },
      ],
    },
    {
      externalGroupName: 'dba',
      assignments: [
        { scope: ORG, role: 'ORG_MEMBER' },
        { scope: PROJECT, role: 'GROUP_DATA_ACCESS_READ_WRITE' },
        { scope: PROJECT, role: 'GROUP_OWNER' },
      ],
    },
    // The same role on another project of the organization says nothing about this one.
    {
      externalGroupName: 'analytics-readers',
      assignments: [{ scope: { kind: 'project', id: '5f1a2b3c4d5e6f7a8b9c0d1f' }, role: 'GROUP_READ_ONLY' }],
    },
  ],
};

const ask = (roles: readonly string[], scope: AtlasScope = PROJECT) => ({
  scope,
  targetName: scope.kind === 'org' ? 'acme' : 'payments-prod',
  orgName: 'acme',
  roles,
  granteeEmail: 'alice@example.com',
});

/** The refusal `checkFederatedGrant` throws; fails the test when it does not. */
function refusal(run: () => void): AppError {
  try {
    run();
  } catch (error) {
    if (isAppError(error)) return error;
    throw error;
  }
  throw new Error('expected a refusal');
}

describe('checkFederatedGrant', () => {
  it('allows anything when the organization has no role mappings in force', () => {
    expect(checkFederatedGrant(null, ask(['GROUP_OWNER']), {})).toBeUndefined();
  });

  it("never refuses team: and db: items, which are not one person's roles", () => {
    expect(
      checkFederatedGrant(MAPPINGS, ask(['team:payments-oncall', 'db:payments-ro']), {}),
    ).toBeUndefined();
  });

  it('refuses a per-person project role and says why, in words a requester can act on', () => {
    const error = refusal(() => checkFederatedGrant(MAPPINGS, ask(['GROUP_READ_ONLY']), {}));
    expect(error.code).toBe('FEDERATED_ROLES');
    expect(error.retryable).toBe(false);
    expect(error.message).toBe(
      "The organization acme maps identity-provider (IdP) groups to Atlas roles, so Atlas does not let anyone change one person's roles there: " +
        'GROUP_READ_ONLY on the project payments-prod would not stick for alice@example.com, and Atlas would take it back at their next SSO login. ' +
        'Ask an organization owner of acme to add GROUP_READ_ONLY on the project payments-prod to the role mappings.',
    );
    expect(error.details).toEqual({
      orgId: ORG_ID,
      scope: `project:${PROJECT_ID}`,
      roles: 'GROUP_READ_ONLY',
    });
  });

  it('refuses an organization role the same way', () => {
    const error = refusal(() => checkFederatedGrant(MAPPINGS, ask(['ORG_READ_ONLY'], ORG), {}));
    expect(error.code).toBe('FEDERATED_ROLES');
    expect(error.message).toContain('ORG_READ_ONLY on the organization acme would not stick');
  });

  it('refuses when any item is a per-person role, naming only those', () => {
    const error = refusal(() =>
      checkFederatedGrant(MAPPINGS, ask(['team:payments-oncall', 'GROUP_OWNER', 'db:payments-ro']), {}),
    );
    expect(error.details.roles).toBe('GROUP_OWNER');
    expect(error.message).not.toContain('team:payments-oncall would');
    expect(error.message).toContain('take it back');
  });

  it('suggests the team the policy routes the target to', () => {
    const error = refusal(() =>
      checkFederatedGrant(MAPPINGS, ask(['GROUP_READ_ONLY']), { team: 'payments-oncall' }),
    );
    expect(error.message).toMatch(/at their next SSO login\. Ask for team:payments-oncall instead\.$/);
    expect(error.message).not.toContain('organization owner');
  });

  it('suggests the IdP groups whose mapping gives that role on that scope', () => {
    const error = refusal(() => checkFederatedGrant(MAPPINGS, ask(['GROUP_DATA_ACCESS_READ_WRITE']), {}));
    expect(error.message).toMatch(
      /To get GROUP_DATA_ACCESS_READ_WRITE on the project payments-prod, ask to join the IdP groups dba and payments-writers \(their mappings give that role there\)\.$/,
    );
    const one = refusal(() => checkFederatedGrant(MAPPINGS, ask(['GROUP_OWNER']), {}));
    expect(one.message).toContain('ask to join the IdP group dba (its mapping gives that role there)');
  });

  it("names the team, each mapped role's groups, and the owner for roles no mapping gives, as one sentence", () => {
    const both = refusal(() =>
      checkFederatedGrant(MAPPINGS, ask(['GROUP_OWNER', 'GROUP_READ_ONLY']), { team: 'payments-oncall' }),
    );
    expect(both.message).toContain('GROUP_OWNER and GROUP_READ_ONLY on the project payments-prod');
    expect(both.message).toContain('take them back');
    expect(both.message).toMatch(
      /Ask for team:payments-oncall instead; or to get GROUP_OWNER on the project payments-prod, ask to join the IdP group dba \(its mapping gives that role there\)\.$/,
    );
    const noTeam = refusal(() => checkFederatedGrant(MAPPINGS, ask(['GROUP_OWNER', 'GROUP_READ_ONLY']), {}));
    expect(noTeam.message).toMatch(
      /; or ask an organization owner of acme to add GROUP_READ_ONLY on the project payments-prod to the role mappings\.$/,
    );
  });

  it('stops when handed the mappings of another organization than the one asked on', () => {
    const error = refusal(() =>
      checkFederatedGrant(
        MAPPINGS,
        ask(['ORG_READ_ONLY'], { kind: 'org', id: '5f1a2b3c4d5e6f7a8b9c0d11' }),
        {},
      ),
    );
    expect(error.code).toBe('INTERNAL');
  });
});

describe('describeSsoRemoval', () => {
  it("gives the thread's wording, with when (UTC)", () => {
    expect(describeSsoRemoval('GROUP_DATA_ACCESS_READ_WRITE', Date.UTC(2026, 4, 1, 14, 3, 27))).toBe(
      "GROUP_DATA_ACCESS_READ_WRITE was removed by Atlas at SSO login (2026-05-01 14:03 UTC): the organization maps identity-provider groups to roles, and Atlas sets a person's roles to what the mappings give each time they sign in.",
    );
  });
});
