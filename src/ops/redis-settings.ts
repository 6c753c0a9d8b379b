import { Cluster } from 'ioredis';
import { AppError } from '../errors.js';
import type { RedisClient } from '../lib/redis-client.js';

/**
 * What Rolecall needs from the Redis it keeps everything in, read from `INFO` (which managed services
 * allow where CONFIG GET is often disabled): it must never evict keys (BullMQ requires it too), and
 * it should persist what it is told. Checked at start-up and by /readyz.
 */

/** One master's settings, as INFO reports them. */
export interface RedisServerFacts {
  /** `host:port` of the server (a cluster has several masters). */
  readonly node: string;
  readonly version: string;
  /** `maxmemory_policy`; Rolecall needs `noeviction`. */
  readonly maxmemoryPolicy: string;
  /** `aof_enabled`: append-only persistence is on. */
  readonly appendonly: boolean;
  /** `connected_slaves`: replicas attached now. */
  readonly replicas: number;
  /** Seconds since each attached replica last acknowledged (`slaveN:…,lag=`); a stuck one grows. */
  readonly replicaLags: readonly number[];
}

/** Reads the settings of every master Rolecall writes to (one, or each master of a cluster). */
export async function readRedisFacts(redis: RedisClient): Promise<RedisServerFacts[]> {
  const servers = redis instanceof Cluster ? redis.nodes('master') : [redis];
  return Promise.all(
    servers.map(async (server) => {
      let text: string;
      try {
        text = await server.info();
      } catch (cause) {
        throw new AppError(
          'STORAGE_UNAVAILABLE',
          `Rolecall could not read Redis's INFO to check that it never evicts keys (${(cause as Error).message}); allow the INFO command for Rolecall's user.`,
          { cause },
        );
      }
      const info = parseInfo(text);
      return {
        node: `${server.options.host ?? '?'}:${server.options.port ?? '?'}`,
        version: info.redis_version ?? '0',
        maxmemoryPolicy: info.maxmemory_policy ?? 'unknown',
        appendonly: info.aof_enabled === '1',
        replicas: Number(info.connected_slaves ?? '0'),
        replicaLags: Object.entries(info)
          .filter(([key]) => /^slave\d+$/.test(key))
          .map(([, value]) => Number(/lag=(\d+)/.exec(value)?.[1] ?? '0')),
      };
    }),
  );
}

/** INFO's `key:value` lines as a record. */
export function parseInfo(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split(/\r?\n/)) {
    const colon = line.indexOf(':');
    if (colon > 0 && !line.startsWith('#')) out[line.slice(0, colon)] = line.slice(colon + 1).trim();
  }
  return out;
}

/**
 * Why Rolecall must not run on these servers (a store that evicts keys loses requests, grants and
 * jobs without a trace), or undefined when they are fine.
 */
export function evictionProblem(facts: readonly RedisServerFacts[]): string | undefined {
  const evicting = facts.filter((f) => f.maxmemoryPolicy !== 'noeviction');
  if (evicting.length === 0) return undefined;
  const which = evicting.map((f) => `${f.node} has maxmemory-policy ${f.maxmemoryPolicy}`).join('; ');
  return `Redis may evict Rolecall's keys (${which}): requests, grants and their revocations would vanish without a trace. Set maxmemory-policy noeviction (BullMQ requires it too), or give Rolecall a Redis of its own.`;
}

/** A warning when a server keeps nothing on disk (a restart loses every request and grant), else undefined. */
export function persistenceWarning(facts: readonly RedisServerFacts[]): string | undefined {
  const volatile = facts.filter((f) => !f.appendonly);
  if (volatile.length === 0) return undefined;
  return `append-only persistence is off on ${volatile.map((f) => f.node).join(', ')}: a Redis restart loses what was written since its last snapshot, or everything without snapshots (a running Rolecall notices and announces it; see docs/operations.md, After Redis loses data). Set appendonly yes.`;
}

/** True when `version` is at least `major.minor`. */
export function versionAtLeast(version: string, major: number, minor: number): boolean {
  const [a = 0, b = 0] = version.split('.').map(Number);
  return a > major || (a === major && b >= minor);
}
