import { parseArgs } from 'node:util';
import { stringify } from 'csv-stringify/sync';
import { AUDIT_COLUMNS, type AuditEntry, auditRow, readAuditTrail } from '../audit/audit-trail.js';
import { readTicketNote } from '../audit/ticket-note.js';
import { loadStoreSettings } from '../config.js';
import { AppError } from '../errors.js';
import { parseId } from '../lib/ids.js';
import type { RedisClient } from '../lib/redis-client.js';
import { type RedisKeys, redisKeys } from '../lib/redis-keys.js';
import { createLogger } from '../ops/logger.js';
import { connectRedis } from '../ops/redis.js';
import { createRequestReader } from '../requests/request-reader.js';
import { isReviewId, REVIEW_EXPORT_COLUMNS, reviewExportRows } from '../reviews/review-export.js';
import { createReviewStore } from '../reviews/review-store.js';
import type { CheckOutput } from './policy-check.js';

/** Usage of `rolecall audit`, shown with every argument error. */
export const AUDIT_USAGE = [
  'usage: rolecall audit --since DATE [--until DATE] [--request ID] [--format jsonl|csv]',
  '       rolecall audit --review ID [--format csv|json]',
].join('\n');

/** What the command line asked for. */
type AuditCommand =
  | { readonly review: string; readonly format: 'csv' | 'json' }
  | {
      readonly sinceMs: number;
      readonly untilMs: number | undefined;
      readonly requestId: string | undefined;
      readonly format: 'csv' | 'jsonl';
    };

/**
 * `rolecall audit …` (and `npm run audit -- …`): prints audit data from Redis to stdout, reading
 * REDIS_URL and QUEUE_PREFIX like the app and writing nothing.
 * - `--since DATE [--until DATE] [--request ID] [--format jsonl|csv]`: the audit trail, oldest first
 *   (the global stream, or one request's own trail with --request), each entry of a request with the
 *   ticket its "requested" entry notes (CSV `ticket`, `ticket_url`; JSON `ticket`, `ticketUrl`).
 *   DATE is ISO 8601 (`2026-11-01`, `2026-11-01T09:00:00Z`); a bare `--until` date includes that
 *   whole day (UTC). Default jsonl.
 * - `--review ID [--format csv|json]`: an access review's signed-off list, one row per standing
 *   (person, role) with who decided what, when, under which policy, and how it went. Default csv.
 * CSV cells that a spreadsheet would run as a formula (`=`, `+`, `-`, `@`) get a leading `'`
 * (csv-stringify's escape_formulas). Returns 0, 1 (nothing found, Redis or config unusable; why on
 * stderr) or 2 (usage).
 */
export async function runAuditExport(
  args: readonly string[],
  output: CheckOutput,
  env?: Readonly<Record<string, string | undefined>>,
): Promise<number> {
  let command: AuditCommand;
  try {
    command = parseAuditArgs(args);
  } catch (error) {
    output.err(`${(error as Error).message}\n${AUDIT_USAGE}`);
    return 2;
  }
  let redis: RedisClient | undefined;
  try {
    const store = loadStoreSettings(env);
    // Connection problems go to stderr as JSON lines; stdout carries only the export.
    redis = await connectRedis(store, 'commands', createLogger({ level: 'error', write: output.err }));
    const keys = redisKeys(store.prefix);
    if ('review' in command) return await exportReview(redis, keys, command, store.prefix, output);
    return await exportTrail(redis, keys, store.prefix, command, output);
  } catch (error) {
    output.err(error instanceof AppError ? `${error.code}: ${error.message}` : (error as Error).message);
    return 1;
  } finally {
    redis?.disconnect();
  }
}

/** The trail's CSV columns: every audit column, then the request's ticket and its link. */
export const TRAIL_COLUMNS = [...AUDIT_COLUMNS, 'ticket', 'ticket_url'] as const;

/** How many requests' tickets one export remembers (oldest forgotten first). */
const TICKETS_REMEMBERED = 100_000;

/**
 * The tickets of the requests an export has seen filed: a request's "requested" entry (its first,
 * from no state) notes its ticket and link (audit/ticket-note.ts); every later entry of the request
 * in the same export carries them too. A request filed before the window has none.
 */
function createTicketMemory() {
  const tickets = new Map<string, { ticket: string; url: string | null }>();
  return {
    /** The ticket of the entry's request, learning it from the entry that filed it. */
    of(entry: AuditEntry): { ticket: string; url: string | null } | undefined {
      const request = entry.fields.request;
      if (entry.kind !== 'request' || !request) return undefined;
      const filed = (entry.fields.from ?? '') === '' && (entry.fields.detail ?? '').startsWith('requested');
      if (filed) {
        const noted = readTicketNote(entry.fields.detail ?? '');
        if (noted) {
          if (tickets.size >= TICKETS_REMEMBERED) tickets.delete(tickets.keys().next().value ?? '');
          tickets.set(request, noted);
        }
      }
      return tickets.get(request);
    },
  };
}

const csv = (rows: readonly Record<string, string>[], columns: readonly string[], header: boolean) =>
  stringify([...rows], { header, columns: [...columns], escape_formulas: true }).replace(/\n$/, '');

async function exportReview(
  redis: RedisClient,
  keys: RedisKeys,
  command: Extract<AuditCommand, { review: string }>,
  prefix: string,
  output: CheckOutput,
): Promise<number> {
  const reviews = createReviewStore(redis, keys);
  const review = await reviews.get(command.review);
  if (review === undefined) {
    output.err(`There is no review ${command.review} under QUEUE_PREFIX ${prefix}.`);
    return 1;
  }
  const rows = reviewExportRows(review, await reviews.decisions(command.review));
  if (command.format === 'json') {
    const { messages: _messages, lines: _lines, ...meta } = review;
    output.out(JSON.stringify({ review: meta, rows }, null, 2));
  } else {
    output.out(csv(rows, REVIEW_EXPORT_COLUMNS, true));
  }
  return 0;
}

/**
 * The entries to export: the global stream in the window, or one request's trail (the entries of
 * the global stream it names, or its own key if stored before) in the window.
 */
async function* trailEntries(
  redis: RedisClient,
  keys: RedisKeys,
  prefix: string,
  command: Extract<AuditCommand, { sinceMs: number }>,
): AsyncGenerator<AuditEntry> {
  if (command.requestId === undefined) {
    yield* readAuditTrail(redis, keys, command);
    return;
  }
  for (const entry of await createRequestReader(redis, { prefix }).trail(command.requestId)) {
    if (entry.at >= command.sinceMs && (command.untilMs === undefined || entry.at <= command.untilMs)) {
      yield entry;
    }
  }
}

async function exportTrail(
  redis: RedisClient,
  keys: RedisKeys,
  prefix: string,
  command: Extract<AuditCommand, { sinceMs: number }>,
  output: CheckOutput,
): Promise<number> {
  let count = 0;
  const tickets = createTicketMemory();
  for await (const entry of trailEntries(redis, keys, prefix, command)) {
    const ticket = tickets.of(entry);
    if (command.format === 'jsonl') {
      output.out(
        JSON.stringify({
          id: entry.id,
          time: new Date(entry.at).toISOString(),
          kind: entry.kind,
          ...entry.fields,
          ...(ticket ? { ticket: ticket.ticket, ticketUrl: ticket.url } : {}),
        }),
      );
    } else {
      const row = { ...auditRow(entry), ticket: ticket?.ticket ?? '', ticket_url: ticket?.url ?? '' };
      output.out(csv([row], TRAIL_COLUMNS, count === 0));
    }
    count += 1;
  }
  if (count === 0 && command.format === 'csv') output.out(csv([], TRAIL_COLUMNS, true));
  if (count === 0 && command.requestId !== undefined) {
    output.err(
      `No audit entries for ${command.requestId} in that window (request trails expire with the request).`,
    );
    return 1;
  }
  return 0;
}

/** Reads the command line; throws an Error in words for anything wrong. */
function parseAuditArgs(args: readonly string[]): AuditCommand {
  const { values, positionals, tokens } = parseArgs({
    args: [...args],
    options: {
      review: { type: 'string' },
      since: { type: 'string' },
      until: { type: 'string' },
      request: { type: 'string' },
      format: { type: 'string' },
    },
    allowPositionals: true,
    strict: true,
    tokens: true,
  });
  if (positionals.length > 0) throw new Error(`unexpected argument: ${positionals[0]}`);
  const seen = new Set<string>();
  for (const token of tokens) {
    if (token.kind !== 'option') continue;
    if (seen.has(token.name)) throw new Error(`--${token.name} is given twice`);
    seen.add(token.name);
  }
  if (values.review !== undefined) {
    if (values.since !== undefined || values.until !== undefined || values.request !== undefined) {
      throw new Error('--review cannot be combined with --since, --until or --request');
    }
    if (!isReviewId(values.review)) throw new Error('--review must be a review id such as RV-0001');
    const format = values.format ?? 'csv';
    if (format !== 'csv' && format !== 'json') throw new Error('--format must be csv or json with --review');
    return { review: values.review, format };
  }
  if (values.since === undefined) throw new Error('--since DATE (or --review ID) is missing');
  const sinceMs = parseDate('--since', values.since, 'start');
  const untilMs = values.until === undefined ? undefined : parseDate('--until', values.until, 'end');
  if (untilMs !== undefined && untilMs < sinceMs) throw new Error('--until is before --since');
  let requestId: string | undefined;
  if (values.request !== undefined) {
    requestId = parseId('AR', values.request);
    if (requestId === undefined) throw new Error('--request must be a request id such as AR-0042');
  }
  const format = values.format ?? 'jsonl';
  if (format !== 'jsonl' && format !== 'csv') throw new Error('--format must be jsonl or csv');
  return { sinceMs, untilMs, requestId, format };
}

/**
 * An ISO 8601 date or date-time in ms, UTC unless it carries an offset (never the machine's time
 * zone); a bare date is that day's first (`start`) or last (`end`) ms. A day that does not exist
 * (2026-02-30) is refused, not rolled over.
 */
function parseDate(flag: string, text: string, edge: 'start' | 'end'): number {
  const match =
    /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}:\d{2}(?::\d{2}(?:\.\d{1,3})?)?)(Z|[+-]\d{2}:?\d{2})?)?$/.exec(
      text,
    );
  const usage = `${flag} must be an ISO 8601 date such as 2026-11-01 or 2026-11-01T09:00:00Z`;
  if (!match) throw new Error(usage);
  const [, year, month, day, time, offset] = match;
  const midnight = Date.UTC(Number(year), Number(month) - 1, Number(day));
  if (new Date(midnight).toISOString().slice(0, 10) !== `${year}-${month}-${day}`) {
    throw new Error(`${flag} ${text} is not a day of the calendar`);
  }
  if (time === undefined) return edge === 'end' ? midnight + 86_400_000 - 1 : midnight;
  const ms = Date.parse(`${year}-${month}-${day}T${time}${offset ?? 'Z'}`);
  if (Number.isNaN(ms)) throw new Error(usage);
  return ms;
}
