import type { KnownBlock } from '@slack/types';
import { ErrorCode, type WebClient } from '@slack/web-api';
import { AppError } from '../errors.js';
import type { AccessRequest, MessageRef } from '../requests/model.js';
import { type Delivery, isApproverDelivery, type Notifier, type RequestEvent } from '../requests/ports.js';
import { type ApprovalView, buildApprovalMessage, buildGrantActions } from './blocks/approval-message.js';
import { buildDatabaseGrantBlocks } from './blocks/database-access.js';
import { buildApproverDm } from './blocks/escalation-block.js';
import { buildOutcomeText, type OutcomeContext } from './blocks/outcome-message.js';
import { buildConfirmation, buildOnBehalfNotice } from './blocks/status-message.js';
import { truncate } from './mrkdwn.js';
import type { Replier } from './respond.js';

/** Slack errors that a later retry can fix; every other platform error is final. */
const TRANSIENT = new Set([
  'internal_error',
  'fatal_error',
  'service_unavailable',
  'request_timeout',
  'ratelimited',
]);

/** Turns a Web API failure into an AppError the notify job understands (retry, wait, or give up). */
export function classifySlackError(error: unknown, what: string): AppError {
  const coded = error as {
    code?: string;
    retryAfter?: number;
    data?: { error?: string };
    statusCode?: number;
  };
  if (coded.code === ErrorCode.RateLimitedError) {
    return new AppError('SLACK_FAILED', `Slack rate limited ${what}.`, {
      cause: error,
      retryable: true,
      details: { retryAfterMs: (coded.retryAfter ?? 1) * 1000 },
    });
  }
  if (coded.code === ErrorCode.PlatformError) {
    const reason = coded.data?.error ?? 'unknown_error';
    return new AppError('SLACK_FAILED', `Slack refused ${what} (${reason}).`, {
      cause: error,
      retryable: TRANSIENT.has(reason),
      details: { slackError: reason },
    });
  }
  return new AppError('SLACK_FAILED', `Slack could not be reached for ${what}.`, {
    cause: error,
    retryable: true,
  });
}

/** Options for {@link createSlackNotifier}. */
export interface SlackNotifierOptions {
  /** Where a request's approval message is posted: its target's approvalsChannel, else the policy's. */
  readonly approvalsChannel: (request: AccessRequest) => string;
  /** Answers the requester through their response_url while it works, else by DM. */
  readonly replier: Replier;
  /** The approvers of a request's target under the current policy ([] when it left the policy). */
  readonly approversOf?: (request: AccessRequest) => readonly string[];
  /** How many approvals a request needs and who may give them, under the current policy. */
  readonly approvalView?: (request: AccessRequest) => ApprovalView;
}

/** Events the requester hears about right after filing: through the form's response_url when it still works. */
const RIGHT_AFTER_FILING: readonly RequestEvent[] = ['pending', 'refused', 'cancelled'];

/** Reminders, escalation and nudges: their thread reply names who may decide now. */
const CHASES: readonly RequestEvent[] = ['approvers-reminded', 'escalated', 'nudged'];

/** True when a DM about `event` should carry Extend and End now: the grantee holds a temporary grant. */
function offersGrantActions(request: AccessRequest, event: RequestEvent): boolean {
  const active = request.state === 'applied' && request.endedEarly === null && request.extension === null;
  const temporary = request.grant?.revokeAt != null && (request.grant?.held ?? []).length > 0;
  return active && temporary && (event === 'reminder' || event === 'applied');
}

/** Delivers request notices through the Slack Web API: message updates, thread replies, DMs. */
export function createSlackNotifier(client: WebClient, options: SlackNotifierOptions): Notifier {
  const directMessage = async (userId: string, text: string, blocks?: KnownBlock[]): Promise<void> => {
    const opened = await client.conversations.open({ users: userId });
    const channel = opened.channel?.id;
    if (!channel)
      throw new AppError('SLACK_FAILED', `Slack opened no direct message with ${userId}.`, {
        retryable: true,
      });
    await client.chat.postMessage({
      channel,
      text,
      ...(blocks ? { blocks } : {}),
      unfurl_links: false,
      unfurl_media: false,
    });
  };

  /** A DM to the grantee: with Extend and End now while a temporary grant is active. */
  const toGrantee = (request: AccessRequest, event: RequestEvent, text: string): Promise<void> =>
    offersGrantActions(request, event)
      ? directMessage(request.granteeId, text, [
          // A section holds at most 3000 characters (a database level with many roles says more).
          { type: 'section', text: { type: 'mrkdwn', text: truncate(text, 3000) } },
          ...(event === 'applied' ? buildDatabaseGrantBlocks(request) : []),
          buildGrantActions(request.id, request.bundle === null),
        ])
      : directMessage(request.granteeId, text);

  const send = async (
    request: AccessRequest,
    event: RequestEvent,
    delivery: Delivery,
    round: string | undefined,
  ): Promise<MessageRef | undefined> => {
    const approval = request.approvalMessage;
    const view = CHASES.includes(event) ? (options.approvalView?.(request) ?? {}) : {};
    if (isApproverDelivery(delivery)) {
      await directMessage(delivery.slice('approver-'.length), buildApproverDm(request, event, view));
      return undefined;
    }
    const context: OutcomeContext = {
      audience: delivery === 'grantee' ? 'grantee' : 'channel',
      ...(round === undefined ? {} : { round }),
      ...(event === 'revoke_failed' ? { approvers: options.approversOf?.(request) ?? [] } : {}),
      ...(CHASES.includes(event) ? { ...view, approvers: view.approvers ?? [] } : {}),
    };
    switch (delivery) {
      case 'approval-message': {
        if (approval) {
          await client.chat.update({
            channel: approval.channelId,
            ts: approval.ts,
            ...buildApprovalMessage(request, options.approvalView?.(request) ?? {}),
          });
          return undefined;
        }
        if (event !== 'pending') return undefined;
        const posted = await client.chat.postMessage({
          channel: options.approvalsChannel(request),
          ...buildApprovalMessage(request, options.approvalView?.(request) ?? {}),
          unfurl_links: false,
          unfurl_media: false,
        });
        return posted.channel && posted.ts ? { channelId: posted.channel, ts: posted.ts } : undefined;
      }
      case 'thread':
        if (approval) {
          await client.chat.postMessage({
            channel: approval.channelId,
            thread_ts: approval.ts,
            text: buildOutcomeText(request, event, context),
            unfurl_links: false,
            unfurl_media: false,
          });
        }
        return;
      case 'requester':
        if (RIGHT_AFTER_FILING.includes(event)) {
          const message =
            event === 'pending'
              ? buildConfirmation(
                  request,
                  request.approvalMessage?.channelId ?? options.approvalsChannel(request),
                )
              : { text: buildOutcomeText(request, event, { audience: 'requester' }) };
          await options.replier.deliver(request.requesterId, request.replyUrl, message);
        } else if (request.requesterId === request.granteeId) {
          await toGrantee(request, event, buildOutcomeText(request, event, { audience: 'grantee' }));
        } else {
          await directMessage(
            request.requesterId,
            buildOutcomeText(request, event, { audience: 'requester' }),
          );
        }
        return undefined;
      case 'workflow': {
        const executionId = request.workflow?.executionId;
        if (!executionId) return undefined;
        // functions.completeSuccess / completeError take the bot token (no scope needed).
        if (event === 'refused') {
          await client.functions.completeError({
            function_execution_id: executionId,
            error: `${request.id} was refused: ${request.failure?.message ?? 'Rolecall could not go ahead with it.'}`,
          });
        } else {
          try {
            // The event is the decision that ended the step; the request may have moved on since.
            await client.functions.completeSuccess({
              function_execution_id: executionId,
              outputs: { request_id: request.id, state: event },
            });
          } catch (error) {
            // Ended already (a failure an approver then retried): nothing left to tell the workflow.
            if ((error as { data?: { error?: string } }).data?.error !== 'execution_not_in_running_state') {
              throw error;
            }
          }
        }
        return undefined;
      }
      case 'grantee':
        if (event === 'pending') {
          const notice = buildOnBehalfNotice(request);
          await directMessage(request.granteeId, notice.text, notice.blocks);
        } else {
          await toGrantee(request, event, buildOutcomeText(request, event, { audience: 'grantee' }));
        }
        return undefined;
    }
  };

  return {
    async deliver(request, event, delivery, round) {
      try {
        return await send(request, event, delivery, round);
      } catch (error) {
        if (error instanceof AppError) throw error;
        throw classifySlackError(error, `the ${event} notice (${delivery}) for ${request.id}`);
      }
    },
  };
}
