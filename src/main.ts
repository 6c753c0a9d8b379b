import { type FSWatcher, realpathSync, watch } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { type FetchFunction, WebClient } from '@slack/web-api';
import { createAtlasClient } from './atlas/create-atlas-client.js';
import type { DryRunWrite } from './atlas/http-client.js';
import { createRedisRateLimiter } from './atlas/rate-limiter.js';
import type { AtlasRolesApi } from './atlas/roles-api.js';
import { invalidRoles } from './atlas/validate.js';
import type { AuditSink } from './audit/audit-trail.js';
import { type Config, loadConfig, type RunMode } from './config.js';
import { createContinuity } from './continuity/continuity.js';
import { AppError, isAppError } from './errors.js';
import { createLedgerStore, type LedgerStore } from './grants/ledger-store.js';
import { createApplyProcessor } from './jobs/apply-processor.js';
import { createEnrichProcessor } from './jobs/enrich-processor.js';
import { createExpireProcessor } from './jobs/expire-processor.js';
import { createHomeProcessor } from './jobs/home-processor.js';
import { createNotifyProcessor } from './jobs/notify-processor.js';
import { createOffboardingQueue, createOffboardProcessor } from './jobs/offboard-processor.js';
import type { ProcessorDeps } from './jobs/processor-support.js';
import { createQueues, type Queues } from './jobs/queues.js';
import { createReconcileProcessor } from './jobs/reconcile-processor.js';
import { createRemindProcessor } from './jobs/remind-processor.js';
import { createReviewProcessor, createReviewQueue, syncReviewSchedules } from './jobs/review-processor.js';
import { createRevokeProcessor } from './jobs/revoke-processor.js';
import { createSweepProcessor } from './jobs/sweep-processor.js';
import { createUserLock } from './jobs/user-lock.js';
import { createWorkQueue } from './jobs/work-queue.js';
import { createWorkers, type Workers } from './jobs/workers.js';
import type { RedisClient } from './lib/redis-client.js';
import { redisKeys } from './lib/redis-keys.js';
import type { TargetRef } from './lib/scope.js';
import { createOffboardingService } from './offboarding/offboarding-service.js';
import { createOffboardingStore, type OffboardingStore } from './offboarding/offboarding-store.js';
import { createDryRunLog, type DryRunLog } from './ops/dry-run-log.js';
import { createForeground, type Foreground } from './ops/foreground.js';
import { createHttpServer } from './ops/http-server.js';
import { createLogger, type Logger } from './ops/logger.js';
import { createMetrics } from './ops/metrics.js';
import { createReadiness } from './ops/readiness.js';
import { connectRedis } from './ops/redis.js';
import {
  createDurableWrites,
  type DurableWrites,
  describeDurability,
  planDurability,
} from './ops/redis-durability.js';
import { evictionProblem, persistenceWarning, readRedisFacts } from './ops/redis-settings.js';
import { createShutdownStack } from './ops/shutdown.js';
import { loadPolicy, type PolicyApi } from './policy/load-policy.js';
import { decidersOf, type Policy, requirementsOf, targetOf } from './policy/policy.js';
import type { GranteeAccess } from './requests/assess.js';
import { createExtensionClaims } from './requests/extension-claims.js';
import { readHome } from './requests/home.js';
import { createPolicyGate, type UserGroups } from './requests/policy-gate.js';
import { createReceipts, type Receipts } from './requests/receipts.js';
import { createRefusalLog } from './requests/refusal-log.js';
import {
  type AccessReader,
  type CurrentRoles,
  createRequestService,
  type WorkQueue,
} from './requests/request-service.js';
import { createRequestStore, type RequestStore, type RequestStoreOptions } from './requests/request-store.js';
import { createStepConfirmationStore } from './requests/step-confirmations.js';
import { createSubmissionLimit } from './requests/submission-limit.js';
import { createReviewService } from './reviews/review-service.js';
import { createReviewStarter } from './reviews/review-starter.js';
import { createReviewStore, type ReviewStore } from './reviews/review-store.js';
import { createApprovalsAnnouncer } from './slack/announce.js';
import { createSlackApp } from './slack/app.js';
import { createSlackDirectory } from './slack/directory.js';
import { createHomePublisher, VIEWER_MS } from './slack/home.js';
import { createSlackNotifier } from './slack/notifier.js';
import { createSlackOffboardingNotifier } from './slack/offboarding-notifier.js';
import { createOrphanedReceiptAnswer } from './slack/receipt-answer.js';
import { createReplier } from './slack/respond.js';
import { createSlackReviewNotifier } from './slack/review-notifier.js';
import { createSlackFetch } from './slack/slack-fetch.js';
import { createSlackUserGroups } from './slack/user-groups.js';

/** A running Rolecall process. */
export interface Rolecall {
  /** The port the HTTP server is bound to. */
  readonly port: number;
  /** Re-reads the policy file; a broken file keeps the current policy and throws. */
  reloadPolicy(): Promise<void>;
  /** Stops everything in the reverse order of start-up. */
  stop(): Promise<void>;
}

/** Things a caller (the demo, a test) may supply instead of the defaults. */
export interface RolecallOverrides {
  logger?: Logger;
}

/**
 * The composition root: config -> logger -> redis -> policy -> atlas -> queues -> workers -> slack -> http.
 * `mode` decides whether the workers (all, worker) and the Slack side (all, bot) run in this process.
 * Everything is built here and passed down; nothing is created at import time.
 */
export async function startRolecall(config: Config, overrides: RolecallOverrides = {}): Promise<Rolecall> {
  const logger =
    overrides.logger ??
    createLogger({
      level: config.logLevel,
      secrets: secretsOf(config),
    });
  const shutdown = createShutdownStack(logger);
  /** Run at the first moment of a shutdown, before the drain (workers stop taking jobs). */
  const onStopping: (() => void)[] = [];
  /** Slack requests not answered yet (HTTP mode); background work in this process lets them go first. */
  const foreground = createForeground();
  let stopping = false;
  const metrics = createMetrics();
  const slackFetch = createSlackFetch((method, error) => metrics.slackApiError(method, error), {
    dryRun: config.dryRun,
  });
  /** ATLAS_DRY_RUN: the writes not sent, per request, for its audit entry and messages. */
  const dryRunLog = config.dryRun ? createDryRunLog() : undefined;
  if (config.dryRun) {
    logger.warn(
      'ATLAS_DRY_RUN=true: DRY RUN, Atlas is read but no write is sent; every Slack message says so',
      {
        dryRun: true,
      },
    );
  }
  try {
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

    const api: PolicyApi = {
      name: `ATLAS_API=${config.atlasApi}`,
      invalidRoles: (kind, roles) => invalidRoles(config.atlasApi, kind, roles),
    };
    const readPolicy = () => loadPolicy(config.policyFile, api);
    let policy: Policy = await readPolicy();
    const currentPolicy = () => policy;
    const describe = (p: Policy) => ({
      version: p.version,
      targets: p.targets.length,
      rules: p.targets.reduce((sum, t) => sum + t.rules.length, 0),
    });
    logger.info('policy loaded', describe(policy));
    metrics.policyLoaded(policy.version);
    /** Run after every policy that takes effect (workers keep the review schedules in step). */
    const onPolicy: ((next: Policy) => Promise<void>)[] = [];
    /** Re-reads the file; a broken one keeps the policy in force, and every problem is logged. */
    const reloadPolicy = async (why: string): Promise<void> => {
      try {
        const next = await readPolicy();
        const changed = next.version !== policy.version;
        policy = next;
        if (changed) {
          logger.info('policy reloaded', { why, ...describe(policy) });
          metrics.policyLoaded(policy.version);
          for (const hook of onPolicy) await hook(policy);
        } else if (why === 'SIGHUP') logger.info('policy re-read, unchanged', { why, ...describe(policy) });
      } catch (error) {
        logger.error('policy not reloaded; keeping the one in force', {
          why,
          version: policy.version,
          problems: isAppError(error) ? error.message : String(error),
        });
        throw error;
      }
    };
    const stopWatching = watchPolicyFile(config.policyFile, () => {
      reloadPolicy('the file changed').catch(() => undefined);
    });
    shutdown.push('policy watcher', async () => stopWatching());

    const keys = redisKeys(config.redis.prefix);
    // Every audit entry is also one JSON log line ("msg":"audit"), for log pipelines and SIEMs,
    // whatever LOG_LEVEL says.
    const auditLogger = overrides.logger
      ? overrides.logger.child({ component: 'audit' })
      : createLogger({ level: 'info', secrets: secretsOf(config), bindings: { component: 'audit' } });
    const onAudit: AuditSink = (entry) => auditLogger.info('audit', entry);
    const queues = createQueues(redis, config.redis.prefix, { backoffMs: config.worker.backoffMs });
    shutdown.push('queues', () => queues.close());
    metrics.watchQueues(queues.all);
    const workQueue = createWorkQueue(queues, { remindBeforeMs: config.grants.remindBeforeMs });
    const forgetExpiry = (requestId: string) => {
      workQueue.forgetExpiry(requestId).catch((error: unknown) => {
        logger.warn('could not drop the expiry job of a decided request; it will run and do nothing', {
          requestId,
          error: (error as Error).message,
        });
      });
    };
    const storeOptions: RequestStoreOptions = {
      prefix: config.redis.prefix,
      onAudit,
      // Every write's count: a store found with fewer than this process saw went back in time.
      onWrites: (count) => continuity.observeWrites(count, 'commands'),
      onTransition: (request, from, at) => {
        metrics.transitioned({
          from,
          to: request.state,
          createdAt: request.createdAt,
          decidedAt: request.decision?.at,
          at,
        });
        // A decided request's expiry job would only find nothing to do: drop it now (~0.7 KB each
        // until REQUEST_TTL). Best effort: when this fails the job runs later and does nothing. Not on
        // `expired`: that is the expiry job itself, whose retry must stay.
        const decided = request.state !== 'pending' && request.state !== 'expired';
        if ((from === 'pending' || from === 'submitted') && decided) forgetExpiry(request.id);
      },
    };
    const store = createRequestStore(redis, storeOptions);
    const ledgers = createLedgerStore(redis, keys);
    // Receipts are written while Slack waits for the ack: on a connection of their own, so they never
    // queue behind the store's and the queues' commands (ioredis answers a connection's commands in order).
    const receiptsRedis = await connectRedis(config.redis, 'commands', logger);
    shutdown.push('receipts redis', async () => {
      await receiptsRedis.quit();
    });
    const receipts = createReceipts(receiptsRedis, keys);
    const reviews = createReviewStore(redis, keys, { onAudit });
    const offboardings = createOffboardingStore(redis, keys, { onAudit });
    const reviewQueue = createReviewQueue(queues.review);
    const offboardingQueue = createOffboardingQueue(queues.offboard);
    /** Recurring jobs (sweeper, reconciliation, review schedules); set where workers run. */
    let scheduleRecurring: (() => Promise<void>) | undefined;
    const noticeClient = new WebClient(config.slack.botToken, {
      slackApiUrl: config.slack.apiUrl,
      retryConfig: { retries: 2 },
      fetch: slackFetch,
    });
    const continuity = createContinuity({
      redis,
      keys,
      logger,
      onAudit,
      announce: createApprovalsAnnouncer(noticeClient, currentPolicy, logger),
      startReviews: async () => {
        const outcomes = await createReviewStarter({ store: reviews, queue: reviewQueue }).startAll(
          policy.targets.map((t) => ({ name: t.name, kind: t.kind, id: t.id })),
          'system',
        );
        const started = outcomes.filter((o) => o.status === 'started').length;
        return `Access reviews of every target are starting: ${started} started now, ${outcomes.length - started} already open or starting.`;
      },
      reinstate: () => scheduleRecurring?.() ?? Promise.resolve(),
    });

    /** What a grant's plan reaches before its Atlas write (workers only), for /readyz. */
    let grantDurability: DurableWrites | undefined;
    /** Set when this process calls Atlas (worker or all): the request form can then show Atlas's roles. */
    let atlasHere: AtlasRolesApi | undefined;
    /** One authenticated Atlas read, for /readyz (workers only: the bot holds no Atlas credential). */
    let atlasProbe: (() => Promise<string>) | undefined;
    if (config.mode !== 'bot') {
      // Only workers call Atlas, so only they hold its credentials.
      const atlasConfig = config.atlas;
      if (atlasConfig === null) throw new AppError('CONFIG_INVALID', 'A worker needs the Atlas settings.');
      const atlasClient = createAtlasClient(atlasConfig, {
        logger: logger.child({ component: 'atlas' }),
        rateLimiter: createRedisRateLimiter(redis, config.redis.prefix, { buckets: atlasConfig.rateLimits }),
        onExchange: (event) => metrics.atlasExchange(event),
        ...(dryRunLog ? { onDryRun: (write: DryRunWrite) => dryRunLog.record(write) } : {}),
      });
      shutdown.push('atlas client', () => atlasClient.close());
      const atlas = atlasClient.roles;
      atlasHere = atlas;
      atlasProbe = async () => {
        const target = policy.targets[0];
        if (!target) return 'no target to check';
        await atlas.members.probe({ kind: target.kind, id: target.id });
        return `credentials accepted on ${target.name}`;
      };
      const workerRedis = await connectRedis(config.redis, 'worker', logger);
      shutdown.push('worker redis', async () => {
        await workerRedis.quit();
      });
      const durability = planDurability(config.redisDurability, redisFacts);
      logger.info('grant plans are made durable before Atlas writes', {
        durability: describeDurability(durability),
      });
      // A connection of its own: WAIT blocks it, and must cover the plan it wrote, not others' work.
      const durableRedis = await connectRedis(config.redis, 'commands', logger);
      shutdown.push('durable redis', async () => {
        await durableRedis.quit();
      });
      const durableWrites = createDurableWrites(durableRedis, config.redisDurability, durability, () =>
        readRedisFacts(redis),
      );
      grantDurability = durableWrites;
      const durable: WorkerParts['durable'] = {
        store: createRequestStore(durableRedis, {
          ...storeOptions,
          onWrites: (count) => continuity.observeWrites(count, 'durable'),
        }),
        needed: () => durableWrites.needed(),
        confirm: () => durableWrites.confirm(),
      };
      const workers = startWorkers(config, {
        foreground,
        durable,
        receipts,
        store,
        ledgers,
        atlas,
        queues,
        workQueue,
        redis,
        workerRedis,
        logger,
        policy: currentPolicy,
        reviews,
        offboardings,
        slackFetch,
        dryRunLog,
      });
      onStopping.push(() => {
        void workers.close(config.shutdownGraceMs);
      });
      shutdown.push('workers', async () => {
        await workers.close(config.shutdownGraceMs);
      });
      scheduleRecurring = async () => {
        await syncReviewSchedules(queues.review, policy, { logger });
        await queues.sweep.upsertJobScheduler(
          'sweep',
          { every: config.worker.sweepIntervalMs },
          { name: 'sweep' },
        );
        await queues.reconcile.upsertJobScheduler(
          'reconcile',
          { every: config.grants.reconcileIntervalMs },
          { name: 'reconcile' },
        );
      };
      await scheduleRecurring();
      onPolicy.push((next) => syncReviewSchedules(queues.review, next, { logger }));
    }
    // After the workers' schedules exist: a loss found now re-creates nothing twice.
    await continuity.open();

    let slackListener: ReturnType<typeof createSlackApp>['requestListener'];
    if (config.mode !== 'worker') {
      const slackClient = new WebClient(config.slack.botToken, {
        slackApiUrl: config.slack.apiUrl,
        retryConfig: { retries: 1 },
        fetch: slackFetch,
      });
      const directory = createSlackDirectory(slackClient, { logger });
      const gate = createPolicyGate({
        policy: currentPolicy,
        userGroups: createUserGroups(config, logger, slackFetch),
      });
      const refusals = createRefusalLog(redis, keys, { logger, onAudit });
      const service = createRequestService({
        store,
        policy: currentPolicy,
        gate,
        people: directory,
        workQueue,
        refusals,
        limit: createSubmissionLimit(redis, keys, {
          perMinute: config.limits.requestsPerMinute,
          maxOpen: config.limits.maxOpenRequests,
        }),
        logger,
        requestTtlMs: config.requestTtlMs,
        currentRoles: createCurrentRoles(ledgers, atlasHere),
        extensions: createExtensionClaims(redis, keys, config.requestTtlMs + 24 * 3600 * 1000),
      });
      const home = createHomePublisher({
        client: slackClient,
        redis,
        keys,
        people: directory,
        read: (actor) => readHome({ store, gate }, actor),
        logger,
      });
      const slack = createSlackApp(config.slack, {
        service,
        reviews: createReviewService({ store: reviews, gate, refusals, queue: reviewQueue }),
        offboarding: createOffboardingService({
          store: offboardings,
          gate,
          refusals,
          queue: offboardingQueue,
        }),
        policy: currentPolicy,
        directory,
        continuity,
        foreground,
        stepConfirmations: createStepConfirmationStore(redis, keys),
        receipts,
        home,
        logger,
        slackFetch,
        dryRun: config.dryRun,
      });
      // Receipts this process takes are worked on while its heartbeat lasts (then the sweeper answers them).
      shutdown.push('receipts heartbeat', receipts.beat());
      await slack.start();
      shutdown.push('slack', () => slack.stop(config.shutdownGraceMs));
      slackListener = slack.requestListener;
    }

    const slackProbe = new WebClient(config.slack.botToken, {
      slackApiUrl: config.slack.apiUrl,
      retryConfig: { retries: 0 },
      rejectRateLimitedCalls: true,
      timeout: 5_000,
      fetch: slackFetch,
    });
    const readiness = createReadiness(
      [
        { name: 'redis', run: async () => redis.ping() },
        { name: 'policy', run: async () => `version ${policy.version}` },
        {
          name: 'redis-settings',
          periodic: true,
          run: async () => {
            const facts = await readRedisFacts(redis);
            const problem = evictionProblem(facts) ?? grantDurability?.refresh(facts);
            if (problem) throw new AppError('STORAGE_UNAVAILABLE', problem);
            return [
              `maxmemory-policy noeviction on ${facts.length} master(s)`,
              persistenceWarning(facts) ?? 'append-only persistence on',
              grantDurability?.describe(),
            ]
              .filter((part) => part !== undefined)
              .join('; ');
          },
        },
        { name: 'store', periodic: true, run: () => continuity.watch() },
        {
          name: 'slack',
          periodic: true,
          run: async () => {
            const auth = await slackProbe.auth.test();
            return `auth.test passed for ${auth.user ?? 'the bot'} on ${auth.team ?? 'the workspace'}`;
          },
        },
        ...(atlasProbe ? [{ name: 'atlas', periodic: true, run: atlasProbe }] : []),
      ],
      { intervalMs: config.readyCheckIntervalMs, ...(config.dryRun ? { extra: { dryRun: true } } : {}) },
    );
    await readiness.start();
    shutdown.push('readiness checks', async () => readiness.close());
    const renderMetrics = async () => ({
      contentType: metrics.registry.contentType,
      body: await metrics.registry.metrics(),
    });
    const { metricsPort } = config.http;
    if (metricsPort !== undefined) {
      const metricsHttp = createHttpServer({
        port: metricsPort,
        logger,
        slack: undefined,
        metrics: renderMetrics,
      });
      await metricsHttp.listen();
      shutdown.push('metrics http', () => metricsHttp.close());
    }
    const http = createHttpServer({
      port: config.http.port,
      logger,
      slack: slackListener,
      foreground,
      healthy: async () => (await redis.ping()) === 'PONG',
      ready: () => readiness.report(),
      stopping: () => stopping,
      ...(metricsPort === undefined ? { metrics: renderMetrics } : {}),
    });
    const port = await http.listen();
    shutdown.push('http', () => http.close());
    logger.info('rolecall started', { mode: config.mode, port, prefix: config.redis.prefix });

    return {
      port,
      reloadPolicy: () => reloadPolicy('SIGHUP'),
      stop: async () => {
        // Out of rotation at once; workers stop taking jobs; the listener still answers what arrives
        // for SHUTDOWN_DRAIN (an orchestrator routes to a pod for a few seconds after the signal);
        // then everything stops in reverse order of start-up.
        readiness.markStopping();
        stopping = true;
        for (const begin of onStopping) begin();
        // Only a process that answers Slack over HTTP has anything to drain.
        if (config.shutdownDrainMs > 0 && slackListener !== undefined) {
          logger.info('stopping: /readyz answers 503; still serving for SHUTDOWN_DRAIN', {
            drainMs: config.shutdownDrainMs,
          });
          await new Promise((resolve) => setTimeout(resolve, config.shutdownDrainMs));
        }
        await shutdown.run();
      },
    };
  } catch (error) {
    await shutdown.run();
    throw error;
  }
}

/**
 * Calls `changed` when the policy file may have changed, at most once per 250 ms burst. Watches the
 * file's directory (an editor's rename-and-replace, a Kubernetes ConfigMap's `..data` swap) and, when
 * it is a symlink, its target's directory too, following the link as it moves; any event there means
 * a re-read, which costs a hash. Returns a function that stops watching.
 */
function watchPolicyFile(path: string, changed: () => void): () => void {
  let timer: NodeJS.Timeout | undefined;
  const watchers = new Map<string, FSWatcher>();
  const fire = () => {
    clearTimeout(timer);
    timer = setTimeout(() => {
      follow();
      changed();
    }, 250);
  };
  const follow = () => {
    const dirs = new Set([dirname(resolve(path))]);
    try {
      dirs.add(dirname(realpathSync(path)));
    } catch {
      // Missing for a moment (a swap in progress): the next event follows it.
    }
    for (const [dir, watcher] of watchers) {
      if (!dirs.has(dir)) {
        watcher.close();
        watchers.delete(dir);
      }
    }
    for (const dir of dirs) {
      if (watchers.has(dir)) continue;
      try {
        const watcher = watch(dir, fire);
        watcher.on('error', () => undefined);
        watchers.set(dir, watcher);
      } catch {
        // A directory that cannot be watched: SIGHUP still reloads.
      }
    }
  };
  follow();
  return () => {
    clearTimeout(timer);
    for (const watcher of watchers.values()) watcher.close();
  };
}

/**
 * Slack user groups for the decision point, on a client of their own: usergroups.users.list is a
 * Tier 2 method, and a rate-limited answer must not hold a click for Retry-After seconds; a decision
 * is refused in words instead (members within USER_GROUP_MAX_AGE still serve).
 */
function createUserGroups(config: Config, logger: Logger, slackFetch: FetchFunction): UserGroups {
  const client = new WebClient(config.slack.botToken, {
    slackApiUrl: config.slack.apiUrl,
    fetch: slackFetch,
    retryConfig: { retries: 0 },
    rejectRateLimitedCalls: true,
    timeout: 5_000,
  });
  return createSlackUserGroups(client, { logger, maxAgeMs: config.slack.userGroupMaxAgeMs });
}

/** The request workflow's view of a person's Atlas access, over the Atlas client. */
function createAccessReader(atlas: AtlasRolesApi): AccessReader {
  return {
    async read(email: string, target: TargetRef): Promise<GranteeAccess> {
      const { roles } = await atlas.readUser(email, { kind: target.kind, id: target.id });
      if (roles.length > 0 || target.kind === 'org') return { roles, join: null };
      if (!atlas.projectMembership) return { roles, join: 'unsupported' };
      const status = await atlas.projectMembership.orgStatus(email, target.id);
      return { roles, join: status === 'ACTIVE' ? 'possible' : 'not-org-member' };
    },
  };
}

/**
 * A person's roles on a target for the request form: Atlas's answer within 2 s where this process may
 * call Atlas; otherwise (a bot holds no Atlas key) the roles Rolecall's ledger holds for them now.
 */
function createCurrentRoles(ledgers: LedgerStore, atlas: AtlasRolesApi | undefined): CurrentRoles {
  return {
    async read(email, target) {
      try {
        if (atlas) {
          const timeout = new Promise<null>((resolve) => setTimeout(() => resolve(null), 2_000).unref());
          const read = atlas.readUser(email, { kind: target.kind, id: target.id });
          const user = await Promise.race([read, timeout]);
          read.catch(() => undefined);
          return user === null ? null : { roles: user.roles, source: 'atlas' };
        }
        const ledger = await ledgers.read(email, target);
        const now = Date.now();
        const roles = [
          ...new Set(ledger.holders.filter((h) => h.until === null || h.until > now).map((h) => h.role)),
        ];
        return { roles, source: 'rolecall' };
      } catch {
        return null;
      }
    },
  };
}

/** What the workers need from the composition root. */
interface WorkerParts {
  readonly reviews: ReviewStore;
  readonly offboardings: OffboardingStore;
  /** Every Slack Web API client's fetch (counts failed calls for the metrics). */
  readonly slackFetch: FetchFunction;
  readonly dryRunLog: DryRunLog | undefined;
  readonly receipts: Receipts;
  /** The Slack requests this process has not answered yet: a job waits for a quiet moment. */
  readonly foreground: Foreground;
  readonly store: RequestStore;
  /** The grant plan's durable write (ops/redis-durability.ts); undefined when Redis offers none. */
  readonly durable: ProcessorDeps['durable'];
  readonly ledgers: LedgerStore;
  readonly atlas: AtlasRolesApi;
  readonly queues: Queues;
  readonly workQueue: WorkQueue;
  readonly redis: RedisClient;
  readonly workerRedis: RedisClient;
  readonly logger: Logger;
  readonly policy: () => Policy;
}

/** Builds the processors and starts one BullMQ worker per queue. */
function startWorkers(config: Config, parts: WorkerParts): Workers {
  const { store, ledgers, atlas, queues, workQueue, redis } = parts;
  const logger = parts.logger.child({ component: 'worker' });
  const slackClient = new WebClient(config.slack.botToken, {
    slackApiUrl: config.slack.apiUrl,
    retryConfig: { retries: 0 },
    rejectRateLimitedCalls: true,
    fetch: parts.slackFetch,
  });
  const lock = createUserLock(redis, { prefix: config.redis.prefix, ttlMs: config.worker.lockDurationMs });
  const deps = {
    store,
    ledgers,
    atlas,
    workQueue,
    lock,
    logger,
    ...(parts.dryRunLog ? { dryRunLog: parts.dryRunLog } : {}),
    ...(parts.durable ? { durable: parts.durable } : {}),
  };
  const people = createSlackDirectory(slackClient, { logger });
  const gate = createPolicyGate({
    policy: parts.policy,
    userGroups: createUserGroups(config, logger, parts.slackFetch),
  });
  const replier = createReplier({
    client: slackClient,
    slackApiUrl: config.slack.apiUrl,
    logger,
    dryRun: config.dryRun,
  });
  return createWorkers({
    connection: parts.workerRedis,
    prefix: config.redis.prefix,
    logger,
    beforeJob: () => parts.foreground.quiet(),
    concurrency: config.worker.concurrency,
    lockDurationMs: config.worker.lockDurationMs,
    processors: {
      enrich: createEnrichProcessor({
        policy: parts.policy,
        gate,
        people,
        store,
        ledgers,
        access: createAccessReader(atlas),
        workQueue,
        logger,
        requestTtlMs: config.requestTtlMs,
      }),
      apply: createApplyProcessor({
        ...deps,
        offboardedBy: (email) => parts.offboardings.offboardedBy(email),
      }),
      revoke: createRevokeProcessor({
        ...deps,
        retryIntervalMs: config.grants.revokeRetryIntervalMs,
        escalateEveryMs: config.grants.revokeEscalateEveryMs,
      }),
      expire: createExpireProcessor({ store, workQueue, logger }),
      remind: createRemindProcessor({ store, workQueue, logger }),
      notify: createNotifyProcessor({
        store,
        workQueue,
        notifier: createSlackNotifier(slackClient, {
          approvalsChannel: (request) =>
            targetOf(parts.policy(), request.target)?.approvalsChannel ?? parts.policy().approvalsChannel,
          replier,
          approvalView: (request) => {
            const target = targetOf(parts.policy(), request.target);
            if (!target) return {};
            const needs = requirementsOf(target, request.roles);
            return {
              approvalsNeeded: needs.approvals,
              approvers: decidersOf(parts.policy(), needs.approverLists),
            };
          },
          approversOf: (request) => targetOf(parts.policy(), request.target)?.approvers ?? [],
        }),
        logger,
      }),
      home: createHomeProcessor({
        store,
        redis,
        keys: redisKeys(config.redis.prefix),
        queues,
        home: createHomePublisher({
          client: slackClient,
          redis,
          keys: redisKeys(config.redis.prefix),
          people,
          read: (actor) => readHome({ store, gate }, actor),
          logger,
        }),
        logger,
        viewerMs: VIEWER_MS,
      }),
      review: createReviewProcessor({
        reviews: parts.reviews,
        ledgers,
        atlas,
        lock,
        notifier: createSlackReviewNotifier(slackClient, {
          channelOf: (target) =>
            targetOf(parts.policy(), target)?.approvalsChannel ?? parts.policy().approvalsChannel,
        }),
        policy: parts.policy,
        queue: queues.review,
        logger,
        reviewTtlMs: config.grants.reviewTtlMs,
        dryRunLog: parts.dryRunLog,
      }),
      offboard: createOffboardProcessor({
        offboardings: parts.offboardings,
        store,
        ledgers,
        atlas,
        lock,
        workQueue,
        notifier: createSlackOffboardingNotifier(slackClient),
        queue: queues.offboard,
        logger,
        dryRunLog: parts.dryRunLog,
      }),
      sweep: createSweepProcessor({
        store,
        queues,
        workQueue,
        receipts: parts.receipts,
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
        workQueue,
        redis,
        keys: redisKeys(config.redis.prefix),
        logger,
        graceMs: Math.min(60_000, config.grants.reconcileIntervalMs),
        auditRetentionMs: config.auditRetentionMs,
      }),
    },
  });
}

/** Every value that must never appear in a log line. */
function secretsOf(config: Config): string[] {
  const auth = config.atlas?.auth;
  return [
    config.slack.botToken,
    config.slack.signingSecret ?? '',
    config.slack.appToken ?? '',
    auth === undefined ? '' : auth.kind === 'digest' ? auth.privateKey : auth.clientSecret,
    // The Redis password, as written in REDIS_URL (and decoded).
    ...redisPasswordsOf(config.redis.url),
  ];
}

function redisPasswordsOf(url: string): string[] {
  try {
    const { password } = new URL(url);
    return password ? [password, decodeURIComponent(password)] : [];
  } catch {
    return [];
  }
}

/** Usage of `node dist/main.js`, shown with every argument error. */
export const USAGE = 'usage: node dist/main.js [bot|worker]   (no argument: bot and worker in one process)';

/**
 * Reads the command line strictly (node:util parseArgs): nothing, `bot` or `worker`; anything else
 * (a typo such as `wroker`, an unknown option) is an AppError saying so, never a silent default.
 */
export function parseRunMode(argv: readonly string[]): RunMode {
  let positionals: string[];
  try {
    ({ positionals } = parseArgs({ args: [...argv], options: {}, allowPositionals: true, strict: true }));
  } catch (cause) {
    throw new AppError('CONFIG_INVALID', `${(cause as Error).message}\n${USAGE}`, { cause });
  }
  if (positionals.length === 0) return 'all';
  const [mode] = positionals;
  if (positionals.length === 1 && (mode === 'bot' || mode === 'worker')) return mode;
  throw new AppError('CONFIG_INVALID', `Unknown run mode "${positionals.join(' ')}".\n${USAGE}`);
}

/**
 * Runs Rolecall as a process: `node dist/main.js` (bot + worker), `node dist/main.js worker` (worker
 * only) or `node dist/main.js bot` (Slack side only, when workers run elsewhere).
 */
export async function main(argv: readonly string[]): Promise<void> {
  let mode: RunMode;
  try {
    mode = parseRunMode(argv);
  } catch (error) {
    process.stderr.write(`${isAppError(error) ? error.message : String(error)}\n`);
    process.exit(2);
  }
  let rolecall: Rolecall;
  try {
    rolecall = await startRolecall(loadConfig({ mode }));
  } catch (error) {
    process.stderr.write(`${isAppError(error) ? error.message : String(error)}\n`);
    process.exit(1);
  }
  const stop = (signal: string) => {
    process.stderr.write(`received ${signal}, shutting down\n`);
    rolecall.stop().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.once('SIGTERM', () => stop('SIGTERM'));
  process.once('SIGINT', () => stop('SIGINT'));
  // A broken file is logged by reloadPolicy and keeps the policy in force.
  process.on('SIGHUP', () => {
    rolecall.reloadPolicy().catch(() => undefined);
  });
}

const entry = process.argv[1];
if (entry !== undefined && import.meta.url === pathToFileURL(realpathSync(entry)).href) {
  void main(process.argv.slice(2));
}
