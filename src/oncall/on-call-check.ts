/**
 * The {@link OnCallSchedules} port over the providers' readers: who is on call now for each schedule
 * is kept `cacheTtlMs` (one read at a time per schedule), emails are compared without case, and any
 * schedule that cannot be read (no credentials, network, timeout, 401/403/404, 429, 5xx, an answer
 * of the wrong shape) fails closed: not on call, named in `unknown`, and logged at warn at most once
 * per schedule per `warnEveryMs`, with the provider's words and never its token.
 */
import type { Logger } from '../ops/logger.js';
import {
  type OnCallAnswer,
  type OnCallProvider,
  type OnCallSchedules,
  PROVIDER_NAMES,
  type ScheduleRead,
  type ScheduleReader,
  type ScheduleRef,
} from './on-call.js';

/** Options of {@link createOnCallCheck}. */
export interface OnCallCheckOptions {
  /** One reader per provider that has credentials; a schedule of another provider is unknown. */
  readonly readers: readonly ScheduleReader[];
  readonly logger: Logger;
  /** How long who is on call for a schedule is believed without asking again. @defaultValue 30000 */
  readonly cacheTtlMs?: number;
  /** At most one warning per schedule this often. @defaultValue 60000 */
  readonly warnEveryMs?: number;
  /** @defaultValue Date.now */
  readonly now?: () => number;
}

/** The variable that gives each provider its credential, for the warning when it is unset. */
const CREDENTIAL: Readonly<Record<OnCallProvider, string>> = {
  pagerduty: 'PAGERDUTY_TOKEN',
  opsgenie: 'OPSGENIE_API_KEY',
};

type Known = { readonly emails: ReadonlySet<string>; readonly name?: string };

/** Creates the on-call check: cached, case-insensitive, failing closed. */
export function createOnCallCheck(options: OnCallCheckOptions): OnCallSchedules {
  const cacheTtlMs = options.cacheTtlMs ?? 30_000;
  const warnEveryMs = options.warnEveryMs ?? 60_000;
  const now = options.now ?? Date.now;
  const readers = new Map(options.readers.map((reader) => [reader.provider, reader]));
  const cache = new Map<string, Known & { readonly until: number }>();
  const reading = new Map<string, Promise<Known | undefined>>();
  /** Schedules whose provider answered 429 with when to come back: not asked before then. */
  const quietUntil = new Map<string, number>();
  const warnedAt = new Map<string, number>();

  const warn = (ref: ScheduleRef, reason: string, status?: number) => {
    const key = keyOf(ref);
    const last = warnedAt.get(key);
    if (last !== undefined && now() - last < warnEveryMs) return;
    warnedAt.set(key, now());
    options.logger.warn('on-call schedule could not be read; counted as not on call', {
      provider: ref.provider,
      scheduleId: ref.id,
      reason: `${PROVIDER_NAMES[ref.provider]} ${reason}`,
      ...(status === undefined ? {} : { status }),
    });
  };

  /** Who is on call for `ref` now, or undefined when it cannot be told (warned). */
  const known = async (ref: ScheduleRef): Promise<Known | undefined> => {
    const key = keyOf(ref);
    const cached = cache.get(key);
    if (cached !== undefined && now() < cached.until) return cached;
    const reader = readers.get(ref.provider);
    if (reader === undefined) {
      warn(ref, `is not configured (${CREDENTIAL[ref.provider]} is unset)`);
      return undefined;
    }
    const quiet = quietUntil.get(key);
    if (quiet !== undefined && now() < quiet) {
      warn(ref, `asked to wait (429) until ${new Date(quiet).toISOString()}`, 429);
      return undefined;
    }
    const pending = reading.get(key);
    if (pending !== undefined) return pending;
    const read = readSafely(reader, ref.id)
      .then((result) => {
        if (!result.ok) {
          if (result.retryAfterMs !== undefined) quietUntil.set(key, now() + result.retryAfterMs);
          warn(ref, result.reason, result.status);
          return undefined;
        }
        const entry = {
          emails: new Set(result.emails.map(normalEmail)),
          ...(result.name === undefined ? {} : { name: result.name }),
          until: now() + cacheTtlMs,
        };
        cache.set(key, entry);
        return entry;
      })
      .finally(() => reading.delete(key));
    reading.set(key, read);
    return read;
  };

  const isOnCall = async (email: string, schedules: readonly ScheduleRef[]): Promise<OnCallAnswer> => {
    const unique = [...new Map(schedules.map((ref) => [keyOf(ref), ref])).values()];
    const who = normalEmail(email);
    const found = await Promise.all(unique.map(known));
    const index = who === '' ? -1 : found.findIndex((entry) => entry?.emails.has(who) === true);
    const match = unique[index];
    if (match !== undefined) {
      const name = found[index]?.name;
      return {
        onCall: true,
        schedule: { provider: match.provider, id: match.id, ...(name === undefined ? {} : { name }) },
      };
    }
    const unknown = unique.filter((_, i) => found[i] === undefined);
    return unknown.length === 0 ? { onCall: false } : { onCall: false, unknown };
  };

  return { isOnCall };
}

/** A reader that throws after all (a bug) still fails closed. */
async function readSafely(reader: ScheduleReader, scheduleId: string): Promise<ScheduleRead> {
  try {
    return await reader.readOnCallNow(scheduleId);
  } catch (error) {
    return { ok: false, reason: `read failed (${(error as Error).name})` };
  }
}

function keyOf(ref: ScheduleRef): string {
  return `${ref.provider}:${ref.id}`;
}

function normalEmail(email: string): string {
  return email.trim().toLowerCase();
}
