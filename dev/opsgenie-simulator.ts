/**
 * A local stand-in for Opsgenie's Who is On Call API "Get On Calls"
 * (`GET /v2/schedules/{identifier}/on-calls`), as docs.opsgenie.com/docs/who-is-on-call-api and
 * opsgenie/opsgenie-oas (paths/whoIsOnCall.yaml, operationId getOnCalls) describe it:
 * - auth: `Authorization: GenieKey <apiKey>`; anything else is 401 "apiKey is invalid or integration
 *   is disabled" (docs.opsgenie.com/docs/response), whose body reads
 *   `{"message":"Could not authenticate","took":…,"requestId":…}` (as captured from the live API in
 *   github.com/streaak/keyhacks pull 124; the docs give no example body);
 * - a key whose team may not access the schedule: 403 with internal code 40301 (who-is-on-call page;
 *   the message text is not documented for this case and is chosen here);
 * - `scheduleIdentifierType`: `id` (default) or `name`; an unknown schedule: 404 "Entity cannot be
 *   found for the given identifier" (responses/common.yaml NotFound);
 * - `flat=true`: `data.onCallRecipients` lists usernames, which are e-mail addresses
 *   (definitions/user.yaml); otherwise `data.onCallParticipants` lists `{id, name, type: 'user'}`;
 * - `date`: the moment asked about (default: when the request is received); a date that does not
 *   parse is answered 422 (the docs do not say what happens; 422 is their "semantic errors" status);
 * - every answer is `{data?, message?, code?, took, requestId}` with `X-Request-ID` and
 *   `X-Response-Time` headers (docs.opsgenie.com/docs/response, definitions/common.yaml);
 * - 429 "Too Many Requests" when throttled (docs.opsgenie.com/docs/api-rate-limiting); the docs name
 *   no header for when to retry, so the simulator sends `X-RateLimit-Period-In-Sec`, the spec's
 *   "Time of throttle in seconds" (message text chosen here).
 */
import { randomUUID } from 'node:crypto';
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
export interface SimulatedOpsgenieSchedule {
  readonly id: string;
  readonly name: string;
  readonly onCall?: readonly string[];
  /** The API key's team may not access this schedule (403, 40301). */
  readonly forbidden?: boolean;
}

/** Options for {@link startOpsgenieSimulator}. */
export interface OpsgenieSimulatorOptions {
  /** The API key the simulator accepts. */
  readonly apiKey: string;
  readonly schedules: readonly SimulatedOpsgenieSchedule[];
  /** @defaultValue 0 (any free port) */
  readonly port?: number;
}

/** The simulated Opsgenie API, with its timeline and scripted failures. */
export type OpsgenieSimulator = OnCallSimulator;

const ON_CALLS = /^\/v2\/schedules\/([^/]+)\/on-calls$/;

/** Starts the Opsgenie simulator on a local port. */
export async function startOpsgenieSimulator(options: OpsgenieSimulatorOptions): Promise<OpsgenieSimulator> {
  const timeline = new OnCallTimeline();
  for (const schedule of options.schedules)
    if (schedule.onCall) timeline.set(schedule.id, schedule.onCall, 0);
  const script = new FailureScript();
  let periodSeconds = 1;
  const calls: RecordedOnCallCall[] = [];

  const answer = (
    res: ServerResponse,
    status: number,
    body: Record<string, unknown>,
    headers: Record<string, string> = {},
  ) => {
    const requestId = randomUUID();
    sendJson(
      res,
      status,
      { ...body, took: 0.004, requestId },
      { 'x-request-id': requestId, 'x-response-time': '0.004', ...headers },
    );
  };

  const handle = async (req: IncomingMessage, res: ServerResponse, base: string) => {
    const url = new URL(req.url ?? '/', base);
    const record = (status: number) =>
      calls.push({
        method: req.method ?? 'GET',
        path: url.pathname,
        query: queryOf(url),
        accept: req.headers.accept,
        authorized: req.headers.authorization === `GenieKey ${options.apiKey}`,
        status,
        at: Date.now(),
      });
    const reply = (status: number, body: Record<string, unknown>, headers?: Record<string, string>) => {
      record(status);
      answer(res, status, body, headers);
    };
    if (await answeredByOutage(script, req, res, () => reply(500, { message: 'Internal Server Error' }))) {
      if (script.outage === 'drop') record(0);
      return;
    }
    if (req.headers.authorization !== `GenieKey ${options.apiKey}`)
      return reply(401, { message: 'Could not authenticate' });
    if (script.takeRateLimit())
      return reply(
        429,
        { message: 'Too Many Requests' },
        { 'x-ratelimit-period-in-sec': String(periodSeconds) },
      );
    const path = ON_CALLS.exec(url.pathname);
    if (req.method !== 'GET' || path === null)
      return reply(404, { message: 'Resource or handler not found' });
    const identifier = decodeURIComponent(path[1] ?? '');
    const type = url.searchParams.get('scheduleIdentifierType') ?? 'id';
    if (type !== 'id' && type !== 'name')
      return reply(422, { message: "scheduleIdentifierType must be 'id' or 'name'" });
    const schedule = options.schedules.find((s) => (type === 'id' ? s.id : s.name) === identifier);
    if (schedule === undefined)
      return reply(404, { message: 'Entity cannot be found for the given identifier' });
    if (schedule.forbidden)
      return reply(403, { code: 40301, message: 'You are not authorized to access this schedule' });
    const dateText = url.searchParams.get('date');
    const at = dateText === null ? Date.now() : Date.parse(dateText);
    if (Number.isNaN(at)) return reply(422, { message: 'date must be yyyy-MM-ddTHH:mm:ssZ' });
    const emails = timeline.overlapping(schedule.id, at, at).flatMap((shift) => shift.emails);
    const flat = url.searchParams.get('flat') === 'true';
    reply(200, {
      data: {
        _parent: { id: schedule.id, name: schedule.name, enabled: true },
        ...(flat
          ? { onCallRecipients: emails }
          : { onCallParticipants: emails.map((email) => ({ id: email, name: email, type: 'user' })) }),
      },
    });
  };

  return serveOnCallSimulator(options.port, handle, (res, message) => answer(res, 500, { message }), {
    calls,
    timeline,
    script,
    setRetrySeconds: (seconds) => {
      periodSeconds = seconds;
    },
  });
}
