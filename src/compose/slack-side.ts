import type { AtlasRolesApi } from '../atlas/roles-api.js';
import { createDatabaseJobs } from '../jobs/database-processor.js';
import { createOffboardingService } from '../offboarding/offboarding-service.js';
import { createOnCallSchedules } from '../oncall/create-on-call.js';
import { createTraceLinks } from '../ops/trace-links.js';
import { createExtensionClaims } from '../requests/extension-claims.js';
import { readHome } from '../requests/home.js';
import { createNudgeClaims } from '../requests/nudge-claims.js';
import { createRequestService } from '../requests/request-service.js';
import { createStepConfirmationStore } from '../requests/step-confirmations.js';
import { createSubmissionLimit } from '../requests/submission-limit.js';
import { createReviewService } from '../reviews/review-service.js';
import { createSlackApp } from '../slack/app.js';
import { createSlackDirectory } from '../slack/directory.js';
import { createHomePublisher } from '../slack/home.js';
import { createCurrentRoles } from './atlas-access.js';
import type { Infrastructure } from './infrastructure.js';
import { createWebClient } from './slack-clients.js';

/** The Slack side of a process: the Bolt app, answering over HTTP (its listener) or Socket Mode. */
export type SlackSide = ReturnType<typeof createSlackApp>['requestListener'];

/**
 * Starts the Slack side: the request, review and offboarding services behind the one decision point,
 * and the Bolt app over them. `atlas` is set when this process may call Atlas (the request form then
 * shows Atlas's roles).
 */
export async function startSlackSide(
  infra: Infrastructure,
  atlas: AtlasRolesApi | undefined,
): Promise<SlackSide> {
  const { config, logger, redis, keys, store, shutdown, gate } = infra;
  const policy = () => infra.policy.current();
  const slackClient = createWebClient(config, infra.slackFetch, { retries: 1 });
  const directory = createSlackDirectory(slackClient, { logger });
  const service = createRequestService({
    store,
    lifecycle: infra.lifecycle,
    policy,
    gate,
    directory,
    refusals: infra.refusals,
    limit: createSubmissionLimit(redis, keys, {
      perMinute: config.limits.requestsPerMinute,
      maxOpen: config.limits.maxOpenRequests,
    }),
    logger,
    currentRoles: createCurrentRoles(infra.ledgers, atlas),
    extensions: createExtensionClaims(redis, keys, config.requestTtlMs + 24 * 3600 * 1000),
    nudges: createNudgeClaims(redis, keys, config.requestTtlMs + 24 * 3600 * 1000),
    // onCallApproves: approver: whether the approver clicking is on call now (fails closed).
    onCall: createOnCallSchedules(config.onCall, { logger: logger.child({ component: 'on-call' }) }),
  });
  const slack = createSlackApp(config.slack, {
    service,
    reviews: createReviewService({
      store: infra.reviewStore,
      gate,
      refusals: infra.refusals,
      reviewQueue: infra.reviewQueue,
    }),
    offboarding: createOffboardingService({
      store: infra.offboardingStore,
      gate,
      offboardingQueue: infra.offboardingQueue,
    }),
    policy,
    directory,
    continuity: infra.continuity,
    foreground: infra.foreground,
    stepConfirmations: createStepConfirmationStore(redis, keys),
    databaseJobs: createDatabaseJobs(infra.queues.database),
    receipts: infra.receipts,
    home: createHomePublisher({
      client: slackClient,
      redis,
      keys,
      directory,
      read: (actor) => readHome({ store, gate }, actor),
      logger,
    }),
    logger,
    slackFetch: infra.slackFetch,
    dryRun: config.dryRun,
    ...(infra.tracing.enabled
      ? { traceRequests: infra.tracing.slackRequests(createTraceLinks(redis, keys, config.requestTtlMs)) }
      : {}),
  });
  // Receipts this process takes are worked on while its heartbeat lasts (then the sweeper answers them).
  shutdown.push('receipts heartbeat', infra.receipts.beat());
  await slack.start();
  shutdown.push('slack', () => slack.stop(config.shutdownGraceMs));
  return slack.requestListener;
}
