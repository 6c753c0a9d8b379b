import { AppError } from '../errors.js';
import { rolesAfterRevoke, sameRoles } from '../requests/role-set.js';
import { createStepProcessor, type ProcessorDeps, scopeOf } from './processor-support.js';

/** Revokes a temporary grant: removes exactly the roles the grant added, never the user's last role. */
export function createRevokeProcessor(deps: ProcessorDeps) {
  const { store, atlas, scheduler, logger } = deps;
  const now = deps.now ?? Date.now;
  const states = { ready: 'applied', working: 'revoking', done: 'revoked', failed: 'revoke_failed' } as const;

  return createStepProcessor(deps, states, async (request, fence) => {
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
    await scheduler.notify(done.request, 'revoked');
    logger.info('request revoked', { requestId: request.id, removed });
    return { done: 'revoked' };
  });
}
