import { isAppError } from '../errors.js';
import type { OrgRoleMappings } from '../lib/role-mappings.js';
import type { Logger } from '../ops/logger.js';
import type { AtlasFederationApi } from './federation-api.js';

/** Options for {@link createFederationCache}. */
export interface FederationCacheOptions {
  /** How long a read answers from memory before the next question reads again, in ms. */
  readonly ttlMs: number;
  /** The clock, in ms since epoch. @defaultValue Date.now */
  readonly now?: () => number;
  /** Told when a failed read is answered with the previous one (the organization id and error code only). */
  readonly logger?: Logger;
}

/** The outcome of {@link FederationCache.refreshAll}, per organization. */
export interface FederationRefresh {
  readonly refreshed: readonly string[];
  /** Organizations whose read failed; they answer their previous read until it is 2×ttl old, then throw. */
  readonly failed: readonly { readonly orgId: string; readonly code: string }[];
}

/** Each organization's role mappings, read at most once per ttl (what the request form asks on every grant). */
export interface FederationCache {
  /**
   * The organization's role mappings (null: none in force): from memory within ttl, else read again, one
   * read per organization at a time. A failed read answers the previous one while it is under 2×ttl old,
   * and throws the read's AppError after that (callers fail closed).
   */
  roleMappings(orgId: string): Promise<OrgRoleMappings | null>;
  /** Reads again every organization asked about so far, whatever their age: for a schedule. Never throws. */
  refreshAll(): Promise<FederationRefresh>;
}

/** One read's answer: fresh from Atlas, or the previous read because this one failed (`code`). */
type Outcome =
  | { readonly mappings: OrgRoleMappings | null; readonly fresh: true }
  | { readonly mappings: OrgRoleMappings | null; readonly fresh: false; readonly code: string };

interface Entry {
  value?: { readonly mappings: OrgRoleMappings | null; readonly at: number };
  reading?: Promise<Outcome>;
}

/** Builds the cache over the federation reads of an Atlas client. */
export function createFederationCache(
  api: Pick<AtlasFederationApi, 'readRoleMappings'>,
  options: FederationCacheOptions,
): FederationCache {
  const now = options.now ?? Date.now;
  const { ttlMs, logger } = options;
  const entries = new Map<string, Entry>();

  /** One read per organization at a time: a second caller waits for the read in flight. */
  const read = (orgId: string): Promise<Outcome> => {
    const entry = entries.get(orgId) ?? {};
    entries.set(orgId, entry);
    if (entry.reading) return entry.reading;
    const reading = api
      .readRoleMappings(orgId)
      .then(
        (mappings): Outcome => {
          entry.value = { mappings, at: now() };
          return { mappings, fresh: true };
        },
        (error: unknown): Outcome => {
          const previous = entry.value;
          const age = previous === undefined ? Number.POSITIVE_INFINITY : now() - previous.at;
          if (previous === undefined || age >= 2 * ttlMs) throw error;
          const code = isAppError(error) ? error.code : 'UNKNOWN';
          logger?.warn('federation settings read failed; answering the previous read', {
            orgId,
            code,
            ageMs: age,
          });
          return { mappings: previous.mappings, fresh: false, code };
        },
      )
      .finally(() => {
        delete entry.reading;
      });
    entry.reading = reading;
    return reading;
  };

  return {
    async roleMappings(orgId) {
      const value = entries.get(orgId)?.value;
      if (value !== undefined && now() - value.at < ttlMs) return value.mappings;
      return (await read(orgId)).mappings;
    },

    async refreshAll() {
      const orgIds = [...entries.keys()];
      const outcomes = await Promise.allSettled(orgIds.map(read));
      const refreshed: string[] = [];
      const failed: { orgId: string; code: string }[] = [];
      outcomes.forEach((outcome, i) => {
        const orgId = orgIds[i] as string;
        if (outcome.status === 'fulfilled' && outcome.value.fresh) refreshed.push(orgId);
        else if (outcome.status === 'fulfilled' && !outcome.value.fresh)
          failed.push({ orgId, code: outcome.value.code });
        else if (outcome.status === 'rejected')
          failed.push({ orgId, code: isAppError(outcome.reason) ? outcome.reason.code : 'UNKNOWN' });
      });
      return { refreshed, failed };
    },
  };
}
