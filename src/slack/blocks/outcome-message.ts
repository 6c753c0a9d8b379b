import { describeSsoRemoval } from '../../access/federation-check.js';
import type { RoleHolder } from '../../grants/ledger.js';
import type { AccessRequest, Failure } from '../../requests/model.js';
import type { RequestEvent } from '../../requests/ports.js';
import { escapeMrkdwn, formatRoles, inlineUserText, mention, slackDate } from '../mrkdwn.js';
import { describeDatabaseApplied } from './database-access.js';
import { buildChaseText, type EscalationView } from './escalation-block.js';
import { describeScheduledApproval } from './scheduled-start.js';

/** Extra facts an outcome text may need that are not part of the request. */
export interface OutcomeContext extends EscalationView {
  /** The target's approvers, mentioned when a revocation keeps failing (and reminders: who may decide). */
  readonly approvers?: readonly string[];
  /**
   * Who reads it: the approvals channel (which may hold more people than the approvers), the grantee,
   * or a requester who asked for someone else. Only the grantee sees their full role list.
   * @defaultValue 'channel'
   */
  readonly audience?: 'channel' | 'grantee' | 'requester';
  /** The notice's round: for `waiting`, the expected wait in seconds. */
  readonly round?: string;
}

/**
 * A failure in words and its code. Atlas's own `detail` (it can name Rolecall's IP address and
 * internal ids) is never in a message: approvers see it with the Details button, operators in the log.
 */
export function describeFailure(failure: Failure | null): string {
  return failure === null ? 'unknown error' : escapeMrkdwn(failure.message);
}

/** A failure for an approver who asked for the details: the words, the code and Atlas's own detail, quoted. */
export function describeFailureInFull(failure: Failure): string {
  return `${escapeMrkdwn(failure.message)}${failure.detail ? ` Atlas said: “${escapeMrkdwn(failure.detail)}”` : ''}`;
}

/** The target's name in bold, escaped. */
function place(request: AccessRequest): string {
  return `*${escapeMrkdwn(request.target.name)}*`;
}

/** "until <date>" or "permanently", for a holder. */
export function describeUntil(holder: Pick<RoleHolder, 'until'>): string {
  return holder.until === null ? 'permanently' : `until ${slackDate(holder.until)}`;
}

/** "`GROUP_X` stays: AR-0002 still covers it until <date>", one sentence per kept role. */
function describeKept(kept: readonly RoleHolder[]): string {
  return kept
    .map((h) => ` ${formatRoles([h.role])} stays: ${h.requestId} still covers it ${describeUntil(h)}.`)
    .join('');
}

function describeApplied(
  request: AccessRequest,
  by: string,
  user: string,
  on: string,
  grantee: boolean,
): string {
  const grant = request.grant;
  if (request.extension) {
    const { of, from, to } = request.extension;
    return `:white_check_mark: ${request.id} approved by ${by}: ${of} now ends ${slackDate(to)} instead of ${slackDate(from)}.`;
  }
  const added = request.plan?.added ?? [];
  const parts: string[] = [];
  if (grant?.addedToProject) parts.push(`added ${user} to ${place(request)} with ${formatRoles(added)}`);
  else if (added.length > 0) parts.push(`${user} now has ${formatRoles(added)} ${on}`);
  for (const holder of grant?.joined ?? []) {
    parts.push(
      `${formatRoles([holder.role])} was already granted through ${holder.requestId} (${describeUntil(holder)}) and now lasts at least as long as ${request.id}`,
    );
  }
  if (grantee && (grant?.outside ?? []).length > 0) {
    parts.push(`${user} already had ${formatRoles(grant?.outside ?? [])} ${on} outside Rolecall; left alone`);
  }
  const what = parts.length > 0 ? parts.join('; ') : `nothing changed ${on}`;
  const until =
    grant?.revokeAt != null
      ? ` Access ends ${slackDate(grant.revokeAt)}.`
      : (grant?.held ?? []).length > 0
        ? ' Access is permanent.'
        : '';
  const now = grantee ? ` Roles now: ${formatRoles(grant?.rolesAfter ?? null)}.` : '';
  const dryRun = grant?.dryRun
    ? ` :test_tube: Dry run: nothing was sent to Atlas; it would have sent ${grant.dryRun.length > 0 ? grant.dryRun.map((w) => `\`${w}\``).join(', ') : 'nothing'}.`
    : '';
  return `:white_check_mark: ${request.id} approved by ${by} and applied: ${what}.${now}${until}${dryRun}`;
}

function describeRevoked(request: AccessRequest, user: string, on: string, grantee: boolean): string {
  const revocation = request.revocation;
  const ended = request.endedEarly
    ? request.endedEarly.by === request.granteeId
      ? `${request.id} was ended early by ${mention(request.endedEarly.by)}`
      : `${request.id} was revoked early by ${mention(request.endedEarly.by)}`
    : `${request.id} ended`;
  if (revocation?.vanished) return `:lock: ${ended}: ${describeVanished(request, user)}`;
  const removed = revocation?.removed ?? [];
  const parts: string[] = [];
  if (removed.length > 0) parts.push(`removed ${formatRoles(removed)} from ${user} ${on}`);
  if (revocation?.leftProject)
    parts.push(`removed ${user} from ${place(request)}, which Rolecall had added them to`);
  if ((revocation?.gone ?? []).length > 0) {
    parts.push(`${formatRoles(revocation?.gone ?? [])} was already gone from Atlas`);
  }
  if (parts.length === 0 && (revocation?.kept ?? []).length === 0) parts.push('it held no role any more');
  // Not what Rolecall left: roles someone added by hand while the grant was active stay (standing).
  const explained = new Set([
    ...(request.rolesAtRequest ?? []),
    ...(request.grant?.outside ?? []),
    ...(revocation?.kept ?? []).map((k) => k.role),
  ]);
  const byHand = (revocation?.rolesAfter ?? []).filter((role) => !explained.has(role));
  if (byHand.length > 0 && request.rolesAtRequest !== null) {
    parts.push(
      `${formatRoles(byHand)} was added by hand while the grant was active and stays; the next access review of ${escapeMrkdwn(request.target.name)} lists it`,
    );
  }
  const what = parts.length > 0 ? `: ${parts.join('; ')}.` : '.';
  const roles = revocation?.leftProject
    ? ` ${user} is no longer in ${place(request)}.`
    : grantee && request.database === null
      ? ` Roles now: ${formatRoles(revocation?.rolesAfter ?? null)}.`
      : '';
  const trouble = request.revokeTrouble
    ? ` It took ${request.revokeTrouble.failures + 1} tries: revocation had been failing since ${slackDate(request.revokeTrouble.since)}.`
    : '';
  return `:lock: ${ended}${what}${describeKept(revocation?.kept ?? [])}${roles}${trouble}`;
}

/** A grant that ended because its target or its grantee's account no longer exists in Atlas. */
function describeVanished(request: AccessRequest, user: string): string {
  const revocation = request.revocation;
  const roles = revocation?.gone ?? [];
  const what =
    revocation?.vanished === 'user'
      ? `the user no longer exists in Atlas (the account of ${user} was deleted)`
      : `the ${request.target.kind === 'org' ? 'organization' : 'project'} no longer exists in Atlas (${place(request)} was deleted)`;
  const released = roles.length > 0 ? ` Rolecall no longer holds ${formatRoles(roles)} for it.` : '';
  return `${what}, so there was nothing left to remove.${released}`;
}

function describeRevokeFailed(
  request: AccessRequest,
  user: string,
  on: string,
  context: OutcomeContext,
): string {
  const trouble = request.revokeTrouble;
  const roles = formatRoles(request.grant?.held ?? request.plan?.added ?? []);
  const since = trouble
    ? ` It has failed ${trouble.failures} time${trouble.failures === 1 ? '' : 's'} since ${slackDate(trouble.since)}; Rolecall tries again ${slackDate(trouble.nextTryAt)} and keeps trying.`
    : '';
  const cc = (context.approvers ?? []).length > 0 ? ` ${context.approvers?.map(mention).join(' ')}:` : '';
  const byHand =
    request.failure?.code === 'WOULD_REMOVE_ALL_ROLES'
      ? `give ${user} another role ${on} or remove them from ${place(request)} in Atlas, then press Retry revocation`
      : `an approver can press Retry revocation, or remove ${roles} from ${user} ${on} by hand`;
  return `:rotating_light: ${request.id} has not been revoked yet: ${describeFailure(request.failure)}${since}${cc} ${byHand}.`;
}

/** The thread reply or direct message that tells people what happened to a request. */
export function buildOutcomeText(
  request: AccessRequest,
  event: RequestEvent,
  context: OutcomeContext = {},
): string {
  const on = `on *${escapeMrkdwn(request.target.name)}*`;
  const user = escapeMrkdwn(request.granteeEmail);
  const by =
    request.decision?.by === 'policy'
      ? 'the policy'
      : request.breakGlass && request.decision?.by === request.requesterId
        ? `${mention(request.requesterId)} (break-glass)`
        : request.decision
          ? mention(request.decision.by)
          : 'an approver';
  switch (event) {
    case 'pending':
      return `:inbox_tray: ${request.id} is waiting for approval: ${formatRoles(request.roles)} ${on}.`;
    case 'refused':
      return `:no_entry_sign: ${request.id} was not filed: ${describeFailure(request.failure)}`;
    case 'approved':
      return request.startsAt === null
        ? `:white_check_mark: ${request.id} was approved by ${by}; applying it in Atlas now.`
        : describeScheduledApproval(request, by);
    case 'approval':
      return `:ballot_box_with_check: ${request.id} has ${request.approvals.length} approval${request.approvals.length === 1 ? '' : 's'} so far (${request.approvals.map((a) => mention(a.by)).join(', ')}).`;
    case 'acknowledged':
      return `:eyes: The break-glass grant ${request.id} was acknowledged by ${request.acknowledged ? mention(request.acknowledged.by) : 'an approver'}.`;
    case 'applied':
      return request.database !== null && request.extension === null && !request.grant?.dryRun
        ? describeDatabaseApplied(request, request.database, by)
        : describeApplied(request, by, user, on, context.audience === 'grantee');
    case 'failed': {
      const retry =
        request.failure?.code === 'EXTENSION_TOO_LATE' ||
        request.failure?.code === 'ATLAS_TARGET_GONE' ||
        request.failure?.code === 'REQUEST_WINDOW_PASSED'
          ? ''
          : ' An approver can press Retry on the request.';
      return `:x: ${request.id} was approved by ${by} but could not be applied: ${describeFailure(request.failure)}${retry}`;
    }
    case 'denied': {
      const note = request.decision?.note ? `: ${inlineUserText(request.decision.note)}` : '.';
      return `:no_entry: ${request.id} was denied by ${by}${note}`;
    }
    case 'revoked':
      return describeRevoked(request, user, on, context.audience === 'grantee');
    case 'revoke_failed':
      return describeRevokeFailed(request, user, on, context);
    case 'expired':
      return `:hourglass: ${request.id} expired before anyone decided; nothing was changed.`;
    case 'cancelled': {
      const who = request.decision?.by ?? request.requesterId;
      return who === 'system'
        ? `:wastebasket: ${request.id} was cancelled by Rolecall: ${escapeMrkdwn(request.decision?.note ?? 'no reason given')}.`
        : `:wastebasket: ${request.id} was cancelled by ${mention(who)}; nothing was changed.`;
    }
    case 'drift': {
      const latest = request.drift[request.drift.length - 1];
      const roles = [...new Set(request.drift.filter((d) => d.at === latest?.at).map((d) => d.role))];
      if (latest?.ssoLoginAt !== undefined) {
        return `:mag: ${escapeMrkdwn(describeSsoRemoval(roles.join(', '), latest.ssoLoginAt))} ${request.id} no longer holds it; ask for the team or IdP group the mappings read instead.`;
      }
      return `:mag: ${formatRoles(roles)} was removed from ${user} ${on} in Atlas outside Rolecall${latest ? ` (noticed ${slackDate(latest.at)})` : ''}. ${request.id} no longer holds it: Rolecall will neither put it back nor keep it alive for later grants.`;
    }
    case 'reminder': {
      const end = request.grant?.revokeAt;
      const what = `:alarm_clock: Your Atlas access ${request.id} (${formatRoles(request.grant?.held ?? request.roles)} ${on}) ends ${end ? slackDate(end) : 'soon'}.`;
      // A bundle's parts end together: none is extended on its own.
      return request.bundle === null
        ? `${what} Extend it, or end it now if you are done.`
        : `${what} It ends with every part of bundle ${escapeMrkdwn(request.bundle.name)}; end it now if you are done (that ends every part), or ask for the bundle again.`;
    }
    case 'waiting': {
      const seconds = Number(context.round);
      const about = Number.isFinite(seconds) && seconds > 0 ? `about ${Math.ceil(seconds)} s` : 'a moment';
      return `:hourglass: Atlas's rate limit is nearly spent and revocations of ended grants go first: ${request.id} waits ${about} for its turn, then it is applied. Nothing is needed from you.`;
    }
    case 'extended': {
      const last = request.extensions[request.extensions.length - 1];
      return last
        ? `:hourglass_flowing_sand: ${request.id} was extended by ${last.by}: access now ends ${slackDate(last.to)} instead of ${slackDate(last.from)}.`
        : `:hourglass_flowing_sand: ${request.id} was extended.`;
    }
    case 'approvers-reminded':
    case 'escalated':
    case 'nudged':
      return buildChaseText(request, event, context);
  }
}
