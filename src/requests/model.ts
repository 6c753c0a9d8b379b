import type { RoleHolder } from '../grants/ledger.js';
import type { RoleThroughTeam, TeamProjectAccess } from '../lib/access-items.js';
import type { TargetRef } from '../lib/scope.js';

/** Where a request is in its life; see TRANSITIONS in state-machine.ts. */
export type RequestState =
  | 'submitted'
  | 'pending'
  | 'approved'
  | 'applying'
  | 'applied'
  | 'revoking'
  | 'revoked'
  | 'denied'
  | 'expired'
  | 'cancelled'
  | 'refused'
  | 'failed'
  | 'revoke_failed';

/** A Slack message Rolecall keeps up to date. */
export interface MessageRef {
  readonly channelId: string;
  readonly ts: string;
}

/** A person's decision on a pending request. */
export interface Decision {
  readonly by: string;
  readonly at: number;
  readonly note: string | null;
}

/** What the worker decided to change, fixed before the first Atlas write so a retry converges to it. */
export interface ChangePlan {
  readonly atlasUserId: string;
  readonly rolesBefore: readonly string[];
  /** Roles this grant writes into Atlas (it owns them in the ledger from then on). */
  readonly added: readonly string[];
  /** The person was not in the project: the grant adds them to it (temporary project membership). */
  readonly addsToProject: boolean;
}

/** The outcome of applying a grant. */
export interface GrantResult {
  readonly rolesAfter: readonly string[];
  readonly appliedAt: number;
  /** When the grant ends (ms since epoch); null for permanent grants and for grants that hold nothing. */
  readonly revokeAt: number | null;
  /** Roles this request holds in the ledger: the ones it added and the ones it joined. */
  readonly held: readonly string[];
  /** Roles that other Rolecall grants already held; this one added its own holder. */
  readonly joined: readonly RoleHolder[];
  /** Roles the person held outside Rolecall; left alone now and at the end. */
  readonly outside: readonly string[];
  /** Rolecall added the person to the project for this grant. */
  readonly addedToProject: boolean;
  /** ATLAS_DRY_RUN: the writes that were not sent (`METHOD path body`); absent otherwise. */
  readonly dryRun?: readonly string[];
}

/** A later end given to a temporary grant by an approved extension request. */
export interface Extension {
  /** The extension request. */
  readonly by: string;
  /** The request whose grant it extends. */
  readonly of: string;
  readonly from: number;
  readonly to: number;
}

/** Someone ended a grant before its time (End now, Revoke now). */
export interface EarlyEnd {
  readonly by: string;
  readonly at: number;
}

/** What a revocation decided to remove, fixed before its first Atlas write. */
export interface RevokePlan {
  readonly remove: readonly string[];
  readonly leaveProject: boolean;
}

/** The outcome of ending a grant. */
export interface RevokeResult {
  /** Roles removed from Atlas. */
  readonly removed: readonly string[];
  /** Roles that stay because another Rolecall grant still covers them, with that grant. */
  readonly kept: readonly RoleHolder[];
  /** Roles that were already gone from Atlas (removed outside Rolecall). */
  readonly gone: readonly string[];
  readonly rolesAfter: readonly string[];
  readonly revokedAt: number;
  /** Rolecall removed the person from the project it had added them to. */
  readonly leftProject: boolean;
  /**
   * What no longer existed in Atlas when the grant ended (the org or project, or the person's account),
   * so there was nothing left to remove; absent for an ordinary end (and in requests stored before it).
   */
  readonly vanished?: 'target' | 'user';
}

/** A revocation that keeps failing: when it started failing and when approvers were last told. */
export interface RevokeTrouble {
  readonly since: number;
  readonly failures: number;
  readonly escalatedAt: number;
  /** When the next automatic try runs, ms since epoch. */
  readonly nextTryAt: number;
}

/** A role someone removed in Atlas by hand while this request held it. */
export interface Drift {
  readonly role: string;
  readonly at: number;
  /** When Atlas's events show a federated SSO login took it back (role mappings); absent otherwise. */
  readonly ssoLoginAt?: number;
}

/** Why a request ended in failed or revoke_failed, in words for Slack. */
export interface Failure {
  readonly code: string;
  /** In words, safe for everyone the request concerns. */
  readonly message: string;
  readonly at: number;
  /** The service's own words (Atlas `detail`: may name IP addresses and ids): approvers and logs only. */
  readonly detail?: string;
}

/**
 * Temporary database access a request asks for (`db:LEVEL`), fixed when the request is checked so the
 * approvers approve exactly this: the database user Rolecall creates and what it may do.
 */
export interface DatabaseGrant {
  readonly level: string;
  /** MongoDB roles, each on a database (and optionally one collection). */
  readonly roles: readonly {
    readonly role: string;
    readonly db: string;
    readonly collection?: string | undefined;
  }[];
  /** The clusters of the project it may reach (its scopes). */
  readonly clusters: readonly string[];
  /** How the grantee signs in: a password shown once to them, or an identity with no secret. */
  readonly auth: 'password' | 'oidc' | 'aws-iam';
  /** The database user's name (for oidc and aws-iam, the grantee's identity). */
  readonly username: string;
  /** `ask`: the grantee's address goes on the project's IP access list for the grant. */
  readonly accessList: 'ask' | 'none';
  /** The addresses (CIDR) on the access list for this grant, each with the grant's end as its deleteAfterDate. */
  readonly addresses: readonly string[];
}

/** One access request, as stored in Redis. */
export interface AccessRequest {
  readonly id: string;
  readonly state: RequestState;
  readonly requesterId: string;
  /**
   * The Slack workspace the requester asked from (on an org-wide install a worker reads user groups
   * there when it checks an automatic approval); null when Slack did not say.
   */
  readonly requesterTeamId: string | null;
  readonly granteeId: string;
  readonly granteeEmail: string;
  readonly target: TargetRef;
  readonly roles: readonly string[];
  /** null = permanent. */
  readonly durationSeconds: number | null;
  /**
   * When the grant is to start (`from 22:00`), ms since epoch: applied then, ended its duration after
   * it (scheduled-start.ts); null = at approval.
   */
  readonly startsAt: number | null;
  readonly reason: string;
  /** The change or incident ticket the requester named (`ticket OPS-123`); null = none. */
  readonly ticket: string | null;
  /** Where that ticket is read, from the policy's `ticket.url` when the request was filed; null = none. */
  readonly ticketUrl: string | null;
  readonly createdAt: number;
  readonly updatedAt: number;
  /** The channel the request was typed in, if any. */
  readonly sourceChannelId: string | null;
  /**
   * Where to tell the requester what became of the submission: the response_url of their slash
   * command or form (Slack: valid 30 minutes, 5 uses); null = by direct message.
   */
  readonly replyUrl: string | null;
  /** The grantee's roles on the target when the request was made; null when Atlas could not be read. */
  readonly rolesAtRequest: readonly string[] | null;
  /**
   * The grantee's Atlas user id, read with their roles when the request was checked; null when Atlas
   * could not be read. Lets the grant be one call where the API allows it (atlas-v2-2025).
   */
  readonly atlasUserId: string | null;
  /** Rolecall's temporary holders of the requested roles when the request was made ("asking again"). */
  readonly holdersAtRequest: readonly RoleHolder[];
  /** On a project: the roles the grantee held there through teams when the request was checked. */
  readonly rolesThroughTeamsAtRequest: readonly RoleThroughTeam[];
  /** For the teams a request asks to join: what each gives on the policy's projects, read when it was checked. */
  readonly teamAccess: readonly TeamProjectAccess[];
  /** For `db:LEVEL`: the database user it grants, fixed when it was checked; null for anything else. */
  readonly database: DatabaseGrant | null;
  /** The grantee was not in the project: approving adds them to it for the grant's duration. */
  readonly addsToProject: boolean;
  /** The grant this request extends; null for an ordinary request. */
  readonly extends: string | null;
  /**
   * For an extension: the latest the grant may end once it is applied (the time it was asked plus
   * the roles' maxDuration, and for an automatic approval the grant's start plus it), re-checked
   * when applied; null when nothing bounds it, and for ordinary requests.
   */
  readonly endsNoLaterThan: number | null;
  /** Granted at once by someone on the role's break-glass list, without a decision. */
  readonly breakGlass: boolean;
  /**
   * Who could decide it when it was made (users, user groups, group names): they can still deny it,
   * end it or retry its revocation if its target leaves the policy.
   */
  readonly approversAtRequest: readonly string[];
  /**
   * Made by a Workflow Builder step (function `request_atlas_access`): the execution to complete
   * when the request reaches its final decision; null otherwise.
   */
  readonly workflow: { readonly executionId: string } | null;
  readonly approvalMessage: MessageRef | null;
  /** The approvals given so far (a rule may need several distinct approvers). */
  readonly approvals: readonly Decision[];
  /** The decision that ended `pending`: the last approval, a denial, or `policy` (auto-approval). */
  readonly decision: Decision | null;
  /** An approver's acknowledgement of a break-glass grant. */
  readonly acknowledged: Decision | null;
  readonly plan: ChangePlan | null;
  readonly grant: GrantResult | null;
  /** Later ends given to this grant, oldest first. */
  readonly extensions: readonly Extension[];
  /** For an extension request once applied: the grant it extended, its old and new end. */
  readonly extension: Extension | null;
  readonly endedEarly: EarlyEnd | null;
  readonly revokePlan: RevokePlan | null;
  readonly revocation: RevokeResult | null;
  readonly revokeTrouble: RevokeTrouble | null;
  readonly drift: readonly Drift[];
  readonly failure: Failure | null;
  /**
   * 1, plus one for every retry (an approver's Retry, or an automatic retry of a failed revocation);
   * part of job ids so a retry is new work.
   */
  readonly attempt: number;
}

/**
 * The fields a caller provides to create a request; the store fills in the rest. What the grantee
 * holds is known later (a worker reads Atlas), except for an extension, which knows it already.
 */
export type RequestDraft = Partial<
  Pick<
    AccessRequest,
    | 'rolesAtRequest'
    | 'holdersAtRequest'
    | 'rolesThroughTeamsAtRequest'
    | 'teamAccess'
    | 'addsToProject'
    | 'breakGlass'
    | 'approversAtRequest'
    | 'workflow'
    | 'endsNoLaterThan'
    | 'requesterTeamId'
    | 'ticket'
    | 'ticketUrl'
    | 'startsAt'
  >
> &
  Pick<
    AccessRequest,
    | 'requesterId'
    | 'granteeId'
    | 'granteeEmail'
    | 'target'
    | 'roles'
    | 'durationSeconds'
    | 'reason'
    | 'sourceChannelId'
    | 'replyUrl'
    | 'extends'
  >;

/** Fields that may change after creation. */
export type RequestPatch = Partial<
  Pick<
    AccessRequest,
    | 'rolesAtRequest'
    | 'atlasUserId'
    | 'holdersAtRequest'
    | 'rolesThroughTeamsAtRequest'
    | 'teamAccess'
    | 'database'
    | 'addsToProject'
    | 'approvalMessage'
    | 'approvals'
    | 'decision'
    | 'acknowledged'
    | 'plan'
    | 'grant'
    | 'extensions'
    | 'extension'
    | 'endedEarly'
    | 'revokePlan'
    | 'revocation'
    | 'revokeTrouble'
    | 'drift'
    | 'failure'
    | 'attempt'
    | 'endsNoLaterThan'
  >
>;

/** One line of a request's audit trail: a state change, or a note (from = to) such as drift or an extension. */
export interface RequestAuditEntry {
  readonly requestId: string;
  readonly from: RequestState | null;
  readonly to: RequestState;
  /** Slack user id, `system`, or `policy` (an auto-approval). */
  readonly actor: string;
  readonly at: number;
  readonly detail: string;
  /** The policy version (sha256 prefix) a decision was made under; null for everything else. */
  readonly policy: string | null;
}
