import { AppError } from '../errors.js';
import { luaJson } from '../lib/redis-script.js';
import type { AccessRequest } from './model.js';
import { COMPRESSED_REQUEST_SCHEMA, expandSettled, isChunk, joinChunks } from './settled-record.js';

/**
 * The newest shape of stored requests this release reads and writes (the hash field `schema`). 1:
 * every request stored before the field existed (read with FIELD_DEFAULTS); 2: the same fields,
 * versioned; 3: a settled request (nothing left for the system to do) keeps every field but `state`
 * and `schema` in one JSON field `packed`, without those equal to their default; 4: the same,
 * compressed, in the binary fields `z0`, `z1`, … (settled-record.ts).
 */
export const REQUEST_SCHEMA_VERSION = COMPRESSED_REQUEST_SCHEMA;

/**
 * How many of a person's latest decisions their index keeps (the Home tab shows 10): a busy
 * approver's index stays one small allocation (Redis keeps a sorted set of up to 128 members compact).
 */
export const DECISIONS_KEPT = 100;

/** What a packed request says it is (the write script packs; the writer compresses it next). */
export const PACKED_REQUEST_SCHEMA = 3;

/**
 * What a request hash with a field per field says it is: 2, which the previous release reads too, so
 * during a rolling upgrade it keeps working on new requests; only a packed one says 3 (it must not
 * misread that).
 */
export const FLAT_REQUEST_SCHEMA = 2;

/** The fields of a stored request besides `state` and `schema`, each a JSON value. */
const JSON_FIELDS = [
  'requesterId',
  'requesterTeamId',
  'granteeId',
  'granteeEmail',
  'target',
  'roles',
  'durationSeconds',
  'startsAt',
  'reason',
  'ticket',
  'ticketUrl',
  'createdAt',
  'updatedAt',
  'sourceChannelId',
  'replyUrl',
  'rolesAtRequest',
  'atlasUserId',
  'holdersAtRequest',
  'rolesThroughTeamsAtRequest',
  'teamAccess',
  'database',
  'addsToProject',
  'extends',
  'endsNoLaterThan',
  'breakGlass',
  'approversAtRequest',
  'workflow',
  'approvalMessage',
  'approvals',
  'decision',
  'acknowledged',
  'plan',
  'grant',
  'extensions',
  'extension',
  'endedEarly',
  'revokePlan',
  'revocation',
  'revokeTrouble',
  'drift',
  'failure',
  'attempt',
  'bundle',
] as const;

/** Defaults for fields that requests stored before they existed do not have. */
const FIELD_DEFAULTS: Partial<Record<(typeof JSON_FIELDS)[number], unknown>> = {
  holdersAtRequest: [],
  rolesThroughTeamsAtRequest: [],
  teamAccess: [],
  addsToProject: false,
  replyUrl: null,
  breakGlass: false,
  approversAtRequest: [],
  workflow: null,
  approvals: [],
  acknowledged: null,
  extensions: [],
  drift: [],
  ticket: null,
  ticketUrl: null,
  startsAt: null,
  bundle: null,
};

/**
 * What each field holds when it is absent (FIELD_DEFAULTS, else null), as stored: a settled request
 * leaves these out. The write script gets it as JSON (lua/write-request.lua, ARGV[2]).
 */
export const STORED_DEFAULTS: Readonly<Record<string, string>> = Object.fromEntries(
  JSON_FIELDS.map((field) => [field, JSON.stringify(FIELD_DEFAULTS[field] ?? null)]),
);

/**
 * Request fields as stored, one JSON text each, for the write script; undefined ones are left out.
 * No lone surrogate (see luaJson): the script decodes some of them (target, grant).
 */
export function encodeFields(values: Readonly<Record<string, unknown>>): Record<string, string> {
  const encoded: Record<string, string> = {};
  for (const [field, value] of Object.entries(values)) {
    if (value !== undefined) encoded[field] = luaJson(value);
  }
  return encoded;
}

/**
 * A request hash as read with Buffers (HGETALL): text fields as text, and a compressed request's
 * binary chunks expanded into the `packed` field they were made from, so it decodes as a packed one.
 */
export function readStoredHash(id: string, raw: Readonly<Record<string, Buffer>>): Record<string, string> {
  const hash: Record<string, string> = {};
  for (const [field, value] of Object.entries(raw)) {
    if (!isChunk(field)) hash[field] = value.toString('utf8');
  }
  const z = joinChunks(raw);
  if (z !== undefined && hash.packed === undefined) hash.packed = expandSettled(id, z);
  return hash;
}

/**
 * A request's own audit trail, oldest first, as stored in its `trail` field (flat, or inside
 * `packed`): compact entries (audit/audit-trail.ts, trailEntryOf). Empty for a request stored
 * before trails were kept in the hash (it has its own trail key).
 */
export function decodeTrail(hash: Readonly<Record<string, string>>): Record<string, unknown>[] {
  const fields: Record<string, string | undefined> =
    hash.packed === undefined ? hash : (JSON.parse(hash.packed) as Record<string, string>);
  return fields.trail === undefined ? [] : (JSON.parse(fields.trail) as Record<string, unknown>[]);
}

/** A stored request hash (flat, packed or from before schemas) read back as an AccessRequest. */
export function decodeRequest(id: string, hash: Record<string, string>): AccessRequest {
  const schema = hash.schema === undefined ? 1 : Number(hash.schema);
  if (!(schema >= 1 && schema <= REQUEST_SCHEMA_VERSION)) {
    // A newer release wrote it: reading it with today's shape could misread a grant.
    throw new AppError(
      'STORAGE_UNAVAILABLE',
      `${id} was stored by a newer Rolecall (schema ${hash.schema}); this one reads up to ${REQUEST_SCHEMA_VERSION}. Finish the upgrade of every process.`,
      { retryable: true },
    );
  }
  const fields: Record<string, string | undefined> =
    hash.packed === undefined ? hash : (JSON.parse(hash.packed) as Record<string, string>);
  const decoded: Record<string, unknown> = { id, state: hash.state };
  for (const field of JSON_FIELDS) {
    const raw = fields[field];
    decoded[field] = raw === undefined ? (FIELD_DEFAULTS[field] ?? null) : JSON.parse(raw);
  }
  return decoded as unknown as AccessRequest;
}

/** What a request's index keys are derived from; fixed when the request is created. */
export interface RequestIdentity {
  readonly requesterId: string;
  readonly granteeId: string;
  readonly targetId: string;
}

/** Who a stored request is about, from its hash (readStoredHash); undefined when any of it is missing. */
export function decodeIdentity(hash: Readonly<Record<string, string>>): RequestIdentity | undefined {
  // A settled request (schema 3, or 4 expanded) keeps these inside its 'packed' field.
  const fields: Record<string, string | undefined> =
    hash.packed === undefined ? hash : (JSON.parse(hash.packed) as Record<string, string>);
  const { requesterId, granteeId, target } = fields;
  if (requesterId === undefined || granteeId === undefined || target === undefined) return undefined;
  return {
    requesterId: JSON.parse(requesterId) as string,
    granteeId: JSON.parse(granteeId) as string,
    targetId: (JSON.parse(target) as { id: string }).id,
  };
}

/** A hash as Redis returns it flat from a script or a stream entry (`[field, value, ...]`), as an object. */
export function parseFlatHash(flat: readonly string[]): Record<string, string> {
  const pairs: [string, string][] = [];
  for (let i = 0; i + 1 < flat.length; i += 2) pairs.push([flat[i] as string, flat[i + 1] as string]);
  return Object.fromEntries(pairs);
}
