import { randomUUID } from 'node:crypto';
import type { RedisClient } from '../lib/redis-client.js';
import type { RedisKeys } from '../lib/redis-keys.js';
import { loadRedisScript } from '../lib/redis-script.js';

/**
 * Nothing acknowledged is lost: what Slack delivered is written down before Rolecall answers "got
 * it", and crossed out when the work it asked for is done (a request it files crosses it out in the
 * same script that stores the request). A receipt nobody crossed out (the process died in between)
 * is claimed by the sweeper, which tells the person what became of it: one answer, whichever comes
 * first.
 */

/** What Slack delivered, as much as the answer to the person needs. */
export interface Receipt {
  readonly id: string;
  /** `submission`: a request, extension or break-glass being filed (stored atomically, or not at all); `action`: anything else. */
  readonly kind: 'submission' | 'action';
  readonly userId: string;
  /** Where to answer while it works (Slack: 30 minutes, 5 uses); null = by DM. */
  readonly responseUrl: string | null;
  /** What they sent, in their words (`/atlas-access request …`, `Approve on AR-…`), at most 300 characters. */
  readonly what: string;
  readonly at: number;
  /** The process that took it (its heartbeat says whether it still works on it). */
  readonly owner: string;
}

/** The receipts in Redis. */
export interface Receipts {
  /** Writes the receipt down for this process; returns its id (one round trip, before the ack). */
  keep(receipt: Omit<Receipt, 'id' | 'at' | 'owner'>): Promise<string>;
  /** The work is done and its outcome said: forgets the receipt. */
  settle(id: string): Promise<void>;
  /**
   * Takes the receipts older than `before` (ms) whose process is gone (its heartbeat expired): their
   * work will never finish. Oldest first; each is handed out once. A receipt of a live process older
   * than `abandonedBefore` (its work surely ended; only crossing it out failed) is dropped unanswered.
   */
  claimOrphaned(
    before: number,
    limit: number,
    abandonedBefore?: number,
  ): Promise<{ readonly orphaned: Receipt[]; readonly dropped: number }>;
  /** Puts a claimed receipt back (its answer could not be given; the next sweep tries again). */
  giveBack(receipt: Receipt): Promise<void>;
  /** Keeps this process's heartbeat alive while it runs (every 5 s, lasting 15 s); returns how to stop. */
  beat(): () => Promise<void>;
}

const WHAT_MAX = 300;
const BEAT_EVERY_MS = 5_000;
const BEAT_LASTS_MS = 15_000;

/** Creates the receipts over Redis for one process (`owner`, a fresh id per process); `now` for tests. */
export function createReceipts(
  redis: RedisClient,
  keys: RedisKeys,
  options: { readonly owner?: string; readonly now?: () => number } = {},
): Receipts {
  const owner = options.owner ?? randomUUID();
  const now = options.now ?? Date.now;
  const where = [keys.receipts, keys.receiptTimes];
  const keepReceipt = loadRedisScript(import.meta.url, 'keep-receipt');
  const settleReceipt = loadRedisScript(import.meta.url, 'settle-receipt');
  const claimReceipts = loadRedisScript(import.meta.url, 'claim-receipts');
  const store = (receipt: Receipt) =>
    keepReceipt.run(redis, where, [receipt.id, JSON.stringify(receipt), receipt.at]);
  return {
    async keep(receipt) {
      const id = randomUUID();
      await store({ ...receipt, what: receipt.what.slice(0, WHAT_MAX), id, at: now(), owner });
      return id;
    },
    async settle(id) {
      await settleReceipt.run(redis, where, [id]);
    },
    async claimOrphaned(before, limit, abandonedBefore = before - 15 * 60_000) {
      const ids = await redis.zrangebyscore(keys.receiptTimes, '-inf', before, 'LIMIT', 0, limit);
      if (ids.length === 0) return { orphaned: [], dropped: 0 };
      const found = await redis.hmget(keys.receipts, ...ids);
      const candidates = found.flatMap((text) => (text ? [JSON.parse(text) as Receipt] : []));
      const owners = [...new Set(candidates.map((r) => r.owner))];
      const alive = new Set<string>();
      for (const [i, exists] of (
        await Promise.all(owners.map((o) => redis.exists(keys.processBeat(o))))
      ).entries()) {
        if (exists === 1) alive.add(owners[i] as string);
      }
      const orphaned = candidates.filter((r) => !alive.has(r.owner)).map((r) => r.id);
      const abandoned = candidates
        .filter((r) => alive.has(r.owner) && r.at < abandonedBefore)
        .map((r) => r.id);
      // Ids whose receipt is already gone leave the time index too.
      const gone = ids.filter((_id, i) => found[i] == null);
      if (orphaned.length + abandoned.length + gone.length === 0) return { orphaned: [], dropped: 0 };
      const raw = (await claimReceipts.run(redis, where, [...orphaned, ...abandoned, ...gone])) as string[];
      const claimed = raw.map((text) => JSON.parse(text) as Receipt);
      const dropped = new Set(abandoned);
      return {
        orphaned: claimed.filter((r) => !dropped.has(r.id)),
        dropped: claimed.filter((r) => dropped.has(r.id)).length,
      };
    },
    async giveBack(receipt) {
      await store(receipt);
    },
    beat() {
      const key = keys.processBeat(owner);
      const write = () => redis.set(key, String(now()), 'PX', BEAT_LASTS_MS).catch(() => undefined);
      void write();
      const timer = setInterval(write, BEAT_EVERY_MS);
      timer.unref();
      return async () => {
        clearInterval(timer);
        await redis.del(key).catch(() => undefined);
      };
    },
  };
}
