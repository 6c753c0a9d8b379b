import { createBundleDecisions } from './bundle-decisions.js';
import { createBundleFiling } from './bundle-filing.js';
import { createBundleViews } from './bundle-views.js';
import { createDecisions } from './decisions.js';
import { createFiling } from './filing.js';
import type { RequestServiceDeps } from './service-deps.js';
import { createViews } from './views.js';

/**
 * The request workflow as the people in Slack see it. Every method takes the acting person and asks
 * the one decision point (access/) first, under the policy in force now; a refusal is recorded (audit
 * stream, counter, log) and thrown as an AppError in words. Then one lifecycle move (lifecycle.ts)
 * changes the request. Nothing here calls Atlas. A bundle's parts are decided, cancelled and ended
 * together (bundle-decisions.ts, over the single-request moves).
 */
export type RequestService = ReturnType<typeof createViews> &
  ReturnType<typeof createFiling> &
  ReturnType<typeof createDecisions> &
  ReturnType<typeof createBundleFiling> &
  ReturnType<typeof createBundleViews>;

/** Creates the request workflow service: filing, deciding and viewing requests, bundles included. */
export function createRequestService(deps: RequestServiceDeps): RequestService {
  const filing = createFiling(deps);
  const decisions = createDecisions(deps);
  return {
    ...createViews(deps),
    ...filing,
    ...decisions,
    ...createBundleDecisions(deps, { ...decisions, extend: filing.extend }),
    ...createBundleFiling(deps),
    ...createBundleViews(deps),
  };
}
