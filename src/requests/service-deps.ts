import type { Person } from '../access/actions.js';
import type { PolicyGate } from '../access/policy-gate.js';
import type { RefusalLog } from '../access/refusal-log.js';
import type { Logger } from '../ops/logger.js';
import type { OnCallSchedule, Policy } from '../policy/policy.js';
import type { ExtensionClaims } from './extension-claims.js';
import type { Lifecycle } from './lifecycle.js';
import type { NudgeClaims } from './nudge-claims.js';
import type { RequestLine } from './parse-command.js';
import type { CurrentRoles, Directory } from './ports.js';
import type { RequestReader } from './request-reader.js';
import type { SubmissionLimit } from './submission-limit.js';

/** Dependencies of the request service (request-service.ts) and of its parts. */
export interface RequestServiceDeps {
  /** Reads requests; every write goes through `lifecycle`. */
  readonly store: RequestReader;
  readonly lifecycle: Lifecycle;
  readonly policy: () => Policy;
  /** The decision point under the policy in force, with user groups resolved; records and throws refusals. */
  readonly gate: PolicyGate;
  /** Who a Slack user is now: the grantee is looked up again before anything grants them access. */
  readonly directory: Directory;
  readonly refusals: RefusalLog;
  readonly limit: SubmissionLimit;
  readonly logger: Logger;
  /** A person's roles on a target, for the request form. */
  readonly currentRoles: CurrentRoles;
  /** One extension of a grant open at a time. */
  readonly extensions: ExtensionClaims;
  /** One nudge of a request's approvers by its requester (nudge.ts); absent = nudges refused. */
  readonly nudges?: NudgeClaims;
  /**
   * Who is on call now for a rule's schedules (adapter: oncall/); never throws, answers "not on call"
   * when a provider cannot answer. Absent: `onCallApproves: approver` lets nobody approve alone.
   */
  readonly onCall?: {
    isOnCall(
      email: string,
      schedules: readonly OnCallSchedule[],
    ): Promise<
      | { readonly onCall: true; readonly schedule: OnCallSchedule & { readonly name?: string } }
      | { readonly onCall: false }
    >;
  };
  readonly now?: () => number;
}

/** What a person submits, from the text form or the modal. */
export interface Submission {
  readonly line: RequestLine;
  readonly grantee: Person;
  readonly sourceChannelId: string | null;
  /** The response_url to answer through (slash command or form); null = by DM. */
  readonly replyUrl: string | null;
  /** Made by a Workflow Builder step: its function_execution_id, completed at the final decision. */
  readonly workflowExecutionId?: string;
  /** The receipt of the Slack delivery (requests/receipts.ts), crossed out when the request is stored. */
  readonly receiptId?: string;
}

/** What `/atlas-access extend` or the Extend modal asks for. */
export interface ExtensionAsk {
  /** The grant to extend (an extension's id stands for the grant it extends). */
  readonly id: string;
  /** How much later it should end, in seconds. */
  readonly durationSeconds: number;
  readonly reason: string;
  readonly sourceChannelId: string | null;
  readonly replyUrl: string | null;
  /** The receipt of the Slack delivery (requests/receipts.ts), crossed out when the request is stored. */
  readonly receiptId?: string;
}
