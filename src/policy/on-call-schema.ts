import { z } from 'zod';

/** A PagerDuty schedule id (`PABC123`) or an Opsgenie schedule id (a UUID). */
const SCHEDULE_ID = /^[A-Za-z0-9][A-Za-z0-9-]{1,63}$/;

const schedules = (provider: string) =>
  z
    .array(z.string().regex(SCHEDULE_ID, `${provider} schedules are listed by their schedule ids`), {
      error: `${provider} must be a list of schedule ids`,
    })
    .min(1, `${provider} needs at least one schedule id`);

/**
 * A rule's `onCall:`: the schedules whose person on call counts (PagerDuty `GET /oncalls`, Opsgenie
 * `GET /v2/schedules/{id}/on-calls`), read now, matched by email, failing closed.
 */
export const onCallSchema = z
  .object(
    {
      pagerduty: schedules('pagerduty').describe('PagerDuty schedule ids (PAGERDUTY_TOKEN).').optional(),
      opsgenie: schedules('opsgenie').describe('Opsgenie schedule ids (OPSGENIE_API_KEY).').optional(),
    },
    { error: 'onCall is a mapping: pagerduty: [SCHEDULE_ID, …] or opsgenie: [SCHEDULE_ID, …]' },
  )
  .strict()
  .refine((o) => o.pagerduty !== undefined || o.opsgenie !== undefined, 'onCall needs pagerduty or opsgenie')
  .describe(
    'Being on call now for one of these schedules is reason enough: a requester asking for themselves is approved without a decision (onCallApproves: requester; still posted, audited and revoked on time; never on behalf of someone else), or an approver who is on call may approve alone (onCallApproves: approver).',
  );

/** A rule's `onCallApproves:`: who being on call lets through, the requester (approved at once) or an approver (alone). */
export const onCallApprovesSchema = z
  .enum(['requester', 'approver'], { error: 'onCallApproves is requester or approver' })
  .describe(
    'Who being on call (onCall:) lets through: requester (default), approved at once; approver, an approver on call approves alone, whatever approvals the rule needs.',
  );

/** `onCall:` as the schema hands it over. */
export type PolicyFileOnCall = z.infer<typeof onCallSchema>;
