import { AppError } from '../errors.js';
import type { RedisClient } from './redis-client.js';
import { loadRedisScript } from './redis-script.js';

/**
 * Ids of requests (`AR-`), access reviews (`RV-`) and offboardings (`OB-`). They are never handed out
 * twice, whatever Redis loses: each number is at least the time it was issued, in 10 ms ticks since
 * {@link ID_EPOCH_MS}, read from the Redis server's clock, and always above the last one issued. A
 * store that lost its counter (no persistence, a restore, a failover to a lagging replica) starts
 * again from the clock, past every id it handed out before (unless it once ran more than 100 ids a
 * second ahead of the clock for longer than the outage). Written in Crockford base32, 7 characters
 * until 2036 (`AR-2Q8ZK4M`): short enough to type, case-insensitive, no I, L, O or U.
 * Ids from before this scheme (`AR-0042`: digits only, at most 6) are still read.
 */

/** What kind of record an id names. */
export type IdKind = 'AR' | 'RV' | 'OB';

/** Time zero of time-ordered ids: 2026-01-01T00:00:00Z. */
export const ID_EPOCH_MS = Date.UTC(2026, 0, 1);

/** One step of an id number, in ms: at most 100 ids a second stay on the clock. */
export const ID_TICK_MS = 10;

const ALPHABET = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
const TIME_ORDERED = /^[0-9A-HJKMNP-TV-Z]{7,8}$/;
const LEGACY = /^\d{1,6}$/;

/** Issues the next id of `kind` from its counter key (see the module's doc for why one is never reused). */
export type IdIssuer = (kind: IdKind, counterKey: string) => Promise<string>;

/** The id issuer a store keeps, over its connection; reads its script (lua/next-id.lua) now. */
export function createIdIssuer(redis: RedisClient): IdIssuer {
  const nextId = loadRedisScript(import.meta.url, 'next-id');
  return async (kind, counterKey) =>
    formatId(kind, Number(await nextId.run(redis, [counterKey], [ID_EPOCH_MS, ID_TICK_MS])));
}

/** Issues one id of `kind` (a one-off: it reads the script each call; a store keeps a {@link createIdIssuer}). */
export async function issueId(redis: RedisClient, kind: IdKind, counterKey: string): Promise<string> {
  return createIdIssuer(redis)(kind, counterKey);
}

/** Writes an id number in base32, at least 7 characters. */
export function formatId(kind: IdKind, n: number): string {
  let text = '';
  for (let rest = Math.floor(n); rest > 0; rest = Math.floor(rest / 32)) text = ALPHABET[rest % 32] + text;
  return `${kind}-${text.padStart(7, '0')}`;
}

/**
 * Reads an id of `kind` as people type it (`ar-2q8zk4m`, `AR-2Q8ZK4M`, a legacy `ar-7` -> `AR-0007`),
 * or undefined when it is not one: nothing else reaches a Redis key.
 */
export function parseId(kind: IdKind, text: string | undefined): string | undefined {
  const match = /^([A-Za-z]{2})-([0-9A-Za-z]{1,8})$/.exec(text?.trim() ?? '');
  if (!match || match[1]?.toUpperCase() !== kind) return undefined;
  const code = (match[2] ?? '').toUpperCase();
  if (LEGACY.test(code)) {
    const number = Number(code);
    return number > 0 ? `${kind}-${String(number).padStart(4, '0')}` : undefined;
  }
  // Crockford: I and L read as 1, O as 0.
  const normal = code.replace(/[IL]/g, '1').replace(/O/g, '0');
  return TIME_ORDERED.test(normal) ? `${kind}-${normal}` : undefined;
}

/** The kind an id names, if it is one of Rolecall's. */
export function kindOf(id: string): IdKind | undefined {
  const kind = id.slice(0, 2);
  return (kind === 'AR' || kind === 'RV' || kind === 'OB') && parseId(kind, id) === id ? kind : undefined;
}

/**
 * The latest moment a time-ordered id can have been issued (ms since epoch); undefined for a legacy
 * id, which carries no time. An id issued by an earlier store is older than this store's creation.
 */
export function issuedNoLaterThan(id: string): number | undefined {
  const code = id.slice(3);
  if (!TIME_ORDERED.test(code)) return undefined;
  let n = 0;
  for (const char of code) n = n * 32 + ALPHABET.indexOf(char);
  return ID_EPOCH_MS + (n + 1) * ID_TICK_MS;
}

/** An id anywhere in a text (a button value, a command), for log correlation. */
export const ANY_ID = /\b(?:AR|RV|OB)-(?:[0-9A-HJKMNP-TV-Z]{7,8}|\d{1,6})\b/i;

const NOUNS: Readonly<Record<IdKind, string>> = { AR: 'request', RV: 'review', OB: 'offboarding' };

/** What a missing request, review or offboarding is, in words; `details.id` lets the edge tell why. */
export function missingRecordError(id: string): AppError {
  const kind = kindOf(id);
  return new AppError('REQUEST_NOT_FOUND', `There is no ${kind ? NOUNS[kind] : 'record'} ${id}.`, {
    details: { id },
  });
}
