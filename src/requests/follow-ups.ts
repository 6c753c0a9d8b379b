import type { AccessRequest, RequestState } from './model.js';
import type { Delivery, RequestEvent } from './ports.js';

/** Work a move queues (or drops) for its request; requests/lifecycle.ts runs it through the WorkQueue. */
export type Job =
  /** Read the grantee's Atlas access (a worker posts, refuses or approves it by policy next). */
  | 'enrich'
  /** Expire the request REQUEST_TTL after it was made, unless someone decides first. */
  | 'expire'
  /** Change Atlas for this attempt. */
  | 'apply'
  /** Remind the grantee REMIND_BEFORE ahead of the grant's end. */
  | 'remind'
  /** Revoke at the end (a grant), at the next try (a failed revocation), or now (End now). */
  | 'revoke'
  /** Remind the approvers and escalate while nobody decides (`remindApprovers:`, `escalate:`). */
  | 'chase';

/** What follows a request's arrival in a state: jobs queued, jobs dropped, then the notice. */
export interface FollowUps {
  readonly queue: readonly Job[];
  readonly drop: readonly Job[];
  /** The notice sent, or null for none. */
  readonly tell: RequestEvent | null;
}

const follow = (queue: readonly Job[], drop: readonly Job[], tell: RequestEvent | null): FollowUps => ({
  queue,
  drop,
  tell,
});

/**
 * What follows each move, by the state it enters (a move may tell another event: an automatic
 * approval is told as `pending`, since its approval message is posted then). The revocation of a
 * grant with an end is queued BEFORE the write that applies it, so a crash between the two still
 * ends it on time; lifecycle.ts does that, and the reminder after.
 *
 * | enters        | queue          | drop    | tell          |
 * |---------------|----------------|---------|---------------|
 * | submitted     | enrich         |         |               |
 * | pending       | expire, chase  |         | pending       |
 * | approved      | apply          | expire, chase | approved |
 * | denied        |                | expire, chase | denied   |
 * | cancelled     |                | expire, chase | cancelled |
 * | expired       |                | chase   | expired       |
 * | refused       |                |         | refused       |
 * | applying      |                |         |               |
 * | applied       | remind         |         | applied       |
 * | failed        |                |         | failed        |
 * | revoking      |                |         |               |
 * | revoked       |                |         | revoked       |
 * | revoke_failed | revoke (later) |         | revoke_failed |
 */
export const FOLLOW_UPS: Readonly<Record<RequestState, FollowUps>> = {
  submitted: follow(['enrich'], [], null),
  pending: follow(['expire', 'chase'], [], 'pending'),
  approved: follow(['apply'], ['expire', 'chase'], 'approved'),
  denied: follow([], ['expire', 'chase'], 'denied'),
  cancelled: follow([], ['expire', 'chase'], 'cancelled'),
  expired: follow([], ['chase'], 'expired'),
  refused: follow([], [], 'refused'),
  applying: follow([], [], null),
  applied: follow(['remind'], [], 'applied'),
  failed: follow([], [], 'failed'),
  revoking: follow([], [], null),
  revoked: follow([], [], 'revoked'),
  revoke_failed: follow(['revoke'], [], 'revoke_failed'),
};

/** Events that end a Workflow Builder step: the request's decision is final for the workflow. */
export const WORKFLOW_ENDS: readonly RequestEvent[] = [
  'applied',
  'denied',
  'expired',
  'cancelled',
  'failed',
  'refused',
];

/** Who is told each event. The approval message always shows the latest state. */
export function deliveriesFor(
  event: RequestEvent,
  request: Pick<AccessRequest, 'requesterId' | 'granteeId' | 'decision' | 'workflow' | 'startsAt'>,
): Delivery[] {
  const places = placesFor(event, request);
  return request.workflow !== null && WORKFLOW_ENDS.includes(event) ? [...places, 'workflow'] : places;
}

function placesFor(
  event: RequestEvent,
  request: Pick<AccessRequest, 'requesterId' | 'granteeId' | 'decision' | 'startsAt'>,
): Delivery[] {
  const people: Delivery[] =
    request.granteeId === request.requesterId ? ['requester'] : ['requester', 'grantee'];
  switch (event) {
    case 'pending':
      // On behalf of someone else: they hear about it at once, with Not me / cancel.
      return ['approval-message', ...people];
    case 'refused':
      return ['requester'];
    case 'approved':
      // A grant approved ahead of its start: the people hear when it starts, and that it can be cancelled.
      return request.startsAt === null ? ['approval-message'] : ['approval-message', 'thread', ...people];
    case 'approval':
      return ['approval-message'];
    case 'acknowledged':
      return ['approval-message', 'thread'];
    case 'cancelled': {
      // Withdrawn by Rolecall (not by the person): they did not do it, so they are told.
      const by = request.decision?.by;
      if (by === 'system') return ['approval-message', 'thread', 'requester'];
      // A scheduled grant was promised to them by DM: whoever did not call it off hears of it too.
      const others = people.filter(
        (p) => (p === 'requester' ? request.requesterId : request.granteeId) !== by,
      );
      return request.startsAt === null
        ? ['approval-message', 'thread']
        : ['approval-message', 'thread', ...others];
    }
    case 'waiting':
      // Nothing on the approval message changes: a line in its thread only.
      return ['thread'];
    case 'drift':
    case 'extended':
    case 'revoke_failed':
      return ['approval-message', 'thread'];
    case 'expired':
      return ['approval-message', 'thread', 'requester'];
    case 'reminder':
      return ['grantee'];
    case 'approvers-reminded':
    case 'nudged':
      // Each approver who is a user id is also told by DM (lifecycle.ts `chased`).
      return ['thread'];
    case 'escalated':
      return ['approval-message', 'thread'];
    default:
      return ['approval-message', 'thread', ...people];
  }
}
