import { describe, expect, it } from 'vitest';
import type { Policy } from '../../src/policy/policy.js';
import { type Action, type Actor, authorize, type Standing } from '../../src/requests/authorize.js';
import type { AccessRequest, RequestState } from '../../src/requests/model.js';

const PROJECT = '5f1a2b3c4d5e6f7a8b9c0d1e';
const ORG = '5f1a2b3c4d5e6f7a8b9c0d10';

const POLICY: Policy = {
  approvalsChannel: 'C0APPROVALS',
  targets: [
    {
      name: 'payments-prod',
      kind: 'project',
      id: PROJECT,
      approvers: ['U0BOB', 'U0CAROL'],
      roles: ['GROUP_READ_ONLY', 'GROUP_DATA_ACCESS_READ_ONLY'],
      maxDurationSeconds: 8 * 3600,
    },
    {
      name: 'acme',
      kind: 'org',
      id: ORG,
      approvers: ['U0DAVE'],
      roles: ['ORG_READ_ONLY'],
      maxDurationSeconds: undefined,
    },
  ],
};

const member = (id: string): Actor => ({ id, standing: 'member' });
const as = (id: string, standing: Standing): Actor => ({ id, standing });

/** The cast: alice asked (on behalf of erin, when an approver still could); bob approves payments-prod. */
const ACTORS = {
  requester: member('U0ALICE'),
  grantee: member('U0ERIN'),
  approver: member('U0BOB'),
  otherApprover: member('U0DAVE'),
  stranger: member('U0MALLORY'),
  guest: as('U0GUEST', 'guest'),
  deactivated: as('U0GONE', 'deactivated'),
  external: as('U0EXT', 'external'),
} as const;
type Who = keyof typeof ACTORS;

function request(state: RequestState, overrides: Partial<AccessRequest> = {}): AccessRequest {
  return {
    id: 'AR-0042',
    state,
    requesterId: 'U0ALICE',
    granteeId: 'U0ERIN',
    granteeEmail: 'erin@example.com',
    target: { name: 'payments-prod', kind: 'project', id: PROJECT },
    roles: ['GROUP_DATA_ACCESS_READ_ONLY'],
    durationSeconds: 3600,
    reason: 'incident',
    createdAt: 1,
    updatedAt: 1,
    sourceChannelId: null,
    replyUrl: null,
    rolesAtRequest: ['GROUP_READ_ONLY'],
    holdersAtRequest: [],
    addsToProject: false,
    extends: null,
    approvalMessage: null,
    decision: null,
    plan: null,
    grant:
      state === 'applied'
        ? {
            rolesAfter: [],
            appliedAt: 1,
            revokeAt: 2,
            held: ['GROUP_DATA_ACCESS_READ_ONLY'],
            joined: [],
            outside: [],
            addedToProject: false,
          }
        : null,
    extensions: [],
    extension: null,
    endedEarly: null,
    revokePlan: null,
    revocation: null,
    revokeTrouble: null,
    drift: [],
    failure: null,
    attempt: 1,
    ...overrides,
  };
}

/** Who may do what: every action against every actor. `x` = refused, with the code expected. */
const TABLE: Record<
  Exclude<Action, 'request' | 'list'>,
  { state: RequestState; allowed: Who[]; code: string }
> = {
  approve: { state: 'pending', allowed: ['approver'], code: 'NOT_AN_APPROVER' },
  deny: { state: 'pending', allowed: ['approver'], code: 'NOT_AN_APPROVER' },
  retry: { state: 'failed', allowed: ['approver'], code: 'NOT_AN_APPROVER' },
  cancel: { state: 'pending', allowed: ['requester', 'grantee'], code: 'NOT_ALLOWED' },
  end: { state: 'applied', allowed: ['grantee', 'approver'], code: 'NOT_ALLOWED' },
  extend: { state: 'applied', allowed: ['requester', 'grantee'], code: 'NOT_ALLOWED' },
  status: { state: 'applied', allowed: ['requester', 'grantee', 'approver'], code: 'NOT_ALLOWED' },
  'view-roles': { state: 'pending', allowed: ['grantee', 'approver'], code: 'NOT_ALLOWED' },
};

const ROWS = Object.entries(TABLE).flatMap(([action, row]) =>
  (Object.keys(ACTORS) as Who[]).map((who) => ({ action: action as Action, who, ...row })),
);

describe('authorize', () => {
  it.each(ROWS)('$action by the $who', ({ action, who, state, allowed, code }) => {
    const decision = authorize(
      action,
      ACTORS[who],
      { request: request(state), extendBySeconds: 600 },
      POLICY,
    );
    if (allowed.includes(who)) {
      expect(decision).toMatchObject({ allowed: true });
      return;
    }
    expect(decision.allowed).toBe(false);
    const expected = ['guest', 'deactivated', 'external'].includes(who)
      ? 'NOT_ALLOWED'
      : (who === 'requester' || who === 'grantee') && ['approve', 'deny', 'retry'].includes(action)
        ? 'SELF_APPROVAL'
        : code;
    expect(decision.allowed ? '' : decision.code).toBe(expected);
  });

  it.each(Object.keys(ACTORS) as Who[])('lets the %s list only as a full member', (who) => {
    expect(authorize('list', ACTORS[who], null, POLICY).allowed).toBe(ACTORS[who].standing === 'member');
  });

  it.each(Object.keys(ACTORS) as Who[])('lets the %s ask for themselves only as a full member', (who) => {
    const draft = {
      roles: ['GROUP_READ_ONLY'],
      scope: 'project' as const,
      target: 'payments-prod',
      durationSeconds: 3600,
      reason: 'x',
    };
    const decision = authorize('request', ACTORS[who], { draft, grantee: ACTORS[who] }, POLICY);
    expect(decision.allowed).toBe(ACTORS[who].standing === 'member');
  });

  it.each(Object.keys(ACTORS) as Who[])(
    'lets the %s ask on behalf of someone else only as an approver of the target',
    (who) => {
      const draft = {
        roles: ['GROUP_READ_ONLY'],
        scope: 'project' as const,
        target: 'payments-prod',
        durationSeconds: 3600,
        reason: 'x',
      };
      const grantee = who === 'grantee' ? ACTORS.requester : ACTORS.grantee;
      const decision = authorize('request', ACTORS[who], { draft, grantee }, POLICY);
      expect(decision.allowed).toBe(who === 'approver');
    },
  );

  it('refuses access for a grantee who is a guest, deactivated or external, even asked by an approver', () => {
    const draft = {
      roles: ['GROUP_READ_ONLY'],
      scope: 'project' as const,
      target: 'payments-prod',
      durationSeconds: 3600,
      reason: 'x',
    };
    for (const grantee of [
      ACTORS.guest,
      ACTORS.deactivated,
      ACTORS.external,
      as('U0BOT', 'bot'),
      as('U0X', 'unknown'),
    ]) {
      const decision = authorize('request', ACTORS.approver, { draft, grantee }, POLICY);
      expect(decision).toMatchObject({ allowed: false, code: 'NOT_ALLOWED' });
      expect(decision.allowed ? '' : decision.reason).toMatch(
        /^The person you asked for can’t be given access/,
      );
    }
  });

  it('checks a draft against the policy: target, scope, roles, duration', () => {
    const base = {
      roles: ['GROUP_READ_ONLY'],
      scope: 'project' as const,
      target: 'payments-prod',
      durationSeconds: 3600,
      reason: 'x',
    };
    const me = ACTORS.stranger;
    const check = (
      draft: typeof base | (Omit<typeof base, 'durationSeconds'> & { durationSeconds: undefined }),
    ) => authorize('request', me, { draft, grantee: me }, POLICY);
    expect(check({ ...base, target: 'staging' })).toMatchObject({ allowed: false, code: 'TARGET_UNKNOWN' });
    expect(check({ ...base, target: 'acme' })).toMatchObject({ allowed: false, code: 'ROLE_INVALID' });
    expect(check({ ...base, roles: ['GROUP_OWNER'] })).toMatchObject({
      allowed: false,
      code: 'ROLE_NOT_ALLOWED',
    });
    expect(check({ ...base, durationSeconds: 9 * 3600 })).toMatchObject({
      allowed: false,
      code: 'DURATION_INVALID',
    });
    expect(check({ ...base, durationSeconds: undefined })).toMatchObject({
      allowed: false,
      code: 'DURATION_INVALID',
    });
    expect(check(base)).toMatchObject({ allowed: true, target: { name: 'payments-prod' } });
  });

  it('re-checks approvals and retries against the policy in force now', () => {
    const without = (change: Partial<Policy['targets'][number]>): Policy => ({
      ...POLICY,
      targets: POLICY.targets.map((t) => (t.kind === 'project' ? { ...t, ...change } : t)),
    });
    const pending = { request: request('pending') };
    const failed = { request: request('failed') };
    const revokeFailed = { request: request('revoke_failed') };
    const noRole = without({ roles: ['GROUP_READ_ONLY'] });
    expect(authorize('approve', ACTORS.approver, pending, noRole)).toMatchObject({
      allowed: false,
      code: 'ROLE_NOT_ALLOWED',
    });
    expect(authorize('retry', ACTORS.approver, failed, noRole)).toMatchObject({
      allowed: false,
      code: 'ROLE_NOT_ALLOWED',
    });
    expect(authorize('retry', ACTORS.approver, revokeFailed, noRole)).toMatchObject({ allowed: true });
    expect(authorize('deny', ACTORS.approver, pending, noRole)).toMatchObject({ allowed: true });
    const shorter = without({ maxDurationSeconds: 1800 });
    expect(authorize('approve', ACTORS.approver, pending, shorter)).toMatchObject({
      allowed: false,
      code: 'DURATION_INVALID',
    });
    expect(
      authorize('extend', ACTORS.grantee, { request: request('applied'), extendBySeconds: 3600 }, shorter),
    ).toMatchObject({
      allowed: false,
      code: 'DURATION_INVALID',
    });
    const bobRemoved = without({ approvers: ['U0CAROL'] });
    expect(authorize('approve', ACTORS.approver, pending, bobRemoved)).toMatchObject({
      allowed: false,
      code: 'NOT_AN_APPROVER',
    });
    expect(authorize('approve', member('U0CAROL'), pending, bobRemoved)).toMatchObject({ allowed: true });
    const gone: Policy = { ...POLICY, targets: POLICY.targets.filter((t) => t.kind === 'org') };
    expect(authorize('approve', ACTORS.approver, pending, gone)).toMatchObject({
      allowed: false,
      code: 'TARGET_UNKNOWN',
    });
    expect(authorize('status', ACTORS.requester, pending, gone)).toMatchObject({ allowed: true });
  });
});
