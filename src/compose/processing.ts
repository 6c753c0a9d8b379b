import type { AtlasDatabaseAccessApi } from '../atlas/database-access-api.js';
import type { FederationCache } from '../atlas/federation-cache.js';
import type { AtlasRolesApi } from '../atlas/roles-api.js';
import { createApplyProcessor } from '../jobs/apply-processor.js';
import { createApproversProcessor } from '../jobs/approvers-processor.js';
import { createDatabaseGrants } from '../jobs/database-grants.js';
import { createDatabaseProcessor } from '../jobs/database-processor.js';
import { createEnrichProcessor } from '../jobs/enrich-processor.js';
import { createExpireProcessor } from '../jobs/expire-processor.js';
import { createHomeProcessor } from '../jobs/home-processor.js';
import { createNotifyProcessor } from '../jobs/notify-processor.js';
import { createOffboardProcessor } from '../jobs/offboard-processor.js';
import { createReconcileProcessor } from '../jobs/reconcile-processor.js';
import { createRemindProcessor } from '../jobs/remind-processor.js';
import { createReviewProcessor } from '../jobs/review-processor.js';
import { createRevokeProcessor } from '../jobs/revoke-processor.js';
import { createStartCheck } from '../jobs/start-check.js';
import { createSweepProcessor } from '../jobs/sweep-processor.js';
import { createUserLock } from '../jobs/user-lock.js';
import { createWorkers, type Workers } from '../jobs/workers.js';
import type { RedisClient } from '../lib/redis-client.js';
import type { AtlasScope, TargetRef } from '../lib/scope.js';
import { createOnCallSchedules } from '../oncall/create-on-call.js';
import { decidersOf, requirementsAt, targetOf } from '../policy/policy.js';
import { readHome } from '../requests/home.js';
import type { Lifecycle } from '../requests/lifecycle.js';
import { escalationViewOf } from '../slack/blocks/escalation-block.js';
import { createSlackDatabaseNotifier } from '../slack/database-notifier.js';
import { createSlackDirectory } from '../slack/directory.js';
import { createHomePublisher, VIEWER_MS } from '../slack/home.js';
import { createSlackNotifier } from '../slack/notifier.js';
import { createSlackOffboardingNotifier } from '../slack/offboarding-notifier.js';
import { createOrphanedReceiptAnswer } from '../slack/receipt-answer.js';
import { createReplier } from '../slack/respond.js';
import { createSlackReviewNotifier } from '../slack/review-notifier.js';
import { createAtlasAccessReader } from './atlas-access.js';
import type { Infrastructure } from './infrastructure.js';
import { createWebClient } from './slack-clients.js';

/** What the processors need beyond the shared infrastructure. */
export interface ProcessingParts {
  readonly atlas: AtlasRolesApi;
  /** Temporary database users and IP access-list entries (Atlas v2 only). */
  readonly database?: AtlasDatabaseAccessApi;
  /** The organization that owns a project (the client's cached lookup), for roles held through teams in reviews. */
  readonly orgOfProject?: (groupId: string) => Promise<string>;
  /** Atlas federation's role mappings per organization (Atlas v2 only), for the check at request time. */
  readonly federation?: {
    readonly mappings: FederationCache;
    readonly orgOfProject: (groupId: string) => Promise<string>;
    /** When Atlas's events show an SSO login took the person's roles in the scope back (role mappings). */
    readonly ssoRemovedAt: (
      scope: AtlasScope,
      email: string,
      userId: string,
      since: number,
    ) => Promise<number | null>;
  };
  /** The workers' own connection (BullMQ blocks on it). */
  readonly workerRedis: RedisClient;
  /** The lifecycle whose grant plans are written durably. */
  readonly lifecycle: Lifecycle;
}

/** Builds every processor and starts one BullMQ worker per queue. */
export function startProcessing(infra: Infrastructure, parts: ProcessingParts): Workers {
  const { config, store, ledgers, queues, redis, keys, dryRunLog, gate } = infra;
  const { atlas, lifecycle } = parts;
  const policy = () => infra.policy.current();
  const logger = infra.logger.child({ component: 'worker' });
  const slackClient = createWebClient(config, infra.slackFetch, { retries: 0, rejectRateLimited: true });
  const lock = createUserLock(redis, { prefix: config.redis.prefix, ttlMs: config.worker.lockDurationMs });
  const federation = parts.federation;
  const atlasStep = {
    store,
    lifecycle,
    ledgers,
    atlas,
    lock,
    logger,
    ...(dryRunLog ? { dryRunLog } : {}),
    ...(federation ? { ssoRemovedAt: federation.ssoRemovedAt } : {}),
    ...(parts.database ? { database: parts.database } : {}),
  };
  const directory = createSlackDirectory(slackClient, { logger });
  const replier = createReplier({
    client: slackClient,
    slackApiUrl: config.slack.apiUrl,
    logger,
    dryRun: config.dryRun,
  });
  const approvalsChannelOf = (target: TargetRef) =>
    targetOf(policy(), target)?.approvalsChannel ?? policy().approvalsChannel;
  return createWorkers({
    connection: parts.workerRedis,
    prefix: config.redis.prefix,
    logger,
    beforeJob: () => infra.foreground.quiet(),
    concurrency: config.worker.concurrency,
    lockDurationMs: config.worker.lockDurationMs,
    telemetry: infra.tracing.bullmq,
    processors: {
      enrich: createEnrichProcessor({
        policy,
        gate,
        directory,
        store,
        lifecycle,
        ledgers,
        accessReader: createAtlasAccessReader(
          atlas,
          () => policy().targets.filter((t) => t.kind === 'project'),
          parts.federation,
        ),
        ...(parts.database ? { database: parts.database } : {}),
        onCall: createOnCallSchedules(config.onCall, { logger: logger.child({ component: 'on-call' }) }),
        logger,
      }),
      apply: createApplyProcessor({
        ...atlasStep,
        offboardedBy: (email) => infra.offboardingStore.offboardedBy(email),
        checkAtStart: createStartCheck({ policy, gate, directory }),
      }),
      revoke: createRevokeProcessor({
        ...atlasStep,
        retryIntervalMs: config.grants.revokeRetryIntervalMs,
        escalateEveryMs: config.grants.revokeEscalateEveryMs,
      }),
      expire: createExpireProcessor({ store, lifecycle, logger }),
      remind: createRemindProcessor({ store, lifecycle, logger }),
      approvers: createApproversProcessor({ store, lifecycle, policy, logger }),
      notify: createNotifyProcessor({
        store,
        lifecycle,
        notifier: createSlackNotifier(slackClient, {
          approvalsChannel: (request) => approvalsChannelOf(request.target),
          replier,
          approvalView: (request) => {
            const target = targetOf(policy(), request.target);
            if (!target) return {};
            // Escalated (escalate:): its fallback approvers decide too, and the message says so.
            const now = Date.now();
            const needs = requirementsAt(target, request, now);
            return {
              approvalsNeeded: needs.approvals,
              approvers: decidersOf(policy(), needs.approverLists),
              ...escalationViewOf(request, needs.escalation, now),
            };
          },
          approversOf: (request) => targetOf(policy(), request.target)?.approvers ?? [],
        }),
        logger,
      }),
      home: createHomeProcessor({
        store,
        redis,
        keys,
        queues,
        home: createHomePublisher({
          client: slackClient,
          redis,
          keys,
          directory,
          read: (actor) => readHome({ store, gate }, actor),
          logger,
        }),
        logger,
        viewerMs: VIEWER_MS,
      }),
      review: createReviewProcessor({
        reviews: infra.reviewStore,
        ledgers,
        atlas,
        orgOfProject: parts.orgOfProject,
        lock,
        notifier: createSlackReviewNotifier(slackClient, { channelOf: approvalsChannelOf }),
        policy,
        reviewJobs: queues.review,
        logger,
        reviewTtlMs: config.grants.reviewTtlMs,
        dryRunLog,
      }),
      // Its own client: the password goes through it, and its logger never writes a body or an answer.
      database: createDatabaseProcessor({
        grants: createDatabaseGrants(atlasStep),
        notifier: createSlackDatabaseNotifier(
          createWebClient(config, infra.slackFetch, { retries: 0, rejectRateLimited: true, logger }),
          { logger },
        ),
        logger,
      }),
      offboard: createOffboardProcessor({
        offboardings: infra.offboardingStore,
        store,
        lifecycle,
        ledgers,
        atlas,
        lock,
        notifier: createSlackOffboardingNotifier(slackClient),
        offboardJobs: queues.offboard,
        logger,
        dryRunLog,
      }),
      sweep: createSweepProcessor({
        store,
        queues,
        workQueue: infra.workQueue,
        receipts: infra.receipts,
        answerOrphaned: createOrphanedReceiptAnswer(replier),
        logger,
        requestTtlMs: config.requestTtlMs,
        graceMs: config.worker.sweepIntervalMs,
      }),
      reconcile: createReconcileProcessor({
        store,
        ledgers,
        atlas,
        queues,
        workQueue: infra.workQueue,
        redis,
        keys,
        logger,
        graceMs: Math.min(60_000, config.grants.reconcileIntervalMs),
        auditRetentionMs: config.auditRetentionMs,
        ...(parts.database ? { database: { database: parts.database, policy } } : {}),
      }),
    },
  });
}
