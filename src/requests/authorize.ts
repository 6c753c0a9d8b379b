import type { AppErrorCode } from '../errors.js';
import { isAppError } from '../errors.js';
import { checkRequestAllowed, findTarget, type Policy, type PolicyTarget } from '../policy/policy.js';
import type { AccessRequest } from './model.js';
import type { RequestLine } from './parse-command.js';

/** Everything a person can try to do with Rolecall. */
export type Action =
  | 'request'
  | 'approve'
  | 'deny'
  | 'cancel'
  | 'retry'
  | 'end'
  | 'extend'
  | 'status'
  | 'list'
  /** See someone's current Atlas roles (the approval message's "Current roles" button). */
  | 'view-roles';

/**
 * Who a Slack user is to this workspace: a full member, or someone Rolecall does not serve (a guest,
 * a deactivated account, a bot, a person of another workspace through Slack Connect), or `unknown`
 * when Slack could not be asked (fail closed).
 */
export type Standing = 'member' | 'guest' | 'deactivated' | 'bot' | 'external' | 'unknown';

/** The person acting, as Slack knows them. */
export interface Actor {
  readonly id: string;
  readonly standing: Standing;
}

/** What an action is about. */
export type Subject =
  /** A request that does not exist yet: who it is for and what it asks. */
  | { readonly draft: RequestLine; readonly grantee: Actor }
  /** An existing request; for `extend`, with how much longer. */
  | { readonly request: AccessRequest; readonly extendBySeconds?: number }
  /** `list`: about nobody in particular. */
  | null;

/** A decision: allowed (with the policy target it was decided under), or refused and why, in words. */
export type Decision =
  | { readonly allowed: true; readonly target: PolicyTarget | null }
  | { readonly allowed: false; readonly code: AppErrorCode; readonly reason: string };

const STANDING_WORDS: Record<Exclude<Standing, 'member'>, string> = {
  guest: 'is a guest account; guests can’t use Rolecall',
  deactivated: 'is deactivated in Slack',
  bot: 'is a bot or an app, not a person',
  external: 'belongs to another Slack workspace; Rolecall serves only its own',
  unknown: 'could not be looked up in Slack just now; try again in a minute',
};

const refuse = (code: AppErrorCode, reason: string): Decision => ({ allowed: false, code, reason });

/** The policy target a request is about, as the policy says it now. */
function currentTarget(policy: Policy, request: AccessRequest): PolicyTarget | undefined {
  return policy.targets.find((t) => t.id === request.target.id && t.kind === request.target.kind);
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
 * The one decision point for who may do what, under the policy in force now. Every Slack handler,
 * the request service and the status and list views ask it; it never looks at Redis, Atlas or
 * Slack, so it is table-tested exhaustively in milliseconds. Request states are not its business
 * (the service answers "already approved" after the actor is allowed to ask).
 *
 * - Only full members of the bot's own workspace act or receive access.
 * - `request`: a known target, roles it offers, a duration within its maxDuration; for someone else
 *   only by an approver of the target (until the policy names who may ask on behalf of others).
 * - `approve`, `deny`, `retry`: an approver of the target under the current policy, never the
 *   requester or the grantee; `approve` and a `retry` of a failed grant re-check roles and duration.
 * - `cancel`: the requester or the grantee ("Not me"). `end`: the grantee or an approver.
 *   `extend`: the grantee or the requester, within the current policy. `status`: the requester, the
 *   grantee or an approver. `view-roles`: the grantee or an approver. `list`: any member.
 */
export function authorize(action: Action, actor: Actor, subject: Subject, policy: Policy): Decision {
  if (actor.standing !== 'member') {
    return refuse('NOT_ALLOWED', `Your Slack account ${STANDING_WORDS[actor.standing]}.`);
  }
  if (subject === null) {
    return action === 'list'
      ? { allowed: true, target: null }
      : refuse('INTERNAL', `${action} needs a request.`);
  }
  if ('draft' in subject) {
    if (action !== 'request') return refuse('INTERNAL', `${action} needs an existing request.`);
    return authorizeDraft(actor, subject.draft, subject.grantee, policy);
  }
  const { request } = subject;
  const target = currentTarget(policy, request);
  const isApprover = target?.approvers.includes(actor.id) ?? false;
  const isParty = actor.id === request.requesterId || actor.id === request.granteeId;
  const allowed: Decision = { allowed: true, target: target ?? null };
  const gone = refuse(
    'TARGET_UNKNOWN',
    `${request.target.name} is no longer in the policy, so nobody can ${action} ${request.id}.`,
  );
  const decider = (): Decision | undefined => {
    if (!target) return gone;
    if (isParty) {
      return refuse(
        'SELF_APPROVAL',
        'You can’t approve or deny a request that you made or that gives you access.',
      );
    }
    if (!isApprover) {
      return refuse(
        'NOT_AN_APPROVER',
        `You can’t approve this: only the approvers of ${target.name} can decide on it.`,
      );
    }
    return undefined;
  };
  switch (action) {
    case 'approve': {
      const refused = decider();
      if (refused || !target) return refused ?? gone;
      return (
        checkAgainstPolicy(
          target,
          request.roles,
          request.durationSeconds ?? undefined,
          `${request.id} no longer fits the policy: `,
        ) ?? allowed
      );
    }
    case 'deny':
      return decider() ?? allowed;
    case 'retry': {
      const refused = decider();
      if (refused || !target) return refused ?? gone;
      if (request.state !== 'failed') return allowed;
      return (
        checkAgainstPolicy(
          target,
          request.roles,
          request.durationSeconds ?? undefined,
          `${request.id} no longer fits the policy: `,
        ) ?? allowed
      );
    }
    case 'cancel':
      return isParty
        ? allowed
        : refuse(
            'NOT_ALLOWED',
            `Only the person who asked for ${request.id}, or the person it is for, can cancel it.`,
          );
    case 'end':
      return actor.id === request.granteeId || isApprover
        ? allowed
        : refuse(
            'NOT_ALLOWED',
            `Only the person who holds ${request.id}, or an approver of ${request.target.name}, can end it.`,
          );
    case 'extend': {
      if (!isParty) {
        return refuse(
          'NOT_ALLOWED',
          `Only the person who holds ${request.id}, or who asked for it, can ask to extend it.`,
        );
      }
      if (!target) return gone;
      return (
        checkAgainstPolicy(target, request.grant?.held ?? request.roles, subject.extendBySeconds, '') ??
        allowed
      );
    }
    case 'status':
      return isParty || isApprover
        ? allowed
        : refuse(
            'NOT_ALLOWED',
            `${request.id} is not yours to see: only its requester, its grantee and the approvers of its target can.`,
          );
    case 'view-roles':
      return actor.id === request.granteeId || isApprover
        ? allowed
        : refuse(
            'NOT_ALLOWED',
            `Only the person it is for and the approvers of ${request.target.name} can see their current roles.`,
          );
    case 'request':
    case 'list':
      return refuse('INTERNAL', `${action} is not about an existing request.`);
  }
}

function authorizeDraft(actor: Actor, line: RequestLine, grantee: Actor, policy: Policy): Decision {
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
  const policyRefusal = checkAgainstPolicy(target, line.roles, line.durationSeconds, '');
  if (policyRefusal) return policyRefusal;
  if (grantee.id !== actor.id) {
    if (!target.approvers.includes(actor.id)) {
      return refuse(
        'NOT_ALLOWED',
        `Only the approvers of ${target.name} can ask for access for someone else; ask for yourself, or ask them.`,
      );
    }
    if (grantee.standing !== 'member') {
      return refuse(
        'NOT_ALLOWED',
        `The person you asked for can’t be given access: their Slack account ${STANDING_WORDS[grantee.standing]}.`,
      );
    }
  }
  return { allowed: true, target };
}
