import { isAppError } from '../errors.js';
import { type Membership, type Policy, type PolicyTarget, requirementsOf } from '../policy/policy.js';
import { checkTicketAllowed, type TicketCheckOptions } from '../policy/ticket-check.js';
import type { RequestLine } from '../requests/parse-command.js';
import { type Actor, type Refused, refuse, type Verdict } from './actions.js';
import { mayAsk, STANDING_WORDS } from './identity.js';
import { checkAgainstPolicy, checkRequestLine, findLineTarget } from './request-line.js';

/**
 * `request`: the line fits the policy; the person is in `requesters` (default: every full member);
 * for someone else, the asker is in `onBehalf` (default: the approvers) and the grantee may ask there.
 */
export function authorizeDraft(
  actor: Actor,
  line: RequestLine,
  grantee: Actor,
  policy: Policy,
  members: Membership,
): Verdict {
  const checked = checkRequestLine(policy, line);
  if (!checked.allowed) return checked;
  const { target } = checked;
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

/** `break-glass`: the person is in the `breakGlass` list of every requested role, and asks for a duration. */
export function authorizeBreakGlass(
  actor: Actor,
  line: RequestLine,
  policy: Policy,
  members: Membership,
): Verdict {
  const found = findLineTarget(policy, line);
  if (!found.allowed) return found;
  const { target } = found;
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

/**
 * The ticket a new request names, against what its items need (`ticket:`; see checkTicketAllowed):
 * the refusal in words, or undefined when it fits. Break-glass waives `required`.
 */
export function checkLineTicket(
  target: PolicyTarget,
  line: Pick<RequestLine, 'roles' | 'ticket'>,
  options: TicketCheckOptions = {},
): Refused | undefined {
  try {
    checkTicketAllowed(target, line.roles, line.ticket, options);
    return undefined;
  } catch (error) {
    if (!isAppError(error)) throw error;
    return refuse(error.code, error.message);
  }
}
