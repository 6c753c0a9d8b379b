import { AppError } from '../errors.js';
import { isDatabaseItem } from '../lib/access-items.js';
import { formatDuration } from '../lib/duration.js';
import { ATLAS_ID } from '../lib/patterns.js';
import type { TargetRef } from '../lib/scope.js';
import { type ApproverChase, combineChases, type Escalation, isEscalated } from './approver-chase.js';
import { combineTicketRules, mergeTicketRules, type TicketRequirement, type TicketRule } from './tickets.js';

/**
 * Someone the policy names: a Slack user id (`U…`, `W…`), a Slack user group id (`S…`), or the name
 * of an entry of the policy's `groups:`.
 */
export type Principal = string;

/** An on-call schedule a rule names (`onCall:`): a PagerDuty or Opsgenie schedule id. */
export interface OnCallSchedule {
  readonly provider: 'pagerduty' | 'opsgenie';
  readonly id: string;
}

/** Per-role rules of a target (policy `rules:`); for each role the first rule naming it applies. */
export interface RoleRule extends ApproverChase {
  /** 1-based position in the target's `rules:`, for messages and the audit ("rule 2"). */
  readonly position: number;
  readonly roles: readonly string[];
  /** No human decision: approved by the policy, still posted, audited and revoked on time. */
  readonly autoApprove: boolean;
  /** Distinct approvers needed. */
  readonly approvals: number;
  /** Who decides these roles instead of the target's approvers; undefined = the target's. */
  readonly approvers: readonly Principal[] | undefined;
  /** Longest grant for these roles, in seconds, replacing the target's; undefined = the target's. */
  readonly maxDurationSeconds: number | undefined;
  /** Who may grant themselves these roles in an emergency (`/atlas-access breakglass`). */
  readonly breakGlass: readonly Principal[];
  /** Schedules whose person on call now is approved at once when asking for themselves (`onCall:`). */
  readonly onCall?: readonly OnCallSchedule[];
  /** Who being on call lets through (`onCallApproves:`): the requester (approved at once) or an approver (alone). */
  readonly onCallApproves?: 'requester' | 'approver';
  /** What these roles need of a ticket (`ticket:`), its keys over the target's; undefined = the target's. */
  readonly ticket?: TicketRule | undefined;
}

/** One database access level of a project (`database.levels`): MongoDB roles on the clusters named. */
export interface DatabaseLevel {
  readonly roles: readonly {
    readonly role: string;
    readonly db: string;
    readonly collection?: string | undefined;
  }[];
  readonly clusters: readonly string[];
}

/** What a project offers as temporary database access (`database:`). */
export interface DatabaseOffer {
  readonly levels: Readonly<Record<string, DatabaseLevel>>;
  readonly auth: 'password' | 'oidc' | 'aws-iam';
  readonly oidcIdentityProvider?: string;
  readonly awsIamPrincipal?: string;
  /** `ask`: the grantee gives an address for the project's IP access list; `none`: managed elsewhere. */
  readonly accessList: 'ask' | 'none';
}

/** One org or project people may ask for roles on, and who decides (reminders, escalation: ApproverChase). */
export interface PolicyTarget extends TargetRef, ApproverChase {
  /** Who approves: users, user groups, group names. */
  readonly approvers: readonly Principal[];
  /**
   * What may be requested on this target: Atlas roles, and on an organization its teams as `team:NAME`
   * items (lib/access-items.ts), which rules, approvers and maxDuration treat like roles.
   */
  readonly roles: readonly string[];
  /** Longest temporary grant, in seconds; undefined = no limit and permanent grants allowed. */
  readonly maxDurationSeconds: number | undefined;
  /** Where its approval messages go (the target's own, else the policy's). */
  readonly approvalsChannel: string;
  /** Who may ask; undefined = every full member of the workspace. */
  readonly requesters: readonly Principal[] | undefined;
  /** Who may ask for someone else; undefined = the approvers. */
  readonly onBehalf: readonly Principal[] | undefined;
  readonly rules: readonly RoleRule[];
  /** How often an access review runs here, in seconds (`review:`); undefined = only on demand. */
  readonly reviewEverySeconds: number | undefined;
  /** Temporary database access (`database:`, project targets); its levels are `db:LEVEL` items in `roles`. */
  readonly database?: DatabaseOffer | undefined;
  /** The team to ask for instead of per-person roles where Atlas federation maps roles (`federatedTeam:`). */
  readonly federatedTeam?: string | undefined;
  /** What a request here needs of a ticket (`ticket:`); undefined = nothing. */
  readonly ticket?: TicketRule | undefined;
}

/** The validated policy file. */
export interface Policy {
  readonly approvalsChannel: string;
  /** Named lists of users and user groups (`groups:`). */
  readonly groups: Readonly<Record<string, readonly Principal[]>>;
  readonly targets: readonly PolicyTarget[];
  /** The first 12 hex characters of the file's sha256: which policy a decision was made under. */
  readonly version: string;
  /** Who may ask to offboard a person (`offboarders:`); [] = nobody. */
  readonly offboarders: readonly Principal[];
  /** Who approves an offboarding (`offboardApprovers:`); undefined = every target's approvers. */
  readonly offboardApprovers: readonly Principal[] | undefined;
  /** Named bundles of items across targets (`bundles:`), in file order; absent = none. */
  readonly bundles?: readonly PolicyBundle[];
}

/** One part of a bundle: the items it asks for on one target (the file's entries grouped by target). */
export interface PolicyBundlePart {
  readonly target: PolicyTarget;
  readonly items: readonly string[];
}

/** A named bundle (`bundles:`): one request for items on several targets, decided once, ended together. */
export interface PolicyBundle {
  readonly name: string;
  /** One part per target, in the order the file first names each target. */
  readonly parts: readonly PolicyBundlePart[];
}

/** Looks a bundle up by name (case-insensitive). */
export function findBundle(policy: Policy, name: string): PolicyBundle | undefined {
  const key = name.trim().toLowerCase();
  return (policy.bundles ?? []).find((b) => b.name === key);
}

/** Looks a target up by its policy name (case-insensitive) or its 24-hex Atlas id. */
export function findTarget(policy: Policy, nameOrId: string): PolicyTarget | undefined {
  const key = nameOrId.trim();
  if (ATLAS_ID.test(key)) return policy.targets.find((t) => t.id === key);
  const lower = key.toLowerCase();
  return policy.targets.find((t) => t.name.toLowerCase() === lower);
}

/** The policy's entry for an org or project (a request's target as the policy says it now). */
export function targetOf(policy: Policy, ref: TargetRef): PolicyTarget | undefined {
  return policy.targets.find((t) => t.id === ref.id && t.kind === ref.kind);
}

/** What a request for some roles on a target needs, combined over its roles. */
export interface Requirements {
  /** Approved by the policy only when every role is. */
  readonly autoApprove: boolean;
  /** The largest `approvals` of its roles. */
  readonly approvals: number;
  /** The smallest maxDuration of its roles (each role's rule's, else the target's); undefined = none. */
  readonly maxDurationSeconds: number | undefined;
  /** For each role, who may decide on it: a decider must be in every one of these lists. */
  readonly approverLists: readonly (readonly Principal[])[];
  /** For each role, who may self-grant it: a break-glass grant needs the person in every list. */
  readonly breakGlassLists: readonly (readonly Principal[])[];
  /** The rules that applied, by position. */
  readonly rules: readonly number[];
  /** Its ticket: required if any item's rule or target requires one; every pattern must match. */
  readonly ticket: TicketRequirement;
  /** The shortest `remindApprovers` of its roles, in seconds; undefined = no reminders. */
  readonly remindApproversSeconds?: number | undefined;
  /** Its escalation when every role escalates (the latest `after`); each role's `to` joins its list once `escalated`. */
  readonly escalation?: Escalation | undefined;
}

/** The rule that governs `role` on `target`: the first one naming it. */
export function ruleFor(target: PolicyTarget, role: string): RoleRule | undefined {
  return target.rules.find((rule) => rule.roles.includes(role));
}

/** The longest database grant: Atlas takes a `deleteAfterDate` at most one week ahead. */
const DATABASE_MAX_SECONDS = 7 * 24 * 3600;

/**
 * Combines the rules of every requested role: auto-approved only if every role is; the largest
 * `approvals`; the smallest maxDuration (database access: at most 7 days, extensions included); a
 * decider must be an approver of every role.
 */
export function requirementsOf(
  target: PolicyTarget,
  roles: readonly string[],
  options: { readonly escalated?: boolean } = {},
): Requirements {
  const rules = roles.map((role) => ruleFor(target, role));
  const chases = rules.map((rule) => ({
    remindApproversSeconds: target.remindApproversSeconds,
    escalation: target.escalation,
    ...pickChase(rule),
  }));
  const chase = combineChases(chases);
  // Escalated (every item escalates, and the latest is due): each item's own fallback approvers.
  const fallback = (i: number) =>
    options.escalated && chase.escalation !== undefined ? (chases[i]?.escalation?.to ?? []) : [];
  const durations = rules
    .map((rule) => rule?.maxDurationSeconds ?? target.maxDurationSeconds)
    .filter((d): d is number => d !== undefined);
  // Database access never lasts longer than Atlas keeps a deleteAfterDate ahead: an extension too.
  if (roles.some(isDatabaseItem)) durations.push(DATABASE_MAX_SECONDS);
  return {
    autoApprove: rules.length > 0 && rules.every((rule) => rule?.autoApprove === true),
    approvals: Math.max(1, ...rules.map((rule) => rule?.approvals ?? 1)),
    maxDurationSeconds: durations.length > 0 ? Math.min(...durations) : undefined,
    approverLists: rules.map((rule, i) => [...(rule?.approvers ?? target.approvers), ...fallback(i)]),
    breakGlassLists: rules.map((rule) => rule?.breakGlass ?? []),
    rules: [...new Set(rules.flatMap((rule) => (rule ? [rule.position] : [])))],
    ticket: combineTicketRules(rules.map((rule) => mergeTicketRules(target.ticket, rule?.ticket))),
    ...chase,
  };
}

/** A rule's own chase settings (each replaces the target's when set). */
function pickChase(rule: RoleRule | undefined): ApproverChase {
  return {
    ...(rule?.remindApproversSeconds === undefined
      ? {}
      : { remindApproversSeconds: rule.remindApproversSeconds }),
    ...(rule?.escalation === undefined ? {} : { escalation: rule.escalation }),
  };
}

/**
 * What a stored request needs at `at`: {@link requirementsOf} its roles, with the escalation's people
 * among the approvers once it has waited long enough undecided (approver-chase.ts `isEscalated`).
 */
export function requirementsAt(
  target: PolicyTarget,
  request: { readonly roles: readonly string[]; readonly state: string; readonly createdAt: number },
  at: number,
): Requirements {
  const plain = requirementsOf(target, request.roles);
  return isEscalated(request, plain.escalation, at)
    ? requirementsOf(target, request.roles, { escalated: true })
    : plain;
}

/**
 * The on-call schedules that let a request through in `mode` (onCallApproves): one list per rule its
 * items fall under, where the person must be on call for a schedule of every list; null when an item's
 * rule names none, or lets the other party through.
 */
export function onCallListsOf(
  target: PolicyTarget,
  items: readonly string[],
  mode: 'requester' | 'approver',
): OnCallSchedule[][] | null {
  const rules = [...new Set(items.map((item) => ruleFor(target, item)))];
  if (rules.length === 0) return null;
  const lists: OnCallSchedule[][] = [];
  for (const rule of rules) {
    const schedules = rule?.onCall ?? [];
    if (schedules.length === 0 || (rule?.onCallApproves ?? 'requester') !== mode) return null;
    lists.push([...schedules]);
  }
  return lists;
}

/** The audit detail of an approval by the policy: which rules of which target approved it. */
export function autoApprovalNote(target: PolicyTarget, roles: readonly string[]): string {
  return `approved by the policy: rule ${requirementsOf(target, roles).rules.join(', ')} of ${target.name} (autoApprove)`;
}

/** Checks what a requester asks for against the target's rules; throws an AppError saying what is wrong. */
export function checkRequestAllowed(
  target: PolicyTarget,
  roles: readonly string[],
  durationSeconds: number | undefined,
): void {
  const notAllowed = roles.filter((role) => !target.roles.includes(role));
  if (notAllowed.length > 0) {
    throw new AppError(
      'ROLE_NOT_ALLOWED',
      `${notAllowed.join(', ')} cannot be requested on ${target.name}. Allowed there: ${target.roles.join(', ')}.`,
    );
  }
  checkDatabaseAsk(target, roles, durationSeconds);
  const max = requirementsOf(target, roles).maxDurationSeconds;
  if (max !== undefined) {
    if (durationSeconds === undefined) {
      throw new AppError(
        'DURATION_INVALID',
        `Access to ${roles.join(', ')} on ${target.name} must be temporary: add a duration of at most ${formatDuration(max)} (e.g. "for 4h").`,
      );
    }
    if (durationSeconds > max) {
      throw new AppError(
        'DURATION_INVALID',
        `Access to ${roles.join(', ')} on ${target.name} may last at most ${formatDuration(max)}; you asked for ${formatDuration(durationSeconds)}.`,
      );
    }
  }
}

/** Database access is asked alone, one level at a time, and always for at most 7 days. */
function checkDatabaseAsk(
  target: PolicyTarget,
  roles: readonly string[],
  durationSeconds: number | undefined,
): void {
  const levels = roles.filter(isDatabaseItem);
  if (levels.length === 0) return;
  if (levels.length > 1 || levels.length !== roles.length) {
    throw new AppError(
      'ROLE_NOT_ALLOWED',
      `Ask for database access on ${target.name} on its own, one level at a time (e.g. ${levels[0]}); ask for roles in another request.`,
    );
  }
  if (durationSeconds === undefined || durationSeconds > DATABASE_MAX_SECONDS) {
    throw new AppError(
      'DURATION_INVALID',
      `Database access on ${target.name} is always temporary and lasts at most 7d (Atlas deletes the database user itself then): ${durationSeconds === undefined ? 'add a duration, e.g. "for 2h"' : `you asked for ${formatDuration(durationSeconds)}`}.`,
    );
  }
}

/** Answers "is this person one of these principals?", with Slack user groups already resolved. */
export interface Membership {
  includes(principals: readonly Principal[], userId: string): boolean;
  /** Listed by their own user id (not through a group): how guests must be named to ask. */
  namesDirectly(principals: readonly Principal[], userId: string): boolean;
}

/** The Slack user groups (`S…`) that `principals` name, directly or through `groups:`. */
export function userGroupsIn(policy: Policy, principals: readonly Principal[]): string[] {
  return [...new Set(expandGroups(policy, principals).filter((p) => p.startsWith('S')))];
}

/** Group names replaced by their members (users and user groups), each once, in order. */
export function expandGroups(policy: Policy, principals: readonly Principal[]): Principal[] {
  return [...new Set(principals.flatMap((p) => policy.groups[p] ?? [p]))];
}

/**
 * A membership over resolved user groups: `members` maps each Slack user group id to its users; a
 * user group missing from it (never resolved) contains nobody: fail closed.
 */
export function createMembership(
  policy: Policy,
  members: ReadonlyMap<string, ReadonlySet<string>>,
): Membership {
  return {
    includes(principals, userId) {
      return expandGroups(policy, principals).some(
        (p) => p === userId || (members.get(p)?.has(userId) ?? false),
      );
    },
    namesDirectly(principals, userId) {
      return principals.includes(userId) || principals.some((p) => (policy.groups[p] ?? []).includes(userId));
    },
  };
}

/**
 * Who can decide on every one of several roles alone: the principals named (groups expanded) in every
 * approver list. When no principal is in all of them (someone may still be, through user groups), all
 * of them.
 */
export function decidersOf(policy: Policy, lists: readonly (readonly Principal[])[]): Principal[] {
  const expanded = lists.map((list) => expandGroups(policy, list));
  const common = (expanded[0] ?? []).filter((p) => expanded.every((list) => list.includes(p)));
  return common.length > 0 ? common : [...new Set(expanded.flat())];
}
