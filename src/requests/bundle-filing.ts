import type { Actor, Person } from '../access/actions.js';
import { checkLineTicket } from '../access/draft-rules.js';
import { AppError, isAppError } from '../errors.js';
import { expandGroups, findBundle, type PolicyBundlePart, requirementsOf } from '../policy/policy.js';
import { ticketUrlOf } from '../policy/tickets.js';
import type { BundleRef } from './bundle-ref.js';
import type { AccessRequest, RequestDraft } from './model.js';
import type { BundleLine } from './parse-bundle.js';
import type { RequestLine } from './parse-command.js';
import type { RequestServiceDeps } from './service-deps.js';

/** What a person submits for a bundle, from the text form or the modal. */
export interface BundleSubmission {
  readonly line: BundleLine;
  readonly grantee: Person;
  readonly sourceChannelId: string | null;
  /** The response_url to answer through (slash command or form); null = by DM. */
  readonly replyUrl: string | null;
  /** The receipt of the Slack delivery (requests/receipts.ts), crossed out when the first part is stored. */
  readonly receiptId?: string;
}

/** "ORG_READ_ONLY, team:oncall on acme": a part in words. */
function partWords(part: PolicyBundlePart): string {
  return `${part.items.join(', ')} on ${part.target.name}`;
}

/**
 * Filing a bundle (`request bundle:NAME …`): every part is authorized under its own target's rules (who
 * may ask, the duration within each part's maxDuration, each part's ticket rules), and a refusal of
 * any part refuses the whole bundle in words naming that part. Then one request per target is stored,
 * each naming the others (`bundle`), and each is checked against Atlas like any request.
 */
export function createBundleFiling(deps: RequestServiceDeps) {
  const { lifecycle } = deps;

  /** Records a refusal of the whole bundle and returns it as the error to throw. */
  const refused = async (actor: Actor, code: AppError['code'], reason: string): Promise<AppError> => {
    await deps.refusals.record({ action: 'request', actorId: actor.id, requestId: null, code, reason });
    return new AppError(code, reason);
  };

  /** Authorizes one part; a refusal names the bundle and the part. */
  const requirePart = async (
    actor: Actor,
    submission: BundleSubmission,
    bundle: string,
    part: PolicyBundlePart,
  ): Promise<void> => {
    const line: RequestLine = {
      roles: part.items,
      scope: part.target.kind,
      target: part.target.name,
      durationSeconds: submission.line.durationSeconds,
      reason: submission.line.reason,
      ticket: submission.line.ticket,
    };
    const about = `Bundle ${bundle}, part ${partWords(part)}`;
    try {
      await deps.gate.require('request', actor, { draft: line, grantee: submission.grantee });
    } catch (error) {
      if (!isAppError(error)) throw error;
      throw new AppError(error.code, `${about}: ${error.message}`, { details: error.details });
    }
    const ticket = checkLineTicket(part.target, line);
    if (ticket !== undefined) throw await refused(actor, ticket.code, `${about}: ${ticket.reason}`);
  };

  return {
    /**
     * Stores every part of a bundle as `submitted` (one request per target), after authorizing each;
     * returns the parts in the policy's order. Never approved automatically: one decision decides all.
     */
    async submitBundle(actor: Actor, submission: BundleSubmission): Promise<AccessRequest[]> {
      const { name } = submission.line;
      const policy = deps.policy();
      const bundle = findBundle(policy, name);
      if (!bundle) {
        const names = (policy.bundles ?? []).map((b) => `bundle:${b.name}`);
        throw await refused(
          actor,
          'BUNDLE_UNKNOWN',
          `There is no bundle called ${name} in the policy${names.length > 0 ? `; ask for one of ${names.join(', ')}` : ', which names no bundles'}.`,
        );
      }
      for (const part of bundle.parts) await requirePart(actor, submission, bundle.name, part);
      const email = submission.grantee.email;
      if (!email) {
        throw new AppError(
          'SLACK_USER_NO_EMAIL',
          'Slack did not share this person’s email address, so Rolecall cannot find their Atlas user.',
        );
      }
      let hold: { release(): Promise<void> };
      try {
        // One open-request slot per part: a bundle files one request per target.
        hold = await deps.limit.take(actor.id, bundle.parts.length);
      } catch (error) {
        if (isAppError(error, 'RATE_LIMITED')) throw await refused(actor, error.code, error.message);
        throw error;
      }
      try {
        const ids: string[] = [];
        for (const _ of bundle.parts) ids.push(await lifecycle.issueId());
        const ref: BundleRef = {
          name: bundle.name,
          parts: bundle.parts.map((part, i) => ({
            id: ids[i] ?? '',
            target: part.target.name,
            items: part.items,
          })),
        };
        const parts: AccessRequest[] = [];
        for (const [i, part] of bundle.parts.entries()) {
          const needs = requirementsOf(part.target, part.items);
          const ticket = submission.line.ticket ?? null;
          const draft: RequestDraft = {
            requesterId: actor.id,
            requesterTeamId: actor.teamId ?? null,
            granteeId: submission.grantee.id,
            granteeEmail: email,
            target: { name: part.target.name, kind: part.target.kind, id: part.target.id },
            roles: part.items,
            durationSeconds: submission.line.durationSeconds ?? null,
            reason: submission.line.reason,
            ticket,
            ticketUrl: ticketUrlOf(needs.ticket.url, ticket),
            sourceChannelId: submission.sourceChannelId,
            replyUrl: submission.replyUrl,
            extends: null,
            approversAtRequest: expandGroups(policy, needs.approverLists.flat()),
            bundle: ref,
          };
          // The first part crosses out the Slack delivery's receipt: once it is stored, the bundle is.
          const receipt = i === 0 ? submission.receiptId : undefined;
          parts.push(await lifecycle.submitted(draft, actor.id, receipt, ids[i]));
        }
        return parts;
      } finally {
        await hold.release();
      }
    },
  };
}
