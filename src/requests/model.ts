import type { Scope } from '../policy/policy.js';

/** Where a request is in its life; see TRANSITIONS in state-machine.ts. */
export type RequestState =
  | 'pending'
  | 'approved'
  | 'applying'
  | 'applied'
  | 'revoking'
  | 'revoked'
  | 'denied'
  | 'expired'
  | 'cancelled'
  | 'failed'
  | 'revoke_failed';

/** The org or project a request is about, copied from the policy when it was made. */
export interface TargetRef {
  readonly name: string;
  readonly scope: Scope;
  readonly id: string;
}

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
  /** Roles the grant adds; exactly these are removed on revocation. */
  readonly added: readonly string[];
}

/** The outcome of applying a grant. */
export interface GrantResult {
  readonly rolesAfter: readonly string[];
  readonly appliedAt: number;
  /** When a temporary grant ends (ms since epoch); null for permanent grants. */
  readonly revokeAt: number | null;
}

/** The outcome of revoking a temporary grant. */
export interface RevokeResult {
  readonly removed: readonly string[];
  readonly rolesAfter: readonly string[];
  readonly revokedAt: number;
}

/** Why a request ended in failed or revoke_failed, in words for Slack. */
export interface Failure {
  readonly code: string;
  readonly message: string;
  readonly at: number;
}

/** One access request, as stored in Redis. */
export interface AccessRequest {
  readonly id: string;
  readonly state: RequestState;
  readonly requesterId: string;
  readonly granteeId: string;
  readonly granteeEmail: string;
  readonly target: TargetRef;
  readonly roles: readonly string[];
  /** null = permanent. */
  readonly durationSeconds: number | null;
  readonly reason: string;
  readonly createdAt: number;
  readonly updatedAt: number;
  /** The channel the request was typed in, if any. */
  readonly sourceChannelId: string | null;
  /** The grantee's roles on the target when the request was made; null when Atlas could not be read. */
  readonly rolesAtRequest: readonly string[] | null;
  readonly approvalMessage: MessageRef | null;
  readonly decision: Decision | null;
  readonly plan: ChangePlan | null;
  readonly grant: GrantResult | null;
  readonly revocation: RevokeResult | null;
  readonly failure: Failure | null;
  /** 1, plus one for every Retry an approver pressed; part of job ids so a retry is new work. */
  readonly attempt: number;
}

/** The fields a caller provides to create a request; the store fills in the rest. */
export type RequestDraft = Pick<
  AccessRequest,
  | 'requesterId'
  | 'granteeId'
  | 'granteeEmail'
  | 'target'
  | 'roles'
  | 'durationSeconds'
  | 'reason'
  | 'sourceChannelId'
  | 'rolesAtRequest'
>;

/** Fields that may change after creation. */
export type RequestPatch = Partial<
  Pick<
    AccessRequest,
    'approvalMessage' | 'decision' | 'plan' | 'grant' | 'revocation' | 'failure' | 'attempt'
  >
>;

/** One line of a request's audit trail. */
export interface AuditEntry {
  readonly requestId: string;
  readonly from: RequestState | null;
  readonly to: RequestState;
  /** Slack user id, or `system`. */
  readonly actor: string;
  readonly at: number;
  readonly detail: string;
}
