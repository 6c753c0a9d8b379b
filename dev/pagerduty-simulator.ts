/**
 * A local stand-in for PagerDuty's REST API v2 "List all of the on-calls" (`GET /oncalls`), as
 * PagerDuty/api-schema reference/REST/openapiv3.json (operationId listOnCalls, read 2026-08)
 * describes it:
 * - auth: `Authorization: Token token=<API_KEY>` (securitySchemes.api_key); anything else is a 401;
 * - query: `schedule_ids[]`, `user_ids[]`, `include[]` (`users` makes each `user` a full User with
 *   `email`, otherwise a `user_reference` with `summary`), `since` / `until` (default: now; an
 *   on-call is included when it overlaps the range; `until` before `since` is refused),
 *   `earliest` (one on-call per escalation policy, escalation level and user: the earliest),
 *   `limit` / `offset` / `total` (Pagination: `limit` 25 in the example; 100 at most, the pagination
 *   docs' maximum, which the spec itself does not state);
 * - an on-call: `user`, `schedule` (`schedule_reference` whose `summary` is the schedule's name),
 *   `escalation_policy`, `escalation_level`, `start`, `end` (null: the user does not go off call);
 * - errors are `{error: {code?, message, errors?}}` (the generic error schema). The spec's only
 *   examples are `{message: "Not Found", code: 2100}` and `{message: "Invalid Request", code: 2001}`
 *   (2001 "Invalid Input Provided" on the wire); it gives no code or message for a 401 or a 429,
 *   so those bodies carry a message only, chosen here;
 * - a 429 carries `ratelimit-limit`, `ratelimit-remaining` and `ratelimit-reset` (seconds to wait;
 *   PagerDuty "REST API Rate Limits", support.pagerduty.com).
 * The spec does not say how an unknown schedule id is answered: here, with no on-calls.
 */
import { createHash } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { sendJson } from './http-util.js';
import {
  answeredByOutage,
  FailureScript,
  type OnCallSimulator,
  OnCallTimeline,
  queryOf,
  type RecordedOnCallCall,
  serveOnCallSimulator,
} from './on-call-timeline.js';

/** A schedule in the simulated account. */
export interface SimulatedPagerDutySchedule {
  readonly id: string;
  readonly name: string;
  /** Who is on call from the start. */
  readonly onCall?: readonly string[];
}

/** Options for {@link startPagerDutySimulator}. */
export interface PagerDutySimulatorOptions {
  /** The API key the simulator accepts. */
  readonly token: string;
  readonly schedules: readonly SimulatedPagerDutySchedule[];
  /** @defaultValue 0 (any free port) */
  readonly port?: number;
}

/** The simulated PagerDuty REST API, with its timeline and scripted failures. */
export type PagerDutySimulator = OnCallSimulator;

const ESCALATION_POLICY = {
  id: 'PESCPOL',
  type: 'escalation_policy_reference',
  summary: 'Rolecall Simulated Escalation Policy',
};
/** The pagination docs' maximum `limit`. */
const MAX_LIMIT = 100;
const DEFAULT_LIMIT = 25;

/** Starts the PagerDuty simulator on a local port. */
export async function startPagerDutySimulator(
  options: PagerDutySimulatorOptions,
): Promise<PagerDutySimulator> {
  const timeline = new OnCallTimeline();
  const schedules = new Map(options.schedules.map((schedule) => [schedule.id, schedule]));
  for (const schedule of options.schedules)
    if (schedule.onCall) timeline.set(schedule.id, schedule.onCall, 0);
  const script = new FailureScript();
  let resetSeconds = 1;
  const calls: RecordedOnCallCall[] = [];

  const error = (res: ServerResponse, status: number, body: Record<string, unknown>, headers = {}) =>
    sendJson(res, status, { error: body }, headers);

  const handle = async (req: IncomingMessage, res: ServerResponse, base: string) => {
    const url = new URL(req.url ?? '/', base);
    const record = (status: number) =>
      calls.push({
        method: req.method ?? 'GET',
        path: url.pathname,
        query: queryOf(url),
        accept: req.headers.accept,
        authorized: req.headers.authorization === `Token token=${options.token}`,
        status,
        at: Date.now(),
      });
    const internal = () => {
      record(500);
      error(res, 500, { message: 'Internal Server Error' });
    };
    if (await answeredByOutage(script, req, res, internal)) {
      if (script.outage === 'drop') record(0);
      return;
    }
    if (req.headers.authorization !== `Token token=${options.token}`) {
      record(401);
      return error(res, 401, { message: 'Authentication failed' });
    }
    if (script.takeRateLimit()) {
      record(429);
      return error(
        res,
        429,
        { message: 'Rate Limit Exceeded' },
        { 'ratelimit-limit': '960', 'ratelimit-remaining': '0', 'ratelimit-reset': String(resetSeconds) },
      );
    }
    if (req.method !== 'GET' || url.pathname !== '/oncalls') {
      record(404);
      return error(res, 404, { message: 'Not Found', code: 2100 });
    }
    const answer = listOnCalls(url);
    record(answer.status);
    sendJson(res, answer.status, answer.body);
  };

  const listOnCalls = (url: URL): { status: number; body: unknown } => {
    const query = queryOf(url);
    const invalid = (detail: string) => ({
      status: 400,
      body: { error: { message: 'Invalid Input Provided', code: 2001, errors: [detail] } },
    });
    const now = Date.now();
    const since = query.since?.[0] === undefined ? now : Date.parse(query.since[0]);
    const until = query.until?.[0] === undefined ? now : Date.parse(query.until[0]);
    if (Number.isNaN(since) || Number.isNaN(until)) return invalid('since and until must be dates');
    if (until < since) return invalid('until cannot be before since');
    const limit = Math.min(Number(query.limit?.[0] ?? DEFAULT_LIMIT), MAX_LIMIT);
    const offset = Number(query.offset?.[0] ?? 0);
    if (!Number.isInteger(limit) || limit < 1 || !Number.isInteger(offset) || offset < 0)
      return invalid('limit and offset must be whole numbers');
    const includeUsers = query['include[]']?.includes('users') ?? false;
    const wanted = query['schedule_ids[]'] ?? [...schedules.keys()];
    const userIds = query['user_ids[]'];
    let oncalls = wanted.flatMap((scheduleId) => {
      const schedule = schedules.get(scheduleId);
      if (schedule === undefined) return [];
      return timeline.overlapping(scheduleId, since, until).flatMap((shift) =>
        shift.emails.map((email) => ({
          user: includeUsers ? fullUser(email) : userReference(email),
          schedule: { id: schedule.id, type: 'schedule_reference', summary: schedule.name },
          escalation_policy: ESCALATION_POLICY,
          escalation_level: 1,
          start: new Date(shift.from).toISOString(),
          end: shift.until === null ? null : new Date(shift.until).toISOString(),
        })),
      );
    });
    if (userIds !== undefined) oncalls = oncalls.filter((oncall) => userIds.includes(oncall.user.id));
    if (query.earliest?.[0] === 'true') {
      const seen = new Set<string>();
      oncalls = oncalls.filter((oncall) => {
        const key = `${oncall.escalation_policy.id}/${oncall.escalation_level}/${oncall.user.id}`;
        if (seen.has(key)) return false;
        seen.add(key);
        return true;
      });
    }
    return {
      status: 200,
      body: {
        oncalls: oncalls.slice(offset, offset + limit),
        limit,
        offset,
        more: offset + limit < oncalls.length,
        total: query.total?.[0] === 'true' ? oncalls.length : null,
      },
    };
  };

  return serveOnCallSimulator(options.port, handle, (res, message) => error(res, 500, { message }), {
    calls,
    timeline,
    script,
    setRetrySeconds: (seconds) => {
      resetSeconds = seconds;
    },
  });
}

/** A stable PagerDuty-looking user id (`P` and six characters) for an email. */
function userIdOf(email: string): string {
  return `P${createHash('sha256').update(email.toLowerCase()).digest('hex').slice(0, 6).toUpperCase()}`;
}

function userReference(email: string) {
  const id = userIdOf(email);
  return { id, type: 'user_reference', summary: email.split('@')[0] ?? email };
}

/** The User `include[]=users` puts in place of the reference: with `name` and `email`. */
function fullUser(email: string) {
  const reference = userReference(email);
  return { ...reference, type: 'user', name: reference.summary, email };
}
