/**
 * PagerDuty's adapter: who is on call now for one schedule, from REST API v2 "List all of the
 * on-calls" (`GET /oncalls`, operationId listOnCalls in PagerDuty/api-schema
 * reference/REST/openapiv3.json, read 2026-08):
 * - `Authorization: Token token=<API_KEY>` (securitySchemes.api_key) and the versioning header
 *   `Accept: application/vnd.pagerduty+json;version=2` (header_Accept; Content-Type is marked
 *   required there too, so it is sent even on a GET);
 * - `schedule_ids[]` filters to the schedule; `since` and `until` both now (their documented default,
 *   written out so the question is explicit); `earliest=true` keeps one on-call per escalation
 *   policy, level and user; `include[]=users` makes each `user` a full User with its `email` (without
 *   it the user is a reference: id and summary only);
 * - classic pagination: `limit`, `offset`, and `more` in the answer (Pagination schema);
 * - `schedule.summary` is the schedule's name ("Daily Engineering Rotation" in the example);
 * - 400/401/403/429 carry `{error: {code, message, errors?}}` (responses ArgumentError,
 *   Unauthorized, Forbidden, TooManyRequests). On a 429 the `ratelimit-reset` header says how many
 *   seconds to wait (PagerDuty "REST API Rate Limits", support.pagerduty.com).
 * The spec does not say how an unknown schedule id is answered; an empty list reads as nobody on call.
 */
import type { Dispatcher } from 'undici';
import type { ScheduleRead, ScheduleReader } from './on-call.js';
import { getJson, headerOf, isRecord } from './provider-http.js';

/** Options of {@link createPagerDutyReader}. */
export interface PagerDutyReaderOptions {
  /** PAGERDUTY_API_URL, without a trailing slash. */
  readonly apiUrl: string;
  readonly token: string;
  /** The deadline of one read, every page included. @defaultValue 3000 */
  readonly timeoutMs?: number;
  /** On-calls per page; PagerDuty's classic pagination allows up to 100. @defaultValue 100 */
  readonly pageSize?: number;
  /** Pages read at most before the read is given up as failed. @defaultValue 10 */
  readonly maxPages?: number;
  readonly dispatcher?: Dispatcher;
  /** @defaultValue () => new Date() */
  readonly now?: () => Date;
}

/** Creates the PagerDuty adapter of the {@link ScheduleReader} port. */
export function createPagerDutyReader(options: PagerDutyReaderOptions): ScheduleReader {
  const timeoutMs = options.timeoutMs ?? 3000;
  const pageSize = options.pageSize ?? 100;
  const maxPages = options.maxPages ?? 10;
  const now = options.now ?? (() => new Date());
  const headers = {
    authorization: `Token token=${options.token}`,
    accept: 'application/vnd.pagerduty+json;version=2',
    'content-type': 'application/json',
  };

  const readOnCallNow = async (scheduleId: string): Promise<ScheduleRead> => {
    const at = now().toISOString();
    const emails: string[] = [];
    let name: string | undefined;
    const started = Date.now();
    for (let page = 0, offset = 0; page < maxPages; page++) {
      const query = new URLSearchParams([
        ['schedule_ids[]', scheduleId],
        ['include[]', 'users'],
        ['since', at],
        ['until', at],
        ['earliest', 'true'],
        ['limit', String(pageSize)],
        ['offset', String(offset)],
      ]);
      const left = timeoutMs - (Date.now() - started);
      if (left <= 0) return { ok: false, reason: 'no answer in time' };
      const answer = await getJson(`${options.apiUrl}/oncalls?${query}`, headers, {
        timeoutMs: left,
        ...(options.dispatcher === undefined ? {} : { dispatcher: options.dispatcher }),
      });
      if (!answer.ok) return answer;
      if (answer.status !== 200) return failureOf(answer.status, answer.body, answer.headers);
      const body = answer.body;
      if (!isRecord(body) || !Array.isArray(body.oncalls))
        return { ok: false, reason: 'answered 200 without an oncalls list', status: 200 };
      for (const oncall of body.oncalls) {
        if (!isRecord(oncall) || !isRecord(oncall.schedule) || oncall.schedule.id !== scheduleId) continue;
        if (typeof oncall.schedule.summary === 'string') name ??= oncall.schedule.summary;
        if (isRecord(oncall.user) && typeof oncall.user.email === 'string') emails.push(oncall.user.email);
      }
      if (body.more !== true) return { ok: true, emails, ...(name === undefined ? {} : { name }) };
      offset += body.oncalls.length;
    }
    return { ok: false, reason: `more than ${maxPages} pages of on-calls` };
  };

  return { provider: 'pagerduty', readOnCallNow };
}

/** A refusal in words: the status and PagerDuty's `error.message`, and when a 429 says to come back. */
function failureOf(status: number, body: unknown, headers: Parameters<typeof headerOf>[0]): ScheduleRead {
  const error = isRecord(body) && isRecord(body.error) ? body.error : undefined;
  const message = typeof error?.message === 'string' ? error.message : 'no error message';
  const reset = Number(headerOf(headers, 'ratelimit-reset'));
  return {
    ok: false,
    reason: `answered ${status} (${message})`,
    status,
    ...(status === 429 && Number.isFinite(reset) && reset > 0 ? { retryAfterMs: reset * 1000 } : {}),
  };
}
