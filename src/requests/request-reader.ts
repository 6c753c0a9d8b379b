import { type AuditEntry, readOwnTrail, trailEntryOf } from '../audit/audit-trail.js';
import { missingRecordError } from '../lib/ids.js';
import type { RedisClient } from '../lib/redis-client.js';
import { type RedisKeys, redisKeys } from '../lib/redis-keys.js';
import type { AccessRequest, RequestAuditEntry, RequestState } from './model.js';
import { decodeRequest, decodeTrail, readStoredHash } from './request-codec.js';

/** Reads stored requests, their audit trails and the indexes the request writer keeps; writes nothing but index clean-up. */
export interface RequestReader {
  get(id: string): Promise<AccessRequest | undefined>;
  /** Like get, but a missing request is an AppError the user can read. */
  require(id: string): Promise<AccessRequest>;
  audit(id: string): Promise<RequestAuditEntry[]>;
  /**
   * A request's own audit trail with every field, oldest first: the one its record keeps, after the
   * entries of its own trail key if it was stored before trails were kept in the record (a rolling
   * upgrade may write to both). Each has the id `<at>-<position>`. Empty once the request is gone.
   */
  trail(id: string): Promise<AuditEntry[]>;
  /** A person's requests, newest first. */
  listByRequester(userId: string, limit: number): Promise<AccessRequest[]>;
  /** Requests that give a person access (made by them or for them), newest first. */
  listByGrantee(userId: string, limit: number): Promise<AccessRequest[]>;
  /**
   * Requests a person decided on (approved, denied, an approval of several), latest decision first:
   * at most their latest DECISIONS_KEPT.
   */
  listDecidedBy(userId: string, limit: number): Promise<AccessRequest[]>;
  /** Pending requests on these targets (Atlas ids), oldest first. */
  listPending(targetIds: readonly string[]): Promise<AccessRequest[]>;
  /** Requests the system still has to move, last updated before `before` (ms), oldest first. */
  listActive(before: number, limit: number): Promise<AccessRequest[]>;
}

/** The grant a request id stands for: the request itself, or for an extension, the grant it extends. */
export async function requireGrant(
  reader: Pick<RequestReader, 'require'>,
  id: string,
): Promise<AccessRequest> {
  const request = await reader.require(id);
  return request.extends === null ? request : reader.require(request.extends);
}

/** Newest first: by creation, then by id (ids of one length sort by issue). */
const newestFirst = (a: AccessRequest, b: AccessRequest) =>
  b.createdAt - a.createdAt || b.id.localeCompare(a.id, 'en', { numeric: true });

/** Options for {@link createRequestReader}. */
export interface RequestReaderOptions {
  /** Every key lives under `${prefix}:`. */
  readonly prefix: string;
  /** Told every request read by id (get, require): what the work reading it is about, for traces. */
  readonly onRead?: (request: AccessRequest) => void;
}

/** Creates the Redis-backed request reader. */
export function createRequestReader(redis: RedisClient, options: RequestReaderOptions): RequestReader {
  const keys: RedisKeys = redisKeys(options.prefix);

  /** The stored hash, a compressed request expanded (request-codec.ts); undefined when there is none. */
  const read = async (id: string): Promise<Record<string, string> | undefined> => {
    const hash = readStoredHash(id, await redis.hgetallBuffer(keys.request(id)));
    return hash.state === undefined ? undefined : hash;
  };

  const get = async (id: string): Promise<AccessRequest | undefined> => {
    const hash = await read(id);
    if (hash === undefined) return undefined;
    const request = decodeRequest(id, hash);
    options.onRead?.(request);
    return request;
  };

  const trail = async (id: string): Promise<AuditEntry[]> => {
    const [hash, own] = await Promise.all([read(id), readOwnTrail(redis, keys, id)]);
    const kept = hash === undefined ? [] : decodeTrail(hash);
    const entries = [...own, ...kept.map((entry, i) => trailEntryOf(entry, id, own.length + i))];
    // Both only while a rolling upgrade mixes releases: in time order (a stable sort).
    return own.length === 0 ? entries : entries.sort((a, b) => a.at - b.at);
  };

  /** Reads requests by id, dropping (and unindexing) those whose retention has run out. */
  const readMany = async (ids: readonly string[], index: string): Promise<AccessRequest[]> => {
    if (ids.length === 0) return [];
    const pipeline = redis.pipeline();
    for (const id of ids) pipeline.hgetallBuffer(keys.request(id));
    const hashes = (await pipeline.exec()) ?? [];
    const found: AccessRequest[] = [];
    const gone: string[] = [];
    ids.forEach((id, i) => {
      const raw = hashes[i]?.[1] as Record<string, Buffer> | undefined;
      const hash = raw === undefined ? undefined : readStoredHash(id, raw);
      if (hash?.state === undefined) gone.push(id);
      else found.push(decodeRequest(id, hash));
    });
    if (gone.length > 0) {
      await (index.startsWith(keys.pendingIndex(''))
        ? redis.srem(index, ...gone)
        : redis.zrem(index, ...gone));
    }
    return found;
  };

  return {
    get,

    async require(id) {
      const request = await get(id);
      if (!request) throw missingRecordError(id);
      return request;
    },

    async listByRequester(userId, limit) {
      const index = keys.requesterIndex(userId);
      return readMany(await redis.zrevrange(index, 0, limit - 1), index);
    },

    async listByGrantee(userId, limit) {
      // Requests others made for them (the grantee's index; before, it had their own too), and their
      // own requests for themselves (the requester's index).
      const [forThem, theirs] = await Promise.all(
        [keys.granteeIndex(userId), keys.requesterIndex(userId)].map(async (index) =>
          readMany(await redis.zrevrange(index, 0, limit - 1), index),
        ),
      );
      const found = new Map<string, AccessRequest>();
      for (const request of [...(forThem ?? []), ...(theirs ?? [])]) {
        if (request.granteeId === userId) found.set(request.id, request);
      }
      return [...found.values()].sort(newestFirst).slice(0, limit);
    },

    async listDecidedBy(userId, limit) {
      const index = keys.deciderIndex(userId);
      return readMany(await redis.zrevrange(index, 0, limit - 1), index);
    },

    async listPending(targetIds) {
      const found = await Promise.all(
        targetIds.map(async (targetId) => {
          const index = keys.pendingIndex(targetId);
          return readMany(await redis.smembers(index), index);
        }),
      );
      return found
        .flat()
        .sort((a, b) => a.createdAt - b.createdAt || a.id.localeCompare(b.id, 'en', { numeric: true }));
    },

    async listActive(before, limit) {
      const ids = await redis.zrangebyscore(keys.activeIndex, '-inf', before, 'LIMIT', 0, limit);
      return readMany(ids, keys.activeIndex);
    },

    trail,

    async audit(id) {
      return (await trail(id)).map(({ at, fields: f }) => ({
        requestId: f.request ?? id,
        from: (f.from || null) as RequestState | null,
        to: f.to as RequestState,
        actor: f.actor ?? 'system',
        at,
        detail: f.detail ?? '',
        policy: f.policy || null,
      }));
    },
  };
}
