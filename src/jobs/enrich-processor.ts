import type { Job } from 'bullmq';
import { checkFederatedGrant } from '../access/federation-check.js';
import type { PolicyGate } from '../access/policy-gate.js';
import type { AtlasDatabaseAccessApi } from '../atlas/database-access-api.js';
import { isAppError } from '../errors.js';
import type { LedgerStore } from '../grants/ledger-store.js';
import { isDatabaseItem } from '../lib/access-items.js';
import type { Logger } from '../ops/logger.js';
import {
  autoApprovalNote,
  onCallListsOf,
  type Policy,
  type PolicyTarget,
  requirementsOf,
  targetOf,
} from '../policy/policy.js';
import { type Assessment, assessRequest, type GranteeAccess } from '../requests/assess.js';
import type { AutoApproval, Lifecycle } from '../requests/lifecycle.js';
import type { AccessRequest, DatabaseGrant } from '../requests/model.js';
import { onCallSchedulesOf } from '../requests/on-call-approver.js';
import type { AccessReader, Directory } from '../requests/ports.js';
import type { RequestReader } from '../requests/request-reader.js';
import type { RequestServiceDeps } from '../requests/service-deps.js';
import { withdrawOtherParts } from './bundle-parts.js';
import { checkDatabaseRequest } from './database-check.js';
import type { ProcessorOutcome } from './processor-support.js';
import type { RequestJob } from './queues.js';
import { asFiled } from './start-check.js';

/** Dependencies of {@link createEnrichProcessor}. */
export interface EnrichDeps {
  /** The policy in force now (auto-approval rules). */
  readonly policy: () => Policy;
  /** The decision point: break-glass and auto-approval are checked again before they grant. */
  readonly gate: PolicyGate;
  /** Who the requester is to Slack now. */
  readonly directory: Directory;
  /** Reads requests; every write goes through `lifecycle`. */
  readonly store: Pick<RequestReader, 'get'>;
  readonly lifecycle: Lifecycle;
  readonly ledgers: LedgerStore;
  readonly accessReader: AccessReader;
  /**
   * Who is on call now for a rule's schedules (PagerDuty, Opsgenie; adapter: oncall/); never throws,
   * answers "not on call" when a provider cannot answer. Absent: on-call rules approve nobody.
   */
  readonly onCall?: RequestServiceDeps['onCall'];
  /** Temporary database users (Atlas v2 only): a `db:` request is checked against them. */
  readonly database?: AtlasDatabaseAccessApi;
  readonly logger: Logger;
  readonly now?: () => number;
}

/**
 * The Atlas half of filing a request, in a worker (the Slack-facing process holds no Atlas key): reads
 * the grantee's access on the target and the ledger, then moves `submitted` -> `pending` (the approval
 * message is posted and the requester told, through notify jobs) or -> `refused` with the reason in
 * words. When Atlas stays unreachable past the job's attempts, the request goes ahead and the approval
 * message says the current roles are unknown, as before; the worker re-reads Atlas before any change.
 */
export function createEnrichProcessor(deps: EnrichDeps) {
  const now = deps.now ?? Date.now;

  const refuse = async (request: AccessRequest, code: string, message: string): Promise<ProcessorOutcome> => {
    const moved = await deps.lifecycle.refused(request.id, {
      actor: 'system',
      detail: message,
      patch: { failure: { code, message, at: now() } },
    });
    if (!moved.ok) return { skipped: moved.current.state };
    deps.logger.info('request refused after reading Atlas', { requestId: request.id, code });
    await withdrawOtherParts(deps, request, message);
    return { done: 'refused' };
  };

  /**
   * Whether a request goes ahead without approvers: a break-glass grant, or a request someone made for
   * themselves whose every role a rule approves automatically (one made for someone else always waits
   * for an approver, so the grantee's "Not me" still means something). Checked again here, under the
   * policy and the Slack user groups of now, as at submission: either may have changed since. A worker
   * acts on no Slack payload, so on an org-wide install it cannot read user groups (Slack needs the
   * workspace): an auto-approval it cannot confirm waits for an approver (`unconfirmed` says why), and
   * a break-glass grant is refused in words.
   */
  const verdictOf = async (
    request: AccessRequest,
  ): Promise<
    | { readonly approve: string | null }
    | 'wait'
    | { readonly unconfirmed: string }
    | { readonly code: string; readonly reason: string }
  > => {
    const target = targetOf(deps.policy(), request.target);
    // A bundle is decided once, by a person who may approve every part: never automatically.
    if (!target || request.bundle !== null) return 'wait';
    const forSelf = !request.breakGlass && request.requesterId === request.granteeId;
    const byRule = forSelf && requirementsOf(target, request.roles).autoApprove;
    // A rule that lets whoever is on call through: asked of the providers now, failing closed.
    const onCall = forSelf && !byRule ? await onCallNoteOf(request, target) : null;
    const auto = byRule || onCall !== null;
    if (!request.breakGlass && !auto) return 'wait';
    const { requester, draft } = await asFiled(deps.directory, request, target);
    // It approves by itself: Slack user groups count only as read within USER_GROUP_MAX_AGE.
    const { verdict } = await deps.gate.ask(
      request.breakGlass ? 'break-glass' : 'request',
      requester,
      { draft, grantee: requester },
      { decision: true },
    );
    if (verdict.allowed) return { approve: onCall };
    if (verdict.code === 'USER_GROUP_UNCONFIRMED' && !request.breakGlass) {
      deps.logger.warn('an auto-approval could not be confirmed; the request waits for an approver', {
        requestId: request.id,
        reason: verdict.reason,
      });
      return { unconfirmed: verdict.reason };
    }
    return { code: verdict.code, reason: verdict.reason };
  };

  /**
   * Where the organization maps identity-provider groups to roles, Atlas undoes one person's roles at
   * their next SSO login: such a grant is refused now, in words that say what to ask for instead.
   */
  const refuseFederated = (request: AccessRequest, access: GranteeAccess): void => {
    if (!access.roleMappings) return;
    const policy = deps.policy();
    const orgName =
      policy.targets.find((t) => t.kind === 'org' && t.id === access.roleMappings?.orgId)?.name ??
      access.roleMappings.orgId;
    const team = targetOf(policy, request.target)?.federatedTeam;
    checkFederatedGrant(
      access.roleMappings,
      {
        scope: request.target,
        targetName: request.target.name,
        orgName,
        roles: request.roles,
        granteeEmail: request.granteeEmail,
      },
      team === undefined ? {} : { team },
    );
  };

  /**
   * A `db:LEVEL` request: the grantee needs no Atlas account, only what checkDatabaseRequest reads;
   * when Atlas cannot be read after the job's attempts it is refused (nothing unchecked is granted).
   */
  const checkDatabase = async (request: AccessRequest, job: Job<RequestJob>): Promise<ProcessorOutcome> => {
    let database: DatabaseGrant;
    try {
      database = await checkDatabaseRequest(request, { ...deps, now });
    } catch (error) {
      if (!isAppError(error)) throw error;
      if (error.retryable && job.attemptsMade + 1 < (job.opts.attempts ?? 1)) throw error;
      return refuse(request, error.code, error.message);
    }
    const verdict = await verdictOf(request);
    if (typeof verdict === 'object' && 'code' in verdict)
      return refuse(request, verdict.code, verdict.reason);
    const moved = await deps.lifecycle.checked(
      request.id,
      {
        actor: 'system',
        detail: `checked against Atlas: database user ${database.username} (${database.auth})`,
        patch: { database, rolesAtRequest: [], holdersAtRequest: [], addsToProject: false },
      },
      autoApprovalOf(request, verdict),
    );
    if (!moved.ok) return { skipped: moved.current.state };
    return outcomeOf(moved.request);
  };

  /**
   * "<@U…> is on call for payments-primary (PagerDuty)" when the requester is on call now for a
   * schedule of every on-call rule their items fall under; null otherwise (or with no providers).
   */
  const onCallNoteOf = async (request: AccessRequest, target: PolicyTarget): Promise<string | null> => {
    const lists = onCallListsOf(target, request.roles, 'requester');
    if (!lists || !deps.onCall) return null;
    const schedules = await onCallSchedulesOf(deps.onCall, request.granteeEmail, lists);
    return schedules === null ? null : `<@${request.requesterId}> is on call for ${schedules}`;
  };

  /** An approval by policy (or break-glass) for a request that goes ahead without approvers. */
  const autoApprovalOf = (
    request: AccessRequest,
    verdict: Awaited<ReturnType<typeof verdictOf>>,
  ): AutoApproval | null => {
    if (typeof verdict !== 'object' || !('approve' in verdict)) return null;
    const policy = deps.policy();
    const target = targetOf(policy, request.target);
    if (!target) return null;
    const by = request.breakGlass ? request.requesterId : 'policy';
    const detail = request.breakGlass
      ? 'break-glass: granted at once, without a decision'
      : verdict.approve !== null
        ? `approved: ${verdict.approve}`
        : autoApprovalNote(target, request.roles);
    return { by, detail, policyVersion: policy.version };
  };

  /** What a posted request became: approved at once (break-glass, by policy) or waiting for approvers. */
  const outcomeOf = (request: AccessRequest): ProcessorOutcome =>
    request.state === 'approved'
      ? { done: request.breakGlass ? 'break-glass' : 'auto-approved' }
      : { done: 'pending' };

  return async (job: Job<RequestJob>): Promise<ProcessorOutcome> => {
    const request = await deps.store.get(job.data.requestId);
    if (!request) return { skipped: 'request no longer stored' };
    // Read already (a crash after the move to pending): finish what followed it.
    if (request.state === 'pending' && request.extends === null) {
      // A policy refusal now leaves it to the approvers: it may already have been posted to them.
      const verdict = request.approvals.length === 0 ? await verdictOf(request) : 'wait';
      return outcomeOf(await deps.lifecycle.post(request, autoApprovalOf(request, verdict)));
    }
    if (request.state !== 'submitted') return { skipped: request.state };
    if (request.roles.some(isDatabaseItem)) return checkDatabase(request, job);
    let access: GranteeAccess | null = null;
    try {
      access = await deps.accessReader.readAccess(request.granteeEmail, request.target, request.roles);
    } catch (error) {
      if (!isAppError(error)) throw error;
      // About the person (no Atlas user, not in the organization), or a target Atlas no longer has:
      // the request cannot go ahead.
      if (
        error.code === 'ATLAS_USER_NOT_FOUND' ||
        error.code === 'ATLAS_NOT_A_MEMBER' ||
        error.code === 'ATLAS_TARGET_GONE'
      ) {
        return refuse(request, error.code, error.message);
      }
      // About Rolecall or Atlas (an outage, refused credentials): not the requester's doing. After the
      // job's attempts it goes ahead with the roles unknown; the worker reads Atlas again before any
      // change, and approvers see that failure with a Retry button.
      if (error.retryable && job.attemptsMade + 1 < (job.opts.attempts ?? 1)) throw error;
      deps.logger.error('could not read current roles; the request goes ahead with them unknown', {
        requestId: request.id,
        error,
      });
    }
    let assessment:
      | Assessment
      | (Pick<
          Assessment,
          'holdersAtRequest' | 'addsToProject' | 'rolesThroughTeamsAtRequest' | 'teamAccess'
        > & {
          rolesAtRequest: null;
          atlasUserId: null;
        }) = {
      rolesAtRequest: null,
      atlasUserId: null,
      holdersAtRequest: [],
      addsToProject: false,
      rolesThroughTeamsAtRequest: [],
      teamAccess: [],
    };
    if (access !== null) {
      try {
        refuseFederated(request, access);
        assessment = assessRequest({
          granteeEmail: request.granteeEmail,
          target: request.target,
          roles: request.roles,
          durationSeconds: request.durationSeconds,
          access,
          ledger: await deps.ledgers.read(request.granteeEmail, request.target),
          now: now(),
        });
      } catch (error) {
        if (!isAppError(error)) throw error;
        return refuse(request, error.code, error.message);
      }
    }
    const verdict = await verdictOf(request);
    if (typeof verdict === 'object' && 'code' in verdict) {
      return refuse(request, verdict.code, verdict.reason);
    }
    const checked =
      access === null ? 'current roles unknown: Atlas could not be read' : 'checked against Atlas';
    const moved = await deps.lifecycle.checked(
      request.id,
      {
        actor: 'system',
        detail:
          typeof verdict === 'object' && 'unconfirmed' in verdict
            ? `${checked}; not approved automatically: ${verdict.unconfirmed}`
            : checked,
        patch: assessment,
      },
      autoApprovalOf(request, verdict),
    );
    if (!moved.ok) return { skipped: moved.current.state };
    return outcomeOf(moved.request);
  };
}
