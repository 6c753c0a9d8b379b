/**
 * What the on-call adapters are built from, as plain values: config.ts fills them from the
 * environment (PAGERDUTY_TOKEN, PAGERDUTY_API_URL, OPSGENIE_API_KEY, OPSGENIE_API_URL).
 */

/** PagerDuty's public REST API host (api-schema reference/REST/openapiv3.json, `servers`). */
export const DEFAULT_PAGERDUTY_API_URL = 'https://api.pagerduty.com';

/**
 * Opsgenie's public API host ("Who is On Call API": `GET https://api.opsgenie.com/v2/schedules/…`);
 * an account on the EU instance sets OPSGENIE_API_URL to https://api.eu.opsgenie.com (same page).
 */
export const DEFAULT_OPSGENIE_API_URL = 'https://api.opsgenie.com';

/** The two providers' base URLs and credentials; a provider without one answers "not on call". */
export interface OnCallConfig {
  readonly pagerduty: { readonly apiUrl: string; readonly token: string | undefined };
  readonly opsgenie: { readonly apiUrl: string; readonly apiKey: string | undefined };
  /** How long who is on call for a schedule is used before it is read again (ON_CALL_CACHE), in ms. */
  readonly cacheTtlMs?: number;
}
