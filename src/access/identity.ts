import type { Membership, PolicyTarget } from '../policy/policy.js';
import { type Action, type Actor, type Refused, refuse, type Standing } from './actions.js';

/** Why a Slack account that is not a full member cannot do something, after "Your Slack account". */
export const STANDING_WORDS: Record<Exclude<Standing, 'member'>, string> = {
  guest: 'is a guest account; guests can use Rolecall only where the policy names them',
  deactivated: 'is deactivated in Slack',
  bot: 'is a bot or an app, not a person',
  external: 'belongs to another Slack workspace; Rolecall serves only its own',
  missing: 'does not exist in this Slack workspace',
  unknown: 'could not be looked up in Slack just now; try again in a minute',
};

/** What a guest may try at all; the rules of each action then ask whether the policy names them. */
const GUEST_ACTIONS: readonly Action[] = [
  'request',
  'cancel',
  'status',
  'end',
  'extend',
  'list',
  'view-roles',
];

/**
 * The refusal of an account that may not act at all: anyone but a full member, except a guest trying
 * what guests may try. Undefined when the actor may go on to the action's own rules.
 */
export function refuseStanding(action: Action, actor: Actor): Refused | undefined {
  if (actor.standing === 'member') return undefined;
  if (actor.standing === 'guest' && GUEST_ACTIONS.includes(action)) return undefined;
  return refuse('NOT_ALLOWED', `Your Slack account ${STANDING_WORDS[actor.standing]}.`);
}

/** May this person ask for access on the target (for themselves, or be asked for)? */
export function mayAsk(person: Actor, target: PolicyTarget, members: Membership): boolean {
  if (person.standing === 'guest') {
    return target.requesters !== undefined && members.namesDirectly(target.requesters, person.id);
  }
  return (
    person.standing === 'member' &&
    (target.requesters === undefined || members.includes(target.requesters, person.id))
  );
}
