import { Cluster } from 'ioredis';
import { AppError } from '../errors.js';
import type { RedisClient } from '../lib/redis-client.js';
import { type RedisServerFacts, versionAtLeast } from './redis-settings.js';

/**
 * What must hold a grant's plan before its first Atlas write, as configured: replicas that
 * acknowledged it (WAIT) and whether it must be in the append-only file (WAITAOF, Redis 7.2+);
 * `auto` = what the deployment offers at start-up.
 */
export interface RedisDurabilityConfig {
  readonly replicas: number | 'auto';
  readonly aof: boolean | 'auto';
  /** How long to wait for the acknowledgement before the step fails and is retried, in ms. */
  readonly timeoutMs: number;
}

/** What a grant's plan must reach before its first Atlas write. */
export interface DurabilityPlan {
  /** Replicas that must acknowledge it (WAIT); 0 = none. */
  readonly replicas: number;
  /** It must be in the master's append-only file (WAITAOF, Redis 7.2 and later). */
  readonly aof: boolean;
  readonly timeoutMs: number;
}

/**
 * Settles REDIS_WAIT_REPLICAS and REDIS_WAIT_AOF against what the servers offer: `auto` asks for one
 * replica where every master has one, and for the append-only file where every master writes one
 * and knows WAITAOF (7.2+). Asking for more than the servers offer is refused in words at start-up.
 */
export function planDurability(
  settings: RedisDurabilityConfig,
  facts: readonly RedisServerFacts[],
): DurabilityPlan {
  const fewestReplicas = Math.min(...facts.map((f) => f.replicas));
  const aofOffered = facts.every((f) => f.appendonly && versionAtLeast(f.version, 7, 2));
  const replicas = settings.replicas === 'auto' ? Math.min(1, fewestReplicas) : settings.replicas;
  if (settings.replicas !== 'auto' && replicas > fewestReplicas) {
    throw new AppError(
      'CONFIG_INVALID',
      `REDIS_WAIT_REPLICAS=${replicas}, but a Redis master has only ${fewestReplicas} replica(s) attached; no grant could be applied. Lower it, or set auto.`,
    );
  }
  if (settings.aof === true && !aofOffered) {
    const why = facts
      .map((f) =>
        !versionAtLeast(f.version, 7, 2)
          ? `${f.node} runs Redis ${f.version} (WAITAOF needs 7.2)`
          : `${f.node} has appendonly no`,
      )
      .join('; ');
    throw new AppError('CONFIG_INVALID', `REDIS_WAIT_AOF=true, but ${why}. Set it to auto or false.`);
  }
  return {
    replicas,
    aof: settings.aof === 'auto' ? aofOffered : settings.aof,
    timeoutMs: settings.timeoutMs,
  };
}

/** In words, for the start-up log and /readyz. */
export function describeDurability(plan: DurabilityPlan): string {
  const parts = [
    plan.replicas > 0 ? `${plan.replicas} replica(s) acknowledge (WAIT)` : '',
    plan.aof ? 'the append-only file holds it (WAITAOF)' : '',
  ].filter((part) => part !== '');
  return parts.length === 0
    ? 'a grant plan is not confirmed beyond the master before its Atlas write (no replica, no WAITAOF)'
    : `before a grant's Atlas write, ${parts.join(' and ')} within ${plan.timeoutMs} ms`;
}

/** A replica silent for longer than this is stuck (replicas acknowledge every second). */
const STUCK_AFTER_S = 10;

/** A grant plan's durable write, following what the servers offer when set to `auto`. */
export interface DurableWrites {
  /**
   * Waits until everything written so far on its connection (the one that wrote the plan) is as
   * durable as the plan in force asks; throws a retryable STORAGE_UNAVAILABLE when Redis cannot
   * confirm it in time, so no Atlas write happens on a plan a failover could lose. With `auto`, a
   * replica that is no longer attached at all is no failover target: the plan then follows the servers.
   */
  confirm(): Promise<void>;
  /** Whether the plan in force asks for anything (a replica, the append-only file). */
  needed(): boolean;
  /** Follows the servers' settings read now (readiness); a problem in words when an explicit setting cannot be met. */
  refresh(facts: readonly RedisServerFacts[]): string | undefined;
  /** What is in force, in words. */
  describe(): string;
}

/**
 * The durable writes over `redis`. On a cluster every master is asked: the one that took the write
 * waits for it, the others answer at once.
 */
export function createDurableWrites(
  redis: RedisClient,
  settings: RedisDurabilityConfig,
  initial: DurabilityPlan,
  readFacts: () => Promise<RedisServerFacts[]>,
): DurableWrites {
  let plan = initial;
  const servers = () => (redis instanceof Cluster ? redis.nodes('master') : [redis]);
  /** Said beside what is in force: replicas attached but not acknowledging (grants fail meanwhile). */
  let stuck: string | undefined;
  const follow = (facts: readonly RedisServerFacts[]): string | undefined => {
    const fewest = Math.min(...facts.map((f) => f.replicas));
    const replicas = settings.replicas === 'auto' ? Math.min(1, fewest) : settings.replicas;
    plan = { ...plan, replicas };
    const slowest = Math.max(0, ...facts.flatMap((f) => f.replicaLags));
    stuck =
      replicas > 0 && slowest > STUCK_AFTER_S
        ? `a replica has not acknowledged for ${slowest} s: grants fail (with Retry) until it does`
        : undefined;
    if (settings.replicas !== 'auto' && fewest < settings.replicas) {
      return `REDIS_WAIT_REPLICAS=${settings.replicas}, but a Redis master has ${fewest} replica(s) attached: grants fail (with Retry) until it has them again`;
    }
    return settings.replicas !== 'auto' ? stuck : undefined;
  };
  const wait = async (): Promise<void> => {
    for (const server of servers()) {
      if (plan.aof) {
        const [local] = (await server.call('WAITAOF', 1, 0, plan.timeoutMs)) as [number, number];
        if (Number(local) < 1) throw unconfirmed(plan);
      }
      if (plan.replicas > 0) {
        const acknowledged = Number(await server.call('WAIT', plan.replicas, plan.timeoutMs));
        if (acknowledged < plan.replicas) throw unconfirmed(plan);
      }
    }
  };
  return {
    async confirm() {
      try {
        await wait();
      } catch (error) {
        // `auto`: the replica may be gone for good; a master with none attached has nothing to wait for.
        if (settings.replicas !== 'auto' || plan.replicas === 0) throw error;
        follow(await readFacts());
        if (plan.replicas > 0) throw error;
        await wait();
      }
    },
    needed: () => plan.replicas > 0 || plan.aof,
    refresh: follow,
    describe: () => [describeDurability(plan), stuck].filter((part) => part !== undefined).join('; '),
  };
}

function unconfirmed(plan: DurabilityPlan): AppError {
  return new AppError(
    'STORAGE_UNAVAILABLE',
    `Rolecall could not make the grant's record durable before changing Atlas (${plan.replicas > 0 ? 'its Redis replica' : 'Redis'} did not confirm it within ${plan.timeoutMs} ms), so nothing was changed in Atlas.`,
    { retryable: true },
  );
}
