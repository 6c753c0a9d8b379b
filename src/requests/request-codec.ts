import { AppError } from '../errors.js';
import { luaJson } from '../lib/redis-script.js';
import type { AccessRequest } from './model.js';
import { COMPRESSED_REQUEST_SCHEMA, expandSettled } from './settled-record.js';

/**
 * The newest shape of stored requests this release reads and writes (the hash field `schema`). 1:
 * every request stored before the field existed (read with FIELD_DEFAULTS); 2: the same fields,
 * versioned; 3: a settled request (nothing left for the system to do) keeps every field but `state`
 * and `schema` in one JSON field `packed`, without those equal to their default; 4: the same,
 * compressed, in the binary field `z` (settled-record.ts).
 */
export const REQUEST_SCHEMA_VERSION = COMPRESSED_REQUEST_SCHEMA;

/**
 * How long a finished request stays in Redis: 90 days. Its trail is the global stream's entries it
 * names, so the stream keeps at least that much (jobs/reconcile-processor.ts).
 */
export const REQUEST_RETENTION_MS = 90 * 24 * 3600 * 1000;

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
 * binary `z` expanded into the `packed` field it was made from, so it decodes as a packed one does.
 */
export function readStoredHash(id: string, raw: Readonly<Record<string, Buffer>>): Record<string, string> {
  const hash: Record<string, string> = {};
  for (const [field, value] of Object.entries(raw)) {
    if (field !== 'z') hash[field] = value.toString('utf8');
  }
  if (raw.z !== undefined && hash.packed === undefined) hash.packed = expandSettled(id, raw.z);
  return hash;
}

/**
 * The ids of a request's entries in the global audit stream, oldest first: its `trail` field (flat,
 * or inside `packed`); empty for a request stored before trails were ids (it has its own trail key).
 */
export function decodeTrailIds(hash: Readonly<Record<string, string>>): string[] {
  const fields: Record<string, string | undefined> =
    hash.packed === undefined ? hash : (JSON.parse(hash.packed) as Record<string, string>);
  return fields.trail === undefined ? [] : (JSON.parse(fields.trail) as string[]);
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

/**
 * The hash fields {@link decodeIdentity} reads, in its order (a settled request keeps them in `packed`,
 * or compressed in `z`).
 */
export const IDENTITY_FIELDS = ['requesterId', 'granteeId', 'target', 'packed', 'z'] as const;

/** Who a stored request is about, from its {@link IDENTITY_FIELDS} (HMGET with Buffers); undefined when any is missing. */
export function decodeIdentity(id: string, stored: readonly (Buffer | null)[]): RequestIdentity | undefined {
  const [requester, grantee, target, packedField, z] = stored.map((value) => value ?? undefined);
  const packed = packedField?.toString('utf8') ?? (z === undefined ? undefined : expandSettled(id, z));
  // A settled request (schema 3, or 4 compressed) keeps these inside its 'packed' field.
  const settled =
    packed === undefined ? undefined : (JSON.parse(packed) as Record<string, string | undefined>);
  const fields = settled
    ? [settled.requesterId, settled.granteeId, settled.target]
    : [requester, grantee, target].map((value) => value?.toString('utf8'));
  const [requesterJson, granteeJson, targetJson] = fields;
  if (requesterJson == null || granteeJson == null || targetJson == null) return undefined;
  return {
    requesterId: JSON.parse(requesterJson) as string,
    granteeId: JSON.parse(granteeJson) as string,
    targetId: (JSON.parse(targetJson) as { id: string }).id,
  };
}

/** A hash as Redis returns it flat from a script or a stream entry (`[field, value, ...]`), as an object. */
export function parseFlatHash(flat: readonly string[]): Record<string, string> {
  const pairs: [string, string][] = [];
  for (let i = 0; i + 1 < flat.length; i += 2) pairs.push([flat[i] as string, flat[i + 1] as string]);
  return Object.fromEntries(pairs);
}
