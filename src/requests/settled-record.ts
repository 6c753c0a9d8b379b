import { createHash } from 'node:crypto';
import { constants, deflateRawSync, inflateRawSync } from 'node:zlib';
import { AppError } from '../errors.js';
import type { RedisClient } from '../lib/redis-client.js';
import { loadRedisScript, luaJson } from '../lib/redis-script.js';

/** What a compressed request says it is (the hash field `schema`; request-codec.ts has every version). */
export const COMPRESSED_REQUEST_SCHEMA = 4;

/**
 * The compressed form of a settled request (schema 4): `z`, what a packed request (schema 3) keeps in
 * `packed` (the fields besides `state` and `schema`, without those equal to their default), as one
 * JSON object of values, compressed. The write script packs a request when it settles (Redis's Lua
 * has no compression); the writer then compresses the packed field in a second, checked write
 * (lua/compress-request.lua). Readers expand `z` back into `packed`, so every reader of a packed
 * request reads a compressed one the same way.
 *
 * `z` is one format byte, then the data: format 1 is raw DEFLATE (RFC 1951, level 9) primed with
 * {@link DICTIONARY_1}. A settled request of ~2 KB of JSON, its trail included, compresses to about
 * 350 bytes with it (about 650 without: most of a record is its field names and the shapes of its
 * values). It is stored in the hash fields `z0`, `z1`, … of at most {@link CHUNK_BYTES} each, so Redis
 * keeps the hash in its compact encoding (listpack: a few bytes a field) instead of a table of
 * separate allocations (about 150 bytes more for a request).
 */
const FORMAT_DEFLATE_1 = 1;

/**
 * The preset dictionary of format 1: a typical settled request in the order the compressor writes
 * fields (FIELD_ORDER), so the field names, the shapes of the values, common role names and the
 * usual audit entries are matched instead of stored. Never edit it: every record of format 1 is read with these exact bytes;
 * a better dictionary is a new format byte (and a new schema, so an older release refuses it).
 */
const DICTIONARY_1 =
  '{"roles":["GROUP_OWNER","GROUP_CLUSTER_MANAGER","GROUP_DATA_ACCESS_ADMIN","GROUP_DATA_ACCESS_READ_WRITE",' +
  '"GROUP_SEARCH_INDEX_EDITOR","GROUP_READ_ONLY","ORG_OWNER","ORG_MEMBER","ORG_GROUP_CREATOR",' +
  '"ORG_BILLING_ADMIN","ORG_BILLING_READ_ONLY","ORG_READ_ONLY"],"database":{"level":"read","roles":' +
  '[{"role":"read","db":"","collection":""}],"clusters":[""],"auth":"password","username":"rolecall-",' +
  '"accessList":"ask","addresses":["/32"]},"teamAccess":[{"team":"","project":"","roles":[""]}],' +
  '"rolesThroughTeamsAtRequest":[{"role":"","team":"team:"}],"holdersAtRequest":[{"requestId":"AR-",' +
  '"until":null,"role":""}],' +
  '"failure":{"code":"ATLAS_","message":"","at":17,"detail":""},"revokeTrouble":{"since":17,"failures":1,' +
  '"escalatedAt":17,"nextTryAt":17},"drift":[{"role":"","at":17}],"extensions":[{"by":"AR-","of":"AR-",' +
  '"from":17,"to":17}],"extension":{"by":"AR-","of":"AR-","from":17,"to":17},"workflow":{"executionId":"Fx"},' +
  '"acknowledged":{"by":"U0","at":17,"note":null},"endsNoLaterThan":17,"breakGlass":true,"extends":"AR-",' +
  '"addsToProject":true,"ticket":"","ticketUrl":"https://","requesterId":"U0","requesterTeamId":"T0",' +
  '"granteeId":"U0","granteeEmail":"@example.com","target":{"name":"","kind":"project","id":""},' +
  '"roles":["GROUP_DATA_ACCESS_READ_ONLY"],"durationSeconds":3600,"reason":"","createdAt":17,' +
  '"updatedAt":17,"sourceChannelId":"C0","replyUrl":"https://hooks.slack.com/commands/T0/",' +
  '"rolesAtRequest":["GROUP_READ_ONLY"],"atlasUserId":"","approversAtRequest":["U0"],' +
  '"approvalMessage":{"channelId":"C0","ts":"17"},"approvals":[{"by":"U0","at":17,"note":null}],' +
  '"decision":{"by":"U0","at":17,"note":null},"plan":{"atlasUserId":"","rolesBefore":["GROUP_READ_ONLY"],' +
  '"added":["GROUP_DATA_ACCESS_READ_ONLY"],"addsToProject":false},"grant":{"rolesAfter":["GROUP_READ_ONLY",' +
  '"GROUP_DATA_ACCESS_READ_ONLY"],"appliedAt":17,"revokeAt":17,"held":["GROUP_DATA_ACCESS_READ_ONLY"],' +
  '"joined":[],"outside":[],"addedToProject":false},"endedEarly":{"by":"U0","at":17},"revokePlan":' +
  '{"remove":["GROUP_DATA_ACCESS_READ_ONLY"],"leaveProject":false},"revocation":{"removed":' +
  '["GROUP_DATA_ACCESS_READ_ONLY"],"kept":[],"gone":[],"rolesAfter":["GROUP_READ_ONLY"],"revokedAt":17,' +
  '"leftProject":false},"attempt":1,"trail":[{"at":"17","actor":"U0","to":"submitted","detail":"requested"},' +
  '{"at":"17","detail":"checked against Atlas","to":"pending","from":"submitted"},{"at":"17","actor":"U0",' +
  '"to":"denied","from":"pending","detail":"","policy":""},{"at":"17","to":"expired","from":"pending",' +
  '"detail":"nobody decided in time"},{"at":"17","actor":"U0","to":"approved","from":"pending","policy":""},' +
  '{"at":"17","to":"applying","from":"approved"},{"at":"17","detail":"added GROUP_DATA_ACCESS_READ_ONLY",' +
  '"to":"applied","from":"applying"},{"at":"17","actor":"U0","to":"applied","from":"applied","detail":' +
  '"ended early by the grantee"},{"at":"17","to":"revoking","from":"applied"},{"at":"17","actor":"U0",' +
  '"to":"revoked","from":"revoking","detail":"removed GROUP_DATA_ACCESS_READ_ONLY; 0.01 s after its end"}]}';

/** Dictionary bytes by format; made on first use. */
const dictionaries = new Map<number, Buffer>();
function dictionaryOf(format: number): Buffer {
  let dictionary = dictionaries.get(format);
  if (!dictionary) {
    dictionary = Buffer.from(DICTIONARY_1, 'utf8');
    dictionaries.set(format, dictionary);
  }
  return dictionary;
}

/**
 * The order fields are written in, the dictionary's: those a typical request has, in their order
 * there; any other field (a field added later) follows, by name.
 */
const FIELD_ORDER = [
  'requesterId',
  'requesterTeamId',
  'granteeId',
  'granteeEmail',
  'target',
  'roles',
  'durationSeconds',
  'reason',
  'createdAt',
  'updatedAt',
  'sourceChannelId',
  'replyUrl',
  'rolesAtRequest',
  'atlasUserId',
  'approversAtRequest',
  'approvalMessage',
  'approvals',
  'decision',
  'plan',
  'grant',
  'endedEarly',
  'revokePlan',
  'revocation',
  'attempt',
  'trail',
];
const RANK = new Map(FIELD_ORDER.map((field, i) => [field, i]));
const byFieldOrder = (a: string, b: string) =>
  (RANK.get(a) ?? FIELD_ORDER.length) - (RANK.get(b) ?? FIELD_ORDER.length) || (a < b ? -1 : a > b ? 1 : 0);

/**
 * Compresses a packed request's `packed` field (JSON: field -> the field's JSON text) into `z`.
 * Every field is kept, whatever its name.
 */
export function compressSettled(packed: string): Buffer {
  const texts = JSON.parse(packed) as Record<string, string>;
  const values: Record<string, unknown> = {};
  for (const field of Object.keys(texts).sort(byFieldOrder)) {
    values[field] = JSON.parse(texts[field] as string);
  }
  const data = deflateRawSync(Buffer.from(JSON.stringify(values), 'utf8'), {
    level: constants.Z_BEST_COMPRESSION,
    dictionary: dictionaryOf(FORMAT_DEFLATE_1),
  });
  return Buffer.concat([Buffer.from([FORMAT_DEFLATE_1]), data]);
}

/**
 * The longest value Redis keeps in a listpack hash by default (`hash-max-listpack-value`); a server
 * set lower keeps the hash as a table, which reads the same.
 */
const CHUNK_BYTES = 64;

/** `z` as the hash fields that hold it: `z0`, `z1`, … of CHUNK_BYTES each, the last one shorter. */
export function chunksOf(z: Buffer): Record<string, Buffer> {
  const chunks: Record<string, Buffer> = {};
  for (let i = 0; i * CHUNK_BYTES < z.length; i += 1) {
    chunks[`z${i}`] = z.subarray(i * CHUNK_BYTES, (i + 1) * CHUNK_BYTES);
  }
  return chunks;
}

/** `z` put back together from a hash's fields (read with Buffers); undefined when it has none. */
export function joinChunks(hash: Readonly<Record<string, Buffer>>): Buffer | undefined {
  const chunks: Buffer[] = [];
  for (let i = 0; hash[`z${i}`] !== undefined; i += 1) chunks.push(hash[`z${i}`] as Buffer);
  return chunks.length === 0 ? undefined : Buffer.concat(chunks);
}

/** Whether a hash field is one of `z`'s chunks. */
export function isChunk(field: string): boolean {
  return /^z\d+$/.test(field);
}

/** A compressed request's `z` back as the `packed` field it was made from (field -> JSON text). */
export function expandSettled(id: string, z: Buffer): string {
  const format = z[0];
  if (format !== FORMAT_DEFLATE_1) {
    throw new AppError(
      'STORAGE_UNAVAILABLE',
      `${id} was compressed by a newer Rolecall (format ${format}). Finish the upgrade of every process.`,
      { retryable: true },
    );
  }
  const text = inflateRawSync(z.subarray(1), { dictionary: dictionaryOf(format) }).toString('utf8');
  const values = JSON.parse(text) as Record<string, unknown>;
  // luaJson, as the writer encodes fields: the write script decodes some of them with cjson.
  return JSON.stringify(Object.fromEntries(Object.entries(values).map(([k, v]) => [k, luaJson(v)])));
}

/**
 * A compressed request's `packed` field, expanded, and the SHA-1 (hex) of the `z` it came from: what
 * the write script takes to write to it (lua/write-request.lua, ARGV[5] and ARGV[6]).
 */
export interface ExpandedRecord {
  readonly packed: string;
  readonly digest: string;
}

/** The writer's side of compressed requests: compress a packed one, expand one for the write script. */
export interface SettledRecords {
  /** Replaces the packed field of request hash `key` by `z`'s chunks, unless a write changed it since (lua/compress-request.lua). */
  compress(key: string, packed: string): Promise<void>;
  /** The request `id` at `key` expanded; undefined when it is not compressed (any more). */
  expand(id: string, key: string): Promise<ExpandedRecord | undefined>;
}

/** Creates the writer's {@link SettledRecords}; reads lua/compress-request.lua now. */
export function createSettledRecords(redis: RedisClient): SettledRecords {
  const script = loadRedisScript(import.meta.url, 'compress-request');
  return {
    async compress(key, packed) {
      const chunks = Object.values(chunksOf(compressSettled(packed)));
      await script.run(redis, [key], [packed, String(COMPRESSED_REQUEST_SCHEMA), ...chunks]);
    },
    async expand(id, key) {
      const z = joinChunks(await redis.hgetallBuffer(key));
      if (z === undefined) return undefined;
      return { packed: expandSettled(id, z), digest: createHash('sha1').update(z).digest('hex') };
    },
  };
}
