import type { Person } from '../access/actions.js';
import type { TargetRef } from '../lib/scope.js';
import type { GranteeAccess } from './assess.js';
import type { AccessRequest, MessageRef } from './model.js';

/** Something Slack should hear about a request; each is delivered once per attempt (and round). */
export type RequestEvent =
  /** Checked against Atlas and posted for approval (or, for an extension, posted at once). */
  | 'pending'
  /** Checked against Atlas and found unable to go ahead; the requester is told why. */
  | 'refused'
  | 'approved'
  | 'denied'
  | 'applied'
  | 'failed'
  | 'revoked'
  | 'revoke_failed'
  | 'expired'
  | 'cancelled'
  /** One approval of several needed: the approval message shows the progress. */
  | 'approval'
  /** An approver acknowledged a break-glass grant. */
  | 'acknowledged'
  /** A role this request held was removed in Atlas by hand. */
  | 'drift'
  /** The grant ends soon (REMIND_BEFORE): Extend or End now. */
  | 'reminder'
  /** An extension request moved this grant's end. */
  | 'extended'
  /**
   * An approved grant waits for Atlas's rate limit while revocations go first; the notice's round is
   * the expected wait in seconds.
   */
  | 'waiting'
  /** A pending request's approvers reminded (`remindApprovers:`); the round is the reminder's number. */
  | 'approvers-reminded'
  /** A pending request escalated to its fallback approvers (`escalate:`): they may decide now. */
  | 'escalated'
  /** The requester nudged the approvers of their pending request (`/atlas-access nudge`), once. */
  | 'nudged';

/** Where a notice about a request goes (requests/follow-ups.ts decides which for each event). */
export type Delivery =
  | 'approval-message'
  | 'thread'
  | 'requester'
  | 'grantee'
  /** The Workflow Builder step that made the request: completed with its outcome. */
  | 'workflow'
  /** A direct message to one approver, by user id (reminders, escalation, nudges). */
  | ApproverDelivery;

/** A direct message to the approver `approver-<user id>` (no `:`: it is part of a BullMQ job id). */
export type ApproverDelivery = `approver-${string}`;

/** The delivery that DMs approver `userId`. */
export function approverDelivery(userId: string): ApproverDelivery {
  return `approver-${userId}`;
}

/** Whether a delivery DMs one approver (and which: the user id after `approver-`). */
export function isApproverDelivery(delivery: Delivery): delivery is ApproverDelivery {
  return delivery.startsWith('approver-');
}

/**
 * Schedules and drops the reminders and the escalation of a request waiting for a decision (adapter:
 * jobs/approver-chase-queue.ts); job ids are fixed per request and round, so scheduling twice (a
 * retry, a restart) never doubles one.
 */
export interface ApproverChaseQueue {
  /** Schedules what the policy says for `request`, now pending: reminders and the escalation. */
  start(request: AccessRequest): Promise<void>;
  /** Drops what still waits for a request decided, expired or withdrawn. */
  stop(requestId: string): Promise<void>;
}

/**
 * Queues background work (adapter: jobs/work-queue.ts, on BullMQ); every call is idempotent for the
 * same arguments. Only requests/lifecycle.ts tells it what follows a move.
 */
export interface WorkQueue {
  /** Reads the grantee's Atlas access for a submitted request, then posts it, refuses it, or approves it by policy. */
  enrich(requestId: string): Promise<void>;
  /** Changes Atlas for this attempt, at `at` (ms since epoch: a scheduled start) or now. */
  apply(requestId: string, attempt: number, at?: number): Promise<void>;
  /** Drops a scheduled apply that still waits for its start (the request was cancelled before it). */
  forgetApply(requestId: string, attempt: number): Promise<void>;
  /**
   * Revokes at `at` (ms since epoch), or now. A revocation already scheduled for the same attempt is
   * moved (an extension, End now), never doubled.
   */
  revoke(requestId: string, attempt: number, at?: number): Promise<void>;
  /** Expires the request at `at` if nobody has decided by then. */
  expire(requestId: string, at: number): Promise<void>;
  /** Drops the expiry of a request that has been decided, if it still waits (it would find nothing to do). */
  forgetExpiry(requestId: string): Promise<void>;
  /** Reminds the grantee REMIND_BEFORE ahead of `endsAt` (ms); nothing when that is already past or reminders are off. */
  remind(requestId: string, endsAt: number): Promise<void>;
  /** Drops the reminder for `endsAt`, if one is waiting. */
  forgetReminder(requestId: string, endsAt: number): Promise<void>;
  /**
   * Tells each of `deliveries` about `event`, for the request as it stands after it; `round` tells
   * repeats of one event apart.
   */
  notify(
    request: AccessRequest,
    event: RequestEvent,
    deliveries: readonly Delivery[],
    round?: string,
  ): Promise<void>;
}

/**
 * Posts one notice to Slack (adapter: slack/notifier.ts). Throws AppError: `retryable` false for
 * errors a retry cannot fix, `details.retryAfterMs` when Slack asked to wait.
 */
export interface Notifier {
  /**
   * Posts or updates; returns the approval message when it was posted just now (event `pending`).
   * `round` is the notice's round (for `waiting`, the expected wait in seconds).
   */
  deliver(
    request: AccessRequest,
    event: RequestEvent,
    delivery: Delivery,
    round?: string,
  ): Promise<MessageRef | undefined>;
}

/** Reads a person's Atlas access on a target (adapter: compose/atlas-access.ts, in workers only). */
export interface AccessReader {
  /** Throws AppError: retryable when Atlas cannot be reached, else why the person cannot be found. */
  /**
   * `items`: what the request asks for; for the teams among them, what each gives on the policy's
   * projects is read too.
   */
  readAccess(email: string, target: TargetRef, items: readonly string[]): Promise<GranteeAccess>;
}

/** A person's roles on a target as the request form shows them, and where they were read. */
export interface ShownRoles {
  readonly roles: readonly string[];
  readonly source: 'atlas' | 'rolecall';
}

/**
 * A person's current roles on a target, for the request form: read from Atlas where this process may
 * (bot and worker in one process), else the roles Rolecall holds for them (a bot holds no Atlas key).
 */
export interface CurrentRoles {
  /** Never throws: null when nothing could be read in time. */
  readRoles(email: string, target: TargetRef): Promise<ShownRoles | null>;
}

/** Who a Slack user is now (adapter: slack/directory.ts, users.info): asked again before anything grants access. */
export interface Directory {
  /**
   * The person behind a user id. `payloadTeamId` is the team the payload came from, kept on the
   * person as `teamId`. Never throws: a failed lookup is `unknown` (fail closed).
   */
  person(userId: string, payloadTeamId?: string): Promise<Person>;
}

/** Why Slack could not confirm the members of a user group. */
export type UnconfirmedReason =
  /** Slack failed (an outage, a rate limit), and the members seen last are too old or were never seen. */
  | 'unreachable'
  /** An org-wide install reads a group within one workspace, and the check came from none (a worker). */
  | 'no-workspace';

/** The members of the user groups asked for. */
export interface GroupMembers {
  /** Each group whose members are known; a disabled or deleted group is here, empty (nobody). */
  readonly known: ReadonlyMap<string, ReadonlySet<string>>;
  /** Each group whose members Slack could not confirm, and why: nothing may be decided on it. */
  readonly unconfirmed: ReadonlyMap<string, UnconfirmedReason>;
}

/** Slack user groups and their members (adapter: slack/user-groups.ts, usergroups.users.list). */
export interface UserGroups {
  /**
   * The members of each group. `fresh` (a decision): members read within the configured bound,
   * else unconfirmed when Slack cannot answer; otherwise the last members seen will do.
   * `teamId` is the workspace the action came from (an org-wide install reads groups there).
   */
  members(
    groupIds: readonly string[],
    options: { readonly fresh: boolean; readonly teamId?: string | undefined },
  ): Promise<GroupMembers>;
}

/** Publishes a person's Home tab (adapter: slack/home.ts, views.publish). */
export interface HomeTab {
  publish(userId: string): Promise<unknown>;
}
