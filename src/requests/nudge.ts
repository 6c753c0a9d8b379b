import type { Actor } from '../access/actions.js';
import { AppError } from '../errors.js';
import { approversToTell } from './approver-chase.js';
import type { AccessRequest } from './model.js';
import { approverDelivery } from './ports.js';
import type { RequestServiceDeps } from './service-deps.js';
import { conflictError, STATE_WORDS } from './state-machine.js';

/**
 * `/atlas-access nudge ID`: the requester reminds the approvers of their pending request now, in its
 * thread and by DM, once per request (the claim is taken only after every other check, so a refused
 * try never uses it up). Audited as a note.
 */
export async function nudgeApprovers(
  deps: RequestServiceDeps,
  id: string,
  actor: Actor,
): Promise<AccessRequest> {
  const request = await deps.store.require(id);
  if (actor.id !== request.requesterId) {
    throw new AppError('NOT_ALLOWED', `Only the person who asked for ${request.id} can nudge its approvers.`);
  }
  if (request.state !== 'pending') {
    throw new AppError(
      'REQUEST_STATE_CONFLICT',
      `${request.id} ${STATE_WORDS[request.state].after}; there is nobody to nudge.`,
      { details: { state: request.state } },
    );
  }
  const told = approversToTell(deps.policy(), request, (deps.now ?? Date.now)());
  if (told === null) {
    throw new AppError(
      'TARGET_UNKNOWN',
      `${request.target.name} is no longer in the policy; nobody can be nudged.`,
    );
  }
  if (deps.nudges === undefined || !(await deps.nudges.claim(request.id))) {
    throw new AppError(
      'RATE_LIMITED',
      `You have already nudged the approvers of ${request.id}; a request can be nudged once. It is still waiting for them.`,
    );
  }
  const result = await deps.lifecycle.chased(
    request.id,
    { actor: actor.id, detail: 'the requester nudged the approvers' },
    'nudged',
    'nudge',
    told.userIds.map(approverDelivery),
  );
  if (!result.ok) throw conflictError(result.current);
  return result.request;
}
