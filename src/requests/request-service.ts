import { createDecisions } from './decisions.js';
import { createFiling } from './filing.js';
import type { RequestServiceDeps } from './service-deps.js';
import { createViews } from './views.js';

/**
 * The request workflow as the people in Slack see it. Every method takes the acting person and asks
 * the one decision point (access/) first, under the policy in force now; a refusal is recorded (audit
 * stream, counter, log) and thrown as an AppError in words. Then one lifecycle move (lifecycle.ts)
 * changes the request. Nothing here calls Atlas.
 */
export type RequestService = ReturnType<typeof createViews> &
  ReturnType<typeof createFiling> &
  ReturnType<typeof createDecisions>;

/** Creates the request workflow service: filing, deciding and viewing requests. */
export function createRequestService(deps: RequestServiceDeps): RequestService {
  return { ...createViews(deps), ...createFiling(deps), ...createDecisions(deps) };
}
