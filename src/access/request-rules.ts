import { formatDuration, formatSingleUnit } from '../lib/duration.js';
import {
  decidersOf,
  type Membership,
  type Policy,
  type PolicyTarget,
  requirementsAt,
  requirementsOf,
  targetOf,
} from '../policy/policy.js';
import type { AccessRequest } from '../requests/model.js';
import { type Action, type Actor, type Refused, refuse, type Subject, type Verdict } from './actions.js';
import { refuseBeforeEscalation } from './escalation-rules.js';
import { mayAsk, STANDING_WORDS } from './identity.js';
import { checkAgainstPolicy } from './request-line.js';

/** The subject of an action on an existing request. */
type RequestSubject = Extract<NonNullable<Subject>, { readonly request: AccessRequest }>;

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
 * An extension may not make a grant end later than the time of asking plus its roles' maxDuration:
 * each extension within its own length could otherwise stack a grant far past it.
 */
function checkExtendedEnd(
  target: PolicyTarget,
  request: AccessRequest,
  held: readonly string[],
  subject: { readonly extendBySeconds?: number; readonly extendFrom?: { endsAt: number; at: number } },
): Refused | undefined {
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

/**
 * Actions on an existing request (see `authorize` for the rules in words). A target that left the
 * policy keeps what takes access away possible for the approvers it had; granting is refused.
 */
export function authorizeRequest(
  action: Action,
  actor: Actor,
  subject: RequestSubject,
  policy: Policy,
  members: Membership,
): Verdict {
  const { request } = subject;
  const current = targetOf(policy, request.target);
  // A target that left the policy: what takes access away (deny, end, retrying a revocation) stays
  // possible for the approvers it had when the request was made; granting does not.
  const target = current ?? ghostOf(request);
  const isParty = actor.id === request.requesterId || actor.id === request.granteeId;
  // Escalated (escalate: in the policy): its fallback approvers decide too while it still waits.
  const at = Date.now();
  const requirements = requirementsAt(target, request, at);
  const decidesEveryRole =
    actor.standing === 'member' &&
    requirements.approverLists.every((list) => members.includes(list, actor.id));
  const allowed: Verdict = { allowed: true, target: current ?? null };
  const gone = refuse(
    'TARGET_UNKNOWN',
    `${request.target.name} is no longer in the policy, so ${request.id} can no longer be granted.`,
  );
  const verb = action === 'deny' ? 'deny' : action === 'retry' ? 'retry' : 'approve';
  const decider = (): Verdict | undefined => {
    if (isParty) {
      return refuse('SELF_APPROVAL', 'You can’t decide on a request that you made or that gives you access.');
    }
    if (!decidesEveryRole) {
      const early = refuseBeforeEscalation(request, requirements, members, actor.id, at);
      if (early) return early;
      return refuse(
        'NOT_AN_APPROVER',
        `You can’t ${verb} this: only the approvers of ${request.roles.join(', ')} on ${target.name} can decide on it.`,
        decidersOf(policy, requirements.approverLists),
      );
    }
    return undefined;
  };
  /** The grantee must still be someone who may hold access (not deactivated, not gone). */
  const granteeStillEligible = (): Verdict | undefined => {
    const grantee = subject.grantee;
    if (grantee === undefined || !current || mayAsk(grantee, current, members)) return undefined;
    return refuse(
      'NOT_ALLOWED',
      grantee.standing === 'member' || grantee.standing === 'guest'
        ? `${request.id} can’t be granted: the person it is for is no longer among those the policy lets have access on ${current.name}.`
        : `${request.id} can’t be granted: the Slack account of the person it is for ${STANDING_WORDS[grantee.standing]}.`,
    );
  };
  const fitsPolicy = (): Verdict =>
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
      // A grant approved ahead of its start: an approver of every role may call it off too.
      return isParty || (decidesEveryRole && request.state === 'approved' && request.startsAt !== null)
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
