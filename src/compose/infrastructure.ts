import type { FetchFunction } from '@slack/web-api';
import { createPolicyGate, type PolicyGate } from '../access/policy-gate.js';
import { createRefusalLog, type RefusalLog } from '../access/refusal-log.js';
import { invalidRoles } from '../atlas/validate.js';
import type { AuditSink } from '../audit/audit-trail.js';
import type { Config } from '../config.js';
import { type Continuity, createContinuity } from '../continuity/continuity.js';
import { AppError } from '../errors.js';
import { createLedgerStore, type LedgerStore } from '../grants/ledger-store.js';
import { createApproverChaseQueue } from '../jobs/approver-chase-queue.js';
import { createOffboardingQueue } from '../jobs/offboard-processor.js';
import { createQueues, type Queues } from '../jobs/queues.js';
import { createReviewQueue } from '../jobs/review-queue.js';
import { createWorkQueue } from '../jobs/work-queue.js';
import type { RedisClient } from '../lib/redis-client.js';
import { type RedisKeys, redisKeys } from '../lib/redis-keys.js';
import { createOffboardingStore, type OffboardingStore } from '../offboarding/offboarding-store.js';
import { createDryRunLog, type DryRunLog } from '../ops/dry-run-log.js';
import { createForeground, type Foreground } from '../ops/foreground.js';
import { createLogger, type Logger } from '../ops/logger.js';
import { createMetrics, type Metrics } from '../ops/metrics.js';
import { connectRedis } from '../ops/redis.js';
import {
  evictionProblem,
  persistenceWarning,
  type RedisServerFacts,
  readRedisFacts,
} from '../ops/redis-settings.js';
import type { ShutdownStack } from '../ops/shutdown.js';
import type { Tracing } from '../ops/tracing-types.js';
import { openPolicySource, type PolicySource } from '../policy/policy-source.js';
import { createLifecycle, type Lifecycle, type LifecycleDeps } from '../requests/lifecycle.js';
import { readOverdueGrants } from '../requests/overdue-grants.js';
import type { WorkQueue } from '../requests/ports.js';
import { createReceipts, type Receipts } from '../requests/receipts.js';
import { createRequestReader, type RequestReader } from '../requests/request-reader.js';
import { createRequestWriter, type RequestWriterOptions } from '../requests/request-writer.js';
import { createReviewStarter } from '../reviews/review-starter.js';
import { createReviewStore, type ReviewStore } from '../reviews/review-store.js';
import { createApprovalsAnnouncer } from '../slack/announce.js';
import { createSlackFetch } from '../slack/slack-fetch.js';
import { secretsOf } from './secrets.js';
import { createUserGroups, createWebClient } from './slack-clients.js';

/** What both sides of Rolecall (Slack and workers) share in one process. */
export interface Infrastructure {
  readonly config: Config;
  readonly logger: Logger;
  readonly shutdown: ShutdownStack;
  /** OpenTelemetry when OTEL_EXPORTER_OTLP_ENDPOINT is set, else a handle that does nothing. */
  readonly tracing: Tracing;
  readonly metrics: Metrics;
  /** Every Slack Web API client's fetch (counts failed calls for the metrics; ATLAS_DRY_RUN labels). */
  readonly slackFetch: FetchFunction;
  /** ATLAS_DRY_RUN: the writes not sent, per request, for its audit entry and messages. */
  readonly dryRunLog: DryRunLog | undefined;
  /** Slack requests not answered yet (HTTP mode); background work in this process lets them go first. */
  readonly foreground: Foreground;
  readonly redis: RedisClient;
  readonly redisFacts: readonly RedisServerFacts[];
  readonly keys: RedisKeys;
  readonly policy: PolicySource;
  /** The one decision point under the policy in force, with Slack user groups; records refusals. */
  readonly gate: PolicyGate;
  /** Every refusal: in the audit stream, counted, logged (the gate records its own). */
  readonly refusals: RefusalLog;
  readonly onAudit: AuditSink;
  readonly queues: Queues;
  readonly workQueue: WorkQueue;
  /** Reads requests (the lifecycle writes them). */
  readonly store: RequestReader;
  /** How the request store is written (a durable writer on its own connection uses the same). */
  readonly writerOptions: RequestWriterOptions;
  readonly lifecycle: Lifecycle;
  /** A lifecycle whose grant plans go through `durable` (workers, when Redis can confirm a write). */
  readonly lifecycleWith: (durable: NonNullable<LifecycleDeps['durable']>) => Lifecycle;
  readonly ledgers: LedgerStore;
  readonly receipts: Receipts;
  readonly reviewStore: ReviewStore;
  readonly offboardingStore: OffboardingStore;
  readonly reviewQueue: ReturnType<typeof createReviewQueue>;
  readonly offboardingQueue: ReturnType<typeof createOffboardingQueue>;
  readonly continuity: Continuity;
  /** Recurring jobs (sweeper, reconciliation, review schedules), set where workers run. */
  scheduleRecurring: (() => Promise<void>) | undefined;
}

/**
 * Opens what both sides share: logs, metrics, Redis (refused when it would evict keys), the policy
 * source, the queues, the stores and the lifecycle over them, and store continuity. Every resource
 * is pushed onto `shutdown` as it is made.
 */
export async function openInfrastructure(
  config: Config,
  shutdown: ShutdownStack,
  logger: Logger,
  auditLogger: Logger,
  tracing: Tracing,
): Promise<Infrastructure> {
  const metrics = createMetrics({ revokeEscalateEveryMs: config.grants.revokeEscalateEveryMs });
  const slackFetch = createSlackFetch((method, error) => metrics.slackApiError(method, error), {
    dryRun: config.dryRun,
  });
  if (config.dryRun) {
    logger.warn(
      'ATLAS_DRY_RUN=true: DRY RUN, Atlas is read but no write is sent; every Slack message says so',
      {
        dryRun: true,
      },
    );
  }
  const redis = await connectRedis(config.redis, 'commands', logger);
  shutdown.push('redis', async () => {
    await redis.quit();
  });
  // A Redis that evicts keys would lose requests and grants without a trace: refuse to start.
  const redisFacts = await readRedisFacts(redis);
  const eviction = evictionProblem(redisFacts);
  if (eviction) throw new AppError('STORAGE_UNAVAILABLE', eviction);
  const volatile = persistenceWarning(redisFacts);
  if (volatile) logger.warn(`Redis persistence: ${volatile}`, { redis: redisFacts });

  const policy = await openPolicySource({
    file: config.policyFile,
    api: {
      name: `ATLAS_API=${config.atlasApi}`,
      invalidRoles: (kind, roles) => invalidRoles(config.atlasApi, kind, roles),
    },
    logger,
    onLoaded: (version) => metrics.policyLoaded(version),
  });
  const stopWatching = policy.watch();
  shutdown.push('policy watcher', async () => stopWatching());

  const keys = redisKeys(config.redis.prefix);
  // Every audit entry is also one JSON log line ("msg":"audit"), for log pipelines and SIEMs.
  const onAudit: AuditSink = (entry) => auditLogger.info('audit', entry);
  const queues = createQueues(redis, config.redis.prefix, {
    backoffMs: config.worker.backoffMs,
    telemetry: tracing.bullmq,
  });
  shutdown.push('queues', () => queues.close());
  metrics.watchQueues(queues.all);
  const workQueue = createWorkQueue(queues, { remindBeforeMs: config.grants.remindBeforeMs });
  let continuity: Continuity | undefined;
  const writerOptions: RequestWriterOptions = {
    prefix: config.redis.prefix,
    onAudit,
    // Every write's count: a store found with fewer than this process saw went back in time.
    onWrites: (count) => continuity?.observeWrites(count, 'commands'),
  };
  // With tracing on, the request a piece of work reads or moves is named on its spans.
  const store = createRequestReader(redis, {
    prefix: config.redis.prefix,
    ...(tracing.enabled
      ? {
          onRead: (r) =>
            tracing.noteRequest({ requestId: r.id, target: r.target.name, roles: r.roles }, 'read'),
        }
      : {}),
  });
  const ledgers = createLedgerStore(redis, keys);
  metrics.watchOverdueGrants(() => readOverdueGrants({ ledgers, store }, Date.now()));
  const writer = createRequestWriter(redis, writerOptions);
  const lifecycleWith = (durable?: NonNullable<LifecycleDeps['durable']>) =>
    createLifecycle({
      writer,
      workQueue,
      requestTtlMs: config.requestTtlMs,
      chase: createApproverChaseQueue(queues.approvers, () => policy.current()),
      onMoved: (moved) => {
        metrics.transitioned(moved);
        tracing.noteRequest(moved, moved.from === null ? 'filed' : 'moved');
      },
      onDropFailed: (requestId, _job, error) =>
        logger.warn('could not drop the expiry job of a decided request; it will run and do nothing', {
          requestId,
          error: error.message,
        }),
      ...(durable ? { durable } : {}),
    });
  // Receipts are written while Slack waits for the ack: on a connection of their own, so they never
  // queue behind the store's and the queues' commands (ioredis answers a connection's commands in order).
  const receiptsRedis = await connectRedis(config.redis, 'commands', logger);
  shutdown.push('receipts redis', async () => {
    await receiptsRedis.quit();
  });
  const reviews = createReviewStore(redis, keys, { onAudit });
  const refusals = createRefusalLog(redis, keys, { logger, onAudit });
  const reviewQueue = createReviewQueue(queues.review);
  const infrastructure: Infrastructure = {
    config,
    logger,
    shutdown,
    tracing,
    metrics,
    slackFetch,
    dryRunLog: config.dryRun ? createDryRunLog() : undefined,
    foreground: createForeground(),
    redis,
    redisFacts,
    keys,
    policy,
    gate: createPolicyGate({
      policy: () => policy.current(),
      userGroups: createUserGroups(config, logger, slackFetch),
      refusals,
    }),
    refusals,
    onAudit,
    queues,
    workQueue,
    store,
    writerOptions,
    lifecycle: lifecycleWith(),
    lifecycleWith,
    ledgers,
    receipts: createReceipts(receiptsRedis, keys),
    reviewStore: reviews,
    offboardingStore: createOffboardingStore(redis, keys, { onAudit }),
    reviewQueue,
    offboardingQueue: createOffboardingQueue(queues.offboard),
    continuity: createContinuity({
      redis,
      keys,
      logger,
      onAudit,
      announce: createApprovalsAnnouncer(
        createWebClient(config, slackFetch, { retries: 2 }),
        () => policy.current(),
        logger,
      ),
      startReviews: async () => {
        const outcomes = await createReviewStarter({ store: reviews, reviewQueue }).startAll(
          policy.current().targets.map((t) => ({ name: t.name, kind: t.kind, id: t.id })),
          'system',
        );
        const started = outcomes.filter((o) => o.status === 'started').length;
        return `Access reviews of every target are starting: ${started} started now, ${outcomes.length - started} already open or starting.`;
      },
      reinstate: () => infrastructure.scheduleRecurring?.() ?? Promise.resolve(),
    }),
    scheduleRecurring: undefined,
  };
  continuity = infrastructure.continuity;
  return infrastructure;
}

/** The audit log's own logger: every entry is logged whatever LOG_LEVEL says. */
export function createAuditLogger(config: Config, override: Logger | undefined): Logger {
  return override
    ? override.child({ component: 'audit' })
    : createLogger({ level: 'info', secrets: secretsOf(config), bindings: { component: 'audit' } });
}
