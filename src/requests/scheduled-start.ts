import { DateTime } from 'luxon';
import { AppError } from '../errors.js';
import type { AccessRequest } from './model.js';

/** How far ahead a grant may be scheduled to start. */
export const MAX_START_AHEAD_DAYS = 30;

/** The least time between asking and a scheduled start (sooner is "now": leave `from` out). */
export const MIN_START_AHEAD_MS = 10_000;

/**
 * When a grant should start, as the person wrote it: a time of day (`from 22:00`, the next one in
 * their Slack time zone), a date and time (`from 2026-12-08T22:00`, in their time zone), or an
 * instant (with `Z` or an offset, or picked in the form, where Slack's date picker gives one).
 */
export type StartAt =
  | { readonly kind: 'clock'; readonly hour: number; readonly minute: number }
  | {
      readonly kind: 'local';
      readonly year: number;
      readonly month: number;
      readonly day: number;
      readonly hour: number;
      readonly minute: number;
    }
  | { readonly kind: 'instant'; readonly at: number };

/** A correct scheduled request, shown next to its parse errors. */
export const START_EXAMPLE =
  '/atlas-access request GROUP_READ_ONLY on payments-prod from 22:00 for 2h because migration';

const CLOCK = /^(?<hour>[01]?\d|2[0-3]):(?<minute>[0-5]\d)$/;
const LOCAL = /^(?<year>\d{4})-(?<month>\d{2})-(?<day>\d{2})T(?<hour>\d{2}):(?<minute>\d{2})$/;
const ZONED = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2})?(?:Z|[+-]\d{2}:\d{2})$/;
/** The furthest a real time zone is from UTC (Kiribati, UTC+14:00), in minutes. */
const MAX_OFFSET_MINUTES = 14 * 60;

/** Reads the word after `from`; throws COMMAND_INVALID in words when it is not a start. */
export function parseStart(text: string): StartAt {
  const word = text.trim();
  const clock = CLOCK.exec(word)?.groups;
  if (clock) return { kind: 'clock', hour: Number(clock.hour), minute: Number(clock.minute) };
  const local = LOCAL.exec(word)?.groups;
  if (local) {
    const parts = {
      year: Number(local.year),
      month: Number(local.month),
      day: Number(local.day),
      hour: Number(local.hour),
      minute: Number(local.minute),
    };
    if (DateTime.fromObject(parts, { zone: 'UTC' }).isValid) return { kind: 'local', ...parts };
  }
  if (ZONED.test(word)) {
    const at = DateTime.fromISO(word, { setZone: true });
    // No time zone is more than 14 hours from UTC: +25:00 is a typo, not an instant.
    if (at.isValid && Math.abs(at.offset) <= MAX_OFFSET_MINUTES)
      return { kind: 'instant', at: at.toMillis() };
  }
  throw new AppError(
    'COMMAND_INVALID',
    `"${word}" is not a start. Write a time of day (from 22:00) or a date and time (from 2026-12-08T22:00), in your Slack time zone.`,
  );
}

/**
 * The instant a start means for someone in `timeZone` (IANA, from their Slack profile; UTC when
 * Slack does not say) at `now`: a time of day is its next occurrence. Throws COMMAND_INVALID when
 * it is not at least 10 seconds ahead, or more than {@link MAX_START_AHEAD_DAYS} days ahead.
 */
export function resolveStart(
  start: StartAt,
  timeZone: string | null,
  now: number,
  /** How to start at approval instead, in the words of where the start was given. */
  startNow = 'leave "from" out',
): number {
  const zone = timeZone !== null && DateTime.local().setZone(timeZone).isValid ? timeZone : 'UTC';
  const here = DateTime.fromMillis(now, { zone });
  let at: number;
  if (start.kind === 'instant') at = start.at;
  else if (start.kind === 'local') {
    // A wall time the clock skips (a DST gap) moves forward, as luxon does; one it repeats is the first.
    at = firstOf(
      occurrencesOf(
        { year: start.year, month: start.month, day: start.day, hour: start.hour, minute: start.minute },
        zone,
      ),
    );
  } else {
    // The next time the clock shows it: today's (either one, on a day the hour repeats), else
    // tomorrow's. One a few seconds away is still today's, and refused below as too close.
    const wall = { hour: start.hour, minute: start.minute };
    const today = occurrencesOf({ year: here.year, month: here.month, day: here.day, ...wall }, zone);
    const tomorrow = here.plus({ days: 1 });
    const next = occurrencesOf(
      { year: tomorrow.year, month: tomorrow.month, day: tomorrow.day, ...wall },
      zone,
    );
    at = firstOf([...today, ...next].filter((instant) => instant > now));
  }
  if (at < now + MIN_START_AHEAD_MS) {
    throw new AppError(
      'COMMAND_INVALID',
      `That start (${describeInstant(at, zone)}) has passed or is less than 10 seconds away; ${startNow} to start at approval.`,
    );
  }
  if (at > now + MAX_START_AHEAD_DAYS * 86_400_000) {
    throw new AppError(
      'COMMAND_INVALID',
      `That start (${describeInstant(at, zone)}) is more than ${MAX_START_AHEAD_DAYS} days away; ask nearer the time.`,
    );
  }
  return at;
}

/**
 * Every instant a wall time has in `zone`, earliest first: one, two when the clock repeats that hour
 * (a DST fall-back), and for one it skips (a spring-forward gap) the instant luxon moves it to.
 */
function occurrencesOf(
  wall: { year: number; month: number; day: number; hour: number; minute: number },
  zone: string,
): number[] {
  const dt = DateTime.fromObject(wall, { zone });
  if (!dt.isValid) return [];
  return [...new Set(dt.getPossibleOffsets().map((d) => d.toMillis()))].sort((a, b) => a - b);
}

/** The earliest of some instants; a wall time with none (never: it is checked first) is an internal error. */
function firstOf(instants: readonly number[]): number {
  const [first] = instants;
  if (first === undefined) throw new AppError('INTERNAL', 'a start resolved to no instant');
  return first;
}

/** `2026-12-08 22:00 Europe/Amsterdam` (with seconds when it has any): an instant in words for one time zone (errors, logs, audit). */
export function describeInstant(at: number, timeZone = 'UTC'): string {
  const local = DateTime.fromMillis(at, { zone: timeZone });
  // Seconds only when there are any: a start a few seconds away must not read as one just passed.
  return `${local.toFormat(local.second === 0 ? 'yyyy-MM-dd HH:mm' : 'yyyy-MM-dd HH:mm:ss')} ${timeZone}`;
}

/**
 * When a temporary grant ends: counted from its scheduled start when it has one (a late apply, after
 * an outage or a late approval, does not move it), else from when it was applied; null = permanent.
 */
export function endOfGrant(
  request: Pick<AccessRequest, 'durationSeconds' | 'startsAt'>,
  appliedAt: number,
): number | null {
  if (request.durationSeconds === null) return null;
  return (request.startsAt ?? appliedAt) + request.durationSeconds * 1000;
}

/** A scheduled grant whose whole time has passed before it could be applied: never applied late. */
export function windowPassedError(request: Pick<AccessRequest, 'id' | 'startsAt'>, end: number): AppError {
  return new AppError(
    'REQUEST_WINDOW_PASSED',
    `${request.id} was to start at ${describeInstant(request.startsAt ?? end)} and end at ${describeInstant(end)}; that time passed before it could be applied, so nothing was granted. Ask again for a new time.`,
  );
}

/**
 * Until when a request may wait for a decision: REQUEST_TTL after it was made, and for a scheduled
 * temporary grant no later than its end (a decision after that could grant nothing).
 */
export function decideBy(
  request: Pick<AccessRequest, 'createdAt' | 'startsAt' | 'durationSeconds'>,
  requestTtlMs: number,
): number {
  const ttl = request.createdAt + requestTtlMs;
  const end = request.startsAt === null ? null : endOfGrant(request, request.startsAt);
  return end === null ? ttl : Math.min(ttl, end);
}

/**
 * Refuses what only an active grant allows (`doing`: "extend it", "end it") on one still waiting for
 * its start, saying so and how to call it off instead.
 */
export function notStartedError(request: Pick<AccessRequest, 'id' | 'startsAt'>, doing: string): AppError {
  return new AppError(
    'REQUEST_STATE_CONFLICT',
    `${request.id} has not started yet (it starts at ${describeInstant(request.startsAt ?? 0)}), so there is nothing to ${doing}. To call it off before its start: /atlas-access cancel ${request.id}.`,
    { details: { state: 'approved' } },
  );
}

/** True while an approved request still waits for its scheduled start (it may be cancelled then). */
export function waitsForStart(request: Pick<AccessRequest, 'state' | 'startsAt'>, now: number): boolean {
  return request.state === 'approved' && request.startsAt !== null && request.startsAt > now;
}
