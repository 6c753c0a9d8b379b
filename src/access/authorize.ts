import type { AppErrorCode } from '../errors.js';
import { isAppError } from '../errors.js';
import { formatDuration, formatSingleUnit } from '../lib/duration.js';
import type { TargetRef } from '../lib/scope.js';
import {
  checkRequestAllowed,
  decidersOf,
  findTarget,
  type Membership,
  type Policy,
  type PolicyTarget,
  type Principal,
  requirementsOf,
  targetOf,
} from '../policy/policy.js';
import type { AccessRequest } from '../requests/model.js';
import type { RequestLine } from '../requests/parse-command.js';

/** Everything a person can try to do with Rolecall. */
export type Action =
  | 'request'
  /** Grant oneself roles at once in an emergency (`/atlas-access breakglass`). */
  | 'break-glass'
  | 'approve'
  | 'deny'
  | 'cancel'
  | 'retry'
  | 'end'
  | 'extend'
  | 'status'
  | 'list'
  /** See someone's current Atlas roles (the approval message's Details button). */
  | 'view-roles'
  /** See Atlas's own detail of a failure (it can name IP addresses and ids): approvers only. */
  | 'view-details'
  /** Acknowledge a break-glass grant, as an approver. */
  | 'acknowledge'
  /** Start an access review of a target now (`/atlas-access review`). */
  | 'review'
  /** Keep or revoke one standing (person, role) of a review. */
  | 'review-decide'
  /** Ask to remove a leaving person from every target (`/atlas-access offboard`). */
  | 'offboard'
  /** Approve or deny an offboarding. */
  | 'offboard-decide';

/**
 * Who a Slack user is to this workspace: a full member, or someone Rolecall serves only partly (a
 * guest: only where named by their own id) or not at all (a deactivated account, a bot, a person of
 * another workspace through Slack Connect), or `unknown` when Slack could not be asked (fail closed).
 */
export type Standing = 'member' | 'guest' | 'deactivated' | 'bot' | 'external' | 'missing' | 'unknown';

/** The person acting, as Slack knows them. */
export interface Actor {
  readonly id: string;
  readonly standing: Standing;
  /**
   * The Slack workspace (team) of the payload they acted from; absent when no payload is behind the
   * check (a worker's). An org-wide install reads user groups in this workspace.
   */
  readonly teamId?: string;
}

/** What an action is about. */
export type Subject =
  /** A request that does not exist yet: who it is for and what it asks. */
  | { readonly draft: RequestLine; readonly grantee: Actor }
  /**
   * An existing request; for `extend`, with how much longer; for what grants access (approve, retry,
   * extend), with the grantee as Slack knows them now, so an account deactivated since is refused.
   */
  | {
      readonly request: AccessRequest;
      readonly extendBySeconds?: number;
      /**
       * For `extend`: when the grant ends now and the time of asking (ms since epoch): the end it
       * would produce may not pass the asking time plus the roles' maxDuration.
       */
      readonly extendFrom?: { readonly endsAt: number; readonly at: number };
      readonly grantee?: Actor;
    }
  /**
   * A review of a target: for `review-decide`, the role on the line and whether the line is the
   * actor's own access (their Slack email is its Atlas username).
   */
  | { readonly review: TargetRef; readonly role?: string; readonly own?: boolean }
  /** An offboarding: who asked, and whether it removes the actor themselves. */
  | { readonly offboarding: { readonly requesterId: string | null; readonly own: boolean } }
  /** `list`: about nobody in particular. */
  | null;

/** A decision: allowed (with the policy target it was decided under), or refused and why, in words. */
export type Decision =
  | { readonly allowed: true; readonly target: PolicyTarget | null }
  | {
      readonly allowed: false;
      readonly code: AppErrorCode;
      readonly reason: string;
      /** Who may do it instead, when that helps the person (rendered as mentions). */
      readonly who?: readonly Principal[];
    };

const STANDING_WORDS: Record<Exclude<Standing, 'member'>, string> = {
  guest: 'is a guest account; guests can use Rolecall only where the policy names them',
  deactivated: 'is deactivated in Slack',
  bot: 'is a bot or an app, not a person',
  external: 'belongs to another Slack workspace; Rolecall serves only its own',
  missing: 'does not exist in this Slack workspace',
  unknown: 'could not be looked up in Slack just now; try again in a minute',
};

const refuse = (code: AppErrorCode, reason: string, who?: readonly Principal[]): Decision =>
  who === undefined ? { allowed: false, code, reason } : { allowed: false, code, reason, who };

/** A target as the request recorded it, for when it has left the policy: its approvers then, no rules. */
function ghostOf(request: AccessRequest): PolicyTarget {
  return {
    ...request.target,
    approvers: request.approversAtRequest,
    roles: request.roles,
    maxDurationSeconds: undefined,
    approvalsChannel: request.approvalMessage?.channelId ?? '',
    requesters: [],
    onBehalf: [],
    rules: [],
    reviewEverySeconds: undefined,
  };
}

/**
 * The people lists `authorize` consults for an action on some roles of a target, so a caller resolves
 * only the Slack user groups that matter (usergroups.users.list is rate-limited).
 */
export function principalsFor(action: Action, target: PolicyTarget, roles: readonly string[]): Principal[] {
  const needs = requirementsOf(target, roles);
  const approvers = needs.approverLists.flat();
  switch (action) {
    case 'request':
      return [...(target.requesters ?? []), ...(target.onBehalf ?? target.approvers)];
    case 'break-glass':
      return needs.breakGlassLists.flat();
    case 'approve':
    case 'retry':
    case 'extend':
      // The grantee is checked against `requesters` again before anything grants access.
      return [...approvers, ...(target.requesters ?? [])];
    default:
      return approvers;
  }
}

/** Runs the policy's checks on roles and duration; their AppError becomes a refusal. */
function checkAgainstPolicy(
  target: PolicyTarget,
  roles: readonly string[],
  durationSeconds: number | undefined,
  context: string,
): Decision | undefined {
  try {
    checkRequestAllowed(target, roles, durationSeconds);
    return undefined;
  } catch (error) {
    if (!isAppError(error)) throw error;
    return refuse(error.code, `${context}${error.message}`);
  }
}

/**
 * An extension may not make a grant end later than the time of asking plus its roles' maxDuration:
 * each extension within its own length could otherwise stack a grant far past it.
 */
function checkExtendedEnd(
  target: PolicyTarget,
  request: AccessRequest,
  held: readonly string[],
  subject: { readonly extendBySeconds?: number; readonly extendFrom?: { endsAt: number; at: number } },
): Decision | undefined {
  const max = requirementsOf(target, held).maxDurationSeconds;
  const from = subject.extendFrom;
  if (max === undefined || from === undefined || subject.extendBySeconds === undefined) return undefined;
  const wanted = from.endsAt + subject.extendBySeconds * 1000;
  const ceiling = from.at + max * 1000;
  if (wanted <= ceiling) return undefined;
  const room = Math.floor((ceiling - from.endsAt) / 1000);
  const left = Math.max(0, Math.round((from.endsAt - from.at) / 1000));
  return refuse(
    'DURATION_INVALID',
    `${request.extends ?? request.id} already ends in ${formatDuration(left)}; its roles may be held at most ${formatDuration(max)} from now. ${room >= 60 ? `Ask for at most ${formatSingleUnit(room)}.` : 'It cannot be extended now; ask again closer to its end.'}`,
  );
}

/** May this person ask for access on the target (for themselves, or be asked for)? */
function mayAsk(person: Actor, target: PolicyTarget, members: Membership): boolean {
  if (person.standing === 'guest') {
    return target.requesters !== undefined && members.namesDirectly(target.requesters, person.id);
  }
  return (
    person.standing === 'member' &&
    (target.requesters === undefined || members.includes(target.requesters, person.id))
  );
}

/**
 * The one decision point for who may do what, under the policy in force now and with Slack user
 * groups already resolved (`members`). Every Slack handler, the request service and the status and
 * list views ask it; it never looks at Redis, Atlas or Slack itself, so it is table-tested
 * exhaustively in milliseconds. Request states are not its business.
 *
 * - Full members of the bot's own workspace act; guests only where `requesters` names them by their
 *   own id (and only for their own requests); deactivated accounts, bots, people of other workspaces
 *   and people Slack could not be asked about never.
 * - `request`: a known target, roles it offers, a duration within what its rules allow; the person
 *   in `requesters` (default: every full member); for someone else, the asker in `onBehalf`
 *   (default: the approvers) and the grantee allowed to ask there too.
 * - `break-glass`: the person in the `breakGlass` list of every requested role, with a duration.
 * - `approve`, `deny`, `retry`: an approver of every requested role (its rule's `approvers`, else
 *   the target's), never the requester or the grantee; `approve` and a `retry` of a failed grant
 *   re-check roles and duration. `acknowledge`: an approver of the target.
 * - `cancel`: the requester or the grantee ("Not me"). `end`: the grantee or an approver.
 *   `extend`: the grantee or the requester, within the current policy. `status`: the requester, the
 *   grantee or an approver. `view-roles`: the grantee or an approver. `list`: any member.
 */
export function authorize(
  action: Action,
  actor: Actor,
  subject: Subject,
  policy: Policy,
  members: Membership,
): Decision {
  const guestMayTry =
    actor.standing === 'guest' &&
    ['request', 'cancel', 'status', 'end', 'extend', 'list', 'view-roles'].includes(action);
  if (actor.standing !== 'member' && !guestMayTry) {
    return refuse('NOT_ALLOWED', `Your Slack account ${STANDING_WORDS[actor.standing]}.`);
  }
  if (subject === null) {
    return action === 'list'
      ? { allowed: true, target: null }
      : refuse('INTERNAL', `${action} needs a request.`);
  }
  if ('review' in subject) return authorizeReview(action, actor, subject, policy, members);
  if ('offboarding' in subject)
    return authorizeOffboarding(action, actor, subject.offboarding, policy, members);
  if ('draft' in subject) {
    if (action === 'request') return authorizeDraft(actor, subject.draft, subject.grantee, policy, members);
    if (action === 'break-glass') return authorizeBreakGlass(actor, subject.draft, policy, members);
    return refuse('INTERNAL', `${action} needs an existing request.`);
  }
  const { request } = subject;
  const current = targetOf(policy, request.target);
  // A target that left the policy: what takes access away (deny, end, retrying a revocation) stays
  // possible for the approvers it had when the request was made; granting does not.
  const target = current ?? ghostOf(request);
  const isParty = actor.id === request.requesterId || actor.id === request.granteeId;
  const requirements = requirementsOf(target, request.roles);
  const decidesEveryRole =
    actor.standing === 'member' &&
    requirements.approverLists.every((list) => members.includes(list, actor.id));
  const allowed: Decision = { allowed: true, target: current ?? null };
  const gone = refuse(
    'TARGET_UNKNOWN',
    `${request.target.name} is no longer in the policy, so ${request.id} can no longer be granted.`,
  );
  const verb = action === 'deny' ? 'deny' : action === 'retry' ? 'retry' : 'approve';
  const decider = (): Decision | undefined => {
    if (isParty) {
      return refuse('SELF_APPROVAL', 'You can’t decide on a request that you made or that gives you access.');
    }
    if (!decidesEveryRole) {
      return refuse(
        'NOT_AN_APPROVER',
        `You can’t ${verb} this: only the approvers of ${request.roles.join(', ')} on ${target.name} can decide on it.`,
        decidersOf(policy, requirements.approverLists),
      );
    }
    return undefined;
  };
  /** The grantee must still be someone who may hold access (not deactivated, not gone). */
  const granteeStillEligible = (): Decision | undefined => {
    const grantee = subject.grantee;
    if (grantee === undefined || !current || mayAsk(grantee, current, members)) return undefined;
    return refuse(
      'NOT_ALLOWED',
      grantee.standing === 'member' || grantee.standing === 'guest'
        ? `${request.id} can’t be granted: the person it is for is no longer among those the policy lets have access on ${current.name}.`
        : `${request.id} can’t be granted: the Slack account of the person it is for ${STANDING_WORDS[grantee.standing]}.`,
    );
  };
  const fitsPolicy = (): Decision =>
    current
      ? (granteeStillEligible() ??
        checkAgainstPolicy(
          current,
          request.roles,
          request.durationSeconds ?? undefined,
          `${request.id} no longer fits the policy: `,
        ) ??
        // An extension, under the policy of now: the end it would give its grant, from now.
        (request.extends !== null && request.durationSeconds !== null
          ? checkExtendedEnd(current, request, request.roles, {
              extendBySeconds: request.durationSeconds,
              ...(subject.extendFrom ? { extendFrom: subject.extendFrom } : {}),
            })
          : undefined) ??
        allowed)
      : gone;
  switch (action) {
    case 'approve':
      return decider() ?? fitsPolicy();
    case 'deny':
      return decider() ?? allowed;
    case 'retry':
      return decider() ?? (request.state === 'failed' ? fitsPolicy() : allowed);
    case 'acknowledge':
      return decidesEveryRole && !isParty
        ? allowed
        : refuse(
            'NOT_AN_APPROVER',
            'Only an approver of its roles (not the person who used it) can acknowledge a break-glass grant.',
          );
    case 'cancel':
      return isParty
        ? allowed
        : refuse(
            'NOT_ALLOWED',
            `Only the person who asked for ${request.id}, or the person it is for, can cancel it.`,
          );
    case 'end':
      return actor.id === request.granteeId || decidesEveryRole
        ? allowed
        : refuse(
            'NOT_ALLOWED',
            `Only the person who holds ${request.id}, or an approver of its roles, can end it.`,
          );
    case 'extend': {
      if (!isParty) {
        return refuse(
          'NOT_ALLOWED',
          `Only the person who holds ${request.id}, or who asked for it, can ask to extend it.`,
        );
      }
      if (!current) return gone;
      const held = request.grant?.held ?? request.roles;
      return (
        granteeStillEligible() ??
        checkAgainstPolicy(current, held, subject.extendBySeconds, '') ??
        checkExtendedEnd(current, request, held, subject) ??
        allowed
      );
    }
    case 'status':
      return isParty || decidesEveryRole
        ? allowed
        : refuse(
            'NOT_ALLOWED',
            `${request.id} is not yours to see: only its requester, its grantee and the approvers of its roles can.`,
          );
    case 'view-details':
      return decidesEveryRole && !isParty
        ? allowed
        : refuse('NOT_ALLOWED', 'Only the approvers of its roles can see what Atlas said in full.');
    case 'view-roles':
      return actor.id === request.granteeId || decidesEveryRole
        ? allowed
        : refuse(
            'NOT_ALLOWED',
            `Only the person it is for and the approvers of ${request.target.name} can see their current roles.`,
          );
    case 'request':
    case 'break-glass':
    case 'list':
    case 'review':
    case 'review-decide':
    case 'offboard':
    case 'offboard-decide':
      return refuse('INTERNAL', `${action} is not about an existing request.`);
  }
}

/**
 * Reviews: a member who approves the target (its approvers or any rule's) may start one; a line is
 * decided by an approver of its role (the target's approvers for a role outside the policy), never by
 * the person whose access it is.
 */
function authorizeReview(
  action: Action,
  actor: Actor,
  subject: { readonly review: TargetRef; readonly role?: string; readonly own?: boolean },
  policy: Policy,
  members: Membership,
): Decision {
  const target = targetOf(policy, subject.review);
  if (!target) {
    return refuse('TARGET_UNKNOWN', `${subject.review.name} is no longer in the policy; its review is over.`);
  }
  const allowed: Decision = { allowed: true, target };
  if (action === 'review') {
    const approves =
      members.includes(target.approvers, actor.id) ||
      target.rules.some((rule) => rule.approvers !== undefined && members.includes(rule.approvers, actor.id));
    return approves
      ? allowed
      : refuse(
          'NOT_AN_APPROVER',
          `Only the approvers of ${target.name} can review its access.`,
          target.approvers,
        );
  }
  if (action !== 'review-decide' || subject.role === undefined) {
    return refuse('INTERNAL', `${action} is not about a review line.`);
  }
  if (subject.own) {
    return refuse(
      'SELF_APPROVAL',
      `You can’t decide on your own access; another approver has to. If ${target.name} has no other, add one to its approvers in the policy: the review closes only when every line is decided.`,
    );
  }
  const lists = target.roles.includes(subject.role)
    ? requirementsOf(target, [subject.role]).approverLists
    : [target.approvers];
  return lists.every((list) => members.includes(list, actor.id))
    ? allowed
    : refuse(
        'NOT_AN_APPROVER',
        `Only the approvers of ${subject.role} on ${target.name} can keep or revoke it.`,
        decidersOf(policy, lists),
      );
}

/** Everyone who approves some target: who decides an offboarding when the policy names nobody. */
function allApprovers(policy: Policy): Principal[] {
  return [
    ...new Set(
      policy.targets.flatMap((t) => [...t.approvers, ...t.rules.flatMap((rule) => rule.approvers ?? [])]),
    ),
  ];
}

/** Who may ask to offboard someone (`offboarders`), and who decides (`offboardApprovers`). */
function authorizeOffboarding(
  action: Action,
  actor: Actor,
  subject: { readonly requesterId: string | null; readonly own: boolean },
  policy: Policy,
  members: Membership,
): Decision {
  const allowed: Decision = { allowed: true, target: null };
  if (action === 'offboard') {
    if (subject.own) return refuse('SELF_APPROVAL', 'You can’t offboard yourself.');
    return members.includes(policy.offboarders, actor.id)
      ? allowed
      : refuse(
          'NOT_ALLOWED',
          'Only the people the policy names under offboarders: can offboard someone.',
          policy.offboarders,
        );
  }
  if (action !== 'offboard-decide') return refuse('INTERNAL', `${action} is not about an offboarding.`);
  if (subject.own || actor.id === subject.requesterId) {
    return refuse(
      'SELF_APPROVAL',
      'You can’t decide on an offboarding that you asked for or that removes you.',
    );
  }
  const deciders = policy.offboardApprovers ?? allApprovers(policy);
  return members.includes(deciders, actor.id)
    ? allowed
    : refuse('NOT_AN_APPROVER', 'Only the offboarding approvers can decide on it.', deciders);
}

function lookUp(policy: Policy, line: RequestLine): PolicyTarget | Decision {
  const target = findTarget(policy, line.target);
  if (!target) {
    return refuse(
      'TARGET_UNKNOWN',
      `There is no target called ${line.target}. Known targets: ${policy.targets.map((t) => t.name).join(', ')}.`,
    );
  }
  if (target.kind !== line.scope) {
    const wanted = target.kind === 'org' ? 'organization roles (ORG_...)' : 'project roles (GROUP_...)';
    return refuse(
      'ROLE_INVALID',
      `${target.name} is ${target.kind === 'org' ? 'an organization' : 'a project'}: ask for ${wanted}.`,
    );
  }
  return target;
}

function authorizeDraft(
  actor: Actor,
  line: RequestLine,
  grantee: Actor,
  policy: Policy,
  members: Membership,
): Decision {
  const found = lookUp(policy, line);
  if ('allowed' in found) return found;
  const target = found;
  const policyRefusal = checkAgainstPolicy(target, line.roles, line.durationSeconds, '');
  if (policyRefusal) return policyRefusal;
  if (!mayAsk(actor, target, members) && grantee.id === actor.id) {
    if (actor.standing === 'guest') {
      return refuse('NOT_ALLOWED', `Your Slack account ${STANDING_WORDS.guest}.`, target.requesters);
    }
    return refuse(
      'NOT_ALLOWED',
      `You can’t ask for access on ${target.name}: the policy names who may.`,
      target.requesters,
    );
  }
  if (grantee.id !== actor.id) {
    const onBehalf = target.onBehalf ?? target.approvers;
    if (actor.standing !== 'member' || !members.includes(onBehalf, actor.id)) {
      return refuse(
        'NOT_ALLOWED',
        `You can’t ask for access for someone else on ${target.name}; ask for yourself, or ask the people who may.`,
        onBehalf,
      );
    }
    if (grantee.standing !== 'member' && grantee.standing !== 'guest') {
      return refuse(
        'NOT_ALLOWED',
        `The person you asked for can’t be given access: their Slack account ${STANDING_WORDS[grantee.standing]}.`,
      );
    }
    if (!mayAsk(grantee, target, members)) {
      return refuse(
        'NOT_ALLOWED',
        `The person you asked for can’t be given access on ${target.name}: the policy names who may have it.`,
        target.requesters,
      );
    }
  }
  return { allowed: true, target };
}

function authorizeBreakGlass(actor: Actor, line: RequestLine, policy: Policy, members: Membership): Decision {
  const found = lookUp(policy, line);
  if ('allowed' in found) return found;
  const target = found;
  const lists = requirementsOf(target, line.roles).breakGlassLists;
  const listed =
    line.roles.every((role) => target.roles.includes(role)) &&
    lists.every(
      (list) =>
        list.length > 0 &&
        (actor.standing === 'member'
          ? members.includes(list, actor.id)
          : members.namesDirectly(list, actor.id)),
    );
  if (!listed) {
    return refuse(
      'NOT_ALLOWED',
      `You can’t use break-glass for ${line.roles.join(', ')} on ${target.name}: only the people its rules name may. Ask for the access instead.`,
      [...new Set(lists.flat())],
    );
  }
  if (line.durationSeconds === undefined) {
    return refuse(
      'DURATION_INVALID',
      'Break-glass access is always temporary: add a duration (e.g. "for 1h").',
    );
  }
  return checkAgainstPolicy(target, line.roles, line.durationSeconds, '') ?? { allowed: true, target };
}
