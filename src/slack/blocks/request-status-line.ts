import type { AccessRequest } from '../../requests/model.js';
import { escapeMrkdwn, inlineUserText, mention, slackDate } from '../mrkdwn.js';
import { describeFailure } from './outcome-message.js';
import { describeWaitingForStart } from './scheduled-start.js';

/** ": <@U…> is on call for payments-primary (PagerDuty)" for an on-call approval; '' for any other. */
function onCallNoteOf(request: AccessRequest): string {
  const note = request.decision?.note ?? '';
  return note.startsWith('approved: ') && note.includes(' is on call for ') ? `: ${note.slice(10)}` : '';
}

/** One line saying where the request stands, who decided and what happened (failures in words and code). */
export function describeStatus(request: AccessRequest): string {
  const by =
    request.decision?.by === 'policy'
      ? ` by the policy${onCallNoteOf(request)}`
      : request.breakGlass
        ? ` by break-glass (${mention(request.requesterId)})${request.acknowledged ? `, acknowledged by ${mention(request.acknowledged.by)}` : ', not acknowledged yet'}`
        : request.decision
          ? ` by ${mention(request.decision.by)}`
          : '';
  switch (request.state) {
    case 'submitted':
      return `:mag: Being checked against Atlas · requested ${slackDate(request.createdAt)}`;
    case 'pending':
      return `:hourglass_flowing_sand: Waiting for an approver · requested ${slackDate(request.createdAt)}`;
    case 'refused':
      return `:no_entry_sign: *Refused*: ${describeFailure(request.failure)}`;
    case 'approved':
    case 'applying':
      return describeWaitingForStart(request, by) ?? `:white_check_mark: Approved${by} · applying in Atlas…`;
    case 'applied': {
      if (request.extension) {
        return `:white_check_mark: Approved${by} · ${request.extension.of} now ends ${slackDate(request.extension.to)}`;
      }
      if (request.endedEarly)
        return `:white_check_mark: Approved${by} · applied · ending now (${mention(request.endedEarly.by)})…`;
      const extended =
        request.extensions.length > 0
          ? ` (extended by ${request.extensions.map((e) => e.by).join(', ')})`
          : '';
      const until = request.grant?.revokeAt
        ? ` · revoked automatically ${slackDate(request.grant.revokeAt)}${extended}`
        : '';
      return `:white_check_mark: Approved${by} · *applied* in Atlas${until}`;
    }
    case 'revoking':
      return `:white_check_mark: Approved${by} · applied · revoking now…`;
    case 'revoked': {
      const early = request.endedEarly ? ` early by ${mention(request.endedEarly.by)}` : '';
      const vanished = request.revocation?.vanished;
      const why = vanished
        ? ` · ${vanished === 'user' ? 'the user' : `the ${request.target.kind === 'org' ? 'organization' : 'project'}`} no longer exists in Atlas`
        : '';
      return `:white_check_mark: Approved${by} · applied · :lock: *revoked*${early} ${slackDate(request.revocation?.revokedAt ?? request.updatedAt)}${why}`;
    }
    case 'denied':
      return `:no_entry: *Denied*${by}${request.decision?.note ? `: ${inlineUserText(request.decision.note)}` : ''}`;
    case 'failed':
      return `:x: Approved${by} · *failed*: ${describeFailure(request.failure)}`;
    case 'revoke_failed': {
      const next = request.revokeTrouble ? ` · next try ${slackDate(request.revokeTrouble.nextTryAt)}` : '';
      return `:rotating_light: Approved${by} · applied · *revocation failing*: ${describeFailure(request.failure)}${next}`;
    }
    case 'expired':
      return ':hourglass: *Expired* before anyone decided';
    case 'cancelled':
      return request.decision?.by === 'system'
        ? `:wastebasket: *Cancelled by Rolecall*: ${escapeMrkdwn(request.decision.note ?? '')}`
        : `:wastebasket: *Cancelled*${by}`;
  }
}
