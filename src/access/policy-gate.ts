import { AppError } from '../errors.js';
import {
  createMembership,
  expandGroups,
  findTarget,
  type Membership,
  type Policy,
  type PolicyTarget,
  requirementsOf,
  targetOf,
  userGroupsIn,
} from '../policy/policy.js';
import type { GroupMembers, UserGroups } from '../requests/ports.js';
import type { Action, Actor, Refused, Subject, Verdict } from './actions.js';
import { authorize, principalsFor } from './authorize.js';
import type { RefusalLog } from './refusal-log.js';

/**
 * A verdict with what it was reached under, for callers that check more people against it (a user
 * group Slack could not confirm counts as nobody there).
 */
export interface GateAnswer {
  readonly verdict: Verdict;
  readonly policy: Policy;
  readonly members: Membership;
}

/** Actions that decide something: they use user group members read within the bound, never older. */
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

/** What an allowed action was decided under: the policy target, the resolved membership, the policy. */
export interface Permit {
  readonly target: PolicyTarget | null;
  /** The user groups resolved for it, to check other people against (unconfirmed = nobody). */
  readonly members: Membership;
  readonly policy: Policy;
}

/** Options of {@link PolicyGate.ask} and {@link PolicyGate.require}. */
export interface GateOptions {
  /**
   * The answer decides something although the action is not a decision itself (an automatic
   * approval of a request or an extension): user groups are then read within the bound too.
   */
  readonly decision?: boolean;
}

/** Asks {@link authorize} under the policy in force now, with the Slack user groups it needs resolved. */
export interface PolicyGate {
  /** Only asks: the verdict, with what it was reached under. A refusal is neither recorded nor thrown. */
  ask(action: Action, actor: Actor, subject: Subject, options?: GateOptions): Promise<GateAnswer>;
  /**
   * The one refusal path: asks as {@link PolicyGate.ask} does; a refusal is recorded in the refusal
   * log and thrown as {@link refusalError}. Returns what an allowed action was decided under.
   */
  require(action: Action, actor: Actor, subject: Subject, options?: GateOptions): Promise<Permit>;
}

const NO_GROUPS: GroupMembers = { known: new Map(), unconfirmed: new Map() };

/**
 * The refusal for a decision that hangs on groups Slack could not confirm; `who` lets Slack show
 * the ids it names as mentions.
 */
function refuseUnconfirmed(
  answer: GroupMembers,
  groups: readonly string[],
  about: 'you' | 'members' | { readonly approvers: readonly string[]; readonly requestId: string },
): Verdict {
  const names = groups.join(', ');
  const noWorkspace = groups.some((g) => answer.unconfirmed.get(g) === 'no-workspace');
  const what =
    about === 'you'
      ? `that you are in ${names}`
      : about === 'members'
        ? `who is in ${names}`
        : `that ${about.approvers.join(', ')} ${about.approvers.length > 1 ? 'are' : 'is'} still in ${names}, so the approvals ${about.requestId} already has cannot be counted`;
  const reason = noWorkspace
    ? `Rolecall could not confirm ${what}: it is installed across the Slack organization, and this check came from no Slack workspace to read ${groups.length > 1 ? 'them' : 'it'} in. Nothing was decided.`
    : `Slack could not confirm ${what}; nothing was decided. Try again in a minute.`;
  const who = typeof about === 'object' ? [...about.approvers, ...groups] : groups;
  return { allowed: false, code: 'USER_GROUP_UNCONFIRMED', reason, who };
}

/**
 * When groups are unconfirmed, the verdict reached with them as nobody stands if nothing in them could
 * change it: a refusal that would still be one with the person in them, or an approval that does not
 * rest on them. Otherwise it is refused in words, never decided on members Slack did not confirm.
 */
function checkUnconfirmed(
  action: Action,
  actor: Actor,
  subject: Subject,
  policy: Policy,
  answer: GroupMembers,
  verdict: Verdict,
): Verdict | undefined {
  const unconfirmed = [...answer.unconfirmed.keys()];
  /** The membership with `userIds` in each of `groups` (everyone else as Slack last confirmed). */
  const withIn = (userIds: readonly string[], groups: readonly string[]) =>
    createMembership(
      policy,
      new Map([...answer.known, ...groups.map((g) => [g, new Set(userIds)] as const)]),
    );
  if (!verdict.allowed) {
    const allowsWith = (userIds: readonly string[], groups: readonly string[]) =>
      authorize(action, actor, subject, policy, withIn(userIds, groups)).allowed;
    if (allowsWith([actor.id], unconfirmed)) {
      const alone = unconfirmed.filter((g) => allowsWith([actor.id], [g]));
      return refuseUnconfirmed(answer, alone.length > 0 ? alone : unconfirmed, 'you');
    }
    // Someone else's membership may decide it (the person a request is for, against `requesters`).
    const others =
      subject === null || !('grantee' in subject) || subject.grantee === undefined
        ? []
        : [subject.grantee.id];
    const granteeId = subject !== null && 'request' in subject ? [subject.request.granteeId] : [];
    return allowsWith([actor.id, ...others, ...granteeId], unconfirmed)
      ? refuseUnconfirmed(answer, unconfirmed, 'members')
      : undefined;
  }
  // An approval counts earlier approvals only while their approvers still are: not on a guess.
  if (action !== 'approve' || subject === null || !('request' in subject) || !verdict.target) {
    return undefined;
  }
  const lists = requirementsOf(verdict.target, subject.request.roles).approverLists;
  const confirmed = createMembership(policy, answer.known);
  const inDoubt = subject.request.approvals
    .map((a) => a.by)
    .filter(
      (by) =>
        by !== actor.id &&
        !lists.every((list) => confirmed.includes(list, by)) &&
        lists.every((list) => withIn([by], unconfirmed).includes(list, by)),
    );
  return inDoubt.length === 0
    ? undefined
    : refuseUnconfirmed(answer, unconfirmed, { approvers: inDoubt, requestId: subject.request.id });
}

/** The request or offboarding a refusal is recorded against, if the subject names one. */
function recordedIdOf(subject: Subject): string | null {
  if (subject === null) return null;
  if ('request' in subject) return subject.request.id;
  if ('offboarding' in subject) return subject.offboarding.id ?? null;
  return null;
}

/**
 * A refusal as the person is told it: its code and words, what was refused, and who may do it
 * instead with the policy's group names replaced by their members (users and Slack user groups).
 */
export function refusalError(action: Action, refused: Refused, policy: Policy): AppError {
  return new AppError(refused.code, refused.reason, {
    details: {
      refused: action,
      ...(refused.who ? { who: expandGroups(policy, refused.who).join(',') } : {}),
    },
  });
}

/** Dependencies of {@link createPolicyGate}. */
export interface PolicyGateDeps {
  /** The policy in force now, read at every question. */
  readonly policy: () => Policy;
  readonly userGroups: UserGroups;
  /** Where {@link PolicyGate.require} records each refusal. */
  readonly refusals: RefusalLog;
}

/**
 * The one way into {@link authorize} for the bot and the workers: takes the policy in force at the
 * moment and resolves only the user groups the action's lists name (including those a request
 * recorded when its target has since left the policy), in the workspace the action came from. A
 * decision uses members read within the bound; one that hangs on a group Slack could not confirm is
 * refused in words.
 */
export function createPolicyGate(deps: PolicyGateDeps): PolicyGate {
  const ask: PolicyGate['ask'] = async (action, actor, subject, options = {}) => {
    const policy = deps.policy();
    const groups = userGroupsIn(policy, principalsOfSubject(policy, action, subject));
    const answer =
      groups.length === 0
        ? NO_GROUPS
        : await deps.userGroups.members(groups, {
            fresh: DECISIONS.includes(action) || options.decision === true,
            teamId: actor.teamId,
          });
    const members = createMembership(policy, answer.known);
    const verdict = authorize(action, actor, subject, policy, members);
    if (answer.unconfirmed.size === 0) return { verdict, policy, members };
    return {
      verdict: checkUnconfirmed(action, actor, subject, policy, answer, verdict) ?? verdict,
      policy,
      members,
    };
  };
  return {
    ask,
    async require(action, actor, subject, options = {}) {
      const { verdict, policy, members } = await ask(action, actor, subject, options);
      if (verdict.allowed) return { target: verdict.target, members, policy };
      await deps.refusals.record({
        action,
        actorId: actor.id,
        requestId: recordedIdOf(subject),
        code: verdict.code,
        reason: verdict.reason,
      });
      throw refusalError(action, verdict, policy);
    },
  };
}
