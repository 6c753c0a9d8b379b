import { randomBytes } from 'node:crypto';
import type { RedisClient } from '../lib/redis-client.js';
import type { RedisKeys } from '../lib/redis-keys.js';
import { loadRedisScript } from '../lib/redis-script.js';

/**
 * At most one extension of a grant open at a time: the grant's slot names the extension request
 * that holds it. A holder that is no longer open (decided, expired, applied) frees the slot for the
 * next, so nothing has to release it; a slot taken while a request is being filed holds a token
 * for a minute at most.
 */
export interface ExtensionClaims {
  /**
   * Takes the slot of `grantId` for a filing about to happen; `isOpen` says whether a request named by
   * the slot still waits or runs. Resolves with a token to hand over, or with who holds the slot.
   */
  claim(
    grantId: string,
    isOpen: (requestId: string) => Promise<boolean>,
  ): Promise<{ readonly token: string } | { readonly heldBy: string | null }>;
  /** Names the extension request filed under `token` as the slot's holder. */
  handOver(grantId: string, token: string, requestId: string): Promise<void>;
  /** Gives the slot back when the filing did not happen. */
  release(grantId: string, token: string): Promise<void>;
}

const FILING_MS = 60_000;
const HELD_MS = 7 * 24 * 3600 * 1000;

/**
 * The slots in Redis, shared by every bot process. A slot lasts `holdMs` at most (REQUEST_TTL and a
 * day: an extension nobody decided expires by then), so one left behind never blocks for good.
 */
export function createExtensionClaims(
  redis: RedisClient,
  keys: RedisKeys,
  holdMs: number = HELD_MS,
): ExtensionClaims {
  const swapSlot = loadRedisScript(import.meta.url, 'swap-extension-slot');
  const swap = async (grantId: string, expected: string, next: string, ttlMs: number) =>
    Number(await swapSlot.run(redis, [keys.extensionSlot(grantId)], [expected, next, ttlMs])) === 1;
  return {
    async claim(grantId, isOpen) {
      const token = `filing-${randomBytes(6).toString('hex')}`;
      for (let round = 0; round < 3; round += 1) {
        const holder = (await redis.get(keys.extensionSlot(grantId))) ?? '';
        if (holder.startsWith('filing-')) return { heldBy: null };
        if (holder !== '' && (await isOpen(holder))) return { heldBy: holder };
        if (await swap(grantId, holder, token, FILING_MS)) return { token };
      }
      return { heldBy: null };
    },
    async handOver(grantId, token, requestId) {
      await swap(grantId, token, requestId, holdMs);
    },
    async release(grantId, token) {
      await swap(grantId, token, '', 0);
    },
  };
}
