import type { AccessRequest } from '../../requests/model.js';
import type { RequestEvent } from '../../requests/request-service.js';
import { escapeMrkdwn, formatRoles, mention, slackDate } from '../mrkdwn.js';

/** The thread reply or direct message that tells people what happened to a request. */
export function buildOutcomeText(request: AccessRequest, event: RequestEvent): string {
  const on = `on *${escapeMrkdwn(request.target.name)}*`;
  const user = escapeMrkdwn(request.granteeEmail);
  const by = request.decision ? mention(request.decision.by) : 'an approver';
  switch (event) {
    case 'approved':
      return `:white_check_mark: ${request.id} was approved by ${by}; applying it in Atlas now.`;
    case 'applied': {
      const added = request.plan?.added ?? [];
      const what =
        added.length > 0
          ? `${user} now has ${formatRoles(added)} ${on}`
          : `${user} already had ${formatRoles(request.roles)} ${on}; nothing changed`;
      const until = request.grant?.revokeAt ? ` Access ends ${slackDate(request.grant.revokeAt)}.` : '';
      return `:white_check_mark: ${request.id} approved by ${by} and applied: ${what}. Roles now: ${formatRoles(request.grant?.rolesAfter ?? null)}.${until}`;
    }
    case 'failed':
      return `:x: ${request.id} was approved by ${by} but could not be applied: ${escapeMrkdwn(request.failure?.message ?? 'unknown error')} An approver can press Retry on the request.`;
    case 'denied': {
      const note = request.decision?.note ? `: ${escapeMrkdwn(request.decision.note)}` : '.';
      return `:no_entry: ${request.id} was denied by ${by}${note}`;
    }
    case 'revoked': {
      const removed = request.revocation?.removed ?? [];
      const what =
        removed.length > 0
          ? `removed ${formatRoles(removed)} from ${user}`
          : 'the added roles were already gone';
      return `:lock: ${request.id} ended: ${what} ${on}. Roles now: ${formatRoles(request.revocation?.rolesAfter ?? null)}.`;
    }
    case 'revoke_failed':
      return `:warning: ${request.id} could not be revoked: ${escapeMrkdwn(request.failure?.message ?? 'unknown error')} An approver can press Retry revocation, or remove ${formatRoles(request.plan?.added ?? [])} from ${user} ${on} by hand.`;
    case 'expired':
      return `:hourglass: ${request.id} expired before anyone decided; nothing was changed.`;
    case 'cancelled':
      return `:wastebasket: ${request.id} was cancelled by ${mention(request.requesterId)}; nothing was changed.`;
  }
}
