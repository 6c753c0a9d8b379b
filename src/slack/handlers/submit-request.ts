import type { WebClient } from '@slack/web-api';
import { AppError } from '../../errors.js';
import type { Logger } from '../../ops/logger.js';
import type { Policy } from '../../policy/policy.js';
import type { AccessRequest } from '../../requests/model.js';
import type { RequestLine } from '../../requests/parse-command.js';
import type { ExtensionAsk, RequestService } from '../../requests/request-service.js';
import { buildApprovalMessage, type SlackMessage } from '../blocks/approval-message.js';
import { buildConfirmation } from '../blocks/status-message.js';

/** Dependencies shared by the Slack handlers. */
export interface HandlerDeps {
  readonly service: RequestService;
  readonly policy: () => Policy;
  readonly logger: Logger;
}

/** Who asks, for whom, from where. */
export interface Asker {
  readonly requesterId: string;
  readonly granteeId: string;
  readonly sourceChannelId: string | null;
}

/** Reads a Slack user's email, which is their Atlas username (Atlas usernames are lower case). */
export async function lookupEmail(client: WebClient, userId: string): Promise<string> {
  const info = await client.users.info({ user: userId });
  const email = info.user?.profile?.email?.trim().toLowerCase();
  if (!email) {
    throw new AppError(
      'SLACK_USER_NO_EMAIL',
      'Slack did not share this person’s email address, so Rolecall cannot find their Atlas user. The app needs the users:read.email scope, and the person needs an email on their profile.',
    );
  }
  return email;
}

/**
 * Stores a request, posts it to the approvals channel and returns the requester's confirmation.
 * If the approval message cannot be posted, the request is withdrawn and the error says why.
 */
export async function submitRequest(
  deps: HandlerDeps,
  client: WebClient,
  asker: Asker,
  line: RequestLine,
): Promise<{ request: AccessRequest; confirmation: SlackMessage }> {
  const granteeEmail = await lookupEmail(client, asker.granteeId);
  const request = await deps.service.submit({ ...line, ...asker, granteeEmail });
  return postForApproval(deps, client, request);
}

/** Files an extension request for a grant and posts it for approval, like a new request. */
export async function submitExtension(
  deps: HandlerDeps,
  client: WebClient,
  ask: ExtensionAsk,
): Promise<{ request: AccessRequest; confirmation: SlackMessage }> {
  return postForApproval(deps, client, await deps.service.extend(ask));
}

/** Posts a stored request in the approvals channel; withdraws it, saying why, when that fails. */
async function postForApproval(
  deps: HandlerDeps,
  client: WebClient,
  request: AccessRequest,
): Promise<{ request: AccessRequest; confirmation: SlackMessage }> {
  const channel = deps.policy().approvalsChannel;
  let posted: { channel?: string; ts?: string };
  try {
    posted = await client.chat.postMessage({
      channel,
      ...buildApprovalMessage(request),
      unfurl_links: false,
    });
  } catch (cause) {
    await deps.service.abandon(request.id, 'the approval message could not be posted');
    const reason = (cause as { data?: { error?: string } }).data?.error ?? 'Slack error';
    throw new AppError(
      'SLACK_FAILED',
      `Rolecall could not post ${request.id} in the approvals channel (${reason}), so the request was withdrawn. Invite the Rolecall bot to the channel ${channel} or ask an admin to check the policy.`,
      { cause },
    );
  }
  if (posted.channel && posted.ts)
    await deps.service.attachApprovalMessage(request.id, posted.channel, posted.ts);
  const confirmation = buildConfirmation(request, channel);
  return { request, confirmation };
}
