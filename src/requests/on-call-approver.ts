import type { OnCallSchedule } from '../policy/policy.js';
import { onCallListsOf, type PolicyTarget } from '../policy/policy.js';
import type { RequestServiceDeps } from './service-deps.js';

/** The providers' names as messages say them. */
const PROVIDER_WORDS = { pagerduty: 'PagerDuty', opsgenie: 'Opsgenie' } as const;

/**
 * "payments-primary (PagerDuty)" (and " and …" for several rules) when `email` is on call now for a
 * schedule of every list; null when not, or when a provider cannot answer (the port fails closed).
 * The provider's names are put on one plain line: no mrkdwn, no line break.
 */
export async function onCallSchedulesOf(
  onCall: NonNullable<RequestServiceDeps['onCall']>,
  email: string,
  lists: readonly (readonly OnCallSchedule[])[],
): Promise<string | null> {
  const found: string[] = [];
  for (const schedules of lists) {
    const answer = await onCall.isOnCall(email, schedules);
    if (!answer.onCall) return null;
    const name = (answer.schedule.name ?? answer.schedule.id)
      .replace(/[<>&*_~`]/g, '')
      .replace(/\s+/g, ' ')
      .trim();
    found.push(`${name} (${PROVIDER_WORDS[answer.schedule.provider]})`);
  }
  return [...new Set(found)].join(' and ');
}

/**
 * "approved alone: <@U…> is on call for NAME (PagerDuty)" when every item's rule says
 * `onCallApproves: approver` and the approver is on call now for a schedule of every such rule; null
 * otherwise, and whenever the directory or a provider cannot answer (fail closed: one approval).
 */
export async function approverOnCallNote(
  deps: Pick<RequestServiceDeps, 'onCall' | 'directory'>,
  target: PolicyTarget,
  items: readonly string[],
  approver: { readonly id: string; readonly teamId?: string },
): Promise<string | null> {
  const lists = onCallListsOf(target, items, 'approver');
  if (!lists || !deps.onCall) return null;
  const { email } = await deps.directory.person(approver.id, approver.teamId);
  if (!email) return null;
  const schedules = await onCallSchedulesOf(deps.onCall, email, lists);
  if (schedules === null) return null;
  return `approved alone: <@${approver.id}> is on call for ${schedules}`;
}
