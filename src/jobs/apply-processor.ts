import type { ScopedUser } from '../atlas/roles-api.js';
import { AppError, isAppError } from '../errors.js';
import { decideApply, type LedgerOp, rolesHeldBy } from '../grants/ledger.js';
import type { AccessRequest, ChangePlan } from '../requests/model.js';
import { sameRoles } from '../requests/role-set.js';
import { findGone, goneError } from './gone.js';
import {
  closeDrift,
  createStepProcessor,
  dryRunNote,
  type ProcessorDeps,
  type ProcessorOutcome,
} from './processor-support.js';
import type { Fence } from './user-lock.js';

/**
 * Applies an approved request under the person's lock. Against the ledger it decides, role by role,
 * what to write into Atlas and what Rolecall already holds through other requests; it stores that plan
 * before the first write (so a retry after a crash neither adds twice nor forgets what it added), then
 * records the request's holders and its state change in one script. A person who is not in the
 * project is added to it for a temporary grant (Atlas v2 flavors). An extension request moves the end
 * of the grant it extends instead. A target or grantee account that no longer exists in Atlas fails
 * the request at once, saying so.
 */
export function createApplyProcessor(deps: ProcessorDeps) {
  const { store, lifecycle, ledgers, atlas, logger } = deps;
  const now = deps.now ?? Date.now;
  const states = { ready: ['approved'], working: 'applying', done: 'applied', failed: 'failed' } as const;

  /** Refuses (or allows) adding someone who is not in the project, saying why in words. */
  const checkCanJoin = async (request: AccessRequest): Promise<void> => {
    const where = request.target.name;
    const kind = request.target.kind === 'org' ? 'organization' : 'project';
    if (request.target.kind === 'org' || !atlas.projectMembership) {
      throw new AppError(
        'ATLAS_NOT_A_MEMBER',
        `${request.granteeEmail} is not a member of the ${kind} ${where} in Atlas; invite them first.`,
      );
    }
    if (request.durationSeconds === null) {
      throw new AppError(
        'ATLAS_NOT_A_MEMBER',
        `${request.granteeEmail} is not in ${where}. Rolecall adds people to a project only for temporary access; ask for a duration, or have a project owner add them.`,
      );
    }
    const status = await atlas.projectMembership.orgStatus(request.granteeEmail, request.target.id);
    if (status !== 'ACTIVE') {
      throw new AppError(
        'ATLAS_NOT_A_MEMBER',
        `${request.granteeEmail} is not an active member of the organization that owns ${where} (${status === 'NONE' ? 'not a member' : status.toLowerCase().replace(/_/g, ' ')}); invite them to the organization first.`,
      );
    }
  };

  const grant = async (request: AccessRequest, fence: Fence): Promise<ProcessorOutcome> => {
    const scope = request.target;
    const email = request.granteeEmail;
    // A retried attempt reports only its own writes, not a failed attempt's as well.
    deps.dryRunLog?.take(request.id);
    const offboarding = await deps.offboardedBy?.(email);
    if (offboarding) {
      // Approved before the offboarding, applied after it (or an old Retry): cancelled, never applied.
      const cancelled = await lifecycle.withdrawn(
        request.id,
        ['applying'],
        `cancelled: ${email} was offboarded (${offboarding})`,
        `${email} was offboarded (${offboarding}); Rolecall grants them nothing for 90 days after it`,
      );
      if (!cancelled.ok) return { skipped: cancelled.current.state };
      return { skipped: `offboarded (${offboarding})` };
    }
    const user: ScopedUser = await atlas.readUser(email, scope);
    const notInProject = user.roles.length === 0;
    if (notInProject) {
      // A deleted project (or account) looks like "not a member" on some calls: ask before inviting.
      const missing = await findGone(atlas, request, logger);
      if (missing) throw goneError(request, missing);
    }
    const ledger = await ledgers.read(email, request.target);
    if (notInProject && !request.plan?.addsToProject) await checkCanJoin(request);
    if (!notInProject && request.durationSeconds === null && ledger.membershipBy !== null) {
      throw new AppError(
        'ATLAS_NOT_A_MEMBER',
        `${email} is in ${request.target.name} only for the temporary access of ${ledger.membershipBy}; a permanent grant would keep them there. Ask for temporary access, or have a project owner add them for good.`,
      );
    }
    const decision = decideApply({
      requestId: request.id,
      roles: request.roles,
      current: user.roles,
      ledger,
      alreadyAdded: request.plan?.added ?? [],
      now: now(),
    });
    await closeDrift({ store, lifecycle, logger, now }, decision.drifted, {
      email,
      target: request.target,
      ledger,
      inScope: !notInProject,
    });
    const plan: ChangePlan = {
      atlasUserId: user.userId,
      rolesBefore: request.plan?.rolesBefore ?? user.roles,
      added: [...new Set([...(request.plan?.added ?? []), ...decision.add])],
      addsToProject: (request.plan?.addsToProject ?? false) || notInProject,
    };
    const changed =
      request.plan === null ||
      !sameRoles(plan.added, request.plan.added) ||
      plan.addsToProject !== request.plan.addsToProject;
    const saved = await lifecycle.planned(request.id, plan, changed, decision.add.length > 0);
    if (saved !== null && !saved.ok) return { skipped: saved.current.state };
    if (decision.add.length > 0) {
      await fence.check();
      if (notInProject && atlas.projectMembership) {
        await atlas.projectMembership.addToProject(scope.id, email, decision.add);
      } else {
        await atlas.setRoles(scope, user.userId, user.roles, decision.next);
      }
    }
    const appliedAt = now();
    const dryRun = deps.dryRunLog?.take(request.id);
    const holds = decision.hold.length > 0;
    const revokeAt =
      request.durationSeconds !== null && holds ? appliedAt + request.durationSeconds * 1000 : null;
    const until = request.durationSeconds === null ? null : revokeAt;
    const ops: LedgerOp[] = decision.hold.map((role) => ({ op: 'hold', role, requestId: request.id, until }));
    if (plan.addsToProject) ops.push({ op: 'membership', requestId: request.id });
    const done = await lifecycle.applied(
      request,
      {
        actor: 'system',
        detail: `${describeApply(
          decision.add,
          decision.joined.map((h) => h.role),
          decision.outside,
          plan.addsToProject,
        )}${dryRun ? ` ${dryRunNote(dryRun)}` : ''}`,
        patch: {
          grant: {
            rolesAfter: decision.next,
            appliedAt,
            revokeAt,
            held: decision.hold,
            joined: decision.joined,
            outside: decision.outside,
            addedToProject: plan.addsToProject,
            ...(dryRun ? { dryRun } : {}),
          },
        },
        ledger: {
          email,
          target: request.target,
          ops,
          ...(revokeAt === null ? {} : { ending: { requestId: request.id, at: revokeAt } }),
        },
      },
      revokeAt,
    );
    if (!done.ok) return { skipped: done.current.state };
    logger.info('request applied', {
      requestId: request.id,
      added: decision.add,
      held: decision.hold,
      revokeAt,
    });
    return { done: 'applied' };
  };

  /** Moves the end of the grant an approved extension request extends, atomically with its ledger. */
  const extend = async (request: AccessRequest): Promise<ProcessorOutcome> => {
    const originalId = request.extends ?? '';
    let original = await store.require(originalId);
    let extension = original.extensions.find((e) => e.by === request.id);
    for (let round = 0; extension === undefined; round += 1) {
      const end = original.grant?.revokeAt ?? null;
      if (original.state !== 'applied' || end === null || original.endedEarly !== null || round > 3) {
        throw new AppError(
          'EXTENSION_TOO_LATE',
          `${original.id} ${original.endedEarly ? 'was ended early' : original.state === 'applied' ? 'is no longer temporary' : 'had already ended or was being revoked'}, so ${request.id} came too late. Ask for the access again.`,
        );
      }
      const to = end + (request.durationSeconds ?? 0) * 1000;
      // Checked against the end as it stands now, in the same optimistic write that moves it: two
      // extensions approved together cannot both fit under the bound.
      if (request.endsNoLaterThan !== null && to > request.endsNoLaterThan) {
        throw new AppError(
          'DURATION_INVALID',
          `${request.id} would make ${original.id} end at ${new Date(to).toISOString()}, past ${new Date(request.endsNoLaterThan).toISOString()}, the latest its roles may be held (maxDuration from when it was asked${original.extensions.length > 0 ? `; ${original.id} was extended since` : ''}). Ask again for less.`,
        );
      }
      const ledger = await ledgers.read(original.granteeEmail, original.target);
      const candidate = { by: request.id, of: original.id, from: end, to };
      const moved = await lifecycle.extend(original.id, {
        actor: 'system',
        detail: `extended by ${request.id}: now ends ${new Date(to).toISOString()} instead of ${new Date(end).toISOString()}`,
        expect: { grant: original.grant, endedEarly: null },
        patch: {
          grant: original.grant ? { ...original.grant, revokeAt: to } : null,
          extensions: [...original.extensions, candidate],
        },
        ledger: {
          email: original.granteeEmail,
          target: original.target,
          ops: rolesHeldBy(ledger, original.id).map((role) => ({
            op: 'hold' as const,
            role,
            requestId: original.id,
            until: to,
          })),
          ending: { requestId: original.id, at: to },
        },
      });
      original = moved.ok ? moved.request : moved.current;
      if (moved.ok) extension = candidate;
    }
    const done = await lifecycle.extensionApplied(request, original, extension, {
      actor: 'system',
      detail: `${original.id} now ends ${new Date(extension.to).toISOString()}`,
      patch: {
        extension,
        grant: {
          rolesAfter: original.grant?.rolesAfter ?? [],
          appliedAt: now(),
          revokeAt: null,
          held: [],
          joined: [],
          outside: [],
          addedToProject: false,
        },
      },
    });
    if (!done.ok) return { skipped: done.current.state };
    logger.info('grant extended', {
      requestId: original.id,
      by: request.id,
      from: extension.from,
      to: extension.to,
    });
    return { done: 'extended' };
  };

  return createStepProcessor(deps, states, async (request, fence) => {
    if (request.extends !== null) return extend(request);
    try {
      return await grant(request, fence);
    } catch (error) {
      // A target or account deleted in Atlas: fail at once, in words, not after every attempt.
      const missing =
        isAppError(error) && error.details.missing !== undefined
          ? null
          : await findGone(atlas, request, logger, error);
      throw missing ? goneError(request, missing) : error;
    }
  });
}

function describeApply(
  added: readonly string[],
  joined: readonly string[],
  outside: readonly string[],
  joinedProject: boolean,
): string {
  const parts: string[] = [];
  if (joinedProject) parts.push('added to the project');
  if (added.length > 0) parts.push(`added ${added.join(', ')}`);
  if (joined.length > 0) parts.push(`already held through Rolecall: ${joined.join(', ')}`);
  if (outside.length > 0) parts.push(`held outside Rolecall, left alone: ${outside.join(', ')}`);
  return parts.join('; ') || 'nothing to change';
}
