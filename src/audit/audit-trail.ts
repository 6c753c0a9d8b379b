import type { RedisClient } from '../lib/redis-client.js';
import type { RedisKeys } from '../lib/redis-keys.js';

/**
 * The audit trail as compliance reads it: the global stream `<prefix>:audit` (every request
 * transition, refusal, review decision and offboarding step), read in time order and trimmed by age;
 * and each request's own trail (kept in its record, requests/request-reader.ts; for a request stored
 * before, its own key), in the same compact entries.
 */

/**
 * Told every audit entry as it is written (fields as in the stream), so it can also be logged: one
 * JSON line per entry for log pipelines and SIEMs that do not read Redis.
 */
export type AuditSink = (entry: Readonly<Record<string, string>>) => void;

/** One audit entry: its stream id, when it happened (ms), its kind and every field as written. */
export interface AuditEntry {
  /** The Redis stream id (`<ms>-<seq>`), unique and ordered. */
  readonly id: string;
  /** The entry's `at` field, or the stream id's time when absent (ms since the epoch). */
  readonly at: number;
  /** `request` (a request's transition or note), `refusal`, `review` or `offboarding`. */
  readonly kind: string;
  readonly fields: Readonly<Record<string, string>>;
}

/** The columns of the CSV export, in order; a field an entry lacks is empty. */
export const AUDIT_COLUMNS = [
  'id',
  'time',
  'kind',
  'request',
  'review',
  'offboarding',
  'line',
  'from',
  'to',
  'action',
  'actor',
  'code',
  'detail',
  'policy',
] as const;

/** What to read: a time window (ms, both inclusive). */
export interface AuditQuery {
  readonly sinceMs: number;
  readonly untilMs?: number | undefined;
}

/** Reads the global stream oldest first, `pageSize` at a time (XRANGE … COUNT), so any size streams out. */
export async function* readAuditTrail(
  redis: RedisClient,
  keys: RedisKeys,
  query: AuditQuery,
  pageSize = 1_000,
): AsyncGenerator<AuditEntry> {
  const key = keys.audit;
  const end = query.untilMs === undefined ? '+' : `${query.untilMs}-18446744073709551615`;
  let start = `${Math.max(0, query.sinceMs)}-0`;
  for (;;) {
    const page = await redis.xrange(key, start, end, 'COUNT', pageSize);
    for (const [id, flat] of page) yield toEntry(id, flat);
    const last = page[page.length - 1];
    if (page.length < pageSize || last === undefined) return;
    start = `(${last[0]}`;
  }
}

/**
 * The own trail key of request `requestId` stored before trails were kept in its record, oldest
 * first: a list of compact entries (schema 2; each given the id `<at>-<position>`), or a stream before
 * that. Empty when it has none.
 */
export async function readOwnTrail(
  redis: RedisClient,
  keys: RedisKeys,
  requestId: string,
): Promise<AuditEntry[]> {
  const key = keys.requestAudit(requestId);
  const type = await redis.type(key);
  if (type === 'stream') return (await redis.xrange(key, '-', '+')).map(([id, flat]) => toEntry(id, flat));
  if (type !== 'list') return [];
  return (await redis.lrange(key, 0, -1)).map((text, i) => trailEntryOf(JSON.parse(text), requestId, i));
}

/**
 * One compact entry of request `requestId`'s own trail (a list item, or an item of the `trail` its
 * record keeps) at position `position`, as an AuditEntry with the id `<at>-<position>`. Entries leave
 * out what the reader fills in: `request` (the key names it), empty `from`, `detail` and `policy`,
 * and `actor` when it is `system`.
 */
export function trailEntryOf(entry: unknown, requestId: string, position: number): AuditEntry {
  const written = Object.entries(entry as Record<string, unknown>).map(([k, v]) => [k, String(v ?? '')]);
  const fields: Record<string, string> = {
    request: requestId,
    from: '',
    actor: 'system',
    detail: '',
    policy: '',
    ...Object.fromEntries(written),
  };
  const at = Number(fields.at);
  return { id: `${at}-${position}`, at, kind: fields.kind ?? 'request', fields };
}

/** Drops entries of the global stream older than `retentionMs` (XTRIM MINID). @returns how many. */
export async function trimAuditTrail(
  redis: RedisClient,
  keys: RedisKeys,
  retentionMs: number,
  now: number = Date.now(),
): Promise<number> {
  return redis.xtrim(keys.audit, 'MINID', `${Math.max(0, now - retentionMs)}-0`);
}

/** One CSV row of an entry, keyed by {@link AUDIT_COLUMNS}. */
export function auditRow(entry: AuditEntry): Record<(typeof AUDIT_COLUMNS)[number], string> {
  const f = entry.fields;
  return {
    id: entry.id,
    time: new Date(entry.at).toISOString(),
    kind: entry.kind,
    request: f.request ?? '',
    review: f.review ?? '',
    offboarding: f.offboarding ?? '',
    line: f.line ?? '',
    from: f.from ?? '',
    to: f.to ?? '',
    action: f.action ?? '',
    actor: f.actor ?? '',
    code: f.code ?? '',
    detail: f.detail ?? '',
    policy: f.policy ?? '',
  };
}

function toEntry(id: string, flat: readonly string[]): AuditEntry {
  const fields: Record<string, string> = {};
  for (let i = 0; i + 1 < flat.length; i += 2) fields[flat[i] as string] = flat[i + 1] as string;
  const written = Number(fields.at);
  return {
    id,
    at: Number.isFinite(written) && written > 0 ? written : Number(id.split('-')[0]),
    kind: fields.kind ?? 'request',
    fields,
  };
}
