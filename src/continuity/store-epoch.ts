import type { RedisClient } from '../lib/redis-client.js';
import type { RedisKeys } from '../lib/redis-keys.js';
import { loadRedisScript } from '../lib/redis-script.js';

/**
 * Which store Rolecall is talking to. Redis does not tell a new, empty store from one that lost its
 * data (no persistence, a restore, a failover to a lagging replica): both lack this record. It is
 * written once, with the time on the Redis server's clock, the same clock request ids are issued
 * from (lib/ids.ts), so an id older than the store came from an earlier one.
 */
export interface StoreEpoch {
  /** When this store was first seen, ms since epoch (Redis server clock). */
  readonly createdAt: number;
  /**
   * How this call found it: `known` (it was there), `empty` (created now on a store without any
   * Rolecall data: a first start, or everything was lost), `upgrade` (created now on a store written
   * by a release before epochs), `lost` (created now although ids were issued here before: the record
   * alone went missing, so data did).
   */
  readonly found: 'known' | 'empty' | 'upgrade' | 'lost';
}

/** Ids below this were issued by counters before lib/ids.ts (plain INCR). */
const LEGACY_COUNTER_BELOW = 100_000_000;

// The scripts (lua/ensure-epoch.lua, lua/renew-epoch.lua) are read at each call: these run at start-up,
// at each watch of the store and after a loss, never per request.

/** Reads this store's epoch, creating it (atomically, once) when it is missing. */
export async function ensureStoreEpoch(redis: RedisClient, keys: RedisKeys): Promise<StoreEpoch> {
  const [found, createdAt] = (await loadRedisScript(import.meta.url, 'ensure-epoch').run(
    redis,
    [keys.store, keys.requestSeq, keys.reviewSeq, keys.offboardingSeq],
    [LEGACY_COUNTER_BELOW],
  )) as [StoreEpoch['found'], string];
  return { found, createdAt: Number(createdAt) };
}

/**
 * Marks a one-time notice of this store as given (`started`: the empty-store notice; `loss`: the
 * loss response); true for the one caller that should give it.
 */
export async function claimNotice(
  redis: RedisClient,
  keys: RedisKeys,
  notice: 'started' | 'loss',
  at: number,
): Promise<boolean> {
  return (await redis.hsetnx(keys.store, `${notice}NoticeAt`, String(at))) === 1;
}

/**
 * Gives the store a new epoch when it is still the one created at `knownCreatedAt`: it went back in
 * time, so ids and messages from before now belong to an earlier store. Undefined when another
 * process did it first (its epoch is then the new one).
 */
export async function renewStoreEpoch(
  redis: RedisClient,
  keys: RedisKeys,
  knownCreatedAt: number,
): Promise<StoreEpoch | undefined> {
  const renew = loadRedisScript(import.meta.url, 'renew-epoch');
  const [status, createdAt] = (await renew.run(redis, [keys.store], [String(knownCreatedAt)])) as [
    string,
    string,
  ];
  return status === 'renewed' ? { found: 'lost', createdAt: Number(createdAt) } : undefined;
}

/** The store's write count now (grows with every request write; lower than seen = gone back in time). */
export async function readStoreWrites(redis: RedisClient, keys: RedisKeys): Promise<number> {
  return Number((await redis.hget(keys.store, 'writes')) ?? '0');
}

/** Leaves a notice to post in the store first, so a process that stops before posting loses nothing. */
export async function leaveNotice(
  redis: RedisClient,
  keys: RedisKeys,
  notice: 'started' | 'loss',
  text: string,
): Promise<void> {
  await redis.hset(keys.store, `${notice}NoticePending`, text);
}

/**
 * Takes the lease on a notice left to post (30 s, so a process that dies while posting leaves it to
 * the next); its text, or undefined when there is none or another process is posting it.
 */
export async function leaseNotice(
  redis: RedisClient,
  keys: RedisKeys,
  notice: 'started' | 'loss',
): Promise<string | undefined> {
  const text = await redis.hget(keys.store, `${notice}NoticePending`);
  if (text === null) return undefined;
  const leased = await redis.set(keys.storeNoticeLease(notice), '1', 'PX', 30_000, 'NX');
  return leased === 'OK' ? text : undefined;
}

/** The notice was posted: it is no longer left to post. */
export async function settleNotice(
  redis: RedisClient,
  keys: RedisKeys,
  notice: 'started' | 'loss',
  posted: boolean,
): Promise<void> {
  if (posted) await redis.hdel(keys.store, `${notice}NoticePending`);
  await redis.del(keys.storeNoticeLease(notice));
}
