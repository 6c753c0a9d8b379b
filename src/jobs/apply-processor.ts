import { type CallPriority, withCallPriority } from '../atlas/call-priority.js';
import type { ScopedUser, SingleRoleApi } from '../atlas/roles-api.js';
import { AppError, isAppError } from '../errors.js';
import { type ApplyDecision, decideApply, holdersOf, type Ledger, type LedgerOp } from '../grants/ledger.js';
import { isTeamItem } from '../lib/access-items.js';
import { bundleEndOf } from '../requests/bundle.js';
import type { AccessRequest, ChangePlan } from '../requests/model.js';
import { sameRoles } from '../requests/role-set.js';
import { endOfGrant, windowPassedError } from '../requests/scheduled-start.js';
import { describeApply } from './apply-words.js';
import { checkBundleOpen, endWithBundle } from './bundle-parts.js';
import { createDatabaseGrants } from './database-grants.js';
import { createExtendGrant } from './extend-grant.js';
import { findGone, goneError } from './gone.js';
import { addEach, type EachResult } from './one-call-writes.js';
import {
  closeDrift,
  createStepProcessor,
  dryRunNote,
  type ProcessorDeps,
  type ProcessorOutcome,
} from './processor-support.js';
import { checkCanJoin } from './project-join.js';
import type { Fence } from './user-lock.js';

/**
 * Applies an approved request under the person's lock. Against the ledger it decides, role by role,
 * what to write into Atlas and what Rolecall already holds through other requests; it stores that plan
 * before the first write (so a retry after a crash neither adds twice nor forgets what it added), then
 * records the request's holders and its state change in one script. A person who is not in the
 * project is added to it for a temporary grant (Atlas v2 flavors). On atlas-v2-2025, for someone
 * already in the scope, it writes first and reads nothing: one `:addRole` per role, decided from
 * Atlas's answers (`writeFirst`). An extension request moves the end
 * of the grant it extends instead. A target or grantee account that no longer exists in Atlas fails
 * the request at once, saying so.
 */
export function createApplyProcessor(deps: ProcessorDeps) {
  const { lifecycle, ledgers, atlas, logger } = deps;
  const now = deps.now ?? Date.now;
  const states = { ready: ['approved'], working: 'applying', done: 'applied', failed: 'failed' } as const;
  const databaseGrants = createDatabaseGrants(deps);
  const extend = createExtendGrant(deps, databaseGrants.extend);

  /** What a grant wrote (or found held), whichever way it reached Atlas. */
  type Landed = { skipped: string } | { decision: ApplyDecision; plan: ChangePlan; finalPlan?: ChangePlan };

  /**
   * The one-call way (atlas-v2-2025): the person was in the scope when the request was checked and
   * their Atlas id is known, so each role is one `:addRole`, answered with the roles after it; no
   * read first. Elsewhere (other flavors, a dry run, someone joining the project, ids unknown): null.
   */
  const oneCallGrant = (request: AccessRequest) => {
    const single = atlas.singleRole;
    const userId = request.plan?.atlasUserId ?? request.atlasUserId;
    const wasIn = (request.rolesAtRequest?.length ?? 0) > 0 && !(request.plan?.addsToProject ?? false);
    // A team's answer carries no roles to decide from: a request for a team reads first.
    const teams = request.roles.some(isTeamItem);
    if (!single || deps.dryRunLog || !userId || !wasIn || teams) return null;
    return { single, userId };
  };

  /**
   * Plans, writes, then decides from Atlas's answers. The plan stored before the write names every
   * role that may be added (not held at request time, no other holder), so a crash after the write
   * still ends with the grant; a role Atlas says was already there (409) on the first try is left
   * alone as outside Rolecall. On a retry after such a crash a 409 for a planned role counts as this
   * grant's, so it is removed at the end (fail closed).
   */
  const writeFirst = async (
    request: AccessRequest,
    { single, userId }: { single: SingleRoleApi; userId: string },
    fence: Fence,
  ): Promise<Landed> => {
    const email = request.granteeEmail;
    const ledger = await ledgers.read(email, request.target);
    refusePermanentOnMembership(request, ledger, true);
    const earlier = request.plan?.added ?? [];
    const candidates = request.roles.filter(
      (role) =>
        !(request.rolesAtRequest ?? []).includes(role) && holdersOf(ledger, role, request.id).length === 0,
    );
    const plan: ChangePlan = {
      atlasUserId: userId,
      rolesBefore: request.plan?.rolesBefore ?? request.rolesAtRequest ?? [],
      added: [...new Set([...earlier, ...candidates])],
      addsToProject: false,
    };
    const changed = request.plan === null || !sameRoles(plan.added, request.plan.added);
    const saved = await lifecycle.planned(request.id, plan, changed, true);
    if (saved !== null && !saved.ok) return { skipped: saved.current.state };
    await fence.check();
    const answers = await addEach(single, request.target, userId, request.roles);
    if (answers.failed !== null) return landPartly(request, plan, answers, fence);
    // A 409 after a try that lost its answer is most likely that try's work: a planned role is ours.
    const lostButOurs = answers.afterLostAnswer.filter((r) => plan.added.includes(r));
    const ours = [...new Set([...earlier, ...lostButOurs])];
    // Every role was there already (409s): one read for the roles shown and for drift.
    const read = answers.before ?? (await atlas.readUser(email, request.target)).roles;
    const before = read.filter((r) => !lostButOurs.includes(r));
    const addsToProject = request.target.kind === 'project' && before.every((r) => ours.includes(r));
    if (addsToProject) {
      // Nothing but this grant's roles: she had left the project since the request was checked, and
      // Atlas let :addRole bring her back. Stored first, so a retry knows it too.
      const joined = { ...plan, added: [...new Set([...ours, ...answers.changed])], addsToProject: true };
      await lifecycle.planned(request.id, joined, true, true);
      if (request.durationSeconds === null) return refuseJoining({ ...request, plan: joined }, userId);
    }
    const decision = decideApply({
      requestId: request.id,
      roles: request.roles,
      current: before,
      ledger,
      alreadyAdded: ours,
      now: now(),
    });
    await closeDrift({ ...deps, now }, decision.drifted, {
      email,
      target: request.target,
      ledger,
      inScope: true,
    });
    const finalPlan = { ...plan, added: [...new Set([...ours, ...decision.add])], addsToProject };
    return { decision, plan: finalPlan, finalPlan };
  };

  /**
   * A permanent grant that found its person outside the project (Atlas's :addRole brought them
   * back): Rolecall adds people to a project only for a while, so they are taken out again and the
   * request fails in words. Used on a retry too (the stored plan says so).
   */
  const refuseJoining = async (request: AccessRequest, userId: string): Promise<never> => {
    if (atlas.projectMembership) await atlas.projectMembership.removeFromProject(request.target.id, userId);
    throw new AppError(
      'ATLAS_NOT_A_MEMBER',
      `${request.granteeEmail} is no longer in ${request.target.name}. Rolecall adds people to a project only for temporary access; ask again with a duration, or have a project owner add them.`,
    );
  };

  /**
   * One `:addRole` failed part way. Refused for good (a role Atlas does not take, say): what this
   * attempt added is removed again, so a failed grant leaves nothing behind. Otherwise (an outage:
   * the job tries again) the plan keeps what landed, and a role whose answer was lost. Someone no
   * longer in the scope goes the read-first way (joining the project), with what landed.
   */
  const landPartly = async (
    request: AccessRequest,
    plan: ChangePlan,
    answers: EachResult,
    fence: Fence,
  ): Promise<Landed> => {
    const failed = answers.failed;
    if (failed === null) throw new AppError('INTERNAL', 'landPartly without a failure');
    const earlier = request.plan?.added ?? [];
    const { error, refused, role } = failed;
    // What may be in Atlas because of this grant: earlier tries' roles, this try's, and a planned
    // role whose answer was lost (a 409 after it, or the failing call itself).
    const mayBeOurs = [
      ...new Set([
        ...earlier,
        ...answers.changed,
        ...answers.afterLostAnswer.filter((r) => plan.added.includes(r)),
        ...(!refused && plan.added.includes(role) ? [role] : []),
      ]),
    ];
    let kept = mayBeOurs;
    const refusal = isAppError(error) ? error : null;
    const final = refusal !== null && !refusal.retryable && refusal.code !== 'ATLAS_NOT_A_MEMBER';
    if (final && atlas.singleRole) {
      kept = [];
      for (const added of mayBeOurs) {
        try {
          await atlas.singleRole.removeRole(request.target, plan.atlasUserId, added);
        } catch (undo) {
          logger.error('could not take back a role of a grant that failed', {
            requestId: request.id,
            role: added,
            error: undo,
          });
          kept = [...kept, added];
        }
      }
    }
    const landed = { ...plan, added: plan.added.filter((r) => kept.includes(r)) };
    if (!sameRoles(landed.added, plan.added)) await lifecycle.planned(request.id, landed, true, false);
    if (isAppError(error, 'ATLAS_NOT_A_MEMBER')) return readFirst({ ...request, plan: landed }, fence);
    if (final && kept.length > 0 && refusal !== null) {
      throw new AppError(
        refusal.code,
        `${refusal.message} Rolecall had added ${kept.join(', ')} and could not take it back: remove it in Atlas, or press Retry.`,
        { retryable: false, details: refusal.details },
      );
    }
    throw error;
  };

  /** The read-then-write way: reads the person's roles, plans, then writes what is missing. */
  const readFirst = async (request: AccessRequest, fence: Fence): Promise<Landed> => {
    const scope = request.target;
    const email = request.granteeEmail;
    const user: ScopedUser = await atlas.readUser(email, scope);
    // A permanent grant whose first try found them outside the project (stored in its plan).
    if (request.durationSeconds === null && request.plan?.addsToProject) {
      return refuseJoining(request, user.userId);
    }
    const notInProject = user.roles.length === 0;
    if (notInProject) {
      // A deleted project (or account) looks like "not a member" on some calls: ask before inviting.
      const missing = await findGone(atlas, request, logger);
      if (missing) throw goneError(request, missing);
    }
    const ledger = await ledgers.read(email, request.target);
    if (notInProject && !request.plan?.addsToProject) await checkCanJoin(atlas, request);
    refusePermanentOnMembership(request, ledger, !notInProject);
    const decision = decideApply({
      requestId: request.id,
      roles: request.roles,
      current: user.roles,
      ledger,
      alreadyAdded: request.plan?.added ?? [],
      now: now(),
    });
    await closeDrift({ ...deps, now }, decision.drifted, {
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
    return { decision, plan };
  };

  /** A permanent grant would keep someone in a project Rolecall added them to only for a while. */
  const refusePermanentOnMembership = (request: AccessRequest, ledger: Ledger, inScope: boolean): void => {
    if (!inScope || request.durationSeconds !== null || ledger.membershipBy === null) return;
    throw new AppError(
      'ATLAS_NOT_A_MEMBER',
      `${request.granteeEmail} is in ${request.target.name} only for the temporary access of ${ledger.membershipBy}; a permanent grant would keep them there. Ask for temporary access, or have a project owner add them for good.`,
    );
  };

  const grant = async (request: AccessRequest, fence: Fence): Promise<ProcessorOutcome> => {
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
    const windowEnd = request.startsAt === null ? null : endOfGrant(request, request.startsAt);
    if (windowEnd !== null && windowEnd <= now()) throw windowPassedError(request, windowEnd);
    // Up to 30 days after its approval: the policy of now must still allow it as it was filed.
    if (request.startsAt !== null && request.extends === null) await deps.checkAtStart?.(request);
    if (request.database !== null) return databaseGrants.apply(request, fence);
    const oneCall = oneCallGrant(request);
    const landed = oneCall ? await writeFirst(request, oneCall, fence) : await readFirst(request, fence);
    if ('skipped' in landed) return landed;
    const { decision, plan } = landed;
    const appliedAt = now();
    const dryRun = deps.dryRunLog?.take(request.id);
    const holds = decision.hold.length > 0;
    // A bundle's parts all end at its decision time plus the duration; a scheduled grant its start plus it.
    const revokeAt = holds ? (bundleEndOf(request) ?? endOfGrant(request, appliedAt)) : null;
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
          ...(landed.finalPlan ? { plan: landed.finalPlan } : {}),
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
    await endWithBundle(deps, done.request);
    logger.info('request applied', {
      requestId: request.id,
      added: decision.add,
      held: decision.hold,
      revokeAt,
    });
    return { done: 'applied' };
  };

  // A scheduled grant's job run early (a sweep's re-queue) waits for its start.
  const notBefore = (request: AccessRequest) =>
    request.startsAt !== null && request.startsAt > now() ? request.startsAt : undefined;
  return createStepProcessor(
    deps,
    states,
    async (request, fence) => {
      if (request.extends !== null) return extend(request);
      await checkBundleOpen(deps, request, now());
      try {
        // When Atlas's rate limit is short, revocations go first: the thread hears once how long this waits.
        let told = false;
        const onWait = (ms: number) => {
          if (told) return;
          told = true;
          lifecycle.waiting(request, ms / 1000).catch((error: unknown) => {
            logger.warn('could not tell the thread a grant waits for Atlas', {
              requestId: request.id,
              error,
            });
          });
        };
        // It holds the person's lock while it waits: a revocation of theirs that is due waits behind it,
        // so the grant then takes that revocation's place in the queue.
        const ledger = await ledgers.read(request.granteeEmail, request.target);
        const at = now();
        const overdue = ledger.holders
          .filter((h) => h.requestId !== request.id && h.until !== null && h.until <= at)
          .map((h) => h.until ?? at);
        const priority: CallPriority =
          overdue.length > 0
            ? { kind: 'revocation', due: Math.min(...overdue), onWait }
            : { kind: 'normal', onWait };
        return await withCallPriority(priority, () => grant(request, fence));
      } catch (error) {
        // A target or account deleted in Atlas: fail at once, in words, not after every attempt.
        const missing =
          isAppError(error) && error.details.missing !== undefined
            ? null
            : await findGone(atlas, request, logger, error);
        throw missing ? goneError(request, missing) : error;
      }
    },
    { notBefore },
  );
}
