import { AppError } from '../errors.js';
import type { AccessRequest } from './model.js';
import type { WorkQueue } from './request-service.js';
import type { RequestStore } from './request-store.js';

/**
 * Ends an applied grant now (End now, Revoke now, offboarding): its end moves to now in one atomic
 * note (audited, and in the ending index so reconciliation catches a lost job), then its revocation
 * runs at once and its reminder is dropped. Throws REQUEST_STATE_CONFLICT when it is not an active
 * grant any more (ending already, ended) and NOTHING_TO_GRANT when it holds no role.
 */
export async function endGrantNow(
  deps: { readonly store: RequestStore; readonly workQueue: WorkQueue },
  request: AccessRequest,
  by: { readonly actor: string; readonly detail: string; readonly at: number },
  describeState: (request: AccessRequest) => string,
): Promise<AccessRequest> {
  if (request.state !== 'applied' || request.endedEarly !== null) {
    throw new AppError(
      'REQUEST_STATE_CONFLICT',
      `${request.id} ${request.state === 'applied' ? 'is already ending' : describeState(request)}; there is nothing to end.`,
      { details: { state: request.state } },
    );
  }
  const grant = request.grant;
  if (grant === null || grant.held.length === 0) {
    throw new AppError(
      'NOTHING_TO_GRANT',
      `${request.id} holds no role through Rolecall; there is nothing to end.`,
    );
  }
  const noted = await deps.store.note(request.id, {
    whileIn: ['applied'],
    actor: by.actor,
    detail: by.detail,
    expect: { grant, endedEarly: null },
    patch: { endedEarly: { by: by.actor, at: by.at }, grant: { ...grant, revokeAt: by.at } },
    // Only the ending index, so reconciliation catches a lost job; the holders change under the lock.
    ledger: {
      email: request.granteeEmail,
      target: request.target,
      ops: [],
      ending: { requestId: request.id, at: by.at },
    },
  });
  if (!noted.ok) {
    throw new AppError(
      'REQUEST_STATE_CONFLICT',
      `${request.id} ${noted.current.state === 'applied' ? 'is already ending' : describeState(noted.current)}; there is nothing to end.`,
    );
  }
  await deps.workQueue.revoke(request.id, request.attempt, by.at);
  if (grant.revokeAt !== null) await deps.workQueue.forgetReminder(request.id, grant.revokeAt);
  return noted.request;
}
