import type { ConnectionOptions } from 'node:tls';
import { Cluster, Redis, type RedisOptions } from 'ioredis';
import { AppError } from '../errors.js';
import type { RedisClient } from '../lib/redis-client.js';
import type { Logger } from './logger.js';

/** Where Redis is and how to reach it. */
export interface RedisConfig {
  /** `redis://` or `rediss://` (TLS), with `user:password@` for a password or an ACL user. */
  readonly url: string;
  /** Every Redis key and BullMQ queue lives under this prefix. */
  readonly prefix: string;
  /** PEM of the CA that signed the server's certificate (REDIS_TLS_CA), for a private CA. */
  readonly tlsCa?: string;
  /** Redis Sentinel: where the sentinels are; the master is asked for by `sentinelName`. */
  readonly sentinels?: readonly { readonly host: string; readonly port: number }[];
  readonly sentinelName?: string;
  /**
   * Redis Cluster (REDIS_CLUSTER_NODES): the nodes to start from. When set, `prefix` carries a
   * hash tag (`{rolecall}`) so every key of Rolecall and BullMQ hashes to one slot.
   */
  readonly clusterNodes?: readonly { readonly host: string; readonly port: number }[];
}

/** Which kind of connection: commands fail fast; workers block and wait forever, as BullMQ needs. */
export type RedisRole = 'commands' | 'worker';

/**
 * Opens a Redis connection and waits until it answers; a start-up failure is an AppError.
 * `rediss://` URLs use TLS (verified against `tlsCa` when given, else the system CAs); a user and
 * password in the URL authenticate (ACL users included); with `sentinels`, the master named
 * `sentinelName` is found through Redis Sentinel (the URL's credentials and TLS apply to it); with
 * `clusterNodes`, a Redis Cluster is used from those nodes (the URL's credentials and TLS apply to
 * every node, its host is ignored).
 */
export async function connectRedis(
  settings: RedisConfig,
  role: RedisRole,
  logger: Logger,
): Promise<RedisClient> {
  const redis = createRedisClient(settings, role);
  let lastError: Error | undefined;
  let started = false;
  redis.on('error', (error: Error) => {
    lastError = error;
    if (started) logger.warn('redis connection error; retrying', { role, error: error.message });
  });
  let deadline: NodeJS.Timeout | undefined;
  try {
    // ioredis retries forever (sentinels included): give up in words after 10 s instead of hanging.
    await Promise.race([
      (async () => {
        await redis.connect();
        await redis.ping();
      })(),
      new Promise<never>((_, reject) => {
        deadline = setTimeout(() => reject(new Error('no answer within 10 s')), 10_000);
      }),
    ]);
  } catch (cause) {
    redis.disconnect();
    const why = lastError?.message ?? (cause as Error).message;
    const where = settings.clusterNodes
      ? `the cluster nodes ${settings.clusterNodes.map((s) => `${s.host}:${s.port}`).join(',')}`
      : settings.sentinels
        ? `master ${settings.sentinelName} through the sentinels ${settings.sentinels.map((s) => `${s.host}:${s.port}`).join(',')}`
        : redactUrl(settings.url);
    throw new AppError('STORAGE_UNAVAILABLE', `Cannot reach Redis at ${where}: ${why}`, { cause });
  } finally {
    clearTimeout(deadline);
  }
  started = true;
  return redis;
}

/**
 * A connection for these settings, not connected yet (it connects on its first command): a
 * {@link Cluster} when `clusterNodes` is set, else a {@link Redis} (standalone or through Sentinel).
 */
export function createRedisClient(settings: RedisConfig, role: RedisRole): RedisClient {
  const options = redisOptionsOf(settings, role);
  if (!settings.clusterNodes) return new Redis(options);
  return new Cluster(
    settings.clusterNodes.map((node) => ({ host: node.host, port: node.port })),
    {
      lazyConnect: true,
      enableReadyCheck: true,
      enableAutoPipelining: options.enableAutoPipelining ?? false,
      clusterRetryStrategy: (times) => Math.min(times * 200, 2_000),
      redisOptions: options,
    },
  );
}

/** The ioredis options for these settings and this kind of connection (each node's, in a cluster). */
export function redisOptionsOf(settings: RedisConfig, role: RedisRole): RedisOptions {
  const url = new URL(settings.url);
  const tls: ConnectionOptions | undefined =
    url.protocol === 'rediss:' ? (settings.tlsCa ? { ca: settings.tlsCa } : {}) : undefined;
  const common: RedisOptions = {
    lazyConnect: true,
    maxRetriesPerRequest: role === 'worker' ? null : 3,
    enableReadyCheck: true,
    // Commands issued in the same tick share one write: fewer syscalls when many Slack payloads
    // arrive at once. The blocking worker connection keeps one command per write, as BullMQ expects.
    enableAutoPipelining: role === 'commands',
    retryStrategy: (times) => Math.min(times * 200, 2_000),
    ...(url.username ? { username: decodeURIComponent(url.username) } : {}),
    ...(url.password ? { password: decodeURIComponent(url.password) } : {}),
    ...(url.pathname.length > 1 ? { db: Number(url.pathname.slice(1)) } : {}),
    ...(tls ? { tls } : {}),
  };
  if (settings.sentinels) {
    return {
      ...common,
      sentinels: settings.sentinels.map((s) => ({ host: s.host, port: s.port })),
      name: settings.sentinelName ?? '',
      ...(tls ? { enableTLSForSentinelMode: true } : {}),
    };
  }
  return { ...common, host: url.hostname, port: Number(url.port || 6379) };
}

/** A Redis URL without its password, for messages. */
export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    return 'the configured REDIS_URL';
  }
}
