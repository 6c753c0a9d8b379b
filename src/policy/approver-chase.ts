/** Fallback approvers of a request nobody decided in time (`escalate:`). */
export interface Escalation {
  /** How long after the request was made they may decide too, in seconds. */
  readonly afterSeconds: number;
  /** Users, user groups, group names (policy.ts `Principal`). */
  readonly to: readonly string[];
}

/** How a target or a rule chases a decision (`remindApprovers:`, `escalate:`); absent = not at all. */
export interface ApproverChase {
  /** The first reminder to the approvers, in seconds after the request was made; then doubling. */
  readonly remindApproversSeconds?: number | undefined;
  readonly escalation?: Escalation | undefined;
}

/** At most this many reminders to the approvers of one request. */
export const MAX_APPROVER_REMINDERS = 4;

/**
 * Combines the chase settings of every requested item (each its rule's, else its target's): the
 * shortest `remindApprovers`, and an escalation only when every item escalates, at the latest `after`
 * (everyone any of them names; each item's own people join only its own approvers, policy.ts), so a
 * cheap role's fallback approvers never come to decide a role whose rule does not escalate to them.
 */
export function combineChases(chases: readonly ApproverChase[]): Required<ApproverChase> {
  const reminds = chases.flatMap((c) =>
    c.remindApproversSeconds === undefined ? [] : [c.remindApproversSeconds],
  );
  const escalations = chases.flatMap((c) => (c.escalation === undefined ? [] : [c.escalation]));
  const every = escalations.length > 0 && escalations.length === chases.length;
  return {
    remindApproversSeconds: reminds.length > 0 ? Math.min(...reminds) : undefined,
    escalation: every
      ? {
          afterSeconds: Math.max(...escalations.map((e) => e.afterSeconds)),
          to: [...new Set(escalations.flatMap((e) => e.to))],
        }
      : undefined,
  };
}

/**
 * When each reminder of a request made at `createdAt` is due (ms since epoch), with its round (1-4):
 * after `everySeconds`, then twice as long each time (15m: 15m, 30m, 1h, 2h after the request).
 */
export function reminderSchedule(
  createdAt: number,
  everySeconds: number | undefined,
): { readonly round: number; readonly at: number }[] {
  if (everySeconds === undefined || everySeconds <= 0) return [];
  return Array.from({ length: MAX_APPROVER_REMINDERS }, (_, i) => ({
    round: i + 1,
    at: createdAt + everySeconds * 1000 * 2 ** i,
  }));
}

/** When a request made at `createdAt` is escalated (ms since epoch); undefined = never. */
export function escalationDueAt(createdAt: number, escalation: Escalation | undefined): number | undefined {
  return escalation === undefined ? undefined : createdAt + escalation.afterSeconds * 1000;
}

/**
 * Whether a request is escalated at `at`: still waiting for a decision (`pending`) and made at least
 * the escalation's `after` ago. Decided requests are not: the fallback approvers decide only a request
 * nobody else has.
 */
export function isEscalated(
  request: { readonly state: string; readonly createdAt: number },
  escalation: Escalation | undefined,
  at: number,
): boolean {
  const due = escalationDueAt(request.createdAt, escalation);
  return request.state === 'pending' && due !== undefined && at >= due;
}
