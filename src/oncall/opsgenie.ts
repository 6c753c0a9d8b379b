/**
 * Opsgenie's adapter: who is on call now for one schedule, from the Who is On Call API "Get On Calls"
 * (`GET /v2/schedules/{identifier}/on-calls`; docs.opsgenie.com/docs/who-is-on-call-api, and
 * operationId getOnCalls in opsgenie/opsgenie-oas paths/whoIsOnCall.yaml):
 * - `Authorization: GenieKey <apiKey>` (the page's sample request); a key of a team integration
 *   must be allowed the schedule, else 403 with internal code 40301 (same page);
 * - `scheduleIdentifierType=id` (the default, written out) and `flat=true`, which "retrieves user
 *   names of all on call participants": `data.onCallRecipients` is a list of usernames, and an
 *   Opsgenie username is the user's e-mail address (opsgenie-oas definitions/user.yaml);
 *   `data._parent` is the schedule (`id`, `name`, `enabled`);
 * - `date` is left out: its default is "the moment of the time that request is received", which is
 *   the question asked, and the format the page gives (yyyy-MM-dd'T'HH:mm:ssZ) is left unsaid for a
 *   UTC `Z` suffix;
 * - errors carry `{message, took, requestId}` and sometimes `code` (ErrorResponse in
 *   definitions/common.yaml; docs.opsgenie.com/docs/response): 401 "apiKey is invalid or integration
 *   is disabled", 403/40301, 404 "Entity cannot be found for the given identifier", 429 throttling.
 *   The docs do not say which header of a 429 tells when to come back; `X-RateLimit-Period-In-Sec`
 *   ("Time of throttle in seconds", on the 200 answers of the spec) is read when present.
 */
import type { Dispatcher } from 'undici';
import type { ScheduleRead, ScheduleReader } from './on-call.js';
import { getJson, headerOf, isRecord } from './provider-http.js';

/** Options of {@link createOpsgenieReader}. */
export interface OpsgenieReaderOptions {
  /** OPSGENIE_API_URL, without a trailing slash. */
  readonly apiUrl: string;
  readonly apiKey: string;
  /** @defaultValue 3000 */
  readonly timeoutMs?: number;
  readonly dispatcher?: Dispatcher;
}

/** Creates the Opsgenie adapter of the {@link ScheduleReader} port. */
export function createOpsgenieReader(options: OpsgenieReaderOptions): ScheduleReader {
  const headers = { authorization: `GenieKey ${options.apiKey}`, accept: 'application/json' };

  const readOnCallNow = async (scheduleId: string): Promise<ScheduleRead> => {
    const query = new URLSearchParams({ scheduleIdentifierType: 'id', flat: 'true' });
    const url = `${options.apiUrl}/v2/schedules/${encodeURIComponent(scheduleId)}/on-calls?${query}`;
    const answer = await getJson(url, headers, {
      timeoutMs: options.timeoutMs ?? 3000,
      ...(options.dispatcher === undefined ? {} : { dispatcher: options.dispatcher }),
    });
    if (!answer.ok) return answer;
    const body = answer.body;
    if (answer.status !== 200) {
      const message = isRecord(body) && typeof body.message === 'string' ? body.message : 'no message';
      const period = Number(headerOf(answer.headers, 'x-ratelimit-period-in-sec'));
      return {
        ok: false,
        reason: `answered ${answer.status} (${message})`,
        status: answer.status,
        ...(answer.status === 429 && Number.isFinite(period) && period > 0
          ? { retryAfterMs: period * 1000 }
          : {}),
      };
    }
    const data = isRecord(body) && isRecord(body.data) ? body.data : undefined;
    if (data === undefined || !Array.isArray(data.onCallRecipients))
      return { ok: false, reason: 'answered 200 without data.onCallRecipients', status: 200 };
    const emails = data.onCallRecipients.filter((name): name is string => typeof name === 'string');
    const name =
      isRecord(data._parent) && typeof data._parent.name === 'string' ? data._parent.name : undefined;
    return { ok: true, emails, ...(name === undefined ? {} : { name }) };
  };

  return { provider: 'opsgenie', readOnCallNow };
}
