import { z } from 'zod';
import { parseDuration } from '../lib/duration.js';
import type { ApproverChase } from './approver-chase.js';

/** How a duration looks (parseDuration also needs it to be more than zero). */
const DURATION_SHAPE = /^\s*\d{1,6}[smhdSMHD]\s*$/;

/** A user (`U…`, `W…`), a user group (`S…`) or a group name from `groups:`. */
const PRINCIPAL = /^([UW][A-Z0-9]{2,}|S[A-Z0-9]{2,}|[a-z][a-z0-9_-]{0,63})$/;

const duration = (what: string) =>
  z
    .string({ error: `${what} must be a duration such as 15m, 1h or 2s` })
    .regex(DURATION_SHAPE, `${what} must look like 15m, 1h or 30s`)
    .refine((v) => !DURATION_SHAPE.test(v) || parseDuration(v) !== undefined, `${what} must be more than 0`);

const escalateSchema = z
  .object(
    {
      after: duration('escalate.after').describe(
        'How long a request may wait for a decision before the fallback approvers may decide too (15m, 1h).',
      ),
      to: z
        .array(
          z
            .string()
            .regex(
              PRINCIPAL,
              'escalate.to must list Slack user ids (U0123ABCD), user group ids (S0123ABCD) or group names from groups:',
            ),
          { error: 'escalate.to must be a list of Slack user ids, user group ids or group names' },
        )
        .min(1, 'escalate.to needs at least one user, user group or group name')
        .describe(
          'The fallback approvers: Slack user ids (U…/W…), user group ids (S…) or names from groups:.',
        ),
    },
    { error: 'escalate must be a mapping with after and to' },
  )
  .strict();

/**
 * The keys a target and a rule both take about chasing a decision: spread into their zod objects
 * (policy-file-schema.ts), turned into an {@link ApproverChase} by {@link approverChaseOf}.
 */
export const approvalKeys = {
  remindApprovers: duration('remindApprovers')
    .describe(
      'Reminds the approvers of a request nobody has decided, in its thread and by direct message: first after this long, then after twice as long each time, at most 4 times (15m: at 15m, 30m, 1h and 2h).',
    )
    .optional(),
  escalate: escalateSchema
    .describe(
      'Fallback approvers: once a request has waited `after` without a decision, the people in `to` may approve or deny it too, and the approval message says so.',
    )
    .optional(),
};

/** The chase keys as the schema hands them over, on a target or a rule. */
export interface ApprovalKeysInput {
  readonly remindApprovers?: string | undefined;
  readonly escalate?: { readonly after: string; readonly to: readonly string[] } | undefined;
}

/** A target's or a rule's chase settings in seconds, for PolicyTarget and RoleRule (read-policy.ts). */
export function approverChaseOf(input: ApprovalKeysInput): ApproverChase {
  const remind = input.remindApprovers === undefined ? undefined : parseDuration(input.remindApprovers);
  const after = input.escalate === undefined ? undefined : parseDuration(input.escalate.after);
  return {
    ...(remind === undefined ? {} : { remindApproversSeconds: remind }),
    ...(input.escalate === undefined || after === undefined
      ? {}
      : { escalation: { afterSeconds: after, to: [...new Set(input.escalate.to)] } }),
  };
}
