import { AppError } from '../errors.js';
import { rolesAfterGrant, rolesToAdd, sameRoles } from '../requests/role-set.js';
import { createStepProcessor, type ProcessorDeps, scopeOf } from './processor-support.js';

/**
 * Applies an approved request: under the user's lock, fixes the plan (which roles to add) once, then
 * converges Atlas to current + added, so a retry after a crash neither adds twice nor forgets what to
 * revoke later, and two requests for the same user never overwrite each other.
 */
export function createApplyProcessor(deps: ProcessorDeps) {
  const { store, atlas, scheduler, logger } = deps;
  const now = deps.now ?? Date.now;
  const states = { ready: 'approved', working: 'applying', done: 'applied', failed: 'failed' } as const;

  return createStepProcessor(deps, states, async (request, fence) => {
    const scope = scopeOf(request.target);
    const user = await atlas.readUser(request.granteeEmail, scope);
    let plan = request.plan;
    if (plan === null) {
      if (user.roles.length === 0) {
        throw new AppError(
          'ATLAS_NOT_A_MEMBER',
          `${request.granteeEmail} is not a member of ${request.target.name} in Atlas; invite them first.`,
        );
      }
      plan = {
        atlasUserId: user.userId,
        rolesBefore: user.roles,
        added: rolesToAdd(user.roles, request.roles),
      };
      const saved = await store.patch(request.id, ['applying'], { plan });
      if (!saved.ok) return { skipped: saved.current.state };
    }
    const next = rolesAfterGrant(user.roles, plan.added);
    if (!sameRoles(next, user.roles)) {
      await fence.check();
      await atlas.setRoles(scope, user.userId, user.roles, next);
    }
    const appliedAt = now();
    const temporary = request.durationSeconds !== null && plan.added.length > 0;
    const revokeAt = temporary ? appliedAt + (request.durationSeconds ?? 0) * 1000 : null;
    if (revokeAt !== null) await scheduler.revoke(request.id, request.attempt, revokeAt);
    const done = await store.transition(request.id, {
      from: 'applying',
      to: 'applied',
      actor: 'system',
      detail: plan.added.length > 0 ? `added ${plan.added.join(', ')}` : 'already held every requested role',
      patch: { grant: { rolesAfter: next, appliedAt, revokeAt } },
    });
    if (!done.ok) return { skipped: done.current.state };
    await scheduler.notify(done.request, 'applied');
    logger.info('request applied', { requestId: request.id, added: plan.added, revokeAt });
    return { done: 'applied' };
  });
}
