/**
 * The question the product asks of on-call schedules ("is this person on call now for one of
 * these?") and the port each provider's adapter implements. Plain values only: no request, grant or
 * policy type, so the policy and the approval decision can take this port without knowing undici.
 */

/** The providers Rolecall reads schedules from. */
export type OnCallProvider = 'pagerduty' | 'opsgenie';

/** One schedule as a policy names it: the provider and the schedule's id there. */
export interface ScheduleRef {
  readonly provider: OnCallProvider;
  readonly id: string;
}

/**
 * The answer to {@link OnCallSchedules.isOnCall}: on call for the first of the schedules (in the
 * order given) that lists the person now, with the schedule's name when the provider gave one; or not
 * on call, with the schedules that could not be read (`unknown`), which never count as on call.
 */
export type OnCallAnswer =
  | { readonly onCall: true; readonly schedule: ScheduleRef & { readonly name?: string } }
  | { readonly onCall: false; readonly unknown?: readonly ScheduleRef[] };

/** The port: whether a person (by email) is on call now for one of these schedules. Never throws. */
export interface OnCallSchedules {
  isOnCall(email: string, schedules: readonly ScheduleRef[]): Promise<OnCallAnswer>;
}

/**
 * What one read of one schedule found: who is on call now (emails, as the provider wrote them) and
 * the schedule's name; or why it could not be read. `retryAfterMs`: the provider asked not to be
 * called again before then (a 429's rate-limit headers).
 */
export type ScheduleRead =
  | { readonly ok: true; readonly emails: readonly string[]; readonly name?: string }
  | {
      readonly ok: false;
      /** In words, for the log: never the token. */
      readonly reason: string;
      readonly status?: number;
      readonly retryAfterMs?: number;
    };

/** One provider's adapter: reads who is on call now for one schedule; answers a failure, never throws. */
export interface ScheduleReader {
  readonly provider: OnCallProvider;
  readOnCallNow(scheduleId: string): Promise<ScheduleRead>;
}

/** The providers' display names, for log lines and messages ("… (PagerDuty)"). */
export const PROVIDER_NAMES: Readonly<Record<OnCallProvider, string>> = {
  pagerduty: 'PagerDuty',
  opsgenie: 'Opsgenie',
};
