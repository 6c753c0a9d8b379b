import {
  createMembership,
  findTarget,
  type Membership,
  type Policy,
  targetOf,
  userGroupsIn,
} from '../policy/policy.js';
import {
  type Action,
  type Actor,
  authorize,
  type Decision,
  principalsFor,
  type Subject,
} from './authorize.js';

/** Slack user groups and their members (implemented with usergroups.users.list). */
export interface UserGroups {
  /**
   * The members of each group. `fresh` asks Slack again (a decision is being checked); otherwise an
   * answer up to 60 s old will do. When Slack cannot be reached, the last known members are used; a
   * group never seen is missing from the map, which means nobody (fail closed).
   */
  members(
    groupIds: readonly string[],
    options: { readonly fresh: boolean },
  ): Promise<ReadonlyMap<string, ReadonlySet<string>>>;
}

/** Who a Slack user is now (implemented with users.info): asked again before anything grants access. */
export interface People {
  person(userId: string): Promise<Actor>;
}

/** A decision with what it was made under, for callers that check more people against it. */
export interface GateAnswer {
  readonly decision: Decision;
  readonly policy: Policy;
  readonly members: Membership;
}

/** Actions that decide something: user groups are asked again, so a person just removed cannot. */
const DECISIONS: readonly Action[] = [
  'approve',
  'deny',
  'retry',
  'acknowledge',
  'end',
  'break-glass',
  'review-decide',
  'offboard',
  'offboard-decide',
];

/** The people lists an action on a subject consults: the only user groups worth resolving. */
function principalsOfSubject(policy: Policy, action: Action, subject: Subject): readonly string[] {
  if (subject === null) return policy.targets.flatMap((t) => principalsFor('approve', t, t.roles));
  if ('draft' in subject) {
    const target = findTarget(policy, subject.draft.target);
    return target ? principalsFor(action, target, subject.draft.roles) : [];
  }
  if ('review' in subject) {
    const target = targetOf(policy, subject.review);
    return target ? principalsFor('approve', target, target.roles) : [];
  }
  if ('offboarding' in subject) {
    return [
      ...policy.offboarders,
      ...(policy.offboardApprovers ?? policy.targets.flatMap((t) => principalsFor('approve', t, t.roles))),
    ];
  }
  const target = targetOf(policy, subject.request.target);
  return target ? principalsFor(action, target, subject.request.roles) : subject.request.approversAtRequest;
}

/** Asks {@link authorize} under the policy in force now, with the Slack user groups it needs resolved. */
export interface PolicyGate {
  check(action: Action, actor: Actor, subject: Subject): Promise<GateAnswer>;
}

/**
 * The one way into {@link authorize} for the bot and the workers: takes the policy in force at the
 * moment, resolves only the user groups the action's lists name (again, not from the cache, for a
 * decision), including those a request recorded when its target has since left the policy.
 */
export function createPolicyGate(deps: {
  readonly policy: () => Policy;
  readonly userGroups: UserGroups;
}): PolicyGate {
  return {
    async check(action, actor, subject) {
      const policy = deps.policy();
      const principals = principalsOfSubject(policy, action, subject);
      const groups = userGroupsIn(policy, principals);
      const members = createMembership(
        policy,
        groups.length === 0
          ? new Map()
          : await deps.userGroups.members(groups, { fresh: DECISIONS.includes(action) }),
      );
      return { decision: authorize(action, actor, subject, policy, members), policy, members };
    },
  };
}
