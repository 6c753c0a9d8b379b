import { type Job, UnrecoverableError } from 'bullmq';
import { AppError } from '../errors.js';
import type { AccessRequest } from '../requests/model.js';
import { rolesAfterRevoke, sameRoles } from '../requests/role-set.js';
import {
  describeFailure,
  isLastAttempt,
  lockKeyOf,
  type ProcessorDeps,
  type ProcessorOutcome,
  scopeOf,
} from './processor-support.js';
import type { RequestJob } from './queues.js';

/** Revokes a temporary grant: removes exactly the roles the grant added, never the user's last role. */
export function createRevokeProcessor(deps: ProcessorDeps) {
  const { store, atlas, scheduler, lock, logger } = deps;
  const now = deps.now ?? Date.now;

  const start = async (id: string): Promise<AccessRequest | undefined> => {
    const request = await store.require(id);
    if (request.state === 'revoking') return request;
    if (request.state !== 'applied') return undefined;
    const moved = await store.transition(id, { from: 'applied', to: 'revoking', actor: 'system' });
    return moved.ok ? moved.request : undefined;
  };

  const revoke = (request: AccessRequest): Promise<ProcessorOutcome> =>
    lock.run(lockKeyOf(request), async (fence) => {
      const plan = request.plan;
      if (plan === null) throw new AppError('INTERNAL', `${request.id} has no record of the roles it added.`);
      const scope = scopeOf(request.target);
      const user = await atlas.readUser(request.granteeEmail, scope);
      const next = rolesAfterRevoke(user.roles, plan.added);
      if (next.length === 0 && user.roles.length > 0) {
        throw new AppError(
          'WOULD_REMOVE_ALL_ROLES',
          `Removing ${plan.added.join(', ')} would leave ${request.granteeEmail} with no role on ${request.target.name}; Atlas requires one. Remove the user from ${request.target.name} in Atlas instead.`,
        );
      }
      if (!sameRoles(next, user.roles)) {
        await fence.check();
        await atlas.setRoles(scope, user.userId, user.roles, next);
      }
      const removed = plan.added.filter((role) => user.roles.includes(role));
      const done = await store.transition(request.id, {
        from: 'revoking',
        to: 'revoked',
        actor: 'system',
        detail: removed.length > 0 ? `removed ${removed.join(', ')}` : 'the added roles were already gone',
        patch: { revocation: { removed, rolesAfter: next, revokedAt: now() } },
      });
      if (!done.ok) return { skipped: done.current.state };
      await scheduler.notify(request.id, 'revoked');
      logger.info('request revoked', { requestId: request.id, removed });
      return { done: 'revoked' };
    });

  return async (job: Job<RequestJob>): Promise<ProcessorOutcome> => {
    const { requestId } = job.data;
    const request = await start(requestId);
    if (!request) {
      const current = await store.require(requestId);
      if (current.state === 'revoked') await scheduler.notify(requestId, 'revoked');
      if (current.state === 'revoke_failed') await scheduler.notify(requestId, 'revoke_failed');
      return { skipped: current.state };
    }
    try {
      return await revoke(request);
    } catch (error) {
      if (!isLastAttempt(job, error)) throw error;
      const failure = describeFailure(error);
      logger.error('revocation failed', { requestId, error });
      const moved = await store.transition(requestId, {
        from: 'revoking',
        to: 'revoke_failed',
        actor: 'system',
        detail: failure.message,
        patch: { failure: { ...failure, at: now() } },
      });
      if (moved.ok) await scheduler.notify(requestId, 'revoke_failed');
      throw new UnrecoverableError(failure.message);
    }
  };
}
