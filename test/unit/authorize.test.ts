import { describe, expect, it } from 'vitest';
import type { Action, Actor, Standing } from '../../src/access/actions.js';
import { authorize } from '../../src/access/authorize.js';
import { checkRequestLine } from '../../src/access/request-line.js';
import {
  createMembership,
  type Membership,
  type Policy,
  type PolicyTarget,
} from '../../src/policy/policy.js';
import type { AccessRequest, RequestState } from '../../src/requests/model.js';
import { accessRequest } from '../support/request-fixture.js';

const PROJECT = '5f1a2b3c4d5e6f7a8b9c0d1e';
const ORG = '5f1a2b3c4d5e6f7a8b9c0d10';

const NO_RULES = {
  approvalsChannel: 'C0APPROVALS',
  requesters: undefined,
  onBehalf: undefined,
  rules: [],
  reviewEverySeconds: undefined,
};

const POLICY: Policy = {
  approvalsChannel: 'C0APPROVALS',
  groups: {},
  version: 'v1',
  offboarders: [],
  offboardApprovers: undefined,
  targets: [
    {
      name: 'payments-prod',
      kind: 'project',
      id: PROJECT,
      approvers: ['U0BOB', 'U0CAROL'],
      roles: ['GROUP_READ_ONLY', 'GROUP_DATA_ACCESS_READ_ONLY'],
      maxDurationSeconds: 8 * 3600,
      ...NO_RULES,
    },
    {
      name: 'acme',
      kind: 'org',
      id: ORG,
      approvers: ['U0DAVE'],
      roles: ['ORG_READ_ONLY'],
      maxDurationSeconds: undefined,
      ...NO_RULES,
    },
  ],
};

/** No Slack user groups resolved: the table's policy names users only. */
const NOBODY: Membership = createMembership(POLICY, new Map());

const member = (id: string): Actor => ({ id, standing: 'member' });
const as = (id: string, standing: Standing): Actor => ({ id, standing });

/**
 * The cast: alice asked (on behalf of erin, when an approver still could); bob approves payments-prod.
 * The identity paths that must fail closed carry the id of someone who may act (bob, alice), so only
 * their standing can refuse them: a bot or app user, a users.info that failed, a user Slack does not know.
 */
const ACTORS = {
  requester: member('U0ALICE'),
  grantee: member('U0ERIN'),
  approver: member('U0BOB'),
  otherApprover: member('U0DAVE'),
  stranger: member('U0MALLORY'),
  guest: as('U0GUEST', 'guest'),
  deactivated: as('U0GONE', 'deactivated'),
  external: as('U0EXT', 'external'),
  'approver id on a bot': as('U0BOB', 'bot'),
  'approver whose users.info failed': as('U0BOB', 'unknown'),
  'approver id Slack does not know': as('U0BOB', 'missing'),
  'requester whose users.info failed': as('U0ALICE', 'unknown'),
  'grantee id on a bot': as('U0ERIN', 'bot'),
} as const;
type Who = keyof typeof ACTORS;

function request(state: RequestState, overrides: Partial<AccessRequest> = {}): AccessRequest {
  return accessRequest({
    id: 'AR-0042',
    state,
    requesterId: 'U0ALICE',
    granteeId: 'U0ERIN',
    granteeEmail: 'erin@example.com',
    target: { name: 'payments-prod', kind: 'project', id: PROJECT },
    roles: ['GROUP_DATA_ACCESS_READ_ONLY'],
    rolesAtRequest: ['GROUP_READ_ONLY'],
    approversAtRequest: ['U0BOB', 'U0CAROL'],
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
    ...overrides,
  });
}

/** Who may do what: every action against every actor. `x` = refused, with the code expected. */
const TABLE: Record<
  Exclude<
    Action,
    'request' | 'list' | 'break-glass' | 'review' | 'review-decide' | 'offboard' | 'offboard-decide'
  >,
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
  'view-details': { state: 'failed', allowed: ['approver'], code: 'NOT_ALLOWED' },
  acknowledge: { state: 'applied', allowed: ['approver'], code: 'NOT_AN_APPROVER' },
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
      NOBODY,
    );
    if (allowed.includes(who)) {
      expect(decision).toMatchObject({ allowed: true });
      return;
    }
    expect(decision.allowed).toBe(false);
    const expected =
      ACTORS[who].standing !== 'member'
        ? 'NOT_ALLOWED'
        : (who === 'requester' || who === 'grantee') && ['approve', 'deny', 'retry'].includes(action)
          ? 'SELF_APPROVAL'
          : action === 'acknowledge' && (who === 'requester' || who === 'grantee')
            ? 'NOT_AN_APPROVER'
            : code;
    expect(decision.allowed ? '' : decision.code).toBe(expected);
  });

  it.each(Object.keys(ACTORS) as Who[])(
    'lets the %s list their requests only as a member or a guest',
    (who) => {
      expect(authorize('list', ACTORS[who], null, POLICY, NOBODY).allowed).toBe(
        ['member', 'guest'].includes(ACTORS[who].standing),
      );
    },
  );

  it.each(Object.keys(ACTORS) as Who[])('lets the %s ask for themselves only as a full member', (who) => {
    const draft = {
      roles: ['GROUP_READ_ONLY'],
      scope: 'project' as const,
      target: 'payments-prod',
      durationSeconds: 3600,
      reason: 'x',
    };
    const decision = authorize('request', ACTORS[who], { draft, grantee: ACTORS[who] }, POLICY, NOBODY);
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
      const decision = authorize('request', ACTORS[who], { draft, grantee }, POLICY, NOBODY);
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
      as('U0NONE', 'missing'),
      // Someone who may ask there, but whose users.info failed or who is now seen as a bot.
      as('U0ERIN', 'unknown'),
      as('U0ERIN', 'bot'),
    ]) {
      const decision = authorize('request', ACTORS.approver, { draft, grantee }, POLICY, NOBODY);
      expect(decision).toMatchObject({ allowed: false, code: 'NOT_ALLOWED' });
      expect(decision.allowed ? '' : decision.reason).toMatch(
        /^The person you asked for can’t be given access/,
      );
    }
  });

  it.each([
    ['bot', 'is a bot or an app, not a person'],
    ['unknown', 'could not be looked up in Slack just now; try again in a minute'],
    ['missing', 'does not exist in this Slack workspace'],
  ] as const)(
    'fails closed on an approver whose standing is %s, whatever they try, and says why',
    (standing, words) => {
      const bob = as('U0BOB', standing);
      const subjects = {
        request: { request: request('pending') },
        'break-glass': {
          draft: {
            roles: ['GROUP_READ_ONLY'],
            scope: 'project' as const,
            target: 'payments-prod',
            durationSeconds: 3600,
            reason: 'x',
          },
          grantee: bob,
        },
        review: { review: { name: 'payments-prod', kind: 'project' as const, id: PROJECT } },
        offboard: { offboarding: { requesterId: null, own: false } },
      };
      const tries: [Action, Parameters<typeof authorize>[2]][] = [
        ['approve', subjects.request],
        ['deny', subjects.request],
        ['status', subjects.request],
        ['list', null],
        ['request', { ...subjects['break-glass'] }],
        ['break-glass', subjects['break-glass']],
        ['review', subjects.review],
        ['review-decide', { ...subjects.review, role: 'GROUP_READ_ONLY', own: false }],
        ['offboard', subjects.offboard],
        ['offboard-decide', subjects.offboard],
      ];
      for (const [action, subject] of tries) {
        expect(authorize(action, bob, subject, POLICY, NOBODY), action).toEqual({
          allowed: false,
          code: 'NOT_ALLOWED',
          reason: `Your Slack account ${words}.`,
        });
      }
    },
  );

  it.each(['bot', 'unknown', 'missing'] as const)(
    'refuses to approve or retry for a grantee whose standing is now %s',
    (standing) => {
      const grantee = as('U0ERIN', standing);
      for (const [action, state] of [
        ['approve', 'pending'],
        ['retry', 'failed'],
      ] as const) {
        const decision = authorize(
          action,
          ACTORS.approver,
          { request: request(state), grantee },
          POLICY,
          NOBODY,
        );
        expect(decision).toMatchObject({ allowed: false, code: 'NOT_ALLOWED' });
        expect(decision.allowed ? '' : decision.reason).toMatch(
          /^AR-0042 can’t be granted: the Slack account of the person it is for /,
        );
      }
      // The same grantee as a member: allowed, so the refusal above is the standing's.
      expect(
        authorize(
          'approve',
          ACTORS.approver,
          { request: request('pending'), grantee: member('U0ERIN') },
          POLICY,
          NOBODY,
        ),
      ).toMatchObject({ allowed: true });
    },
  );

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
    ) => authorize('request', me, { draft, grantee: me }, POLICY, NOBODY);
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

  it('refuses a request line in the same words for the request form as authorize does for a request', () => {
    const base = {
      roles: ['GROUP_READ_ONLY'],
      scope: 'project' as const,
      target: 'payments-prod',
      durationSeconds: 3600,
      reason: 'x',
    };
    const me = ACTORS.stranger;
    const lines = [
      { ...base, target: 'staging' },
      { ...base, target: 'acme' },
      { ...base, target: 'acme', scope: 'org' as const, roles: ['ORG_OWNER'] },
      { ...base, roles: ['GROUP_OWNER'] },
      { ...base, durationSeconds: 9 * 3600 },
    ];
    const refusals = lines.map((line) => checkRequestLine(POLICY, line));
    expect(refusals).toEqual(
      lines.map((draft) => authorize('request', me, { draft, grantee: me }, POLICY, NOBODY)),
    );
    expect(refusals.slice(0, 2)).toEqual([
      {
        allowed: false,
        code: 'TARGET_UNKNOWN',
        reason: 'There is no target called staging. Known targets: payments-prod, acme.',
      },
      {
        allowed: false,
        code: 'ROLE_INVALID',
        reason: 'acme is an organization: ask for organization roles (ORG_...).',
      },
    ]);
    expect(refusals.slice(2).map((r) => (r.allowed ? '' : r.code))).toEqual([
      'ROLE_NOT_ALLOWED',
      'ROLE_NOT_ALLOWED',
      'DURATION_INVALID',
    ]);
    expect(checkRequestLine(POLICY, base)).toEqual({ allowed: true, target: POLICY.targets[0] });
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
    expect(authorize('approve', ACTORS.approver, pending, noRole, NOBODY)).toMatchObject({
      allowed: false,
      code: 'ROLE_NOT_ALLOWED',
    });
    expect(authorize('retry', ACTORS.approver, failed, noRole, NOBODY)).toMatchObject({
      allowed: false,
      code: 'ROLE_NOT_ALLOWED',
    });
    expect(authorize('retry', ACTORS.approver, revokeFailed, noRole, NOBODY)).toMatchObject({
      allowed: true,
    });
    expect(authorize('deny', ACTORS.approver, pending, noRole, NOBODY)).toMatchObject({ allowed: true });
    const shorter = without({ maxDurationSeconds: 1800 });
    expect(authorize('approve', ACTORS.approver, pending, shorter, NOBODY)).toMatchObject({
      allowed: false,
      code: 'DURATION_INVALID',
    });
    expect(
      authorize(
        'extend',
        ACTORS.grantee,
        { request: request('applied'), extendBySeconds: 3600 },
        shorter,
        NOBODY,
      ),
    ).toMatchObject({
      allowed: false,
      code: 'DURATION_INVALID',
    });
    const bobRemoved = without({ approvers: ['U0CAROL'] });
    expect(authorize('approve', ACTORS.approver, pending, bobRemoved, NOBODY)).toMatchObject({
      allowed: false,
      code: 'NOT_AN_APPROVER',
    });
    expect(authorize('approve', member('U0CAROL'), pending, bobRemoved, NOBODY)).toMatchObject({
      allowed: true,
    });
    const gone: Policy = { ...POLICY, targets: POLICY.targets.filter((t) => t.kind === 'org') };
    expect(authorize('approve', ACTORS.approver, pending, gone, NOBODY)).toMatchObject({
      allowed: false,
      code: 'TARGET_UNKNOWN',
    });
    expect(authorize('status', ACTORS.requester, pending, gone, NOBODY)).toMatchObject({ allowed: true });
  });

  it('still lets the approvers it had deny, end and retry a revocation when its target leaves the policy', () => {
    const gone: Policy = { ...POLICY, targets: POLICY.targets.filter((t) => t.kind === 'org') };
    const pending = { request: request('pending') };
    expect(authorize('deny', ACTORS.approver, pending, gone, NOBODY)).toMatchObject({
      allowed: true,
      target: null,
    });
    expect(authorize('end', ACTORS.approver, { request: request('applied') }, gone, NOBODY)).toMatchObject({
      allowed: true,
    });
    expect(
      authorize('retry', ACTORS.approver, { request: request('revoke_failed') }, gone, NOBODY),
    ).toMatchObject({
      allowed: true,
    });
    expect(authorize('approve', ACTORS.approver, pending, gone, NOBODY)).toMatchObject({
      allowed: false,
      code: 'TARGET_UNKNOWN',
    });
    expect(authorize('deny', ACTORS.stranger, pending, gone, NOBODY)).toMatchObject({
      allowed: false,
      code: 'NOT_AN_APPROVER',
    });
  });
});

describe('authorize under policy v2', () => {
  const H = 3600;
  const PROD: PolicyTarget = {
    name: 'payments-prod',
    kind: 'project',
    id: PROJECT,
    approvers: ['dba', 'U0CAROL'],
    roles: ['GROUP_READ_ONLY', 'GROUP_DATA_ACCESS_READ_ONLY', 'GROUP_OWNER'],
    maxDurationSeconds: 8 * H,
    approvalsChannel: 'C0PAYMENTS',
    requesters: ['S0ENG', 'U0GUEST'],
    onBehalf: ['leads'],
    reviewEverySeconds: undefined,
    rules: [
      {
        position: 1,
        roles: ['GROUP_OWNER'],
        autoApprove: false,
        approvals: 2,
        approvers: ['dba'],
        maxDurationSeconds: H,
        breakGlass: ['oncall'],
      },
    ],
  };
  const V2: Policy = {
    approvalsChannel: 'C0APPROVALS',
    groups: { dba: ['U0BOB', 'S0DBA'], oncall: ['S0ONCALL'], leads: ['U0LEAD'] },
    version: 'v2',
    offboarders: [],
    offboardApprovers: undefined,
    targets: [PROD],
  };
  const groups = (entries: Record<string, string[]>) =>
    createMembership(V2, new Map(Object.entries(entries).map(([g, users]) => [g, new Set(users)])));
  const MEMBERS = groups({
    S0ENG: ['U0ALICE', 'U0ERIN', 'U0GUEST2'],
    S0DBA: ['U0DBA2'],
    S0ONCALL: ['U0ONCALL'],
  });
  const draft = (roles: string[], durationSeconds: number | undefined = H) => ({
    roles,
    scope: 'project' as const,
    target: 'payments-prod',
    durationSeconds,
    reason: 'x',
  });
  const ask = (actor: Actor, grantee: Actor, roles = ['GROUP_READ_ONLY'], members = MEMBERS) =>
    authorize('request', actor, { draft: draft(roles), grantee }, V2, members);

  it('lets only the requesters ask, and names who may when refusing', () => {
    expect(ask(member('U0ALICE'), member('U0ALICE'))).toMatchObject({ allowed: true });
    expect(ask(member('U0MALLORY'), member('U0MALLORY'))).toEqual({
      allowed: false,
      code: 'NOT_ALLOWED',
      reason: 'You can’t ask for access on payments-prod: the policy names who may.',
      who: ['S0ENG', 'U0GUEST'],
    });
  });

  it('lets a guest ask only where listed by their own id, never through a user group', () => {
    expect(ask(as('U0GUEST', 'guest'), as('U0GUEST', 'guest'))).toMatchObject({ allowed: true });
    expect(ask(as('U0GUEST2', 'guest'), as('U0GUEST2', 'guest'))).toMatchObject({
      allowed: false,
      code: 'NOT_ALLOWED',
    });
  });

  it('lets only onBehalf ask for someone else, and only for someone who may ask there', () => {
    expect(ask(member('U0LEAD'), member('U0ERIN'))).toMatchObject({ allowed: true });
    expect(ask(member('U0BOB'), member('U0ERIN'))).toMatchObject({ allowed: false, who: ['leads'] });
    expect(ask(member('U0LEAD'), member('U0MALLORY'))).toMatchObject({
      allowed: false,
      reason: expect.stringMatching(/^The person you asked for can’t be given access on payments-prod/),
    });
  });

  it('needs an approver of every requested role to decide, resolving user groups', () => {
    const owner = { request: request('pending', { roles: ['GROUP_OWNER'], durationSeconds: H }) };
    const both = {
      request: request('pending', { roles: ['GROUP_OWNER', 'GROUP_READ_ONLY'], durationSeconds: H }),
    };
    const readOnly = { request: request('pending', { roles: ['GROUP_READ_ONLY'] }) };
    expect(authorize('approve', member('U0DBA2'), owner, V2, MEMBERS)).toMatchObject({ allowed: true });
    expect(authorize('approve', member('U0DBA2'), both, V2, MEMBERS)).toMatchObject({ allowed: true });
    expect(authorize('approve', member('U0CAROL'), readOnly, V2, MEMBERS)).toMatchObject({ allowed: true });
    expect(authorize('approve', member('U0CAROL'), both, V2, MEMBERS)).toMatchObject({
      allowed: false,
      code: 'NOT_AN_APPROVER',
      who: ['U0BOB', 'S0DBA'],
    });
    const removed = groups({ S0ENG: ['U0ALICE', 'U0ERIN'], S0DBA: [] });
    expect(authorize('approve', member('U0DBA2'), owner, V2, removed)).toMatchObject({
      allowed: false,
      code: 'NOT_AN_APPROVER',
    });
  });

  it('refuses to approve for a grantee who is no longer among the requesters', () => {
    const pending = { request: request('pending'), grantee: member('U0ERIN') };
    expect(authorize('approve', member('U0CAROL'), pending, V2, MEMBERS)).toMatchObject({ allowed: true });
    const left = groups({ S0ENG: ['U0ALICE'] });
    expect(authorize('approve', member('U0CAROL'), pending, V2, left)).toMatchObject({
      allowed: false,
      code: 'NOT_ALLOWED',
      reason: expect.stringContaining('no longer among those the policy lets have access'),
    });
  });

  it('lets only the break-glass list self-grant, always for a time within maxDuration', () => {
    const glass = (actor: Actor, roles: string[], duration: number | null = H) =>
      authorize(
        'break-glass',
        actor,
        { draft: { ...draft(roles), durationSeconds: duration ?? undefined }, grantee: actor },
        V2,
        MEMBERS,
      );
    expect(glass(member('U0ONCALL'), ['GROUP_OWNER'])).toMatchObject({
      allowed: true,
      target: { name: 'payments-prod' },
    });
    expect(glass(member('U0BOB'), ['GROUP_OWNER'])).toMatchObject({
      allowed: false,
      code: 'NOT_ALLOWED',
      who: ['oncall'],
    });
    expect(glass(member('U0ONCALL'), ['GROUP_OWNER', 'GROUP_READ_ONLY'])).toMatchObject({ allowed: false });
    expect(glass(member('U0ONCALL'), ['GROUP_OWNER'], null)).toMatchObject({ code: 'DURATION_INVALID' });
    expect(glass(member('U0ONCALL'), ['GROUP_OWNER'], 2 * H)).toMatchObject({ code: 'DURATION_INVALID' });
    expect(glass(as('U0ONCALL', 'guest'), ['GROUP_OWNER'])).toMatchObject({
      allowed: false,
      code: 'NOT_ALLOWED',
    });
  });

  it('lets an approver of the target acknowledge a break-glass grant, not the person who used it', () => {
    const used = {
      request: request('applied', { requesterId: 'U0ONCALL', granteeId: 'U0ONCALL', breakGlass: true }),
    };
    expect(authorize('acknowledge', member('U0DBA2'), used, V2, MEMBERS)).toMatchObject({ allowed: true });
    expect(authorize('acknowledge', member('U0ONCALL'), used, V2, MEMBERS)).toMatchObject({ allowed: false });
    expect(authorize('end', member('U0CAROL'), used, V2, MEMBERS)).toMatchObject({ allowed: true });
  });

  it('lets only approvers of a request’s own roles acknowledge, revoke or see its details, not approvers of another rule', () => {
    const withReadRule: Policy = {
      ...V2,
      targets: [
        {
          ...PROD,
          rules: [
            ...PROD.rules,
            {
              position: 2,
              roles: ['GROUP_READ_ONLY'],
              autoApprove: false,
              approvals: 1,
              approvers: ['U0MALLORY'],
              maxDurationSeconds: undefined,
              breakGlass: [],
            },
          ],
        },
      ],
    };
    const glass = {
      request: request('applied', {
        roles: ['GROUP_OWNER'],
        requesterId: 'U0ONCALL',
        granteeId: 'U0ONCALL',
        breakGlass: true,
      }),
    };
    for (const action of ['acknowledge', 'end', 'view-details', 'status', 'view-roles'] as const) {
      expect(authorize(action, member('U0MALLORY'), glass, withReadRule, MEMBERS)).toMatchObject({
        allowed: false,
      });
      expect(authorize(action, member('U0DBA2'), glass, withReadRule, MEMBERS)).toMatchObject({
        allowed: true,
      });
    }
  });

  it('names as deciders of several roles only the people in every role’s list', () => {
    const both = {
      request: request('pending', { roles: ['GROUP_OWNER', 'GROUP_READ_ONLY'], durationSeconds: H }),
    };
    const refusal = authorize('approve', member('U0MALLORY'), both, V2, MEMBERS);
    expect(refusal).toMatchObject({ allowed: false, who: ['U0BOB', 'S0DBA'] });
  });

  it('lets an approver of the target start a review and an approver of a line’s role decide it, never on their own access', () => {
    const review = { review: { name: 'payments-prod', kind: 'project' as const, id: PROJECT } };
    expect(authorize('review', member('U0CAROL'), review, V2, MEMBERS)).toMatchObject({ allowed: true });
    expect(authorize('review', member('U0MALLORY'), review, V2, MEMBERS)).toMatchObject({
      allowed: false,
      code: 'NOT_AN_APPROVER',
    });
    const line = (role: string, own = false) => ({ ...review, role, own });
    expect(authorize('review-decide', member('U0DBA2'), line('GROUP_OWNER'), V2, MEMBERS)).toMatchObject({
      allowed: true,
    });
    expect(authorize('review-decide', member('U0CAROL'), line('GROUP_OWNER'), V2, MEMBERS)).toMatchObject({
      allowed: false,
      code: 'NOT_AN_APPROVER',
    });
    // A role outside the policy: the target's approvers decide.
    expect(
      authorize('review-decide', member('U0CAROL'), line('GROUP_SEARCH_INDEX_EDITOR'), V2, MEMBERS),
    ).toMatchObject({
      allowed: true,
    });
    expect(
      authorize('review-decide', member('U0DBA2'), line('GROUP_OWNER', true), V2, MEMBERS),
    ).toMatchObject({
      allowed: false,
      code: 'SELF_APPROVAL',
    });
  });

  it('lets only offboarders ask and only offboarding approvers decide, never on themselves or their own request', () => {
    const withOffboarding: Policy = { ...V2, offboarders: ['U0LEAD'], offboardApprovers: ['dba'] };
    const ask = (actor: Actor, own = false) =>
      authorize('offboard', actor, { offboarding: { requesterId: null, own } }, withOffboarding, MEMBERS);
    expect(ask(member('U0LEAD'))).toMatchObject({ allowed: true });
    expect(ask(member('U0BOB'))).toMatchObject({ allowed: false, code: 'NOT_ALLOWED', who: ['U0LEAD'] });
    expect(ask(member('U0LEAD'), true)).toMatchObject({ allowed: false, code: 'SELF_APPROVAL' });
    const decide = (actor: Actor, own = false) =>
      authorize(
        'offboard-decide',
        actor,
        { offboarding: { requesterId: 'U0LEAD', own } },
        withOffboarding,
        MEMBERS,
      );
    expect(decide(member('U0DBA2'))).toMatchObject({ allowed: true });
    expect(decide(member('U0CAROL'))).toMatchObject({ allowed: false, code: 'NOT_AN_APPROVER' });
    expect(decide(member('U0LEAD'))).toMatchObject({ allowed: false, code: 'SELF_APPROVAL' });
    expect(decide(member('U0DBA2'), true)).toMatchObject({ allowed: false, code: 'SELF_APPROVAL' });
    // No offboardApprovers: every target's approvers.
    const fallback = { ...withOffboarding, offboardApprovers: undefined };
    expect(
      authorize(
        'offboard-decide',
        member('U0CAROL'),
        { offboarding: { requesterId: 'U0LEAD', own: false } },
        fallback,
        MEMBERS,
      ),
    ).toMatchObject({ allowed: true });
  });
});
