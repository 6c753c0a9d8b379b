import { AppError } from '../errors.js';
import { createHttpServer } from '../ops/http-server.js';
import { createReadiness } from '../ops/readiness.js';
import { evictionProblem, persistenceWarning, readRedisFacts } from '../ops/redis-settings.js';
import type { Infrastructure } from './infrastructure.js';
import { createWebClient } from './slack-clients.js';
import type { SlackSide } from './slack-side.js';
import type { WorkerSide } from './worker-side.js';

/** The HTTP side of a process: health, readiness, metrics, and Slack's requests in HTTP mode. */
export interface Serving {
  readonly port: number;
  /** Out of rotation: /readyz answers 503 from now on. */
  markStopping(): void;
}

/**
 * Starts the readiness checks (Redis, its settings, the store's continuity, the policy, Slack, and
 * Atlas where workers run) and the HTTP server(s).
 */
export async function startServing(
  infra: Infrastructure,
  sides: { readonly worker: WorkerSide | undefined; readonly slack: SlackSide | undefined },
): Promise<Serving> {
  const { config, logger, redis, shutdown, metrics } = infra;
  const slackProbe = createWebClient(config, infra.slackFetch, {
    retries: 0,
    rejectRateLimited: true,
    timeoutMs: 5_000,
  });
  const durability = sides.worker?.durability;
  let stopping = false;
  const readiness = createReadiness(
    [
      { name: 'redis', run: async () => redis.ping() },
      { name: 'policy', run: async () => `version ${infra.policy.current().version}` },
      {
        name: 'redis-settings',
        periodic: true,
        run: async () => {
          const facts = await readRedisFacts(redis);
          const problem = evictionProblem(facts) ?? durability?.refresh(facts);
          if (problem) throw new AppError('STORAGE_UNAVAILABLE', problem);
          return [
            `maxmemory-policy noeviction on ${facts.length} master(s)`,
            persistenceWarning(facts) ?? 'append-only persistence on',
            durability?.describe(),
          ]
            .filter((part) => part !== undefined)
            .join('; ');
        },
      },
      { name: 'store', periodic: true, run: () => infra.continuity.watch() },
      {
        name: 'slack',
        periodic: true,
        run: async () => {
          const auth = await slackProbe.auth.test();
          return `auth.test passed for ${auth.user ?? 'the bot'} on ${auth.team ?? 'the workspace'}`;
        },
      },
      ...(sides.worker ? [{ name: 'atlas', periodic: true, run: sides.worker.probeAtlas }] : []),
    ],
    { intervalMs: config.readyCheckIntervalMs, ...(config.dryRun ? { extra: { dryRun: true } } : {}) },
  );
  metrics.watchReadiness(() => readiness.report());
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
    slack: sides.slack,
    foreground: infra.foreground,
    healthy: async () => (await redis.ping()) === 'PONG',
    ready: () => readiness.report(),
    stopping: () => stopping,
    ...(metricsPort === undefined ? { metrics: renderMetrics } : {}),
  });
  const port = await http.listen();
  shutdown.push('http', () => http.close());
  return {
    port,
    markStopping: () => {
      readiness.markStopping();
      stopping = true;
    },
  };
}
