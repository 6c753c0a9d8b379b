import type { AppErrorCode } from '../errors.js';
import type { TargetRef } from '../lib/scope.js';
import type { PolicyTarget, Principal } from '../policy/policy.js';
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

/** Someone in Slack as Rolecall sees them now: who they are to the policy, and their Atlas username. */
export interface Person extends Actor {
  /** Lower case (Atlas usernames are); null when Slack does not share it. */
  readonly email: string | null;
  /** Their time zone (IANA, Slack's `tz`), for a start they type as a time of day; absent = unknown. */
  readonly timeZone?: string;
}

/** The subject of a review action: for `review-decide`, the role on the line and whether it is the actor's own. */
export interface ReviewSubject {
  readonly review: TargetRef;
  readonly role?: string;
  /** The line is the actor's own access (their Slack email is its Atlas username). */
  readonly own?: boolean;
}

/** The subject of an offboarding action. */
export interface OffboardingSubject {
  readonly offboarding: {
    /** The offboarding's id, once it exists (a refusal to decide it is recorded against it). */
    readonly id?: string;
    /** Who asked for it; null while it is being asked for. */
    readonly requesterId: string | null;
    /** It removes the actor themselves. */
    readonly own: boolean;
  };
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
  /** A review of a target. */
  | ReviewSubject
  /** An offboarding: who asked, and whether it removes the actor themselves. */
  | OffboardingSubject
  /** `list`: about nobody in particular. */
  | null;

/** A refusal, in words for the person refused. */
export interface Refused {
  readonly allowed: false;
  readonly code: AppErrorCode;
  readonly reason: string;
  /** Who may do it instead, when that helps the person (rendered as mentions). */
  readonly who?: readonly Principal[];
}

/** authorize's verdict: allowed (with the policy target it was decided under), or refused and why. */
export type Verdict = { readonly allowed: true; readonly target: PolicyTarget | null } | Refused;

/** Builds a refusal; `who` only when given, so an equal refusal compares equal. */
export function refuse(code: AppErrorCode, reason: string, who?: readonly Principal[]): Refused {
  return who === undefined ? { allowed: false, code, reason } : { allowed: false, code, reason, who };
}
