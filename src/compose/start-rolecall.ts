import type { Config } from '../config.js';
import { createLogger, type Logger } from '../ops/logger.js';
import { createShutdownStack } from '../ops/shutdown.js';
import { startTracing } from '../ops/tracing.js';
import { createAuditLogger, openInfrastructure } from './infrastructure.js';
import { secretsOf } from './secrets.js';
import { startServing } from './serving.js';
import { type SlackSide, startSlackSide } from './slack-side.js';
import { startWorkerSide, type WorkerSide } from './worker-side.js';

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
 * The composition root: tracing (when OTEL_EXPORTER_OTLP_ENDPOINT is set) -> shared infrastructure
 * (logs, Redis, policy, queues, stores) -> the worker
 * side (all, worker) -> the Slack side (all, bot) -> readiness and HTTP. Everything is built here and
 * passed down; nothing is created at import time.
 */
export async function startRolecall(config: Config, overrides: RolecallOverrides = {}): Promise<Rolecall> {
  const logger = overrides.logger ?? createLogger({ level: config.logLevel, secrets: secretsOf(config) });
  const shutdown = createShutdownStack(logger);
  try {
    // First, before Redis, Bolt or undici is used; stopped last, so the spans of shutdown go out too.
    const tracing = await startTracing({
      ...config.tracing,
      secrets: secretsOf(config),
      fullUrlsUnder: [
        config.slack.apiUrl,
        config.onCall.pagerduty.apiUrl,
        config.onCall.opsgenie.apiUrl,
        ...(config.atlas === null ? [] : [config.atlas.baseUrl]),
      ],
      redisPrefix: config.redis.prefix,
      logger,
    });
    shutdown.push('tracing', () => tracing.stop());
    const infra = await openInfrastructure(
      config,
      shutdown,
      logger,
      createAuditLogger(config, overrides.logger),
      tracing,
    );
    const worker: WorkerSide | undefined = config.mode === 'bot' ? undefined : await startWorkerSide(infra);
    // After the workers' schedules exist: a loss found now re-creates nothing twice.
    await infra.continuity.open();
    const slack: SlackSide | undefined =
      config.mode === 'worker' ? undefined : await startSlackSide(infra, worker?.atlas);
    const serving = await startServing(infra, { worker, slack });
    logger.info('rolecall started', { mode: config.mode, port: serving.port, prefix: config.redis.prefix });
    return {
      port: serving.port,
      reloadPolicy: () => infra.policy.reload('SIGHUP'),
      stop: async () => {
        // Out of rotation at once; workers stop taking jobs; the listener still answers what arrives
        // for SHUTDOWN_DRAIN (an orchestrator routes to a pod for a few seconds after the signal);
        // then everything stops in reverse order of start-up.
        serving.markStopping();
        worker?.stopTaking();
        // Only a process that answers Slack over HTTP has anything to drain.
        if (config.shutdownDrainMs > 0 && slack !== undefined) {
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
