import { type Job, UnrecoverableError } from 'bullmq';
import { AppError } from '../errors.js';
import type { AccessRequest } from '../requests/model.js';
import { rolesAfterGrant, rolesToAdd, sameRoles } from '../requests/role-set.js';
import {
  describeFailure,
  isLastAttempt,
  lockKeyOf,
  type ProcessorDeps,
  type ProcessorOutcome,
  scopeOf,
} from './processor-support.js';
import type { RequestJob } from './queues.js';

/**
 * Applies an approved request: under the user's lock, fixes the plan (which roles to add) once, then
 * converges Atlas to current + added, so a retry after a crash neither adds twice nor forgets what to
 * revoke later, and two requests for the same user never overwrite each other.
 */
export function createApplyProcessor(deps: ProcessorDeps) {
  const { store, atlas, scheduler, lock, logger } = deps;
  const now = deps.now ?? Date.now;

  const start = async (id: string): Promise<AccessRequest | undefined> => {
    const request = await store.require(id);
    if (request.state === 'applying') return request;
    if (request.state !== 'approved') return undefined;
    const moved = await store.transition(id, { from: 'approved', to: 'applying', actor: 'system' });
    return moved.ok ? moved.request : undefined;
  };

  const apply = (request: AccessRequest): Promise<ProcessorOutcome> =>
    lock.run(lockKeyOf(request), async (fence) => {
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
        detail:
          plan.added.length > 0 ? `added ${plan.added.join(', ')}` : 'already held every requested role',
        patch: { grant: { rolesAfter: next, appliedAt, revokeAt } },
      });
      if (!done.ok) return { skipped: done.current.state };
      await scheduler.notify(request.id, 'applied');
      logger.info('request applied', { requestId: request.id, added: plan.added, revokeAt });
      return { done: 'applied' };
    });

  return async (job: Job<RequestJob>): Promise<ProcessorOutcome> => {
    const { requestId } = job.data;
    const request = await start(requestId);
    if (!request) {
      const current = await store.require(requestId);
      if (current.state === 'applied') await scheduler.notify(requestId, 'applied');
      if (current.state === 'failed') await scheduler.notify(requestId, 'failed');
      return { skipped: current.state };
    }
    try {
      return await apply(request);
    } catch (error) {
      if (!isLastAttempt(job, error)) throw error;
      const failure = describeFailure(error);
      logger.error('request failed', { requestId, error });
      const moved = await store.transition(requestId, {
        from: 'applying',
        to: 'failed',
        actor: 'system',
        detail: failure.message,
        patch: { failure: { ...failure, at: now() } },
      });
      if (moved.ok) await scheduler.notify(requestId, 'failed');
      throw new UnrecoverableError(failure.message);
    }
  };
}
