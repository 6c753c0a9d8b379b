import { createAtlasClient } from '../atlas/create-atlas-client.js';
import { createFederationCache } from '../atlas/federation-cache.js';
import type { DryRunWrite } from '../atlas/http-client.js';
import { createRedisRateLimiter } from '../atlas/rate-limiter.js';
import type { AtlasRolesApi } from '../atlas/roles-api.js';
import { AppError } from '../errors.js';
import { scheduleRecurring } from '../jobs/recurring.js';
import { syncReviewSchedules } from '../jobs/review-queue.js';
import type { Workers } from '../jobs/workers.js';
import { teamOfItem } from '../lib/access-items.js';
import { ATLAS_ID } from '../lib/patterns.js';
import type { AtlasScope } from '../lib/scope.js';
import { connectRedis } from '../ops/redis.js';
import {
  createDurableWrites,
  type DurableWrites,
  describeDurability,
  planDurability,
} from '../ops/redis-durability.js';
import { readRedisFacts } from '../ops/redis-settings.js';
import { createRequestWriter } from '../requests/request-writer.js';
import type { Infrastructure } from './infrastructure.js';
import { startProcessing } from './processing.js';

/** The worker side of a process: the Atlas client, and a BullMQ worker per queue. */
export interface WorkerSide {
  /** The Atlas client's role API (the request form may show Atlas's roles in this process). */
  readonly atlas: AtlasRolesApi;
  /** One authenticated Atlas read, for /readyz. */
  readonly probeAtlas: () => Promise<string>;
  /** What a grant's plan reaches before its Atlas write, for /readyz. */
  readonly durability: DurableWrites;
  /** Stops taking jobs (the first moment of a shutdown). */
  readonly stopTaking: () => void;
}

/** How long an organization's role mappings are used before they are read again. */
const FEDERATION_REFRESH_MS = 10 * 60_000;

/**
 * Starts the worker side: only workers call Atlas, so only they hold its credentials. Grant plans are
 * written through a connection of their own and confirmed durable (WAIT, WAITAOF) before Atlas writes.
 */
export async function startWorkerSide(infra: Infrastructure): Promise<WorkerSide> {
  const { config, logger, shutdown, metrics, redis, policy, queues } = infra;
  const atlasConfig = config.atlas;
  if (atlasConfig === null) throw new AppError('CONFIG_INVALID', 'A worker needs the Atlas settings.');
  const dryRunLog = infra.dryRunLog;
  const atlasClient = createAtlasClient(atlasConfig, {
    logger: logger.child({ component: 'atlas' }),
    rateLimiter: createRedisRateLimiter(redis, config.redis.prefix, { buckets: atlasConfig.rateLimits }),
    onExchange: (event) => metrics.atlasExchange(event),
    teamsNamedById: () =>
      new Set(
        policy
          .current()
          .targets.flatMap((t) => t.roles.map(teamOfItem))
          .filter((team): team is string => team !== undefined && ATLAS_ID.test(team)),
      ),
    teamsNamedByName: () =>
      policy
        .current()
        .targets.flatMap((t) => t.roles.map(teamOfItem))
        .filter((team): team is string => team !== undefined && !ATLAS_ID.test(team)),
    ...(dryRunLog ? { onDryRun: (write: DryRunWrite) => dryRunLog.record(write) } : {}),
  });
  shutdown.push('atlas client', () => atlasClient.close());
  const atlas = atlasClient.roles;
  const workerRedis = await connectRedis(config.redis, 'worker', logger);
  shutdown.push('worker redis', async () => {
    await workerRedis.quit();
  });
  const plan = planDurability(config.redisDurability, infra.redisFacts);
  logger.info('grant plans are made durable before Atlas writes', { durability: describeDurability(plan) });
  // A connection of its own: WAIT blocks it, and must cover the plan it wrote, not others' work.
  const durableRedis = await connectRedis(config.redis, 'commands', logger);
  shutdown.push('durable redis', async () => {
    await durableRedis.quit();
  });
  const durability = createDurableWrites(durableRedis, config.redisDurability, plan, () =>
    readRedisFacts(redis),
  );
  const lifecycle = infra.lifecycleWith({
    writer: createRequestWriter(durableRedis, {
      ...infra.writerOptions,
      onWrites: (count) => infra.continuity.observeWrites(count, 'durable'),
    }),
    needed: () => durability.needed(),
    confirm: () => durability.confirm(),
  });
  // Role mappings are read per organization at most every 10 minutes, and refreshed on that schedule.
  const federationApi = atlasClient.federation;
  const mappings =
    federationApi &&
    createFederationCache(federationApi, {
      ttlMs: FEDERATION_REFRESH_MS,
      logger: logger.child({ component: 'federation' }),
    });
  const federation =
    federationApi && mappings
      ? {
          mappings,
          orgOfProject: atlasClient.orgOfProject,
          // Drift is rare: its events are read whatever the cached mappings say (they may be new).
          ssoRemovedAt: (scope: AtlasScope, email: string, userId: string, since: number) =>
            federationApi.removedAtLogin(scope, userId, email, since),
        }
      : undefined;
  if (federation) {
    const timer = setInterval(() => void federation.mappings.refreshAll(), FEDERATION_REFRESH_MS);
    timer.unref();
    shutdown.push('federation refresh', async () => clearInterval(timer));
  }
  const workers: Workers = startProcessing(infra, {
    atlas,
    orgOfProject: atlasClient.orgOfProject,
    workerRedis,
    lifecycle,
    ...(federation ? { federation } : {}),
    ...(atlasClient.database ? { database: atlasClient.database } : {}),
  });
  shutdown.push('workers', async () => {
    await workers.close(config.shutdownGraceMs);
  });
  infra.scheduleRecurring = async () => {
    await syncReviewSchedules(queues.review, policy.current(), { logger });
    await scheduleRecurring(queues, {
      sweepEveryMs: config.worker.sweepIntervalMs,
      reconcileEveryMs: config.grants.reconcileIntervalMs,
    });
  };
  await infra.scheduleRecurring();
  policy.onChange((next) => syncReviewSchedules(queues.review, next, { logger }));
  return {
    atlas,
    durability,
    probeAtlas: async () => {
      const target = policy.current().targets[0];
      if (!target) return 'no target to check';
      await atlas.members.probe({ kind: target.kind, id: target.id });
      return `credentials accepted on ${target.name}`;
    },
    stopTaking: () => {
      void workers.close(config.shutdownGraceMs);
    },
  };
}
