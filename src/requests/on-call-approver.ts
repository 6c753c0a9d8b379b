import { onCallListsOf, type PolicyTarget } from '../policy/policy.js';
import type { RequestServiceDeps } from './service-deps.js';

/** The providers' names as messages say them. */
const PROVIDER_WORDS = { pagerduty: 'PagerDuty', opsgenie: 'Opsgenie' } as const;

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
  const found: string[] = [];
  for (const schedules of lists) {
    const answer = await deps.onCall.isOnCall(email, schedules);
    if (!answer.onCall) return null;
    // The provider's name, on one plain line: no mrkdwn, and no line break to start a line of its own.
    const name = (answer.schedule.name ?? answer.schedule.id)
      .replace(/[<>&*_~`]/g, '')
      .replace(/\s+/g, ' ')
      .trim();
    found.push(`${name} (${PROVIDER_WORDS[answer.schedule.provider]})`);
  }
  return `approved alone: <@${approver.id}> is on call for ${[...new Set(found)].join(' and ')}`;
}
