import { withCallPriority } from '../atlas/call-priority.js';
import type { ScopedUser, SingleRoleApi } from '../atlas/roles-api.js';
import { AppError, isAppError } from '../errors.js';
import {
  type ApplyDecision,
  decideApply,
  holdersOf,
  type Ledger,
  type LedgerOp,
  rolesHeldBy,
} from '../grants/ledger.js';
import type { AccessRequest, ChangePlan } from '../requests/model.js';
import { sameRoles } from '../requests/role-set.js';
import { findGone, goneError } from './gone.js';
import { addEach } from './one-call-writes.js';
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
 * project is added to it for a temporary grant (Atlas v2 flavors). On atlas-v2-2025, for someone
 * already in the scope, it writes first and reads nothing: one `:addRole` per role, decided from
 * Atlas's answers (`writeFirst`). An extension request moves the end
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
    if (!single || deps.dryRunLog || !userId || !wasIn) return null;
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
    if (answers.failed !== null) {
      const { error, refused, role } = answers.failed;
      // Atlas refused the call: its role and those after it were not added; the plan says so.
      const landed = {
        ...plan,
        added: plan.added.filter(
          (r) => earlier.includes(r) || answers.changed.includes(r) || (!refused && r === role),
        ),
      };
      if (!sameRoles(landed.added, plan.added)) await lifecycle.planned(request.id, landed, true, false);
      // No longer in the scope since the request was checked: the read-first way (joining the
      // project) decides, with what landed, so a role added before the refusal stays this grant's.
      if (isAppError(error, 'ATLAS_NOT_A_MEMBER')) return readFirst({ ...request, plan: landed }, fence);
      throw error;
    }
    // Every role was there already (409s): one read for the roles shown and for drift.
    const before = answers.before ?? (await atlas.readUser(email, request.target)).roles;
    const decision = decideApply({
      requestId: request.id,
      roles: request.roles,
      current: before,
      ledger,
      alreadyAdded: earlier,
      now: now(),
    });
    await closeDrift({ store, lifecycle, logger, now }, decision.drifted, {
      email,
      target: request.target,
      ledger,
      inScope: true,
    });
    const finalPlan = { ...plan, added: [...new Set([...earlier, ...decision.add])] };
    return { decision, plan: finalPlan, finalPlan };
  };

  /** The read-then-write way: reads the person's roles, plans, then writes what is missing. */
  const readFirst = async (request: AccessRequest, fence: Fence): Promise<Landed> => {
    const scope = request.target;
    const email = request.granteeEmail;
    const user: ScopedUser = await atlas.readUser(email, scope);
    const notInProject = user.roles.length === 0;
    if (notInProject) {
      // A deleted project (or account) looks like "not a member" on some calls: ask before inviting.
      const missing = await findGone(atlas, request, logger);
      if (missing) throw goneError(request, missing);
    }
    const ledger = await ledgers.read(email, request.target);
    if (notInProject && !request.plan?.addsToProject) await checkCanJoin(request);
    refusePermanentOnMembership(request, ledger, !notInProject);
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
    const oneCall = oneCallGrant(request);
    const landed = oneCall ? await writeFirst(request, oneCall, fence) : await readFirst(request, fence);
    if ('skipped' in landed) return landed;
    const { decision, plan } = landed;
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
      // When Atlas's rate limit is short, revocations go first: the thread hears once how long this waits.
      let told = false;
      const onWait = (ms: number) => {
        if (told) return;
        told = true;
        lifecycle.waiting(request, ms / 1000).catch((error: unknown) => {
          logger.warn('could not tell the thread a grant waits for Atlas', { requestId: request.id, error });
        });
      };
      return await withCallPriority({ kind: 'normal', onWait }, () => grant(request, fence));
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
