import { withCallPriority } from '../atlas/call-priority.js';
import type { Missing } from '../atlas/roles-api.js';
import { AppError, isAppError } from '../errors.js';
import {
  decideRevoke,
  keeperOf,
  type Ledger,
  type LedgerOp,
  releaseOps,
  rolesHeldBy,
} from '../grants/ledger.js';
import { isTeamItem } from '../lib/access-items.js';
import type { AccessRequest, Failure, RevokePlan, RevokeTrouble } from '../requests/model.js';
import { revocationLagOf } from '../requests/revocation-lag.js';
import { sameRoles } from '../requests/role-set.js';
import { createDatabaseGrants } from './database-grants.js';
import { describeMissing, findGone } from './gone.js';
import { removeEach } from './one-call-writes.js';
import {
  closeDrift,
  createStepProcessor,
  dryRunNote,
  type ProcessorDeps,
  type ProcessorOutcome,
} from './processor-support.js';
import type { Fence } from './user-lock.js';

/**
 * Answers to a `:removeRole` that the read-first way handles: their last role there, gone from the
 * organization, or a 400 (the spec declares no 409 for an organization role that is already gone:
 * Atlas may answer 400 instead, and the read then finds it gone).
 */
const READ_FIRST_ON = [
  'WOULD_REMOVE_ALL_ROLES',
  'ATLAS_NOT_A_MEMBER',
  'ATLAS_USER_NOT_FOUND',
  'ATLAS_REJECTED',
];

/** Dependencies of {@link createRevokeProcessor}. */
export interface RevokeProcessorDeps extends ProcessorDeps {
  /** After the job's attempts, how long until the next try, in ms (REVOKE_RETRY_INTERVAL). */
  readonly retryIntervalMs: number;
  /** While it keeps failing, how often approvers hear about it again, in ms (REVOKE_ESCALATE_EVERY). */
  readonly escalateEveryMs: number;
}

/**
 * Ends a grant under the person's lock: releases the request's holders in the ledger and removes from
 * Atlas only the roles no other holder keeps (and the person from the project Rolecall added them to):
 * on atlas-v2-2025 one `:removeRole` per such role with no read before it (`removeFirst`).
 * It never gives up: after the job's attempts, or at once on an error a retry cannot fix, it records
 * revoke_failed, tries again every REVOKE_RETRY_INTERVAL, and tells the approvers when it first fails
 * and every REVOKE_ESCALATE_EVERY after that. A grant whose organization or project, or whose grantee's
 * Atlas account, no longer exists ends as revoked at once, saying so: nothing is left to remove.
 */
export function createRevokeProcessor(deps: RevokeProcessorDeps) {
  const { store, lifecycle, ledgers, atlas, logger } = deps;
  const now = deps.now ?? Date.now;
  const databaseGrants = createDatabaseGrants(deps);
  const states = {
    ready: ['applied', 'revoke_failed'],
    working: 'revoking',
    done: 'revoked',
    failed: 'revoke_failed',
  } as const;

  /** A revocation that comes before the grant's end (it was extended) waits for the new end. */
  const notBefore = (request: AccessRequest): number | undefined => {
    const end = request.grant?.revokeAt;
    if (request.state !== 'applied' || request.endedEarly !== null) return undefined;
    return typeof end === 'number' && end > now() ? end : undefined;
  };

  const onFailure = async (request: AccessRequest, failure: Omit<Failure, 'at'>): Promise<void> => {
    const at = now();
    const before = request.revokeTrouble;
    const escalate = before === null || at - before.escalatedAt >= deps.escalateEveryMs;
    const trouble: RevokeTrouble = {
      since: before?.since ?? at,
      failures: (before?.failures ?? 0) + 1,
      escalatedAt: escalate ? at : (before?.escalatedAt ?? at),
      nextTryAt: at + deps.retryIntervalMs,
    };
    const attempt = request.attempt + 1;
    await lifecycle.revokeFailed(
      request.id,
      {
        actor: 'system',
        detail: `${failure.message} (failure ${trouble.failures}; next try ${new Date(trouble.nextTryAt).toISOString()})`,
        patch: { failure: { ...failure, at }, revokeTrouble: trouble, attempt },
      },
      escalate,
    );
  };

  /** Extension requests still waiting for a decision can no longer do anything once the grant ended. */
  const withdrawExtensions = async (request: AccessRequest): Promise<void> => {
    const waiting = (await store.listPending([request.target.id])).filter((r) => r.extends === request.id);
    for (const extension of waiting) {
      await lifecycle.withdrawn(extension.id, ['pending'], `${request.id} ended before it was decided`);
    }
  };

  /**
   * Ends a grant whose target or grantee no longer exists in Atlas: nothing is left to remove, so its
   * holders are released and it is revoked in one script, audited and told once, like any end.
   */
  const endVanished = async (request: AccessRequest, missing: Missing): Promise<ProcessorOutcome> => {
    const email = request.granteeEmail;
    deps.dryRunLog?.take(request.id);
    const ledger = await ledgers.read(email, request.target);
    const held = rolesHeldBy(ledger, request.id);
    const ops: LedgerOp[] = releaseOps(ledger, request.id, held);
    if (ledger.membershipBy === request.id && !ops.some((op) => op.op === 'membership'))
      ops.push({ op: 'membership', requestId: null });
    const revokedAt = now();
    const done = await lifecycle.revoked(request.id, {
      actor: request.endedEarly?.by ?? 'system',
      detail: `${describeMissing(request, missing)}: nothing left to remove${held.length > 0 ? `; released ${held.join(', ')}` : ''}${describeLag(request, revokedAt)}`,
      patch: {
        revocation: {
          removed: [],
          kept: [],
          gone: held,
          rolesAfter: [],
          revokedAt,
          leftProject: false,
          vanished: missing,
        },
      },
      ledger: { email, target: request.target, ops, ending: { requestId: request.id, at: null } },
    });
    if (!done.ok) return { skipped: done.current.state };
    await withdrawExtensions(done.request);
    logger.info('request revoked', { requestId: request.id, vanished: missing, released: held });
    return { done: 'revoked' };
  };

  /**
   * The one-call way (atlas-v2-2025, the person's Atlas id known from the grant): each role this
   * grant was the last active holder of is one `:removeRole`, answered with the roles after it; no
   * read first. The plan is stored before the calls, as on the read-first way. `before` is null when
   * the read-first way must decide: another flavor, a dry run, a grant that added the person to the
   * project (leaving it needs their whole role list), nothing to remove, every answer a 409, or an
   * answer it cannot act on (their last role, gone from the organization); it then gets the request
   * with the stored plan.
   */
  const removeFirst = async (
    request: AccessRequest,
    fence: Fence,
  ): Promise<
    { skipped: string } | { before: readonly string[] | null; request: AccessRequest; ledger?: Ledger }
  > => {
    const single = atlas.singleRole;
    const userId = request.plan?.atlasUserId;
    if (!single || deps.dryRunLog || !userId) return { before: null, request };
    const ledger = await ledgers.read(request.granteeEmail, request.target);
    if (ledger.membershipBy === request.id) return { before: null, request };
    const at = now();
    const candidates = rolesHeldBy(ledger, request.id).filter(
      (role) => !keeperOf(ledger, role, request.id, at),
    );
    // A team's answer carries no roles to decide from: a grant of a team reads first.
    if (candidates.length === 0 || candidates.some(isTeamItem)) return { before: null, request };
    const plan: RevokePlan = {
      remove: [...new Set([...(request.revokePlan?.remove ?? []), ...candidates])],
      leaveProject: request.revokePlan?.leaveProject ?? false,
    };
    if (request.revokePlan === null || !sameRoles(plan.remove, request.revokePlan.remove)) {
      const saved = await lifecycle.revokePlanned(request.id, plan);
      if (!saved.ok) return { skipped: saved.current.state };
    }
    await fence.check();
    const answers = await removeEach(single, request.target, userId, candidates);
    if (answers.failed === null) {
      // A 409 after a try that lost its answer is most likely that try's removal: removed, not gone.
      const removedBefore = [...(request.revokePlan?.remove ?? []), ...answers.afterLostAnswer];
      const tried: RevokePlan = { ...plan, remove: [...new Set(removedBefore)] };
      return { before: answers.before, request: { ...request, revokePlan: tried }, ledger };
    }
    const { error, refused, role } = answers.failed;
    // Atlas refused the call: its role and those after it were not removed; the plan says so.
    const earlier = request.revokePlan?.remove ?? [];
    const landed: RevokePlan = {
      ...plan,
      remove: [
        ...new Set([...earlier, ...answers.changed, ...answers.afterLostAnswer, ...(refused ? [] : [role])]),
      ],
    };
    if (!sameRoles(landed.remove, plan.remove)) await lifecycle.revokePlanned(request.id, landed);
    // Their last role there, or gone from the organization: the read-first way knows what to do.
    if (isAppError(error) && READ_FIRST_ON.includes(error.code))
      return { before: null, request: { ...request, revokePlan: landed } };
    throw error;
  };

  /**
   * A team the grant held that the person no longer seems to be in, whose name no longer names a team
   * (renamed or deleted in Atlas): Rolecall cannot tell whether they left it, so it fails closed.
   */
  const refuseUnknownTeams = async (request: AccessRequest, missing: readonly string[]): Promise<void> => {
    for (const item of missing.filter(isTeamItem)) {
      if (!atlas.teamExists || (await atlas.teamExists(request.target.id, item))) continue;
      throw new AppError(
        'ATLAS_REJECTED',
        `${item} no longer names a team of ${request.target.name} in Atlas (renamed or deleted), so Rolecall cannot tell whether ${request.granteeEmail} is still in it. Check the team in Atlas and remove them by hand if it was renamed; put its new name (or its 24-hex id) in the policy's teams:.`,
      );
    }
  };

  const revoke = async (original: AccessRequest, fence: Fence): Promise<ProcessorOutcome> => {
    let request = original;
    if (request.database !== null) return databaseGrants.revoke(request, withdrawExtensions);
    // A retried attempt reports only its own writes, not a failed attempt's as well.
    deps.dryRunLog?.take(request.id);
    const scope = request.target;
    const email = request.granteeEmail;
    const oneCall = await removeFirst(request, fence);
    if ('skipped' in oneCall) return oneCall;
    let userId = request.plan?.atlasUserId ?? '';
    let current: readonly string[];
    if (oneCall.before !== null) {
      current = oneCall.before;
    } else {
      try {
        const user = await atlas.readUser(email, scope);
        userId = user.userId;
        current = user.roles;
      } catch (error) {
        // Gone from the organization (or Atlas altogether): nothing of this grant is left to remove.
        if (!isAppError(error, 'ATLAS_NOT_A_MEMBER') && !isAppError(error, 'ATLAS_USER_NOT_FOUND'))
          throw error;
        current = [];
      }
      // Holding nothing there is how a deleted project or account looks on some calls: ask.
      if (current.length === 0) {
        const missing = await findGone(atlas, request, logger);
        if (missing) return endVanished(request, missing);
      }
    }
    const written = oneCall.before !== null;
    request = oneCall.request;
    const ledger = (written ? oneCall.ledger : undefined) ?? (await ledgers.read(email, request.target));
    const decision = decideRevoke({
      requestId: request.id,
      kind: request.target.kind,
      current,
      ledger,
      alreadyRemoving: request.revokePlan?.remove ?? [],
      now: now(),
    });
    await refuseUnknownTeams(request, [...decision.gone, ...decision.drifted.map((h) => h.role)]);
    await closeDrift({ ...deps, now }, decision.drifted, {
      email,
      target: request.target,
      ledger,
      inScope: current.length > 0,
    });
    if (!written && decision.remove.length > 0 && decision.next.length === 0 && !decision.leaveProject) {
      throw new AppError(
        'WOULD_REMOVE_ALL_ROLES',
        `Removing ${decision.remove.join(', ')} would leave ${email} with no role on ${request.target.name}; Atlas requires one. Give them another role there or remove them from ${request.target.name} in Atlas, and Rolecall will finish on its next try.`,
      );
    }
    if (!written && decision.remove.length > 0) {
      const plan: RevokePlan = {
        remove: [...new Set([...(request.revokePlan?.remove ?? []), ...decision.remove])],
        leaveProject: decision.leaveProject || (request.revokePlan?.leaveProject ?? false),
      };
      if (
        request.revokePlan === null ||
        !sameRoles(plan.remove, request.revokePlan.remove) ||
        plan.leaveProject !== request.revokePlan.leaveProject
      ) {
        const saved = await lifecycle.revokePlanned(request.id, plan);
        if (!saved.ok) return { skipped: saved.current.state };
      }
      await fence.check();
      if (decision.leaveProject) {
        if (!atlas.projectMembership) {
          throw new AppError(
            'ATLAS_REJECTED',
            `Rolecall added ${email} to ${request.target.name} but this Atlas API cannot remove them; remove them in Atlas by hand.`,
          );
        }
        await atlas.projectMembership.removeFromProject(scope.id, userId);
      } else {
        await atlas.setRoles(scope, userId, current, decision.next);
      }
    }
    const leftProject =
      decision.leaveProject || ((request.revokePlan?.leaveProject ?? false) && current.length === 0);
    const ops: LedgerOp[] = releaseOps(ledger, request.id, decision.release);
    if (leftProject && !ops.some((op) => op.op === 'membership'))
      ops.push({ op: 'membership', requestId: null });
    const dryRun = deps.dryRunLog?.take(request.id);
    const revokedAt = now();
    const done = await lifecycle.revoked(request.id, {
      actor: request.endedEarly?.by ?? 'system',
      detail: `${describeRevoke(
        decision.removed,
        decision.kept.map((h) => `${h.role} (${h.requestId})`),
        decision.gone,
        leftProject,
      )}${describeLag(request, revokedAt)}${dryRun ? ` ${dryRunNote(dryRun)}` : ''}`,
      patch: {
        revocation: {
          removed: decision.removed,
          kept: decision.kept,
          gone: decision.gone,
          rolesAfter: leftProject ? [] : decision.next,
          revokedAt,
          leftProject,
        },
      },
      ledger: { email, target: request.target, ops, ending: { requestId: request.id, at: null } },
    });
    if (!done.ok) return { skipped: done.current.state };
    await withdrawExtensions(done.request);
    logger.info('request revoked', {
      requestId: request.id,
      removed: decision.removed,
      kept: decision.kept.map((h) => h.role),
      leftProject,
    });
    return { done: 'revoked' };
  };

  return createStepProcessor(
    deps,
    states,
    async (request, fence) => {
      try {
        // Access that must end goes first when Atlas's rate limit is short, the earliest end first.
        const end = request.endedEarly?.at ?? request.grant?.revokeAt ?? now();
        const due = Math.min(end, now());
        return await withCallPriority({ kind: 'revocation', due }, () => revoke(request, fence));
      } catch (error) {
        // A 404 (the project deleted since the read, say): gone things end the grant, never loop.
        const missing = await findGone(atlas, request, logger, error);
        if (!missing) throw error;
        return endVanished(request, missing);
      }
    },
    { notBefore, onFailure },
  );
}

function describeRevoke(
  removed: readonly string[],
  kept: readonly string[],
  gone: readonly string[],
  leftProject: boolean,
): string {
  const parts: string[] = [];
  if (removed.length > 0) parts.push(`removed ${removed.join(', ')}`);
  if (leftProject) parts.push('removed from the project');
  if (kept.length > 0) parts.push(`kept, still held by other grants: ${kept.join(', ')}`);
  if (gone.length > 0) parts.push(`already gone: ${gone.join(', ')}`);
  return parts.join('; ') || 'nothing was held any more';
}

/** The revocation's lag for its audit entry: "; 0.42 s after its end" (or before it, which would be a bug). */
function describeLag(request: AccessRequest, removedAt: number): string {
  const lag = revocationLagOf(request, removedAt);
  if (lag === undefined) return '';
  return `; ${(Math.abs(lag) / 1000).toFixed(2)} s ${lag >= 0 ? 'after' : 'BEFORE'} its end`;
}
